"""Settings: declared once, read once, injected everywhere else.

Precedence, lowest to highest: the defaults below, environment variables ``PSM_KG_<FIELD>``
(``PSM_KG_PORT=9000``), then options given on the command line. This is the only module that reads
``os.environ``; everything else receives a :class:`Settings`.

A bad value raises :class:`SettingsError`, which names the key, the value and the expected type,
so that a typo in a deployment shows up as one readable line instead of a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from psm_kg.errors import PsmKgError

ENV_PREFIX = "PSM_KG_"


class SettingsError(PsmKgError, ValueError):
    """A setting has a value of the wrong type or outside its range."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(f"setting {key}={value!r} is invalid: expected {expected}")


def _repository_root() -> Path:
    """The checkout that holds ontology/ and data/, or the current directory when installed.

    In an editable install this file lives at <root>/src/psm_kg/config.py; in a wheel it lives in
    site-packages, with no ontology/ two levels up, so the working directory is the best guess.
    """
    candidate = Path(__file__).resolve().parents[2]
    if (candidate / "ontology").is_dir() or (candidate / "pyproject.toml").is_file():
        return candidate
    return Path.cwd()


def _default_cache_dir(env: Mapping[str, str]) -> Path:
    """$XDG_CACHE_HOME/psm-kg, or ~/.cache/psm-kg when it is unset, empty or relative (as the XDG
    Base Directory specification says)."""
    xdg = env.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "psm-kg"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the CLI and the HTTP app can be told from outside."""

    root: Path = field(default_factory=_repository_root)
    dist_dir: Path = Path("dist")  # a relative path is taken relative to root
    host: str = "127.0.0.1"
    port: int = 8000
    base_iri: str = "https://w3id.org/psm/"
    query_timeout_s: float = 10.0
    max_body_bytes: int = 1_000_000
    # Worker processes that evaluate SPARQL queries; a query past its timeout is stopped by ending
    # its process. 0 evaluates in threads of the server process, where a timeout only stops the
    # writing of results, not a long computation before the first one.
    query_workers: int = 2
    # The largest serialised query result sent; a larger one is refused with a hint to page.
    max_result_bytes: int = 50_000_000
    # Answers kept in memory, keyed like their ETags; 0 turns the result cache off.
    result_cache_bytes: int = 64_000_000
    # Cache-Control max-age of query answers: the data change only when the server is redeployed.
    cache_max_age_s: int = 300
    # IRI prefixes a SERVICE clause may name; empty (the default) refuses every federated query.
    service_allowlist: tuple[str, ...] = ()
    # Origins allowed to read by CORS, "*" for any; empty turns CORS off. Never with credentials.
    cors_origins: tuple[str, ...] = ("*",)
    # One JSON line per HTTP request on stderr (access_log.py); /metrics counts requests anyway.
    access_log: bool = True
    # Parsed context files of `validate --context` (parse_cache); relative to the working dir.
    cache_dir: Path = field(default_factory=lambda: _default_cache_dir(os.environ))
    # A SPARQL 1.1 query endpoint holding the dataset (`psm-kg load`) to serve from instead of
    # the embedded store; None serves dist/ from memory (docs/deploy.md).
    store_url: str | None = None
    # How long `serve --store` waits at start-up for the store to answer the count check.
    store_wait_s: float = 30.0
    # The path prefix a reverse proxy serves the site under ("/psm" for https://example.org/psm/),
    # which it strips before passing requests on; every link and redirect written carries it.
    # Empty serves at the root. Data IRIs (base_iri) do not depend on it.
    root_path: str = ""

    def __post_init__(self) -> None:
        # Absolute paths, so that a later chdir (uvicorn, tests) cannot change what they denote.
        object.__setattr__(self, "root", self.root.absolute())
        object.__setattr__(self, "dist_dir", (self.root / self.dist_dir).absolute())
        object.__setattr__(self, "cache_dir", self.cache_dir.absolute())
        port, timeout, body = self.port, self.query_timeout_s, self.max_body_bytes
        _check_range("port", port, 1 <= port <= 65535, "an integer from 1 to 65535")
        _check_range("query_timeout_s", timeout, timeout > 0, "a number > 0")
        _check_range("max_body_bytes", body, body > 0, "an integer > 0")
        workers = self.query_workers
        _check_range("query_workers", workers, 0 <= workers <= 64, "an integer from 0 to 64")
        _check_range(
            "max_result_bytes", self.max_result_bytes, self.max_result_bytes > 0, "an integer > 0"
        )
        cache = self.result_cache_bytes
        _check_range("result_cache_bytes", cache, cache >= 0, "an integer >= 0")
        age = self.cache_max_age_s
        _check_range("cache_max_age_s", age, age >= 0, "an integer >= 0")
        for prefix in self.service_allowlist:
            _check_range("service_allowlist", prefix, _is_http_iri(prefix), "http(s) IRI prefixes")
        for origin in self.cors_origins:
            origin_ok = origin == "*" or _is_http_iri(origin)
            _check_range("cors_origins", origin, origin_ok, '"*" or http(s) origins')
        if self.store_url is not None:
            _check_range(
                "store_url", self.store_url, _is_http_iri(self.store_url), "an http(s) URL"
            )
        wait = self.store_wait_s
        _check_range("store_wait_s", wait, wait >= 0, "a number >= 0")
        base_ok = _is_http_iri(self.base_iri) and self.base_iri.endswith("/")
        _check_range("base_iri", self.base_iri, base_ok, "an http(s) IRI ending in /")
        root_ok = self.root_path == "" or _ROOT_PATH.fullmatch(self.root_path) is not None
        _check_range("root_path", self.root_path, root_ok, ROOT_PATH_EXPECTED)

    @property
    def ontology_path(self) -> Path:
        return self.root / "ontology" / "psm.ttl"

    @property
    def shapes_dir(self) -> Path:
        return self.root / "ontology" / "shapes"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"


# Segments of unreserved and sub-delimiter characters, none empty, "." or "..": the prefix is
# written into links as it is, and uvicorn adds it to every request's path as ASCII. No "'":
# Swagger UI's page quotes its OpenAPI URL with it in a script.
_ROOT_PATH = re.compile(r"(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._~!$&()*+,;=:@-]+)+")
ROOT_PATH_EXPECTED = (
    'empty, or a path starting with / and not ending with / (as "/psm"), of letters, digits '
    "and -._~!$&()*+,;=:@"
)


def _is_http_iri(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in text


def _check_range(key: str, value: object, ok: bool, expected: str) -> None:
    if not ok:
        raise SettingsError(key, value, expected)


def _parse_int(text: str) -> int:
    return int(text.strip())


def _parse_float(text: str) -> float:
    number = float(text.strip())
    if number != number or number in (float("inf"), float("-inf")):  # NaN or infinite
        raise ValueError(text)
    return number


def _parse_path(text: str) -> Path:
    if not text.strip():
        raise ValueError(text)
    return Path(text).expanduser()


def _parse_str(text: str) -> str:
    return text


def _parse_optional_str(text: str) -> str | None:
    """Empty (or blank) means not set."""
    return text.strip() or None


_BOOLEANS = {
    **dict.fromkeys(("1", "true", "yes", "on"), True),
    **dict.fromkeys(("0", "false", "no", "off"), False),
}


def _parse_bool(text: str) -> bool:
    try:
        return _BOOLEANS[text.strip().lower()]
    except KeyError:
        raise ValueError(text) from None


def _parse_list(text: str) -> tuple[str, ...]:
    """Comma- or space-separated items; an empty text is the empty list."""
    return tuple(item for item in text.replace(",", " ").split() if item)


# field name -> (parser for text from the environment, accepted Python types, the expected type
# as error messages name it)
_FIELDS: dict[str, tuple[Callable[[str], Any], tuple[type, ...], str]] = {
    "root": (_parse_path, (Path,), "a directory path"),
    "dist_dir": (_parse_path, (Path,), "a directory path"),
    "host": (_parse_str, (str,), "a host name or IP address"),
    "port": (_parse_int, (int,), "an integer from 1 to 65535"),
    "base_iri": (_parse_str, (str,), "an http(s) IRI ending in /"),
    "query_timeout_s": (_parse_float, (float, int), "a number of seconds"),
    "max_body_bytes": (_parse_int, (int,), "an integer number of bytes"),
    "query_workers": (_parse_int, (int,), "an integer from 0 to 64"),
    "max_result_bytes": (_parse_int, (int,), "an integer number of bytes"),
    "result_cache_bytes": (_parse_int, (int,), "an integer number of bytes"),
    "cache_max_age_s": (_parse_int, (int,), "an integer number of seconds"),
    "service_allowlist": (_parse_list, (tuple,), "comma-separated http(s) IRI prefixes"),
    "cors_origins": (_parse_list, (tuple,), 'comma-separated origins, or "*"'),
    "access_log": (_parse_bool, (bool,), "a boolean: 1/0, true/false, yes/no, on/off"),
    "cache_dir": (_parse_path, (Path,), "a directory path"),
    "store_url": (_parse_optional_str, (str,), "an http(s) URL of a SPARQL query endpoint"),
    "store_wait_s": (_parse_float, (float, int), "a number of seconds"),
    "root_path": (_parse_str, (str,), ROOT_PATH_EXPECTED),
}
assert set(_FIELDS) == {f.name for f in dataclasses.fields(Settings)}, "every field needs a parser"


def env_key(field_name: str) -> str:
    """The environment variable that sets a field: ``port`` -> ``PSM_KG_PORT``."""
    return ENV_PREFIX + field_name.upper()


def _values_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    known = {env_key(name): name for name in _FIELDS}
    values: dict[str, Any] = {}
    for key, text in sorted(env.items()):
        if not key.startswith(ENV_PREFIX):
            continue
        name = known.get(key)
        if name is None:
            # A misspelt variable would otherwise be ignored without a word.
            raise SettingsError(key, text, "a known variable: " + ", ".join(sorted(known)))
        parse, _types, expected = _FIELDS[name]
        try:
            values[name] = parse(text)
        except ValueError:
            raise SettingsError(key, text, expected) from None
    return values


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the defaults, then ``env`` (default: the process environment), then overrides.

    Overrides are typed values from the command line; ``None`` means "not given" and is skipped.
    A relative dist_dir is relative to root, so when only root changes, dist_dir follows it.
    """
    values = _values_from_env(os.environ if env is None else env)
    values.setdefault("cache_dir", _default_cache_dir(os.environ if env is None else env))
    for name, value in overrides.items():
        if name not in _FIELDS:
            raise TypeError(f"unknown setting {name!r}")
        if value is None:
            continue
        _parse, types, expected = _FIELDS[name]
        # bool is an int, but never a port: only a bool setting takes one.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise SettingsError(name, value, expected)
        values[name] = value
    try:
        return Settings(**values)
    except SettingsError as error:
        # Range checks run in Settings and know only the field; name the variable the user set.
        if error.key in overrides and overrides[error.key] is not None:
            raise
        source = os.environ if env is None else env
        key = env_key(error.key)
        if key in source:
            raise SettingsError(key, source[key], error.expected) from None
        raise
