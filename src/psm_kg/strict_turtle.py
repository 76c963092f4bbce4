"""Turtle and N-Triples through pyoxigraph: fast, strict, and the rdflib terms rdflib would make.

rdflib's own Turtle parser is pure Python (about 50 µs a triple here, and quadratic on long
multi-line strings) and lets through IRIs with spaces and malformed language tags, which the SHACL
engine then refuses as if the shapes were wrong. pyoxigraph parses in Rust, follows the grammar,
and says where a problem is. Its terms are turned into the rdflib terms rdflib's parser would
make (simple literals untyped, fresh blank nodes per document), except that language tags come
out in lower case; RDF compares them ignoring case, and so does rdflib.
"""

from __future__ import annotations

import re
from typing import Any

import rdflib
from rdflib.namespace import XSD
from rdflib.term import BNode, Literal, Node, URIRef


def parse_strictly(text: str, rdf_format: str, base: str) -> rdflib.Graph:
    """Parse Turtle ("turtle") or N-Triples ("nt"); raises SyntaxError with line and column."""
    import pyoxigraph

    oxigraph_format = (
        pyoxigraph.RdfFormat.TURTLE if rdf_format == "turtle" else pyoxigraph.RdfFormat.N_TRIPLES
    )
    parser = pyoxigraph.parse(text, format=oxigraph_format, base_iri=base)
    graph = rdflib.Graph()
    terms = _RdflibTerms()  # one per document: its blank node labels are its own
    graph.addN((*terms.triple(quad), graph) for quad in parser)
    for prefix, namespace in parser.prefixes.items():
        graph.bind(prefix, namespace)
    return graph


class _RdflibTerms:
    """pyoxigraph terms as the rdflib terms rdflib's own parser would have made."""

    def __init__(self) -> None:
        self.iris: dict[str, URIRef] = {}  # documents repeat IRIs: build each once
        self.blank_nodes: dict[str, BNode] = {}  # fresh rdflib names, as rdflib's parser gives

    def triple(self, quad: Any) -> tuple[Node, Node, Node]:
        return self.term(quad.subject), self.term(quad.predicate), self.term(quad.object)

    def term(self, term: Any) -> Node:
        kind = type(term).__name__
        if kind == "NamedNode":
            return self.iri(term.value)
        if kind == "BlankNode":
            return self.blank_nodes.setdefault(term.value, BNode())
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == _XSD_STRING:
            return Literal(term.value)  # rdflib keeps simple literals untyped
        return Literal(term.value, datatype=self.iri(datatype))

    def iri(self, value: str) -> URIRef:
        iri = self.iris.get(value)
        if iri is None:
            iri = self.iris[value] = URIRef(value)
        return iri


_XSD_STRING = str(XSD.string)


def strict_reason(error: SyntaxError, text: str) -> str:
    """pyoxigraph's reason without its own position prefix, quoting the text it points at."""
    # "Parser error at line 2 between columns 1 and 33: Invalid IRI code point ' ' (line 2)"
    reason = re.sub(
        r"^Parser error at line \d+ (?:between columns \d+ and \d+|column \d+): ", "", str(error)
    )
    reason = re.sub(r" \(line \d+\)$", "", reason)
    reason = reason[:1].lower() + reason[1:]
    start, end = error.offset, getattr(error, "end_offset", None)
    if error.lineno and start and end and getattr(error, "end_lineno", None) == error.lineno:
        line = text.split("\n", error.lineno)[error.lineno - 1]
        quoted = line[start - 1 : end].strip()
        if 1 < len(quoted) <= 80 and quoted not in reason:
            reason += f": {quoted}"
    return reason
