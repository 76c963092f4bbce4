"""What the /ontology and /shapes pages show, read from their named graphs in the store.

The ontology page documents every class and property of the psm: namespace (labels in Italian and
English, comments, domain and range, super-classes) with examples of use taken from the data; the
shapes page lists every shape with an IRI: its name, message, severity, target and path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psm_kg import urls
from psm_kg.page_data import OWL, RDF, RDFS, Link, Reader, Term, compact

SH = "http://www.w3.org/ns/shacl#"
EXAMPLES_PER_TERM = 3
# Marks, in a query result, the node shape that holds a property shape (never in the data).
PARENT = "urn:x-psm-kg:parent-shape"


@dataclass
class TermDoc:
    link: Link
    anchor: str
    kind: str  # "class" or the local name of the property's OWL type
    labels: dict[str, str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    domains: list[Link] = field(default_factory=list)
    ranges: list[Link] = field(default_factory=list)
    parents: list[Link] = field(default_factory=list)
    examples: list[tuple[Link, Link, Link | str]] = field(default_factory=list)


@dataclass
class ShapeDoc:
    iri: str
    anchor: str
    name: str
    kind: str  # NodeShape or PropertyShape
    severity: str
    messages: list[str] = field(default_factory=list)
    targets: list[tuple[str, Link | str]] = field(default_factory=list)
    path: str = ""
    parents: list[str] = field(default_factory=list)


def graph_construct(graph_iri: str) -> str:
    """The CONSTRUCT of every triple of one named graph (the served RDF of /ontology, /shapes)."""
    return f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph_iri}> {{ ?s ?p ?o }} }}"


def ontology_terms(reader: Reader) -> tuple[list[TermDoc], list[TermDoc]]:
    """The classes and the properties of the psm: namespace, by label."""
    base = reader.base_iri
    namespace = urls.ontology_namespace(base)
    graph = urls.graph_iri(base, urls.ONTOLOGY_PART)
    rows = reader.select(
        f"SELECT ?t ?kind ?p ?o WHERE {{ GRAPH <{graph}> {{ ?t a ?kind ; ?p ?o "
        f'FILTER(STRSTARTS(STR(?t), "{namespace}")) '
        f"FILTER(?kind IN (<{OWL}Class>, <{OWL}ObjectProperty>, <{OWL}DatatypeProperty>, "
        f"<{OWL}AnnotationProperty>)) }} }}"
    )
    reader.load_labels({r["t"].value for r in rows} | {r["o"].value for r in rows if r["o"].is_iri})
    terms: dict[str, TermDoc] = {}
    for row in rows:
        iri = row["t"].value
        kind = row["kind"].value.removeprefix(OWL)
        doc = terms.setdefault(iri, TermDoc(reader.link(iri), iri[len(namespace) :], kind))
        if kind == "Class":
            doc.kind = kind
        prop, obj = row["p"].value, row["o"]
        if prop == RDFS + "label" and obj.lang:
            doc.labels[obj.lang] = obj.value
        elif prop == RDFS + "comment" and obj.lang:
            doc.comments[obj.lang] = obj.value
        elif obj.is_iri and prop in (RDFS + "domain", RDFS + "range", RDFS + "subClassOf"):
            target = {RDFS + "domain": doc.domains, RDFS + "range": doc.ranges}.get(
                prop, doc.parents
            )
            link = reader.link(obj.value)
            if link not in target:
                target.append(link)
    _add_examples(reader, terms, namespace, graph)
    ordered = sorted(terms.values(), key=lambda d: d.anchor.casefold())
    return [d for d in ordered if d.kind == "Class"], [d for d in ordered if d.kind != "Class"]


def _add_examples(reader: Reader, terms: dict[str, TermDoc], namespace: str, graph: str) -> None:
    """Up to EXAMPLES_PER_TERM uses of each term in the data: instances of a class, triples of a
    property (the ontology's own graph excluded)."""
    rows = reader.select(
        "SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } "
        f"FILTER(?g != <{graph}> && isIRI(?s)) "
        f'FILTER(STRSTARTS(STR(?p), "{namespace}") || (?p = <{RDF}type> && isIRI(?o) && '
        f'STRSTARTS(STR(?o), "{namespace}"))) }} ORDER BY ?s ?p ?o'
    )
    chosen: dict[str, list[dict[str, Term]]] = {}
    for row in rows:
        predicate = row["p"].value
        term = row["o"].value if predicate == RDF + "type" else predicate
        if term in terms and len(chosen.setdefault(term, [])) < EXAMPLES_PER_TERM:
            chosen[term].append(row)
    picked = [row for uses in chosen.values() for row in uses]
    reader.load_labels(
        {row["s"].value for row in picked} | {row["o"].value for row in picked if row["o"].is_iri}
    )
    for term, uses in chosen.items():
        for row in uses:
            obj = row["o"]
            shown: Link | str = reader.link(obj.value) if obj.is_iri else obj.value
            terms[term].examples.append(
                (reader.link(row["s"].value), reader.link(row["p"].value), shown)
            )


def shapes(reader: Reader) -> list[ShapeDoc]:
    """Every shape with an IRI in the shapes graph, node shapes first, then by name."""
    graph = urls.shapes_graph_iri(reader.base_iri)
    rows = reader.select(
        f"SELECT ?s ?kind ?p ?o WHERE {{ GRAPH <{graph}> {{ ?s a ?kind . "
        f"FILTER(isIRI(?s) && ?kind IN (<{SH}NodeShape>, <{SH}PropertyShape>)) "
        f"{{ ?s ?p ?o }} UNION {{ ?o <{SH}property> ?s BIND(<{PARENT}> AS ?p) }} }} }}"
    )
    reader.load_labels({row["o"].value for row in rows if row["o"].is_iri})
    docs: dict[str, ShapeDoc] = {}
    for row in rows:
        iri = row["s"].value
        anchor = iri.rpartition("#")[2] or iri.rpartition("/")[2]
        kind = row["kind"].value.removeprefix(SH)
        doc = docs.setdefault(iri, ShapeDoc(iri, anchor, anchor, kind, ""))
        prop, obj = row["p"].value, row["o"]
        if prop == SH + "name" and obj.lang == reader.lang:
            doc.name = obj.value
        elif prop == SH + "message" and obj.lang in (reader.lang, ""):
            doc.messages.append(obj.value)
        elif prop == SH + "severity":
            doc.severity = obj.value.removeprefix(SH)
        elif prop.startswith(SH + "target"):
            shown: Link | str = reader.link(obj.value) if obj.is_iri else "SPARQL"
            doc.targets.append((prop.removeprefix(SH), shown))
        elif prop == SH + "path":
            doc.path = compact(obj.value) if obj.is_iri else "…"
        elif prop == PARENT and obj.is_iri:
            doc.parents.append(obj.value.rpartition("#")[2] or obj.value)
    for doc in docs.values():
        doc.parents.sort()
        doc.messages.sort()
    return sorted(docs.values(), key=lambda d: (d.kind, d.anchor.casefold()))
