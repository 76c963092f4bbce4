"""POST /validate and GET /validation through the real app (create_app over the built fixture tree).

Bodies are the project's own executable examples: ontology/examples/valid/ conforms to the psm
profile and each file of ontology/examples/invalid/ trips the shape it is named after.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib.namespace import RDF, SH
from starlette.testclient import TestClient

from psm_kg import validation_api
from psm_kg.app import create_app
from psm_kg.build import build_dist
from psm_kg.config import Settings
from psm_kg.store import Store

pytestmark = pytest.mark.every_backend  # `client`: the embedded store and each engine

ROOT = Path(__file__).resolve().parents[1]
VALID = ROOT / "ontology" / "examples" / "valid" / "plan-edition.ttl"
INVALID = ROOT / "ontology" / "examples" / "invalid" / "Pillar-label-en.ttl"
SYNTAX_ERROR = Path(__file__).parent / "data" / "app" / "syntax-error.ttl"
PILLAR = "https://w3id.org/psm/milano/id/pillar/2025-2027/sostenibilita"
PILLAR_LABEL_EN = "https://w3id.org/psm/shapes#Pillar-label-en"
TURTLE = {"content-type": "text/turtle"}


def post(client: TestClient, body: bytes | str, **headers: str) -> Any:
    return client.post("/validate", content=body, headers={**TURTLE, **headers})


def as_graph(path: Path) -> rdflib.Graph:
    return rdflib.Graph().parse(path, format="turtle")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening socket on 127.0.0.1 that nothing should ever connect to."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.setblocking(False)
        yield server


def assert_never_contacted(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):  # no pending connection to accept
        server.accept()


def app_client(settings: Settings, store: Store) -> TestClient:
    return TestClient(create_app(settings, store), raise_server_exceptions=False)


# --- POST /validate: reports -------------------------------------------------------------------


def test_conforming_turtle_answers_200_with_a_json_report_that_conforms(
    client: TestClient,
) -> None:
    response = post(client, VALID.read_bytes())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    report = response.json()
    assert report["conforms"] is True
    assert report["summary"]["violations"] == 0


def test_a_violation_answers_200_with_a_report_that_does_not_conform(client: TestClient) -> None:
    response = post(client, INVALID.read_bytes())
    assert response.status_code == 200
    report = response.json()
    assert report["conforms"] is False
    [result] = report["results"]
    assert result["severity"] == "Violation"
    assert result["focus_node"] == PILLAR
    assert result["shape"] == PILLAR_LABEL_EN


def test_results_of_a_body_name_the_request_and_the_line_of_the_focus_node(
    client: TestClient,
) -> None:
    [result] = post(client, INVALID.read_bytes()).json()["results"]
    expected_line = next(
        number
        for number, line in enumerate(INVALID.read_text().splitlines(), start=1)
        if line.startswith("<pillar/2025-2027/sostenibilita>")
    )
    assert result["file"] == "<request>"
    assert result["line"] == expected_line


@pytest.mark.parametrize(
    ("content_type", "rdflib_format"),
    [
        ("text/turtle", "turtle"),
        ("text/turtle; charset=utf-8", "turtle"),
        ("application/n-triples", "nt"),
        ("application/ld+json", "json-ld"),
        ("application/rdf+xml", "xml"),
        ("Application/RDF+XML;charset=UTF-8", "xml"),
    ],
    ids=lambda value: str(value),
)
def test_each_supported_content_type_is_parsed_and_validated(
    client: TestClient, content_type: str, rdflib_format: str
) -> None:
    body = as_graph(INVALID).serialize(format=rdflib_format)
    response = post(client, body, **{"content-type": content_type})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["conforms"] is False
    assert [r["shape"] for r in report["results"]] == [PILLAR_LABEL_EN]


@pytest.mark.parametrize(
    ("profile", "conforms", "shapes_namespace"),
    [
        ("psm", True, "https://w3id.org/psm/shapes#"),
        # SEMIC's shapes ask every skos:ConceptScheme for a dct:title; the psm shapes do not.
        ("dcat-ap", False, "https://semiceu.github.io/DCAT-AP/"),
        ("dcat-ap-it", True, None),  # no catalogue here: nothing to check
        ("ndc", True, None),  # no ontology header here: nothing to check
    ],
)
def test_the_profile_chooses_the_shapes_the_body_is_validated_against(
    client: TestClient, profile: str, conforms: bool, shapes_namespace: str | None
) -> None:
    response = client.post(
        "/validate", params={"profile": profile}, content=VALID.read_bytes(), headers=TURTLE
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["conforms"] is conforms
    shapes = {result["shape"] for result in report["results"]}
    if shapes_namespace is None:
        assert not shapes
    else:
        assert shapes
        assert all(shape.startswith(shapes_namespace) for shape in shapes)


def test_an_unknown_profile_answers_400_listing_the_profiles(client: TestClient) -> None:
    response = client.post(
        "/validate", params={"profile": "shacl"}, content=VALID.read_bytes(), headers=TURTLE
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["title"] == "Unknown profile"
    assert problem["profile"] == "shacl"
    assert set(problem["profiles"]) == {"psm", "dcat-ap", "dcat-ap-it", "ndc"}
    for name in problem["profiles"]:
        assert name in problem["detail"]


def test_turtle_is_a_standard_shacl_validation_report(client: TestClient) -> None:
    response = post(client, INVALID.read_bytes(), accept="text/turtle")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    report = graph.value(predicate=RDF.type, object=SH.ValidationReport)
    assert report is not None
    assert graph.value(report, SH.conforms) == rdflib.Literal(False)
    [result] = graph.objects(report, SH.result)
    assert graph.value(result, SH.focusNode) == rdflib.URIRef(PILLAR)
    assert graph.value(result, SH.sourceShape) == rdflib.URIRef(PILLAR_LABEL_EN)


def test_a_conforming_body_gives_a_turtle_report_that_conforms(client: TestClient) -> None:
    response = post(client, VALID.read_bytes(), accept="text/turtle")
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    report = graph.value(predicate=RDF.type, object=SH.ValidationReport)
    assert graph.value(report, SH.conforms) == rdflib.Literal(True)


# --- POST /validate: the HTML page -------------------------------------------------------------


class PageParser(HTMLParser):
    """Collects what the accessibility and no-external-requests checks need."""

    def __init__(self) -> None:
        super().__init__()
        self.html_lang: str | None = None
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.rows = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "html":
            self.html_lang = values.get("lang")
        if tag == "tr" and "th" not in self.tags[-1:]:
            self.rows += 1
        self.urls.extend(v for k, v in attrs if k in ("src", "href", "action") and v is not None)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_page(client: TestClient, body: bytes, path: str = "/validate") -> PageParser:
    if path == "/validate":
        response = post(client, body, accept="text/html")
    else:
        response = client.get(path, headers={"accept": "text/html"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = PageParser()
    page.feed(response.text)
    return page


def test_the_html_page_has_a_language_a_heading_a_summary_and_one_row_per_result(
    client: TestClient,
) -> None:
    page = html_page(client, INVALID.read_bytes())
    text = " ".join(" ".join(page.text).split())
    assert page.html_lang == "en"
    assert page.tags.count("h1") == 1
    assert "Does not conform: 1 violation, 0 warnings, 0 infos" in text
    assert page.tags.count("tr") == 2  # the header row and one result
    assert PILLAR in text
    assert "psmsh:Pillar-label-en" in text
    assert 'add rdfs:label "..."@en' in text  # the hint, as in every other report format
    for heading in ("Severity", "Focus node", "Path", "Value", "Message", "Hint"):
        assert heading in text


def test_the_html_page_requests_nothing_from_another_origin(client: TestClient) -> None:
    for path in ("/validate", "/validation"):
        page = html_page(client, INVALID.read_bytes(), path)
        assert page.tags.count("script") == 0
        assert page.tags.count("link") == 0
        for url in page.urls:
            assert not re.match(r"(?i)\s*(https?:)?//", url), url


def test_the_html_page_forbids_scripts_and_remote_loads_by_policy(client: TestClient) -> None:
    response = post(client, INVALID.read_bytes(), accept="text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy


def test_text_from_the_client_is_escaped_in_the_html_page(client: TestClient) -> None:
    hostile = VALID.read_text().replace(
        'dct:date "2025-02"^^xsd:gYearMonth', 'dct:date "<script>alert(1)</script>"', 1
    )
    response = post(client, hostile, accept="text/html")
    assert response.status_code == 200
    assert "Does not conform" in response.text
    assert "<script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


# --- POST /validate: errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/n-quads", None]
)
def test_an_unsupported_content_type_answers_415_listing_the_supported_ones(
    client: TestClient, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post("/validate", content=VALID.read_bytes(), headers=headers)
    assert response.status_code == 415
    problem = response.json()
    assert problem["content_type"] == content_type
    assert problem["supported"] == [
        "text/turtle",
        "application/n-triples",
        "application/ld+json",
        "application/rdf+xml",
    ]


def test_a_body_over_the_limit_answers_413(built_settings: Settings, store: Store) -> None:
    settings = dataclasses.replace(built_settings, max_body_bytes=256)
    with app_client(settings, store) as client:
        response = post(client, VALID.read_bytes())
    assert response.status_code == 413
    assert response.json()["max_body_bytes"] == 256


def test_the_limit_is_checked_while_reading_a_body_without_content_length(
    built_settings: Settings, store: Store
) -> None:
    settings = dataclasses.replace(built_settings, max_body_bytes=256)

    def chunks() -> Iterator[bytes]:  # streamed: no Content-Length header is sent
        for _ in range(100):
            yield b"# a comment line to fill the body up\n"

    with app_client(settings, store) as client:
        response = client.post("/validate", content=chunks(), headers=TURTLE)
    assert response.status_code == 413


def test_no_acceptable_report_format_answers_406(client: TestClient) -> None:
    response = post(client, VALID.read_bytes(), accept="application/xml")
    assert response.status_code == 406
    assert response.json()["available"] == ["application/json", "text/turtle", "text/html"]


def test_a_syntax_error_answers_400_with_its_line_and_column(client: TestClient) -> None:
    response = post(client, SYNTAX_ERROR.read_bytes())
    assert response.status_code == 400
    problem = response.json()
    assert problem["title"] == "Unreadable request body"
    assert problem["line"] == 6
    assert isinstance(problem["column"], int)
    assert "<request>:6:" in problem["detail"]


def test_a_body_that_is_not_utf8_answers_400_with_its_position(client: TestClient) -> None:
    response = post(client, b"@prefix ex: <http://example.org/> .\nex:a ex:b 'caf\xe9' .\n")
    assert response.status_code == 400
    assert response.json()["line"] == 2


def test_an_empty_body_answers_400(client: TestClient) -> None:
    response = post(client, b"  \n")
    assert response.status_code == 400
    assert response.json()["title"] == "Empty request body"


def test_a_remote_json_ld_context_is_refused_without_a_connection(
    client: TestClient, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    body = (
        f'{{"@context": "http://127.0.0.1:{port}/context.jsonld",\n'
        ' "@id": "https://example.org/a", "name": "A"}'
    )
    started = time.monotonic()
    response = post(client, body, **{"content-type": "application/ld+json"})
    assert time.monotonic() - started < 2
    assert response.status_code == 400
    problem = response.json()
    assert "not inline" in problem["detail"]
    assert problem["line"] == 1
    assert_never_contacted(listener)


def test_owl_imports_in_a_body_are_not_followed(
    client: TestClient, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    body = VALID.read_text() + (
        f"\n<https://w3id.org/psm/milano/id/plan/psttm-2025-2027> "
        f"<http://www.w3.org/2002/07/owl#imports> <http://127.0.0.1:{port}/more.ttl> .\n"
    )
    response = post(client, body)
    assert response.status_code == 200
    assert_never_contacted(listener)


def test_an_external_xml_entity_in_rdf_xml_is_not_fetched(
    client: TestClient, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    body = f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ <!ENTITY remote SYSTEM "http://127.0.0.1:{port}/entity.txt"> ]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">
  <rdf:Description rdf:about="https://example.org/a"><rdfs:label>&remote;</rdfs:label></rdf:Description>
</rdf:RDF>"""
    response = post(client, body, **{"content-type": "application/rdf+xml"})
    assert response.status_code in (200, 400)
    assert_never_contacted(listener)


def test_an_escaped_character_that_makes_an_invalid_iri_answers_400_with_its_position(
    client: TestClient,
) -> None:
    # The escape decodes to '<', which no IRI may hold: the parser refuses it before SHACL runs.
    body = INVALID.read_text().replace(
        "<pillar/2025-2027/sostenibilita>", "<pillar/2025-2027/a\\u003Cb>"
    )
    response = post(client, body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["title"] == "Unreadable request body"
    assert problem["line"] is not None


def test_validation_over_the_time_limit_answers_503_with_retry_after(
    built_settings: Settings, store: Store
) -> None:
    settings = dataclasses.replace(built_settings, query_timeout_s=0.01, max_body_bytes=10**7)
    # Parsing alone outlasts the limit; no shape targets these triples, so the work stays short.
    many = "\n".join(
        f"<https://example.org/s{n}> <https://example.org/p> {n} ." for n in range(5000)
    )
    with app_client(settings, store) as client:
        response = post(client, many)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["timeout_s"] == 0.01


def test_when_every_validation_slot_is_taken_a_request_answers_503_at_once(
    client: TestClient,
) -> None:
    # Validations whose request timed out keep running; the slots bound how many run at once.
    taken = 0
    try:
        # An earlier test's abandoned validation may still hold a slot until it finishes.
        while taken < validation_api.MAX_VALIDATIONS and validation_api._SLOTS.acquire(timeout=30):
            taken += 1
        assert taken == validation_api.MAX_VALIDATIONS
        response = post(client, VALID.read_bytes())
    finally:
        for _ in range(taken):
            validation_api._SLOTS.release()
    assert response.status_code == 503
    assert response.json()["title"] == "Validator busy"
    assert "retry-after" in response.headers
    assert post(client, VALID.read_bytes()).status_code == 200


def test_a_validation_that_ran_answers_200_and_carries_no_etag(client: TestClient) -> None:
    response = post(client, INVALID.read_bytes())
    assert response.status_code == 200
    assert "etag" not in response.headers
    assert "Accept" in [v.strip() for v in response.headers["vary"].split(",")]


# --- GET /validation ---------------------------------------------------------------------------


def test_the_dataset_report_answers_json_by_default(client: TestClient) -> None:
    response = client.get("/validation")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    report = response.json()
    assert isinstance(report["conforms"], bool)
    assert isinstance(report["results"], list)


def test_the_dataset_report_carries_an_etag_cache_control_and_vary(client: TestClient) -> None:
    response = client.get("/validation")
    assert response.headers["etag"].startswith('"')
    assert response.headers["cache-control"].startswith("public")
    assert "Accept" in [v.strip() for v in response.headers["vary"].split(",")]


def test_a_matching_if_none_match_answers_304_without_a_body(client: TestClient) -> None:
    first = client.get("/validation", params={"profile": "psm"})
    again = client.get(
        "/validation", params={"profile": "psm"}, headers={"if-none-match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]


def test_the_dataset_etag_differs_by_profile_and_by_format(client: TestClient) -> None:
    def etag(profile: str, accept: str) -> str:
        response = client.get(
            "/validation", params={"profile": profile}, headers={"accept": accept}
        )
        assert response.status_code == 200
        return str(response.headers["etag"])

    json_psm = etag("psm", "application/json")
    assert etag("psm", "text/turtle") != json_psm
    assert etag("ndc", "application/json") != json_psm
    assert etag("psm", "application/json") == json_psm


def test_the_dataset_report_in_turtle_is_a_shacl_validation_report(client: TestClient) -> None:
    response = client.get("/validation", headers={"accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    assert graph.value(predicate=RDF.type, object=SH.ValidationReport) is not None


def test_the_dataset_report_finds_what_the_served_data_violates(
    app_tree: Path, app_data: Path, settings: Settings
) -> None:
    broken = app_tree / "data" / "plan" / "broken.ttl"
    broken.write_bytes((app_data / "violation.ttl").read_bytes())
    build_dist(settings)
    with app_client(settings, Store.from_dist(settings.dist_dir)) as client:
        report = client.get("/validation").json()
    focus_nodes = {result["focus_node"] for result in report["results"]}
    assert "https://w3id.org/psm/milano/id/pillar/2025-2027/solo-italiano" in focus_nodes
    assert report["conforms"] is False


def test_the_dataset_report_rejects_an_unknown_profile(client: TestClient) -> None:
    response = client.get("/validation", params={"profile": "nope"})
    assert response.status_code == 400
    assert "psm" in response.json()["profiles"]
