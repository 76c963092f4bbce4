"""Writing a page of SELECT or ASK results for the named-query API (api.py), from SPARQL JSON.

The query worker answers a named SELECT or ASK in SPARQL 1.1 Query Results JSON; the API may cut
a page out of it (the worker is asked for one row more than the page, to know whether a next page
exists) and then writes the page in the negotiated format here, in the server process:

- ``application/json``: a plain JSON array, one object per row, keyed by variable, every variable
  of the head in every object (``null`` when unbound). The mapping of RDF terms:

  ===============================================  ==========================================
  RDF term                                         JSON value
  ===============================================  ==========================================
  IRI                                              the IRI as a string
  blank node                                       ``"_:label"``
  literal ``xsd:integer`` (and types derived       a number (``5``)
  from it: ``xsd:int``, ``xsd:long``,
  ``xsd:nonNegativeInteger``...)
  literal ``xsd:decimal``, ``xsd:double``,         a number (``2.5``); NaN and infinities,
  ``xsd:float``                                    which JSON cannot hold, stay strings
  literal ``xsd:boolean``                          ``true`` or ``false``
  any other literal (strings, language-tagged      its lexical form as a string; the language
  strings, dates...)                               tag and the datatype are dropped
  unbound variable                                 ``null``
  ===============================================  ==========================================

  A literal whose lexical form is not valid for its numeric or boolean datatype stays a string.
  ASK answers ``true`` or ``false``.
- ``application/sparql-results+json``: the same page in SPARQL JSON, terms and tags kept.
- ``text/csv`` and ``text/tab-separated-values``: SPARQL 1.1 Query Results CSV and TSV Formats
  (CSV: lexical forms only, CRLF line ends, quoted when needed; TSV: terms in SPARQL syntax).

Pure: no HTTP, no engine.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psm_kg import formats
from psm_kg.formats import Format

XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_STRING = XSD + "string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
INTEGER_TYPES = frozenset(
    XSD + name
    for name in (
        "integer",
        "int",
        "long",
        "short",
        "byte",
        "nonNegativeInteger",
        "nonPositiveInteger",
        "positiveInteger",
        "negativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    )
)
DECIMAL_TYPES = frozenset((XSD + "decimal", XSD + "double", XSD + "float"))
BOOLEAN = XSD + "boolean"

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

# A SPARQL JSON term: {"type": "uri"|"bnode"|"literal"|"triple", "value", "xml:lang"?, "datatype"?}
Term = Mapping[str, Any]
Row = Mapping[str, Term]

# The formats a page of SELECT results can be written in, the default first. The plain JSON
# array comes first: it answers application/json and */* (SPARQL JSON answers application/json
# only as an alias, and loses the tie to the format that names it).
SELECT_FORMATS: tuple[Format, ...] = (
    formats.JSON,
    formats.SPARQL_JSON,
    formats.SPARQL_CSV,
    formats.SPARQL_TSV,
)
ASK_FORMATS: tuple[Format, ...] = (formats.JSON, formats.SPARQL_JSON)


class MalformedResults(ValueError):
    """The worker's answer is not SPARQL JSON (a bug, never the client's doing)."""


@dataclass(frozen=True)
class Solutions:
    """The rows of a SELECT answer, with its variables in the order of the head."""

    variables: tuple[str, ...]
    rows: tuple[Row, ...]
    link: tuple[str, ...] = ()

    @classmethod
    def from_sparql_json(cls, body: bytes) -> Solutions:
        try:
            document = json.loads(body)
            head = document["head"]
            variables = tuple(str(name) for name in head.get("vars", ()))
            rows = tuple(document["results"]["bindings"])
            link = tuple(str(item) for item in head.get("link", ()))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise MalformedResults(f"not SPARQL JSON SELECT results: {error}") from None
        return cls(variables, rows, link)

    def page(self, limit: int) -> tuple[Solutions, bool]:
        """The first ``limit`` rows, and whether there were more."""
        more = len(self.rows) > limit
        return Solutions(self.variables, self.rows[:limit], self.link), more


def boolean_of(body: bytes) -> bool:
    """The answer of an ASK in SPARQL JSON."""
    try:
        value = json.loads(body)["boolean"]
    except (ValueError, KeyError, TypeError) as error:
        raise MalformedResults(f"not SPARQL JSON ASK results: {error}") from None
    if not isinstance(value, bool):
        raise MalformedResults("the boolean of an ASK answer is not true or false")
    return value


# --- writing -----------------------------------------------------------------------------------


def render_solutions(solutions: Solutions, fmt: Format) -> bytes:
    """A page of SELECT results in one of :data:`SELECT_FORMATS` (ValueError for another)."""
    if fmt is formats.JSON:
        return _dumps([plain_row(solutions.variables, row) for row in solutions.rows])
    if fmt is formats.SPARQL_JSON:
        head: dict[str, Any] = {"vars": list(solutions.variables)}
        if solutions.link:
            head["link"] = list(solutions.link)
        return _dumps({"head": head, "results": {"bindings": list(solutions.rows)}})
    if fmt is formats.SPARQL_CSV:
        return _csv(solutions)
    if fmt is formats.SPARQL_TSV:
        return _tsv(solutions)
    raise ValueError(f"SELECT results are not written as {fmt.name} here")


def render_boolean(value: bool, fmt: Format) -> bytes:
    """An ASK answer in one of :data:`ASK_FORMATS`."""
    if fmt is formats.JSON:
        return _dumps(value)
    if fmt is formats.SPARQL_JSON:
        return _dumps({"head": {}, "boolean": value})
    raise ValueError(f"ASK results are not written as {fmt.name} here")


def _dumps(value: Any) -> bytes:
    # ensure_ascii off: UTF-8 out, as the media types say; control characters are still escaped.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def plain_row(variables: Sequence[str], row: Row) -> dict[str, Any]:
    """One row as a plain JSON object (the mapping in the module docstring)."""
    return {name: plain_value(row[name]) if name in row else None for name in variables}


def plain_value(term: Term) -> Any:
    """The JSON value of one SPARQL JSON term."""
    kind = term.get("type")
    value = str(term.get("value", ""))
    if kind == "bnode":
        return "_:" + value
    if kind in ("literal", "typed-literal"):
        return _literal_value(value, term.get("datatype"))
    if kind == "triple":
        return _tsv_term(term)
    return value


def _literal_value(lexical: str, datatype: object) -> Any:
    text = lexical.strip()
    if datatype in INTEGER_TYPES and _INTEGER.fullmatch(text):
        return int(text)
    if datatype in DECIMAL_TYPES and _DECIMAL.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return int(number) if datatype == XSD + "decimal" and number.is_integer() else number
    if datatype == BOOLEAN and text in ("true", "false", "1", "0"):
        return text in ("true", "1")
    return lexical


def _csv(solutions: Solutions) -> bytes:
    """SPARQL 1.1 CSV: a header of names, then lexical forms; blank nodes as _:label."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(solutions.variables)
    for row in solutions.rows:
        writer.writerow(
            [_csv_value(row[name]) if name in row else "" for name in solutions.variables]
        )
    return out.getvalue().encode("utf-8")


def _csv_value(term: Term) -> str:
    if term.get("type") == "bnode":
        return "_:" + str(term.get("value", ""))
    if term.get("type") == "triple":
        return _tsv_term(term)
    return str(term.get("value", ""))


def _tsv(solutions: Solutions) -> bytes:
    """SPARQL 1.1 TSV: a header of ?names, then terms in SPARQL syntax, tab-separated."""
    lines = ["\t".join("?" + name for name in solutions.variables)]
    for row in solutions.rows:
        lines.append(
            "\t".join(_tsv_term(row[name]) if name in row else "" for name in solutions.variables)
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _tsv_term(term: Term) -> str:
    kind = term.get("type")
    value = term.get("value", "")
    if kind == "uri":
        return f"<{value}>"
    if kind == "bnode":
        return f"_:{value}"
    if kind == "triple" and isinstance(value, Mapping):
        parts = (value.get(key) for key in ("subject", "predicate", "object"))
        return "<< " + " ".join(_tsv_term(part) for part in parts if part is not None) + " >>"
    text = '"' + "".join(_ESCAPES.get(char, char) for char in str(value)) + '"'
    language = term.get("xml:lang")
    if language:
        return f"{text}@{language}"
    datatype = term.get("datatype")
    if datatype and datatype not in (XSD_STRING, RDF_LANG_STRING):
        return f"{text}^^<{datatype}>"
    return text
