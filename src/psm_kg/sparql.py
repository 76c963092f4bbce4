"""Router: the SPARQL 1.1 Protocol query operation at /sparql (read-only).

- ``GET /sparql?query=...``
- ``POST /sparql`` with ``application/x-www-form-urlencoded`` (``query=...``)
- ``POST /sparql`` with ``application/sparql-query`` (the query is the body)

SELECT and ASK answer ``application/sparql-results+json``; CONSTRUCT and DESCRIBE answer Turtle or,
on request, N-Triples. Update requests (``update=``, ``application/sparql-update``, or an update
sent as a query) are refused. Every failure is raised as :class:`Problem` and rendered by app.py
in the one error shape.

The store is blocking; evaluation runs in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from urllib.parse import parse_qs

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request, Response

from psm_kg.config import Settings
from psm_kg.formats import Format, essence
from psm_kg.negotiation import NotAcceptable, negotiate
from psm_kg.request_handling import Problem, etag_matches, read_capped_body
from psm_kg.store import QueryRejected, QuerySyntaxError, QueryTimeout, Store

router = APIRouter()

FORM = "application/x-www-form-urlencoded"
QUERY_BODY = "application/sparql-query"
UPDATE_BODY = "application/sparql-update"

# Extra wait beyond the store's own deadline, for the engine to notice it between two writes.
_TIMEOUT_GRACE_S = 1.0


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _missing_query() -> Problem:
    return Problem(
        400,
        "Missing query",
        "send one SPARQL query in the 'query' parameter (GET or form POST) "
        f"or as a {QUERY_BODY} body",
    )


def _update_refused() -> Problem:
    return Problem(
        400,
        "SPARQL Update is not supported",
        "this endpoint is read-only: the served data changes only when it is rebuilt",
    )


# SPARQL Protocol dataset parameters. Not supported in this version: refused rather than ignored,
# because ignoring them would answer over a different dataset than the client asked for.
DATASET_PARAMETERS = ("default-graph-uri", "named-graph-uri")


def _refuse_dataset_parameters(names: Iterable[str]) -> None:
    given = sorted(set(names) & set(DATASET_PARAMETERS))
    if given:
        raise Problem(
            400,
            "Dataset parameters are not supported",
            f"{' and '.join(given)} cannot be used yet: the default graph is the union of all "
            "named graphs; use FROM, FROM NAMED or GRAPH in the query instead",
            parameters=given,
        )


def _one_query(values: list[str]) -> str:
    if len(values) > 1:
        raise Problem(400, "More than one query", "send exactly one 'query' parameter")
    if not values or not values[0].strip():
        raise _missing_query()
    return values[0]


@router.get("/sparql")
async def sparql_query_by_get(request: Request) -> Response:
    """SPARQL 1.1 Protocol query operation by GET: ?query= (URL-encoded)."""
    return await _query_by_get(request)


@router.post("/sparql")
async def sparql_query_by_post(request: Request) -> Response:
    """SPARQL 1.1 Protocol query operation by POST: a form (query=...) or a query body."""
    return await _query_by_post(request)


ALLOWED_METHODS = "GET, HEAD, POST"


# One operation per method keeps the OpenAPI document valid (unique operation ids); this route
# answers every other method so that the 405 names all the allowed ones, not only GET's.
@router.api_route("/sparql", methods=["PUT", "DELETE", "PATCH", "OPTIONS"], include_in_schema=False)
async def sparql_other_method(request: Request) -> Response:
    raise Problem(
        405,
        "Method Not Allowed",
        f"{request.method} is not allowed here; allowed: {ALLOWED_METHODS}",
        headers={"Allow": ALLOWED_METHODS},
        method=request.method,
        allowed=[m.strip() for m in ALLOWED_METHODS.split(",")],
    )


async def _query_by_get(request: Request) -> Response:
    params = request.query_params
    if "update" in params:
        raise _update_refused()
    _refuse_dataset_parameters(params.keys())
    return await _answer(request, _one_query(params.getlist("query")), cacheable=True)


async def _query_by_post(request: Request) -> Response:
    content_type = essence(request.headers.get("content-type", ""))
    if content_type == UPDATE_BODY:
        raise _update_refused()
    if content_type not in (FORM, QUERY_BODY):
        raise Problem(
            415,
            "Unsupported content type",
            f"POST a query as {FORM} (query=...) or as {QUERY_BODY}",
            content_type=content_type or None,
            supported=[FORM, QUERY_BODY],
        )
    body = await read_capped_body(request, _settings(request).max_body_bytes)
    text = _decode(body)
    if content_type == QUERY_BODY:
        _refuse_dataset_parameters(request.query_params.keys())  # they travel in the URL here
        if not text.strip():
            raise _missing_query()
        return await _answer(request, text, cacheable=False)
    form = parse_qs(text, keep_blank_values=True)
    if "update" in form:
        raise _update_refused()
    _refuse_dataset_parameters(form.keys())
    return await _answer(request, _one_query(form.get("query", [])), cacheable=False)


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "Undecodable request", "the request body is not UTF-8") from None


def _etag(content_hash: str, query: str, fmt: Format) -> str:
    digest = hashlib.sha256("\n".join((content_hash, fmt.media_type, query)).encode()).hexdigest()
    return f'"{digest[:32]}"'


def _evaluate(
    store: Store, query: str, accept: str | None, timeout_s: float, if_none_match: str | None
) -> tuple[Format, str, bytes | None]:
    """Query, negotiate, serialise. Returns format, ETag and body.

    The body is None when ``if_none_match`` already names the ETag (nothing is serialised).
    """
    outcome = store.query(query, timeout_s=timeout_s)
    fmt = negotiate(accept, outcome.formats)
    etag = _etag(store.content_hash, query, fmt)
    if etag_matches(if_none_match, etag):
        return fmt, etag, None
    return fmt, etag, outcome.serialize(fmt)


def _evaluate_in_worker(
    store: Store, query: str, accept: str | None, timeout_s: float, if_none_match: str | None
) -> tuple[Format, str, bytes | None]:
    """_evaluate, made safe to call in a worker thread whose exceptions reach another thread.

    pyoxigraph results must be freed on the thread that made them (pyo3 "unsendable"). On an
    error, the traceback's frames (_evaluate's, serialize's) hold them and would carry them to
    the event loop's thread, so the traceback is dropped here. This frame holds no results.
    """
    try:
        return _evaluate(store, query, accept, timeout_s, if_none_match)
    except Exception as error:
        raise error.with_traceback(None) from None


async def _answer(request: Request, query: str, *, cacheable: bool) -> Response:
    """Evaluate in a worker thread and answer in the negotiated format, or raise a Problem."""
    store = _store(request)
    timeout_s = _settings(request).query_timeout_s
    accept = request.headers.get("accept")
    if_none_match = request.headers.get("if-none-match") if cacheable else None

    try:
        with anyio.fail_after(timeout_s + _TIMEOUT_GRACE_S):
            # abandon_on_cancel: pyoxigraph cannot be interrupted; stop waiting, let it finish.
            fmt, etag, body = await anyio.to_thread.run_sync(
                _evaluate_in_worker,
                store,
                query,
                accept,
                timeout_s,
                if_none_match,
                abandon_on_cancel=True,
            )
    except QuerySyntaxError as error:
        raise Problem(
            400, error.title, error.message, line=error.line, column=error.column
        ) from None
    except QueryRejected as error:
        raise Problem(400, error.title, error.message) from None
    except NotAcceptable as error:
        raise Problem(
            406,
            "Not acceptable",
            "this result cannot be sent in any format the Accept header allows",
            accept=error.accept,
            available=[fmt.media_type for fmt in error.available],
        ) from None
    except (QueryTimeout, TimeoutError):
        raise Problem(
            503,
            "Query timed out",
            f"the query ran longer than {timeout_s:g} s; add a LIMIT or narrow the patterns",
            timeout_s=timeout_s,
        ) from None
    headers = {"Vary": "Accept"}
    if cacheable:
        headers["ETag"] = etag
    if body is None:
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=fmt.media_type, headers=headers)
