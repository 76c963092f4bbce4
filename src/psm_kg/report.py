"""Render a validation `Report` as text for people: problems first, one line each, then a summary.

Lines start with "path:line:" so that editors and CI logs can jump to them. IRIs are shortened
with the project's usual prefixes; data IRIs under the plan's base become "…/type/reference".
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby

from psm_kg.validation import Report, Result, Severity

# Longest namespaces first is not needed: none of these is a prefix of another.
_PREFIXES = {
    "https://w3id.org/psm/ontology#": "psm:",
    "https://w3id.org/psm/shapes#": "psmsh:",
    "https://w3id.org/psm/milano/id/": "…/",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf:",
    "http://www.w3.org/2000/01/rdf-schema#": "rdfs:",
    "http://www.w3.org/2002/07/owl#": "owl:",
    "http://www.w3.org/2001/XMLSchema#": "xsd:",
    "http://www.w3.org/ns/shacl#": "sh:",
    "http://www.w3.org/2004/02/skos/core#": "skos:",
    "http://purl.org/dc/terms/": "dct:",
    "http://www.w3.org/ns/dcat#": "dcat:",
    "http://dati.gov.it/onto/dcatapit#": "dcatapit:",
    "http://www.w3.org/ns/org#": "org:",
    "http://www.w3.org/ns/prov#": "prov:",
    "http://xmlns.com/foaf/0.1/": "foaf:",
}

_Painter = Callable[[str, str], str]

_RESET = "\x1b[0m"
_COLOR = {
    Severity.VIOLATION: "\x1b[31m",  # red
    Severity.WARNING: "\x1b[33m",  # yellow
    Severity.INFO: "\x1b[36m",  # cyan
}
_ERROR_COLOR = "\x1b[1;31m"  # bold red
_OK_COLOR = "\x1b[32m"  # green


def render_text(report: Report, *, color: bool = False) -> str:
    """The report as lines of text ending with a newline; ANSI colours only when `color`."""

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    lines = [paint(str(error), _ERROR_COLOR) for error in report.errors]
    # Results arrive sorted by file; a blank line between files keeps long reports readable.
    for index, (_file, group) in enumerate(groupby(report.results, key=lambda r: r.file)):
        if index or lines:
            lines.append("")
        lines.extend(_result_line(result, paint) for result in group)
    if lines:
        lines.append("")
    summary = _summary(report)
    lines.append(paint(summary, _OK_COLOR if report.conforms else _ERROR_COLOR))
    return "\n".join(lines) + "\n"


def shorten(iri: str) -> str:
    """An IRI with a known namespace as prefix:name, any other IRI as <iri>, other text as is."""
    for namespace, prefix in _PREFIXES.items():
        if iri.startswith(namespace):
            return prefix + iri[len(namespace) :]
    if iri.startswith(("_:", '"')) or ":" not in iri:
        return iri  # blank node or literal
    return f"<{iri}>"


def _result_line(result: Result, paint: _Painter) -> str:
    location = ""
    if result.file is not None:
        location = f"{result.file}:{result.line}: " if result.line else f"{result.file}: "
    path = f" ({shorten(result.path)})" if result.path else ""
    value = ""
    if result.value is not None and result.value not in result.message:
        value = f" [value: {shorten(result.value)}]"
    severity = paint(result.severity.value, _COLOR[result.severity])
    focus, shape = shorten(result.focus_node), shorten(result.shape)
    return f"{location}{severity} {focus} {shape}{path}: {result.message}{value}"


def _summary(report: Report) -> str:
    checked = f"{_plural(report.files_checked, 'file')}, {_plural(report.triples, 'triple')}"
    if report.errors:
        return f"{checked}: {_plural(len(report.errors), 'error')}, not validated"
    if not report.results:
        return f"{checked}: conforms"
    counts = ", ".join(
        _plural(report.count(severity), severity.value.lower()) for severity in Severity
    )
    return f"{checked}: {counts}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
