"""Where things are in a Turtle or N-Triples document, which rdflib does not record.

`index_turtle` re-reads text that rdflib has already parsed with a small tokenizer (strings, IRIs
and comments cannot fool it) and a statement-level state machine: subject, verb, object lists,
nested `[ ... ]` and `( ... )`. It records the line on which each subject IRI's first top-level
statement starts, and the line of every object written in a statement, so that a SHACL result can
point at the offending value as well as at its focus node. Prefixed names, relative IRIs, numbers,
booleans and typed or tagged literals are resolved with the document's own directives into the
same rdflib terms the parser produced. Blank nodes get fresh names from rdflib, so statements
inside `[ ... ]` are filed under the IRI subject of the statement that holds them ("owner").

The machine never raises: on text it does not follow it records less, it does not fail.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from rdflib.namespace import RDF, XSD
from rdflib.plugins.parsers.notation3 import join as resolve_iri
from rdflib.term import Literal, Node, URIRef

# Leading white space is part of each match, so that the loop below sees only real tokens.
_TOKEN = re.compile(
    r"""
    \s*(?:
    (?P<comment>\#[^\n]*)
    |(?P<iri><[^<>"{}|^`\\\s]*(?:\\[uU][0-9A-Fa-f]+[^<>"{}|^`\\\s]*)*>)
    |(?P<string>\"\"\"(?:[^"\\]++|\\.|"(?!""))*+\"\"\"|'{3}(?:[^'\\]++|\\.|'(?!''))*+'{3}
        |"(?:[^"\\\n]++|\\.)*+"|'(?:[^'\\\n]++|\\.)*+')
    |(?P<open>[\[(])
    |(?P<close>[\])])
    |(?P<dot>\.(?![0-9]))
    |(?P<semicolon>;)
    |(?P<comma>,)
    |(?P<word>(?:[^\s<>"'\#;,\[\](){}.\\]++|\\.|\.(?=[^\s<>"'\#;,\[\](){}.]))++)
    |(?P<other>.)
    )""",
    re.VERBOSE | re.DOTALL,
)
# Deeper than this, `[ ... ]` and `( ... )` are refused: rdflib's recursive parser would overflow
# Python's stack near 300 levels, and no real data nests like that.
MAX_NESTING = 128
_UCHAR = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_STRING_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})|\\(.)", re.DOTALL)
_ECHAR = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f"}
_LOCAL_ESCAPE = re.compile(r"\\(.)")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+")
_DOUBLE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+")


class Statement(NamedTuple):
    """One object as written in the document, with the line where the object starts.

    `owner` is the IRI subject of the top-level statement holding it; `nested` is True when the
    object belongs to an anonymous node (`[ ... ]`) inside that statement rather than to the owner.
    """

    owner: URIRef
    predicate: Node
    value: Node
    line: int
    nested: bool = False


@dataclass(frozen=True)
class TurtlePositions:
    """Lines of subjects and of the objects of their statements in one document."""

    subject_lines: Mapping[Node, int] = field(default_factory=dict)
    statements: Mapping[Node, Sequence[Statement]] = field(default_factory=dict)  # by owner
    mention_lines: Mapping[Node, int] = field(default_factory=dict)  # first line as an object
    # (line, column) of the first `[` or `(` nested deeper than MAX_NESTING; indexing stops there.
    too_deep_at: tuple[int, int] | None = None

    def value_line(
        self, owner: Node, predicate: Node | None, value: Node, *, nested: bool = False
    ) -> int | None:
        """The line where ``value`` is written as an object in ``owner``'s statements.

        Best match first: the same predicate and term, then the term under any predicate, then
        the same lexical form (an engine may normalise a literal's datatype), first line wins.
        With ``nested``, only objects of anonymous nodes inside the owner's statements count.
        """
        if value == owner and not nested:
            return self.subject_lines.get(owner)  # the offending value is the node itself
        candidates = [s for s in self.statements.get(owner, ()) if s.nested == nested]
        text = str(value)
        ranked = [
            (s.value != value, s.predicate != predicate, s.line)
            for s in candidates
            if s.value == value or str(s.value) == text
        ]
        return min(ranked)[2] if ranked else None


@dataclass
class _Frame:
    """A statement, an anonymous node `[ ... ]` or a collection `( ... )` being read."""

    kind: str  # "statement", "blank" or "collection"
    subject: URIRef | None  # None for blank nodes and collections: rdflib names them afresh
    expect: str = "subject"  # "subject", "verb", "object" or "after-object"
    predicate: Node | None = None


@dataclass
class _Literal:
    """A string read as an object, waiting for a language tag or datatype that may follow."""

    lexical: str
    line: int
    frame: _Frame
    needs_datatype: bool = False  # after "^^", the datatype IRI is the next token


class _Indexer:
    def __init__(self, text: str, base: str) -> None:
        self.newlines = [match.start() for match in re.finditer("\n", text)]
        self.base = base
        self.prefixes: dict[str, str] = {}
        self.subject_lines: dict[Node, int] = {}
        self.statements: dict[Node, list[Statement]] = {}
        self.mention_lines: dict[Node, int] = {}
        self.stack: list[_Frame] = [_Frame("statement", None)]
        self.directive: list[str] = []  # keyword and arguments of the directive being read
        self.pending: _Literal | None = None
        self.terms: dict[tuple[str, str], Node | None] = {}
        self.offset = 0  # of the token being read

    def line_of(self, offset: int) -> int:
        return bisect.bisect_left(self.newlines, offset) + 1

    def run(self, text: str) -> TurtlePositions:
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup or "other"
            if kind != "comment":
                self.offset = match.start(kind)
                self.token(kind, match.group(kind), self.offset)
            if len(self.stack) - 1 > MAX_NESTING:  # the statement itself is not nesting
                line = self.line_of(self.offset)
                column = self.offset - (self.newlines[line - 2] + 1 if line > 1 else 0) + 1
                return TurtlePositions(too_deep_at=(line, column))
        self.flush_literal()
        return TurtlePositions(self.subject_lines, self.statements, self.mention_lines)

    def token(self, kind: str, token: str, offset: int) -> None:
        if self.directive:
            self.read_directive(token)
            return
        if self.pending is not None and self.attach_to_literal(kind, token):
            return
        frame = self.stack[-1]
        if frame.kind == "collection":
            self.in_collection(kind, token)
        elif frame.expect == "subject":
            self.at_subject(frame, kind, token, offset)
        elif frame.expect == "verb":
            self.at_verb(frame, kind, token)
        elif frame.expect == "object":
            self.at_object(frame, kind, token, offset)
        else:
            self.after_object(frame, kind)

    def read_directive(self, token: str) -> None:
        self.directive.append(token)
        keyword = self.directive[0].lower()
        if keyword.endswith("prefix") and len(self.directive) == 3:
            namespace = resolve_iri(self.base, _unescape_iri(token[1:-1]))
            self.prefixes[self.directive[1].removesuffix(":")] = namespace
        elif keyword.endswith("base") and len(self.directive) == 2:
            self.base = resolve_iri(self.base, _unescape_iri(token[1:-1]))
        else:
            return
        self.directive.clear()
        self.terms.clear()
        # "@prefix ... ." ends at its dot; SPARQL-style "PREFIX ..." has none.
        self.stack[0].expect = "directive-end" if keyword.startswith("@") else "subject"

    def at_subject(self, frame: _Frame, kind: str, token: str, offset: int) -> None:
        if kind == "word" and token.lower() in ("@prefix", "prefix", "@base", "base"):
            self.directive.append(token)
            return
        if kind == "open":
            self.push("blank" if token == "[" else "collection")
            return
        subject = self.term(kind, token)
        frame.subject = subject if isinstance(subject, URIRef) else None
        if frame.subject is not None:
            self.subject_lines.setdefault(frame.subject, self.line_of(offset))
        frame.expect = "verb"

    def at_verb(self, frame: _Frame, kind: str, token: str) -> None:
        if kind in ("dot", "close"):
            self.end(frame, kind)
        elif kind != "semicolon":
            frame.predicate = RDF.type if (kind, token) == ("word", "a") else self.term(kind, token)
            frame.expect = "object"

    def at_object(self, frame: _Frame, kind: str, token: str, offset: int) -> None:
        if kind == "open":
            self.push("blank" if token == "[" else "collection")
        elif kind == "string":
            self.pending = _Literal(_unescape_string(token), self.line_of(offset), frame)
        else:
            self.record(frame, self.term(kind, token), self.line_of(offset))

    def after_object(self, frame: _Frame, kind: str) -> None:
        if kind == "comma":
            frame.expect = "object"
        elif kind == "semicolon":
            frame.expect = "verb"
        elif kind in ("dot", "close"):
            self.end(frame, kind)

    def in_collection(self, kind: str, token: str) -> None:
        # Members are objects of rdf:first on fresh blank nodes: nothing to file under an owner.
        if kind == "open":
            self.push("blank" if token == "[" else "collection")
        elif kind == "close":
            self.pop()

    def push(self, kind: str) -> None:
        self.stack.append(_Frame(kind, None, "verb" if kind == "blank" else "items"))

    def pop(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop()
        parent = self.stack[-1]
        # The anonymous node or list just read was the parent's subject or one of its objects.
        parent.expect = {"subject": "verb", "object": "after-object"}.get(
            parent.expect, parent.expect
        )

    def end(self, frame: _Frame, kind: str) -> None:
        if kind == "close":
            self.pop()
        elif frame.kind == "statement":
            frame.subject, frame.predicate, frame.expect = None, None, "subject"

    def attach_to_literal(self, kind: str, token: str) -> bool:
        """Complete the pending literal with this token if it is its tag or datatype."""
        pending = self.pending
        assert pending is not None
        datatype: Node | None = None
        if pending.needs_datatype:
            datatype = self.term(kind, token)
        elif kind == "word" and token.startswith("@"):
            self.pending = None
            try:
                literal: Literal | None = Literal(pending.lexical, lang=token[1:])
            except ValueError:  # a malformed tag: the parser reports it
                literal = None
            self.record(pending.frame, literal, pending.line)
            return True
        elif kind == "word" and token.startswith("^^"):
            if token == "^^":
                pending.needs_datatype = True
                return True
            datatype = self.term("word", token[2:])
        else:
            self.flush_literal()
            return False
        self.pending = None
        typed = (
            Literal(pending.lexical, datatype=datatype) if isinstance(datatype, URIRef) else None
        )
        self.record(pending.frame, typed, pending.line)
        return True

    def flush_literal(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self.record(pending.frame, Literal(pending.lexical), pending.line)

    def record(self, frame: _Frame, value: Node | None, line: int) -> None:
        frame.expect = "after-object"
        owner = self.stack[0].subject
        if value is None or owner is None or frame.predicate is None:
            return
        if isinstance(value, URIRef):
            self.mention_lines.setdefault(value, line)
        nested = frame is not self.stack[0]
        if nested or frame.subject is not None:
            self.statements.setdefault(owner, []).append(
                Statement(owner, frame.predicate, value, line, nested)
            )

    def term(self, kind: str, token: str) -> Node | None:
        """The rdflib term a token denotes, or None for blank nodes and anything unexpected."""
        # Documents repeat the same names; cleared whenever a directive changes their meaning.
        key = (kind, token)
        if key not in self.terms:
            self.terms[key] = self.new_term(kind, token)
        return self.terms[key]

    def new_term(self, kind: str, token: str) -> Node | None:
        if kind == "iri":
            return URIRef(resolve_iri(self.base, _unescape_iri(token[1:-1])))
        if kind != "word" or token.startswith("_:"):
            return None
        if token in ("true", "false"):
            return Literal(token, datatype=XSD.boolean)
        number = _number(token)
        if number is not None:
            return number
        prefix, colon, local = token.partition(":")
        if colon and prefix in self.prefixes:
            return URIRef(self.prefixes[prefix] + _LOCAL_ESCAPE.sub(r"\1", local))
        return None


def index_turtle(text: str, base: str) -> TurtlePositions:
    """Index a Turtle or N-Triples document that rdflib parsed; ``base`` as given to rdflib."""
    return _Indexer(text, base).run(text)


def _number(token: str) -> Literal | None:
    # The same lexical forms rdflib's Turtle parser produces (it goes through int and Decimal).
    try:
        if _INTEGER.fullmatch(token):
            return Literal(str(int(token)), datatype=XSD.integer)
        if _DECIMAL.fullmatch(token):
            value = str(Decimal(token))
            return Literal("0" if value == "-0" else value, datatype=XSD.decimal)
    except (ValueError, InvalidOperation):
        return None
    if _DOUBLE.fullmatch(token):
        return Literal(token, datatype=XSD.double)
    return None


def _unescape_iri(text: str) -> str:
    return _UCHAR.sub(lambda match: chr(int(match.group(1) or match.group(2), 16)), text)


def _unescape_string(token: str) -> str:
    quote = 3 if token[:3] in ('"""', "'''") else 1
    body = token[quote:-quote]

    def replace(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2)
        if code:
            return chr(int(code, 16))
        return _ECHAR.get(match.group(3), match.group(3))

    return _STRING_ESCAPE.sub(replace, body)
