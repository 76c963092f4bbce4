"""The HTTP routes served from the embedded store and from each real engine (`serve --store`).

One app per backend over the same built tree (the fixture tree with test_api's test queries): the
embedded store, and the Oxigraph server and Virtuoso 7 of conftest.py (one each per session,
loaded with remote_load). Every answer of an engine-backed app is held against the embedded
app's: the same status, headers and error bodies; the same bytes where the engine cannot change
them (ordered results without blank nodes, counts, ETags); the same RDF graph otherwise (blank
node labels are the engine's).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from conftest import copy_tree
from engines import EngineServer
from psm_kg import validation_work
from psm_kg.app import create_app
from psm_kg.query_workers import InProcessEvaluator
from psm_kg.remote_store import RemoteStore
from remote_backends import BACKENDS, remote_store, same_graph
from test_api import (
    INJECTIONS,
    TEST_QUERIES,
    Served,
    _assert_stays_data,
    _serve,
    _served_parameters,
    _write_queries,
)

PLAN = "https://w3id.org/psm/milano/id/plan/psttm-2025-2027"
ORDERED = (
    "SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label "
    "FILTER(isIRI(?s)) } ORDER BY ?s STR(?label) LANG(?label)"
)
GRAPH_COUNTS = "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"
COUNT = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
DESCRIBE_PLAN = (
    f"CONSTRUCT {{ <{PLAN}> ?p ?o . ?o ?q ?r }} WHERE {{ <{PLAN}> ?p ?o OPTIONAL {{ ?o ?q ?r }} }}"
)
# Answers an engine computes differently from SPARQL 1.1 (and from pyoxigraph).
ENGINE_DEVIATIONS = {
    ("virtuoso", "compute-numbers"): "Virtuoso 7 divides integers as integers: 41 / 2 = 20, "
    "where SPARQL 1.1 (17.4.1.x, op:numeric-divide) gives the xsd:decimal 20.5",
}
SELECT_TYPES = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}
GRAPH_TYPES = (
    "text/turtle",
    "application/n-triples",
    "application/ld+json",
    "application/rdf+xml",
    "application/n-quads",
    "application/trig",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    root = copy_tree(tmp_path_factory.mktemp("remote-http") / "tree")
    _write_queries(root / "queries")
    return _serve(root)


def _app(
    served: Served, backend: str, request: pytest.FixtureRequest, **changes: object
) -> Iterator[TestClient]:
    settings = dataclasses.replace(served.settings, **changes)  # type: ignore[arg-type]
    if backend == "embedded":
        app = create_app(settings, served.store, InProcessEvaluator(served.store))
    else:
        # The session's engines (conftest.py) hold the fixture tree's dataset, which this
        # module's tree shares: its own queries are not part of the dataset.
        server: EngineServer = request.getfixturevalue(f"{backend}_engine")
        store = remote_store(server, settings.dist_dir, settings.max_result_bytes)
        app = create_app(settings, store)  # its own RemoteEvaluator, closed with the app
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest, served: Served) -> Iterator[TestClient]:
    yield from _app(served, request.param, request)


@pytest.fixture(scope="module")
def embedded(served: Served, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    yield from _app(served, "embedded", request)


def _problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    content_type = response.headers["content-type"]  # type: ignore[attr-defined]
    assert content_type.startswith("application/problem+json")
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    return body


# --- the SPARQL protocol ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SELECT_TYPES))
def test_select_results_are_the_embedded_stores_bytes_and_etag(
    client: TestClient, embedded: TestClient, name: str
) -> None:
    for query in (ORDERED, GRAPH_COUNTS, COUNT):
        params = {"query": query, "format": name}
        got, expected = client.get("/sparql", params=params), embedded.get("/sparql", params=params)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == expected.headers["content-type"]
        assert got.content == expected.content, query
        assert got.headers["etag"] == expected.headers["etag"]
        again = client.get("/sparql", params=params)
        assert again.content == got.content


def test_ask_answers_true_and_false_like_the_embedded_store(
    client: TestClient, embedded: TestClient
) -> None:
    for query in (f"ASK {{ <{PLAN}> ?p ?o }}", "ASK { <urn:nothing> ?p ?o }"):
        for name in ("json", "xml"):
            params = {"query": query, "format": name}
            assert client.get("/sparql", params=params).content == (
                embedded.get("/sparql", params=params).content
            )


@pytest.mark.parametrize("media_type", GRAPH_TYPES)
def test_graph_results_are_the_embedded_graph_in_every_format(
    client: TestClient, embedded: TestClient, media_type: str
) -> None:
    headers = {"Accept": media_type}
    got = client.get("/sparql", params={"query": DESCRIBE_PLAN}, headers=headers)
    expected = embedded.get("/sparql", params={"query": DESCRIBE_PLAN}, headers=headers)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == expected.headers["content-type"]
    assert same_graph(got.content, expected.content, media_type)
    assert client.get("/sparql", params={"query": DESCRIBE_PLAN}, headers=headers).content == (
        got.content
    )


@pytest.mark.parametrize(
    "params",
    [
        {"default-graph-uri": "https://w3id.org/psm/milano/graph/ontology"},
        {"named-graph-uri": "https://w3id.org/psm/milano/graph/plan"},
        {
            "default-graph-uri": "https://w3id.org/psm/milano/graph/ontology",
            "named-graph-uri": "https://w3id.org/psm/milano/graph/plan",
        },
    ],
    ids=["default", "named", "both"],
)
def test_the_protocol_dataset_is_passed_on(
    client: TestClient, embedded: TestClient, params: dict[str, str]
) -> None:
    for query in (COUNT, GRAPH_COUNTS):
        asked = {"query": query, "format": "csv", **params}
        assert client.get("/sparql", params=asked).content == (
            embedded.get("/sparql", params=asked).content
        )


def test_from_in_the_query_sets_the_default_graph(client: TestClient, embedded: TestClient) -> None:
    query = "SELECT (COUNT(*) AS ?n) FROM <https://w3id.org/psm/milano/graph/ontology> { ?s ?p ?o }"
    params = {"query": query, "format": "csv"}
    got = client.get("/sparql", params=params)
    assert got.content == embedded.get("/sparql", params=params).content
    assert got.content != client.get("/sparql", params={"query": COUNT, "format": "csv"}).content


def test_a_malformed_query_gets_the_embedded_stores_400(
    client: TestClient, embedded: TestClient
) -> None:
    for query in ("SELEC * { ?s ?p ?o }", "SELECT * { ?s ?p }", "ASK { ?s ?p ?o "):
        assert _problem(client.get("/sparql", params={"query": query}), 400) == _problem(
            embedded.get("/sparql", params={"query": query}), 400
        )


@pytest.mark.parametrize(
    "query",
    [
        "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
        "DROP ALL",
        "SELECT * { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }",
    ],
    ids=["insert", "drop", "service"],
)
def test_updates_and_federation_are_refused_before_the_store(
    client: TestClient, embedded: TestClient, query: str
) -> None:
    got = _problem(client.post("/sparql", data={"query": query}), 400)
    assert got == _problem(embedded.post("/sparql", data={"query": query}), 400)
    assert client.get("/sparql", params={"query": COUNT, "format": "csv"}).content == (
        embedded.get("/sparql", params={"query": COUNT, "format": "csv"}).content
    )


def test_a_query_the_store_refuses_is_400_with_the_stores_message(
    client: TestClient, request: pytest.FixtureRequest
) -> None:
    # SPARQL 1.2's ADJUST: pyoxigraph and the Oxigraph server know it, Virtuoso 7 does not.
    adjust = '"PT1H"^^<http://www.w3.org/2001/XMLSchema#dayTimeDuration>'
    query = f"SELECT (ADJUST(NOW(), {adjust}) AS ?x) {{}}"
    response = client.get("/sparql", params={"query": query})
    if request.node.callspec.params["client"] != "virtuoso":
        assert response.status_code == 200, response.text
        return
    body = _problem(response, 400)
    assert body["title"] == "Malformed query"
    assert str(body["detail"]).startswith("the SPARQL store refused the query: Virtuoso 37000")


def test_406_and_415_as_embedded(client: TestClient) -> None:
    _problem(client.get("/sparql", params={"query": COUNT}, headers={"Accept": "text/turtle"}), 406)
    _problem(client.post("/sparql", content=COUNT, headers={"Content-Type": "text/plain"}), 415)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_result_over_the_cap_answers_422(
    served: Served, backend: str, request: pytest.FixtureRequest
) -> None:
    for client in _app(served, backend, request, max_result_bytes=2000):
        body = _problem(client.get("/sparql", params={"query": ORDERED}), 422)
        assert body["max_result_bytes"] == 2000


def test_if_none_match_answers_304(client: TestClient) -> None:
    first = client.get("/sparql", params={"query": ORDERED})
    assert first.status_code == 200
    again = client.get(
        "/sparql", params={"query": ORDERED}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


def test_the_service_description_is_the_embedded_one(
    client: TestClient, embedded: TestClient
) -> None:
    headers = {"Accept": "text/turtle"}
    got, expected = client.get("/sparql", headers=headers), embedded.get("/sparql", headers=headers)
    assert got.status_code == 200
    assert got.content == expected.content


# --- pages, catalogue, validation ---------------------------------------------------------------


def test_a_thing_answers_303_and_its_documents_are_the_embedded_ones(
    client: TestClient, embedded: TestClient
) -> None:
    thing = client.get("/milano/id/plan/psttm-2025-2027", follow_redirects=False)
    assert thing.status_code == 303
    assert thing.headers["location"].endswith("/milano/doc/plan/psttm-2025-2027.html")
    for extension, media_type in (("ttl", "text/turtle"), ("nt", "application/n-triples")):
        path = f"/milano/doc/plan/psttm-2025-2027.{extension}"
        got, expected = client.get(path), embedded.get(path)
        assert got.status_code == 200
        assert got.headers["etag"] == expected.headers["etag"]
        assert same_graph(got.content, expected.content, media_type)
    html = client.get("/milano/doc/plan/psttm-2025-2027.html")
    assert html.status_code == 200
    assert html.text == embedded.get("/milano/doc/plan/psttm-2025-2027.html").text


def test_a_crawl_of_the_index_pages_answers_like_the_embedded_store(
    client: TestClient, embedded: TestClient
) -> None:
    index = client.get("/milano/doc/")
    assert index.status_code == 200
    assert index.text == embedded.get("/milano/doc/").text
    type_pages = sorted(set(re.findall(r'href="(/milano/doc/[\w-]+/)"', index.text)))
    assert type_pages
    for type_page in type_pages:
        listing = client.get(type_page)
        assert listing.status_code == 200, type_page
        assert listing.text == embedded.get(type_page).text
        for path in sorted(set(re.findall(r'href="(/milano/doc/[^"?#]+)"', listing.text)))[:3]:
            if path.endswith("/"):
                continue
            page = client.get(path)
            assert page.status_code == 200, path
            assert page.text == embedded.get(path).text, path
    assert client.get("/milano/id/plan/nothing-here").status_code == 404


@pytest.mark.parametrize("path", ["/catalog.ttl", "/.well-known/void.ttl", "/sitemap.xml", "/"])
def test_catalogue_void_sitemap_and_home_are_the_embedded_ones(
    client: TestClient, embedded: TestClient, path: str
) -> None:
    got = client.get(path)
    assert got.status_code == 200
    assert got.content == embedded.get(path).content


def test_the_validation_report_of_the_served_data_is_computed_from_the_store(
    client: TestClient, embedded: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reports are kept by content hash, which the backends share: start from an empty cache.
    monkeypatch.setattr(validation_work, "_DATASET_REPORTS", validation_work._ReportCache())
    got = client.get("/validation", headers={"Accept": "application/json"})
    monkeypatch.setattr(validation_work, "_DATASET_REPORTS", validation_work._ReportCache())
    expected = embedded.get("/validation", headers={"Accept": "application/json"})
    assert got.status_code == 200, got.text
    assert got.headers["etag"] == expected.headers["etag"]
    mine, theirs = json.loads(got.content), json.loads(expected.content)
    assert mine["conforms"] == theirs["conforms"]
    assert len(mine["results"]) == len(theirs["results"])


# --- the named-query API ------------------------------------------------------------------------


def test_every_example_of_the_queries_answers_as_embedded(
    client: TestClient, embedded: TestClient, served: Served, request: pytest.FixtureRequest
) -> None:
    backend = request.node.callspec.params["client"]
    assert set(TEST_QUERIES) <= {query.name for query in served.queries}
    for query in served.queries:
        for example in query.examples:
            got = client.get(f"/api/queries/{query.name}", params=example.params)
            expected = embedded.get(f"/api/queries/{query.name}", params=example.params)
            assert got.status_code == expected.status_code == 200, (query.name, got.text)
            assert got.headers["etag"] == expected.headers["etag"]
            if (backend, query.name) in ENGINE_DEVIATIONS:
                assert got.content != expected.content, "fixed? drop it from ENGINE_DEVIATIONS"
                continue
            if query.form.value == "CONSTRUCT":
                assert same_graph(got.content, expected.content, "text/turtle")
            else:
                assert got.content == expected.content, (query.name, example.params)


@pytest.mark.parametrize("payload", INJECTIONS, ids=[repr(p)[1:-1][:30] for p in INJECTIONS])
def test_injection_attempts_stay_data(client: TestClient, served: Served, payload: str) -> None:
    for name, parameter, kind in _served_parameters(served):
        _assert_stays_data(client, served, name, parameter, kind, payload)


def test_wiring_from_settings_picks_the_remote_store(
    served: Served, oxigraph_engine: EngineServer
) -> None:
    oxigraph = oxigraph_engine
    settings = dataclasses.replace(served.settings, store_url=oxigraph.query_url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert isinstance(client.app.state.store, RemoteStore)  # type: ignore[attr-defined]
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["store"] == {
            "url": oxigraph.query_url,
            "reachable": True,
            "error": None,
        }
        assert client.get("/sparql", params={"query": COUNT}).status_code == 200
