from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import psm_kg
from psm_kg.config import Settings, SettingsError, env_key, load_settings


def test_defaults_are_the_documented_values() -> None:
    settings = load_settings(env={})
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.base_iri == "https://w3id.org/psm/"
    assert settings.query_timeout_s == 10.0
    assert settings.max_body_bytes > 0
    assert settings.dist_dir == settings.root / "dist"


def test_default_root_is_the_checkout_that_holds_the_ontology() -> None:
    checkout = Path(psm_kg.__file__).resolve().parents[2]
    assert load_settings(env={}).root == checkout
    assert (checkout / "ontology").is_dir()


def test_validation_inputs_derive_from_root(tmp_path: Path) -> None:
    settings = load_settings(env={}, root=tmp_path)
    assert settings.ontology_path == tmp_path / "ontology" / "psm.ttl"
    assert settings.shapes_dir == tmp_path / "ontology" / "shapes"
    assert settings.data_dir == tmp_path / "data"


@pytest.mark.parametrize(
    ("variable", "text", "field", "value"),
    [
        ("PSM_KG_HOST", "0.0.0.0", "host", "0.0.0.0"),
        ("PSM_KG_PORT", "9000", "port", 9000),
        ("PSM_KG_BASE_IRI", "http://localhost/psm/", "base_iri", "http://localhost/psm/"),
        ("PSM_KG_QUERY_TIMEOUT_S", "2.5", "query_timeout_s", 2.5),
        ("PSM_KG_MAX_BODY_BYTES", "2048", "max_body_bytes", 2048),
        ("PSM_KG_ROOT", "/srv/psm", "root", Path("/srv/psm")),
        ("PSM_KG_DIST_DIR", "/srv/out", "dist_dir", Path("/srv/out")),
    ],
    ids=lambda value: str(value),
)
def test_environment_variables_override_defaults(
    variable: str, text: str, field: str, value: object
) -> None:
    assert getattr(load_settings(env={variable: text}), field) == value


def test_command_line_options_override_the_environment() -> None:
    settings = load_settings(env={"PSM_KG_PORT": "9000", "PSM_KG_HOST": "::1"}, port=9001)
    assert settings.port == 9001
    assert settings.host == "::1"


def test_an_option_given_as_none_leaves_the_environment_value() -> None:
    assert load_settings(env={"PSM_KG_PORT": "9000"}, port=None).port == 9000


def test_a_relative_dist_dir_is_relative_to_root(tmp_path: Path) -> None:
    assert load_settings(env={"PSM_KG_DIST_DIR": "out"}, root=tmp_path).dist_dir == tmp_path / "out"
    assert load_settings(env={}, root=tmp_path).dist_dir == tmp_path / "dist"


@pytest.mark.parametrize(
    ("variable", "text", "expected"),
    [
        ("PSM_KG_PORT", "eighty", "integer"),
        ("PSM_KG_PORT", "0", "integer from 1 to 65535"),
        ("PSM_KG_PORT", "70000", "integer from 1 to 65535"),
        ("PSM_KG_QUERY_TIMEOUT_S", "soon", "number"),
        ("PSM_KG_QUERY_TIMEOUT_S", "-1", "number > 0"),
        ("PSM_KG_QUERY_TIMEOUT_S", "nan", "number"),
        ("PSM_KG_MAX_BODY_BYTES", "1.5", "integer"),
        ("PSM_KG_BASE_IRI", "https://w3id.org/psm", "ending in /"),
        ("PSM_KG_BASE_IRI", "urn:psm/", "http(s) IRI"),
        ("PSM_KG_ROOT", "", "directory path"),
    ],
    ids=lambda value: str(value),
)
def test_a_bad_environment_value_names_the_key_the_value_and_the_type(
    variable: str, text: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(env={variable: text})
    message = str(raised.value)
    assert variable in message
    assert repr(text) in message
    assert expected in message
    assert raised.value.key == variable


def test_a_misspelt_variable_with_the_prefix_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(SettingsError, match="PSM_KG_PROT") as raised:
        load_settings(env={"PSM_KG_PROT": "9000"})
    assert "PSM_KG_PORT" in str(raised.value)


def test_unrelated_environment_variables_are_ignored() -> None:
    assert load_settings(env={"PORT": "1", "PSM_KGX": "y"}).port == 8000


def test_a_bad_option_value_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="port"):
        load_settings(env={}, port=0)
    with pytest.raises(SettingsError, match="port"):
        load_settings(env={}, port="8000")


def test_settings_are_frozen() -> None:
    settings = load_settings(env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


def test_every_setting_has_an_environment_variable() -> None:
    names = {field.name for field in dataclasses.fields(Settings)}
    for name in names:
        assert load_settings(env={env_key(name): _sample(name)}) is not None


SAMPLES = {
    "port": "1",
    "query_timeout_s": "1",
    "max_body_bytes": "1",
    "access_log": "1",
    "query_workers": "0",
    "max_result_bytes": "1",
    "result_cache_bytes": "0",
    "cache_max_age_s": "0",
    "base_iri": "https://example.org/",
    "service_allowlist": "https://query.example/sparql, https://other.example/",
    "cors_origins": "https://portal.example",
    "store_url": "http://127.0.0.1:7878/query",
    "store_wait_s": "1",
    "root_path": "/psm",
}


def _sample(name: str) -> str:
    return SAMPLES.get(name, "x")


def test_lists_are_read_comma_separated() -> None:
    settings = load_settings(
        env={
            "PSM_KG_SERVICE_ALLOWLIST": "https://a.example/sparql, https://b.example/",
            "PSM_KG_CORS_ORIGINS": "",
        }
    )
    assert settings.service_allowlist == ("https://a.example/sparql", "https://b.example/")
    assert settings.cors_origins == ()
    assert load_settings(env={}).cors_origins == ("*",)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PSM_KG_SERVICE_ALLOWLIST", "file:///etc/"),
        ("PSM_KG_CORS_ORIGINS", "portal.example"),
        ("PSM_KG_QUERY_WORKERS", "-1"),
        ("PSM_KG_MAX_RESULT_BYTES", "0"),
        ("PSM_KG_RESULT_CACHE_BYTES", "-5"),
    ],
)
def test_a_bad_endpoint_setting_names_the_variable(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        load_settings(env={key: value})


def test_nothing_but_config_reads_the_environment() -> None:
    package = Path(psm_kg.__file__).parent
    readers = re.compile(r"os\.environ|os\.getenv|getenv\(")
    offenders = [
        path.name
        for path in package.glob("*.py")
        if path.name != "config.py" and readers.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("NO", False),
        (" off ", False),
    ],
    ids=lambda value: repr(value),
)
def test_access_log_reads_the_usual_spellings_of_a_boolean(text: str, value: bool) -> None:
    assert load_settings(env={"PSM_KG_ACCESS_LOG": text}).access_log is value


def test_access_log_is_on_by_default_and_refuses_other_words() -> None:
    assert load_settings(env={}).access_log is True
    with pytest.raises(SettingsError, match=r"PSM_KG_ACCESS_LOG.*'maybe'.*boolean"):
        load_settings(env={"PSM_KG_ACCESS_LOG": "maybe"})


def test_a_boolean_option_is_taken_for_a_boolean_setting_only() -> None:
    assert load_settings(env={"PSM_KG_ACCESS_LOG": "1"}, access_log=False).access_log is False
    with pytest.raises(SettingsError, match="access_log"):
        load_settings(env={}, access_log=1)
    with pytest.raises(SettingsError, match="port"):
        load_settings(env={}, port=True)
