"""create_app(settings): the HTTP application. Wiring only: routers do the work.

Every error leaves in one shape, ``{"status", "title", "detail"}`` plus context fields, as
``application/problem+json`` (RFC 9457 members). Unexpected exceptions are logged with their
traceback and answered with a generic 500 in the same shape; clients never see exception text.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware

from psm_kg import (
    __version__,
    api,
    api_docs,
    catalog,
    observability,
    pages,
    query_failures,
    query_ui,
    sparql,
    sparql_openapi,
    validation_api,
)
from psm_kg.access_log import AccessLog
from psm_kg.config import Settings
from psm_kg.metrics import Metrics
from psm_kg.query_workers import Evaluator, InProcessEvaluator, WorkerPool
from psm_kg.remote_evaluation import RemoteEvaluator
from psm_kg.remote_store import RemoteStore, open_store
from psm_kg.result_cache import ResultCache
from psm_kg.store import BackendUnavailable, DatasetStore, QueryTimeout

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> JSONResponse:
    """The one error shape. Context fields never override the three fixed members."""
    fixed = ("status", "title", "detail")
    extra = {key: value for key, value in context.items() if key not in fixed}
    return JSONResponse(
        {"status": status, "title": title, "detail": detail, **extra},
        status_code=status,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """HTTPException from routing (404, 405) and the routers' own Problem subclass."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    title: str = getattr(exc, "title", None) or _phrase(status)
    context: dict[str, Any] = dict(getattr(exc, "context", {}))
    detail = exc.detail if isinstance(exc.detail, str) else _phrase(status)
    headers = dict(exc.headers or {})
    if status == 404 and detail == _phrase(404):
        detail = "there is nothing at this path; the SPARQL endpoint is /sparql"
        context.setdefault("path", request.url.path)
    elif status == 405 and detail == _phrase(405):
        allowed = headers.get("Allow") or headers.get("allow") or ""
        detail = f"{request.method} is not allowed here; allowed: {allowed or 'none'}"
        context.setdefault("method", request.method)
        context.setdefault("allowed", [m.strip() for m in allowed.split(",") if m.strip()])
    return problem_response(status, title, detail, headers=headers or None, **context)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Location and message only: the "input" member would echo whatever the client sent.
    errors = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    return problem_response(
        400, "Invalid request", "the request parameters are not valid", errors=errors
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500, "Internal server error", "the server failed to answer; the error has been logged"
    )


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A page, the catalogue or a report needed the remote store, and it did not answer."""
    assert isinstance(exc, BackendUnavailable)
    logger.error("%s %s: %s", request.method, request.url.path, exc)
    return await _http_error(request, query_failures.store_unavailable(exc))


async def _store_timeout(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueryTimeout)
    return problem_response(
        503,
        "Query timed out",
        f"a query of this page ran longer than {exc.timeout_s:g} s; try again later",
        headers={"Retry-After": str(max(1, math.ceil(exc.timeout_s)))},
        timeout_s=exc.timeout_s,
    )


def _evaluator_for(settings: Settings, store: DatasetStore) -> Evaluator:
    """The remote store's evaluator; else worker processes when configured and the store has a
    file they can load; else threads."""
    if isinstance(store, RemoteStore):
        return RemoteEvaluator(store)
    if settings.query_workers > 0 and store.source is not None:
        return WorkerPool.for_store(store, settings.query_workers)
    return InProcessEvaluator(store)


def create_app(
    settings: Settings, store: DatasetStore | None = None, evaluator: Evaluator | None = None
) -> FastAPI:
    """The app serving ``store``, or the dataset in settings.dist_dir (StoreError if none).

    Queries are evaluated by ``evaluator`` (shared, left open), or by one the app makes from the
    settings, starts with the app and closes when the app shuts down.
    """
    served = store if store is not None else open_store(settings)
    owned = evaluator is None
    query_evaluator = evaluator if evaluator is not None else _evaluator_for(settings, served)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned and isinstance(query_evaluator, WorkerPool):
            query_evaluator.start()  # the workers load the dataset while the server starts
        try:
            yield
        finally:
            if owned:
                if isinstance(query_evaluator, RemoteEvaluator):
                    await query_evaluator.aclose()
                query_evaluator.close()

    app = FastAPI(
        title="psm-kg",
        version=__version__,
        summary="The PSTTM of the Città metropolitana di Milano as linked data",
        docs_url=None,  # FastAPI's Swagger and ReDoc pages load scripts from a CDN: api_docs.py
        redoc_url=None,
        lifespan=lifespan,
        # psm-kg has its own metrics and access log (/metrics, access_log.py); FastAPI's
        # OpenTelemetry hooks would only cost each request a look at the global providers.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.store = served
    app.state.evaluator = query_evaluator
    app.state.result_cache = ResultCache(settings.result_cache_bytes)
    app.state.metrics = Metrics(version=__version__, triples=len(app.state.store))

    app.router.routes.extend(sparql.ROUTES)
    app.include_router(validation_api.router)
    app.include_router(observability.router)
    app.include_router(query_ui.router)
    app.include_router(pages.router)
    app.include_router(catalog.router)
    # The named queries: one route per queries/*.rq, made now; and Swagger UI at /docs.
    app.include_router(api.router_for(settings, served))
    app.include_router(api_docs.router)

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with /sparql described by hand (its handlers are plain routes)."""
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            schema["paths"] = {**sparql_openapi.paths(), **schema["paths"]}
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["Problem"] = sparql_openapi.PROBLEM_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        health: dict[str, Any] = {"status": "ok", "triples": len(app.state.store)}
        if isinstance(query_evaluator, WorkerPool):
            health["query_workers"] = {
                "pids": query_evaluator.pids,
                "restarts": query_evaluator.restarts,
            }
        if isinstance(served, RemoteStore):
            # Asked each time, never remembered: the answer follows the store down and back up.
            error = await anyio.to_thread.run_sync(served.probe)
            health["store"] = {"url": served.url, "reachable": error is None, "error": error}
            if error is not None:
                health["status"] = "degraded"
        status = 200 if health["status"] == "ok" else 503
        return JSONResponse(health, status_code=status)

    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(BackendUnavailable, _store_unavailable)
    app.add_exception_handler(QueryTimeout, _store_timeout)
    app.add_exception_handler(Exception, _unexpected_error)
    if settings.cors_origins:
        # Reads from any page (or the configured origins), never with credentials: the data is
        # public, and a credentialed wildcard would let any site act as the visitor.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=False,
            allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
            allow_headers=["Accept", "Content-Type", "If-None-Match"],
            expose_headers=["ETag", "Link", "Content-Location", "Retry-After"],
            max_age=86400,
        )
    # Added last, so outermost: it times and logs every answer, other middleware's included.
    app.add_middleware(AccessLog, metrics=app.state.metrics, log=settings.access_log)
    return app
