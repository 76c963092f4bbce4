"""A concrete next step for each SHACL result: what to add, rewrite or remove, and where.

The shape's own sh:message says what is wrong; the hint names the action on this focus node and
path, with what the shape asks for (`asked.asked_for`) filled in where it can be known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import rdflib

from psm_kg.reports.asked import Asked, asked_for
from psm_kg.reports.names import is_blank, local_name, shorten
from psm_kg.validation import Result


@dataclass(frozen=True)
class _Case:
    focus: str
    path: str | None
    value: str | None
    shape: str
    asked: Asked

    @property
    def where(self) -> str:
        """'rdfs:label of …/pillar/x', or the focus node alone when the path is not one IRI."""
        return f"{self.path} of {self.focus}" if self.path else self.focus

    @property
    def what(self) -> str:
        """'rdfs:label "x"@it of …/pillar/x': the offending value where it is known."""
        if self.value is None:
            return self.where
        if self.path is None:
            return self.value if self.value == self.focus else f"{self.value} of {self.focus}"
        return f"{self.path} {self.value} of {self.focus}"


def hint(result: Result, *, shapes: rdflib.Graph | None = None) -> str:
    """An actionable fix for ``result``, e.g. 'add rdfs:label "..."@en to …/pillar/x'.

    ``shapes``: a graph in which the result's shape may be described (the shapes graph, or the
    engine's report graph, which holds copies of blank-node shapes); optional.
    """
    component = local_name(result.component or "").removesuffix("ConstraintComponent")
    asked = asked_for(result, component, shapes)
    case = _Case(
        focus=shorten(result.focus_node),
        path=shorten(result.path) if result.path else None,
        value=shorten(result.value) if result.value is not None else None,
        shape=shorten(result.shape) if not is_blank(result.shape) else "the shape",
        asked=asked,
    )
    return _ACTIONS.get(component, _conform)(case)


# --- the actions ---------------------------------------------------------------------------------


def _add(case: _Case) -> str:
    asked = case.asked
    if asked.languages:
        placeholder = f'"..."@{asked.languages[0]}'
    elif asked.datatypes:
        placeholder = f'"..."^^{asked.datatypes[0]}'
    elif asked.examples:
        placeholder = asked.examples[0]
    elif asked.classes:
        placeholder = f"<...> (a {asked.classes[0]})"
    else:
        placeholder = ""
    if case.path is None:
        return f"give {case.focus} a value along the path of {case.shape}"
    times = f" (at least {asked.bound})" if asked.bound not in (None, "1") else ""
    if not placeholder:
        return f"add a {case.path} value{times} to {case.focus}"
    return f"add {case.path} {placeholder}{times} to {case.focus}"


def _keep_fewer(case: _Case) -> str:
    bound = case.asked.bound
    keep = "one" if bound == "1" else f"at most {bound}" if bound else "fewer"
    return f"keep {keep} {case.path or 'value'} on {case.focus} and delete the others"


def _datatype(case: _Case) -> str:
    datatype = case.asked.datatypes[0] if case.asked.datatypes else None
    if datatype is None:
        return f"rewrite {case.what} with the datatype {case.shape} asks for"
    if case.value is not None and case.value.endswith(f'"^^{datatype}'):
        return f"correct the lexical form of {case.what}: it is not a valid {datatype}"
    return f'rewrite {case.what} as "..."^^{datatype}'


def _one_of(case: _Case) -> str:
    forms = case.asked.datatypes or case.asked.classes or case.asked.languages
    if forms:
        return f"rewrite {case.what} in one of the forms {case.shape} allows: {', '.join(forms)}"
    return _conform(case)


def _point_at(case: _Case) -> str:
    target = case.asked.classes[0] if case.asked.classes else None
    if case.path is None:
        return f"add {case.focus} a {target}" if target else _conform(case)
    typed = f"a node typed {target}" if target else f"a node of the class {case.shape} asks for"
    instead = f" instead of {case.value}" if case.value else ""
    return f"point {case.where} at {typed}{instead}"


_KINDS = {
    "IRI": "an IRI <...>",
    "Literal": 'a literal "..."',
    "BlankNode": "a blank node [ ... ]",
    "BlankNodeOrIRI": "an IRI or a blank node",
    "IRIOrLiteral": "an IRI or a literal",
    "BlankNodeOrLiteral": "a literal or a blank node",
}


def _node_kind(case: _Case) -> str:
    kind = _KINDS.get(case.asked.node_kind or "")
    if kind is None and case.value is not None:  # what it must be is what the value is not
        kind = (
            _KINDS["BlankNodeOrIRI"]
            if case.value.startswith('"')
            else _KINDS["IRIOrLiteral"]
            if is_blank(case.value)
            else _KINDS["BlankNodeOrLiteral"]
        )
    return f"write {case.what} as {kind or 'the kind of node the shape asks for'}"


def _language(case: _Case) -> str:
    tags = " or ".join(f"@{tag}" for tag in case.asked.languages) or "an allowed language tag"
    return f"tag {case.what} with {tags}"


def _unique_language(case: _Case) -> str:
    return f"keep one {case.path or 'value'} per language on {case.focus}; delete or retag the rest"


def _pattern(case: _Case) -> str:
    pattern = f"/{case.asked.pattern}/" if case.asked.pattern else f"the pattern of {case.shape}"
    if case.value is not None and case.value == case.focus and case.path is None:
        return f"rename {case.focus} so that it matches {pattern}"
    return f"rewrite {case.what} so that it matches {pattern}"


def _pick(case: _Case) -> str:
    allowed = ", ".join(case.asked.allowed) or f"the values {case.shape} lists"
    return f"replace {case.what} with one of {allowed}"


def _has_value(case: _Case) -> str:
    expected = " and ".join(case.asked.allowed or case.asked.examples[:1])
    expected = expected or f"the value {case.shape} requires"
    return f"add {case.path or 'the value'} {expected} to {case.focus}"


def _range(operator: str) -> Callable[[_Case], str]:
    def action(case: _Case) -> str:
        bound = case.asked.bound or f"the bound of {case.shape}"
        return f"change {case.what} to a value {operator} {bound}"

    return action


def _length(least: bool) -> Callable[[_Case], str]:
    def action(case: _Case) -> str:
        bound = case.asked.bound or "the allowed number of"
        return f"make {case.what} {'at least' if least else 'at most'} {bound} characters long"

    return action


def _closed(case: _Case) -> str:
    return f"remove {case.what}, or allow {case.path or 'the property'} in {case.shape}"


def _sparql(case: _Case) -> str:
    return f"edit {case.what} until the SPARQL query of {case.shape} no longer selects it"


def _conform(case: _Case) -> str:
    return f"change {case.what} so that it conforms to {case.shape}"


_ACTIONS: dict[str, Callable[[_Case], str]] = {
    "MinCount": _add,
    "QualifiedMinCount": _add,
    "MaxCount": _keep_fewer,
    "QualifiedMaxCount": _keep_fewer,
    "Datatype": _datatype,
    "Or": _one_of,
    "Xone": _one_of,
    "Class": _point_at,
    "NodeKind": _node_kind,
    "LanguageIn": _language,
    "UniqueLang": _unique_language,
    "Pattern": _pattern,
    "In": _pick,
    "HasValue": _has_value,
    "MinInclusive": _range(">="),
    "MinExclusive": _range(">"),
    "MaxInclusive": _range("<="),
    "MaxExclusive": _range("<"),
    "MinLength": _length(least=True),
    "MaxLength": _length(least=False),
    "Closed": _closed,
    "SPARQL": _sparql,
}
