"""SPARQL 1.1 Protocol details of /sparql: the dataset parameters, the format parameter, HEAD and
OPTIONS, CORS, the Service Description, HTTP caching, the result cache and cap, and SERVICE.

Through the real app and real query workers (create_app over the built fixture tree).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import rdflib
from rdflib.compare import isomorphic
from starlette.testclient import TestClient

from live_server import free_port
from psm_kg.app import create_app
from psm_kg.config import Settings
from psm_kg.query_workers import Answer, QueryJob, WorkerPool
from psm_kg.store import Store

pytestmark = pytest.mark.every_backend  # `client`: the embedded store and each engine

GRAPH = "https://w3id.org/psm/milano/graph/"
PLAN, TERRITORY = GRAPH + "plan", GRAPH + "territory"
COUNT = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
GRAPHS = "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g"
RESULTS_JSON = "application/sparql-results+json"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")


def count(response: object) -> int:
    bindings = response.json()["results"]["bindings"]  # type: ignore[attr-defined]
    return int(bindings[0]["n"]["value"])


def graph_names(response: object) -> list[str]:
    return [row["g"]["value"] for row in response.json()["results"]["bindings"]]  # type: ignore[attr-defined]


@pytest.fixture
def app_with(built_settings: Settings, store: Store, query_pool: WorkerPool) -> Iterator[object]:
    """Make a client for the built tree with some settings changed."""
    clients: list[TestClient] = []

    def make(**changes: object) -> TestClient:
        settings = dataclasses.replace(built_settings, **changes)  # type: ignore[arg-type]
        client = TestClient(create_app(settings, store, query_pool), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


# --- the dataset: default-graph-uri, named-graph-uri, FROM ---------------------------------------


def test_default_graph_uri_makes_that_graph_the_default_graph(
    client: TestClient, store: Store
) -> None:
    response = client.get("/sparql", params={"query": COUNT, "default-graph-uri": PLAN})
    assert response.status_code == 200
    assert count(response) == store.graph_sizes()[PLAN]


def test_several_default_graph_uris_merge_their_graphs(client: TestClient, store: Store) -> None:
    response = client.get(
        "/sparql", params={"query": COUNT, "default-graph-uri": [PLAN, TERRITORY]}
    )
    sizes = store.graph_sizes()
    assert count(response) == sizes[PLAN] + sizes[TERRITORY]


def test_named_graph_uri_limits_the_named_graphs_and_empties_the_default_graph(
    client: TestClient,
) -> None:
    named = client.post("/sparql", data={"query": GRAPHS, "named-graph-uri": TERRITORY})
    assert graph_names(named) == [TERRITORY]
    default = client.post("/sparql", data={"query": COUNT, "named-graph-uri": TERRITORY})
    assert count(default) == 0


def test_dataset_parameters_travel_in_the_url_of_a_query_body(
    client: TestClient, store: Store
) -> None:
    response = client.post(
        "/sparql",
        params={"default-graph-uri": TERRITORY},
        content=COUNT,
        headers={"content-type": "application/sparql-query"},
    )
    assert count(response) == store.graph_sizes()[TERRITORY]


def test_protocol_dataset_overrides_from_in_the_query(client: TestClient, store: Store) -> None:
    query = f"SELECT (COUNT(*) AS ?n) FROM <{PLAN}> {{ ?s ?p ?o }}"
    response = client.get("/sparql", params={"query": query, "default-graph-uri": TERRITORY})
    assert count(response) == store.graph_sizes()[TERRITORY]


def test_from_in_the_query_sets_the_default_graph(client: TestClient, store: Store) -> None:
    query = f"SELECT (COUNT(*) AS ?n) FROM <{PLAN}> {{ ?s ?p ?o }}"
    assert count(client.get("/sparql", params={"query": query})) == store.graph_sizes()[PLAN]


def test_without_a_dataset_the_default_graph_is_the_union(client: TestClient, store: Store) -> None:
    assert count(client.get("/sparql", params={"query": COUNT})) == store.union_size()


@pytest.mark.parametrize("iri", ["plan", "http://bad iri/", ""], ids=["relative", "space", "empty"])
def test_a_graph_uri_that_is_not_an_absolute_iri_answers_400(client: TestClient, iri: str) -> None:
    response = client.get("/sparql", params={"query": COUNT, "named-graph-uri": iri})
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid dataset"
    assert "named-graph-uri" in response.json()["detail"]


def test_the_etag_depends_on_the_dataset(client: TestClient) -> None:
    union = client.get("/sparql", params={"query": COUNT})
    plan = client.get("/sparql", params={"query": COUNT, "default-graph-uri": PLAN})
    assert union.headers["etag"] != plan.headers["etag"]


def test_a_query_cannot_make_the_server_read_a_file_or_fetch_a_url(
    client: TestClient, backend: str
) -> None:
    """FROM and GRAPH name graphs of the dataset; nothing is loaded from where they point."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/data.ttl"
        counted_graph = f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{url}> {{ ?s ?p ?o }} }}"
        for query in (
            f"SELECT (COUNT(*) AS ?n) FROM <{url}> {{ ?s ?p ?o }}",
            "SELECT (COUNT(*) AS ?n) FROM <file:///etc/passwd> { ?s ?p ?o }",
            counted_graph,
        ):
            expected = 0
            if (backend, query) == ("virtuoso", counted_graph):
                expected = 1  # Virtuoso 7 counts one solution where SELECT * (below) has none
            assert count(client.get("/sparql", params={"query": query})) == expected, query
        rows = client.get(
            "/sparql", params={"query": f"SELECT * {{ GRAPH <{url}> {{ ?s ?p ?o }} }}"}
        )
        assert rows.json()["results"]["bindings"] == []
        for update in (f"LOAD <{url}>", "LOAD <file:///etc/passwd>"):
            assert client.get("/sparql", params={"query": update}).status_code == 400
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody connected


# --- the format parameter ------------------------------------------------------------------------

SELECT = "SELECT ?s { ?s a <https://w3id.org/psm/ontology#Pillar> }"
CONSTRUCT = "CONSTRUCT WHERE { ?s a <https://w3id.org/psm/ontology#Pillar> }"
FORMAT_TABLE = [
    (SELECT, "json", RESULTS_JSON),
    (SELECT, "xml", "application/sparql-results+xml"),
    (SELECT, "csv", "text/csv; charset=utf-8"),
    (SELECT, "tsv", "text/tab-separated-values; charset=utf-8"),
    (SELECT, "application/sparql-results+xml", "application/sparql-results+xml"),
    (SELECT, "application/json", RESULTS_JSON),
    (CONSTRUCT, "json", "application/ld+json"),
    (CONSTRUCT, "xml", "application/rdf+xml"),
    (CONSTRUCT, "ttl", "text/turtle; charset=utf-8"),
    (CONSTRUCT, "nt", "application/n-triples"),
    (CONSTRUCT, "nq", "application/n-quads"),
    (CONSTRUCT, "TriG", "application/trig"),
    (CONSTRUCT, "text/turtle", "text/turtle; charset=utf-8"),
]


@pytest.mark.parametrize(
    ("query", "name", "media_type"),
    FORMAT_TABLE,
    ids=[f"{q.split()[0]} {name}" for q, name, _ in FORMAT_TABLE],
)
def test_the_format_parameter_overrides_accept(
    client: TestClient, query: str, name: str, media_type: str
) -> None:
    response = client.get(
        "/sparql", params={"query": query, "format": name}, headers={"accept": "image/png"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type


def test_output_is_an_alias_of_format(client: TestClient) -> None:
    response = client.post("/sparql", data={"query": SELECT, "output": "csv"})
    assert response.headers["content-type"].startswith("text/csv")


def test_a_format_that_names_no_format_leaves_the_choice_to_accept(client: TestClient) -> None:
    response = client.get(
        "/sparql", params={"query": SELECT, "format": "yaml"}, headers={"accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")


def test_the_format_parameters_sparqlwrapper_sends_are_understood(client: TestClient) -> None:
    """SPARQLWrapper sends format, output and results, in its own spellings, beside Accept."""
    for query, values, media_type in [
        (SELECT, {"format": ["tsv", "text/tab-separated-values"], "output": "tsv"}, "text/tab"),
        (
            CONSTRUCT,
            {"format": "rdf+xml", "output": "rdf+xml", "results": "rdf+xml"},
            "application/rdf",
        ),
        (CONSTRUCT, {"format": "application/ld+json,application/x-json+ld"}, "application/ld+json"),
        (CONSTRUCT, {"format": "n3"}, "text/turtle"),
    ]:
        response = client.get("/sparql", params={"query": query, **values})
        assert response.status_code == 200, values
        assert response.headers["content-type"].startswith(media_type), values


def test_a_format_of_the_wrong_kind_answers_406(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": CONSTRUCT, "format": "csv"})
    assert response.status_code == 406
    assert "text/turtle" in response.json()["available"]


def test_of_several_formats_the_first_that_fits_the_result_wins(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": CONSTRUCT, "format": ["csv", "nt", "ttl"]})
    assert response.headers["content-type"] == "application/n-triples"


# --- HEAD and OPTIONS ----------------------------------------------------------------------------


def test_head_answers_the_headers_of_get_without_a_body(client: TestClient) -> None:
    got = client.get("/sparql", params={"query": SELECT})
    head = client.head("/sparql", params={"query": SELECT})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    for name in ("content-type", "etag", "cache-control", "vary"):
        assert head.headers[name] == got.headers[name]


def test_head_honours_if_none_match(client: TestClient) -> None:
    etag = client.get("/sparql", params={"query": SELECT}).headers["etag"]
    head = client.head("/sparql", params={"query": SELECT}, headers={"if-none-match": etag})
    assert head.status_code == 304


def test_options_lists_the_allowed_methods(client: TestClient) -> None:
    response = client.options("/sparql")
    assert response.status_code == 204
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {
        "GET",
        "HEAD",
        "POST",
        "OPTIONS",
    }


# --- CORS ----------------------------------------------------------------------------------------


def test_reads_are_open_to_any_origin_without_credentials(client: TestClient) -> None:
    response = client.get(
        "/sparql", params={"query": SELECT}, headers={"origin": "https://example.org"}
    )
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    assert "ETag" in response.headers["access-control-expose-headers"]


def test_a_cors_preflight_for_a_post_query_is_answered(client: TestClient) -> None:
    response = client.options(
        "/sparql",
        headers={
            "origin": "https://example.org",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]


def test_cors_can_be_limited_to_configured_origins(app_with) -> None:  # type: ignore[no-untyped-def]
    client = app_with(cors_origins=("https://portal.example",))
    allowed = client.get(
        "/sparql", params={"query": SELECT}, headers={"origin": "https://portal.example"}
    )
    other = client.get(
        "/sparql", params={"query": SELECT}, headers={"origin": "https://evil.example"}
    )
    assert allowed.headers["access-control-allow-origin"] == "https://portal.example"
    assert "access-control-allow-origin" not in other.headers


def test_cors_can_be_turned_off(app_with) -> None:  # type: ignore[no-untyped-def]
    client = app_with(cors_origins=())
    response = client.get("/sparql", params={"query": SELECT}, headers={"origin": "https://x.org"})
    assert "access-control-allow-origin" not in response.headers


# --- Service Description -------------------------------------------------------------------------


def service_description(client: TestClient, accept: str = "text/turtle") -> rdflib.Graph:
    response = client.get("/sparql", headers={"accept": accept})
    assert response.status_code == 200
    graph = rdflib.Graph()
    rdf_format = {"text/turtle": "turtle", "application/ld+json": "json-ld"}.get(accept, "xml")
    graph.parse(data=response.content, format=rdf_format)
    return graph


def test_the_service_description_says_what_the_endpoint_supports(
    client: TestClient, store: Store
) -> None:
    graph = service_description(client)
    (service,) = graph.subjects(rdflib.RDF.type, SD.Service)
    assert graph.value(service, SD.endpoint) == rdflib.URIRef("http://testserver/sparql")
    assert set(graph.objects(service, SD.supportedLanguage)) == {SD.SPARQL11Query}
    assert set(graph.objects(service, SD.feature)) == {SD.UnionDefaultGraph}
    formats = rdflib.Namespace("http://www.w3.org/ns/formats/")
    assert set(graph.objects(service, SD.resultFormat)) == {
        formats[name]
        for name in (
            "SPARQL_Results_JSON",
            "SPARQL_Results_XML",
            "SPARQL_Results_CSV",
            "SPARQL_Results_TSV",
            "Turtle",
            "N-Triples",
            "JSON-LD",
            "RDF_XML",
            "N-Quads",
            "TriG",
        )
    }
    dataset = graph.value(service, SD.defaultDataset)
    default_graph = graph.value(dataset, SD.defaultGraph)
    assert graph.value(default_graph, VOID.triples).toPython() == store.union_size()
    counts = {
        str(graph.value(named, SD.name)): graph.value(graph.value(named, SD.graph), VOID.triples)
        for named in graph.objects(dataset, SD.namedGraph)
    }
    assert {name: int(n) for name, n in counts.items()} == store.graph_sizes()


# rdflib's JSON-LD parser builds a ConjunctiveGraph internally and warns about it.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_the_service_description_is_the_same_graph_in_every_rdf_format(client: TestClient) -> None:
    turtle = service_description(client)
    for accept in ("application/ld+json", "application/rdf+xml"):
        assert isomorphic(service_description(client, accept), turtle), accept


def test_a_client_with_no_preference_gets_the_service_description_in_turtle(
    client: TestClient,
) -> None:
    response = client.get("/sparql", headers={"accept": "*/*"})
    assert response.headers["content-type"].startswith("text/turtle")


def test_federation_is_described_only_when_an_endpoint_is_allowed(app_with) -> None:  # type: ignore[no-untyped-def]
    client = app_with(service_allowlist=("http://127.0.0.1:9/",))
    graph = service_description(client)
    assert SD.BasicFederatedQuery in set(graph.objects(None, SD.feature))


def test_a_browser_gets_the_query_editor(client: TestClient) -> None:
    response = client.get("/sparql", headers={"accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    with_query = client.get("/sparql", params={"query": SELECT}, headers={"accept": BROWSER_ACCEPT})
    assert with_query.headers["content-type"].startswith("text/html")


# --- HTTP caching and the result cache ----------------------------------------------------------


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"other", {etag}', "*"],
    ids=["strong", "weak", "in a list", "star"],
)
def test_a_matching_if_none_match_answers_304(client: TestClient, if_none_match: str) -> None:
    etag = client.get("/sparql", params={"query": SELECT}).headers["etag"]
    response = client.get(
        "/sparql",
        params={"query": SELECT},
        headers={"if-none-match": if_none_match.format(etag=etag)},
    )
    assert response.status_code == 304
    assert response.headers["etag"] == etag
    assert response.content == b""


def test_answers_are_cacheable_for_the_configured_time(app_with) -> None:  # type: ignore[no-untyped-def]
    client = app_with(cache_max_age_s=60)
    response = client.get("/sparql", params={"query": SELECT})
    assert response.headers["cache-control"] == "public, max-age=60"


class CountingEvaluator:
    """The real worker pool, counting the jobs that reach it."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.jobs = 0
        self.lock = threading.Lock()

    def evaluate(self, job: QueryJob) -> Answer:
        with self.lock:
            self.jobs += 1
        return self.pool.evaluate(job)

    async def evaluate_async(self, job: QueryJob) -> Answer:
        with self.lock:
            self.jobs += 1
        return await self.pool.evaluate_async(job)

    def close(self) -> None:
        pass


def test_a_repeated_query_is_answered_from_the_result_cache(
    built_settings: Settings, store: Store, query_pool: WorkerPool
) -> None:
    evaluator = CountingEvaluator(query_pool)
    with TestClient(create_app(built_settings, store, evaluator)) as client:
        first = client.get("/sparql", params={"query": SELECT})
        again = client.post("/sparql", data={"query": SELECT})
        other_format = client.get("/sparql", params={"query": SELECT, "format": "xml"})
    assert evaluator.jobs == 2  # the JSON answer once, the XML one once
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert other_format.headers["etag"] != first.headers["etag"]


def test_the_result_cache_can_be_turned_off(
    built_settings: Settings, store: Store, query_pool: WorkerPool
) -> None:
    evaluator = CountingEvaluator(query_pool)
    settings = dataclasses.replace(built_settings, result_cache_bytes=0)
    with TestClient(create_app(settings, store, evaluator)) as client:
        for _ in range(3):
            client.get("/sparql", params={"query": SELECT})
    assert evaluator.jobs == 3


def test_a_result_over_the_cap_answers_422_with_a_hint_to_page(app_with) -> None:  # type: ignore[no-untyped-def]
    client = app_with(max_result_bytes=500)
    response = client.get("/sparql", params={"query": "SELECT * { ?s ?p ?o }"})
    assert response.status_code == 422
    assert response.json()["max_result_bytes"] == 500
    assert "LIMIT" in response.json()["detail"]
    assert (
        client.get("/sparql", params={"query": "SELECT * { ?s ?p ?o } LIMIT 1"}).status_code == 200
    )


# --- SERVICE --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * { SERVICE <http://other.example/sparql> { ?s ?p ?o } }",
        "SELECT * { SERVICE ?endpoint { ?s ?p ?o } VALUES ?endpoint { <http://127.0.0.1:9/> } }",
        "PREFIX ep: <http://127.0.0.2/> SELECT * { SERVICE ep:sparql { ?s ?p ?o } }",
    ],
    ids=["not on the list", "a variable", "a prefixed name off the list"],
)
def test_service_is_refused_unless_its_endpoint_is_allowed(app_with, query: str) -> None:  # type: ignore[no-untyped-def]
    client = app_with(service_allowlist=("http://127.0.0.1:9/",))
    response = client.get("/sparql", params={"query": query})
    assert response.status_code == 400
    assert response.json()["title"] == "SERVICE is not allowed"


@pytest.fixture(scope="module")
def oxigraph_server() -> Iterator[str]:
    """A real Oxigraph server on loopback holding one triple: an endpoint to federate with."""
    binary = Path(sys.executable).parent / "oxigraph"
    if not binary.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("the oxigraph server is missing: make installs it (pip install oxigraph)")
        pytest.skip("the oxigraph server is missing: run `make test` or pip install oxigraph")
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "serve", "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                loaded = httpx.post(
                    f"{base}/store?default",
                    content=b'<http://remote.example/s> <http://remote.example/p> "remote" .',
                    headers={"content-type": "application/n-triples"},
                    timeout=1.0,
                )
                if loaded.is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the oxigraph server did not start"
            time.sleep(0.05)
        yield f"{base}/query"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_service_federates_with_an_allowed_endpoint(app_with, oxigraph_server: str) -> None:  # type: ignore[no-untyped-def]
    client = app_with(service_allowlist=(oxigraph_server,))
    query = f"SELECT ?o {{ SERVICE <{oxigraph_server}> {{ ?s ?p ?o }} }}"
    response = client.get("/sparql", params={"query": query})
    assert response.status_code == 200
    assert [row["o"]["value"] for row in response.json()["results"]["bindings"]] == ["remote"]
