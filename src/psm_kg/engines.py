"""Run a SHACL engine on one data graph and one shapes graph; return its sh:ValidationReport graph.

Both engines run with the same options: SHACL Advanced Features on (the NDC rules select their
focus nodes with sh:SPARQLTarget and silently pass without them), no inference (the data is
judged as written), warnings and infos reported but never turned into an error by the engine.
A shapes graph the engine cannot use raises `ShapesError` with the engine's one-line reason.
"""

from __future__ import annotations

import enum
import logging

import rdflib

from psm_kg.errors import ShapesError


class Engine(enum.Enum):
    """The SHACL engine. Both take the same shapes and give the same results on every example
    and W3C SHACL core test this project runs (tests/test_engine_conformance.py)."""

    TURBO = "turbo"  # pyshacl-turbo: pySHACL's API and results, evaluated in Rust
    PYSHACL = "pyshacl"  # the reference implementation


def run_shacl(data_graph: rdflib.Graph, shapes_graph: rdflib.Graph, engine: Engine) -> rdflib.Graph:
    """The engine's report graph. Neither graph is modified."""
    if engine is Engine.TURBO:
        return _run_turbo(data_graph, shapes_graph)
    return _run_pyshacl(data_graph, shapes_graph)


def _run_turbo(data_graph: rdflib.Graph, shapes_graph: rdflib.Graph) -> rdflib.Graph:
    import pyshacl_turbo

    try:
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

    # pySHACL adds a few RDFS triples to the shapes graph it is given; profiles share theirs.
    private_shapes = rdflib.Graph()
    private_shapes += shapes_graph
    for prefix, namespace in shapes_graph.namespaces():
        private_shapes.bind(prefix, namespace)
    # pySHACL logs an error to stderr before raising it; ShapesError carries it instead.
    pyshacl_log = logging.getLogger("pyshacl-validate")
    pyshacl_log.addFilter(_below_error)
    try:
        _conforms, report_graph, _text = pyshacl.validate(
            data_graph,
            shacl_graph=private_shapes,
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
