"""Validation reports in every format: what each says, and that each is valid for its consumers.

Reports come from the real engine on tests/data/reports/ (see its README) and, for the edge cases
the engine does not produce on demand, from hand-made `Report` values. Machine formats are
checked against their published schemas: JSON against docs/validation-report.schema.json, JUnit
against the Jenkins/pytest junit-10.xsd, SARIF against OASIS's sarif-schema-2.1.0.json, Turtle
against SHACL shapes for SHACL's own sh:ValidationReport.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pyshacl
import pytest
import rdflib
import xmlschema
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, SH

from psm_kg.loading import SourceError
from psm_kg.reports import FORMATS, hint, render
from psm_kg.reports.github import escape_data, escape_property
from psm_kg.reports.names import shorten
from psm_kg.reports.text import render_text
from psm_kg.validation import Report, Result, Severity, validate_paths

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "reports"
SHAPES = DATA / "shapes.ttl"
PSM = "https://w3id.org/psm/ontology#"
PSMSH = "https://w3id.org/psm/shapes#"
ID = "https://w3id.org/psm/milano/id/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SHACL = "http://www.w3.org/ns/shacl#"
XSD = "http://www.w3.org/2001/XMLSchema#"


# --- reports to render ---------------------------------------------------------------------------


@cache
def validated(*names: str) -> Report:
    """The real engine's report on files of tests/data/reports/ against its shapes.ttl."""
    return validate_paths([DATA / name for name in names], [SHAPES])


def result(
    severity: Severity = Severity.VIOLATION,
    *,
    file: str | None = "data/x.ttl",
    line: int | None = 12,
    focus: str = ID + "pillar/sostenibilita",
    shape: str = PSMSH + "Pillar-label-en",
    path: str | None = RDFS + "label",
    value: str | None = None,
    value_line: int | None = None,
    component: str | None = SHACL + "QualifiedMinCountConstraintComponent",
    message: str = "a pillar needs an English label",
) -> Result:
    return Result(
        severity=severity,
        focus_node=focus,
        path=path,
        value=value,
        shape=shape,
        message=message,
        file=Path(file) if file else None,
        line=line,
        component=component,
        value_line=value_line,
    )


def report(*results: Result, errors: tuple[SourceError, ...] = ()) -> Report:
    return Report(results=results, errors=errors, files_checked=3, triples=120)


UNREADABLE = report(
    errors=(
        SourceError(Path("data/a.ttl"), 3, 7, 'undefined prefix "foo:"'),
        SourceError(Path("data/missing"), None, None, "no such file or directory"),
    )
)


def every_kind_of_report() -> dict[str, Report]:
    """One of each: the ids name what makes it different."""
    return {
        "real-violations": validated("violations.ttl"),
        "real-two-files": validated("violations.ttl", "warnings.ttl"),
        "real-warnings-only": validated("warnings.ttl"),
        "real-conforms": validated("valid.ttl"),
        "real-unreadable": validated("undefined-prefix.ttl", "valid.ttl"),
        "hand-unreadable": UNREADABLE,
        "hand-no-file-no-graph": report(result(file=None, line=None, value='"x"@it')),
        "hand-value-lines": report(result(value='"Milano"@it', value_line=14), result(line=None)),
        "hand-empty": Report(results=(), errors=(), files_checked=0, triples=0),
    }


REPORTS = every_kind_of_report()


# --- the contract --------------------------------------------------------------------------------


def test_the_formats_are_the_six_the_cli_offers() -> None:
    assert FORMATS == ("text", "json", "turtle", "junit", "github", "sarif")


def test_an_unknown_format_is_a_value_error_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'yaml'.*text, json, turtle, junit, github, sarif"):
        render(report(), "yaml")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_every_format_renders_every_kind_of_report_as_lines(fmt: str, kind: str) -> None:
    text = render(REPORTS[kind], fmt)

    assert text == "" or text.endswith("\n")
    assert fmt == "github" or text.strip()
    assert "\x1b[" not in text


# --- text ----------------------------------------------------------------------------------------


def test_result_line_names_location_severity_focus_shape_path_and_message_then_the_hint() -> None:
    assert render_text(report(result())) == (
        "data/x.ttl:12: Violation …/pillar/sostenibilita psmsh:Pillar-label-en (rdfs:label):"
        " a pillar needs an English label\n"
        '    hint: add rdfs:label "..."@en to …/pillar/sostenibilita\n'
        "\n"
        "3 files, 120 triples: 1 violation, 0 warnings, 0 infos\n"
    )


@pytest.mark.parametrize(
    ("given", "prefix"),
    [
        (result(line=None), "data/x.ttl: Violation "),
        (result(file=None, line=None), "Violation "),
    ],
    ids=["file-without-line", "no-file"],
)
def test_result_line_omits_an_unknown_location(given: Result, prefix: str) -> None:
    first_line = render_text(report(given)).splitlines()[0]

    assert first_line.startswith(prefix)


@pytest.mark.parametrize(
    ("value", "value_line", "message", "shown"),
    [
        ('"Milano"@it', None, "needs English", ' [value: "Milano"@it]'),
        (ID + "pillar/x", None, "bad link", " [value: …/pillar/x]"),
        ('"2"^^<' + XSD + "integer>", None, "too small", ' [value: "2"^^xsd:integer]'),
        ('"Milano"@it', None, 'value "Milano"@it is not English', ""),
        ('"Milano"@it', 14, "needs English", ' [value: "Milano"@it at line 14]'),
        ('"Milano"@it', 14, 'value "Milano"@it is not English', " [value at line 14]"),
    ],
    ids=["literal", "iri", "typed-literal", "already-in-message", "line", "line-only"],
)
def test_value_and_its_line_are_shown_unless_the_message_has_the_value(
    value: str, value_line: int | None, message: str, shown: str
) -> None:
    given = result(value=value, value_line=value_line, message=message)

    first_line = render_text(report(given)).splitlines()[0]

    assert first_line.endswith(message + shown)


def test_errors_come_first_as_path_line_column_message() -> None:
    assert render_text(UNREADABLE).splitlines() == [
        'data/a.ttl:3:7: undefined prefix "foo:"',
        "data/missing: no such file or directory",
        "",
        "3 files, 120 triples: 2 errors, not validated",
    ]


def test_results_of_each_file_are_grouped_each_with_its_hint_and_groups_separated() -> None:
    text = render_text(
        report(result(file="a.ttl", line=1), result(file="a.ttl", line=9), result(file="b.ttl"))
    )

    starts = [line.split(" ", 1)[0] for line in text.strip().splitlines()]
    assert starts == ["a.ttl:1:", "", "a.ttl:9:", "", "", "b.ttl:12:", "", "", "3"]
    assert text.count("\n    hint: ") == 3


@pytest.mark.parametrize(
    ("given", "summary"),
    [
        (report(), "3 files, 120 triples: conforms"),
        (
            report(result(Severity.WARNING), result(Severity.INFO), result(Severity.INFO)),
            "3 files, 120 triples: 0 violations, 1 warning, 2 infos",
        ),
        (
            Report(results=(), errors=(), files_checked=1, triples=1),
            "1 file, 1 triple: conforms",
        ),
    ],
    ids=["conforms", "counts-by-severity", "singular"],
)
def test_summary_counts_files_triples_and_results(given: Report, summary: str) -> None:
    assert render_text(given).splitlines()[-1] == summary


@pytest.mark.parametrize(
    ("iri", "short"),
    [
        ("https://w3id.org/psm/ontology#Pillar", "psm:Pillar"),
        (PSMSH + "Pillar-label-en", "psmsh:Pillar-label-en"),
        (ID + "plan/psttm-2025-2027", "…/plan/psttm-2025-2027"),
        ("http://www.w3.org/2004/02/skos/core#prefLabel", "skos:prefLabel"),
        ("https://example.org/other", "<https://example.org/other>"),
        ("_:b0", "_:b0"),
        ('"Milano"@it', '"Milano"@it'),
        ('"2025"^^<' + XSD + "gYear>", '"2025"^^xsd:gYear'),
        ('"a^^<b"@en', '"a^^<b"@en'),
    ],
    ids=[
        "psm",
        "psmsh",
        "data-base",
        "skos",
        "unknown-namespace",
        "blank-node",
        "literal",
        "typed-literal",
        "literal-that-looks-typed",
    ],
)
def test_iris_are_shortened_with_the_project_prefixes(iri: str, short: str) -> None:
    assert shorten(iri) == short


@pytest.mark.parametrize(
    ("given", "colored"),
    [
        (report(result()), "\x1b[31mViolation\x1b[0m"),
        (report(result(Severity.WARNING)), "\x1b[33mWarning\x1b[0m"),
        (report(result(Severity.INFO)), "\x1b[36mInfo\x1b[0m"),
        (report(result()), "\x1b[2m    hint: "),
        (report(), "\x1b[32m3 files, 120 triples: conforms\x1b[0m"),
        (report(errors=(SourceError(Path("a.ttl"), 1, 1, "bad"),)), "\x1b[1;31ma.ttl:1:1: bad"),
    ],
    ids=["violation", "warning", "info", "hint", "conforms", "error"],
)
def test_ansi_colours_appear_only_when_asked(given: Report, colored: str) -> None:
    assert colored in render(given, "text", color=True)
    assert "\x1b[" not in render(given, "text")


def test_text_of_a_real_run_points_at_the_file_and_line_of_each_focus_node() -> None:
    text = render(validated("violations.ttl"), "text", base=DATA)

    assert "violations.ttl:12: Violation …/pillar/sostenibilita psmsh:Pillar-label-en" in text
    assert 'hint: add rdfs:label "..."@en to …/pillar/sostenibilita' in text
    assert "violations.ttl:22: Violation …/plan/psttm-2022-2024" in text
    assert text.endswith("1 file, 14 triples: 3 violations, 1 warning, 1 info\n")


def test_text_names_a_blank_node_shape_by_its_constraint() -> None:
    given = result(shape="_:n1f2", component=SHACL + "DatatypeConstraintComponent")

    assert " …/pillar/sostenibilita [Datatype] (rdfs:label): " in render(report(given), "text")


@pytest.mark.parametrize(
    ("base", "shown"),
    [
        (None, "tests/data/reports/violations.ttl:12:"),
        (DATA, "violations.ttl:12:"),
        (DATA / "elsewhere", str(DATA / "violations.ttl") + ":12:"),
    ],
    ids=["working-directory", "inside-base", "outside-base-stays-absolute"],
)
def test_file_paths_are_relative_to_the_base_and_absolute_outside_it(
    base: Path | None, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)

    text = render(validated("violations.ttl"), "text", base=base)

    assert text.splitlines()[0].startswith(shown)


# --- json ----------------------------------------------------------------------------------------

JSON_SCHEMA = json.loads((ROOT / "docs" / "validation-report.schema.json").read_text("utf-8"))


def json_of(given: Report, **options: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render(given, "json", **options))
    return document


def test_the_json_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(JSON_SCHEMA)


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_json_output_is_valid_against_the_documented_schema(kind: str) -> None:
    jsonschema.Draft202012Validator(JSON_SCHEMA).validate(json_of(REPORTS[kind]))


def test_the_json_schema_rejects_a_result_that_lacks_a_field() -> None:
    document = json_of(validated("violations.ttl"))
    del document["results"][0]["hint"]

    with pytest.raises(jsonschema.ValidationError, match="'hint' is a required property"):
        jsonschema.Draft202012Validator(JSON_SCHEMA).validate(document)


def test_json_of_a_real_run_has_every_field_of_each_result() -> None:
    document = json_of(validated("violations.ttl"), base=DATA)

    assert document["version"] == 1
    assert document["conforms"] is False
    assert document["exit_code"] == 1
    assert document["summary"] == {
        "files": 1,
        "triples": 14,
        "violations": 3,
        "warnings": 1,
        "infos": 1,
        "errors": 0,
    }
    assert document["errors"] == []
    wrong_class = next(r for r in document["results"] if r["shape"] == PSMSH + "Pillar-edition")
    assert wrong_class == {
        "severity": "Violation",
        "file": "violations.ttl",
        "line": 18,
        "focus_node": ID + "pillar/innovazione",
        "path": PSM + "pillarOf",
        "value": ID + "pillar/sostenibilita",
        "value_line": 20,
        "shape": PSMSH + "Pillar-edition",
        "component": SHACL + "ClassConstraintComponent",
        "message": "psm:pillarOf must point to a psm:PlanEdition.",
        "hint": "point psm:pillarOf of …/pillar/innovazione at a node typed psm:PlanEdition"
        " instead of …/pillar/sostenibilita",
    }


def test_json_lists_unreadable_input_with_file_line_and_column() -> None:
    document = json_of(UNREADABLE)

    assert document["exit_code"] == 2
    assert document["conforms"] is False
    assert document["errors"] == [
        {"file": "data/a.ttl", "line": 3, "column": 7, "message": 'undefined prefix "foo:"'},
        {
            "file": "data/missing",
            "line": None,
            "column": None,
            "message": "no such file or directory",
        },
    ]


@pytest.mark.parametrize(
    ("fail_on", "exit_code"),
    [(Severity.VIOLATION, 0), (Severity.WARNING, 1), (Severity.INFO, 1)],
    ids=["violation", "warning", "info"],
)
def test_json_exit_code_follows_fail_on(fail_on: Severity, exit_code: int) -> None:
    document = json_of(validated("warnings.ttl"), fail_on=fail_on)

    assert document["conforms"] is True
    assert document["exit_code"] == exit_code


def test_every_field_of_the_json_schema_is_documented_in_docs_validation() -> None:
    doc = (ROOT / "docs" / "validation.md").read_text("utf-8")
    fields = {
        *JSON_SCHEMA["properties"],
        *JSON_SCHEMA["properties"]["summary"]["properties"],
        *JSON_SCHEMA["$defs"]["error"]["properties"],
        *JSON_SCHEMA["$defs"]["result"]["properties"],
    }

    # Written `name`, or with its parent: `summary.files`, `results[].hint`.
    undocumented = {name for name in fields if not re.search(rf"`([\w\[\]]+\.)?{name}`", doc)}
    assert not undocumented, f"document these JSON fields in docs/validation.md: {undocumented}"


# --- turtle --------------------------------------------------------------------------------------

REPORT_SHAPES = rdflib.Graph().parse(DATA / "validation-report-shapes.ttl")


def conforms_to_report_shapes(graph: rdflib.Graph) -> tuple[bool, str]:
    conforms, _graph, text = pyshacl.validate(graph, shacl_graph=REPORT_SHAPES)
    return bool(conforms), str(text)


@pytest.mark.parametrize(
    "kind",
    sorted(kind for kind, given in REPORTS.items() if not given.errors),
)
def test_turtle_output_parses_as_one_conforming_shacl_validation_report(kind: str) -> None:
    graph = rdflib.Graph().parse(data=render(REPORTS[kind], "turtle"), format="turtle")

    reports = list(graph.subjects(RDF.type, SH.ValidationReport))
    assert len(reports) == 1
    assert len(list(graph.objects(reports[0], SH.result))) == len(REPORTS[kind].results)
    conforms, text = conforms_to_report_shapes(graph)
    assert conforms, text


def test_the_report_shapes_reject_a_report_that_breaks_section_3_6() -> None:
    broken = rdflib.Graph().parse(
        format="turtle",
        data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        [] a sh:ValidationReport ; sh:conforms true, false ;
           sh:result [ a sh:ValidationResult ; sh:resultSeverity sh:Violation ] .
        """,
    )

    conforms, text = conforms_to_report_shapes(broken)

    assert not conforms
    for message in ("exactly one xsd:boolean sh:conforms", "exactly one sh:focusNode"):
        assert message in text


def test_turtle_is_the_engine_report_graph_when_there_is_one() -> None:
    real = validated("violations.ttl")
    assert real.report_graph is not None

    written = rdflib.Graph().parse(data=render(real, "turtle"), format="turtle")

    assert isomorphic(written, real.report_graph)


def test_turtle_rebuilt_from_results_keeps_each_result_term() -> None:
    given = report(result(value='"Milano"@it'), result(Severity.WARNING, path=None, file=None))

    graph = rdflib.Graph().parse(data=render(given, "turtle"), format="turtle")

    values = set(graph.objects(None, SH.value))
    assert values == {rdflib.Literal("Milano", lang="it")}
    assert set(graph.objects(None, SH.resultSeverity)) == {SH.Violation, SH.Warning}
    assert set(graph.objects(None, SH.sourceShape)) == {rdflib.URIRef(PSMSH + "Pillar-label-en")}
    assert list(graph.objects(None, SH.conforms)) == [rdflib.Literal(False)]


def test_turtle_for_unreadable_input_is_only_comments_that_say_so() -> None:
    text = render(UNREADABLE, "turtle")

    assert text.splitlines() == [
        "# psm-kg validate: 3 files, 120 triples: 2 errors, not validated"
        " (SHACL did not run: no sh:ValidationReport)",
        '# data/a.ttl:3:7: undefined prefix "foo:"',
        "# data/missing: no such file or directory",
    ]
    assert len(rdflib.Graph().parse(data=text, format="turtle")) == 0


# --- junit ---------------------------------------------------------------------------------------

JUNIT_SCHEMA = xmlschema.XMLSchema(DATA / "junit-10.xsd")


def junit_of(given: Report, **options: Any) -> ET.Element:
    return ET.fromstring(render(given, "junit", **options))


@pytest.mark.parametrize("fail_on", list(Severity), ids=[s.value for s in Severity])
@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_junit_output_is_valid_against_the_junit_schema(kind: str, fail_on: Severity) -> None:
    JUNIT_SCHEMA.validate(render(REPORTS[kind], "junit", fail_on=fail_on))


def test_the_junit_schema_rejects_a_testcase_without_a_name() -> None:
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        JUNIT_SCHEMA.validate(
            '<testsuites><testsuite name="a" tests="1" failures="0" errors="0">'
            "<testcase/></testsuite></testsuites>"
        )


def test_junit_has_a_suite_per_file_and_a_testcase_per_focus_node_and_shape() -> None:
    root = junit_of(validated("violations.ttl", "warnings.ttl"), base=DATA)

    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert set(suites) == {"violations.ttl", "warnings.ttl"}
    names = [case.get("name") for case in suites["violations.ttl"].iter("testcase")]
    assert len(names) == len(set(names)) == 5
    assert "…/pillar/innovazione psmsh:Pillar-edition" in names
    assert {case.get("classname") for case in root.iter("testcase")} == set(suites)


def test_junit_names_a_blank_node_shape_by_constraint_and_path_not_by_its_id() -> None:
    root = junit_of(validated("violations.ttl"))

    names = [case.get("name") for case in root.iter("testcase")]
    assert "…/plan/psttm-2022-2024 [Datatype on dct:issued]" in names
    assert not any("_:" in (name or "") for name in names)


def test_junit_keeps_one_suite_per_file_when_results_are_not_sorted_by_file() -> None:
    given = report(result(file="a.ttl"), result(file="b.ttl"), result(file="a.ttl", line=30))

    root = junit_of(given)

    assert [suite.get("name") for suite in root.iter("testsuite")] == ["a.ttl", "b.ttl"]


def test_results_of_one_focus_node_and_shape_share_a_testcase() -> None:
    two_values = [result(value='"a"@it', line=3), result(value='"b"@it', line=3)]

    root = junit_of(report(*two_values))

    (case,) = root.iter("testcase")
    failure = case.find("failure")
    assert failure is not None
    assert failure.text is not None
    assert failure.text.count("data/x.ttl:3: Violation") == 2


@pytest.mark.parametrize(
    ("fail_on", "failures", "skipped"),
    [(Severity.VIOLATION, 3, 2), (Severity.WARNING, 4, 1), (Severity.INFO, 5, 0)],
    ids=["violation", "warning", "info"],
)
def test_junit_fails_results_at_fail_on_and_skips_the_rest_with_counts_that_add_up(
    fail_on: Severity, failures: int, skipped: int
) -> None:
    root = junit_of(validated("violations.ttl"), fail_on=fail_on)

    (suite,) = root.iter("testsuite")
    assert len(suite.findall("testcase/failure")) == failures
    assert len(suite.findall("testcase/skipped")) == skipped
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == (
        "5",
        str(failures),
        str(skipped),
    )
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == (
        "5",
        str(failures),
        "0",
    )


def test_a_junit_failure_carries_the_message_the_location_and_the_hint() -> None:
    root = junit_of(validated("violations.ttl"), base=DATA)

    case = next(c for c in root.iter("testcase") if "Pillar-label-en" in (c.get("name") or ""))
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "A pillar needs an English label."
    assert failure.get("type") == "sh:QualifiedMinCountConstraintComponent"
    assert (failure.text or "").startswith("violations.ttl:12: Violation …/pillar/sostenibilita")
    assert 'hint: add rdfs:label "..."@en to …/pillar/sostenibilita' in (failure.text or "")


def test_junit_reports_unreadable_input_as_an_error_testcase_per_problem() -> None:
    root = junit_of(UNREADABLE)

    errors = root.findall("testsuite/testcase/error")
    assert [error.get("message") for error in errors] == [
        'undefined prefix "foo:"',
        "no such file or directory",
    ]
    assert errors[0].text == 'data/a.ttl:3:7: undefined prefix "foo:"'
    assert (root.get("tests"), root.get("errors"), root.get("failures")) == ("2", "2", "0")


def test_a_conforming_junit_report_has_one_passing_testcase() -> None:
    root = junit_of(validated("valid.ttl"))

    (case,) = root.iter("testcase")
    assert case.get("name") == "conforms"
    assert list(case) == [case.find("system-out")]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "0", "0")


def test_junit_replaces_characters_that_xml_cannot_carry() -> None:
    given = report(result(message="bell \x07 and nul \x00 in a message"))

    text = render(given, "junit")

    JUNIT_SCHEMA.validate(text)
    assert "bell \ufffd and nul \ufffd" in text


# --- github --------------------------------------------------------------------------------------


def test_github_writes_one_annotation_per_result_with_file_lines_title_and_hint() -> None:
    lines = render(validated("violations.ttl"), "github", base=DATA).splitlines()

    assert len(lines) == 5
    assert lines[0] == (
        "::error file=violations.ttl,line=12,endLine=12,title=Pillar-label-en::"
        'A pillar needs an English label. — add rdfs:label "..."@en to …/pillar/sostenibilita'
    )


@pytest.mark.parametrize(
    ("severity", "command"),
    [
        (Severity.VIOLATION, "::error "),
        (Severity.WARNING, "::warning "),
        (Severity.INFO, "::notice "),
    ],
    ids=["violation", "warning", "info"],
)
def test_github_maps_severities_to_error_warning_and_notice(
    severity: Severity, command: str
) -> None:
    assert render(report(result(severity)), "github").startswith(command)


def test_github_end_line_is_the_line_of_the_value() -> None:
    lines = render(validated("violations.ttl"), "github", base=DATA).splitlines()

    wrong_class = next(line for line in lines if "title=Pillar-edition" in line)
    assert wrong_class.startswith("::error file=violations.ttl,line=18,endLine=20,")


def test_github_titles_a_blank_node_shape_by_its_constraint() -> None:
    lines = render(validated("violations.ttl"), "github").splitlines()

    assert any(",title=Datatype::" in line for line in lines)


@pytest.mark.parametrize(
    ("text", "as_property", "as_data"),
    [
        ("plain", "plain", "plain"),
        ("50%", "50%25", "50%25"),
        ("a:b,c", "a%3Ab%2Cc", "a:b,c"),
        ("one\r\ntwo", "one%0D%0Atwo", "one%0D%0Atwo"),
        ("%3A", "%253A", "%253A"),
    ],
    ids=["plain", "percent", "colon-comma", "newlines", "already-encoded"],
)
def test_github_escapes_properties_and_messages_as_the_toolkit_does(
    text: str, as_property: str, as_data: str
) -> None:
    assert escape_property(text) == as_property
    assert escape_data(text) == as_data


def test_github_escapes_a_path_and_a_message_inside_the_command() -> None:
    given = report(result(file="dir,a/x:y.ttl", line=2, message="50% done\nnext"))

    line = render(given, "github")

    assert line.startswith("::error file=dir%2Ca/x%3Ay.ttl,line=2,endLine=2,")
    assert "::50%25 done%0Anext — " in line
    assert line.count("\n") == 1


def test_github_annotates_unreadable_input_with_line_and_column() -> None:
    assert render(UNREADABLE, "github").splitlines() == [
        '::error file=data/a.ttl,line=3,col=7,title=unreadable input::undefined prefix "foo:"',
        "::error file=data/missing,title=unreadable input::no such file or directory",
    ]


# --- sarif ---------------------------------------------------------------------------------------

SARIF_SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text("utf-8"))


def sarif_of(given: Report, **options: Any) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(render(given, "sarif", **options))
    return log


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_sarif_output_is_valid_against_the_oasis_schema(kind: str) -> None:
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif_of(REPORTS[kind]))


def test_the_sarif_schema_rejects_a_result_without_a_message() -> None:
    log = sarif_of(validated("violations.ttl"))
    del log["runs"][0]["results"][0]["message"]

    with pytest.raises(jsonschema.ValidationError, match="'message' is a required property"):
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)


def test_sarif_names_the_tool_and_one_rule_per_shape_with_its_message() -> None:
    (run,) = sarif_of(validated("violations.ttl"))["runs"]

    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("psm-kg", "0.1.0")
    rules = {rule["id"]: rule for rule in driver["rules"]}
    assert set(rules) == {
        "Pillar-label-en",
        "Pillar-comment",
        "Pillar-notation",
        "Pillar-edition",
        "DatatypeConstraintComponent",
    }
    assert rules["Pillar-label-en"]["shortDescription"] == {
        "text": "A pillar needs an English label."
    }
    assert rules["Pillar-label-en"]["properties"] == {"shape": PSMSH + "Pillar-label-en"}
    for sarif_result in run["results"]:
        assert driver["rules"][sarif_result["ruleIndex"]]["id"] == sarif_result["ruleId"]


def test_sarif_results_point_at_file_and_line_under_srcroot_with_the_value_line_related() -> None:
    (run,) = sarif_of(validated("violations.ttl"), base=DATA)["runs"]

    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": DATA.as_uri() + "/"}}
    wrong_class = next(r for r in run["results"] if r["ruleId"] == "Pillar-edition")
    assert wrong_class["level"] == "error"
    assert wrong_class["message"]["text"].startswith(
        "psm:pillarOf must point to a psm:PlanEdition. — point"
    )
    (location,) = wrong_class["locations"]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "violations.ttl", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 18},
    }
    assert location["logicalLocations"][0]["fullyQualifiedName"] == ID + "pillar/innovazione"
    (related,) = wrong_class["relatedLocations"]
    assert related["physicalLocation"]["region"] == {"startLine": 20}
    assert related["message"]["text"] == "the value …/pillar/sostenibilita"


def test_sarif_levels_are_error_warning_and_note() -> None:
    (run,) = sarif_of(validated("violations.ttl"))["runs"]

    levels = {r["properties"]["resultSeverity"]: r["level"] for r in run["results"]}
    assert levels == {"Violation": "error", "Warning": "warning", "Info": "note"}


def test_sarif_rule_ids_are_full_iris_when_local_names_collide() -> None:
    given = report(result(shape=PSMSH + "Label"), result(shape="https://example.org/x#Label"))

    (run,) = sarif_of(given)["runs"]

    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [
        PSMSH + "Label",
        "https://example.org/x#Label",
    ]


@pytest.mark.parametrize(
    ("file", "uri"),
    [
        ("/project/data/my file%.ttl", {"uri": "data/my%20file%25.ttl", "uriBaseId": "%SRCROOT%"}),
        ("/elsewhere/x.ttl", {"uri": "file:///elsewhere/x.ttl"}),
    ],
    ids=["percent-encoded", "outside-base-absolute"],
)
def test_sarif_artifact_uris_are_encoded_and_absolute_outside_the_base(
    file: str, uri: dict[str, str]
) -> None:
    (run,) = sarif_of(report(result(file=file)), base=Path("/project"))["runs"]

    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == uri


def test_sarif_marks_unreadable_input_as_an_unsuccessful_invocation() -> None:
    (run,) = sarif_of(UNREADABLE, base=Path("/project"))["runs"]

    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["exitCode"] == 2
    first, second = invocation["toolExecutionNotifications"]
    assert first["message"]["text"] == 'undefined prefix "foo:"'
    assert first["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 7}
    assert "region" not in second["locations"][0]["physicalLocation"]
    assert run["results"] == []


# --- hints ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            result(message="A pillar needs an English rdfs:label."),
            'add rdfs:label "..."@en to …/pillar/sostenibilita',
        ),
        (
            result(
                shape="_:b1",
                message="Focus node does not conform to shape MinCount 1:"
                ' [ sh:languageIn ( Literal("it") ) ]',
            ),
            'add rdfs:label "..."@it to …/pillar/sostenibilita',
        ),
        (
            result(
                shape=PSMSH + "Edition-start",
                path=PSM + "startYear",
                component=SHACL + "MinCountConstraintComponent",
                message='Needs a start year: add psm:startYear "2025"^^xsd:gYear.',
            ),
            'add psm:startYear "..."^^xsd:gYear to …/pillar/sostenibilita',
        ),
        (
            result(
                path=PSM + "pillarOf",
                component=SHACL + "MinCountConstraintComponent",
                message="A pillar belongs to one edition:"
                " add psm:pillarOf pointing to a psm:PlanEdition.",
            ),
            "add psm:pillarOf <...> (a psm:PlanEdition) to …/pillar/sostenibilita",
        ),
        (
            result(
                path="http://purl.org/dc/terms/issued",
                value='"26/11/2026"',
                component=SHACL + "DatatypeConstraintComponent",
                message="Value is not Literal with datatype xsd:date",
            ),
            'rewrite dct:issued "26/11/2026" of …/pillar/sostenibilita as "..."^^xsd:date',
        ),
        (
            result(
                path="http://purl.org/dc/terms/issued",
                value=f'"2025-13-01"^^<{XSD}date>',
                component=SHACL + "DatatypeConstraintComponent",
                message="Value is not Literal with datatype xsd:date",
            ),
            'correct the lexical form of dct:issued "2025-13-01"^^xsd:date of'
            " …/pillar/sostenibilita: it is not a valid xsd:date",
        ),
        (
            result(
                path=PSM + "pillarOf",
                value=ID + "mission/x",
                component=SHACL + "ClassConstraintComponent",
                message=f"Value does not have class <{PSM}PlanEdition>",
            ),
            "point psm:pillarOf of …/pillar/sostenibilita at a node typed psm:PlanEdition"
            " instead of …/mission/x",
        ),
        (
            result(
                path=PSM + "pillarOf",
                value=ID + "mission/x",
                component=SHACL + "ClassConstraintComponent",
                message="A pillar belongs to an edition.",
            ),
            "point psm:pillarOf of …/pillar/sostenibilita at a node of the class"
            " psmsh:Pillar-label-en asks for instead of …/mission/x",
        ),
        (
            result(
                path="https://schema.org/url",
                value='"https://example.org/"',
                component=SHACL + "NodeKindConstraintComponent",
                message="Value is not of Node Kind sh:IRI",
            ),
            'write <https://schema.org/url> "https://example.org/" of …/pillar/sostenibilita'
            " as an IRI <...>",
        ),
        (
            result(
                path=RDFS + "comment",
                value='"c"@fr',
                component=SHACL + "LanguageInConstraintComponent",
                message='String language is not in ( Literal("en") Literal("it") )',
            ),
            'tag rdfs:comment "c"@fr of …/pillar/sostenibilita with @en or @it',
        ),
        (
            result(
                path=None,
                value=ID + "pillar/sostenibilita",
                component=SHACL + "PatternConstraintComponent",
                message="Value does not match pattern '^https://w3id.org/psm/milano/id/'",
            ),
            "rename …/pillar/sostenibilita so that it matches /^https://w3id.org/psm/milano/id//",
        ),
        (
            result(
                path=PSM + "kind",
                value=PSM + "Other",
                component=SHACL + "InConstraintComponent",
                message=f"Value <{PSM}Other> not in list ['<{PSM}A>', '<{PSM}B>']",
            ),
            "replace psm:kind psm:Other of …/pillar/sostenibilita with one of psm:A, psm:B",
        ),
        (
            result(
                path="http://www.w3.org/2004/02/skos/core#inScheme",
                component=SHACL + "HasValueConstraintComponent",
                message=f"Node <x>-><y> does not contain a value in the set: ['<{ID}scheme/pnrr>']",
            ),
            "add skos:inScheme …/scheme/pnrr to …/pillar/sostenibilita",
        ),
        (
            result(
                path=PSM + "inZone",
                component=SHACL + "MaxCountConstraintComponent",
                message="More than 1 values on <x>-><y>",
            ),
            "keep one psm:inZone on …/pillar/sostenibilita and delete the others",
        ),
        (
            result(
                path=PSM + "endYear",
                value=f'"0"^^<{XSD}integer>',
                component=SHACL + "MinInclusiveConstraintComponent",
                message='Value is not >= Literal("1", datatype=xsd:integer)',
            ),
            'change psm:endYear "0"^^xsd:integer of …/pillar/sostenibilita to a value >= 1',
        ),
        (
            result(
                path=RDFS + "label",
                component=SHACL + "UniqueLangConstraintComponent",
                message="More than one String shares the same Language",
            ),
            "keep one rdfs:label per language on …/pillar/sostenibilita; delete or retag the rest",
        ),
        (
            result(
                path="http://purl.org/dc/terms/date",
                value='"febbraio 2025"',
                component=SHACL + "OrConstraintComponent",
                message="The date is an xsd:date, an xsd:gYearMonth or an xsd:gYear.",
            ),
            'rewrite dct:date "febbraio 2025" of …/pillar/sostenibilita in one of the forms'
            " psmsh:Pillar-label-en allows: xsd:date, xsd:gYearMonth, xsd:gYear",
        ),
        (
            result(
                path=PSM + "endYear",
                value=f'"2025"^^<{XSD}gYear>',
                component=SHACL + "SPARQLConstraintComponent",
                message="A plan edition cannot end before it starts.",
            ),
            'edit psm:endYear "2025"^^xsd:gYear of …/pillar/sostenibilita until the SPARQL'
            " query of psmsh:Pillar-label-en no longer selects it",
        ),
        (
            result(
                shape=PSMSH + "Pillar-comment",
                path=RDFS + "comment",
                component=SHACL + "MinCountConstraintComponent",
                message="A pillar should have a comment.",
            ),
            "add a rdfs:comment value to …/pillar/sostenibilita",
        ),
        (
            result(
                path="http://purl.org/dc/terms/license",
                component=SHACL + "MinCountConstraintComponent",
                message="Needs a licence: add dct:license <https://example.org/licence/cc-by>.",
            ),
            "add dct:license <https://example.org/licence/cc-by> to …/pillar/sostenibilita",
        ),
        (
            result(
                path=PSM + "inZone",
                component=SHACL + "MaxCountConstraintComponent",
                message="MaxCountConstraintComponent violated: a comune is in at most one zone",
            ),
            "keep one psm:inZone on …/pillar/sostenibilita and delete the others",
        ),
        (
            result(
                path="https://schema.org/url",
                value='"https://example.org/"',
                component=SHACL + "NodeKindConstraintComponent",
                message="NodeKindConstraintComponent violated",
            ),
            'write <https://schema.org/url> "https://example.org/" of …/pillar/sostenibilita'
            " as an IRI or a blank node",
        ),
        (
            result(path=None, component=None, message="custom"),
            "change …/pillar/sostenibilita so that it conforms to psmsh:Pillar-label-en",
        ),
    ],
    ids=[
        "qualified-min-count-english",
        "qualified-min-count-pyshacl-message",
        "min-count-datatype",
        "min-count-class",
        "datatype-untyped",
        "datatype-ill-formed",
        "class",
        "class-not-named-anywhere",
        "node-kind",
        "language-in",
        "pattern-on-the-focus-node",
        "in",
        "has-value",
        "max-count",
        "min-inclusive",
        "unique-lang",
        "or-of-datatypes",
        "sparql",
        "min-count-nothing-named",
        "min-count-iri-in-the-message",
        "max-count-in-words",
        "node-kind-from-the-value",
        "unknown-component",
    ],
)
def test_hint_names_the_action_on_the_focus_node_and_path(given: Result, expected: str) -> None:
    assert hint(given) == expected


def test_hints_read_what_a_blank_node_shape_asks_for_from_the_engine_report() -> None:
    real = validated("violations.ttl")
    datatype = next(r for r in real.results if r.component == SHACL + "DatatypeConstraintComponent")
    assert "xsd:date" not in datatype.message  # the engine's message does not say

    fix = hint(datatype, shapes=real.report_graph)

    assert fix == 'rewrite dct:issued "29/05/2022" of …/plan/psttm-2022-2024 as "..."^^xsd:date'


def test_hints_of_a_real_run_name_the_focus_node_and_never_repeat_the_message() -> None:
    real = validated("violations.ttl")

    for each in real.results:
        fix = hint(each, shapes=real.report_graph)
        assert shorten(each.focus_node) in fix
        assert each.message not in fix
        assert re.match(r"[a-z]", fix)
