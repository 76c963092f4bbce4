"""The report as GitHub Actions workflow commands: one annotation per result, nothing else.

`::error file=data/x.ttl,line=9,endLine=12,title=Pillar-label-en::message — hint`, with
::warning for warnings and ::notice for infos; unreadable input gives ::error with its line and
column. Property values and messages are escaped as the Actions toolkit does, so that a ':' or
',' in a path or a newline in a message cannot break the command.
"""

from __future__ import annotations

from pathlib import Path

from psm_kg.loading import SourceError
from psm_kg.reports.hints import hint
from psm_kg.reports.names import display_path, is_blank, local_name
from psm_kg.validation import Report, Result, Severity

_COMMAND = {Severity.VIOLATION: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def render_github(report: Report, *, base: Path | None = None) -> str:
    """One workflow command per line (an empty string when there is nothing to report)."""
    lines = [_error(error, base) for error in report.errors]
    lines += [_result(result, report, base) for result in report.results]
    return "".join(line + "\n" for line in lines)


def _error(error: SourceError, base: Path | None) -> str:
    properties = {"file": display_path(error.path, base)}
    if error.line is not None:
        properties["line"] = str(error.line)
        if error.column is not None:
            properties["col"] = str(error.column)
    properties["title"] = "unreadable input"
    return _command("error", properties, error.message)


def _result(result: Result, report: Report, base: Path | None) -> str:
    properties: dict[str, str] = {}
    if result.file is not None:
        properties["file"] = display_path(result.file, base)
        if result.line is not None:
            properties["line"] = str(result.line)
            end = max(result.line, result.value_line or result.line)
            properties["endLine"] = str(end)
    properties["title"] = title(result)
    message = f"{result.message} — {hint(result, shapes=report.report_graph)}"
    return _command(_COMMAND[result.severity], properties, message)


def title(result: Result) -> str:
    """The shape's local name; for a blank-node shape, its constraint ('MinCount')."""
    if result.shape and not is_blank(result.shape):
        return local_name(result.shape)
    component = local_name(result.component or "")
    return component.removesuffix("ConstraintComponent") or "SHACL"


def _command(name: str, properties: dict[str, str], message: str) -> str:
    listed = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{name} {listed}::{escape_data(message)}"


def escape_data(text: str) -> str:
    """A command's message: '%', CR and LF percent-encoded (the toolkit's escapeData)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value: as a message, plus ':' and ',' (the toolkit's escapeProperty)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
