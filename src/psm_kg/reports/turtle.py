"""The report as a standard SHACL validation report (sh:ValidationReport) in Turtle.

When the engine ran, its own report graph is written as it is, with the usual prefixes. A report
built without one (e.g. from `validation.validate_graph`) is rebuilt from its results. When the
input could not be read, SHACL did not run and no validation report exists: the output is then a
Turtle document made only of comments (an empty graph) that says so and lists the errors; the
CLI exits 2 and prints the same errors on standard error.
"""

from __future__ import annotations

from pathlib import Path

import rdflib
from rdflib.namespace import RDF, SH, XSD
from rdflib.term import BNode, Literal, Node, URIRef
from rdflib.util import from_n3

from psm_kg.reports.names import PREFIXES
from psm_kg.reports.text import error_line, summary
from psm_kg.validation import Report, Result, Severity

_SEVERITY = {
    Severity.VIOLATION: SH.Violation,
    Severity.WARNING: SH.Warning,
    Severity.INFO: SH.Info,
}


def render_turtle(report: Report, *, base: Path | None = None) -> str:
    """A Turtle sh:ValidationReport, or only comments when the input could not be read."""
    if report.errors:
        lines = [
            f"# psm-kg validate: {summary(report)} (SHACL did not run: no sh:ValidationReport)"
        ]
        lines += [f"# {_one_line(error_line(error, base))}" for error in report.errors]
        return "\n".join(lines) + "\n"
    graph = rdflib.Graph(bind_namespaces="none")
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    if report.report_graph is not None:
        for triple in report.report_graph:
            graph.add(triple)
    else:
        _rebuild(graph, report)
    body = graph.serialize(format="turtle")
    return f"# psm-kg validate: {_one_line(summary(report))}\n{body}"


def _rebuild(graph: rdflib.Graph, report: Report) -> None:
    """A SHACL report from the results alone (sh:conforms as pySHACL: no Violation)."""
    node = BNode()
    graph.add((node, RDF.type, SH.ValidationReport))
    graph.add((node, SH.conforms, Literal(report.conforms, datatype=XSD.boolean)))
    for result in report.results:
        graph.add((node, SH.result, _result(graph, result)))


def _result(graph: rdflib.Graph, result: Result) -> BNode:
    node = BNode()
    graph.add((node, RDF.type, SH.ValidationResult))
    graph.add((node, SH.focusNode, _term(result.focus_node)))
    graph.add((node, SH.resultSeverity, _SEVERITY[result.severity]))
    graph.add((node, SH.resultMessage, Literal(result.message)))
    if result.component is not None:  # always known for results that came from an engine
        graph.add((node, SH.sourceConstraintComponent, URIRef(result.component)))
    if result.shape:
        graph.add((node, SH.sourceShape, _term(result.shape)))
    if result.path is not None:
        graph.add((node, SH.resultPath, URIRef(result.path)))
    if result.value is not None:
        graph.add((node, SH.value, _term(result.value)))
    return node


def _term(text: str) -> Node:
    """The node a Result names in text: '_:id', an N-Triples literal, or an IRI as itself."""
    if text.startswith("_:"):
        return BNode(text[2:])
    if text.startswith('"'):
        term = from_n3(text)
        if isinstance(term, Literal):
            return term
    return URIRef(text)


def _one_line(text: str) -> str:
    return " ".join(text.split())
