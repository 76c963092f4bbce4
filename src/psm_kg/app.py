"""create_app(settings): the HTTP application. Wiring only: routers do the work.

Every error leaves in one shape, ``{"status", "title", "detail"}`` plus context fields, as
``application/problem+json`` (RFC 9457 members). Unexpected exceptions are logged with their
traceback and answered with a generic 500 in the same shape; clients never see exception text.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from psm_kg import __version__, sparql, validation_api
from psm_kg.config import Settings
from psm_kg.store import Store

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


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The app serving ``store``, or the dataset in settings.dist_dir (StoreError if none)."""
    app = FastAPI(
        title="psm-kg",
        version=__version__,
        summary="The PSTTM of the Città metropolitana di Milano as linked data",
        docs_url=None,  # the Swagger and ReDoc pages load scripts from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store if store is not None else Store.from_dist(settings.dist_dir)

    app.include_router(sparql.router)
    app.include_router(validation_api.router)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "triples": len(app.state.store)}

    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
    return app
