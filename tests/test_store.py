from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
import rdflib
from rdflib.compare import isomorphic

from psm_kg import build, formats
from psm_kg.config import Settings
from psm_kg.sparql_text import looks_like_update, uses_service
from psm_kg.store import (
    FederationNotAllowed,
    QueryKind,
    QuerySyntaxError,
    QueryTimeout,
    Store,
    StoreError,
    UpdateNotAllowed,
)

PREFIXES = """
PREFIX psm: <https://w3id.org/psm/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX pillar: <https://w3id.org/psm/milano/id/pillar/2025-2027/>
"""
TIMEOUT = 10.0


def select_json(store: Store, query: str) -> dict[str, object]:
    outcome = store.query(PREFIXES + query, timeout_s=TIMEOUT)
    assert outcome.kind is QueryKind.SOLUTIONS
    document: dict[str, object] = json.loads(outcome.serialize(formats.SPARQL_JSON))
    return document


def values(document: dict[str, object], variable: str) -> set[str]:
    bindings = document["results"]["bindings"]  # type: ignore[index]
    return {row[variable]["value"] for row in bindings}


def test_from_dist_loads_every_quad_the_build_counted(
    built_settings: Settings, store: Store
) -> None:
    graphs = json.loads((built_settings.dist_dir / build.GRAPHS_FILE).read_text(encoding="utf-8"))
    assert len(store) == graphs["total"]
    assert store.content_hash == graphs["content_hash"]


def test_the_default_graph_is_the_union_of_the_named_graphs(store: Store) -> None:
    # The pillar is in graph "plan", the label of its class in graph "ontology".
    document = select_json(
        store, "SELECT ?label { pillar:sostenibilita a ?class . ?class rdfs:label ?label }"
    )
    assert values(document, "label") == {"pilastro", "pillar"}


def test_a_graph_clause_reaches_one_part(store: Store) -> None:
    document = select_json(
        store,
        "SELECT ?s { GRAPH <https://w3id.org/psm/milano/graph/territory> { ?s a ?type } }",
    )
    assert values(document, "s") == {"https://w3id.org/psm/milano/id/comune/015146"}


def test_select_answers_sparql_json_with_the_variables_in_order(store: Store) -> None:
    document = select_json(
        store,
        "SELECT ?pillar ?label { ?pillar a psm:Pillar ; rdfs:label ?label "
        'FILTER(lang(?label) = "en") }',
    )
    assert document["head"] == {"vars": ["pillar", "label"]}
    assert values(document, "label") == {"Sustainability", "Innovation"}


def test_ask_is_a_boolean_result(store: Store) -> None:
    outcome = store.query(PREFIXES + "ASK { pillar:innovazione a psm:Pillar }", timeout_s=TIMEOUT)
    assert outcome.kind is QueryKind.BOOLEAN
    assert json.loads(outcome.serialize(formats.SPARQL_JSON))["boolean"] is True


GRAPH_FORMATS = [
    (formats.TURTLE, "turtle"),
    (formats.N_TRIPLES, "nt"),
    (formats.JSON_LD, "json-ld"),
    (formats.RDF_XML, "xml"),
    (formats.N_QUADS, "nquads"),
    (formats.TRIG, "trig"),
]


@pytest.mark.parametrize(
    ("fmt", "rdflib_format"), GRAPH_FORMATS, ids=[f.extension for f, _ in GRAPH_FORMATS]
)
def test_construct_is_the_same_graph_in_every_rdf_format(
    store: Store, fmt: formats.Format, rdflib_format: str
) -> None:
    query = PREFIXES + "CONSTRUCT { ?p rdfs:label ?l } WHERE { ?p a psm:Pillar ; rdfs:label ?l }"
    outcome = store.query(query, timeout_s=TIMEOUT)
    assert outcome.kind is QueryKind.GRAPH
    assert outcome.formats == tuple(f for f, _ in GRAPH_FORMATS)
    # N-Quads and TriG need a dataset to parse into; a CONSTRUCT fills its default graph.
    parsed = rdflib.Dataset()
    with warnings.catch_warnings():
        # rdflib 7's own Dataset.parse and its N-Quads parser use its deprecated API.
        warnings.filterwarnings("ignore", "Dataset.default_context", DeprecationWarning)
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        parsed.parse(data=outcome.serialize(fmt), format=rdflib_format)
    answer = rdflib.Graph()
    for subject, predicate, value, _graph in parsed.quads((None, None, None, None)):
        answer.add((subject, predicate, value))
    expected = rdflib.Graph().parse(
        data="""
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        @prefix pillar: <https://w3id.org/psm/milano/id/pillar/2025-2027/> .
        pillar:sostenibilita rdfs:label "Sostenibilità"@it , "Sustainability"@en .
        pillar:innovazione rdfs:label "Innovazione"@it , "Innovation"@en .
        """,
        format="turtle",
    )
    assert isomorphic(answer, expected)


def test_describe_is_a_graph_result(store: Store) -> None:
    outcome = store.query(PREFIXES + "DESCRIBE pillar:innovazione", timeout_s=TIMEOUT)
    assert outcome.kind is QueryKind.GRAPH
    answer = rdflib.Graph().parse(data=outcome.serialize(formats.TURTLE), format="turtle")
    assert len(answer) == 4  # type, two labels, pillarOf


def test_a_malformed_query_raises_a_syntax_error_with_the_parser_message(store: Store) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        store.query("SELECT ?s WHERE { ?s ?p }", timeout_s=TIMEOUT)
    assert raised.value.message
    assert raised.value.line == 1
    assert raised.value.column is not None


UPDATES = [
    "INSERT DATA { <http://e/a> <http://e/b> <http://e/c> }",
    "PREFIX ex: <http://e/>\nDELETE WHERE { ex:a ?p ?o }",
    "LOAD <http://example.org/data.ttl>",
    "CLEAR ALL",
    "# a comment first\nDROP GRAPH <http://e/g>",
    "WITH <http://e/g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
]


@pytest.mark.parametrize(
    "update", UPDATES, ids=lambda text: text.split()[0] if not text.startswith("#") else "DROP"
)
def test_an_update_sent_as_a_query_is_refused_as_an_update(store: Store, update: str) -> None:
    size = len(store)
    with pytest.raises(UpdateNotAllowed, match="read-only"):
        store.query(update, timeout_s=TIMEOUT)
    assert len(store) == size


def test_service_is_refused_before_the_engine_runs_it(store: Store) -> None:
    with pytest.raises(FederationNotAllowed):
        store.query("ASK { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }", timeout_s=TIMEOUT)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT * { SERVICE <http://x/> { ?s ?p ?o } }", True),
        ("select * { service silent ?endpoint { ?s ?p ?o } }", True),
        ('SELECT * { ?s ?p "SERVICE <http://x/>" }', False),
        ("SELECT * { ?s <http://x/SERVICE> ?o }", False),
        ("SELECT ?service { ?s ex:service ?service }", False),
        ("# SERVICE <http://x/>\nSELECT * {}", False),
    ],
    ids=[
        "keyword",
        "lower-case silent",
        "in a literal",
        "in an IRI",
        "variable and name",
        "comment",
    ],
)
def test_service_is_recognised_only_as_a_keyword(query: str, expected: bool) -> None:
    assert uses_service(query) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[(update, True) for update in UPDATES],
        ("SELECT ?insert { ?insert ?p ?o }", False),
        ("PREFIX ex: <http://e/delete/> ASK { ex:a ?p ?o }", False),
        ('SELECT * { ?s ?p "INSERT DATA" }', False),
    ],
)
def test_update_detection_reads_the_first_keyword_after_the_prologue(
    text: str, expected: bool
) -> None:
    assert looks_like_update(text) is expected


def test_a_result_can_be_serialised_once(store: Store) -> None:
    outcome = store.query("SELECT * { ?s ?p ?o } LIMIT 1", timeout_s=TIMEOUT)
    outcome.serialize(formats.SPARQL_JSON)
    with pytest.raises(RuntimeError, match="once"):
        outcome.serialize(formats.SPARQL_JSON)


def test_a_result_cannot_be_written_in_a_format_of_another_kind(store: Store) -> None:
    outcome = store.query("SELECT * { ?s ?p ?o }", timeout_s=TIMEOUT)
    with pytest.raises(ValueError, match="Turtle"):
        outcome.serialize(formats.TURTLE)


def test_a_query_past_its_deadline_raises_query_timeout(store: Store) -> None:
    outcome = store.query("SELECT * { ?a ?b ?c . ?d ?e ?f }", timeout_s=1e-9)
    with pytest.raises(QueryTimeout) as raised:
        outcome.serialize(formats.SPARQL_JSON)
    assert raised.value.timeout_s == 1e-9


def test_loading_without_a_build_names_the_missing_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"content-hash.txt.*psm-kg build"):
        Store.from_dist(tmp_path)


def test_an_nquads_file_that_does_not_match_its_hash_is_refused(
    built_settings: Settings, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    shutil.copytree(built_settings.dist_dir, dist)
    with (dist / build.NQUADS_FILE).open("ab") as nquads:
        nquads.write(b"<http://e/s> <http://e/p> <http://e/o> <http://e/g> .\n")
    with pytest.raises(StoreError, match="content hash"):
        Store.from_dist(dist)


def test_the_store_module_knows_no_http() -> None:
    source = (Path(build.__file__).parent / "store.py").read_text(encoding="utf-8")
    for framework in ("fastapi", "starlette", "uvicorn", "httpx"):
        assert f"import {framework}" not in source
        assert f"from {framework}" not in source
