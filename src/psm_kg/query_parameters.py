"""The parameters of named queries: how a header declares one, and how a caller's raw text
becomes the RDF term it is bound to.

A declaration is the value of a ``# parameter:`` header line (see docs/queries.md)::

    NAME (TYPE) [default VALUE] [example VALUE]
      Its description, on the indented lines that follow.

    TYPE    IRI | IRI of CLASS | text | text @LANG | integer | date | one of CHOICE, CHOICE...
    VALUE   <absolute-IRI> | prefix:name | "quoted text" | bare-word

A CLASS, and an IRI VALUE or CHOICE, may be a prefixed name: it resolves against the query's own
PREFIX lines. Raw values are kept as a caller would type them (IRIs without the angle brackets).

Binding never splices text into a query: :func:`to_term` makes a pyoxigraph term, which the store
passes to the engine as a SEP-0007 substitution. Every value is checked first, strictly, and a bad
one raises :class:`ParameterError` naming the parameter and what was expected::

    ValueError
     └── ParameterError     parameter, expected, value
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

import pyoxigraph as ox

XSD = "http://www.w3.org/2001/XMLSchema#"

# Caller values: long enough for any IRI of the dataset or a search phrase, short enough to log.
MAX_IRI_LENGTH = 2000
MAX_TEXT_LENGTH = 200
# Integers are counts and years here: anything larger is a mistake or a probe.
MAX_INTEGER = 10**9
# Schemes a parameter IRI may use: the dataset's own (https), vocabularies (http) and URNs.
IRI_SCHEMES = ("http", "https", "urn")

PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A value token in a header: an IRI, a quoted string (optionally @lang), or a bare word.
VALUE_TOKEN = r'<[^<>\s]*>|"(?:[^"\\]|\\.)*"(?:@[A-Za-z]+(?:-[A-Za-z0-9]+)*)?|[^\s,"<>]+'
PREFIXED_NAME = re.compile(r"([A-Za-z][\w.-]*)?:([\w-][\w.:%-]*)?")
LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")

_DECLARATION = re.compile(
    rf"(?P<name>{PARAMETER_NAME.pattern})\s*\((?P<type>[^()]*)\)(?P<rest>.*)", re.DOTALL
)
_OPTION = re.compile(rf"\s*[,;]?\s*(?P<key>default|example)\s+(?P<value>{VALUE_TOKEN})")
_IRI_TYPE = re.compile(r"iri(?:\s+of\s+(?:an?\s+)?(?P<cls>\S+))?", re.IGNORECASE)
_TEXT_TYPE = re.compile(r"text(?:\s*@(?P<lang>\S+))?", re.IGNORECASE)
_ENUM_TYPE = re.compile(r"one\s+of\s*:?\s*(?P<choices>.+)", re.IGNORECASE | re.DOTALL)
_INTEGER = re.compile(r"[+-]?[0-9]{1,10}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# Never in an IRI (RFC 3987 excludes them), and the delimiters of SPARQL terms.
_IRI_FORBIDDEN = set('<>"{}|\\^`')
# Unicode categories that are invisible, control or unassigned: no IRI of ours has one.
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"}


# What a parameter binds to: an IRI, or a literal (text, integer, date, word).
Term = ox.NamedNode | ox.Literal


class ParameterType(StrEnum):
    IRI = "iri"
    TEXT = "text"
    INTEGER = "integer"
    DATE = "date"
    ENUM = "enum"


@dataclass(frozen=True)
class Parameter:
    name: str  # the SPARQL variable name without '?', also the HTTP query parameter name
    type: ParameterType
    description: str
    required: bool  # True when no default
    default: str | None  # the raw text form, as a caller would type it
    example: str | None
    iri_class: str | None = None  # for IRI: the full IRI of the class its values must be in
    choices: tuple[str, ...] = ()  # for ENUM
    language: str | None = None  # for TEXT: the language tag the value gets; None = plain
    line: int = 0  # line in the .rq file where it was declared
    class_name: str | None = None  # for IRI: the class as the header wrote it (psm:PlanEdition)
    iri_choices: bool = False  # for ENUM: the choices are IRIs (bound as IRIs, not strings)

    @property
    def expected(self) -> str:
        """What a value must be, in words (for error messages and API documentation)."""
        if self.type is ParameterType.IRI:
            if self.iri_class:
                return f"the IRI of a {self.class_name or self.iri_class}"
            return "an absolute IRI"
        if self.type is ParameterType.TEXT:
            return f"a text of 1 to {MAX_TEXT_LENGTH} characters without control characters"
        if self.type is ParameterType.INTEGER:
            return f"an integer from -{MAX_INTEGER} to {MAX_INTEGER}"
        if self.type is ParameterType.DATE:
            return "a date as YYYY-MM-DD"
        return "one of " + ", ".join(self.choices)


class ParameterError(ValueError):
    """A caller's value for a parameter is missing, unknown or not of the declared type."""

    def __init__(self, parameter: str, expected: str, value: str, message: str = "") -> None:
        self.parameter = parameter
        self.expected = expected
        self.value = value
        got = shown(value) if value else "nothing"
        super().__init__(message or f"parameter {parameter!r}: expected {expected}, got {got}")


def shown(value: str, limit: int = 60) -> str:
    """A value for a message: quoted, cut short, every invisible character escaped."""
    cut = value if len(value) <= limit else value[:limit] + "…"
    return repr(cut)


# --- declarations ------------------------------------------------------------------------------


class DeclarationError(ValueError):
    """A ``# parameter:`` line that does not follow the grammar (reported as a QueryProblem)."""


def unquote(token: str) -> str:
    """The text of a header value token: quotes and escapes of a quoted string removed."""
    if token.startswith('"'):
        body = token[1 : token.rindex('"')]
        return re.sub(r"\\(.)", r"\1", body)
    return token


def resolve_iri(token: str, prefixes: dict[str, str]) -> str | None:
    """The full IRI of ``<iri>`` or of a prefixed name, or None when the token is neither."""
    if token.startswith("<") and token.endswith(">"):
        return token[1:-1]
    name = PREFIXED_NAME.fullmatch(token)
    if name is None or (name.group(1) or "") not in prefixes:
        return None
    return prefixes[name.group(1) or ""] + (name.group(2) or "")


def parse_declaration(
    value: str, description: str, line: int, prefixes: dict[str, str]
) -> Parameter:
    """The parameter a ``# parameter:`` field declares; DeclarationError when it is malformed."""
    declaration = _DECLARATION.fullmatch(value.strip())
    if declaration is None:
        raise DeclarationError(
            "write a parameter as 'NAME (TYPE) [default VALUE] [example VALUE]', "
            "e.g. 'edition (IRI of psm:PlanEdition) default <https://...>'"
        )
    name = declaration.group("name")
    options: dict[str, str] = {}
    rest = declaration.group("rest")
    at = 0
    while rest[at:].strip():
        option = _OPTION.match(rest, at)
        if option is None:
            raise DeclarationError(
                f"parameter {name!r}: cannot read {rest[at:].strip()!r}; after the type only "
                "'default VALUE' and 'example VALUE' may follow"
            )
        key = option.group("key")
        if key in options:
            raise DeclarationError(f"parameter {name!r}: {key} is given twice")
        options[key] = option.group("value")
        at = option.end()
    if not description:
        raise DeclarationError(
            f"parameter {name!r}: describe it on the next line, indented by two spaces"
        )
    parameter = _typed(name, declaration.group("type").strip(), prefixes)
    raw = {key: _raw_value(parameter, token, prefixes) for key, token in options.items()}
    parameter = replace(
        parameter,
        description=description,
        required="default" not in raw,
        default=raw.get("default"),
        example=raw.get("example"),
        line=line,
    )
    for key, text in raw.items():
        try:
            to_term(parameter, text)
        except ParameterError as error:
            raise DeclarationError(f"the {key} value is not valid: {error}") from None
    return parameter


def _typed(name: str, type_text: str, prefixes: dict[str, str]) -> Parameter:
    """A parameter with only its name and type fields set."""
    bare = Parameter(name, ParameterType.TEXT, "", True, None, None)

    def of(kind: ParameterType, **fields: Any) -> Parameter:
        return replace(bare, type=kind, **fields)

    lowered = type_text.lower()
    if lowered in ("integer", "date"):
        return of(ParameterType(lowered))
    if iri := _IRI_TYPE.fullmatch(type_text):
        cls = iri.group("cls")
        if cls is None:
            return of(ParameterType.IRI)
        full = resolve_iri(cls, prefixes)
        if full is None or not _is_absolute(full):
            raise DeclarationError(
                f"parameter {name!r}: the class {cls} is neither <an absolute IRI> nor a prefixed "
                "name whose prefix the query declares"
            )
        return of(ParameterType.IRI, iri_class=full, class_name=cls)
    if text := _TEXT_TYPE.fullmatch(type_text):
        language = text.group("lang")
        if language is not None and not LANGUAGE_TAG.fullmatch(language):
            raise DeclarationError(f"parameter {name!r}: {language!r} is not a language tag")
        return of(ParameterType.TEXT, language=language.lower() if language else None)
    if enum := _ENUM_TYPE.fullmatch(type_text):
        tokens = [token.strip() for token in enum.group("choices").split(",") if token.strip()]
        iris = [resolve_iri(token, prefixes) for token in tokens]
        if all(iris):
            choices = tuple(iri for iri in iris if iri)
            if not all(_is_absolute(iri) for iri in choices):
                raise DeclarationError(f"parameter {name!r}: a choice is not an absolute IRI")
            return of(ParameterType.ENUM, choices=choices, iri_choices=True)
        if any(iris) or not all(re.fullmatch(r"[\w.-]+", token) for token in tokens):
            raise DeclarationError(
                f"parameter {name!r}: choices are either all words (it, en) or all IRIs"
            )
        if len(set(tokens)) != len(tokens):
            raise DeclarationError(f"parameter {name!r}: a choice is listed twice")
        return of(ParameterType.ENUM, choices=tuple(tokens))
    raise DeclarationError(
        f"parameter {name!r}: unknown type {type_text!r}; use IRI, IRI of CLASS, text, "
        "text @LANG, integer, date or one of A, B, C"
    )


def _raw_value(parameter: Parameter, token: str, prefixes: dict[str, str]) -> str:
    """A header value as a caller would type it: IRIs resolved and without brackets."""
    iri_valued = parameter.type is ParameterType.IRI or parameter.iri_choices
    if iri_valued:
        full = resolve_iri(token, prefixes)
        if full is not None:
            return full
    return unquote(token)


def _is_absolute(iri: str) -> bool:
    try:
        ox.NamedNode(iri)
    except ValueError:
        return False
    return True


# --- binding -----------------------------------------------------------------------------------


def bind_values(parameters: tuple[Parameter, ...], raw: Mapping[str, str]) -> dict[str, Term]:
    """Terms for a caller's raw values, defaults applied (an empty value counts as not given);
    ParameterError for a wrong type, a missing required parameter or an unknown name."""
    declared = {parameter.name: parameter for parameter in parameters}
    for name, value in raw.items():
        if name not in declared:
            takes = ", ".join(declared) if declared else "no parameters"
            raise ParameterError(
                name,
                "a declared parameter",
                value,
                f"unknown parameter {name!r}: this query takes {takes}",
            )
    terms: dict[str, Term] = {}
    for parameter in parameters:
        given = raw.get(parameter.name) or parameter.default
        if given is None:
            raise ParameterError(parameter.name, parameter.expected, "")
        terms[parameter.name] = to_term(parameter, given)
    return terms


def to_term(parameter: Parameter, raw: str) -> Term:
    """The RDF term for a caller's raw value; ParameterError when it is not of the type."""

    def fail() -> ParameterError:
        return ParameterError(parameter.name, parameter.expected, raw)

    kind = parameter.type
    if kind is ParameterType.IRI:
        iri = checked_iri(raw)
        if iri is None:
            raise fail()
        return ox.NamedNode(iri)
    if kind is ParameterType.TEXT:
        text = unicodedata.normalize("NFC", raw)
        if not 0 < len(text) <= MAX_TEXT_LENGTH or not text.strip():
            raise fail()
        if any(unicodedata.category(char) in ("Cc", "Cs") for char in text):
            raise fail()
        if parameter.language:
            return ox.Literal(text, language=parameter.language)
        return ox.Literal(text)
    if kind is ParameterType.INTEGER:
        if not _INTEGER.fullmatch(raw) or abs(int(raw)) > MAX_INTEGER:
            raise fail()
        return ox.Literal(str(int(raw)), datatype=ox.NamedNode(XSD + "integer"))
    if kind is ParameterType.DATE:
        if not _DATE.fullmatch(raw):
            raise fail()
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise fail() from None
        return ox.Literal(day.isoformat(), datatype=ox.NamedNode(XSD + "date"))
    if parameter.iri_choices:
        value = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
        if value not in parameter.choices:
            raise fail()
        return ox.NamedNode(value)
    if raw not in parameter.choices:
        raise fail()
    return ox.Literal(raw)


def checked_iri(raw: str) -> str | None:
    """``raw`` without its <> when it is an absolute IRI a parameter may take, else None."""
    value = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
    scheme = _SCHEME.match(value)
    if (
        not value
        or len(value) > MAX_IRI_LENGTH
        or scheme is None
        or scheme.group(1).lower() not in IRI_SCHEMES
        or value != unicodedata.normalize("NFC", value)
        or any(_hidden(char) for char in value)
        or not _is_absolute(value)
    ):
        return None
    return value


def _hidden(char: str) -> bool:
    """True for a character no IRI a caller names should hold: a SPARQL delimiter, an invisible
    or control character, or a fullwidth look-alike of an ASCII one."""
    return (
        char in _IRI_FORBIDDEN
        or unicodedata.category(char) in _HIDDEN_CATEGORIES
        or "\uff00" <= char <= "\uffef"
    )
