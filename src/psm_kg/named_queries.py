"""Named queries: each ``queries/NAME.rq`` as a typed, parameterised query with checked examples.

No HTTP here: the API (GET /api/queries/NAME) and the CLI (``psm-kg validate --queries``) call
:func:`load_named_queries`, :func:`bind` and :func:`check_query_files`. The header grammar, on top
of query_files.py's ``# key: value`` lines (docs/queries.md says it at more length)::

    # summary: The pillars of a plan edition                      one line, required
    # description: What the query answers, in a sentence or two;  required
    #   continuation lines are indented by two or more spaces.
    # parameter: edition (IRI of psm:PlanEdition) default <https://...> example <https://...>
    #   The plan edition (its description, indented, required).
    # parameter: text (text) example "mobilità"
    #   Words to look for.
    # parameter: language (one of it, en, both) default both
    #   Which labels to search.
    # result: one row per pillar: ?pillar, ?label_it, ?label_en.
    # tags: plan, pillars
    # example: edition=<https://w3id.org/psm/milano/id/plan/psttm-2025-2027>
    # expect: 5 rows
    # expect: a row with label_it="sostenibilità" label_en="sustainability"

Parameter types (query_parameters.py): ``IRI``, ``IRI of CLASS``, ``text``, ``text @LANG``,
``integer``, ``date``, ``one of A, B, C``. A parameter without ``default`` is required.

``example:`` lists ``name=VALUE`` arguments (none: every default); the ``expect:`` lines below it
assert its answer: ``N rows`` / ``at least N rows`` / ``at most N rows`` / ``no rows`` (``triples``
for CONSTRUCT and DESCRIBE), ``true`` / ``false`` (ASK), ``a row with name=VALUE ...`` and
``no row with name=VALUE ...`` (``a triple with subject=... predicate=... object=...``). In an
assertion ``<iri>`` or ``prefix:name`` matches that IRI, ``"text"`` a literal's text, ``"text"@it``
also its language, a bare word any term's text, and ``UNDEF`` an unbound variable.

Values are bound as SEP-0007 substitutions, never spliced into the text, so a SELECT must project
every parameter variable (pyoxigraph refuses to bind others), and must not also fix it with VALUES.

Problems never raise: :class:`QueryProblem` names ``file:line``, and a bad file is left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from psm_kg import formats
from psm_kg.query_examples import (
    Expectation,
    ExpectationError,
    QueryExample,
    check_example,
    parse_arguments,
    parse_expectation,
)
from psm_kg.query_files import SUFFIX, HeaderField, read_query_file
from psm_kg.query_parameters import (
    DeclarationError,
    Parameter,
    ParameterError,
    ParameterType,
    Term,
    bind_values,
    parse_declaration,
    to_term,
)
from psm_kg.sparql_text import QueryForm, masked, query_form, uses_service
from psm_kg.store import Store

__all__ = [
    "MEMBERSHIP_QUERY",
    "RESERVED_NAMES",
    "Expectation",
    "NamedQuery",
    "Parameter",
    "ParameterError",
    "ParameterType",
    "QueryExample",
    "QueryProblem",
    "bind",
    "check_iri_classes",
    "check_query_files",
    "load_named_queries",
]

KNOWN_KEYS = ("summary", "description", "result", "tags", "parameter", "example", "expect")
SINGLE_KEYS = ("summary", "description", "result", "tags")
# Query-string names the API keeps for itself (paging, format): no parameter may take them.
RESERVED_NAMES = frozenset({"limit", "offset", "page", "format", "timeout", "callback"})
# Whether an IRI is an instance of a class (directly or through rdfs:subClassOf): ?iri and ?class
# are bound as substitutions.
MEMBERSHIP_QUERY = (
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\nASK { ?iri a/rdfs:subClassOf* ?class }"
)
CHECK_TIMEOUT_S = 30.0

_PREFIX_DECL = re.compile(r"PREFIX\s+([^\s:]*):\s*(<\s*>)", re.IGNORECASE)
_VALUES = re.compile(r"VALUES\s*(\([^)]*\)|[?$]\w+)", re.IGNORECASE)
_LINE = re.compile(r"at (\d+):\d+")
_PAGE = "\nLIMIT 1 OFFSET 0"
# The name is a URL path segment (/api/queries/NAME): kebab-case, ASCII.
_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")


@dataclass(frozen=True)
class NamedQuery:
    name: str
    path: Path
    text: str
    summary: str
    description: str
    tags: tuple[str, ...]
    form: QueryForm
    parameters: tuple[Parameter, ...]
    # A list query: SELECT with no LIMIT/OFFSET of its own and no trailing VALUES; the API
    # appends "\nLIMIT n OFFSET m".
    paginated: bool
    examples: tuple[QueryExample, ...]  # declared example calls with asserted answers
    result: str = ""  # the header's description of the result

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


@dataclass(frozen=True)
class QueryProblem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class _Invalid(Exception):
    """One problem found while reading a file; the file is left out."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


# --- loading -----------------------------------------------------------------------------------


def load_named_queries(directory: Path) -> tuple[list[NamedQuery], list[QueryProblem]]:
    """Every valid ``*.rq`` directly in ``directory``, sorted by name, and the problems of the
    others. Never raises; a missing directory gives neither queries nor problems."""
    queries: list[NamedQuery] = []
    problems: list[QueryProblem] = []
    if not directory.is_dir():
        return queries, problems
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        if not path.is_file():
            continue
        try:
            queries.append(load_named_query(path))
        except _Invalid as invalid:
            problems.append(QueryProblem(path, invalid.line, invalid.message))
    return queries, problems


def load_named_query(path: Path) -> NamedQuery:
    """One named query; _Invalid with the line of the first problem."""
    try:
        file = read_query_file(path)
    except UnicodeDecodeError as error:
        data = path.read_bytes()
        raise _Invalid(data.count(b"\n", 0, error.start) + 1, "not UTF-8 text") from None
    except OSError as error:
        raise _Invalid(1, f"cannot be read: {error.strerror or error}") from None
    if not _NAME.fullmatch(file.name):
        raise _Invalid(1, f"name the file <verb>-<object>.rq in lower case, not {path.name!r}")
    text = file.text
    fields = file.fields
    for field in fields:
        if field.key not in KNOWN_KEYS:
            raise _Invalid(
                field.line,
                f"unknown header key {field.key!r}; known keys: " + ", ".join(KNOWN_KEYS),
            )
    single = _single_fields(fields)
    for key in ("summary", "description"):
        if not single.get(key):
            raise _Invalid(1, f"the header has no '# {key}:' line")
    form = query_form(text)
    if form is None:
        raise _Invalid(
            _first_code_line(text), "not a SPARQL query (SELECT, ASK, CONSTRUCT, DESCRIBE)"
        )
    if uses_service(text):
        raise _Invalid(_first_code_line(text), "a named query may not use SERVICE")
    prefixes = _prefixes(text)
    parameters = _parameters(fields, prefixes)
    _check_variables(text, parameters)
    examples = _examples(fields, form, parameters, prefixes)
    _check_engine(text, parameters)
    return NamedQuery(
        name=file.name,
        path=path,
        text=text,
        summary=single["summary"],
        description=single["description"],
        tags=tuple(t.strip() for t in single.get("tags", "").split(",") if t.strip()),
        form=form,
        parameters=parameters,
        paginated=form is QueryForm.SELECT and _parses(text + _PAGE),
        examples=examples,
        result=single.get("result", ""),
    )


def _single_fields(fields: tuple[HeaderField, ...]) -> dict[str, str]:
    single: dict[str, str] = {}
    for field in fields:
        if field.key in SINGLE_KEYS:
            if field.key in single:
                raise _Invalid(field.line, f"'{field.key}' is given twice")
            single[field.key] = field.text
    return single


def _parameters(fields: tuple[HeaderField, ...], prefixes: dict[str, str]) -> tuple[Parameter, ...]:
    parameters: dict[str, Parameter] = {}
    for field in fields:
        if field.key != "parameter":
            continue
        try:
            parameter = parse_declaration(
                field.value, " ".join(field.continuation), field.line, prefixes
            )
        except DeclarationError as error:
            raise _Invalid(field.line, str(error)) from None
        if parameter.name in parameters:
            raise _Invalid(field.line, f"parameter {parameter.name!r} is declared twice")
        if parameter.name.lower() in RESERVED_NAMES:
            raise _Invalid(
                field.line,
                f"parameter {parameter.name!r}: the name is kept for the API ("
                + ", ".join(sorted(RESERVED_NAMES))
                + ")",
            )
        parameters[parameter.name] = parameter
    return tuple(parameters.values())


def _check_variables(text: str, parameters: tuple[Parameter, ...]) -> None:
    """Each parameter is a variable of the query, and no VALUES clause fixes it."""
    code = masked(text)
    fixed = {
        name
        for clause in _VALUES.finditer(code)
        for name in re.findall(r"[?$](\w+)", clause.group(1))
    }
    for parameter in parameters:
        if not re.search(rf"[?$]{parameter.name}\b", code):
            raise _Invalid(parameter.line, f"?{parameter.name} does not occur in the query")
        if parameter.name in fixed:
            raise _Invalid(
                parameter.line,
                f"?{parameter.name} is a parameter and also fixed by VALUES: remove it from VALUES "
                "(the default goes in the parameter line)",
            )


def _examples(
    fields: tuple[HeaderField, ...],
    form: QueryForm,
    parameters: tuple[Parameter, ...],
    prefixes: dict[str, str],
) -> tuple[QueryExample, ...]:
    examples: list[QueryExample] = []
    declared = {parameter.name: parameter for parameter in parameters}
    for field in fields:
        if field.key == "example":
            try:
                arguments = parse_arguments(field.text, prefixes, declared)
                bind_values(parameters, dict(arguments))
            except (ExpectationError, ParameterError) as error:
                raise _Invalid(field.line, f"example: {error}") from None
            examples.append(QueryExample(field.line, arguments, ()))
        elif field.key == "expect":
            if not examples:
                raise _Invalid(field.line, "an '# expect:' line must follow an '# example:' line")
            try:
                expectation = parse_expectation(field.text, field.line, form, prefixes)
            except ExpectationError as error:
                raise _Invalid(field.line, f"expect: {error}") from None
            last = examples[-1]
            examples[-1] = QueryExample(
                last.line, last.arguments, (*last.expectations, expectation)
            )
    for example in examples:
        if not example.expectations:
            raise _Invalid(example.line, "an example needs at least one '# expect:' line below it")
    return tuple(examples)


def _check_engine(text: str, parameters: tuple[Parameter, ...]) -> None:
    """The engine parses the query and can bind every parameter (an empty store: no data read)."""
    substitutions: dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple] = {
        ox.Variable(p.name): _placeholder(p) for p in parameters
    }
    try:
        ox.Store().query(text, use_default_graph_as_union=True, substitutions=substitutions)
    except SyntaxError as error:
        position = _LINE.search(error.msg or "")
        # The parser counts the empty line after the last newline: "at the end" is the last line.
        last = len(text.splitlines()) or 1
        line = min(int(position.group(1)), last) if position else 1
        raise _Invalid(line, f"SPARQL: {error.msg}") from None
    except RuntimeError as error:
        if "projection" not in str(error):
            raise _Invalid(1, f"the engine refuses the query: {error}") from None
        for parameter in parameters:
            try:
                ox.Store().query(
                    text,
                    use_default_graph_as_union=True,
                    substitutions={ox.Variable(parameter.name): _placeholder(parameter)},
                )
            except RuntimeError:
                raise _Invalid(
                    parameter.line,
                    f"?{parameter.name} is not in the SELECT projection: values are bound as "
                    "substitutions, which pyoxigraph allows only for projected variables",
                ) from None
        raise _Invalid(1, f"the engine refuses the query: {error}") from None


def _placeholder(parameter: Parameter) -> Term:
    raw = parameter.default or parameter.example
    if raw is not None:
        return to_term(parameter, raw)
    return (
        ox.NamedNode("urn:x-placeholder") if parameter.type is ParameterType.IRI else ox.Literal("")
    )


def _parses(text: str) -> bool:
    try:
        ox.Store().query(text)
    except (SyntaxError, RuntimeError):
        return False
    return True


def _prefixes(text: str) -> dict[str, str]:
    """Prefix -> namespace, from the query's PREFIX lines (comments and strings masked)."""
    code = masked(text)
    return {
        m.group(1): text[m.start(2) + 1 : m.end(2) - 1].strip() for m in _PREFIX_DECL.finditer(code)
    }


def _first_code_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            return number
    return 1


# --- binding -----------------------------------------------------------------------------------


def bind(query: NamedQuery, raw: Mapping[str, str]) -> dict[str, Term]:
    """RDF terms for a caller's raw values (HTTP query string, CLI ``--param k=v``), by the
    declared types, defaults applied; ParameterError for a wrong type, a missing required
    parameter or an unknown name. An empty value counts as not given.

    Class membership of IRIs is not checked here: see :func:`check_iri_classes`."""
    return bind_values(query.parameters, raw)


def check_iri_classes(query: NamedQuery, terms: Mapping[str, Term], store: Store) -> None:
    """ParameterError for the first IRI value that is not an instance of its declared class in
    the data of ``store`` (rdf:type, through rdfs:subClassOf)."""
    for parameter in query.parameters:
        term = terms.get(parameter.name)
        if parameter.iri_class is None or not isinstance(term, ox.NamedNode):
            continue
        outcome = store.query(
            MEMBERSHIP_QUERY,
            timeout_s=CHECK_TIMEOUT_S,
            substitutions={"iri": term, "class": ox.NamedNode(parameter.iri_class)},
        )
        if not json.loads(outcome.serialize(formats.SPARQL_JSON))["boolean"]:
            raise ParameterError(parameter.name, parameter.expected, term.value)


# --- checking ----------------------------------------------------------------------------------


def check_query_files(directory: Path, store: Store) -> list[QueryProblem]:
    """The problems of loading ``directory``, then of every query whose examples do not give the
    answers they assert against ``store`` (each named by the line of the failing assertion)."""
    queries, problems = load_named_queries(directory)
    for query in queries:
        problems.extend(check_named_query(query, store))
    return sorted(problems, key=lambda problem: (str(problem.path), problem.line))


def check_named_query(query: NamedQuery, store: Store) -> list[QueryProblem]:
    problems: list[QueryProblem] = []
    if not query.examples:
        problems.append(
            QueryProblem(query.path, 1, "no '# example:' with '# expect:' lines (docs/queries.md)")
        )
    for parameter in query.parameters:
        for raw in (parameter.default, parameter.example):
            if raw is None:
                continue
            try:
                check_iri_classes(query, {parameter.name: to_term(parameter, raw)}, store)
            except ParameterError as error:
                problems.append(QueryProblem(query.path, parameter.line, str(error)))
    for example in query.examples:
        try:
            terms = bind(query, dict(example.arguments))
            check_iri_classes(query, terms, store)
        except ParameterError as error:
            problems.append(QueryProblem(query.path, example.line, f"example: {error}"))
            continue
        for line, message in check_example(query.text, example, terms, store, CHECK_TIMEOUT_S):
            problems.append(QueryProblem(query.path, line, message))
    return problems
