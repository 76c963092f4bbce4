"""``psm-kg query NAME``: run a named query and write its answer, through the API.

The query goes through ``GET /api/queries/NAME`` in every case, so that the command and the server
cannot disagree on binding, checking, formats or paging: on the bundled data the request is sent
to an app made in this process (no port opened, as ``serve --get`` does); with ``--endpoint`` it
is sent to a running psm-kg server.

Without ``limit``, a list query is read to its end by following the answers' ``Link: rel="next"``
headers, and the pages are joined into one answer in the same format. Failures raise
:class:`QueryCommandError` with the exit code the command documents (2: the request was wrong;
1: the query failed where it ran).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx2

from psm_kg.config import Settings
from psm_kg.formats import by_name
from psm_kg.store import Store

API_PREFIX = "/api/queries/"
# Pages asked for when reading a whole list query.
WHOLE_PAGE = 1000
# A bound on the pages joined, far beyond the data: a server whose next links loop stops here.
MAX_PAGES = 10_000
ENDPOINT_TIMEOUT_S = 60.0
# A query-string pair as httpx2 takes it.
Param = tuple[str, str | int | float | bool | None]
_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


class QueryCommandError(Exception):
    """The command cannot print an answer; ``exit_code`` 2 for the caller's mistakes, else 1."""

    def __init__(self, message: str, exit_code: int) -> None:
        self.exit_code = exit_code
        super().__init__(message)


@dataclass(frozen=True)
class QueryRequest:
    name: str
    params: tuple[tuple[str, str], ...] = ()
    format: str | None = None
    limit: int | None = None
    offset: int | None = None


def parse_params(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``k=v`` items as pairs; QueryCommandError (exit 2) for an item without ``=``."""
    pairs: list[tuple[str, str]] = []
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise QueryCommandError(
                f"--param {item!r}: write it as NAME=VALUE, e.g. --param edition=https://...", 2
            )
        pairs.append((name, value))
    return tuple(pairs)


def check_format(name: str | None) -> None:
    """QueryCommandError (exit 2) for a --format that names no format."""
    if name is not None and not by_name(name):
        raise QueryCommandError(
            f"unknown format {name!r}: use json, srj, csv, tsv (SELECT), json, srj (ASK), "
            "ttl, nt, jsonld, rdfxml, nq, trig (CONSTRUCT, DESCRIBE) or a media type",
            2,
        )


def run(client: httpx2.Client, request: QueryRequest) -> bytes:
    """The answer of the named query, every page joined when no limit is given."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", request.name):
        raise QueryCommandError(f"{request.name!r} cannot be the name of a query", 2)
    check_format(request.format)
    params: list[Param] = list(request.params)
    if request.format is not None:
        params.append(("format", request.format))
    if request.limit is not None:
        params.append(("limit", str(request.limit)))
    if request.offset is not None:
        params.append(("offset", str(request.offset)))
    response = _get(client, API_PREFIX + request.name, params)
    if request.limit is not None or _next_link(response) is None:
        return response.content
    # A list query read to the end: big pages, joined.
    whole = [(name, value) for name, value in params if name != "limit"]
    response = _get(client, API_PREFIX + request.name, [*whole, ("limit", str(WHOLE_PAGE))])
    pages = [response]
    while (link := _next_link(response)) is not None and len(pages) < MAX_PAGES:
        response = _get(client, link, None)
        pages.append(response)
    return join_pages(pages[0].headers.get("content-type", ""), [p.content for p in pages])


def _get(client: httpx2.Client, url: str, params: list[Param] | None) -> httpx2.Response:
    try:
        response = client.get(url, params=params)
    except httpx2.HTTPError as error:
        raise QueryCommandError(f"cannot reach {url}: {error}", 1) from None
    if response.status_code >= 400:
        # The caller's mistakes (a parameter, the name, the format) are 2; the rest failed there.
        code = 2 if response.status_code in (400, 404, 406) else 1
        raise QueryCommandError(_problem_text(response), code)
    return response


def _problem_text(response: httpx2.Response) -> str:
    """One line from an error answer: its detail, and the formats a 406 offers."""
    try:
        problem: Any = response.json()
    except ValueError:
        return f"HTTP {response.status_code} from {response.request.url}"
    if not isinstance(problem, dict):
        return f"HTTP {response.status_code} from {response.request.url}"
    detail = str(problem.get("detail") or problem.get("title") or response.status_code)
    if response.status_code == 406 and isinstance(problem.get("available"), list):
        detail += "; available: " + ", ".join(str(t) for t in problem["available"])
    return detail


def _next_link(response: httpx2.Response) -> str | None:
    match = _NEXT.search(response.headers.get("link", ""))
    return match.group(1) if match else None


def join_pages(content_type: str, bodies: Sequence[bytes]) -> bytes:
    """Pages of one SELECT answer as one: arrays and bindings concatenated, CSV and TSV headers
    kept once."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if len(bodies) == 1:
        return bodies[0]
    if media_type == "application/json":
        rows: list[Any] = [row for body in bodies for row in json.loads(body)]
        return json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if media_type == "application/sparql-results+json":
        first = json.loads(bodies[0])
        for body in bodies[1:]:
            first["results"]["bindings"].extend(json.loads(body)["results"]["bindings"])
        return json.dumps(first, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    line_end = b"\r\n" if media_type == "text/csv" else b"\n"
    joined = bytearray(bodies[0])
    for body in bodies[1:]:
        _header, _, rows_part = body.partition(line_end)
        joined += rows_part
    return bytes(joined)


@contextmanager
def bundled_client(settings: Settings, store: Store) -> Iterator[httpx2.Client]:
    """A client whose requests go to an app over ``store`` in this process."""
    from starlette.testclient import TestClient

    from psm_kg.app import create_app
    from psm_kg.query_workers import InProcessEvaluator

    app = create_app(settings, store, InProcessEvaluator(store))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@contextmanager
def endpoint_client(endpoint: str) -> Iterator[httpx2.Client]:
    """A client for a psm-kg server at ``endpoint`` (its base URL)."""
    if not endpoint.startswith(("http://", "https://")):
        raise QueryCommandError(
            f"--endpoint {endpoint!r}: give the server's base URL, e.g. http://127.0.0.1:8000", 2
        )
    base = endpoint.rstrip("/").removesuffix("/sparql")
    with httpx2.Client(base_url=base, timeout=ENDPOINT_TIMEOUT_S) as client:
        yield client
