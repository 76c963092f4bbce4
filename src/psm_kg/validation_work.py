"""The work behind the validation routes: parse, validate and render a report.

Kept apart from the router (validation_api.py), which imports it on the first validation: rdflib,
the SHACL engine and the report templates cost the server half a second of start-up that a server
answering SPARQL queries need not pay. Everything here blocks; the router calls it from a worker
thread.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path

import rdflib

from psm_kg import formats, page_templates, profiles, reports, urls
from psm_kg.formats import Format
from psm_kg.loading import LoadedFile, load_bytes
from psm_kg.profiles import Profile
from psm_kg.store import DatasetStore
from psm_kg.validation import Report, Severity, validate_loaded

REQUEST_NAME = "<request>"  # the file name results of an uploaded body carry in reports
DATASET_NAME = "<dataset>"  # ... and results of the served dataset
# Relative IRIs in a body resolve against this: a name that can never be fetched (RFC 2606).
REQUEST_BASE = "https://psm-kg.invalid/request"


def check_body(
    body: bytes, body_format: Format, profile: Profile, report_format: Format
) -> tuple[Report, str | None]:
    """Parse and validate a request body; the rendered report, or None when it did not parse."""
    suffix = "." + body_format.extension
    loaded, errors = load_bytes(body, suffix=suffix, name=REQUEST_NAME, base=REQUEST_BASE)
    if errors or loaded is None:
        return Report((), tuple(errors), 1, 0), None
    report = _validate(loaded, profile)
    return report, _render(report, report_format, profile, source="The request body")


def dataset_text(
    bounded: Callable[[Callable[[], Report]], Report],
    store: DatasetStore,
    base_iri: str,
    profile: Profile,
    report_format: Format,
    timeout_s: float,
    root_path: str = "",
) -> str:
    """The served dataset's report in ``report_format``; ``bounded`` runs the computation in a
    validation slot, so that only a report not yet cached takes one. The HTML page links the
    other profiles' reports under ``root_path``."""

    def compute() -> Report:
        graph = _dataset_graph(store, base_iri, timeout_s)
        return _validate(LoadedFile(Path(DATASET_NAME), graph), profile)

    report = _DATASET_REPORTS.get_or_compute(
        (store.content_hash, profile.name), functools.partial(bounded, compute)
    )
    source = f"The served dataset (content hash {store.content_hash[:12]})"
    return _render(report, report_format, profile, source=source, root_path=root_path)


def _dataset_graph(store: DatasetStore, base_iri: str, timeout_s: float) -> rdflib.Graph:
    """Every triple the server serves, except the shapes graph (shapes are not data)."""
    shapes = urls.graph_iri(base_iri, urls.SHAPES_PART)
    query = (
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER (?g != <{shapes}>) }}"
    )
    try:
        # pyoxigraph results must be freed on this thread: no traceback may carry them away.
        triples = store.query(query, timeout_s=timeout_s).serialize(formats.N_TRIPLES)
    except Exception as error:
        raise error.with_traceback(None) from None
    return rdflib.Graph().parse(data=triples, format="nt")


def _validate(data: LoadedFile, profile: Profile) -> Report:
    """As `psm-kg validate --profile`: the profile's shapes, its ontology (if any) as context.

    Results about nodes only the ontology describes are dropped, as the CLI drops them.
    """
    context = []
    if profile.with_ontology:
        context.append(LoadedFile(profiles.ONTOLOGY_FILE, profiles.ontology_graph()))
    return validate_loaded([data], profiles.shapes_graph(profile), context=context)


class _ReportCache:
    """Dataset reports by (content hash, profile), kept for the life of the process.

    One computation at a time: a request for a report being computed waits for it rather than
    computing it again, and a computation whose request timed out still fills the cache.
    """

    def __init__(self) -> None:
        self._reports: dict[tuple[str, str], Report] = {}
        self._lock = threading.Lock()

    def get_or_compute(self, key: tuple[str, str], compute: Callable[[], Report]) -> Report:
        with self._lock:
            report = self._reports.get(key)
            if report is None:
                report = self._reports[key] = compute()
            return report


_DATASET_REPORTS = _ReportCache()


# --- rendering ---------------------------------------------------------------------------------


def _render(
    report: Report, fmt: Format, profile: Profile, *, source: str, root_path: str | None = None
) -> str:
    """``root_path`` is None for a report of a request body, which links to nothing."""
    if fmt is formats.HTML:
        return _render_html(report, profile, source=source, root_path=root_path)
    return reports.render(report, "turtle" if fmt is formats.TURTLE else "json")


def _render_html(report: Report, profile: Profile, *, source: str, root_path: str | None) -> str:
    """The page: a summary, then one row per result, with the same hint as the other formats."""
    rows = [
        {
            "severity": result.severity.value,
            "focus_node": result.focus_node,
            "line": result.line,
            "path": reports.shorten(result.path) if result.path else None,
            "value": reports.shorten(result.value) if result.value is not None else None,
            "value_line": result.value_line,
            "shape": reports.shorten(result.shape),
            "message": result.message,
            "hint": reports.hint(result, shapes=report.report_graph),
        }
        for result in report.results
    ]
    template = page_templates.environment().get_template("validation-report.html")
    return template.render(
        report=report,
        profile=profile,
        source=source,
        counts={severity.value: report.count(severity) for severity in Severity},
        rows=rows,
        # Same-origin links only: the other profiles' reports of the served dataset.
        other_profiles=[name for name in sorted(profiles.PROFILES) if name != profile.name]
        if root_path is not None
        else [],
        root=root_path or "",
    )
