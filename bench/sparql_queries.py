"""The queries of bench/bench_sparql.py: the project's queries/*.rq and the heavier ones written
here, the harmless variation that makes a request uncached, and how the answers are counted.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pyoxigraph as ox

from psm_kg import named_queries, sparql_text
from sparql_report import Query
from sparql_servers import N_TRIPLES, SPARQL_JSON

ROOT = Path(__file__).resolve().parents[1]
NONCE = "__NONCE__"  # as in loadgen.py: replaced by a fresh token per request

_PREFIXES = """PREFIX clv: <https://w3id.org/italia/onto/CLV/>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX psm: <https://w3id.org/psm/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""

# The heavier queries: they touch every copy of the plan, so their work grows with the size.
# DISTINCT where property-path alternatives or a triple in two graphs could repeat a row: engines
# differ there (the union default graph is a set in rdflib, a multiset of quads in Oxigraph).
HEAVY_QUERIES: dict[str, str] = {
    "bench-path-hierarchy": _PREFIXES
    + """# Every node and each of its ancestors along four hierarchies: the closure of a path
# alternative.
SELECT DISTINCT ?node ?ancestor
WHERE {
  ?node (clv:hasDirectHigherRank|skos:broader|psm:previousStep|psm:previousEdition)+ ?ancestor
}
""",
    "bench-path-class-counts": _PREFIXES
    + """# Instances per class, superclasses included (a/rdfs:subClassOf*), counted.
SELECT ?class (COUNT(DISTINCT ?instance) AS ?instances)
WHERE { ?instance a/rdfs:subClassOf* ?class }
GROUP BY ?class
ORDER BY DESC(?instances) ?class
""",
    "bench-aggregate-predicates": """# Triples and subjects per predicate, over every quad.
SELECT ?predicate (COUNT(*) AS ?triples) (COUNT(DISTINCT ?subject) AS ?subjects)
WHERE { GRAPH ?graph { ?subject ?predicate ?object } }
GROUP BY ?predicate
ORDER BY DESC(?triples) ?predicate
""",
    "bench-aggregate-graphs": """# Triples, subjects and predicates per named graph.
SELECT ?graph (COUNT(*) AS ?triples) (COUNT(DISTINCT ?subject) AS ?subjects)
       (COUNT(DISTINCT ?predicate) AS ?predicates)
WHERE { GRAPH ?graph { ?subject ?predicate ?object } }
GROUP BY ?graph
ORDER BY ?graph
""",
    "bench-text-labels": _PREFIXES
    + """# Names, titles and descriptions in Italian or English that mention a theme.
SELECT DISTINCT ?entity ?text (lang(?text) AS ?language)
WHERE {
  ?entity rdfs:label|skos:prefLabel|skos:altLabel|dct:title|dct:description ?text .
  FILTER (lang(?text) IN ("it", "en"))
  FILTER (CONTAINS(LCASE(STR(?text)), "metropolitan")
          || REGEX(STR(?text), "svilupp|develop|sostenibil|sustainab|mobilit", "i"))
}
ORDER BY ?entity ?text
""",
}

# --- queries and their variations ----------------------------------------------------------------


def query_form(text: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE, as psm-kg reads it off the text."""
    form = sparql_text.query_form(text)
    if form is None:
        raise ValueError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE")
    return str(form)


VARIATIONS = ("comment", "prefix")


def vary_query(text: str, nonce: str, style: str = "comment") -> str:
    """The query with a harmless difference that makes its text, and so any cache key, new.

    comment: a trailing ``# nonce N`` line; prefix: an unused PREFIX declaration in front.
    The nonce must be letters, digits and underscores.
    """
    if not re.fullmatch(r"\w+", nonce):
        raise ValueError(f"nonce {nonce!r}: letters, digits and underscores only")
    if style == "comment":
        return f"{text.rstrip()}\n# nonce {nonce}\n"
    if style == "prefix":
        return f"PREFIX n{nonce}: <urn:nonce:{nonce}>\n{text}"
    raise ValueError(f"unknown variation {style!r}: use one of {', '.join(VARIATIONS)}")


def load_queries(root: Path = ROOT) -> list[Query]:
    """The project's named queries as a caller of /api/queries would run them, then the heavier
    ones. Every server gets the same text, so a named query's parameters are written into it
    (psm-kg's own SEP-0007 substitution, as it does for a remote store): its defaults, or the
    values of its first declared example where a parameter has no default."""
    named, problems = named_queries.load_named_queries(root / "queries")
    if problems:
        raise ValueError("; ".join(str(problem) for problem in problems))
    queries = [
        Query(query.name, text, query_form(text), "queries/")
        for query in named
        for text in [_bound_text(query)]
    ]
    queries += [
        Query(name, text, query_form(text), "bench") for name, text in HEAVY_QUERIES.items()
    ]
    return queries


def _bound_text(query: named_queries.NamedQuery) -> str:
    required = [parameter.name for parameter in query.parameters if parameter.required]
    example = next((e.params for e in query.examples if set(required) <= set(e.params)), {})
    terms = named_queries.bind(query, {name: example[name] for name in required})
    return sparql_text.substitute(query.text, {name: str(term) for name, term in terms.items()})


def accept_for(query: Query) -> str:
    return SPARQL_JSON if query.form in ("SELECT", "ASK") else N_TRIPLES


_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def answer_rows(body: bytes, media_type: str) -> tuple[int, str]:
    """Rows of an answer (solutions, 1 for a boolean, triples of a graph) and a digest of them
    that ignores order, blank node labels and the spelling of plain literals."""
    if "json" in media_type:
        document = json.loads(body)
        if "boolean" in document:
            rows = [[str(document["boolean"]).lower()]]
        else:
            rows = []
            for binding in document["results"]["bindings"]:
                row = []
                for variable in sorted(binding):
                    term = binding[variable]
                    kind = "literal" if term["type"] == "typed-literal" else term["type"]
                    value = "_" if kind == "bnode" else term["value"]
                    datatype = term.get("datatype")
                    datatype = None if datatype == _XSD_STRING else datatype
                    row.append(f"{variable}={kind}|{value}|{datatype}|{term.get('xml:lang')}")
                rows.append(row)
    else:
        triples = {
            tuple("_" if isinstance(t, ox.BlankNode) else str(t) for t in quad.triple)
            for quad in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)
        }
        rows = [list(triple) for triple in triples]
    digest = hashlib.sha256(json.dumps(sorted(rows)).encode()).hexdigest()[:16]
    return len(rows), digest
