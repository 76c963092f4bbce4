"""The report for people: unreadable input first, then the results grouped by file, a summary last.

Lines start with "path:line:" so that editors and CI logs can jump to them; under each result,
an indented line gives the fix (`hints.hint`). IRIs are shortened with the project's prefixes;
data IRIs under the plan's base read as "…/type/reference".
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from pathlib import Path

from psm_kg.loading import SourceError
from psm_kg.reports.hints import hint
from psm_kg.reports.names import display_path, shape_label, shorten
from psm_kg.validation import Report, Result, Severity

_Painter = Callable[[str, str], str]

_RESET = "\x1b[0m"
_COLOR = {
    Severity.VIOLATION: "\x1b[31m",  # red
    Severity.WARNING: "\x1b[33m",  # yellow
    Severity.INFO: "\x1b[36m",  # cyan
}
_ERROR_COLOR = "\x1b[1;31m"  # bold red
_OK_COLOR = "\x1b[32m"  # green
_HINT_COLOR = "\x1b[2m"  # dim
HINT_INDENT = "    hint: "


def render_text(report: Report, *, color: bool = False, base: Path | None = None) -> str:
    """The report as lines of text ending with a newline; ANSI colours only when `color`."""

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    lines = [paint(error_line(error, base), _ERROR_COLOR) for error in report.errors]
    # Results arrive sorted by file; a blank line between files keeps long reports readable.
    for index, (_file, group) in enumerate(groupby(report.results, key=lambda r: r.file)):
        if index or lines:
            lines.append("")
        for result in group:
            lines.append(_result_line(result, paint, base))
            fix = hint(result, shapes=report.report_graph)
            lines.append(paint(HINT_INDENT + fix, _HINT_COLOR))
    if lines:
        lines.append("")
    lines.append(paint(summary(report), _OK_COLOR if report.conforms else _ERROR_COLOR))
    return "\n".join(lines) + "\n"


def summary(report: Report) -> str:
    """'3 files, 120 triples: 1 violation, 0 warnings, 0 infos' (or 'conforms', or the errors)."""
    checked = f"{_plural(report.files_checked, 'file')}, {_plural(report.triples, 'triple')}"
    if report.errors:
        return f"{checked}: {_plural(len(report.errors), 'error')}, not validated"
    if not report.results:
        return f"{checked}: conforms"
    counts = ", ".join(
        _plural(report.count(severity), severity.value.lower()) for severity in Severity
    )
    return f"{checked}: {counts}"


def error_line(error: SourceError, base: Path | None = None) -> str:
    """'data/a.ttl:3:7: message', with as much of the position as is known."""
    location = [display_path(error.path, base)]
    if error.line is not None:
        location.append(str(error.line))
        if error.column is not None:
            location.append(str(error.column))
    return ":".join(location) + ": " + error.message


def describe(result: Result, report: Report, base: Path | None = None) -> str:
    """One result as two plain lines (no colour, no final newline): what and where, then the fix."""
    fix = hint(result, shapes=report.report_graph)
    return _result_line(result, lambda text, _code: text, base) + "\n" + HINT_INDENT + fix


def _result_line(result: Result, paint: _Painter, base: Path | None) -> str:
    location = ""
    if result.file is not None:
        file = display_path(result.file, base)
        location = f"{file}:{result.line}: " if result.line else f"{file}: "
    path = f" ({shorten(result.path)})" if result.path else ""
    severity = paint(result.severity.value, _COLOR[result.severity])
    focus, shape = shorten(result.focus_node), shape_label(result.shape, result.component)
    return f"{location}{severity} {focus} {shape}{path}: {result.message}{_value(result)}"


def _value(result: Result) -> str:
    """' [value: "x"@it at line 14]'; the value is left out when the message already shows it."""
    parts = []
    if result.value is not None and result.value not in result.message:
        parts.append(f"value: {shorten(result.value)}")
    if result.value_line is not None:
        parts.append(
            f"at line {result.value_line}" if parts else f"value at line {result.value_line}"
        )
    return f" [{' '.join(parts)}]" if parts else ""


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
