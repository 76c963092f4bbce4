"""Validation reports in every format `psm-kg validate` writes, from one typed `Report`.

    render(report, "sarif", base=Path.cwd())  ->  str

| format | for | module |
|---|---|---|
| text | people: grouped by file, coloured on a TTY, a hint under each result, a summary | text |
| json | programs: a stable schema, docs/validation-report.schema.json | json |
| turtle | RDF tools: the standard SHACL sh:ValidationReport | turtle |
| junit | CI test reports: a testcase per (focus node, shape) | junit |
| github | GitHub Actions annotations (workflow commands) | github |
| sarif | code scanning: SARIF 2.1.0 | sarif |

Every format is documented in docs/validation.md. File paths are written relative to `base`
(default: the working directory); a path outside it stays absolute.
"""

from __future__ import annotations

from pathlib import Path

from psm_kg.reports.github import render_github
from psm_kg.reports.hints import hint
from psm_kg.reports.json import render_json
from psm_kg.reports.junit import render_junit
from psm_kg.reports.names import shorten
from psm_kg.reports.sarif import render_sarif
from psm_kg.reports.text import render_text
from psm_kg.reports.turtle import render_turtle
from psm_kg.validation import Report, Severity

FORMATS: tuple[str, ...] = ("text", "json", "turtle", "junit", "github", "sarif")


def render(
    report: Report,
    fmt: str,
    *,
    color: bool = False,
    base: Path | None = None,
    fail_on: Severity = Severity.VIOLATION,
) -> str:
    """``report`` in the format ``fmt`` (one of FORMATS), as text ending with a newline.

    ``color``: ANSI colours (text only). ``base``: the directory file paths are relative to.
    ``fail_on``: the severity that fails the run (the CLI's --fail-on); it sets "exit_code" in
    json and sarif and decides between <failure> and <skipped> in junit.
    """
    if fmt == "text":
        return render_text(report, color=color, base=base)
    if fmt == "json":
        return render_json(report, base=base, fail_on=fail_on)
    if fmt == "turtle":
        return render_turtle(report, base=base)
    if fmt == "junit":
        return render_junit(report, base=base, fail_on=fail_on)
    if fmt == "github":
        return render_github(report, base=base)
    if fmt == "sarif":
        return render_sarif(report, base=base, fail_on=fail_on)
    raise ValueError(f"unknown report format {fmt!r}: expected one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "hint", "render", "render_text", "shorten"]
