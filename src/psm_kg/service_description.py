"""The SPARQL 1.1 Service Description of /sparql: what this server really supports, as RDF.

Served on GET /sparql without a query (https://www.w3.org/TR/sparql11-service-description/).
It states only what holds: SPARQL 1.1 Query (no Update), the result and graph formats of
store.FORMATS_BY_KIND, the union default graph, no entailment beyond simple entailment, SERVICE
only when an allow-list is configured, and the default dataset: the default graph (the union of
the named graphs) and each named graph, with VoID triple counts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyoxigraph as ox

from psm_kg import formats
from psm_kg.formats import Format
from psm_kg.store import FORMATS_BY_KIND, DatasetStore

SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
DCT_TITLE = ox.NamedNode("http://purl.org/dc/terms/title")
FORMATS_NS = "http://www.w3.org/ns/formats/"
SIMPLE_ENTAILMENT = ox.NamedNode("http://www.w3.org/ns/entailment/Simple")

# W3C format IRIs (https://www.w3.org/ns/formats/) of the formats the endpoint writes.
FORMAT_IRIS: dict[Format, str] = {
    formats.SPARQL_JSON: "SPARQL_Results_JSON",
    formats.SPARQL_XML: "SPARQL_Results_XML",
    formats.SPARQL_CSV: "SPARQL_Results_CSV",
    formats.SPARQL_TSV: "SPARQL_Results_TSV",
    formats.TURTLE: "Turtle",
    formats.N_TRIPLES: "N-Triples",
    formats.JSON_LD: "JSON-LD",
    formats.RDF_XML: "RDF_XML",
    formats.N_QUADS: "N-Quads",
    formats.TRIG: "TriG",
}

PREFIXES = {"sd": SD, "void": VOID, "dct": "http://purl.org/dc/terms/", "formats": FORMATS_NS}


def _sd(name: str) -> ox.NamedNode:
    return ox.NamedNode(SD + name)


def _triples(
    endpoint: str, store: DatasetStore, allowed_services: Sequence[str]
) -> Iterator[ox.Triple]:
    service = ox.BlankNode("service")
    yield ox.Triple(service, RDF_TYPE, _sd("Service"))
    yield ox.Triple(service, _sd("endpoint"), ox.NamedNode(endpoint))
    yield ox.Triple(service, DCT_TITLE, ox.Literal("psm-kg SPARQL endpoint (read-only)"))
    yield ox.Triple(service, _sd("supportedLanguage"), _sd("SPARQL11Query"))
    yield ox.Triple(service, _sd("feature"), _sd("UnionDefaultGraph"))
    if allowed_services:
        yield ox.Triple(service, _sd("feature"), _sd("BasicFederatedQuery"))
    yield ox.Triple(service, _sd("defaultEntailmentRegime"), SIMPLE_ENTAILMENT)
    written = {fmt for kind_formats in FORMATS_BY_KIND.values() for fmt in kind_formats}
    for fmt, name in FORMAT_IRIS.items():
        if fmt in written:
            yield ox.Triple(service, _sd("resultFormat"), ox.NamedNode(FORMATS_NS + name))

    dataset = ox.BlankNode("dataset")
    yield ox.Triple(service, _sd("defaultDataset"), dataset)
    yield ox.Triple(dataset, RDF_TYPE, _sd("Dataset"))
    default_graph = ox.BlankNode("default")
    yield ox.Triple(dataset, _sd("defaultGraph"), default_graph)
    yield ox.Triple(default_graph, RDF_TYPE, _sd("Graph"))
    yield ox.Triple(default_graph, ox.NamedNode(VOID + "triples"), _count(store.union_size()))
    for index, (name, size) in enumerate(store.graph_sizes().items()):
        named = ox.BlankNode(f"named{index}")
        graph = ox.BlankNode(f"graph{index}")
        yield ox.Triple(dataset, _sd("namedGraph"), named)
        yield ox.Triple(named, RDF_TYPE, _sd("NamedGraph"))
        yield ox.Triple(named, _sd("name"), ox.NamedNode(name))
        yield ox.Triple(named, _sd("graph"), graph)
        yield ox.Triple(graph, RDF_TYPE, _sd("Graph"))
        yield ox.Triple(graph, ox.NamedNode(VOID + "triples"), _count(size))


def _count(number: int) -> ox.Literal:
    return ox.Literal(
        str(number), datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
    )


# Formats the description can be written as, the default first (curl's */* gets Turtle).
SD_FORMATS: tuple[Format, ...] = (
    formats.TURTLE,
    formats.JSON_LD,
    formats.RDF_XML,
    formats.N_TRIPLES,
)


def describe(
    endpoint: str, store: DatasetStore, allowed_services: Sequence[str], fmt: Format
) -> bytes:
    """The description of the endpoint at the absolute URL ``endpoint``, written as ``fmt``."""
    rdf_format = ox.RdfFormat.from_media_type(fmt.media_type)
    if rdf_format is None or fmt not in SD_FORMATS:
        raise ValueError(f"the service description is not written as {fmt.name}")
    prefixes = PREFIXES if fmt in (formats.TURTLE,) else None
    body = ox.serialize(
        _triples(endpoint, store, allowed_services), format=rdf_format, prefixes=prefixes
    )
    assert body is not None  # no output given: the bytes are returned
    return body
