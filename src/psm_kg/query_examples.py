"""The examples of a named query: ``# example:`` calls and the ``# expect:`` answers they assert.

An example is a list of ``name=VALUE`` arguments (none: every parameter takes its default). The
``expect`` lines below it each assert one thing about its answer::

    N rows | at least N rows | at most N rows | no rows        SELECT (``triples`` for graphs)
    true | false                                              ASK
    a row with NAME=VALUE ... | no row with NAME=VALUE ...    SELECT
    a triple with subject=VALUE predicate=VALUE object=VALUE  CONSTRUCT, DESCRIBE (any subset)

A VALUE in an assertion: ``<iri>`` or ``prefix:name`` matches that IRI; ``"text"`` a literal with
that text (any datatype or language), ``"text"@it`` also that language; a bare word (``15``,
``2025-05-29``, ``true``) any term whose text it is; ``UNDEF`` a variable without a value.

No HTTP here: named_queries.py reads examples from headers and checks them against a store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from psm_kg import formats
from psm_kg.query_parameters import VALUE_TOKEN, Parameter, ParameterType, resolve_iri, unquote
from psm_kg.sparql_text import QueryForm
from psm_kg.store import QueryKind, QueryRejected, QueryTimeout, ResultTooLarge, Store

UNDEF = "UNDEF"

_ARGUMENT = re.compile(rf"\s*,?\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>{VALUE_TOKEN})")
_COUNT = re.compile(
    r"(?:(?P<bound>at least|at most)\s+)?(?P<n>[0-9]+)\s+(?P<unit>rows?|triples?)", re.IGNORECASE
)
_NONE = re.compile(r"no\s+(?P<unit>rows|triples)", re.IGNORECASE)
_MATCH = re.compile(r"(?P<polarity>a|no)\s+(?P<unit>row|triple)\s+with\s+(?P<pairs>.+)", re.I)
_LANGUAGE_SUFFIX = re.compile(r'"@(?P<lang>[A-Za-z]+(?:-[A-Za-z0-9]+)*)$')
TRIPLE_POSITIONS = ("subject", "predicate", "object")


class ExpectationError(ValueError):
    """An ``example`` or ``expect`` line that does not follow the grammar."""


@dataclass(frozen=True)
class ValuePattern:
    """What one variable of a row must hold: kind is "iri", "literal", "text" (any term's text)
    or "undef"."""

    kind: str
    value: str = ""
    language: str | None = None

    def matches(self, binding: Mapping[str, str] | None) -> bool:
        if self.kind == "undef":
            return binding is None
        if binding is None:
            return False
        if self.kind == "iri":
            return binding["type"] == "uri" and binding["value"] == self.value
        if self.kind == "literal":
            if binding["type"] != "literal" or binding["value"] != self.value:
                return False
            lang = binding.get("xml:lang")
            return self.language is None or (lang or "").lower() == self.language.lower()
        return binding["value"] == self.value


@dataclass(frozen=True)
class Expectation:
    line: int
    text: str  # as written, for messages
    count: tuple[str, int] | None = None  # ("=", 5), (">=", 1) or ("<=", 3)
    boolean: bool | None = None  # ASK
    match: tuple[tuple[str, ValuePattern], ...] = ()  # variable -> pattern
    negated: bool = False  # "no row with"
    unit: str = "row"  # what the answer counts: "row" or "triple"


@dataclass(frozen=True)
class QueryExample:
    line: int
    arguments: tuple[tuple[str, str], ...]  # raw values, as a caller would type them
    expectations: tuple[Expectation, ...]

    @property
    def params(self) -> dict[str, str]:
        return dict(self.arguments)


# --- parsing -----------------------------------------------------------------------------------


def _pairs(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    at = 0
    while text[at:].strip():
        pair = _ARGUMENT.match(text, at)
        if pair is None:
            raise ExpectationError(
                f"cannot read {text[at:].strip()!r}: write name=VALUE, e.g. "
                'edition=<https://...> or label="sostenibilità"'
            )
        pairs.append((pair.group("name"), pair.group("value")))
        at = pair.end()
    return pairs


def parse_arguments(
    text: str, prefixes: dict[str, str], declared: Mapping[str, Parameter]
) -> tuple[tuple[str, str], ...]:
    """The raw ``name=VALUE`` arguments of an example line (IRIs resolved, quotes removed)."""
    arguments: dict[str, str] = {}
    for name, token in _pairs(text):
        if name in arguments:
            raise ExpectationError(f"{name} is given twice")
        parameter = declared.get(name)
        iri_valued = parameter is not None and (
            parameter.type is ParameterType.IRI or parameter.iri_choices
        )
        full = resolve_iri(token, prefixes) if iri_valued else None
        arguments[name] = full if full is not None else unquote(token)
    return tuple(arguments.items())


def parse_expectation(
    text: str, line: int, form: QueryForm, prefixes: dict[str, str]
) -> Expectation:
    """One ``expect:`` line; ExpectationError when it is malformed or does not fit the form."""
    graph = form in (QueryForm.CONSTRUCT, QueryForm.DESCRIBE)
    unit = "triple" if graph else "row"
    stripped = text.strip()
    if form is QueryForm.ASK:
        if stripped.lower() not in ("true", "false"):
            raise ExpectationError("an ASK query's answer is asserted as 'true' or 'false'")
        return Expectation(line, stripped, boolean=stripped.lower() == "true")
    if count := _COUNT.fullmatch(stripped):
        _check_unit(count.group("unit"), unit)
        op = {"at least": ">=", "at most": "<="}.get((count.group("bound") or "").lower(), "=")
        return Expectation(line, stripped, count=(op, int(count.group("n"))), unit=unit)
    if none := _NONE.fullmatch(stripped):
        _check_unit(none.group("unit"), unit)
        return Expectation(line, stripped, count=("=", 0), unit=unit)
    if match := _MATCH.fullmatch(stripped):
        _check_unit(match.group("unit"), unit)
        patterns = tuple(
            (name, _pattern(token, prefixes)) for name, token in _pairs(match["pairs"])
        )
        if graph and (bad := [name for name, _ in patterns if name not in TRIPLE_POSITIONS]):
            raise ExpectationError(f"a triple has subject, predicate and object, not {bad[0]}")
        negated = match["polarity"] == "no"
        return Expectation(line, stripped, match=patterns, negated=negated, unit=unit)
    raise ExpectationError(
        f"cannot read {stripped!r}: write 'N {unit}s', 'at least N {unit}s', 'at most N {unit}s', "
        f"'no {unit}s', 'a {unit} with name=VALUE ...' or 'no {unit} with name=VALUE ...'"
    )


def _check_unit(written: str, unit: str) -> None:
    if not written.lower().startswith(unit):
        raise ExpectationError(f"this query's answer is counted in {unit}s, not {written}")


def _pattern(token: str, prefixes: dict[str, str]) -> ValuePattern:
    if token == UNDEF:
        return ValuePattern("undef")
    if token.startswith('"'):
        language = _LANGUAGE_SUFFIX.search(token)
        body = token[: language.start() + 1] if language else token
        return ValuePattern("literal", unquote(body), language["lang"] if language else None)
    iri = resolve_iri(token, prefixes)
    if iri is not None:
        return ValuePattern("iri", iri)
    return ValuePattern("text", token)


# --- checking ----------------------------------------------------------------------------------


def check_example(
    text: str, example: QueryExample, terms: Mapping[str, Any], store: Store, timeout_s: float
) -> list[tuple[int, str]]:
    """(line, message) for each assertion of ``example`` that its answer from ``store`` breaks."""
    try:
        outcome = store.query(text, timeout_s=timeout_s, substitutions=terms)
        if outcome.kind is QueryKind.SOLUTIONS:
            body = json.loads(outcome.serialize(formats.SPARQL_JSON))
            names: list[str] = body["head"].get("vars", [])
            rows: list[dict[str, Any]] = body["results"]["bindings"]
            answer: bool | None = None
        elif outcome.kind is QueryKind.BOOLEAN:
            answer = bool(json.loads(outcome.serialize(formats.SPARQL_JSON))["boolean"])
            names, rows = [], []
        else:
            triples = ox.parse(outcome.serialize(formats.N_TRIPLES), ox.RdfFormat.N_TRIPLES)
            names, answer = list(TRIPLE_POSITIONS), None
            rows = [
                {
                    "subject": _binding(t.subject),
                    "predicate": _binding(t.predicate),
                    "object": _binding(t.object),
                }
                for t in triples
            ]
    except (QueryRejected, QueryTimeout, ResultTooLarge) as error:
        return [(example.line, f"example: the query fails: {error}")]
    failures: list[tuple[int, str]] = []
    for expectation in example.expectations:
        message = _broken(expectation, names, rows, answer)
        if message:
            failures.append((expectation.line, f"expected {expectation.text}, {message}"))
    return failures


def _binding(term: Any) -> dict[str, str]:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.Literal):
        binding = {"type": "literal", "value": term.value}
        if term.language:
            binding["xml:lang"] = term.language
        return binding
    return {"type": "bnode", "value": str(term)}


def _broken(
    expectation: Expectation, names: list[str], rows: list[dict[str, Any]], answer: bool | None
) -> str:
    """Why the answer breaks the expectation, or "" when it holds."""
    if expectation.boolean is not None:
        return "" if answer is expectation.boolean else f"got {str(answer).lower()}"
    if expectation.count is not None:
        op, n = expectation.count
        got = len(rows)
        holds = got == n if op == "=" else got >= n if op == ">=" else got <= n
        return "" if holds else f"got {got}"
    unknown = [name for name, _ in expectation.match if name not in names]
    if unknown:
        return f"but the result has no variable ?{unknown[0]} (it has ?{', ?'.join(names)})"
    found = any(
        all(pattern.matches(row.get(name)) for name, pattern in expectation.match) for row in rows
    )
    if found == expectation.negated:
        return f"not so among {len(rows)} {expectation.unit}s"
    return ""
