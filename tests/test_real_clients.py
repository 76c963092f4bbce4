"""Real SPARQL clients against the real server on 127.0.0.1: SPARQLWrapper, rdflib's SPARQLStore
and Comunica (Node, through tests/clients/comunica-query.mjs).

Every answer is compared with the answer of the in-process store (psm_kg.store.Store) to the same
query over the same built files: solutions as bags of bound terms, graphs with
rdflib.compare.isomorphic. The expectations are computed, never copied from a server response;
test_the_queries_have_telling_answers_on_the_fixture_tree pins what they are on the fixture tree.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import shutil
import socket
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from xml.dom.minidom import Document, Element

import pytest
from rdflib import BNode, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, RDF, RDFS
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from rdflib.query import Result
from rdflib.term import Identifier
from SPARQLWrapper import (
    CSV,
    GET,
    JSON,
    JSONLD,
    N3,
    POST,
    POSTDIRECTLY,
    RDFXML,
    TSV,
    TURTLE,
    URLENCODED,
    XML,
    SPARQLWrapper,
)
from SPARQLWrapper.SPARQLExceptions import EndPointInternalError, QueryBadFormed

from live_server import live_server
from psm_kg import formats
from psm_kg.store import Store

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
COMUNICA_SCRIPT = REPO / "tests" / "clients" / "comunica-query.mjs"
COMUNICA_PACKAGE = REPO / "node_modules" / "@comunica" / "query-sparql" / "package.json"

CLIENT_TIMEOUT_S = 30  # every HTTP exchange of a Python client; an int, as SPARQLWrapper wants
COMUNICA_TIMEOUT_S = 60.0  # one Node process: start-up, the query, the answer
STORE_TIMEOUT_S = 30.0

PSM = Namespace("https://w3id.org/psm/ontology#")
CLV = Namespace("https://w3id.org/italia/onto/CLV/")
GRAPH = "https://w3id.org/psm/milano/graph/"
EDITION = URIRef("https://w3id.org/psm/milano/id/plan/psttm-2025-2027")
MILANO = URIRef("https://w3id.org/psm/milano/id/comune/015146")

PREFIXES = (
    f"PREFIX psm: <{PSM}>\n"
    f"PREFIX clvapit: <{CLV}>\n"
    f"PREFIX rdfs: <{RDFS}>\n"
    f"PREFIX dct: <{DCTERMS}>\n"
)
# IRIs, language-tagged literals with a non-ASCII character, an xsd:integer, unbound cells, and a
# computed string holding a comma, double quotes and a tab (CSV quoting, TSV escapes).
THINGS_BODY = """SELECT ?thing ?label ?statements ?source ?caption WHERE {
  VALUES ?type { psm:PlanEdition psm:Pillar clvapit:City }
  ?thing a ?type .
  { SELECT ?thing (COUNT(*) AS ?statements) WHERE { ?thing ?p ?o } GROUP BY ?thing }
  OPTIONAL { ?thing rdfs:label ?label FILTER (lang(?label) = "it") }
  OPTIONAL { ?thing dct:source ?document . ?document dct:title ?source }
  BIND (CONCAT(STR(?label), ", \\"", STR(?statements), "\\"\\t") AS ?caption)
}"""
THINGS = PREFIXES + THINGS_BODY
PILLAR_LABELS_BODY = "SELECT ?pillar ?label WHERE { ?pillar a psm:Pillar ; rdfs:label ?label }"
PILLAR_LABELS = PREFIXES + PILLAR_LABELS_BODY
ASK_PILLAR = PREFIXES + "ASK { ?pillar a psm:Pillar ; rdfs:label 'Sostenibilità'@it }"
ASK_NOTHING = PREFIXES + "ASK { ?pillar a psm:Pillar ; rdfs:label 'Sostenibilità'@en }"
# The plan graph holds the edition's dct:source, a blank node: graphs are compared up to its label.
CONSTRUCT_PLAN = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{GRAPH}plan> {{ ?s ?p ?o }} }}"
DESCRIBE_EDITION = f"DESCRIBE <{EDITION}>"
EVERY_TRIPLE = "CONSTRUCT WHERE { ?s ?p ?o }"
COUNT_TRIPLES = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
NAMED_GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
FIXTURE_GRAPHS = ("ontology", "plan", "shapes", "territory")  # tests/data/README.md, app/

INSERTED = (MILANO, RDFS.label, Literal("Mediolanum", lang="la"))
INSERT_DATA = f"INSERT DATA {{ {' '.join(term.n3() for term in INSERTED)} }}"
ASK_INSERTED = f"ASK {{ {' '.join(term.n3() for term in INSERTED)} }}"

# The one warning the libraries give on their own: SPARQLWrapper 2.0 reads RDF/XML and JSON-LD
# into an rdflib ConjunctiveGraph, which rdflib 7 deprecates. Nothing the server sends causes it.
CONJUNCTIVE_GRAPH_DEPRECATED = pytest.mark.filterwarnings(
    "ignore:ConjunctiveGraph is deprecated, use Dataset instead.:DeprecationWarning"
)


@dataclass(frozen=True)
class Served:
    endpoint: str
    store: Store


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, app_data: Path) -> Iterator[Served]:
    """The server on a fresh copy of the fixture tree; a store loaded from the dist/ it builds."""
    root = tmp_path_factory.mktemp("real-clients") / "tree"
    shutil.copytree(app_data / "tree", root)
    with live_server(root) as server:
        yield Served(server.sparql, Store.from_dist(root / "dist"))


@pytest.fixture(scope="module", autouse=True)
def bounded_sockets() -> Iterator[None]:
    """rdflib's SPARQLConnector opens URLs without a timeout: bound every socket of this module."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(CLIENT_TIMEOUT_S)
    yield
    socket.setdefaulttimeout(previous)


# --- solutions as bags of rows, whatever format or client they came from --------------------------

Row = frozenset[tuple[str, Identifier]]


@dataclass(frozen=True)
class Solutions:
    """SELECT results: the variables in order, the rows as a bag of (variable, term) sets."""

    variables: tuple[str, ...]
    rows: Counter[Row]

    @classmethod
    def of(cls, variables: tuple[str, ...], rows: list[Mapping[str, Any]]) -> Solutions:
        return cls(variables, Counter(frozenset(row.items()) for row in rows))

    def as_text(self) -> Solutions:
        """What CSV keeps of each term: its string value (SPARQL 1.1 CSV and TSV, section 2)."""
        rows = [{var: Literal(str(term)) for var, term in row} for row in self.rows.elements()]
        return Solutions.of(self.variables, rows)


def json_term(term: Mapping[str, str]) -> Identifier:
    kind = term["type"]
    if kind == "uri":
        return URIRef(term["value"])
    if kind == "bnode":
        return BNode(term["value"])
    if kind in ("literal", "typed-literal"):
        language = term.get("xml:lang")
        datatype = None if language else term.get("datatype")
        return Literal(term["value"], lang=language, datatype=datatype)
    raise AssertionError(f"not a SPARQL JSON term: {term}")


def solutions_from_json(document: Mapping[str, Any]) -> Solutions:
    rows = [
        {var: json_term(term) for var, term in binding.items()}
        for binding in document["results"]["bindings"]
    ]
    return Solutions.of(tuple(document["head"]["vars"]), rows)


def _text(element: Element) -> str:
    return "".join(node.data for node in element.childNodes if node.nodeType == node.TEXT_NODE)


def xml_term(binding: Element) -> Identifier:
    (value,) = (node for node in binding.childNodes if node.nodeType == node.ELEMENT_NODE)
    if value.tagName == "uri":
        return URIRef(_text(value))
    if value.tagName == "bnode":
        return BNode(_text(value))
    assert value.tagName == "literal", value.toxml()
    language = value.getAttribute("xml:lang") or None
    datatype = value.getAttribute("datatype") or None
    return Literal(_text(value), lang=language, datatype=datatype)


def solutions_from_xml(document: Document) -> Solutions:
    """SPARQL XML Results as SPARQLWrapper gives them: a DOM document."""
    variables = tuple(v.getAttribute("name") for v in document.getElementsByTagName("variable"))
    rows = [
        {b.getAttribute("name"): xml_term(b) for b in result.getElementsByTagName("binding")}
        for result in document.getElementsByTagName("result")
    ]
    return Solutions.of(variables, rows)


def solutions_from_rdflib(result: Result) -> Solutions:
    assert result.type == "SELECT", result.type
    variables = tuple(str(var) for var in result.vars or ())
    return Solutions.of(variables, [row.asdict() for row in result])  # type: ignore[union-attr]


def solutions_from_tsv(data: bytes) -> Solutions:
    """SPARQL TSV, read by rdflib's TSV results parser (terms in Turtle syntax)."""
    return solutions_from_rdflib(Result.parse(io.BytesIO(data), format="tsv"))


def solutions_from_csv(data: bytes) -> Solutions:
    """SPARQL CSV: strings only; an empty field is an unbound cell (the data has no "")."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    rows = [{var: Literal(value) for var, value in row.items() if value != ""} for row in reader]
    return Solutions.of(tuple(reader.fieldnames or ()), rows)


def boolean_from_xml(document: Document) -> bool:
    (element,) = document.getElementsByTagName("boolean")
    return {"true": True, "false": False}[_text(element)]


# --- what the store answers -----------------------------------------------------------------------


def store_answer(store: Store, query: str, fmt: formats.Format) -> bytes:
    return store.query(query, timeout_s=STORE_TIMEOUT_S).serialize(fmt)


def store_solutions(store: Store, query: str) -> Solutions:
    return solutions_from_json(json.loads(store_answer(store, query, formats.SPARQL_JSON)))


def store_boolean(store: Store, query: str) -> bool:
    answer: bool = json.loads(store_answer(store, query, formats.SPARQL_JSON))["boolean"]
    return answer


def store_graph(store: Store, query: str) -> Graph:
    return Graph().parse(data=store_answer(store, query, formats.N_TRIPLES), format="nt")


def store_count(store: Store, query: str = COUNT_TRIPLES) -> int:
    (row,) = store_solutions(store, query).rows
    ((_, count),) = row
    return int(count)


def triples_graph(triples: Iterator[tuple[Any, Any, Any]]) -> Graph:
    graph = Graph()
    for triple in triples:
        graph.add(triple)
    return graph


def test_the_queries_have_telling_answers_on_the_fixture_tree(served: Served) -> None:
    """What the fixture tree's Turtle holds, so that the comparisons below compare something."""
    things = store_solutions(served.store, THINGS)
    assert things.variables == ("thing", "label", "statements", "source", "caption")
    assert sum(things.rows.values()) == 4  # the edition, two pillars, Milano
    rows = [dict(row) for row in things.rows]
    assert Literal("Sostenibilità", lang="it") in {row["label"] for row in rows}
    assert [row["source"] for row in rows if "source" in row] == [
        Literal("Comunicato stampa (test)", lang="it")
    ]
    assert Literal('Milano, "3"\t') in {row["caption"] for row in rows}
    assert sum(store_solutions(served.store, PILLAR_LABELS).rows.values()) == 4
    assert store_boolean(served.store, ASK_PILLAR) is True
    assert store_boolean(served.store, ASK_NOTHING) is False
    plan = store_graph(served.store, CONSTRUCT_PLAN)
    assert len(plan) == 13
    assert any(isinstance(node, BNode) for node in plan.objects())
    assert any(
        isinstance(node, BNode) for node in store_graph(served.store, DESCRIBE_EDITION).subjects()
    )
    names = {row for row in store_solutions(served.store, NAMED_GRAPHS).rows}
    assert names == {frozenset({("g", URIRef(GRAPH + name))}) for name in FIXTURE_GRAPHS}


# --- SPARQLWrapper --------------------------------------------------------------------------------


def sparqlwrapper(
    endpoint: str,
    query: str,
    return_format: str,
    method: str = GET,
    request_method: str = URLENCODED,
    *,
    only_conneg: bool = True,
) -> SPARQLWrapper:
    """A SPARQLWrapper client. With ``only_conneg`` the format travels in the Accept header alone,
    as in the SPARQL 1.1 Protocol; SPARQLWrapper's default (False) also sends format names in
    parameters (see DEFAULT_PARAMETER_CASES)."""
    client = SPARQLWrapper(endpoint)
    client.setTimeout(CLIENT_TIMEOUT_S)
    client.setOnlyConneg(only_conneg)
    client.setQuery(query)
    client.setReturnFormat(return_format)
    client.setMethod(method)
    client.setRequestMethod(request_method)
    return client


TRANSPORTS = [
    pytest.param(GET, URLENCODED, id="get"),
    pytest.param(POST, URLENCODED, id="post-form"),
    pytest.param(POST, POSTDIRECTLY, id="post-query-body"),
]


def _same(solutions: Solutions) -> Solutions:
    return solutions


SELECT_FORMATS = [
    pytest.param(JSON, solutions_from_json, _same, id="json"),
    pytest.param(XML, solutions_from_xml, _same, id="xml"),
    pytest.param(TSV, solutions_from_tsv, _same, id="tsv"),
    pytest.param(CSV, solutions_from_csv, Solutions.as_text, id="csv"),
]


@pytest.mark.parametrize(("method", "request_method"), TRANSPORTS)
@pytest.mark.parametrize(("return_format", "read", "view"), SELECT_FORMATS)
def test_sparqlwrapper_select_matches_the_store(
    served: Served,
    return_format: str,
    read: Callable[[Any], Solutions],
    view: Callable[[Solutions], Solutions],
    method: str,
    request_method: str,
) -> None:
    client = sparqlwrapper(served.endpoint, THINGS, return_format, method, request_method)
    answer = read(client.query().convert())
    assert answer == view(store_solutions(served.store, THINGS))


def boolean_from(converted: Any) -> bool:
    """SPARQLWrapper gives an ASK answer as a dict (JSON) or a DOM document (XML)."""
    if isinstance(converted, Document):
        return boolean_from_xml(converted)
    answer: bool = converted["boolean"]
    return answer


@pytest.mark.parametrize(("method", "request_method"), TRANSPORTS)
@pytest.mark.parametrize("return_format", [JSON, XML])
@pytest.mark.parametrize("query", [ASK_PILLAR, ASK_NOTHING], ids=["true", "false"])
def test_sparqlwrapper_ask_matches_the_store(
    served: Served, query: str, return_format: str, method: str, request_method: str
) -> None:
    client = sparqlwrapper(served.endpoint, query, return_format, method, request_method)
    assert boolean_from(client.query().convert()) is store_boolean(served.store, query)


def graph_from(converted: Any, rdflib_format: str) -> Graph:
    """SPARQLWrapper returns Turtle and N-Triples as bytes, RDF/XML and JSON-LD as a graph."""
    if isinstance(converted, bytes):
        return Graph().parse(data=converted, format=rdflib_format)
    assert isinstance(converted, Graph), type(converted)
    return triples_graph(converted.triples((None, None, None)))


CONSTRUCT_FORMATS = [
    pytest.param(TURTLE, None, "text/turtle", "turtle", id="turtle"),
    pytest.param(
        RDFXML, None, "application/rdf+xml", "xml", id="rdf-xml", marks=CONJUNCTIVE_GRAPH_DEPRECATED
    ),
    pytest.param(
        JSONLD,
        None,
        "application/ld+json",
        "json-ld",
        id="json-ld",
        marks=CONJUNCTIVE_GRAPH_DEPRECATED,
    ),
    # SPARQLWrapper has no N-Triples format: N3 reads it, and the Accept header asks for it.
    pytest.param(N3, "application/n-triples", "application/n-triples", "nt", id="n-triples"),
]


@pytest.mark.parametrize(("method", "request_method"), TRANSPORTS)
@pytest.mark.parametrize(
    ("return_format", "accept", "media_type", "rdflib_format"), CONSTRUCT_FORMATS
)
def test_sparqlwrapper_construct_matches_the_store(
    served: Served,
    return_format: str,
    accept: str | None,
    media_type: str,
    rdflib_format: str,
    method: str,
    request_method: str,
) -> None:
    client = sparqlwrapper(served.endpoint, CONSTRUCT_PLAN, return_format, method, request_method)
    if accept:
        client.addCustomHttpHeader("Accept", accept)
    result = client.query()
    assert result.info()["content-type"].split(";")[0] == media_type
    graph = graph_from(result.convert(), rdflib_format)
    assert isomorphic(graph, store_graph(served.store, CONSTRUCT_PLAN))


@pytest.mark.parametrize(
    ("return_format", "rdflib_format"),
    [
        pytest.param(TURTLE, "turtle", id="turtle"),
        pytest.param(RDFXML, "xml", id="rdf-xml", marks=CONJUNCTIVE_GRAPH_DEPRECATED),
    ],
)
def test_sparqlwrapper_describe_matches_the_store(
    served: Served, return_format: str, rdflib_format: str
) -> None:
    converted = sparqlwrapper(served.endpoint, DESCRIBE_EDITION, return_format).query().convert()
    graph = graph_from(converted, rdflib_format)
    assert isomorphic(graph, store_graph(served.store, DESCRIBE_EDITION))


# What SPARQLWrapper does unless told setOnlyConneg(True): besides the Accept header, it names the
# format in format=, output= and results= parameters (the names different servers read), twice in
# format= for TSV, RDF/XML and JSON-LD (short name and media type). The Protocol defines none of
# them; a server may read them, but they agree with each other and with Accept: the answer is the
# same as by content negotiation alone.
DEFAULT_PARAMETER_CASES = [
    pytest.param(THINGS, JSON, "solutions", id="select-json"),
    pytest.param(THINGS, XML, "solutions", id="select-xml"),
    pytest.param(THINGS, CSV, "text", id="select-csv"),
    pytest.param(THINGS, TSV, "solutions", id="select-tsv"),
    pytest.param(ASK_PILLAR, JSON, "boolean", id="ask-json"),
    pytest.param(ASK_PILLAR, XML, "boolean", id="ask-xml"),
    pytest.param(CONSTRUCT_PLAN, TURTLE, "graph", id="construct-turtle"),
    pytest.param(
        CONSTRUCT_PLAN, RDFXML, "graph", id="construct-rdf-xml", marks=CONJUNCTIVE_GRAPH_DEPRECATED
    ),
    pytest.param(
        CONSTRUCT_PLAN, JSONLD, "graph", id="construct-json-ld", marks=CONJUNCTIVE_GRAPH_DEPRECATED
    ),
    pytest.param(CONSTRUCT_PLAN, N3, "graph", id="construct-n3"),
]
READERS: dict[str, Callable[[Any], Any]] = {
    JSON: solutions_from_json,
    XML: solutions_from_xml,
    CSV: solutions_from_csv,
    TSV: solutions_from_tsv,
}
RDFLIB_FORMATS = {TURTLE: "turtle", N3: "turtle", RDFXML: "xml", JSONLD: "json-ld"}


@pytest.mark.parametrize(("method", "request_method"), TRANSPORTS)
@pytest.mark.parametrize(("query", "return_format", "kind"), DEFAULT_PARAMETER_CASES)
def test_sparqlwrapper_default_format_parameters_give_the_same_answer(
    served: Served, query: str, return_format: str, kind: str, method: str, request_method: str
) -> None:
    client = sparqlwrapper(
        served.endpoint, query, return_format, method, request_method, only_conneg=False
    )
    converted = client.query().convert()
    if kind == "graph":
        graph = graph_from(converted, RDFLIB_FORMATS[return_format])
        assert isomorphic(graph, store_graph(served.store, query))
    elif kind == "boolean":
        assert boolean_from(converted) is store_boolean(served.store, query)
    else:
        expected = store_solutions(served.store, query)
        assert READERS[return_format](converted) == (
            expected.as_text() if kind == "text" else expected
        )


# The Protocol's dataset parameters, as SPARQLWrapper sends them: the default graph is the merge of
# the default-graph-uri graphs, and GRAPH sees only the named-graph-uri graphs.
DATASET_QUERY = "SELECT ?g ?s WHERE { { ?s a ?type } UNION { GRAPH ?g { ?s a ?type } } }"
DATASET_EXPECTED = f"""SELECT ?g ?s WHERE {{
  {{ GRAPH <{GRAPH}territory> {{ ?s a ?type }} }}
  UNION {{ VALUES ?g {{ <{GRAPH}plan> }} GRAPH ?g {{ ?s a ?type }} }}
}}"""


@pytest.mark.parametrize(("method", "request_method"), TRANSPORTS)
def test_sparqlwrapper_default_and_named_graph_parameters_set_the_dataset(
    served: Served, method: str, request_method: str
) -> None:
    client = sparqlwrapper(served.endpoint, DATASET_QUERY, JSON, method, request_method)
    client.addDefaultGraph(GRAPH + "territory")
    client.addNamedGraph(GRAPH + "plan")
    answer = solutions_from_json(client.query().convert())
    expected = store_solutions(served.store, DATASET_EXPECTED)
    assert sum(expected.rows.values()) == 4  # Milano; the edition and its two pillars in plan
    assert answer == expected


def problem_of(error: Exception) -> dict[str, Any]:
    """The response body SPARQLWrapper quotes in its exception message (the repr of the bytes)."""
    _, _, quoted = str(error).partition("Response:\n")
    body = ast.literal_eval(quoted)
    assert isinstance(body, bytes), quoted
    problem: dict[str, Any] = json.loads(body)
    return problem


@pytest.mark.parametrize(("method", "request_method"), TRANSPORTS)
def test_sparqlwrapper_raises_query_bad_formed_for_a_malformed_query(
    served: Served, method: str, request_method: str
) -> None:
    client = sparqlwrapper(served.endpoint, "SELECT ?s WHERE { ?s ?p", JSON, method, request_method)
    with pytest.raises(QueryBadFormed) as refused:
        client.query()
    problem = problem_of(refused.value)
    assert problem["status"] == 400
    assert problem["title"] == "Malformed query"


@pytest.mark.parametrize("request_method", [URLENCODED, POSTDIRECTLY], ids=["form", "update-body"])
def test_sparqlwrapper_update_is_refused_and_changes_nothing(
    served: Served, request_method: str
) -> None:
    before = store_count(served.store)
    client = sparqlwrapper(served.endpoint, INSERT_DATA, JSON, POST, request_method)
    assert client.isSparqlUpdateRequest()
    # A client error: 400 (QueryBadFormed) or another 4xx or 501; never a 2xx, never a crash (500).
    with pytest.raises((QueryBadFormed, HTTPError)) as refused:
        client.query()
    assert not isinstance(refused.value, EndPointInternalError)
    asked = sparqlwrapper(served.endpoint, ASK_INSERTED, JSON).query().convert()
    assert asked["boolean"] is False
    counted = sparqlwrapper(served.endpoint, COUNT_TRIPLES, JSON).query().convert()
    assert int(counted["results"]["bindings"][0]["n"]["value"]) == before


# --- rdflib: SPARQLStore, Graph(store="SPARQLStore"), Dataset -------------------------------------


def sparql_graph(endpoint: str) -> Graph:
    graph = Graph(store="SPARQLStore")
    graph.open(endpoint)
    return graph


@pytest.mark.parametrize("method", ["GET", "POST", "POST_FORM"])
@pytest.mark.parametrize("return_format", ["xml", "json", "tsv"])
def test_rdflib_sparqlstore_triples_match_the_store(
    served: Served, return_format: str, method: str
) -> None:
    store = SPARQLStore(served.endpoint, returnFormat=return_format, method=method)
    graph = Graph(store=store)
    everything = triples_graph(triple for triple, _ in store.triples((None, None, None)))
    assert isomorphic(everything, store_graph(served.store, EVERY_TRIPLE))
    pillars = set(graph.triples((None, RDF.type, PSM.Pillar)))
    expected = store_graph(served.store, PREFIXES + "CONSTRUCT WHERE { ?p a psm:Pillar }")
    assert pillars == set(expected)
    assert set(graph.objects(MILANO, RDFS.label)) == set(
        store_graph(served.store, f"CONSTRUCT WHERE {{ <{MILANO}> <{RDFS.label}> ?l }}").objects()
    )


@pytest.mark.parametrize("how", ["init-ns", "bound"])
def test_rdflib_graph_query_select_with_namespaces_matches_the_store(
    served: Served, how: str
) -> None:
    graph = sparql_graph(served.endpoint)
    namespaces = {"psm": PSM, "clvapit": CLV, "rdfs": RDFS, "dct": DCTERMS}
    if how == "bound":
        for prefix, namespace in namespaces.items():
            graph.bind(prefix, namespace)
        result = graph.query(THINGS_BODY)
    else:
        result = graph.query(THINGS_BODY, initNs=namespaces)
    assert solutions_from_rdflib(result) == store_solutions(served.store, THINGS)


def test_rdflib_graph_query_with_init_bindings_matches_the_store(served: Served) -> None:
    graph = sparql_graph(served.endpoint)
    result = graph.query(
        "SELECT ?label WHERE { ?thing rdfs:label ?label }",
        initNs={"rdfs": RDFS},
        initBindings={"thing": MILANO},
    )
    expected = store_solutions(
        served.store, f"SELECT ?label WHERE {{ <{MILANO}> <{RDFS.label}> ?label }}"
    )
    assert solutions_from_rdflib(result) == expected


@pytest.mark.parametrize("query", [ASK_PILLAR, ASK_NOTHING], ids=["true", "false"])
def test_rdflib_graph_query_ask_matches_the_store(served: Served, query: str) -> None:
    result = sparql_graph(served.endpoint).query(query)
    assert result.askAnswer is store_boolean(served.store, query)


@pytest.mark.parametrize("query", [CONSTRUCT_PLAN, DESCRIBE_EDITION], ids=["construct", "describe"])
def test_rdflib_graph_query_construct_matches_the_store(served: Served, query: str) -> None:
    result = sparql_graph(served.endpoint).query(query)
    assert result.graph is not None
    assert isomorphic(result.graph, store_graph(served.store, query))


def test_rdflib_graph_len_counts_the_default_graph(served: Served) -> None:
    assert len(sparql_graph(served.endpoint)) == store_count(served.store)


def test_rdflib_sparqlstore_contexts_are_the_named_graphs(served: Served) -> None:
    store = SPARQLStore(served.endpoint)
    expected = {term for row in store_solutions(served.store, NAMED_GRAPHS).rows for _, term in row}
    assert set(store.contexts()) == expected
    assert set(store.contexts((None, RDF.type, PSM.Pillar))) == {URIRef(GRAPH + "plan")}


@pytest.mark.parametrize("name", FIXTURE_GRAPHS)
def test_rdflib_dataset_named_graph_matches_the_store(served: Served, name: str) -> None:
    """A named graph of a Dataset: rdflib asks with default-graph-uri=<the graph>."""
    dataset = Dataset(store="SPARQLStore")
    dataset.open(served.endpoint)
    graph = dataset.get_context(URIRef(GRAPH + name))
    expected = store_graph(
        served.store, f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{GRAPH}{name}> {{ ?s ?p ?o }} }}"
    )
    assert isomorphic(triples_graph(graph.triples((None, None, None))), expected)
    assert len(graph) == len(expected)


def test_rdflib_dataset_default_graph_is_the_union_of_the_named_graphs(served: Served) -> None:
    dataset = Dataset(store="SPARQLStore")
    dataset.open(served.endpoint)
    assert len(dataset) == store_count(served.store)
    default = triples_graph(dataset.default_graph.triples((None, None, None)))
    assert isomorphic(default, store_graph(served.store, EVERY_TRIPLE))


# --- Comunica (Node) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComunicaRun:
    answer: dict[str, Any]
    warnings: str


ComunicaQuery = Callable[[str, str], ComunicaRun]


NODE_MAJOR = 20  # Comunica 4 needs Node.js 20 or later (package.json, "engines")


def _node_problem(node: str | None) -> str | None:
    """Why Node.js cannot run the script, or None."""
    if node is None:
        return f"node is not on PATH: install Node.js {NODE_MAJOR} or later"
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout.strip()
    major = version.removeprefix("v").split(".")[0]
    if not major.isdigit() or int(major) < NODE_MAJOR:
        return f"{node} is Node.js {version or '(unknown version)'}; Comunica needs {NODE_MAJOR}+"
    return None


@pytest.fixture(scope="module")
def comunica() -> ComunicaQuery:
    """Runs tests/clients/comunica-query.mjs. Without Node.js or the npm packages the Comunica
    tests skip, saying what to do; on CI (CI=true) they fail instead."""
    node = shutil.which("node")
    problems = [_node_problem(node)]
    if not COMUNICA_PACKAGE.is_file():
        problems.append(f"@comunica/query-sparql is not installed: run `make node` in {REPO}")
    message = "; ".join(problem for problem in problems if problem)
    if message:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Comunica tests cannot run: {message}")
        pytest.skip(message)
    assert node is not None

    def run(source: str, query: str) -> ComunicaRun:
        completed = subprocess.run(
            [node, str(COMUNICA_SCRIPT), source, query],
            capture_output=True,
            text=True,
            timeout=COMUNICA_TIMEOUT_S,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return ComunicaRun(json.loads(completed.stdout), completed.stderr)

    return run


def graph_from_quads(quads: list[dict[str, Any]]) -> Graph:
    assert all("graph" not in quad for quad in quads), "CONSTRUCT gives triples"
    return triples_graph(
        (json_term(q["subject"]), json_term(q["predicate"]), json_term(q["object"])) for q in quads
    )


@pytest.mark.parametrize("query", [THINGS, PILLAR_LABELS], ids=["things", "pillar-labels"])
def test_comunica_select_matches_the_store(
    served: Served, comunica: ComunicaQuery, query: str
) -> None:
    run = comunica(f"sparql@{served.endpoint}", query)
    assert run.answer["resultType"] == "bindings"
    answer = solutions_from_json(run.answer)
    expected = store_solutions(served.store, query)
    assert set(answer.variables) == set(expected.variables)  # Comunica orders them its own way
    assert answer.rows == expected.rows
    assert run.warnings == ""


@pytest.mark.parametrize("query", [ASK_PILLAR, ASK_NOTHING], ids=["true", "false"])
def test_comunica_ask_matches_the_store(
    served: Served, comunica: ComunicaQuery, query: str
) -> None:
    run = comunica(f"sparql@{served.endpoint}", query)
    assert run.answer["resultType"] == "boolean"
    assert run.answer["boolean"] is store_boolean(served.store, query)
    assert run.warnings == ""


@pytest.mark.parametrize("query", [CONSTRUCT_PLAN, DESCRIBE_EDITION], ids=["construct", "describe"])
def test_comunica_construct_matches_the_store(
    served: Served, comunica: ComunicaQuery, query: str
) -> None:
    run = comunica(f"sparql@{served.endpoint}", query)
    assert run.answer["resultType"] == "quads"
    assert isomorphic(graph_from_quads(run.answer["quads"]), store_graph(served.store, query))
    assert run.warnings == ""


def test_comunica_finds_the_endpoint_by_its_service_description(
    served: Served, comunica: ComunicaQuery
) -> None:
    """Given a bare URL, Comunica first GETs it (no query) for an RDF description of what it is."""
    run = comunica(served.endpoint, PILLAR_LABELS)
    assert "Metadata extraction" not in run.warnings, run.warnings
    assert run.warnings == ""
    assert solutions_from_json(run.answer).rows == store_solutions(served.store, PILLAR_LABELS).rows
