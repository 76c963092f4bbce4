"""The /sparql router through the real app (create_app over the built fixture tree)."""

from __future__ import annotations

import csv
import dataclasses
import io
import warnings
from collections.abc import Callable
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
import rdflib
from rdflib.compare import isomorphic
from starlette.testclient import TestClient

from psm_kg.app import create_app
from psm_kg.config import Settings
from psm_kg.store import Store

pytestmark = pytest.mark.every_backend  # `client`: the embedded store and each engine

PREFIXES = "PREFIX psm: <https://w3id.org/psm/ontology#>\n"
SELECT_PILLARS = PREFIXES + "SELECT ?pillar WHERE { ?pillar a psm:Pillar }"
CONSTRUCT_LABELS = (
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
    "CONSTRUCT { ?s rdfs:label ?l } WHERE { ?s rdfs:label ?l }"
)
RESULTS_JSON = "application/sparql-results+json"
FORM = "application/x-www-form-urlencoded"


def pillars(response_json: dict[str, object]) -> set[str]:
    bindings = response_json["results"]["bindings"]  # type: ignore[index]
    return {row["pillar"]["value"] for row in bindings}


EXPECTED_PILLARS = {
    "https://w3id.org/psm/milano/id/pillar/2025-2027/sostenibilita",
    "https://w3id.org/psm/milano/id/pillar/2025-2027/innovazione",
}


def test_get_select_answers_sparql_json(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": SELECT_PILLARS})
    assert response.status_code == 200
    assert response.headers["content-type"] == RESULTS_JSON
    assert pillars(response.json()) == EXPECTED_PILLARS


def test_post_form_select_answers_sparql_json(client: TestClient) -> None:
    response = client.post("/sparql", data={"query": SELECT_PILLARS})
    assert response.status_code == 200
    assert pillars(response.json()) == EXPECTED_PILLARS


def test_post_form_with_a_charset_parameter_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/sparql",
        content="query=" + quote(SELECT_PILLARS),
        headers={"content-type": FORM + "; charset=UTF-8"},
    )
    assert response.status_code == 200


def test_post_sparql_query_body_answers_sparql_json(client: TestClient) -> None:
    response = client.post(
        "/sparql", content=SELECT_PILLARS, headers={"content-type": "application/sparql-query"}
    )
    assert response.status_code == 200
    assert pillars(response.json()) == EXPECTED_PILLARS


def test_ask_answers_a_boolean(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": PREFIXES + "ASK { ?x a psm:Nothing }"})
    assert response.json() == {"head": {}, "boolean": False}


def test_select_honours_accept_application_json(client: TestClient) -> None:
    response = client.get(
        "/sparql", params={"query": SELECT_PILLARS}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == RESULTS_JSON


def test_construct_answers_turtle_by_default(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": CONSTRUCT_LABELS})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/turtle; charset=utf-8"
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    assert (None, None, rdflib.Literal("Sustainability", lang="en")) in graph


def test_construct_answers_n_triples_on_request(client: TestClient) -> None:
    response = client.get(
        "/sparql",
        params={"query": CONSTRUCT_LABELS},
        headers={"accept": "application/n-triples, text/turtle;q=0.5"},
    )
    assert response.headers["content-type"] == "application/n-triples"
    graph = rdflib.Graph().parse(data=response.text, format="nt")
    assert (None, None, rdflib.Literal("Milan", lang="en")) in graph


def test_responses_vary_on_accept_and_get_carries_an_etag(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": SELECT_PILLARS})
    assert "Accept" in [v.strip() for v in response.headers["vary"].split(",")]
    assert response.headers["etag"].startswith('"')


def test_a_matching_if_none_match_answers_304_without_a_body(client: TestClient) -> None:
    first = client.get("/sparql", params={"query": SELECT_PILLARS})
    again = client.get(
        "/sparql",
        params={"query": SELECT_PILLARS},
        headers={"if-none-match": first.headers["etag"]},
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]


def test_the_etag_differs_by_query_and_by_format(client: TestClient) -> None:
    def etag(query: str, accept: str) -> str:
        response = client.get("/sparql", params={"query": query}, headers={"accept": accept})
        return response.headers["etag"]

    turtle = etag(CONSTRUCT_LABELS, "text/turtle")
    assert etag(CONSTRUCT_LABELS, "application/n-triples") != turtle
    assert etag(CONSTRUCT_LABELS + " LIMIT 1", "text/turtle") != turtle
    assert etag(CONSTRUCT_LABELS, "text/turtle") == turtle


def test_post_answers_carry_the_etag_of_the_same_get_but_no_freshness(client: TestClient) -> None:
    posted = client.post("/sparql", data={"query": SELECT_PILLARS})
    got = client.get("/sparql", params={"query": SELECT_PILLARS})
    assert posted.headers["etag"] == got.headers["etag"]
    assert "cache-control" not in posted.headers
    assert got.headers["cache-control"].startswith("public, max-age=")


@pytest.mark.parametrize(
    "send",
    [
        lambda c: c.get("/sparql", params={"query": "INSERT DATA { <a:s> <a:p> <a:o> }"}),
        lambda c: c.get("/sparql", params={"update": "CLEAR ALL"}),
        lambda c: c.post("/sparql", data={"update": "CLEAR ALL"}),
        lambda c: c.post("/sparql", data={"query": "DROP ALL"}),
        lambda c: c.post(
            "/sparql", content="CLEAR ALL", headers={"content-type": "application/sparql-update"}
        ),
        lambda c: c.post(
            "/sparql",
            content="LOAD <http://x/>",
            headers={"content-type": "application/sparql-query"},
        ),
    ],
    ids=[
        "update as GET query",
        "GET update parameter",
        "form update parameter",
        "update as form query",
        "sparql-update body",
        "update as sparql-query body",
    ],
)
def test_every_way_of_sending_an_update_is_refused_clearly(client: TestClient, send) -> None:  # type: ignore[no-untyped-def]
    response = send(client)
    assert response.status_code == 400
    assert response.json()["title"] == "SPARQL Update is not supported"
    assert "read-only" in response.json()["detail"]


def test_a_malformed_query_answers_400_with_the_parser_message(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": "SELECT ?s WHERE { ?s ?p }"})
    assert response.status_code == 400
    problem = response.json()
    assert problem["title"] == "Malformed query"
    assert problem["detail"].startswith("error at 1:")
    assert problem["line"] == 1


def test_service_answers_400_when_no_endpoint_is_allowed(client: TestClient) -> None:
    response = client.get(
        "/sparql", params={"query": "SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"}
    )
    assert response.status_code == 400
    assert response.json()["title"] == "SERVICE is not allowed"
    assert "http://127.0.0.1:9/" in response.json()["detail"]


@pytest.mark.parametrize(
    "send",
    [
        lambda c: c.get("/sparql", headers={"accept": RESULTS_JSON}),
        lambda c: c.get("/sparql", params={"query": "  "}),
        lambda c: c.post("/sparql", data={"other": "x"}),
        lambda c: c.post(
            "/sparql", content="", headers={"content-type": "application/sparql-query"}
        ),
    ],
    ids=[
        "GET without query asking for results",
        "GET with a blank query",
        "form without query",
        "empty body",
    ],
)
def test_a_missing_query_answers_400_saying_how_to_send_one(client: TestClient, send) -> None:  # type: ignore[no-untyped-def]
    response = send(client)
    assert response.status_code == 400
    assert response.json()["title"] == "Missing query"


def test_two_query_parameters_answer_400(client: TestClient) -> None:
    response = client.get("/sparql?query=ASK%7B%7D&query=ASK%7B%7D")
    assert response.status_code == 400
    assert response.json()["title"] == "More than one query"


def test_a_body_over_the_limit_answers_413(built_settings: Settings, store: Store) -> None:
    settings = dataclasses.replace(built_settings, max_body_bytes=64)
    with TestClient(create_app(settings, store), raise_server_exceptions=False) as client:
        response = client.post(
            "/sparql",
            content="ASK { " + "?s ?p ?o . " * 20 + "}",
            headers={"content-type": "application/sparql-query"},
        )
    assert response.status_code == 413
    assert response.json()["max_body_bytes"] == 64


def test_a_query_over_the_time_limit_answers_503(built_settings: Settings, store: Store) -> None:
    settings = dataclasses.replace(built_settings, query_timeout_s=0.05)
    many_rows = "SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"  # about 4.5 million rows
    with TestClient(create_app(settings, store), raise_server_exceptions=False) as client:
        response = client.get("/sparql", params={"query": many_rows})
    assert response.status_code == 503
    assert response.json()["timeout_s"] == 0.05


def test_the_query_endpoint_uses_the_union_default_graph(client: TestClient) -> None:
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    response = client.get("/sparql", params={"query": query})
    total = client.get("/healthz").json()["triples"]
    assert int(response.json()["results"]["bindings"][0]["n"]["value"]) == total


def test_healthz_reports_ok_and_the_triple_count(
    client: TestClient, store: Store, backend: str
) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    health = response.json()
    assert (health["status"], health["triples"]) == ("ok", len(store))
    if backend == "embedded":
        assert len(health["query_workers"]["pids"]) == 2
    else:  # the store's engine evaluates: no worker processes, the store is named instead
        assert "query_workers" not in health
        assert health["store"]["reachable"] is True


def _pillars_from_xml(body: bytes) -> set[str]:
    root = ElementTree.fromstring(body)
    ns = {"r": "http://www.w3.org/2005/sparql-results#"}
    return {uri.text or "" for uri in root.iterfind(".//r:binding[@name='pillar']/r:uri", ns)}


def _pillars_from_csv(body: bytes) -> set[str]:
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    return {row["pillar"] for row in rows}


def _pillars_from_tsv(body: bytes) -> set[str]:
    lines = body.decode("utf-8").splitlines()
    assert lines[0] == "?pillar"
    return {line.removeprefix("<").removesuffix(">") for line in lines[1:]}


SELECT_FORMATS = [
    ("application/sparql-results+xml", _pillars_from_xml),
    ("text/csv", _pillars_from_csv),
    ("text/tab-separated-values", _pillars_from_tsv),
]


@pytest.mark.parametrize(("media_type", "read"), SELECT_FORMATS, ids=[m for m, _ in SELECT_FORMATS])
def test_select_answers_every_sparql_results_format_on_request(
    client: TestClient, media_type: str, read: Callable[[bytes], set[str]]
) -> None:
    response = client.get(
        "/sparql", params={"query": SELECT_PILLARS}, headers={"accept": media_type}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert read(response.content) == EXPECTED_PILLARS


def test_ask_in_sparql_xml_carries_the_boolean(client: TestClient) -> None:
    response = client.get(
        "/sparql",
        params={"query": "ASK { ?s ?p ?o }"},
        headers={"accept": "application/sparql-results+xml"},
    )
    assert response.status_code == 200
    root = ElementTree.fromstring(response.content)
    assert root.findtext("{http://www.w3.org/2005/sparql-results#}boolean") == "true"


def test_ask_in_csv_is_not_acceptable_since_csv_is_for_select_only(client: TestClient) -> None:
    response = client.get(
        "/sparql", params={"query": "ASK { ?s ?p ?o }"}, headers={"accept": "text/csv"}
    )
    assert response.status_code == 406


GRAPH_FORMATS = [
    ("application/ld+json", "json-ld"),
    ("application/rdf+xml", "xml"),
    ("text/turtle", "turtle"),
    ("application/n-triples", "nt"),
]


@pytest.mark.parametrize(
    ("media_type", "rdflib_format"), GRAPH_FORMATS, ids=[m for m, _ in GRAPH_FORMATS]
)
def test_construct_answers_every_rdf_format_on_request(
    client: TestClient, media_type: str, rdflib_format: str
) -> None:
    response = client.get(
        "/sparql", params={"query": CONSTRUCT_LABELS}, headers={"accept": media_type}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    with warnings.catch_warnings():
        # rdflib 7's JSON-LD parser builds a ConjunctiveGraph, which rdflib itself deprecates.
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        graph = rdflib.Graph().parse(data=response.content, format=rdflib_format)
    turtle = client.get("/sparql", params={"query": CONSTRUCT_LABELS}).content
    assert isomorphic(graph, rdflib.Graph().parse(data=turtle, format="turtle"))
