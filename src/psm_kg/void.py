"""The VoID description of the knowledge graph, computed by build.py, served at /.well-known/void.

One ``void:Dataset`` (the same IRI as the DCAT dataset of the catalogue) with: the triples of the
union graph, the distinct subjects, classes and properties; a class partition per class (entities)
and a property partition per property (triples); one subset per named graph with its triple count
and ``sd:name``; the SPARQL endpoint, every dump, the URI space of the data, the vocabularies its
classes and properties come from, and example resources. Written as sorted N-Triples to
``dist/void.nt``; the counts are those of the store loaded from the same build.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pyoxigraph as ox

from psm_kg import dumps, urls
from psm_kg.catalog_graph import dataset_iri

VOID_FILE = "void.nt"
VOID = "http://rdfs.org/ns/void#"
SD = "http://www.w3.org/ns/sparql-service-description#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_INTEGER = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
DCT_TITLE = ox.NamedNode("http://purl.org/dc/terms/title")
PREFIXES = {"void": VOID, "sd": SD, "dct": "http://purl.org/dc/terms/"}

# Entities shown as examples, when the data has them: the current plan edition and a pillar.
EXAMPLE_PATHS = ("plan/psttm-2025-2027", "pillar/2025-2027/sostenibilita", "plan/psttm")


def _v(name: str) -> ox.NamedNode:
    return ox.NamedNode(VOID + name)


def _int(number: int) -> ox.Literal:
    return ox.Literal(str(number), datatype=XSD_INTEGER)


def namespace_of(iri: str) -> str:
    """The namespace of a term: up to the last ``#``, else up to the last ``/``."""
    cut = iri.rfind("#")
    if cut < 0:
        cut = iri.rfind("/")
    return iri[: cut + 1]


def _triples(dataset: ox.Dataset, base_iri: str) -> Iterator[ox.Triple]:
    union = {(q.subject, q.predicate, q.object) for q in dataset}
    node = ox.NamedNode(dataset_iri(base_iri))
    rdf_type = ox.NamedNode(RDF_TYPE)
    yield ox.Triple(node, rdf_type, _v("Dataset"))
    yield ox.Triple(
        node,
        DCT_TITLE,
        ox.Literal(
            "Knowledge graph of the PSTTM of the Città metropolitana di Milano", language="en"
        ),
    )
    yield ox.Triple(node, _v("triples"), _int(len(union)))
    yield ox.Triple(node, _v("distinctSubjects"), _int(len({s for s, _, _ in union})))
    yield ox.Triple(node, _v("distinctObjects"), _int(len({o for _, _, o in union})))
    properties = Counter(p.value for _, p, _ in union)
    classes: dict[str, set[ox.NamedNode | ox.BlankNode]] = {}
    for s, p, o in union:
        if p.value == RDF_TYPE and isinstance(o, ox.NamedNode) and not isinstance(s, ox.Triple):
            classes.setdefault(o.value, set()).add(s)
    yield ox.Triple(node, _v("properties"), _int(len(properties)))
    yield ox.Triple(node, _v("classes"), _int(len(classes)))
    yield ox.Triple(node, _v("sparqlEndpoint"), ox.NamedNode(urls.site_url(base_iri, "sparql")))
    yield ox.Triple(node, _v("uriSpace"), ox.Literal(urls.data_base(base_iri)))
    yield ox.Triple(node, _v("rootResource"), ox.NamedNode(urls.data_base(base_iri) + "plan/psttm"))
    for dump in dumps.all_dumps():
        yield ox.Triple(node, _v("dataDump"), ox.NamedNode(urls.dump_url(base_iri, dump.name)))
    for path in EXAMPLE_PATHS:
        example = ox.NamedNode(urls.data_base(base_iri) + path)
        if any(s == example for s, _, _ in union):
            yield ox.Triple(node, _v("exampleResource"), example)
    vocabularies = {namespace_of(p) for p in properties} | {namespace_of(c) for c in classes}
    for vocabulary in sorted(vocabularies):
        yield ox.Triple(node, _v("vocabulary"), ox.NamedNode(vocabulary))
    for index, (cls, members) in enumerate(sorted(classes.items())):
        part = ox.BlankNode(f"class{index}")
        yield ox.Triple(node, _v("classPartition"), part)
        yield ox.Triple(part, _v("class"), ox.NamedNode(cls))
        yield ox.Triple(part, _v("entities"), _int(len(members)))
    for index, (prop, count) in enumerate(sorted(properties.items())):
        part = ox.BlankNode(f"property{index}")
        yield ox.Triple(node, _v("propertyPartition"), part)
        yield ox.Triple(part, _v("property"), ox.NamedNode(prop))
        yield ox.Triple(part, _v("triples"), _int(count))
    graph_counts = Counter(q.graph_name for q in dataset if isinstance(q.graph_name, ox.NamedNode))
    for graph, count in sorted(graph_counts.items(), key=lambda item: str(item[0])):
        assert isinstance(graph, ox.NamedNode)
        part_name = graph.value.removeprefix(urls.graph_base(base_iri))
        subset = ox.NamedNode(dataset_iri(base_iri) + "/graph/" + part_name)
        yield ox.Triple(node, _v("subset"), subset)
        yield ox.Triple(subset, rdf_type, _v("Dataset"))
        yield ox.Triple(subset, ox.NamedNode(SD + "name"), graph)
        yield ox.Triple(subset, _v("triples"), _int(count))
        yield ox.Triple(
            subset, _v("sparqlEndpoint"), ox.NamedNode(urls.site_url(base_iri, "sparql"))
        )


def void_ntriples(dataset: ox.Dataset, base_iri: str) -> bytes:
    """Sorted N-Triples: the bytes of dist/void.nt."""
    body = ox.serialize(_triples(dataset, base_iri), format=ox.RdfFormat.N_TRIPLES)
    assert body is not None
    return b"".join(sorted(body.splitlines(keepends=True)))
