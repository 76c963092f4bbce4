"""Check RDF files against SHACL shapes with pySHACL and return a typed `Report`. Never prints.

Parse first, validate second: pySHACL reports a Turtle syntax error as non-conformance (exit 1)
and its results carry no file positions. So every file is parsed here first (`loading`); any
unreadable input stops the run before SHACL, with every file's problems listed. Otherwise the data
files are merged into one graph and each result is traced back to the file and line that describe
its focus node.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import rdflib
from rdflib.namespace import RDF, SH
from rdflib.term import BNode, Literal, Node, URIRef

from psm_kg.errors import ShapesError
from psm_kg.loading import LoadedFile, SourceError, expand_paths, load_files


class Severity(enum.Enum):
    VIOLATION = "Violation"
    WARNING = "Warning"
    INFO = "Info"

    def at_least(self, threshold: Severity) -> bool:
        """True when this severity is as grave as ``threshold`` or graver (Info < Warning < ...)."""
        return _RANK[self] >= _RANK[threshold]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.VIOLATION: 2}


_SEVERITY_BY_IRI: dict[Node | None, Severity] = {
    SH.Violation: Severity.VIOLATION,
    SH.Warning: Severity.WARNING,
    SH.Info: Severity.INFO,
}


@dataclass(frozen=True)
class Result:
    """One SHACL validation result, located in the data files when possible.

    Nodes are written as text: an IRI as itself, a blank node as "_:id", a literal in its
    N-Triples form (e.g. '"Milano"@it') so that its language or datatype is not lost.
    """

    severity: Severity
    focus_node: str
    path: str | None  # the property path, when it is a single IRI
    value: str | None
    shape: str  # sh:sourceShape
    message: str
    file: Path | None  # the data file that describes the focus node
    line: int | None
    component: str | None = (
        None  # sh:sourceConstraintComponent, e.g. sh:MinCountConstraintComponent
    )
    value_line: int | None = None  # the line of the offending value's triple, when found


class Engine(enum.Enum):
    """The SHACL engine. Both take the same shapes and give the same results on every example
    and W3C SHACL core test this project runs (tests/test_engine_conformance.py)."""

    TURBO = "turbo"  # pyshacl-turbo: pySHACL's API and results, evaluated in Rust
    PYSHACL = "pyshacl"  # the reference implementation


@dataclass(frozen=True)
class Report:
    results: tuple[Result, ...]
    errors: tuple[SourceError, ...]  # unreadable input; when present, SHACL did not run
    files_checked: int  # data files (shapes files not counted)
    triples: int  # distinct triples in the merged data files that parsed
    # The engine's own sh:ValidationReport, for the Turtle output; None when SHACL did not run.
    report_graph: rdflib.Graph | None = field(default=None, compare=False, repr=False)

    @property
    def conforms(self) -> bool:
        """True when all input was read and no result is a Violation (warnings do not block)."""
        return not self.errors and self.count(Severity.VIOLATION) == 0

    @property
    def exit_code(self) -> int:
        """2 for unreadable input, else 1 for any Violation, else 0 (as pySHACL's CLI)."""
        return self.exit_code_failing_on(Severity.VIOLATION)

    def exit_code_failing_on(self, threshold: Severity) -> int:
        """2 for unreadable input, else 1 for any result at ``threshold`` or graver, else 0."""
        if self.errors:
            return 2
        return 1 if any(r.severity.at_least(threshold) for r in self.results) else 0

    def count(self, severity: Severity) -> int:
        return sum(1 for result in self.results if result.severity is severity)


_Locator = Callable[[Node], tuple[Path | None, int | None]]


def validate_paths(
    data: Sequence[Path], shapes: Sequence[Path], *, engine: Engine = Engine.TURBO
) -> Report:
    """Parse every data and shapes file (files or directories), then validate the data.

    Data the shapes rely on, such as the ontology's class hierarchy, belongs in `data`. Bad input
    is reported in `Report.errors`, never raised.
    """
    if not shapes:
        raise ValueError("validate_paths needs at least one shapes path")
    data_files, errors = expand_paths(data)
    shape_files, shape_errors = expand_paths(shapes)
    loaded_data, data_parse_errors = load_files(data_files)
    loaded_shapes, shape_parse_errors = load_files(shape_files)
    errors += data_parse_errors + shape_errors + shape_parse_errors
    data_graph = _merge(loaded_data)

    def report(
        results: tuple[Result, ...], *problems: SourceError, graph: rdflib.Graph | None = None
    ) -> Report:
        return Report(results, tuple(problems), len(data_files), len(data_graph), graph)

    if errors:
        return report((), *errors)
    shapes_graph = _merge(loaded_shapes)
    if len(shapes_graph) == 0:
        return report((), SourceError(shapes[0], None, None, "the shapes files hold no triples"))
    try:
        report_graph = _run_shacl(data_graph, shapes_graph, engine)
    except ShapesError as error:
        return report((), SourceError(shapes[0], None, None, str(error)))
    located = _read_results(report_graph, _locator(loaded_data, data_graph))
    return report(located, graph=report_graph)


def validate_graph(
    graph: rdflib.Graph, shapes_graph: rdflib.Graph, *, engine: Engine = Engine.TURBO
) -> tuple[Result, ...]:
    """Validate an in-memory graph; results carry no file or line. Raises ShapesError."""
    return _read_results(_run_shacl(graph, shapes_graph, engine), lambda node: (None, None))


def _merge(files: Sequence[LoadedFile]) -> rdflib.Graph:
    merged = rdflib.Graph()
    for file in files:
        merged += file.graph
    return merged


def _run_shacl(
    data_graph: rdflib.Graph, shapes_graph: rdflib.Graph, engine: Engine
) -> rdflib.Graph:
    if engine is Engine.TURBO:
        return _run_turbo(data_graph, shapes_graph)
    return _run_pyshacl(data_graph, shapes_graph)


def _run_turbo(data_graph: rdflib.Graph, shapes_graph: rdflib.Graph) -> rdflib.Graph:
    import pyshacl_turbo

    try:
        # The same options as pySHACL below: SHACL-AF targets (e.g. the NDC rules) silently pass
        # without advanced=True; no inference, so that the data is judged as written.
        _conforms, report_graph, _text = pyshacl_turbo.validate(
            data_graph,
            shacl_graph=shapes_graph,
            advanced=True,
            inference="none",
            allow_warnings=True,
            meta_shacl=False,
        )
    except (ValueError, RuntimeError, NotImplementedError) as error:
        # The Rust engine rejects malformed shapes with a one-line ValueError.
        first_line = (str(error).strip().splitlines() or ["unknown error"])[0]
        raise ShapesError(f"the SHACL engine cannot use the shapes: {first_line}") from error
    if not isinstance(report_graph, rdflib.Graph):
        raise ShapesError(f"the SHACL engine cannot use the shapes: {report_graph}")
    return report_graph


def _run_pyshacl(data_graph: rdflib.Graph, shapes_graph: rdflib.Graph) -> rdflib.Graph:
    # Imported here: pySHACL takes a second to import, and most commands never validate.
    import pyshacl
    from pyshacl.errors import ReportableRuntimeError

    # pySHACL logs an error to stderr before raising it; ShapesError carries it instead.
    pyshacl_log = logging.getLogger("pyshacl-validate")
    pyshacl_log.addFilter(_below_error)
    try:
        _conforms, report_graph, _text = pyshacl.validate(
            data_graph,
            shacl_graph=shapes_graph,
            advanced=True,
            inference="none",
            allow_warnings=True,
            meta_shacl=False,
        )
    except ReportableRuntimeError as error:
        report_graph = error
    finally:
        pyshacl_log.removeFilter(_below_error)
    # pySHACL returns, rather than raises, a failure met while evaluating constraints.
    if isinstance(report_graph, ReportableRuntimeError):
        first_line = (str(report_graph.message).strip().splitlines() or ["unknown error"])[0]
        raise ShapesError(f"pySHACL cannot use the shapes: {first_line}") from report_graph
    if not isinstance(report_graph, rdflib.Graph):
        raise TypeError(f"pySHACL returned {type(report_graph).__name__}, expected a Graph")
    return report_graph


def _below_error(record: logging.LogRecord) -> bool:
    return record.levelno < logging.ERROR


def _locator(files: Sequence[LoadedFile], data_graph: rdflib.Graph) -> _Locator:
    """Find the file and line describing a node; the first file that describes it wins."""
    origin: dict[Node, tuple[Path, int | None]] = {}
    for file in files:
        for subject in file.graph.subjects(unique=True):
            origin.setdefault(subject, (file.path, file.subject_lines.get(subject)))

    def locate(node: Node) -> tuple[Path | None, int | None]:
        # A blank node ([ ... ] in Turtle) has no position of its own; walk up to the nearest
        # described node that refers to it, which is where the reader will find it.
        queue, seen = deque([node]), {node}
        while queue:
            current = queue.popleft()
            if not isinstance(current, BNode) and current in origin:
                return origin[current]
            if isinstance(current, BNode):
                for parent in data_graph.subjects(None, current, unique=True):
                    if parent not in seen:
                        seen.add(parent)
                        queue.append(parent)
        if node in origin:
            return origin[node]
        return None, None

    return locate


def _read_results(report_graph: rdflib.Graph, locate: _Locator) -> tuple[Result, ...]:
    results = []
    for report in report_graph.subjects(RDF.type, SH.ValidationReport):
        for node in report_graph.objects(report, SH.result):
            focus = report_graph.value(node, SH.focusNode)
            path = report_graph.value(node, SH.resultPath)
            value = report_graph.value(node, SH.value)
            shape = report_graph.value(node, SH.sourceShape)
            severity = report_graph.value(node, SH.resultSeverity)
            component = report_graph.value(node, SH.sourceConstraintComponent)
            file, line = locate(focus) if focus is not None else (None, None)
            results.append(
                Result(
                    # SHACL allows custom severities; treat them as blocking to stay safe.
                    severity=_SEVERITY_BY_IRI.get(severity, Severity.VIOLATION),
                    focus_node=_text(focus) if focus is not None else "",
                    path=str(path) if isinstance(path, URIRef) else None,
                    value=_text(value) if value is not None else None,
                    shape=_text(shape) if shape is not None else "",
                    message=_message(report_graph, node),
                    file=file,
                    line=line,
                    component=str(component) if isinstance(component, URIRef) else None,
                )
            )
    return tuple(sorted(results, key=_sort_key))


def _text(node: Node) -> str:
    if isinstance(node, BNode):
        return f"_:{node}"
    if isinstance(node, Literal):
        return node.n3()
    return str(node)


def _message(report_graph: rdflib.Graph, result: Node) -> str:
    """The English sh:resultMessage if any, else an untagged one, else any; always one line."""
    messages = sorted(
        (message for message in report_graph.objects(result, SH.resultMessage)),
        key=lambda message: (
            getattr(message, "language", None) != "en",
            getattr(message, "language", None) is not None,
            str(message),
        ),
    )
    if messages:
        return " ".join(str(messages[0]).split())
    component = report_graph.value(result, SH.sourceConstraintComponent)
    return f"fails {component}" if component is not None else "fails a constraint"


def _sort_key(result: Result) -> tuple[bool, str, int, str, str, str, str, str]:
    return (
        result.file is None,  # results that cannot be located come last
        str(result.file or ""),
        result.line or 0,
        result.focus_node,
        result.shape,
        result.path or "",
        result.value or "",
        result.message,
    )
