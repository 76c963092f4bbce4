"""The HTTP answers to a query that could not be evaluated, the same for /sparql and the API.

Both routers catch what is theirs to word (a syntax error is the client's fault on /sparql and a
query file's on /api/queries) and hand every other failure of evaluation to :func:`problem`:

    QueryTimeout        503, Retry-After: the query's timeout
    ResultTooLarge      422, with a hint the router words (LIMIT/OFFSET, or a smaller page)
    ServerBusy          503, Retry-After: 1
    BackendUnavailable  503, Retry-After: 5, naming the store
    WorkerFailed        503, Retry-After: 1

Each is also counted in the metrics, and the server-side ones logged.
"""

from __future__ import annotations

import logging
import math

from fastapi import Request

from psm_kg import observability
from psm_kg.query_workers import ServerBusy, WorkerFailed
from psm_kg.request_handling import Problem
from psm_kg.store import BackendUnavailable, QueryTimeout, ResultTooLarge

logger = logging.getLogger(__name__)

# What :func:`problem` answers; catch these together.
FAILURES = (QueryTimeout, ResultTooLarge, ServerBusy, BackendUnavailable, WorkerFailed)


def problem(request: Request, error: Exception, *, timeout_s: float, narrower: str) -> Problem:
    """The answer to ``error`` (one of FAILURES); ``narrower`` says how to ask for less."""
    if isinstance(error, QueryTimeout):
        observability.record_query(request, "timeout", timeout_s)
        return Problem(
            503,
            "Query timed out",
            f"the query ran longer than {timeout_s:g} s and was stopped; {narrower}",
            headers={"Retry-After": str(max(1, math.ceil(timeout_s)))},
            timeout_s=timeout_s,
        )
    if isinstance(error, ResultTooLarge):
        observability.record_query(request, "result_too_large")
        return Problem(
            422,
            "Result too large",
            f"the result is larger than {error.max_bytes} bytes; {narrower}",
            max_result_bytes=error.max_bytes,
        )
    if isinstance(error, ServerBusy):
        observability.record_query(request, "busy")
        return Problem(
            503,
            "Server busy",
            "every query worker stayed busy; try again shortly",
            headers={"Retry-After": "1"},
        )
    observability.record_query(request, "error")
    if isinstance(error, BackendUnavailable):
        logger.error("%s", error)
        return store_unavailable(error)
    logger.error("query failed in a worker: %s", error)
    return Problem(
        503,
        "Query failed",
        "the query worker stopped unexpectedly and has been replaced; try again shortly",
        headers={"Retry-After": "1"},
    )


def store_unavailable(error: BackendUnavailable) -> Problem:
    """503 naming the store the data are served from (the one error shape), to retry shortly."""
    return Problem(
        503,
        "Store unavailable",
        f"the SPARQL store at {error.url} is not answering; try again shortly",
        headers={"Retry-After": "5"},
        store=error.url,
    )
