"""The report as a SARIF 2.1.0 log (OASIS), the format of GitHub code scanning and other tools.

One run; the driver "psm-kg" lists one rule per shape that has results (its id the shape IRI's
local name, or the full IRI when two shapes share a local name; blank-node shapes share one rule
per constraint component). Each result points at the file and line of its focus node, relative
to %SRCROOT% (the `base` directory), with the value's line as a related location. Unreadable
input makes the invocation unsuccessful, with one notification per problem.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from psm_kg import __version__
from psm_kg.loading import SourceError
from psm_kg.reports.github import title
from psm_kg.reports.hints import hint
from psm_kg.reports.names import absolute, is_blank, local_name, relative, shorten
from psm_kg.validation import Report, Result, Severity

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"
_LEVEL = {Severity.VIOLATION: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def render_sarif(
    report: Report, *, base: Path | None = None, fail_on: Severity = Severity.VIOLATION
) -> str:
    """A SARIF log as indented JSON ending with a newline."""
    base_dir = absolute(base if base is not None else Path.cwd())
    rules, rule_ids = _rules(report.results)
    invocation: dict[str, Any] = {
        "executionSuccessful": not report.errors,
        "exitCode": report.exit_code_failing_on(fail_on),
    }
    if report.errors:
        invocation["toolExecutionNotifications"] = [
            _notification(error, base_dir) for error in report.errors
        ]
    run = {
        "tool": {
            "driver": {
                "name": "psm-kg",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": rules,
            }
        },
        "invocations": [invocation],
        # SARIF wants a base URI that ends with "/" (the root directory's already does).
        "originalUriBaseIds": {SRCROOT: {"uri": base_dir.as_uri().removesuffix("/") + "/"}},
        "columnKind": "unicodeCodePoints",
        "results": [_result(result, rule_ids, report, base_dir) for result in report.results],
    }
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, ensure_ascii=False, indent=2) + "\n"


def _rule_key(result: Result) -> str:
    """Results of one rule share this: the shape IRI, or the component of a blank-node shape."""
    if result.shape and not is_blank(result.shape):
        return result.shape
    return result.component or "SHACL"


def _rules(results: tuple[Result, ...]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The rules in order of first appearance, and the rule id of each rule key."""
    firsts: dict[str, Result] = {}
    for result in results:
        firsts.setdefault(_rule_key(result), result)
    names = [local_name(key) for key in firsts]
    ids = {key: local_name(key) if names.count(local_name(key)) == 1 else key for key in firsts}
    rules = []
    for key, first in firsts.items():
        rule: dict[str, Any] = {
            "id": ids[key],
            "name": title(first),
            "shortDescription": {"text": first.message},
            "defaultConfiguration": {"level": _LEVEL[first.severity]},
            "properties": {"shape" if key == first.shape else "component": key},
        }
        rules.append(rule)
    return rules, ids


def _result(
    result: Result, rule_ids: dict[str, str], report: Report, base_dir: Path
) -> dict[str, Any]:
    rule_id = rule_ids[_rule_key(result)]
    sarif: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": list(rule_ids.values()).index(rule_id),
        "level": _LEVEL[result.severity],
        "message": {"text": f"{result.message} — {hint(result, shapes=report.report_graph)}"},
    }
    logical = [{"fullyQualifiedName": result.focus_node, "kind": "resource"}]
    if result.file is not None:
        physical = _physical(result.file, base_dir, result.line)
        sarif["locations"] = [{"physicalLocation": physical, "logicalLocations": logical}]
        if result.value_line is not None and result.value is not None:
            value = _physical(result.file, base_dir, result.value_line)
            sarif["relatedLocations"] = [
                {
                    "id": 1,
                    "physicalLocation": value,
                    "message": {"text": f"the value {shorten(result.value)}"},
                }
            ]
    else:
        sarif["locations"] = [{"logicalLocations": logical}]
    properties = {
        "focusNode": result.focus_node,
        "resultPath": result.path,
        "value": result.value,
        "sourceShape": result.shape,
        "sourceConstraintComponent": result.component,
        "resultSeverity": result.severity.value,
    }
    sarif["properties"] = {key: value for key, value in properties.items() if value is not None}
    return sarif


def _notification(error: SourceError, base_dir: Path) -> dict[str, Any]:
    physical = _physical(error.path, base_dir, error.line, error.column)
    return {
        "level": "error",
        "message": {"text": error.message},
        "locations": [{"physicalLocation": physical}],
        "descriptor": {"id": "unreadable-input"},
    }


def _physical(
    file: Path, base_dir: Path, line: int | None, column: int | None = None
) -> dict[str, Any]:
    """A file relative to %SRCROOT% (a file:// URI when outside it), and its line if known."""
    path = relative(file, base_dir)
    location: dict[str, Any]
    if path.is_absolute():
        location = {"uri": path.as_uri()}
    else:
        location = {"uri": quote(path.as_posix(), safe="/"), "uriBaseId": SRCROOT}
    physical: dict[str, Any] = {"artifactLocation": location}
    if line is not None and line >= 1:
        region: dict[str, Any] = {"startLine": line}
        if column is not None and column >= 1:
            region["startColumn"] = column
        physical["region"] = region
    return physical
