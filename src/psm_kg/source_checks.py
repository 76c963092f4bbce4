"""Checks on untrusted RDF text that the parsers do not make, each returning a located reason.

Before parsing, a document is refused when reading it would fetch, open or expand something it
names: a JSON-LD `@context` given by reference or an `@import` (rdflib would fetch it), an XML
external or parameter entity, an XML entity defined through other entities (the "billion laughs"
expansion). Internal entities as OWL editors write them (`<!ENTITY xsd "http://...#">`) are fine.

After parsing, what rdflib accepts but RDF does not is refused with its place in the text: IRIs
with characters IRIs cannot hold (a space, braces) and language tags that are not well-formed
BCP 47; the SHACL engine would otherwise reject the data as if the shapes were wrong. A JSON
document from which JSON-LD kept no triple although it had content is refused too: keys without
an @context are silently dropped, and validating nothing would pass.

Every function returns None when all is well, else (line, column, message); line and column are
None when the text does not say where.
"""

from __future__ import annotations

import json
import re
from typing import Any

import rdflib
from rdflib.term import Literal, URIRef

Problem = tuple[int | None, int | None, str]

# RFC 5646 "well-formed" language tags (section 2.1), and its irregular grandfathered tags.
_BCP47 = re.compile(
    r"""(?:
      (?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})   # language, extlang
      (?:-[a-z]{4})?                                         # script
      (?:-(?:[a-z]{2}|[0-9]{3}))?                            # region
      (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*               # variants
      (?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*                   # extensions
      (?:-x(?:-[a-z0-9]{1,8})+)?                             # private use
    |x(?:-[a-z0-9]{1,8})+
    |en-gb-oed|i-(?:ami|bnn|default|enochian|hak|klingon|lux|mingo|navajo|pwn|tao|tay|tsu)
    |sgn-(?:be-fr|be-nl|ch-de)
    )""",
    re.VERBOSE | re.IGNORECASE,
)
# What an IRI cannot hold (RFC 3987 excludes them; rdflib only warns about them).
_NOT_IN_IRI = re.compile(r'[\x00-\x20<>"{}|\\^`]')
_ENTITY = re.compile(
    r"<!ENTITY\s+(?P<parameter>%\s+)?(?P<name>[^\s%]+)\s+"
    r"(?:(?P<external>SYSTEM|PUBLIC)\b|(?P<quote>[\"'])(?P<value>.*?)(?P=quote))",
    re.DOTALL,
)
MAX_ENTITY_EXPANSION = 1_000_000  # characters that internal entities may add to a document


def non_inline_json_ld_context(text: str) -> Problem | None:
    """A @context given by reference (IRI or file name) or an @import, anywhere in the document."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None  # the parser reports it, with its position
    reference = _context_reference(document)
    if reference is None:
        return None
    line, column = _locate(text, json.dumps(reference)[1:-1])
    why = (
        f"JSON-LD context {reference!r} is not inline: psm-kg never fetches or opens contexts;"
        " paste the context object into the document"
    )
    return line, column, why


def dropped_json_content(text: str, graph: rdflib.Graph) -> Problem | None:
    """JSON content that JSON-LD turned into no triple at all (no @context, plain values)."""
    if len(graph):
        return None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not _has_content(document):
        return None
    why = (
        "no triples: this JSON is not JSON-LD, so its keys and values were all dropped"
        " (add an @context that maps the keys to IRIs)"
    )
    return None, None, why


def unsafe_xml_entities(text: str) -> Problem | None:
    """An external, parameter or nested XML entity, or internal ones that expand too much."""
    declarations = list(_ENTITY.finditer(text))
    expansion = 0
    for declaration in declarations:
        name = declaration.group("name")
        line, column = _line_and_column(text, declaration.start())
        if declaration.group("external") or declaration.group("parameter"):
            kind = "parameter" if declaration.group("parameter") else "external"
            why = f"XML {kind} entity {name!r} refused: psm-kg never fetches or opens what it names"
            return line, column, why
        value = declaration.group("value")
        if "&" in value or "%" in value:
            why = f"XML entity {name!r} is made of other entities: refused (unbounded expansion)"
            return line, column, why
        expansion += len(value) * text.count(f"&{name};")
    if expansion > MAX_ENTITY_EXPANSION:
        return None, None, f"XML entities would add {expansion} characters: refused"
    return None


def invalid_terms(text: str, graph: rdflib.Graph) -> Problem | None:
    """The first IRI with a character IRIs cannot hold, or language tag that is not BCP 47."""
    for term in _terms(graph):
        if isinstance(term, URIRef) and _NOT_IN_IRI.search(term):
            bad = _NOT_IN_IRI.search(term)
            assert bad is not None
            line, column = _locate(text, str(term))
            return line, column, f"invalid IRI <{term}>: {bad.group()!r} is not allowed in an IRI"
        if isinstance(term, Literal) and term.language and not _BCP47.fullmatch(term.language):
            # Written @tag in Turtle, "tag" in JSON-LD and RDF/XML.
            line, column = _locate(text, "@" + term.language)
            if line is None:
                line, column = _locate(text, f'"{term.language}"')
            why = f"language tag {term.language!r} is not well-formed BCP 47 (e.g. en, it, en-GB)"
            return line, column, why
    return None


def _terms(graph: rdflib.Graph) -> set[Any]:
    terms: set[Any] = set()
    for triple in graph:
        terms.update(triple)
    return terms


def _context_reference(document: Any) -> str | None:
    stack = [document]  # iterative: any depth of nesting
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "@context":
                    for context in value if isinstance(value, list) else [value]:
                        if isinstance(context, str):
                            return context
                        if isinstance(context, dict) and isinstance(context.get("@import"), str):
                            return str(context["@import"])
                stack.append(value)
    return None


def _has_content(document: Any) -> bool:
    """True if there is a plain key or value, which JSON-LD drops without a context."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if any(not key.startswith("@") for key in node):
                return True
            # Keywords that hold nodes; @id, @type and @context hold names, not content.
            stack.extend(node[key] for key in _NODE_KEYWORDS if key in node)
        else:
            return True
    return False


_NODE_KEYWORDS = ("@graph", "@included", "@list", "@set", "@reverse")


def _locate(text: str, needle: str) -> tuple[int | None, int | None]:
    offset = text.find(needle)
    if offset < 0:
        return None, None
    return _line_and_column(text, offset)


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1
