"""The report as JUnit XML, the test-report format that CI servers display.

- one <testsuite> per data file (results that cannot be located: one suite named "(unlocated)");
- one <testcase> per (focus node, shape) pair, named "<focus> <shape>" (a blank-node shape, whose
  id changes between runs, as "[Constraint on path]"), classname the file;
- a <failure> when the pair's gravest result is at the --fail-on severity or graver (a Violation
  by default); a <skipped> otherwise, so that warnings and infos show without failing the build;
- unreadable input: a suite per file with one testcase "read" holding an <error>;
- a run with nothing to report: one passing testcase "conforms", so that CI tools, which refuse a
  report with no tests, show the check as passed.

Valid against the JUnit schema that pytest validates its own reports with (tests/data/reports/).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from psm_kg.loading import SourceError
from psm_kg.reports.names import display_path, shape_label, shorten
from psm_kg.reports.text import describe, error_line, summary
from psm_kg.validation import Report, Result, Severity

SUITES_NAME = "psm-kg validate"
UNLOCATED = "(unlocated)"
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.VIOLATION: 2}
# Characters XML 1.0 cannot carry, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(
    report: Report, *, base: Path | None = None, fail_on: Severity = Severity.VIOLATION
) -> str:
    """JUnit XML (UTF-8, with its declaration) ending with a newline."""
    root = ET.Element("testsuites", name=SUITES_NAME)
    errors_by_file: dict[str, list[SourceError]] = {}
    for error in report.errors:
        errors_by_file.setdefault(display_path(error.path, base), []).append(error)
    for file, errors in errors_by_file.items():
        suite = _suite(root, file)
        for error in errors:
            case = _case(suite, "read", file)
            _text(
                ET.SubElement(case, "error", type="unreadable input", message=error.message),
                error_line(error, base),
            )
    # One suite per file even when results are not sorted by file; pairs in order of appearance.
    files: dict[str, dict[tuple[str, str], list[Result]]] = {}
    for result in report.results:
        name = display_path(result.file, base) if result.file is not None else UNLOCATED
        pairs = files.setdefault(name, {})
        pairs.setdefault((result.focus_node, result.shape), []).append(result)
    for name, pairs in files.items():
        suite = _suite(root, name)
        for (focus, shape), pair in pairs.items():
            label = shape_label(shape, pair[0].component, pair[0].path)
            case = _case(suite, f"{shorten(focus)} {label}", name)
            _outcome(case, pair, report, base, fail_on)
    if not report.errors and not report.results:
        suite = _suite(root, SUITES_NAME)
        _text(ET.SubElement(_case(suite, "conforms", SUITES_NAME), "system-out"), summary(report))
    _count(root)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _outcome(
    case: ET.Element,
    results: Sequence[Result],
    report: Report,
    base: Path | None,
    fail_on: Severity,
) -> None:
    gravest = max(results, key=lambda result: _RANK[result.severity])
    component = shorten(gravest.component) if gravest.component else "sh:ValidationResult"
    text = "\n".join(describe(result, report, base) for result in results)
    if gravest.severity.at_least(fail_on):
        outcome = ET.SubElement(case, "failure", type=component, message=gravest.message)
    else:
        message = f"{gravest.severity.value} (below --fail-on {fail_on.value.lower()}): "
        outcome = ET.SubElement(case, "skipped", type=component, message=message + gravest.message)
    _text(outcome, text)


def _suite(root: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(root, "testsuite", name=_clean(name))


def _case(suite: ET.Element, name: str, classname: str) -> ET.Element:
    return ET.SubElement(
        suite, "testcase", name=_clean(name), classname=_clean(classname), time="0"
    )


def _text(element: ET.Element, text: str) -> None:
    element.text = _clean(text)
    for key, value in element.attrib.items():
        element.set(key, _clean(value))


def _count(root: ET.Element) -> None:
    totals = dict.fromkeys(("tests", "failures", "errors"), 0)
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        counts = {
            "tests": len(cases),
            "failures": sum(1 for case in cases if case.find("failure") is not None),
            "errors": sum(1 for case in cases if case.find("error") is not None),
            "skipped": sum(1 for case in cases if case.find("skipped") is not None),
        }
        for key, count in counts.items():
            suite.set(key, str(count))
            if key in totals:
                totals[key] += count
        suite.set("time", "0")
    for key, total in totals.items():  # the schema has no "skipped" on <testsuites>
        root.set(key, str(total))
    root.set("time", "0")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
