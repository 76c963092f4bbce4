"""The named-query API, GET /api/queries/{name}, through the real app in process.

Two trees: the bundled project (ROOT/queries against the real data, built into a temporary dist/),
and a copy of the fixture tree with test queries that use every parameter type.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from conftest import copy_tree
from psm_kg.app import create_app
from psm_kg.build import build_dist
from psm_kg.config import Settings, load_settings
from psm_kg.named_queries import NamedQuery, ParameterType, load_named_queries
from psm_kg.query_workers import InProcessEvaluator, WorkerPool
from psm_kg.store import Store
from remote_backends import remote_store

pytestmark = pytest.mark.every_backend  # `client`: the embedded store and each engine

ROOT = Path(__file__).resolve().parents[1]
EDITION = "https://w3id.org/psm/milano/id/plan/psttm-2025-2027"
PILLAR = "https://w3id.org/psm/milano/id/pillar/2025-2027/sostenibilita"
PREFIXES = """PREFIX psm: <https://w3id.org/psm/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""

# Test queries: every parameter type, every query form, a list query and a fixed one.
TEST_QUERIES = {
    "find-pillars": f"""# summary: Pillars of an edition whose label contains a text
# description: A list query with an IRI of a class, a text and a choice.
# parameter: edition (IRI of psm:PlanEdition) default <{EDITION}>
#   The plan edition.
# parameter: text (text) default "i"
#   Letters the label contains, in any case.
# parameter: lang (one of it, en) default it
#   The language of the labels.
# tags: test, pillars
# example: text=sost
# expect: 1 rows
# example: lang=en
# expect: 2 rows
{PREFIXES}
SELECT ?edition ?text ?lang ?pillar ?label
WHERE {{
  ?pillar psm:pillarOf ?edition ; rdfs:label ?label .
  FILTER (lang(?label) = ?lang && CONTAINS(LCASE(STR(?label)), LCASE(STR(?text))))
}}
ORDER BY ?label
""",
    "compute-numbers": """# summary: Arithmetic on an integer and a date
# description: A SELECT whose answer shows the JSON mapping of numbers, booleans and dates.
# parameter: n (integer) default 41
#   A number.
# parameter: day (date) default 2025-02-03
#   A day.
# example: n=41
# expect: 1 rows
SELECT ?n ?day ?next ?half ?positive ?year
WHERE {
  BIND (?n + 1 AS ?next)
  BIND (?n / 2 AS ?half)
  BIND (?n > 0 AS ?positive)
  BIND (YEAR(?day) AS ?year)
}
""",
    "labels-of": f"""# summary: Every label of anything
# description: A list query with a plain IRI parameter, to page through.
# parameter: language (text) default "it"
#   The language of the labels.
# example: language=it
# expect: at least 3 rows
{PREFIXES}
SELECT ?thing ?label ?language
WHERE {{
  ?thing rdfs:label ?label .
  FILTER (lang(?label) = STR(?language))
}}
ORDER BY ?thing ?label
""",
    "is-pillar": f"""# summary: Whether an IRI is a pillar
# description: An ASK with a plain IRI parameter.
# parameter: thing (IRI) default <{PILLAR}>
#   Anything.
# example: thing=<{PILLAR}>
# expect: true
# example: thing=<{EDITION}>
# expect: false
{PREFIXES}
ASK {{ ?thing a psm:Pillar }}
""",
    "pillar-graph": f"""# summary: One pillar as a graph
# description: A CONSTRUCT with an IRI of a class.
# parameter: pillar (IRI of psm:Pillar) example <{PILLAR}>
#   The pillar.
# example: pillar=<{PILLAR}>
# expect: at least 3 triples
{PREFIXES}
CONSTRUCT {{ ?pillar ?p ?o }} WHERE {{ ?pillar a psm:Pillar ; ?p ?o }}
""",
}

INJECTIONS = [
    "'",
    '"',
    '" } ; DROP ALL #',
    "}",
    "} UNION { ?s ?p ?o }",
    'x" } UNION { ?s ?p ?o } #',
    "SERVICE <http://127.0.0.1:1/> { ?s ?p ?o }",
    "#",
    "a\nb",
    "a\r\nLIMIT 1",
    "\u202eevil",
    "\x00",
    f"{EDITION}> }} UNION {{ ?s ?p ?o",
    f"<{EDITION}>",
    "?s",
    "$edition",
]


def _write_queries(directory: Path) -> None:
    for name, text in TEST_QUERIES.items():
        (directory / f"{name}.rq").write_text(text, encoding="utf-8")


@dataclasses.dataclass(frozen=True)
class Served:
    settings: Settings
    store: Store
    queries: list[NamedQuery]


def _serve(root: Path, dist: Path | None = None) -> Served:
    settings = load_settings(env={}, root=root, dist_dir=dist)
    build_dist(settings)
    store = Store.from_dist(settings.dist_dir)
    queries, _problems = load_named_queries(root / "queries")
    return Served(settings, store, queries)


@pytest.fixture(scope="module")
def test_tree(tmp_path_factory: pytest.TempPathFactory) -> Served:
    root = copy_tree(tmp_path_factory.mktemp("api") / "tree")
    _write_queries(root / "queries")
    return _serve(root)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return _serve(ROOT, tmp_path_factory.mktemp("bundled") / "dist")


def _client(served: Served, **overrides: Any) -> Iterator[TestClient]:
    settings = dataclasses.replace(served.settings, **overrides)
    app = create_app(settings, served.store, InProcessEvaluator(served.store))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def client(test_tree: Served, backend: str, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """The app over the test tree, from the embedded store or from an engine holding it."""
    if backend == "embedded":
        yield from _client(test_tree)
        return
    engine = request.getfixturevalue(f"{backend}_engine")
    settings = test_tree.settings
    store = remote_store(engine, settings.dist_dir, settings.max_result_bytes)
    with TestClient(create_app(settings, store), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def bundled_client(bundled: Served) -> Iterator[TestClient]:
    yield from _client(bundled)


def _problem(response: httpx2.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"title", "detail"} <= set(body)
    return body


def _check_shape(query: NamedQuery, response: httpx2.Response) -> None:
    assert response.status_code == 200, response.text
    if query.form == "SELECT":
        rows = response.json()
        assert isinstance(rows, list)
        assert all(isinstance(row, dict) for row in rows)
        variables = {v.removeprefix("?") for v in re.findall(r"[?$]\w+", query.text)}
        assert all(set(row) <= variables for row in rows)
    elif query.form == "ASK":
        assert response.json() in (True, False)
    else:
        assert response.headers["content-type"].startswith("text/turtle")
        ox.parse(response.content, ox.RdfFormat.TURTLE)


# --- examples ----------------------------------------------------------------------------------


def _examples(queries: list[NamedQuery]) -> list[tuple[NamedQuery, dict[str, str]]]:
    return [(q, example.params) for q in queries for example in q.examples]


BUNDLED_QUERIES, _ = load_named_queries(ROOT / "queries")


@pytest.mark.parametrize(
    ("query", "params"),
    _examples(BUNDLED_QUERIES),
    ids=[f"{q.name}:{i}" for i, (q, _) in enumerate(_examples(BUNDLED_QUERIES))],
)
def test_every_bundled_query_answers_its_declared_examples(
    bundled_client: TestClient, query: NamedQuery, params: dict[str, str]
) -> None:
    _check_shape(query, bundled_client.get(f"/api/queries/{query.name}", params=params))


def test_every_bundled_query_file_has_a_route(bundled_client: TestClient) -> None:
    listed = {item["name"] for item in bundled_client.get("/api/queries").json()["queries"]}
    assert listed == {q.name for q in BUNDLED_QUERIES}


def test_every_test_query_answers_its_declared_examples(
    client: TestClient, test_tree: Served
) -> None:
    assert {q.name for q in test_tree.queries} >= set(TEST_QUERIES)
    for query, params in _examples(test_tree.queries):
        _check_shape(query, client.get(f"/api/queries/{query.name}", params=params))


def test_the_listing_names_every_query_with_its_url_and_typed_parameters(
    client: TestClient,
) -> None:
    response = client.get("/api/queries")
    assert response.status_code == 200
    queries = {item["name"]: item for item in response.json()["queries"]}
    assert set(TEST_QUERIES) <= set(queries)
    find = queries["find-pillars"]
    assert find["url"] == "/api/queries/find-pillars"
    assert find["summary"].startswith("Pillars of an edition")
    assert find["tags"] == ["test", "pillars"]
    assert find["paginated"] is True
    assert [(p["name"], p["type"]) for p in find["parameters"]] == [
        ("edition", "iri"),
        ("text", "text"),
        ("lang", "enum"),
    ]
    assert find["parameters"][0]["class"] == "https://w3id.org/psm/ontology#PlanEdition"
    assert queries["pillar-graph"]["parameters"][0]["required"] is True


# --- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "parameter", "expected"),
    [
        ("compute-numbers", {"n": "forty"}, "n", "integer"),
        ("compute-numbers", {"n": "1.5"}, "n", "integer"),
        ("compute-numbers", {"n": "99999999999999999999"}, "n", "integer"),
        ("compute-numbers", {"day": "2025-02-30"}, "day", "date"),
        ("compute-numbers", {"day": "yesterday"}, "day", "date"),
        ("find-pillars", {"lang": "fr"}, "lang", "one of"),
        ("find-pillars", {"edition": "not an IRI"}, "edition", "IRI"),
        ("find-pillars", {"edition": PILLAR}, "edition", "IRI"),
        ("find-pillars", {"text": "a\x01b"}, "text", "text"),
        ("is-pillar", {"thing": "relative/iri"}, "thing", "IRI"),
        ("pillar-graph", {}, "pillar", "IRI"),
    ],
    ids=[
        "integer word",
        "integer decimal",
        "integer too large",
        "date impossible",
        "date word",
        "enum unknown",
        "iri malformed",
        "iri of another class",
        "text control character",
        "iri relative",
        "required missing",
    ],
)
def test_a_wrong_value_is_400_naming_the_parameter_and_its_type(
    client: TestClient, name: str, params: dict[str, str], parameter: str, expected: str
) -> None:
    body = _problem(client.get(f"/api/queries/{name}", params=params), 400)
    assert body["parameter"] == parameter
    assert parameter in body["detail"]
    assert expected.lower() in (body["detail"] + " " + body["expected"]).lower()


def test_an_iri_of_a_class_must_be_an_instance_in_the_data(client: TestClient) -> None:
    body = _problem(client.get("/api/queries/pillar-graph", params={"pillar": EDITION}), 400)
    assert body["parameter"] == "pillar"
    assert "Pillar" in body["detail"]
    ok = client.get("/api/queries/pillar-graph", params={"pillar": PILLAR})
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("query_string", "parameter"),
    [
        ("nope=1", "nope"),
        ("text=a&text=b", "text"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        ("limit=1e3", "limit"),
    ],
)
def test_unknown_repeated_or_out_of_range_parameters_are_400(
    client: TestClient, query_string: str, parameter: str
) -> None:
    body = _problem(client.get(f"/api/queries/find-pillars?{query_string}"), 400)
    assert body["parameter"] == parameter


def test_a_fixed_query_takes_no_paging_parameters(client: TestClient) -> None:
    body = _problem(client.get("/api/queries/is-pillar", params={"limit": "5"}), 400)
    assert body["parameter"] == "limit"


def test_values_are_bound_as_typed_terms_and_mapped_to_json(
    client: TestClient, backend: str
) -> None:
    params = {"n": "41", "day": "2024-02-29"}
    rows = client.get("/api/queries/compute-numbers", params=params).json()
    # Virtuoso 7 divides integers as integers (SPARQL 1.1's op:numeric-divide gives a decimal)
    half = 20 if backend == "virtuoso" else 20.5
    assert rows == [
        {"n": 41, "day": "2024-02-29", "next": 42, "half": half, "positive": True, "year": 2024}
    ]
    srj = client.get("/api/queries/compute-numbers", params={"n": "-3", "format": "srj"}).json()
    (row,) = srj["results"]["bindings"]
    assert row["n"] == {
        "type": "literal",
        "value": "-3",
        "datatype": "http://www.w3.org/2001/XMLSchema#integer",
    }
    # Virtuoso 7 answers xsd:boolean values as the xsd:integer 0 or 1
    assert row["positive"]["value"] == ("0" if backend == "virtuoso" else "false")


def _served_parameters(served: Served) -> list[tuple[str, str, str]]:
    return [
        (q.name, p.name, p.type.value)
        for q in served.queries
        for p in q.parameters
        if p.type is not ParameterType.ENUM
    ]


def _assert_stays_data(
    client: TestClient, served: Served, name: str, parameter: str, kind: str, payload: str
) -> None:
    query = next(q for q in served.queries if q.name == name)
    params = {p.name: (p.example or p.default or "") for p in query.parameters}
    params = {k: v for k, v in params.items() if v}
    params[parameter] = payload
    response = client.get(f"/api/queries/{name}", params=params)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["parameter"] == parameter
        return
    # Accepted: then the value is a term of the answer, exactly as sent; nothing else changed.
    if kind == "iri" and payload.startswith("<") and payload.endswith(">"):
        payload = payload[1:-1]  # the IRI as written in SPARQL: accepted, and the same IRI
    if query.form == "SELECT":
        rows = response.json()
        assert all(row[parameter] == payload for row in rows), rows[:3]
    elif query.form == "ASK":
        assert response.json() is False
    elif kind == "iri":
        same = client.get(f"/api/queries/{name}", params={**params, parameter: payload})
        assert response.content == same.content
    else:
        graph = ox.parse(response.content, ox.RdfFormat.TURTLE)
        assert all(payload not in str(triple.subject) for triple in graph)


@pytest.mark.parametrize("payload", INJECTIONS, ids=[repr(p)[1:-1][:30] for p in INJECTIONS])
def test_injection_attempts_in_every_test_parameter_stay_data(
    client: TestClient, test_tree: Served, payload: str
) -> None:
    for name, parameter, kind in _served_parameters(test_tree):
        _assert_stays_data(client, test_tree, name, parameter, kind, payload)


@pytest.mark.parametrize("payload", INJECTIONS, ids=[repr(p)[1:-1][:30] for p in INJECTIONS])
def test_injection_attempts_in_every_bundled_parameter_stay_data(
    bundled_client: TestClient, bundled: Served, payload: str
) -> None:
    for name, parameter, kind in _served_parameters(bundled):
        _assert_stays_data(bundled_client, bundled, name, parameter, kind, payload)


def test_a_text_that_looks_like_sparql_matches_only_as_text(client: TestClient) -> None:
    everything = client.get("/api/queries/find-pillars", params={"text": ""}).json()
    assert len(everything) == 2
    for payload in ('i") || true || ("', "i' || true || '"):
        assert client.get("/api/queries/find-pillars", params={"text": payload}).json() == []


# --- pagination --------------------------------------------------------------------------------


def _links(response: httpx2.Response) -> dict[str, str]:
    return {
        rel: url for url, rel in re.findall(r'<([^>]*)>;\s*rel="(\w+)"', response.headers["link"])
    }


def test_pages_follow_the_next_links_to_the_end_and_give_every_row_once(
    client: TestClient,
) -> None:
    whole = client.get("/api/queries/labels-of", params={"language": "en", "limit": "1000"})
    everything = whole.json()
    assert len(everything) >= 4
    assert "next" not in _links(whole)

    response = client.get("/api/queries/labels-of", params={"language": "en", "limit": "2"})
    pages = [response]
    while "next" in _links(response):
        response = client.get(_links(response)["next"])
        assert response.status_code == 200
        pages.append(response)
    rows = [row for page in pages for row in page.json()]
    assert rows == everything
    assert all(len(page.json()) == 2 for page in pages[:-1])
    for page in pages:
        links = _links(page)
        assert "language=en" in links["first"]
        assert "offset=0" in links["first"]
    assert "prev" not in _links(pages[0])
    assert all("prev" in _links(page) for page in pages[1:])
    previous = client.get(_links(pages[1])["prev"])
    assert previous.json() == pages[0].json()


def test_a_page_past_the_end_is_empty_with_no_next(client: TestClient, backend: str) -> None:
    response = client.get("/api/queries/labels-of", params={"offset": "100000"})
    if backend == "virtuoso":  # it sorts at most 10,000 rows past an offset, and says so
        problem = _problem(response, 400)
        assert problem["title"] == "Query refused by the store"
        assert "decrease the offset" in problem["detail"]
        return
    assert response.status_code == 200
    assert response.json() == []
    assert "next" not in _links(response)


def test_the_csv_page_has_the_same_links_as_the_json_page(client: TestClient) -> None:
    response = client.get("/api/queries/labels-of", params={"limit": "1", "format": "csv"})
    assert "format=csv" in _links(response)["next"]


# --- formats -----------------------------------------------------------------------------------


def test_csv_tsv_and_json_answers_parse_to_the_same_rows(client: TestClient) -> None:
    url = "/api/queries/find-pillars"
    rows = client.get(url).json()
    assert len(rows) == 2

    csv_answer = client.get(url, headers={"accept": "text/csv"})
    assert csv_answer.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(csv_answer.text, newline="")))
    assert table[0] == ["edition", "text", "lang", "pillar", "label"]
    assert [dict(zip(table[0], line, strict=True)) for line in table[1:]] == rows

    tsv = client.get(url, params={"format": "tsv"})
    assert tsv.headers["content-type"].startswith("text/tab-separated-values")
    lines = tsv.text.splitlines()
    assert lines[0] == "?edition\t?text\t?lang\t?pillar\t?label"
    assert lines[1].split("\t")[0] == f"<{EDITION}>"
    assert lines[1].split("\t")[2] == '"it"'
    assert len(lines) == 3

    srj = client.get(url, headers={"accept": "application/sparql-results+json"})
    assert srj.headers["content-type"].startswith("application/sparql-results+json")
    document = srj.json()
    assert document["head"]["vars"] == ["edition", "text", "lang", "pillar", "label"]
    assert [b["label"]["value"] for b in document["results"]["bindings"]] == [
        r["label"] for r in rows
    ]


def test_ask_answers_a_json_boolean_or_sparql_json(client: TestClient) -> None:
    assert client.get("/api/queries/is-pillar").json() is True
    assert client.get("/api/queries/is-pillar", params={"thing": EDITION}).json() is False
    srj = client.get("/api/queries/is-pillar", params={"format": "srj"})
    assert srj.json()["boolean"] is True


def test_construct_answers_in_the_rdf_formats(client: TestClient) -> None:
    params = {"pillar": PILLAR}
    turtle = client.get("/api/queries/pillar-graph", params=params)
    assert turtle.headers["content-type"].startswith("text/turtle")
    triples = ox.parse(turtle.content, ox.RdfFormat.TURTLE)
    assert all(t.subject == ox.NamedNode(PILLAR) for t in triples)
    nt = client.get("/api/queries/pillar-graph", params={**params, "format": "nt"})
    assert nt.headers["content-type"].startswith("application/n-triples")
    assert set(ox.parse(nt.content, ox.RdfFormat.N_TRIPLES)) == set(
        ox.parse(turtle.content, ox.RdfFormat.TURTLE)
    )
    jsonld = client.get(
        "/api/queries/pillar-graph", params=params, headers={"accept": "application/ld+json"}
    )
    assert jsonld.headers["content-type"].startswith("application/ld+json")


@pytest.mark.parametrize(
    ("name", "params", "accept"),
    [
        ("find-pillars", {}, "image/png"),
        ("find-pillars", {"format": "ttl"}, None),
        ("is-pillar", {}, "text/csv"),
        ("pillar-graph", {"pillar": PILLAR}, "application/json"),
    ],
    ids=["select image", "select as turtle", "ask as csv", "construct as json"],
)
def test_no_acceptable_format_is_406(
    client: TestClient, name: str, params: dict[str, str], accept: str | None
) -> None:
    headers = {"accept": accept} if accept else {}
    body = _problem(client.get(f"/api/queries/{name}", params=params, headers=headers), 406)
    assert body["available"]


def test_an_unknown_query_name_is_404_in_the_error_shape(client: TestClient) -> None:
    body = _problem(client.get("/api/queries/no-such-query"), 404)
    assert "no-such-query" in body["detail"]
    assert "find-pillars" in body["available"]
    assert client.head("/api/queries/no-such-query").status_code == 404


# --- caching -----------------------------------------------------------------------------------


def test_etag_and_if_none_match_give_304_without_a_body(client: TestClient) -> None:
    url = "/api/queries/find-pillars"
    first = client.get(url, params={"lang": "en"})
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert first.headers["cache-control"].startswith("public, max-age=")
    assert "Accept" in first.headers["vary"]
    again = client.get(url, params={"lang": "en"}, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    others = {
        client.get(url, params={"lang": "it"}).headers["etag"],
        client.get(url, params={"lang": "en", "format": "csv"}).headers["etag"],
        client.get(url, params={"lang": "en", "limit": "1"}).headers["etag"],
        client.get(url, params={"lang": "en", "offset": "1"}).headers["etag"],
    }
    assert etag not in others
    assert len(others) == 4


def test_a_repeated_request_comes_from_the_result_cache(client: TestClient) -> None:
    def hits() -> int:
        metrics = client.get("/metrics").text
        found = re.search(r"^psm_kg_sparql_result_cache_hits_total (\d+)", metrics, re.M)
        return int(found.group(1)) if found else 0

    params = {"text": "nov"}
    first = client.get("/api/queries/find-pillars", params=params)
    before = hits()
    # Another format of the same evaluation: the worker's answer is reused.
    second = client.get("/api/queries/find-pillars", params={**params, "format": "csv"})
    assert hits() == before + 1
    assert first.json()[0]["label"] in second.text


def test_head_answers_the_headers_of_get_without_a_body(client: TestClient) -> None:
    get = client.get("/api/queries/find-pillars")
    head = client.head("/api/queries/find-pillars")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["link"] == get.headers["link"]


def test_head_on_the_listing_answers_its_headers_without_a_body(client: TestClient) -> None:
    get = client.get("/api/queries")
    head = client.head("/api/queries")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]


def test_a_query_past_its_timeout_is_503_with_retry_after(test_tree: Served) -> None:
    for client in _client(test_tree, query_timeout_s=1e-9, result_cache_bytes=0):
        response = client.get("/api/queries/labels-of")
        body = _problem(response, 503)
        assert response.headers["retry-after"] == "1"
        assert body["title"] == "Query timed out"


def test_worker_processes_bind_the_parameters_too(test_tree: Served) -> None:
    pool = WorkerPool.for_store(test_tree.store, 1)
    try:
        app = create_app(test_tree.settings, test_tree.store, pool)
        with TestClient(app, raise_server_exceptions=False) as client:
            rows = client.get("/api/queries/find-pillars", params={"text": "sost"}).json()
            assert [row["label"] for row in rows] == ["Sostenibilità"]
            assert rows[0]["edition"] == EDITION
    finally:
        pool.close()


# --- robustness, documents, observability -------------------------------------------------------


def test_a_broken_query_file_leaves_the_other_routes_working(
    test_tree: Served, tmp_path: Path
) -> None:
    root = tmp_path / "tree"
    shutil.copytree(test_tree.settings.root, root, ignore=shutil.ignore_patterns("dist"))
    (root / "queries" / "broken.rq").write_text(
        "# summary: Broken\n# description: Not SPARQL.\nSELECT ?x WHERE {\n", encoding="utf-8"
    )
    (root / "queries" / "bad-header.rq").write_text(
        "# summary: Bad\n# description: A bad parameter.\n# parameter: x (colour)\n#   What.\n"
        "SELECT ?x WHERE { ?x ?p ?o }\n",
        encoding="utf-8",
    )
    (root / "queries" / "not-utf8.rq").write_bytes(b"# summary: \xff\n")
    settings = dataclasses.replace(test_tree.settings, root=root)
    app = create_app(settings, test_tree.store, InProcessEvaluator(test_tree.store))
    with TestClient(app, raise_server_exceptions=False) as client:
        listed = {item["name"] for item in client.get("/api/queries").json()["queries"]}
        assert set(TEST_QUERIES) <= listed
        assert not {"broken", "bad-header", "not-utf8"} & listed
        assert client.get("/api/queries/find-pillars").status_code == 200
        _problem(client.get("/api/queries/broken"), 404)
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/sparql", params={"query": "ASK {}"}).status_code == 200


def test_the_openapi_document_types_each_parameter(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert "/sparql" in document["paths"]
    assert "/api/queries" in document["paths"]
    find = document["paths"]["/api/queries/find-pillars"]["get"]
    assert find["summary"] == "Pillars of an edition whose label contains a text"
    assert find["tags"] == ["test", "pillars"]
    schemas = {p["name"]: p["schema"] for p in find["parameters"]}
    assert schemas["edition"]["format"] == "iri"
    assert schemas["edition"]["enum"] == [EDITION]
    assert schemas["edition"]["default"] == EDITION
    assert schemas["text"]["type"] == "string"
    assert schemas["text"]["default"] == "i"
    assert schemas["text"]["maxLength"] == 200
    assert re.fullmatch(schemas["text"]["pattern"], "mobilità urbana")
    assert not re.fullmatch(schemas["text"]["pattern"], "a\x00b")
    assert not re.fullmatch(schemas["text"]["pattern"], "   ")
    assert schemas["lang"]["enum"] == ["it", "en"]
    assert schemas["limit"]["maximum"] == 1000
    assert schemas["offset"]["minimum"] == 0
    numbers = {
        p["name"]: p["schema"]
        for p in document["paths"]["/api/queries/compute-numbers"]["get"]["parameters"]
    }
    assert numbers["n"]["type"] == "integer"
    assert numbers["n"]["maximum"] == 10**9
    assert numbers["n"]["default"] == 41
    assert numbers["day"] == {"type": "string", "format": "date", "default": "2025-02-03"}
    thing = next(
        p
        for p in document["paths"]["/api/queries/is-pillar"]["get"]["parameters"]
        if p["name"] == "thing"
    )
    assert re.fullmatch(thing["schema"]["pattern"], PILLAR)
    assert re.fullmatch(thing["schema"]["pattern"], "urn:isbn:978-88")
    for bad in (f"<{PILLAR}>", "ftp://x/y", "https://a/b c", "https://a/\u202e"):
        assert not re.fullmatch(thing["schema"]["pattern"], bad), bad
    graph = document["paths"]["/api/queries/pillar-graph"]["get"]
    pillar = next(p for p in graph["parameters"] if p["name"] == "pillar")
    assert pillar["required"] is True
    assert len(pillar["schema"]["enum"]) == 2
    assert "limit" not in {p["name"] for p in graph["parameters"]}
    assert "text/turtle" in graph["responses"]["200"]["content"]
    assert "/api/queries/{name}" not in document["paths"]


def test_docs_is_swagger_ui_served_from_this_server(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls, page.text
    assert all(url.startswith("/") for url in urls), urls
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert "/openapi.json" in page.text
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert "immutable" in asset.headers["cache-control"]
    _problem(client.get("/docs/swagger-ui/../../app.py"), 404)


def test_api_requests_are_counted_and_logged_under_their_route(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="psm_kg.access"):
        client.get("/api/queries/find-pillars", params={"lang": "en"})
        client.get("/api/queries/no-such")
    metrics = client.get("/metrics").text
    assert 'route="/api/queries/find-pillars",status="200"' in metrics
    assert 'route="/api/queries/{name}",status="404"' in metrics
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "psm_kg.access"]
    find = next(line for line in lines if line["path"] == "/api/queries/find-pillars")
    assert find["route"] == "/api/queries/find-pillars"
    assert find["cache"] in ("hit", "miss")
    assert find["query_ms"] is not None
