"""One table of the serialisation formats this project reads and writes.

Each format has a name, its canonical media type, its file extension and a kind: ``results`` for
SPARQL SELECT/ASK results, ``graph`` for triples, ``dataset`` for quads, ``document`` for what is
not RDF (a validation report as JSON or as an HTML page). Lookups ignore media type parameters
(``; charset=utf-8``) and case. A media type names one format: ``application/json`` is the JSON
document; SPARQL JSON answers to it only as an alias, when a router offers SPARQL results.

The serialisers themselves live with the thing they serialise (store.py maps a Format onto
pyoxigraph's own format by media type), so this module stays free of engine types and the
routers can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FormatKind(StrEnum):
    RESULTS = "results"
    GRAPH = "graph"
    DATASET = "dataset"
    DOCUMENT = "document"


# Compared and hashed by identity: every format is one of the constants below, and negotiation
# hashes them on every request.
@dataclass(frozen=True, eq=False)
class Format:
    name: str
    media_type: str
    extension: str
    kind: FormatKind
    # Other media types clients send for the same thing; matched in Accept, never sent back.
    aliases: tuple[str, ...] = ()

    @property
    def media_types(self) -> tuple[str, ...]:
        return (self.media_type, *self.aliases)


SPARQL_JSON = Format(
    "SPARQL JSON",
    "application/sparql-results+json",
    "srj",
    FormatKind.RESULTS,
    ("application/json",),
)
SPARQL_XML = Format("SPARQL XML", "application/sparql-results+xml", "srx", FormatKind.RESULTS)
SPARQL_CSV = Format("SPARQL CSV", "text/csv", "csv", FormatKind.RESULTS)
SPARQL_TSV = Format("SPARQL TSV", "text/tab-separated-values", "tsv", FormatKind.RESULTS)
TURTLE = Format("Turtle", "text/turtle", "ttl", FormatKind.GRAPH, ("application/x-turtle",))
N_TRIPLES = Format("N-Triples", "application/n-triples", "nt", FormatKind.GRAPH)
JSON_LD = Format("JSON-LD", "application/ld+json", "jsonld", FormatKind.GRAPH)
RDF_XML = Format("RDF/XML", "application/rdf+xml", "rdf", FormatKind.GRAPH)
N_QUADS = Format("N-Quads", "application/n-quads", "nq", FormatKind.DATASET)
TRIG = Format("TriG", "application/trig", "trig", FormatKind.DATASET)
JSON = Format("JSON", "application/json", "json", FormatKind.DOCUMENT)
HTML = Format("HTML", "text/html", "html", FormatKind.DOCUMENT)

FORMATS: tuple[Format, ...] = (
    SPARQL_JSON,
    SPARQL_XML,
    SPARQL_CSV,
    SPARQL_TSV,
    TURTLE,
    N_TRIPLES,
    JSON_LD,
    RDF_XML,
    N_QUADS,
    TRIG,
    JSON,
    HTML,
)


def essence(media_type: str) -> str:
    """``Text/Turtle; charset=UTF-8`` -> ``text/turtle``: the part that names the format."""
    return media_type.split(";", 1)[0].strip().lower()


def by_media_type(media_type: str) -> Format | None:
    """The format a media type names, parameters ignored: its canonical type first, then aliases."""
    wanted = essence(media_type)
    canonical = next((fmt for fmt in FORMATS if wanted == fmt.media_type), None)
    return canonical or next((fmt for fmt in FORMATS if wanted in fmt.aliases), None)


def by_extension(extension: str) -> Format | None:
    """The format for a file extension, with or without the leading dot."""
    wanted = extension.lower().removeprefix(".")
    return next((fmt for fmt in FORMATS if fmt.extension == wanted), None)


def of_kind(kind: FormatKind) -> tuple[Format, ...]:
    """The formats of one kind, in table order (the server's order of preference)."""
    return tuple(fmt for fmt in FORMATS if fmt.kind is kind)


# Short names a client may give in a ``format`` parameter, each naming the formats it may mean.
# "json" and "xml" mean a results format for SELECT and ASK and an RDF format for graphs. The
# spellings SPARQLWrapper sends (rdf+xml, n3, json-ld) are here too.
FORMAT_NAMES: dict[str, tuple[Format, ...]] = {
    "json": (SPARQL_JSON, JSON_LD, JSON),
    "xml": (SPARQL_XML, RDF_XML),
    "csv": (SPARQL_CSV,),
    "tsv": (SPARQL_TSV,),
    "srj": (SPARQL_JSON,),
    "srx": (SPARQL_XML,),
    "turtle": (TURTLE,),
    "ttl": (TURTLE,),
    "n3": (TURTLE,),  # Turtle is N3 without its extensions: an N3 reader reads it
    "text/n3": (TURTLE,),
    "ntriples": (N_TRIPLES,),
    "n-triples": (N_TRIPLES,),
    "nt": (N_TRIPLES,),
    "jsonld": (JSON_LD,),
    "json-ld": (JSON_LD,),
    "rdfxml": (RDF_XML,),
    "rdf/xml": (RDF_XML,),
    "rdf+xml": (RDF_XML,),
    "rdf": (RDF_XML,),
    "nquads": (N_QUADS,),
    "n-quads": (N_QUADS,),
    "nq": (N_QUADS,),
    "trig": (TRIG,),
    "html": (HTML,),
}


def by_name(name: str) -> tuple[Format, ...]:
    """The formats a ``format`` parameter names: a short name or a media type; () if unknown."""
    wanted = name.strip().lower()
    if wanted in FORMAT_NAMES:
        return FORMAT_NAMES[wanted]
    fmt = by_media_type(wanted) if "/" in wanted else None
    if fmt is None:
        return ()
    # application/json names SPARQL JSON too, as in Accept
    return (fmt, SPARQL_JSON) if fmt is JSON else (fmt,)
