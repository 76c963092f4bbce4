"""What a shape asks for (a language, a datatype, a class, a bound...), as far as a result tells.

Read, in this order: from the shape itself when a graph holding it is given (engines copy
blank-node shapes into their report graph); from the message (pySHACL's default messages and the
project's own messages name the datatype, the class or an example IRI); and, for a language, from
the shape's name ("…-label-en").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import rdflib
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH
from rdflib.term import BNode, Literal, Node, URIRef

from psm_kg.reports.names import is_blank, local_name, shorten
from psm_kg.validation import Result


@dataclass
class Asked:
    """What the shape asks for, as far as it can be known; text is already shortened."""

    languages: list[str] = field(default_factory=list)
    datatypes: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    node_kind: str | None = None
    pattern: str | None = None
    allowed: list[str] = field(default_factory=list)  # sh:in, sh:hasValue
    examples: list[str] = field(default_factory=list)  # IRIs the message gives after the path
    bound: str | None = None  # the number in sh:minCount, sh:maxLength, sh:minInclusive...


_LANGUAGE_WORDS = {"English": "en", "Italian": "it", "French": "fr", "German": "de"}
_LANGUAGE_COMPONENTS = {"MinCount", "QualifiedMinCount", "LanguageIn", "QualifiedMaxCount"}
_PARAMETERS = {
    "languages": SH.languageIn,
    "datatypes": SH.datatype,
    "classes": SH["class"],
    "node_kind": SH.nodeKind,
    "pattern": SH.pattern,
    "allowed": SH["in"],
}
_BOUNDS = {
    "MinCount": SH.minCount,
    "MaxCount": SH.maxCount,
    "QualifiedMinCount": SH.qualifiedMinCount,
    "QualifiedMaxCount": SH.qualifiedMaxCount,
    "MinInclusive": SH.minInclusive,
    "MinExclusive": SH.minExclusive,
    "MaxInclusive": SH.maxInclusive,
    "MaxExclusive": SH.maxExclusive,
    "MinLength": SH.minLength,
    "MaxLength": SH.maxLength,
}


def asked_for(result: Result, component: str, shapes: rdflib.Graph | None) -> Asked:
    """What ``result``'s shape asks for; ``component`` is the local name less its suffix
    ("MinCount"), ``shapes`` a graph that may describe the shape (or None)."""
    asked = _from_message(result.message)
    if result.path is not None:
        # "add dct:license <https://...>": the value the message suggests for this very path.
        after_path = rf"\b[\w-]*:{re.escape(local_name(result.path))}\s+(<[^>\s]+>)"
        asked.examples = [shorten(iri[1:-1]) for iri in re.findall(after_path, result.message)]
    if shapes is not None:
        _from_graph(asked, shapes, result.shape, component)
    named = asked.languages or asked.datatypes or asked.classes or asked.examples
    if not named and component in _LANGUAGE_COMPONENTS:
        suffix = re.search(r"-(en|it|de|fr|es)$", result.shape)
        asked.languages = [suffix.group(1)] if suffix else []
    return asked


def _from_message(message: str) -> Asked:
    asked = Asked()
    asked.languages = re.findall(r'"(?:\.\.\.|…)?"@([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*)', message)
    asked.languages += re.findall(r'Literal\("([A-Za-z-]+)"\)', message)  # pySHACL's languageIn
    asked.languages += re.findall(r"tagged @([A-Za-z-]+)", message)
    if not asked.languages:
        words = re.findall(r"\b(English|Italian|French|German)\b", message)
        asked.languages = [_LANGUAGE_WORDS[word] for word in words[:1]]
    prefixed = re.findall(r"\bxsd:([A-Za-z]+)\b|XMLSchema#([A-Za-z]+)", message)
    asked.datatypes = _unique(f"xsd:{a or b}" for a, b in prefixed)
    classes = re.findall(r"class <([^>\s]+)>", message)
    asked.classes = [shorten(iri) for iri in classes] or re.findall(
        r"(?:point to|pointing to|typed) an? ([A-Za-z][\w-]*:[A-Za-z][\w-]*)", message
    )
    kind = re.search(r"Node ?Kind (?:sh:)?(\w+)|\bas an (IRI)\b", message)
    asked.node_kind = (kind.group(1) or kind.group(2)) if kind else None
    pattern = re.search(r"pattern '([^']*)'", message)
    asked.pattern = pattern.group(1) if pattern else None
    listed = re.search(r"(?:not in list|in the set:) \[(.*)\]", message)
    if listed:
        asked.allowed = [_listed(item) for item in re.findall(r"'([^']*)'", listed.group(1))]
    count = re.search(r"(?:Less|More) than (\d+) values|MinCount (\d+)", message)
    bound = re.search(r'not [<>]=? Literal\("([^"]*)"', message)
    asked.bound = (count.group(1) or count.group(2)) if count else bound.group(1) if bound else None
    if asked.bound is None and re.search(r"\b(?:at most|exactly|only) one\b", message):
        asked.bound = "1"
    return asked


def _from_graph(asked: Asked, graph: rdflib.Graph, shape_text: str, component: str) -> None:
    """Overwrite what the message suggested with the shape's own parameters, where present."""
    shape: Node = BNode(shape_text[2:]) if is_blank(shape_text) else URIRef(shape_text)
    # A qualified shape states its demands on the value shape ([ sh:languageIn ("en") ]).
    described = [shape, *graph.objects(shape, SH.qualifiedValueShape)]
    for name, predicate in _PARAMETERS.items():
        found = [obj for node in described for obj in graph.objects(node, predicate)]
        if not found:
            continue
        terms: list[Node] = []
        for obj in found:  # an RDF list (sh:in, sh:languageIn) stands for its members
            is_list = obj == RDF.nil or graph.value(obj, RDF.first) is not None
            terms.extend(Collection(graph, obj) if is_list else [obj])
        texts = [_term_text(term, bare=name in ("languages", "pattern")) for term in terms]
        if name == "node_kind":
            asked.node_kind = local_name(str(terms[0]))
        elif name == "pattern":
            asked.pattern = texts[0]
        else:
            setattr(asked, name, texts)
    expected = list(graph.objects(shape, SH.hasValue))
    if expected:
        asked.allowed = [_term_text(term) for term in expected]
    bound = graph.value(shape, _BOUNDS[component]) if component in _BOUNDS else None
    if isinstance(bound, Literal):
        asked.bound = str(bound)


def _term_text(term: Node, *, bare: bool = False) -> str:
    """A term as hints show it: a literal in N3 ('"a"@it'), or bare (a language tag, a regex)."""
    if isinstance(term, Literal):
        return str(term) if bare else shorten(term.n3())
    return shorten(f"_:{term}" if isinstance(term, BNode) else str(term))


def _listed(item: str) -> str:
    return shorten(item[1:-1]) if item.startswith("<") and item.endswith(">") else item


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
