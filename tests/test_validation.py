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
