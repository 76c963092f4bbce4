"""The text report: errors first, one line per result grouped by file, then a summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from psm_kg.loading import SourceError
from psm_kg.report import render_text, shorten
from psm_kg.validation import Report, Result, Severity

PSMSH = "https://w3id.org/psm/shapes#"
ID = "https://w3id.org/psm/milano/id/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"


def result(
    severity: Severity = Severity.VIOLATION,
    *,
    file: str | None = "data/x.ttl",
    line: int | None = 12,
    value: str | None = None,
    message: str = "a pillar needs an English label",
) -> Result:
    return Result(
        severity=severity,
        focus_node=ID + "pillar/sostenibilita",
        path=RDFS + "label",
        value=value,
        shape=PSMSH + "Pillar-label-en",
        message=message,
        file=Path(file) if file else None,
        line=line,
    )


def report(*results: Result, errors: tuple[SourceError, ...] = ()) -> Report:
    return Report(results=results, errors=errors, files_checked=3, triples=120)


def test_result_line_names_location_severity_focus_shape_path_and_message() -> None:
    assert render_text(report(result())) == (
        "data/x.ttl:12: Violation …/pillar/sostenibilita psmsh:Pillar-label-en (rdfs:label):"
        " a pillar needs an English label\n"
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
    ("value", "message", "shown"),
    [
        ('"Milano"@it', "needs English", ' [value: "Milano"@it]'),
        (ID + "pillar/x", "bad link", " [value: …/pillar/x]"),
        ('"Milano"@it', 'value "Milano"@it is not English', ""),
    ],
    ids=["literal", "iri", "already-in-message"],
)
def test_value_is_shown_unless_the_message_has_it(value: str, message: str, shown: str) -> None:
    first_line = render_text(report(result(value=value, message=message))).splitlines()[0]

    assert first_line.endswith(message + shown)


def test_errors_come_first_as_path_line_column_message() -> None:
    errors = (
        SourceError(Path("data/a.ttl"), 3, 7, 'undefined prefix "foo:"'),
        SourceError(Path("data/missing"), None, None, "no such file or directory"),
    )

    assert render_text(report(errors=errors)).splitlines() == [
        'data/a.ttl:3:7: undefined prefix "foo:"',
        "data/missing: no such file or directory",
        "",
        "3 files, 120 triples: 2 errors, not validated",
    ]


def test_results_of_each_file_are_grouped_and_groups_separated() -> None:
    text = render_text(
        report(result(file="a.ttl", line=1), result(file="a.ttl", line=9), result(file="b.ttl"))
    )

    locations = [line.split(" ", 1)[0] for line in text.splitlines()]
    assert locations == ["a.ttl:1:", "a.ttl:9:", "", "b.ttl:12:", "", "3"]


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
    ],
    ids=["psm", "psmsh", "data-base", "skos", "unknown-namespace", "blank-node", "literal"],
)
def test_iris_are_shortened_with_the_project_prefixes(iri: str, short: str) -> None:
    assert shorten(iri) == short


@pytest.mark.parametrize(
    ("given", "colored"),
    [
        (report(result()), "\x1b[31mViolation\x1b[0m"),
        (report(result(Severity.WARNING)), "\x1b[33mWarning\x1b[0m"),
        (report(), "\x1b[32m3 files, 120 triples: conforms\x1b[0m"),
        (report(errors=(SourceError(Path("a.ttl"), 1, 1, "bad"),)), "\x1b[1;31ma.ttl:1:1: bad"),
    ],
    ids=["violation", "warning", "conforms", "error"],
)
def test_ansi_colours_appear_only_when_asked(given: Report, colored: str) -> None:
    assert colored in render_text(given, color=True)
    assert "\x1b[" not in render_text(given)
