"""Named queries: the header grammar, binding caller values to terms, and what bad input becomes.

Binding is pre-binding (SEP-0007 substitutions), never text splicing: the injection tests send
SPARQL-looking values through every parameter type and show each is refused with a ParameterError
or comes back from the engine as the very string it was, matching nothing. The queries here are
written into temporary directories and run against the built fixture tree (conftest's ``store``);
tests/test_queries.py checks the project's own queries/ against the real data.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest

from psm_kg import formats
from psm_kg.named_queries import (
    NamedQuery,
    Parameter,
    ParameterError,
    ParameterType,
    QueryProblem,
    bind,
    check_iri_classes,
    check_query_files,
    load_named_queries,
)
from psm_kg.query_parameters import DeclarationError, parse_declaration
from psm_kg.query_workers import InProcessEvaluator, QueryJob, WorkerPool
from psm_kg.sparql_text import QueryForm
from psm_kg.store import QueryKind, QueryRejected, Store, SubstitutionRejected

PSM = "https://w3id.org/psm/ontology#"
EDITION = "https://w3id.org/psm/milano/id/plan/psttm-2025-2027"
PILLAR = "https://w3id.org/psm/milano/id/pillar/2025-2027/sostenibilita"
PREFIXES = {"psm": PSM, "": "https://example.org/"}
MEDIA_TYPES = {
    QueryKind.SOLUTIONS: "application/sparql-results+json",
    QueryKind.BOOLEAN: "application/sparql-results+json",
    QueryKind.GRAPH: "application/n-triples",
}

# One query with a parameter of every type; each comes back in the projection, so a test can see
# the exact term the engine was given. ?matches counts the pillars whose Italian label is ?label.
ECHO = """\
# summary: Every parameter type, echoed
# description: A test query: the pillars of an edition with a given label, and the other values.
# parameter: edition (IRI of psm:PlanEdition) default <https://w3id.org/psm/milano/id/plan/psttm-2025-2027>
#   The edition.
# parameter: label (text @it) default "Sostenibilità"
#   The Italian label of a pillar.
# parameter: note (text) default "nothing"
#   Any text.
# parameter: count (integer) default 3
#   Any integer.
# parameter: day (date) default 2025-05-29
#   Any date.
# parameter: language (one of it, en, both) default both
#   A language.
# parameter: kind (one of psm:Pillar, psm:PlanEdition) default psm:Pillar
#   A class.
# result: one row: every value and the number of matching pillars.
# tags: test
# example:
# expect: 1 row
# expect: a row with matches=1 label="Sostenibilità"@it
PREFIX psm: <https://w3id.org/psm/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>

SELECT ?edition ?label ?note ?count ?day ?language ?kind (COUNT(?pillar) AS ?matches)
WHERE {
  OPTIONAL { ?pillar psm:pillarOf ?edition ; a ?kind ; rdfs:label ?label }
}
GROUP BY ?edition ?label ?note ?count ?day ?language ?kind
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.rq"
    path.write_text(text, encoding="utf-8")
    return path


def load_one(tmp_path: Path, text: str, name: str = "echo-values") -> NamedQuery:
    write(tmp_path, name, text)
    queries, problems = load_named_queries(tmp_path)
    assert not problems, [str(p) for p in problems]
    (query,) = queries
    return query


def problems_of(tmp_path: Path, text: str) -> list[QueryProblem]:
    write(tmp_path, "bad-query", text)
    queries, problems = load_named_queries(tmp_path)
    assert not queries
    return problems


def rows(store: Store, query: NamedQuery, terms: dict[str, Any]) -> list[dict[str, Any]]:
    outcome = store.query(query.text, timeout_s=10, substitutions=terms)
    body = json.loads(outcome.serialize(formats.SPARQL_JSON))
    return list(body["results"]["bindings"])


def bound_or_refused(query: NamedQuery, raw: dict[str, str]) -> dict[str, Any] | ParameterError:
    try:
        return bind(query, raw)
    except ParameterError as error:
        return error


@pytest.fixture
def echo(tmp_path: Path) -> NamedQuery:
    return load_one(tmp_path, ECHO)


# --- the header grammar ------------------------------------------------------------------------


DECLARATIONS = [
    (
        "edition (IRI of psm:PlanEdition) default <https://e/x> example <https://e/y>",
        {"type": ParameterType.IRI, "iri_class": PSM + "PlanEdition", "default": "https://e/x"},
    ),
    ("edition (IRI of a psm:PlanEdition)", {"iri_class": PSM + "PlanEdition", "required": True}),
    ("entity (IRI) default :thing", {"iri_class": None, "default": "https://example.org/thing"}),
    ("entity (iri of <https://e/C>), default <https://e/x>", {"iri_class": "https://e/C"}),
    ('text (text) example "piano strategico"', {"example": "piano strategico", "language": None}),
    ("label (text @it) default sostenibilità", {"language": "it", "default": "sostenibilità"}),
    ("label (text@en-GB)", {"language": "en-gb"}),
    ("year (integer) default 2025", {"type": ParameterType.INTEGER, "default": "2025"}),
    ("day (date) example 2025-02-27", {"type": ParameterType.DATE, "required": True}),
    (
        "language (one of it, en, both) default both",
        {"type": ParameterType.ENUM, "choices": ("it", "en", "both"), "iri_choices": False},
    ),
    (
        "kind (one of: psm:Pillar, <https://e/C>) default psm:Pillar",
        {
            "choices": (PSM + "Pillar", "https://e/C"),
            "iri_choices": True,
            "default": PSM + "Pillar",
        },
    ),
]


@pytest.mark.parametrize(
    ("declaration", "expected"),
    DECLARATIONS,
    ids=[d[0].split(" (")[0] + str(i) for i, d in enumerate(DECLARATIONS)],
)
def test_a_parameter_declaration_gives_its_type_default_and_example(
    declaration: str, expected: dict[str, Any]
) -> None:
    parameter = parse_declaration(declaration, "What it is.", 7, PREFIXES)
    assert parameter.description == "What it is."
    assert parameter.line == 7
    for field, value in expected.items():
        assert getattr(parameter, field) == value, field
    assert parameter.required is (parameter.default is None)


BAD_DECLARATIONS = [
    ("edition IRI", "NAME (TYPE)"),
    ("edition (uri)", "unknown type 'uri'"),
    ("edition (IRI of foaf:Agent)", "neither <an absolute IRI> nor a prefixed name"),
    ("edition (IRI) default <not an iri>", "cannot read"),
    ("edition (IRI) default <relative>", "the default value is not valid"),
    ("year (integer) default twelve", "the default value is not valid"),
    ("day (date) example 2025-02-30", "the example value is not valid"),
    ("language (one of it, en) default fr", "the default value is not valid"),
    ("language (one of it, psm:Pillar)", "either all words"),
    ("language (one of it, it)", "listed twice"),
    ("label (text @not_a_tag)", "not a language tag"),
    ("year (integer) default 1 default 2", "default is given twice"),
    ("year (integer) maximum 3", "only 'default VALUE' and 'example VALUE'"),
]


@pytest.mark.parametrize(
    ("declaration", "message"), BAD_DECLARATIONS, ids=[d for d, _ in BAD_DECLARATIONS]
)
def test_a_malformed_declaration_says_what_is_wrong(declaration: str, message: str) -> None:
    with pytest.raises(DeclarationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_declaration(declaration, "What it is.", 1, PREFIXES)


def test_a_declaration_without_a_description_is_refused() -> None:
    with pytest.raises(DeclarationError, match="describe it on the next line"):
        parse_declaration("year (integer)", "", 1, PREFIXES)


def test_a_named_query_reads_its_header_into_typed_fields(echo: NamedQuery) -> None:
    assert echo.name == "echo-values"
    assert echo.summary == "Every parameter type, echoed"
    assert echo.tags == ("test",)
    assert echo.form is QueryForm.SELECT
    assert [p.name for p in echo.parameters] == [
        "edition",
        "label",
        "note",
        "count",
        "day",
        "language",
        "kind",
    ]
    assert [p.line for p in echo.parameters] == [3, 5, 7, 9, 11, 13, 15]
    assert echo.parameters[0].class_name == "psm:PlanEdition"
    (example,) = echo.examples
    assert (example.line, example.arguments) == (19, ())
    assert [e.line for e in example.expectations] == [20, 21]
    assert echo.paginated


@pytest.mark.parametrize(
    ("tail", "paginated"),
    [
        ("ORDER BY ?s", True),
        ("ORDER BY ?s\n# a comment at the end", True),
        ("LIMIT 10", False),
        ("ORDER BY ?s OFFSET 5", False),
        ("VALUES ?s { <https://e/x> }", False),
    ],
    ids=["order by", "trailing comment", "limit", "offset", "trailing values"],
)
def test_only_a_select_without_its_own_limit_offset_or_values_is_paginated(
    tmp_path: Path, tail: str, paginated: bool
) -> None:
    text = f"# summary: S\n# description: D\nSELECT ?s WHERE {{ ?s ?p ?o }}\n{tail}\n"
    assert load_one(tmp_path, text, "list-things").paginated is paginated


def test_ask_and_construct_queries_are_not_paginated(tmp_path: Path) -> None:
    write(tmp_path, "ask-things", "# summary: S\n# description: D\nASK { ?s ?p ?o }\n")
    write(tmp_path, "make-things", "# summary: S\n# description: D\nCONSTRUCT WHERE { ?s ?p ?o }\n")
    queries, problems = load_named_queries(tmp_path)
    assert not problems
    assert [(q.form, q.paginated) for q in queries] == [
        (QueryForm.ASK, False),
        (QueryForm.CONSTRUCT, False),
    ]


HEAD = "# summary: S\n# description: D\n"
BAD_FILES = [
    (
        "# summary: S\n# descripton: D\nSELECT ?s { ?s ?p ?o }\n",
        2,
        "unknown header key 'descripton'",
    ),
    ("# summary: S\nSELECT ?s { ?s ?p ?o }\n", 1, "no '# description:' line"),
    (HEAD + "# summary: again\nSELECT ?s { ?s ?p ?o }\n", 3, "'summary' is given twice"),
    (HEAD + "SELECT ?s {\n  ?s ?p\n}\n", 5, "SPARQL: error at 6:1"),
    (HEAD + "SELECT ?s {\n  ?s ?p ?o }}\nORDER BY ?s\n", 5, "SPARQL: error at 5:6"),
    (HEAD + "INSERT DATA { <https://e/s> <https://e/p> 1 }\n", 3, "not a SPARQL query"),
    (HEAD + "SELECT * { SERVICE <https://e/sparql> { ?s ?p ?o } }\n", 3, "may not use SERVICE"),
    (
        HEAD + "# parameter: x (IRI)\n#   An IRI.\nSELECT ?s { ?s ?p ?x }\n",
        3,
        "?x is not in the SELECT projection",
    ),
    (HEAD + "# parameter: x (IRI)\n#   An IRI.\nSELECT ?s { ?s ?p ?o }\n", 3, "?x does not occur"),
    (
        HEAD + "# parameter: x (IRI)\n#   An IRI.\nSELECT ?x { VALUES ?x { <https://e/a> } }\n",
        3,
        "also fixed by VALUES",
    ),
    (
        HEAD + "# parameter: x (IRI)\n#   An IRI.\n# parameter: x (text)\n#   T.\nSELECT ?x {}\n",
        5,
        "declared twice",
    ),
    (HEAD + "# parameter: limit (integer)\n#   N.\nSELECT ?limit {}\n", 3, "kept for the API"),
    (HEAD + "# parameter: x (date)\nSELECT ?x {}\n", 3, "describe it on the next line"),
    (HEAD + "# expect: 1 row\nSELECT ?s {}\n", 3, "must follow an '# example:'"),
    (HEAD + "# example:\nSELECT ?s {}\n", 3, "needs at least one '# expect:'"),
    (HEAD + "# example: y=1\n# expect: 1 row\nSELECT ?s {}\n", 3, "unknown parameter 'y'"),
    (HEAD + "# example:\n# expect: true\nSELECT ?s {}\n", 4, "cannot read 'true'"),
    (HEAD + "# example:\n# expect: 2 triples\nSELECT ?s {}\n", 4, "counted in rows"),
    (HEAD + "# example:\n# expect: 1 row\nASK {}\n", 4, "'true' or 'false'"),
    (HEAD + "# example:\n# expect: some rows\nSELECT ?s {}\n", 4, "cannot read 'some rows'"),
    (
        HEAD + "# example:\n# expect: a triple with graph=<https://e/g>\nCONSTRUCT WHERE {}\n",
        4,
        "not graph",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD_FILES, ids=[m for _, _, m in BAD_FILES])
def test_a_bad_query_file_is_reported_with_its_line_and_left_out(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    (problem,) = problems_of(tmp_path, text)
    assert problem.line == line, problem
    assert message in problem.message
    assert str(problem) == f"{tmp_path / 'bad-query.rq'}:{line}: {problem.message}"


def test_one_bad_file_does_not_take_the_others_down(tmp_path: Path) -> None:
    write(tmp_path, "echo-values", ECHO)
    write(tmp_path, "bad-query", HEAD + "SELECT ?s {\n")
    (tmp_path / "not-utf-8.rq").write_bytes(b"# summary: S\n# description: caf\xe9\nASK {}\n")
    write(tmp_path, "Bad Name", HEAD + "ASK {}\n")
    (tmp_path / "a-directory.rq").mkdir()
    queries, problems = load_named_queries(tmp_path)
    assert [q.name for q in queries] == ["echo-values"]
    assert sorted((p.path.name, p.line) for p in problems) == [
        ("Bad Name.rq", 1),
        ("bad-query.rq", 3),
        ("not-utf-8.rq", 2),
    ]
    assert load_named_queries(tmp_path / "missing") == ([], [])


def test_check_names_the_line_of_each_assertion_the_data_breaks(
    tmp_path: Path, store: Store
) -> None:
    write(tmp_path, "echo-values", ECHO.replace("matches=1", "matches=2"))
    write(
        tmp_path,
        "list-pillars",
        HEAD
        + "# parameter: edition (IRI of psm:PlanEdition) example <https://e/nothing>\n"
        + "#   The edition.\n"
        + "# example: edition=<https://w3id.org/psm/milano/id/plan/psttm-2025-2027>\n"
        + "# expect: at least 5 rows\n"
        + '# expect: a row with label="Innovazione"@it pillar=:innovazione\n'
        + '# expect: no row with label="Sostenibilità"\n'
        + "# expect: a row with colour=UNDEF\n"
        + "PREFIX psm: <https://w3id.org/psm/ontology#>\n"
        + "PREFIX : <https://w3id.org/psm/milano/id/pillar/2025-2027/>\n"
        + "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
        + "SELECT ?edition ?pillar ?label WHERE { ?pillar psm:pillarOf ?edition ;"
        + " rdfs:label ?label } ORDER BY ?label\n",
    )
    write(tmp_path, "ask-nothing", HEAD + "ASK { ?s ?p ?o }\n")
    problems = [(p.path.name, p.line, p.message) for p in check_query_files(tmp_path, store)]
    assert problems == [
        ("ask-nothing.rq", 1, "no '# example:' with '# expect:' lines (docs/queries.md)"),
        (
            "echo-values.rq",
            21,
            'expected a row with matches=2 label="Sostenibilità"@it, not so among 1 rows',
        ),
        (
            "list-pillars.rq",
            3,
            "parameter 'edition': expected the IRI of a psm:PlanEdition, got 'https://e/nothing'",
        ),
        ("list-pillars.rq", 6, "expected at least 5 rows, got 4"),
        ("list-pillars.rq", 8, 'expected no row with label="Sostenibilità", not so among 4 rows'),
        (
            "list-pillars.rq",
            9,
            "expected a row with colour=UNDEF, but the result has no variable "
            "?colour (it has ?edition, ?pillar, ?label)",
        ),
    ]


def test_the_examples_of_a_correct_query_hold(tmp_path: Path, store: Store) -> None:
    write(tmp_path, "echo-values", ECHO)
    assert check_query_files(tmp_path, store) == []


def test_docs_queries_md_lists_every_project_query() -> None:
    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "queries.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"\(\.\./queries/([a-z0-9-]+)\.rq\)", doc))
    assert listed == {path.stem for path in (root / "queries").glob("*.rq")}


# --- binding -----------------------------------------------------------------------------------


def test_defaults_apply_and_every_type_binds_to_its_term(echo: NamedQuery) -> None:
    terms = bind(
        echo, {"count": "-12", "day": "2024-02-29", "language": "en", "kind": f"<{PSM}PlanEdition>"}
    )
    assert terms == {
        "edition": ox.NamedNode(EDITION),
        "label": ox.Literal("Sostenibilità", language="it"),
        "note": ox.Literal("nothing"),
        "count": ox.Literal(
            "-12", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
        ),
        "day": ox.Literal(
            "2024-02-29", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#date")
        ),
        "language": ox.Literal("en"),
        "kind": ox.NamedNode(PSM + "PlanEdition"),
    }


def test_an_iri_is_accepted_with_or_without_angle_brackets(echo: NamedQuery) -> None:
    assert bind(echo, {"edition": f"<{EDITION}>"}) == bind(echo, {"edition": EDITION})


def test_an_empty_value_counts_as_not_given(echo: NamedQuery) -> None:
    assert bind(echo, {"note": ""})["note"] == ox.Literal("nothing")


def test_a_text_is_normalised_to_nfc(echo: NamedQuery) -> None:
    assert bind(echo, {"label": "Sostenibilita\u0300"})["label"] == ox.Literal(
        "Sostenibilità", language="it"
    )


GOOD_AND_BAD = [
    ("edition", "urn:x-psm:edition", True),
    ("edition", "http://example.org/a%20b", True),
    ("edition", "https://example.org/città", True),
    ("edition", "psttm-2025-2027", False),
    ("edition", "javascript:alert(1)", False),
    ("edition", "https://example.org/a b", False),
    ("edition", "https://example.org/%zz", False),
    ("edition", "https://example.org/" + "a" * 2000, False),
    ("label", "x" * 200, True),
    ("label", "x" * 201, False),
    ("label", "   ", False),
    ("count", "0", True),
    ("count", "+1000000000", True),
    ("count", "1000000001", False),
    ("count", "1e3", False),
    ("count", "1_000", False),
    ("count", "12.0", False),
    ("count", " 12", False),
    ("day", "2024-02-29", True),
    ("day", "2025-02-29", False),
    ("day", "2025-13-01", False),
    ("day", "2025-1-1", False),
    ("day", "20250101", False),
    ("language", "it", True),
    ("language", "IT", False),
    ("language", "fr", False),
    ("kind", PSM + "Pillar", True),
    ("kind", "psm:Pillar", False),
    ("kind", "Pillar", False),
]


@pytest.mark.parametrize(
    ("name", "value", "good"), GOOD_AND_BAD, ids=[f"{n}={v[:30]!r}" for n, v, _ in GOOD_AND_BAD]
)
def test_each_type_takes_its_good_values_and_refuses_the_others(
    echo: NamedQuery, name: str, value: str, good: bool
) -> None:
    if good:
        assert name in bind(echo, {name: value})
        return
    with pytest.raises(ParameterError) as raised:
        bind(echo, {name: value})
    parameter = echo.parameter(name)
    assert parameter is not None
    assert (raised.value.parameter, raised.value.expected, raised.value.value) == (
        name,
        parameter.expected,
        value,
    )
    assert str(raised.value).startswith(f"parameter {name!r}: expected {parameter.expected}, got ")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("edition", "foo", "parameter 'edition': expected the IRI of a psm:PlanEdition, got 'foo'"),
        (
            "count",
            "ten",
            "parameter 'count': expected an integer from -1000000000 to 1000000000, got 'ten'",
        ),
        ("day", "29/05/2025", "parameter 'day': expected a date as YYYY-MM-DD, got '29/05/2025'"),
        ("language", "de", "parameter 'language': expected one of it, en, both, got 'de'"),
        (
            "note",
            "a\x00b",
            "parameter 'note': expected a text of 1 to 200 characters without control characters, "
            "got 'a\\x00b'",
        ),
    ],
    ids=["iri", "integer", "date", "enum", "text"],
)
def test_a_bad_value_names_the_parameter_and_the_expected_type(
    echo: NamedQuery, name: str, value: str, message: str
) -> None:
    with pytest.raises(ParameterError) as raised:
        bind(echo, {name: value})
    assert str(raised.value) == message


def test_a_missing_required_parameter_is_named(tmp_path: Path) -> None:
    query = load_one(
        tmp_path, HEAD + "# parameter: year (integer)\n#   A year.\nSELECT ?year {}\n", "find-year"
    )
    with pytest.raises(ParameterError) as raised:
        bind(query, {})
    assert str(raised.value) == (
        "parameter 'year': expected an integer from -1000000000 to 1000000000, got nothing"
    )
    assert raised.value.parameter == "year"


def test_an_unknown_parameter_is_named_with_the_ones_the_query_takes(echo: NamedQuery) -> None:
    with pytest.raises(ParameterError) as raised:
        bind(echo, {"editon": EDITION})
    assert raised.value.parameter == "editon"
    assert str(raised.value) == (
        "unknown parameter 'editon': this query takes "
        "edition, label, note, count, day, language, kind"
    )


def test_a_long_or_invisible_value_is_shown_cut_and_escaped(echo: NamedQuery) -> None:
    with pytest.raises(ParameterError) as raised:
        bind(echo, {"edition": "\u202e" + "x" * 100})
    shown = str(raised.value).split("got ", 1)[1]
    assert shown.startswith("'\\u202e")
    assert shown.endswith("…'")
    assert len(shown) < 80


def test_class_membership_is_checked_against_the_data(echo: NamedQuery, store: Store) -> None:
    check_iri_classes(echo, bind(echo, {}), store)
    with pytest.raises(ParameterError, match="expected the IRI of a psm:PlanEdition, got '"):
        check_iri_classes(echo, bind(echo, {"edition": PILLAR}), store)


# --- injection: refused, or bound as inert data ------------------------------------------------

ATTEMPTS = [
    ('" } ; DROP ALL ; #', "quote"),
    ("x' } UNION { ?s ?p ?o } #", "single quote and brace"),
    ("} SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } {", "service"),
    ("# } ?s ?p ?o", "comment"),
    ("x\n} ; CLEAR ALL", "newline"),
    ("Sostenibilità\u202e", "right-to-left override"),
    ("\uff02 \uff5d \uff03", "fullwidth quote brace hash"),
    ("a\x00b", "nul"),
    ("<https://w3id.org/psm/milano/id/plan/psttm-2025-2027>", "an IRI in angle brackets"),
    ('"Sostenibilità"@it', "a literal in SPARQL syntax"),
]


@pytest.mark.parametrize("name", ["edition", "label", "note", "count", "day", "language", "kind"])
@pytest.mark.parametrize(("value", "what"), ATTEMPTS, ids=[what for _, what in ATTEMPTS])
def test_an_injection_attempt_is_refused_or_bound_as_inert_data(
    echo: NamedQuery, store: Store, name: str, value: str, what: str
) -> None:
    size = len(store)
    terms = bound_or_refused(echo, {name: value})
    if isinstance(terms, ParameterError):
        assert terms.parameter == name
        return
    if isinstance(terms[name], ox.NamedNode):  # an IRI parameter given an IRI: it means that IRI
        assert terms[name] == ox.NamedNode(value.strip("<>"))
        return
    # Bound: the engine hands back exactly the string it was given, as a literal; as a label it
    # matches no pillar, elsewhere it changes nothing in the answer.
    (row,) = rows(store, echo, terms)
    assert row[name] == {"type": "literal", "value": value} | (
        {"xml:lang": "it"} if name == "label" else {}
    )
    assert row["matches"]["value"] == ("0" if name == "label" else "1")
    assert row["edition"]["value"] == EDITION
    assert len(store) == size
    assert rows(store, echo, bind(echo, {}))[0]["matches"]["value"] == "1"


@pytest.mark.parametrize(("value", "what"), ATTEMPTS, ids=[what for _, what in ATTEMPTS])
def test_no_injection_attempt_passes_as_an_iri(echo: NamedQuery, value: str, what: str) -> None:
    if value.startswith("<https://w3id.org/"):
        assert bind(echo, {"edition": value})["edition"] == ox.NamedNode(EDITION)
        return
    with pytest.raises(ParameterError):
        bind(echo, {"edition": value})


@pytest.mark.parametrize(
    "value",
    [
        f"{EDITION}\u202e",
        f"{EDITION}\uff1e",
        f"{EDITION}\u200b",
        f"{EDITION}\x00",
        f"{EDITION}> . ?s ?p ?o . <x",
        f"{EDITION}\n",
        f"{EDITION}{{",
        "https://w3id.org/psm/milano/id/plan/psttm-2025-2027".replace("w", "\uff57"),
    ],
    ids=[
        "rlo",
        "fullwidth >",
        "zero width space",
        "nul",
        "term break",
        "newline",
        "brace",
        "fullwidth w",
    ],
)
def test_an_iri_with_a_hidden_or_look_alike_character_is_refused(
    echo: NamedQuery, value: str
) -> None:
    with pytest.raises(ParameterError, match="parameter 'edition': expected the IRI"):
        bind(echo, {"edition": value})


# --- substitutions through the store and the workers -------------------------------------------


def test_the_store_refuses_to_bind_a_variable_a_select_does_not_project(store: Store) -> None:
    with pytest.raises(SubstitutionRejected, match=r"cannot bind \?x: a SELECT query must list"):
        store.query("SELECT ?s { ?s ?p ?x }", timeout_s=5, substitutions={"x": ox.Literal("1")})
    assert issubclass(SubstitutionRejected, QueryRejected)


def test_bindings_reach_the_engine_in_process_and_in_a_worker_process(
    echo: NamedQuery, store: Store, query_pool: WorkerPool
) -> None:
    terms = bind(echo, {"label": "Innovazione"})
    job = QueryJob(echo.text, MEDIA_TYPES, 10.0, 1_000_000, bindings=tuple(terms.items()))
    answers = [InProcessEvaluator(store).evaluate(job), query_pool.evaluate(job)]
    assert answers[0].body == answers[1].body
    (row,) = json.loads(answers[0].body)["results"]["bindings"]
    assert (row["label"]["value"], row["matches"]["value"]) == ("Innovazione", "1")


def test_a_projection_error_crosses_from_a_worker_as_a_rejection(query_pool: WorkerPool) -> None:
    job = QueryJob(
        "SELECT ?s { ?s ?p ?x }", MEDIA_TYPES, 10.0, 1_000_000, bindings=(("x", ox.Literal("1")),)
    )
    with pytest.raises(SubstitutionRejected):
        query_pool.evaluate(job)


def test_a_job_without_bindings_runs_as_before(store: Store) -> None:
    job = QueryJob("ASK { ?s a <https://w3id.org/psm/ontology#Pillar> }", MEDIA_TYPES, 10.0, 1000)
    assert json.loads(InProcessEvaluator(store).evaluate(job).body)["boolean"] is True


def test_without_the_class_as_written_a_message_names_the_class_iri() -> None:
    parameter = Parameter(
        "edition", ParameterType.IRI, "d", True, None, None, iri_class=PSM + "PlanEdition"
    )
    assert parameter.expected == f"the IRI of a {PSM}PlanEdition"
