"""The report as JSON for programs: one stable document, described by
docs/validation-report.schema.json (JSON Schema 2020-12) and field by field in docs/validation.md.

A change that removes or retypes a field bumps "version"; new optional fields do not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from psm_kg.loading import SourceError
from psm_kg.reports.hints import hint
from psm_kg.reports.names import display_path
from psm_kg.validation import Report, Result, Severity

VERSION = 1


def render_json(
    report: Report, *, base: Path | None = None, fail_on: Severity = Severity.VIOLATION
) -> str:
    """The report as one indented JSON document ending with a newline."""
    document = {
        "version": VERSION,
        "conforms": report.conforms,
        "exit_code": report.exit_code_failing_on(fail_on),
        "summary": {
            "files": report.files_checked,
            "triples": report.triples,
            "violations": report.count(Severity.VIOLATION),
            "warnings": report.count(Severity.WARNING),
            "infos": report.count(Severity.INFO),
            "errors": len(report.errors),
        },
        "errors": [_error(error, base) for error in report.errors],
        "results": [_result(result, report, base) for result in report.results],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _error(error: SourceError, base: Path | None) -> dict[str, Any]:
    return {
        "file": display_path(error.path, base),
        "line": error.line,
        "column": error.column,
        "message": error.message,
    }


def _result(result: Result, report: Report, base: Path | None) -> dict[str, Any]:
    return {
        "severity": result.severity.value,
        "file": display_path(result.file, base) if result.file is not None else None,
        "line": result.line,
        "focus_node": result.focus_node,
        "path": result.path,
        "value": result.value,
        "value_line": result.value_line,
        "shape": result.shape,
        "component": result.component,
        "message": result.message,
        "hint": hint(result, shapes=report.report_graph),
    }
