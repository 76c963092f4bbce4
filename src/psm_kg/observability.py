"""Router: ``GET /metrics``; and the calls by which a router reports a query.

The report calls do two things at once: they count in the app's
:class:`~psm_kg.metrics.Metrics` and set the ``request.state`` keys the access log reads
(access_log.py), so that /metrics and the log line cannot tell different stories::

    observability.record_query(request, "ok", seconds)      # or "timeout", ... (metrics.py)
    observability.record_cache(request, hit=True)           # before answering from the cache
    observability.record_not_modified(request)              # before answering 304
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from psm_kg.access_log import CACHE, QUERY_MS
from psm_kg.metrics import CONTENT_TYPE, Metrics

router = APIRouter()


def metrics_of(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


# Not in the OpenAPI document: it describes the service, not the data it serves.
@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    """The app's metrics in the Prometheus text format 0.0.4."""
    return Response(metrics_of(request).render(), media_type=CONTENT_TYPE)


def record_query(request: Request, outcome: str, seconds: float | None = None) -> None:
    """A SPARQL query answered with ``outcome`` after ``seconds`` of evaluation (None: none ran)."""
    metrics_of(request).record_query(outcome, seconds)
    if seconds is not None:
        setattr(request.state, QUERY_MS, seconds * 1000)


def record_cache(request: Request, *, hit: bool) -> None:
    """A lookup in the SPARQL result cache."""
    metrics_of(request).record_cache(hit)
    setattr(request.state, CACHE, "hit" if hit else "miss")


def record_not_modified(request: Request) -> None:
    """A 304 answer: the client's ETag matches (the log's ``cache`` becomes ``not_modified``)."""
    metrics_of(request).record_not_modified()
    setattr(request.state, CACHE, "not_modified")
