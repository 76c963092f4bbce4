"""RemoteStore: SEP-0007 substitution on the text, and the bundled queries on real engines.

The substitution tests are plain tables. The engine tests load the project's own dataset (ROOT,
built into a temporary dist/) into the Oxigraph server and Virtuoso 7 (tests/engines.py), and hold
every bundled query, bound to each of its declared examples, against the embedded store: the same
kind, the same answer (as rows or as an RDF graph; blank node labels are each engine's own), the
same bytes in every format when the query orders its rows and no blank node is in them, and the
same bytes when asked twice (what a strong ETag assumes). They run a third time on an Oxigraph
server started with ``--union-default-graph``, whose own dataset is the built one: psm-kg sends it
queries that name no dataset as they are, without the graph lists, and must get the same answers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from engines import EngineServer, oxigraph_server, virtuoso_server
from psm_kg import formats
from psm_kg.app import create_app
from psm_kg.config import SettingsError, load_settings
from psm_kg.named_queries import NamedQuery, bind
from psm_kg.remote_results import RemoteOutcome
from psm_kg.remote_store import NO_GRAPH, RemoteStore, answer_error
from psm_kg.sparql_text import substitute
from psm_kg.store import (
    BackendUnavailable,
    DatasetSpec,
    QueryKind,
    QuerySyntaxError,
    QueryTimeout,
    StoreRefusedQuery,
    SubstitutionRejected,
)
from remote_backends import ENGINES, load_dist, remote_store, same_graph, started
from test_api import INJECTIONS, Served, _assert_stays_data, _serve, _served_parameters

ROOT = Path(__file__).resolve().parents[1]
IRI = "<https://w3id.org/psm/milano/id/plan/psttm-2025-2027>"

# (query, {variable: term}, expected text)
SUBSTITUTIONS = [
    ("SELECT ?x WHERE { ?x ?p ?o }", {"x": IRI}, f"SELECT ({IRI} AS ?x) WHERE {{ {IRI} ?p ?o }}"),
    ("SELECT $x { $x ?p ?o }", {"x": '"a"'}, 'SELECT ("a" AS $x) { "a" ?p ?o }'),
    (
        'SELECT ?o { ?s ?p "?x" . <http://e/?x> ?p ?x } # ?x',
        {"x": "1"},
        'SELECT ?o { ?s ?p "?x" . <http://e/?x> ?p 1 } # ?x',
    ),
    ("SELECT ?o { ?s ?p '''?x\n?x''' }", {"x": "1"}, "SELECT ?o { ?s ?p '''?x\n?x''' }"),
    ("SELECT ?xy ?x { ?xy ?p ?x }", {"x": "1"}, "SELECT ?xy (1 AS ?x) { ?xy ?p 1 }"),
    (
        "SELECT ?x (COUNT(?o) AS ?n) { ?x ?p ?o } GROUP BY ?x ORDER BY DESC(?x) ?x",
        {"x": IRI},
        f"SELECT ({IRI} AS ?x) (COUNT(?o) AS ?n) {{ {IRI} ?p ?o }} GROUP BY ({IRI}) "
        f"ORDER BY DESC({IRI}) ({IRI})",
    ),
    (
        "SELECT ?y { { SELECT ?x WHERE { ?x ?p ?y } } FILTER(?x != ?y) }",
        {"x": IRI},
        f"SELECT ?y {{ {{ SELECT ({IRI} AS ?x) WHERE {{ {IRI} ?p ?y }} }} FILTER({IRI} != ?y) }}",
    ),
    (
        "SELECT ?n { BIND(?x + 1 AS ?n) }",
        {"x": '"41"^^<http://www.w3.org/2001/XMLSchema#integer>'},
        'SELECT ?n { BIND("41"^^<http://www.w3.org/2001/XMLSchema#integer> + 1 AS ?n) }',
    ),
    ("SELECT ?n { BIND(1 AS ?x) }", {"x": "2"}, "SELECT ?n { BIND(1 AS ?x) }"),
    ("SELECT ?x { VALUES ?x { 1 } }", {"x": "2"}, "SELECT (2 AS ?x) { VALUES ?x { 1 } }"),
    ("ASK { ?x a ?c }", {"x": IRI, "c": "<urn:c>"}, f"ASK {{ {IRI} a <urn:c> }}"),
    (
        "CONSTRUCT { ?x ?p ?o } WHERE { ?x ?p ?o }",
        {"x": IRI},
        f"CONSTRUCT {{ {IRI} ?p ?o }} WHERE {{ {IRI} ?p ?o }}",
    ),
    (
        'PREFIX e: <http://e/> SELECT ?x { ?x e:p "\\"?x" }',
        {"x": IRI},
        f'PREFIX e: <http://e/> SELECT ({IRI} AS ?x) {{ {IRI} e:p "\\"?x" }}',
    ),
    (
        "SELECT ?x { ?x ?p 'it''s ?x' }",
        {"x": '"a \\" } UNION { ?s ?p ?o } #"'},
        'SELECT ("a \\" } UNION { ?s ?p ?o } #" AS ?x) '
        "{ \"a \\\" } UNION { ?s ?p ?o } #\" ?p 'it''s ?x' }",
    ),
]


@pytest.mark.parametrize(
    ("query", "terms", "expected"), SUBSTITUTIONS, ids=[str(i) for i in range(len(SUBSTITUTIONS))]
)
def test_substitution_replaces_the_variable_outside_strings_iris_and_comments(
    query: str, terms: dict[str, str], expected: str
) -> None:
    assert substitute(query, terms) == expected


def test_a_substituted_query_answers_as_pyoxigraph_substitutions_do() -> None:
    data = ox.Store()
    data.add(ox.Quad(ox.NamedNode("urn:a"), ox.NamedNode("urn:p"), ox.Literal("1")))
    data.add(ox.Quad(ox.NamedNode("urn:b"), ox.NamedNode("urn:p"), ox.Literal("2")))
    term = ox.NamedNode("urn:a")
    for query in (
        "SELECT ?s ?o { ?s <urn:p> ?o }",
        "SELECT ?s (COUNT(*) AS ?n) { ?s ?p ?o } GROUP BY ?s",
        "SELECT ?o { ?s <urn:p> ?o FILTER(?s = <urn:a>) }",
    ):
        try:
            reference = data.query(query, substitutions={ox.Variable("s"): term})
        except RuntimeError:  # not in the projection: the same refusal is asserted below
            continue
        assert isinstance(reference, ox.QuerySolutions)
        rewritten = data.query(substitute(query, {"s": str(term)}))
        assert isinstance(rewritten, ox.QuerySolutions)
        assert [str(r) for r in reference] == [str(r) for r in rewritten], query


# --- answers that are not results, and the settings --------------------------------------------

URL = "http://127.0.0.1:9/sparql"


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        (400, "Virtuoso 37000 Error SP030: syntax error", QuerySyntaxError),
        (500, "Virtuoso S1T00 Error SR171: Transaction timed out", QueryTimeout),
        (500, "Virtuoso 22023 Error SL001: LCASE needs a string", StoreRefusedQuery),
        (500, "Virtuoso 08C01 Error CL065: Lost connection to server", BackendUnavailable),
        (500, "Virtuoso 40001 Error SR172: Transaction deadlocked", BackendUnavailable),
        (500, "Internal Server Error", BackendUnavailable),
        (503, "", BackendUnavailable),
        (404, "<html>Not found</html>", BackendUnavailable),
    ],
    ids=[
        "400",
        "timeout",
        "500 about the query",
        "500 connection",
        "500 deadlock",
        "500",
        "503",
        "404",
    ],
)
def test_each_error_status_of_the_store_maps_to_its_exception(
    status: int, text: str, expected: type[Exception]
) -> None:
    error = answer_error(URL, status, text, 2.0)
    assert type(error) is expected
    if isinstance(error, QuerySyntaxError):
        assert "SP030: syntax error" in error.message
    if isinstance(error, StoreRefusedQuery):
        assert error.message.endswith("SL001: LCASE needs a string")
    if isinstance(error, BackendUnavailable):
        assert str(error).startswith(f"the SPARQL store at {URL} is not answering")


@pytest.mark.parametrize("kind", list(QueryKind))
def test_an_answer_that_is_not_the_interchange_format_is_the_store_failing(
    kind: QueryKind,
) -> None:
    outcome = RemoteOutcome(kind, b"<html>oops</html>", url=URL, deadline=1e12, timeout_s=1.0)
    with pytest.raises(BackendUnavailable, match="its answer is not"):
        outcome.serialize(outcome.formats[0])


def test_the_store_url_setting_is_checked_and_read_from_the_environment() -> None:
    assert load_settings(env={}).store_url is None
    assert load_settings(env={"PSM_KG_STORE_URL": ""}).store_url is None
    settings = load_settings(env={"PSM_KG_STORE_URL": URL, "PSM_KG_STORE_WAIT_S": "2.5"})
    assert (settings.store_url, settings.store_wait_s) == (URL, 2.5)
    with pytest.raises(SettingsError, match=r"PSM_KG_STORE_URL='ftp://x'.*http"):
        load_settings(env={"PSM_KG_STORE_URL": "ftp://x"})
    with pytest.raises(SettingsError, match="store_wait_s=-1"):
        load_settings(env={}, store_wait_s=-1)


# --- the bundled queries on the engines ---------------------------------------------------------


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return _serve(ROOT, tmp_path_factory.mktemp("remote-bundled") / "dist")


@pytest.fixture(scope="module")
def oxigraph(bundled: Served) -> Iterator[EngineServer]:
    for server in started("test_remote_store (Oxigraph server)", oxigraph_server):
        load_dist(server, bundled.settings.dist_dir)
        yield server


@pytest.fixture(scope="module")
def virtuoso(bundled: Served) -> Iterator[EngineServer]:
    for server in started("test_remote_store (Virtuoso)", virtuoso_server):
        load_dist(server, bundled.settings.dist_dir)
        yield server


@pytest.fixture(scope="module")
def oxigraph_union(bundled: Served) -> Iterator[EngineServer]:
    """The Oxigraph server whose default graph is the union of its graphs, holding the dataset."""

    def start() -> AbstractContextManager[EngineServer]:
        return oxigraph_server(union_default_graph=True)

    for server in started("test_remote_store (Oxigraph server, union default graph)", start):
        load_dist(server, bundled.settings.dist_dir)
        yield server


# The engines, and the Oxigraph server whose own dataset is the built one.
SETUPS = (*ENGINES, "oxigraph_union")


@pytest.fixture(params=SETUPS)
def remote(request: pytest.FixtureRequest, bundled: Served) -> Iterator[RemoteStore]:
    server: EngineServer = request.getfixturevalue(request.param)
    store = remote_store(server, bundled.settings.dist_dir, bundled.settings.max_result_bytes)
    yield store
    store.close()


def _examples(served: Served) -> list[tuple[NamedQuery, dict[str, str]]]:
    cases = [(q, dict(e.params)) for q in served.queries for e in q.examples]
    assert len(cases) >= len(served.queries)
    return cases


def _rows(body: bytes) -> Counter[str]:
    """Solutions as a multiset of rows, blank node labels left out, and the parts of a
    GROUP_CONCAT (``a, b``) sorted: their order is the engine's, and the Oxigraph server's
    changes from one load to the next."""
    document = json.loads(body)
    if "boolean" in document:
        return Counter([str(document["boolean"])])
    rows = []
    for row in document["results"]["bindings"]:
        for value in row.values():
            if value["type"] == "bnode":
                value["value"] = "_"
            elif ", " in value["value"]:
                value["value"] = ", ".join(sorted(value["value"].split(", ")))
        rows.append(json.dumps(row, sort_keys=True))
    return Counter(rows)


# Bundled queries an engine answers otherwise than SPARQL 1.1 (and pyoxigraph) do.
VIRTUOSO = (
    "Virtuoso 7: xsd:boolean results come back as xsd:integer 0/1, GROUP_CONCAT drops language "
    "tags, typed counts keep their declared datatype, and NOT EXISTS/MINUS and LCASE on "
    "non-strings differ"
)
DEVIATIONS: dict[str, dict[str, str]] = {
    "oxigraph": {},
    "oxigraph_union": {},
    "virtuoso": dict.fromkeys(
        (
            "compare-editions",
            "list-approval-path",
            "list-approval-steps",
            "list-driver-objectives",
            "list-drivers",
            "list-missions",
            "list-zone-comuni",
            "list-zones",
            "search-labels",
        ),
        VIRTUOSO,
    ),
}


def test_every_bundled_example_answers_as_the_embedded_store(
    remote: RemoteStore, bundled: Served, request: pytest.FixtureRequest
) -> None:
    engine = request.node.callspec.params["remote"]
    embedded = bundled.store
    byte_equal = 0
    differ: set[str] = set()
    for query, params in _examples(bundled):
        bound = bind(query, params)
        here = embedded.query(query.text, timeout_s=30, substitutions=bound)
        there = remote.query(query.text, timeout_s=30, substitutions=bound)
        assert there.kind == here.kind, query.name
        if here.kind is QueryKind.GRAPH:
            nt = formats.N_TRIPLES
            body = there.serialize(nt)
            assert same_graph(body, here.serialize(nt), nt.media_type), (query.name, params)
            again = remote.query(query.text, timeout_s=30, substitutions=bound)
            assert again.serialize(nt) == body
            continue
        first = formats.SPARQL_JSON
        expected, got = here.serialize(first), there.serialize(first)
        if _rows(got) != _rows(expected):
            differ.add(query.name)
        ordered = "order by" in query.text.lower() and b'"bnode"' not in expected
        for fmt in here.formats:
            mine = remote.query(query.text, timeout_s=30, substitutions=bound).serialize(fmt)
            theirs = embedded.query(query.text, timeout_s=30, substitutions=bound).serialize(fmt)
            again = remote.query(query.text, timeout_s=30, substitutions=bound).serialize(fmt)
            assert again == mine, (query.name, fmt.name)  # the same answer every time
            same_rows = query.name not in DEVIATIONS[engine]
            if same_rows and b", " not in theirs and (ordered or here.kind is QueryKind.BOOLEAN):
                assert mine == theirs, (query.name, params, fmt.name)
                byte_equal += 1
    assert differ == set(DEVIATIONS[engine])
    assert byte_equal > 20


def test_the_protocol_dataset_and_from_answer_as_embedded(
    remote: RemoteStore, bundled: Served, request: pytest.FixtureRequest
) -> None:
    graphs = sorted(bundled.store.graph_sizes())
    count = (
        "SELECT ?g (COUNT(*) AS ?n) { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } } "
        "GROUP BY ?g ORDER BY ?g"
    )
    for dataset in (
        DatasetSpec((graphs[0],), ()),
        DatasetSpec((), (graphs[1],)),
        DatasetSpec((graphs[0], graphs[1]), (graphs[2],)),
    ):
        expected = bundled.store.query(count, timeout_s=30, dataset=dataset)
        got = remote.query(count, timeout_s=30, dataset=dataset)
        assert got.serialize(formats.SPARQL_CSV) == expected.serialize(formats.SPARQL_CSV)
    with_from = (
        f"SELECT (COUNT(*) AS ?n) FROM <{graphs[0]}> FROM NAMED <{graphs[1]}> {{ ?s ?p ?o }}"
    )
    only_named = f"SELECT (COUNT(*) AS ?n) FROM NAMED <{graphs[1]}> {{ ?s ?p ?o }}"
    for query in (with_from, only_named):
        # The protocol's dataset overrides FROM; FROM alone is sent as protocol fields as well,
        # since the Oxigraph server with --union-default-graph would keep its union.
        got_from = remote.query(query, timeout_s=30).serialize(formats.SPARQL_CSV)
        expected_from = bundled.store.query(query, timeout_s=30).serialize(formats.SPARQL_CSV)
        assert got_from == expected_from, query
        overridden = DatasetSpec((graphs[2],), ())
        got = remote.query(query, timeout_s=30, dataset=overridden)
        expected = bundled.store.query(query, timeout_s=30, dataset=overridden)
        assert got.serialize(formats.SPARQL_CSV) == expected.serialize(formats.SPARQL_CSV)


def test_a_variable_outside_the_projection_is_refused_as_embedded(remote: RemoteStore) -> None:
    with pytest.raises(SubstitutionRejected):
        remote.query("SELECT ?o { ?s ?p ?o }", timeout_s=5, substitutions={"s": ox.Literal("x")})


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("payload", INJECTIONS, ids=[repr(p)[1:-1][:30] for p in INJECTIONS])
def test_injection_attempts_in_every_bundled_parameter_stay_data(
    bundled: Served, engine: str, payload: str, request: pytest.FixtureRequest
) -> None:
    server: EngineServer = request.getfixturevalue(engine)
    store = remote_store(server, bundled.settings.dist_dir, bundled.settings.max_result_bytes)
    with TestClient(create_app(bundled.settings, store), raise_server_exceptions=False) as client:
        for name, parameter, kind in _served_parameters(bundled):
            _assert_stays_data(client, bundled, name, parameter, kind, payload)


# --- queries that name no dataset: with the graph lists, or as they are --------------------------

RDFS = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
# Ordered SELECTs without blank nodes (compared as bytes), and a CONSTRUCT (compared as graphs).
# No DISTINCT: a triple held by two graphs is one solution per graph, in the embedded store too.
PLAIN_SELECTS = (
    "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }",
    "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g",
    "SELECT ?g (COUNT(*) AS ?n) { ?s a ?c . GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g",
    RDFS + "SELECT ?s ?label { ?s rdfs:label ?label FILTER(isIRI(?s)) } ORDER BY ?label ?s",
)
PLAIN_CONSTRUCT = RDFS + "CONSTRUCT { ?s rdfs:label ?label } WHERE { ?s rdfs:label ?label }"
EXTRA_GRAPH = "urn:psm-kg:test:extra"


def _assert_answers_as_embedded(store: RemoteStore, bundled: Served) -> None:
    embedded = bundled.store
    for query in PLAIN_SELECTS:
        expected = embedded.query(query, timeout_s=30).serialize(formats.SPARQL_CSV)
        assert store.query(query, timeout_s=30).serialize(formats.SPARQL_CSV) == expected, query
    nt = formats.N_TRIPLES
    expected = embedded.query(PLAIN_CONSTRUCT, timeout_s=30).serialize(nt)
    got = store.query(PLAIN_CONSTRUCT, timeout_s=30).serialize(nt)
    assert same_graph(got, expected, nt.media_type)


def _assert_sends_graph_lists(store: RemoteStore, bundled: Served, sends: bool) -> None:
    graphs = sorted(bundled.store.graph_sizes())
    assert store.sends_dataset is sends
    fields = store.request(PLAIN_SELECTS[0]).fields
    if sends:
        assert fields["default-graph-uri"] == fields["named-graph-uri"] == graphs
    else:
        assert fields == {"query": PLAIN_SELECTS[0]}
    # A dataset of the request's own, or of the query's FROM, is sent either way.
    dataset = store.request(PLAIN_SELECTS[0], dataset=DatasetSpec((graphs[0],), ()))
    assert dataset.fields["default-graph-uri"] == [graphs[0]]
    with_from = f"SELECT * FROM <{graphs[0]}> {{ ?s ?p ?o }}"
    assert store.request(with_from).fields == {
        "query": with_from,
        "default-graph-uri": [graphs[0]],
        "named-graph-uri": [NO_GRAPH],
    }


def test_an_oxigraph_server_with_the_union_default_graph_is_asked_without_graph_lists(
    oxigraph_union: EngineServer, bundled: Served
) -> None:
    store = remote_store(oxigraph_union, bundled.settings.dist_dir, 1_000_000)
    try:
        _assert_sends_graph_lists(store, bundled, sends=False)
        _assert_answers_as_embedded(store, bundled)
    finally:
        store.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_an_engine_whose_default_graph_is_not_the_dataset_is_sent_the_graph_lists(
    engine: str, bundled: Served, request: pytest.FixtureRequest
) -> None:
    server: EngineServer = request.getfixturevalue(engine)
    store = remote_store(server, bundled.settings.dist_dir, 1_000_000)
    try:
        _assert_sends_graph_lists(store, bundled, sends=True)
        if engine == "oxigraph":  # Virtuoso's answers differ anyway (DEVIATIONS)
            _assert_answers_as_embedded(store, bundled)
    finally:
        store.close()


def test_a_graph_outside_the_dataset_keeps_the_graph_lists_and_stays_out_of_answers(
    oxigraph_union: EngineServer, bundled: Served
) -> None:
    extra = b'<urn:psm-kg:test:x> <http://www.w3.org/2000/01/rdf-schema#label> "extra" .\n'
    params = {"graph": EXTRA_GRAPH}
    put = httpx.put(
        oxigraph_union.graph_store_url,
        params=params,
        content=extra,
        headers={"Content-Type": "application/n-triples"},
    )
    assert put.status_code in (200, 201, 204), put.text
    try:
        store = remote_store(oxigraph_union, bundled.settings.dist_dir, 1_000_000)
        try:
            _assert_sends_graph_lists(store, bundled, sends=True)
            _assert_answers_as_embedded(store, bundled)
        finally:
            store.close()
    finally:  # the module's other tests share this server
        httpx.delete(oxigraph_union.graph_store_url, params=params).raise_for_status()


@pytest.mark.parametrize(
    ("timeout_s", "max_download_bytes"), [(1e-9, 1_000_000), (30.0, 10)], ids=["timeout", "cap"]
)
def test_a_failed_question_about_the_store_s_own_dataset_keeps_the_graph_lists(
    oxigraph_union: EngineServer, bundled: Served, timeout_s: float, max_download_bytes: int
) -> None:
    graphs = bundled.store.graph_sizes()
    store = RemoteStore(
        oxigraph_union.query_url, "hash", graphs, max_download_bytes=max_download_bytes
    )
    try:
        reason = store.use_own_dataset(timeout_s)
        assert reason is not None
        assert reason.startswith("a query about its own dataset failed")
        assert store.sends_dataset is True
    finally:
        store.close()
