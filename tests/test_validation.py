"""Validation: parse everything first, run SHACL only on good input, locate every result."""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib

from psm_kg.errors import ShapesError
from psm_kg.validation import (
    Engine,
    Report,
    Result,
    Severity,
    validate_graph,
    validate_paths,
)

FIXTURES = Path(__file__).parent / "data" / "validation"
SHAPES = FIXTURES / "shapes.ttl"
PSMSH = "https://w3id.org/psm/shapes#"
PILLAR = "https://w3id.org/psm/milano/id/pillar/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
PREFIXES = """\
@prefix psm: <https://w3id.org/psm/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix pillar: <https://w3id.org/psm/milano/id/pillar/> .
"""
# Satisfies every shape in shapes.ttl but the one named in the test.
COMPLETE = 'a psm:Pillar ; rdfs:label "P"@en ; rdfs:comment "c" ; skos:notation "N"'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_conforms_with_exit_code_0() -> None:
    report = validate_paths([FIXTURES / "valid.ttl"], [SHAPES])

    assert report == Report(results=(), errors=(), files_checked=1, triples=5)
    assert (report.conforms, report.exit_code) == (True, 0)


def test_violation_exits_1_and_points_at_its_file_and_line() -> None:
    report = validate_paths([FIXTURES / "violation.ttl"], [SHAPES])

    assert report.results == (
        Result(
            severity=Severity.VIOLATION,
            focus_node=PILLAR + "no-english-label",
            path=RDFS + "label",
            value=None,
            shape=PSMSH + "Pillar-label-en",
            message="a pillar needs an English label",  # English preferred over Italian
            file=FIXTURES / "violation.ttl",
            line=9,
            component="http://www.w3.org/ns/shacl#QualifiedMinCountConstraintComponent",
        ),
    )
    assert (report.conforms, report.exit_code) == (False, 1)


@pytest.mark.parametrize(
    ("fixture", "severity", "shape"),
    [
        ("warning-only.ttl", Severity.WARNING, "Pillar-comment"),
        ("info-only.ttl", Severity.INFO, "Pillar-notation"),
    ],
    ids=["warning", "info"],
)
def test_warnings_and_infos_alone_exit_0(
    tmp_path: Path, fixture: str, severity: Severity, shape: str
) -> None:
    info_only = PREFIXES + 'pillar:x a psm:Pillar ; rdfs:label "X"@en ; rdfs:comment "c" .\n'
    write(tmp_path / "info-only.ttl", info_only)
    path = FIXTURES / fixture if fixture != "info-only.ttl" else tmp_path / fixture

    report = validate_paths([path], [SHAPES])

    assert [(r.severity, r.shape, r.file, r.line) for r in report.results] == [
        (severity, PSMSH + shape, path, 6)
    ]
    assert (report.conforms, report.exit_code) == (True, 0)


@pytest.mark.parametrize(
    ("data", "shapes", "bad"),
    [
        (["syntax-error.ttl"], ["shapes.ttl"], ["syntax-error.ttl"]),
        (["missing.ttl", "valid.ttl"], ["shapes.ttl"], ["missing.ttl"]),
        (["valid.ttl"], ["undefined-prefix.ttl"], ["undefined-prefix.ttl"]),
        (["undefined-prefix.ttl", "syntax-error.ttl"], ["missing"], None),
    ],
    ids=["bad-data-file", "missing-data-file", "bad-shapes-file", "all-bad"],
)
def test_unreadable_input_stops_before_shacl_with_exit_code_2(
    data: list[str], shapes: list[str], bad: list[str] | None
) -> None:
    report = validate_paths([FIXTURES / name for name in data], [FIXTURES / n for n in shapes])

    expected = bad if bad is not None else [*data, *shapes]
    assert [error.path.name for error in report.errors] == expected
    assert report.results == ()
    assert (report.conforms, report.exit_code) == (False, 2)


def test_every_bad_file_is_listed_and_parsed_files_are_counted(tmp_path: Path) -> None:
    write(tmp_path / "a.ttl", "<a> <b> .\n")
    write(tmp_path / "b.ttl", PREFIXES + f"pillar:b {COMPLETE} .\n")
    write(tmp_path / "c.ttl", "@prefix x: <y> .\nz:c <b> <c> .\n")

    report = validate_paths([tmp_path], [SHAPES])

    assert [str(error) for error in report.errors] == [
        f"{tmp_path / 'a.ttl'}:1:8: objectList expected",
        f'{tmp_path / "c.ttl"}:2:1: undefined prefix "z:"',
    ]
    assert (report.files_checked, report.triples, report.exit_code) == (3, 4, 2)


def test_shapes_files_without_triples_are_an_error(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.ttl", "# nothing yet\n")

    report = validate_paths([FIXTURES / "valid.ttl"], [empty])

    assert [str(error) for error in report.errors] == [f"{empty}: the shapes files hold no triples"]
    assert report.exit_code == 2


@pytest.mark.parametrize("engine", list(Engine), ids=[e.value for e in Engine])
def test_shapes_the_engine_cannot_use_are_reported_not_raised(
    tmp_path: Path, engine: Engine
) -> None:
    shapes = write(
        tmp_path / "broken.ttl",
        PREFIXES + "[] a sh:NodeShape ; sh:targetClass psm:Pillar ;"
        ' sh:property [ sh:path rdfs:label ; sh:minCount "many" ] .\n',
    )

    report = validate_paths([FIXTURES / "valid.ttl"], [shapes], engine=engine)

    assert [(error.path, error.line) for error in report.errors] == [(shapes, None)]
    assert "cannot use the shapes" in report.errors[0].message
    assert "sh:minCount" in report.errors[0].message
    assert report.exit_code == 2


def test_blank_node_focus_is_located_at_the_statement_holding_it(tmp_path: Path) -> None:
    data = write(
        tmp_path / "nested.ttl",
        PREFIXES + "\npillar:outer skos:related\n  [ a psm:Pillar ; rdfs:comment 'c' ] .\n",
    )

    report = validate_paths([data], [SHAPES])

    assert {(r.focus_node[:2], r.file, r.line) for r in report.results} == {("_:", data, 7)}


def test_anonymous_shape_is_named_by_its_blank_node(tmp_path: Path) -> None:
    shapes = write(
        tmp_path / "shapes.ttl",
        PREFIXES + "[] a sh:NodeShape ; sh:targetClass psm:Pillar ; sh:closed true .\n",
    )

    report = validate_paths([FIXTURES / "valid.ttl"], [shapes])

    assert report.results
    assert all(result.shape.startswith("_:") for result in report.results)
    assert {result.value for result in report.results} >= {'"Sustainability"@en', '"P1"'}


def test_first_file_describing_a_subject_wins(tmp_path: Path) -> None:
    first = write(tmp_path / "1.ttl", PREFIXES + 'pillar:x rdfs:label "X"@en .\n')
    second = write(tmp_path / "2.ttl", PREFIXES + "\n\npillar:x a psm:Pillar .\n")

    report = validate_paths([first, second], [SHAPES])

    assert {(r.file, r.line) for r in report.results} == {(first, 6)}


def test_results_are_sorted_by_file_then_line(tmp_path: Path) -> None:
    write(tmp_path / "b.ttl", PREFIXES + "pillar:b2 a psm:Pillar .\npillar:b1 a psm:Pillar .\n")
    write(tmp_path / "a.ttl", PREFIXES + "pillar:a a psm:Pillar .\n")

    report = validate_paths([tmp_path], [SHAPES])

    locations = [(r.file.name if r.file else None, r.line) for r in report.results]
    assert locations == sorted(locations, key=lambda location: (location[0] or "", location[1]))
    assert {location[0] for location in locations} == {"a.ttl", "b.ttl"}


def test_validate_graph_returns_results_without_location() -> None:
    data = rdflib.Graph().parse(FIXTURES / "violation.ttl")
    shapes = rdflib.Graph().parse(SHAPES)

    results = validate_graph(data, shapes)

    assert [(r.focus_node, r.shape, r.file, r.line) for r in results] == [
        (PILLAR + "no-english-label", PSMSH + "Pillar-label-en", None, None)
    ]


@pytest.mark.parametrize("engine", list(Engine), ids=[e.value for e in Engine])
def test_validate_graph_raises_shapes_error_for_unusable_shapes(engine: Engine) -> None:
    shapes = rdflib.Graph().parse(
        data=PREFIXES + "pillar:S a sh:NodeShape ; sh:targetNode pillar:x ; sh:minLength -1 .\n",
        format="turtle",
    )
    data = rdflib.Graph().parse(data=PREFIXES + "pillar:x rdfs:label 'x' .\n", format="turtle")

    with pytest.raises(ShapesError, match=r"cannot use the shapes.*sh:minLength"):
        validate_graph(data, shapes, engine=engine)


# Where the offending value is: Result.value_line (tests/data/validation/values.ttl).

VALUE_SHAPES = FIXTURES / "value-shapes.ttl"
VALUES = FIXTURES / "values.ttl"
PLAN = "https://w3id.org/psm/milano/id/plan/"


@pytest.mark.parametrize(
    ("shape", "focus", "value", "line", "value_line"),
    [
        ("Pillar-notation", PILLAR + "notation", '"not a notation"', 11, 14),
        ("Pillar-edition", PILLAR + "wrong-edition", PILLAR + "notation", 16, 18),
        ("PlanEdition-pillars", PLAN + "edition", PLAN + "not-a-pillar", 9, 20),
        ("Part-label", None, '"no language"', 22, 24),
    ],
    ids=["literal-on-continuation-line", "iri-object", "inverse-path", "blank-node-focus"],
)
def test_value_line_points_at_the_offending_value(
    shape: str, focus: str | None, value: str, line: int, value_line: int
) -> None:
    report = validate_paths([VALUES], [VALUE_SHAPES])

    [result] = [r for r in report.results if r.shape == PSMSH + shape]
    assert result.focus_node == focus if focus else result.focus_node.startswith("_:")
    assert (result.value, result.file, result.line, result.value_line) == (
        value,
        VALUES,
        line,
        value_line,
    )


def test_value_in_a_second_file_points_at_that_file(tmp_path: Path) -> None:
    first = write(tmp_path / "1.ttl", PREFIXES + 'pillar:x a psm:Pillar ; skos:notation "P1" .\n')
    second = write(tmp_path / "2.ttl", PREFIXES + '\n\npillar:x\n  skos:notation "bad" .\n')

    report = validate_paths([first, second], [VALUE_SHAPES])

    assert [(r.file, r.line, r.value_line) for r in report.results] == [(second, 8, 9)]


def test_result_without_a_value_has_no_value_line() -> None:
    report = validate_paths([FIXTURES / "violation.ttl"], [SHAPES])

    assert [(r.value, r.line, r.value_line) for r in report.results] == [(None, 9, None)]


# Context: loaded with the data, never reported on.

EDITION_CONTEXT = PREFIXES + "<https://w3id.org/psm/milano/id/plan/e> a psm:PlanEdition .\n"
PILLAR_OF_E = (
    'a psm:Pillar ; skos:notation "P1" ; psm:pillarOf <https://w3id.org/psm/milano/id/plan/e>'
)


def test_context_lets_references_resolve(tmp_path: Path) -> None:
    data = write(tmp_path / "pillar.ttl", PREFIXES + f"pillar:x {PILLAR_OF_E} .\n")
    context = write(tmp_path / "context" / "edition.ttl", EDITION_CONTEXT)

    alone = validate_paths([data], [VALUE_SHAPES])
    with_context = validate_paths([data], [VALUE_SHAPES], context=[context.parent])

    assert [(r.shape, r.line, r.value_line) for r in alone.results] == [
        (PSMSH + "Pillar-edition", 6, 6)
    ]
    assert with_context.results == ()
    assert (with_context.files_checked, with_context.triples) == (1, 3)


def test_results_about_nodes_described_in_context_are_dropped(tmp_path: Path) -> None:
    data = write(tmp_path / "pillar.ttl", PREFIXES + f"pillar:x {PILLAR_OF_E} .\n")
    context = write(
        tmp_path / "edition.ttl",
        EDITION_CONTEXT + 'pillar:in-context a psm:Pillar ; skos:notation "bad" .\n',
    )

    report = validate_paths([data], [VALUE_SHAPES], context=[context])
    everything = validate_paths([data, context], [VALUE_SHAPES])

    assert report.results == ()
    assert [r.focus_node for r in everything.results] == [PILLAR + "in-context"]


def test_a_file_given_as_data_and_as_context_is_data(tmp_path: Path) -> None:
    data = write(
        tmp_path / "pillar.ttl", PREFIXES + 'pillar:x a psm:Pillar ; skos:notation "b" .\n'
    )

    report = validate_paths([data], [VALUE_SHAPES], context=[tmp_path])

    assert [(r.file, r.value_line) for r in report.results] == [(data, 6)]


def test_unreadable_context_is_an_input_error(tmp_path: Path) -> None:
    data = write(tmp_path / "pillar.ttl", PREFIXES + f"pillar:x {COMPLETE} .\n")

    report = validate_paths([data], [SHAPES], context=[FIXTURES / "syntax-error.ttl"])

    assert [(e.path.name, e.line) for e in report.errors] == [("syntax-error.ttl", 5)]
    assert report.exit_code == 2


def test_owl_imports_are_never_followed(tmp_path: Path) -> None:
    imported = write(tmp_path / "imported.ttl", PREFIXES + "pillar:imported a psm:Pillar .\n")
    data = write(
        tmp_path / "data" / "ontology.ttl",
        PREFIXES + f"<https://e.org/o> a <http://www.w3.org/2002/07/owl#Ontology> ;\n"
        f"  <http://www.w3.org/2002/07/owl#imports> <{imported.as_uri()}> ,"
        " <http://192.0.2.1/unreachable.ttl> .\n",
    )

    report = validate_paths([data], [SHAPES])

    assert (report.triples, report.results, report.errors) == (3, (), ())


# Profiles: the psm profile is the default and brings the ontology.


def test_the_psm_profile_is_the_default_and_loads_the_ontology() -> None:
    example = FIXTURES.parents[2] / "ontology" / "examples" / "valid" / "derived-statement.ttl"
    psm_shapes = sorted((FIXTURES.parents[2] / "ontology" / "shapes").glob("*.ttl"))

    with_profile = validate_paths([example])
    shapes_only = validate_paths([example], psm_shapes)

    assert with_profile.count(Severity.VIOLATION) == 0
    # Without the ontology, psm:NameMatch is not a known derivation method.
    assert shapes_only.count(Severity.VIOLATION) > 0


def test_parsing_in_processes_gives_the_same_report(tmp_path: Path) -> None:
    for number in range(12):
        write(
            tmp_path / f"p{number:02}.ttl",
            PREFIXES + f'\npillar:p{number} a psm:Pillar ;\n  skos:notation "N{number}" .\n',
        )

    one = validate_paths([tmp_path], [VALUE_SHAPES])
    two = validate_paths([tmp_path], [VALUE_SHAPES], jobs=2)

    assert len(one.results) == 12
    assert two == one
