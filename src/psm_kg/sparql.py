"""Router: the SPARQL 1.1 Protocol query operation at /sparql (read-only).

- ``GET /sparql?query=...`` (and HEAD: the same answer without its body)
- ``POST /sparql`` with ``application/x-www-form-urlencoded`` (``query=...``)
- ``POST /sparql`` with ``application/sparql-query`` (the query is the body; other parameters in
  the URL)
- ``default-graph-uri`` and ``named-graph-uri`` (any number) set the dataset; ``format`` (or
  ``output``) overrides the Accept header with a short name (``json``, ``ttl``...) or a media type
- ``GET /sparql`` without a query: the Service Description for RDF media types, the query editor
  for browsers
- ``OPTIONS /sparql``: the allowed methods (CORS preflights are answered by the CORS middleware)

Update requests (``update=``, ``application/sparql-update``, or an update sent as a query) are
refused. Every failure is raised as :class:`Problem` and rendered by app.py in the one error shape.

The answer format is negotiated before evaluation, from the query form read off the text
(sparql_text.py), so that a 406, a 304 or a cached answer costs no evaluation. Evaluation runs in
a query worker (query_workers.py), waited for in a thread so the event loop keeps serving.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Request, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from psm_kg import formats, observability, query_failures, query_ui, service_description
from psm_kg.config import Settings
from psm_kg.formats import Format, essence
from psm_kg.negotiation import NotAcceptable, choose
from psm_kg.query_workers import (
    Answer,
    Evaluator,
    FormatNotAcceptable,
    QueryJob,
)
from psm_kg.request_handling import Problem, etag_matches, read_capped_body
from psm_kg.result_cache import CachedAnswer, ResultCache
from psm_kg.sparql_text import QueryForm, query_form
from psm_kg.store import (
    FORMATS_BY_KIND,
    DatasetSpec,
    DatasetStore,
    InvalidDataset,
    QueryKind,
    QueryRejected,
    QuerySyntaxError,
)

logger = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
QUERY_BODY = "application/sparql-query"
UPDATE_BODY = "application/sparql-update"
ALLOWED_METHODS = "GET, HEAD, POST, OPTIONS"

KIND_OF_FORM = {
    QueryForm.SELECT: QueryKind.SOLUTIONS,
    QueryForm.ASK: QueryKind.BOOLEAN,
    QueryForm.CONSTRUCT: QueryKind.GRAPH,
    QueryForm.DESCRIBE: QueryKind.GRAPH,
}
DEFAULT_GRAPH_URI = "default-graph-uri"
NAMED_GRAPH_URI = "named-graph-uri"
# Not in the protocol; Virtuoso reads format, Fuseki output, and SPARQLWrapper sends all three.
FORMAT_PARAMETERS = ("format", "output", "results")
# How to ask for less, in the answers to a query that timed out or whose result was too large.
NARROWER = "add a LIMIT or narrow the patterns; page through large results with LIMIT and OFFSET"


@dataclass(frozen=True)
class ProtocolRequest:
    """What a protocol request asks, whatever the method that carried it."""

    query: str | None
    dataset: DatasetSpec | None
    format_names: tuple[str, ...]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _store(request: Request) -> DatasetStore:
    store: DatasetStore = request.app.state.store
    return store


def _evaluator(request: Request) -> Evaluator:
    evaluator: Evaluator = request.app.state.evaluator
    return evaluator


def _cache(request: Request) -> ResultCache:
    cache: ResultCache = request.app.state.result_cache
    return cache


# --- reading the request -----------------------------------------------------------------------


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


def _protocol_request(params: Mapping[str, list[str]], body_query: str | None) -> ProtocolRequest:
    """Check the protocol parameters: one query at most, one format, valid graph IRIs."""
    if "update" in params:
        raise _update_refused()
    queries = list(params.get("query", []))
    if body_query is not None:
        queries.append(body_query)
    if len(queries) > 1:
        raise Problem(400, "More than one query", "send exactly one 'query' parameter")
    query = queries[0] if queries else None
    if query is not None and not query.strip():
        raise _missing_query()

    format_names = tuple(value for name in FORMAT_PARAMETERS for value in params.get(name, []))
    default_graphs = tuple(params.get(DEFAULT_GRAPH_URI, []))
    named_graphs = tuple(params.get(NAMED_GRAPH_URI, []))
    dataset = None
    if default_graphs or named_graphs:
        try:
            dataset = DatasetSpec.checked(default_graphs, named_graphs)
        except InvalidDataset as error:
            raise Problem(
                400,
                error.title,
                f"{error.message}; {DEFAULT_GRAPH_URI} and {NAMED_GRAPH_URI} take absolute IRIs",
                parameters=[DEFAULT_GRAPH_URI, NAMED_GRAPH_URI],
            ) from None
    return ProtocolRequest(query, dataset, format_names)


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "Undecodable request", "the request body is not UTF-8") from None


def _query_params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    return params


async def _post_request(request: Request) -> ProtocolRequest:
    content_type = essence(request.headers.get("content-type", ""))
    if content_type == UPDATE_BODY:
        raise _update_refused()
    if content_type not in (FORM, QUERY_BODY):
        observability.record_query(request, "unsupported_media_type")
        raise Problem(
            415,
            "Unsupported content type",
            f"POST a query as {FORM} (query=...) or as {QUERY_BODY}",
            content_type=content_type or None,
            supported=[FORM, QUERY_BODY],
        )
    try:
        body = await read_capped_body(request, _settings(request).max_body_bytes)
    except Problem:
        observability.record_query(request, "too_large")
        raise
    text = _decode(body)
    url_params = _query_params(request)
    if content_type == QUERY_BODY:
        if not text.strip():
            raise _missing_query()
        return _protocol_request(url_params, text)
    form = parse_qs(text, keep_blank_values=True)
    # Parameters may also travel in the URL of a form POST (some clients put the dataset there).
    for name, values in url_params.items():
        form.setdefault(name, []).extend(values)
    request_ = _protocol_request(form, None)
    if request_.query is None:
        raise _missing_query()
    return request_


# --- routes ------------------------------------------------------------------------------------


async def sparql_query_by_get(request: Request) -> Response:
    """SPARQL 1.1 Protocol query operation by GET: ?query= (URL-encoded). Without a query: the
    Service Description (RDF) or the query editor (HTML)."""
    return await _answer(request, _protocol_request(_query_params(request), None))


async def sparql_query_by_head(request: Request) -> Response:
    response = await _answer(request, _protocol_request(_query_params(request), None))
    return _without_body(response)


async def sparql_query_by_post(request: Request) -> Response:
    """SPARQL 1.1 Protocol query operation by POST: a form (query=...) or a query body."""
    return await _answer(request, await _post_request(request))


async def sparql_options(request: Request) -> Response:
    return Response(status_code=204, headers={"Allow": ALLOWED_METHODS})


async def sparql_other_method(request: Request) -> Response:
    """Answers every other method, so that the 405 names all the allowed ones."""
    raise Problem(
        405,
        "Method Not Allowed",
        f"{request.method} is not allowed here; allowed: {ALLOWED_METHODS}",
        headers={"Allow": ALLOWED_METHODS},
        method=request.method,
        allowed=[m.strip() for m in ALLOWED_METHODS.split(",")],
    )


# Plain Starlette routes: FastAPI's dependency solving and validation would cost more than the
# rest of a cached answer, and these handlers read the protocol's parameters themselves. The
# OpenAPI document describes them from sparql_openapi.py. HEAD comes before GET, which would
# otherwise answer it too.
class _NamedRoute(Route):
    """A plain route that tells the access log and the metrics which route answered."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


# Added to the app's own routes by app.py (include_router would copy them as plain routes).
ROUTES = [
    _NamedRoute("/sparql", endpoint, methods=methods, include_in_schema=False)
    for methods, endpoint in (
        (["HEAD"], sparql_query_by_head),
        (["GET"], sparql_query_by_get),
        (["POST"], sparql_query_by_post),
        (["OPTIONS"], sparql_options),
        (["PUT", "DELETE", "PATCH"], sparql_other_method),
    )
]


def _without_body(response: Response) -> Response:
    headers = dict(response.headers)
    headers["content-length"] = str(len(response.body))
    return Response(status_code=response.status_code, headers=headers)


# --- answering ---------------------------------------------------------------------------------


def _choose(request: Request, proto: ProtocolRequest, allowed: tuple[Format, ...]) -> Format:
    """The format to answer in, or a 406 Problem."""
    try:
        return choose(request.headers.get("accept"), proto.format_names, allowed)
    except NotAcceptable as error:
        observability.record_query(request, "not_acceptable")
        raise _not_acceptable(error.accept, error.available) from None


def _not_acceptable(accept: str | None, available: tuple[Format, ...]) -> Problem:
    return Problem(
        406,
        "Not acceptable",
        "this result cannot be sent in any format the request allows",
        accept=accept,
        available=[fmt.media_type for fmt in available],
    )


def _is_read(request: Request) -> bool:
    return request.method in ("GET", "HEAD")


def _describe_service(request: Request, proto: ProtocolRequest) -> Response:
    """GET without a query: the Service Description, or the editor for a browser."""
    allowed = (*service_description.SD_FORMATS, formats.HTML)
    try:
        fmt = choose(request.headers.get("accept"), proto.format_names, allowed)
    except NotAcceptable:
        raise _missing_query() from None  # a client asking for results forgot the query
    if fmt is formats.HTML:
        return query_ui.editor_response(request, None)
    settings, store = _settings(request), _store(request)
    endpoint = str(request.url_for("sparql_query_by_get"))
    body = service_description.describe(endpoint, store, settings.service_allowlist, fmt)
    return Response(body, media_type=fmt.media_type, headers=_read_headers(settings))


def _read_headers(settings: Settings) -> dict[str, str]:
    return {"Vary": "Accept", "Cache-Control": f"public, max-age={settings.cache_max_age_s}"}


def _etag(content_hash: str, media_type: str, dataset: DatasetSpec | None, query: str) -> str:
    parts = [content_hash, media_type, query]
    if dataset is not None:
        parts += [" ".join(dataset.default_graphs), " ".join(dataset.named_graphs)]
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return f'"{digest[:32]}"'


def _media_types(request: Request, proto: ProtocolRequest) -> dict[QueryKind, str | None]:
    """The negotiated media type for each kind of result, None where nothing is acceptable."""
    chosen: dict[QueryKind, str | None] = {}
    accept = request.headers.get("accept")
    for kind, allowed in FORMATS_BY_KIND.items():
        try:
            chosen[kind] = choose(accept, proto.format_names, allowed).media_type
        except NotAcceptable:
            chosen[kind] = None
    return chosen


async def _answer(request: Request, proto: ProtocolRequest) -> Response:
    if proto.query is None:
        if not _is_read(request):
            raise _missing_query()
        return _describe_service(request, proto)
    query = proto.query
    form = query_form(query)
    kind = KIND_OF_FORM[form] if form is not None else None

    if _is_read(request) and _wants_editor(request, proto, kind):
        return query_ui.editor_response(request, query)
    media_types = _media_types(request, proto)
    if kind is not None and media_types[kind] is None:
        # Negotiated again for the error: it names the formats of this kind.
        _choose(request, proto, FORMATS_BY_KIND[kind])

    settings, store = _settings(request), _store(request)
    headers = {"Vary": "Accept"}
    if _is_read(request):
        headers["Cache-Control"] = f"public, max-age={settings.cache_max_age_s}"
    cache = _cache(request)
    expected_type = media_types[kind] if kind is not None else None
    if expected_type is not None:
        etag = _etag(store.content_hash, expected_type, proto.dataset, query)
        headers["ETag"] = etag
        if _is_read(request) and etag_matches(request.headers.get("if-none-match"), etag):
            observability.record_not_modified(request)
            observability.record_query(request, "ok")
            return Response(status_code=304, headers=headers)
        cached = cache.get(etag) if cache.capacity else None
        if cache.capacity:
            observability.record_cache(request, hit=cached is not None)
        if cached is not None:
            observability.record_query(request, "ok")
            return Response(cached.body, media_type=cached.media_type, headers=headers)

    answer = await _evaluate(request, proto, query, media_types)
    etag = _etag(store.content_hash, answer.media_type, proto.dataset, query)
    headers["ETag"] = etag
    if cache.capacity:
        cache.put(etag, CachedAnswer(answer.media_type, answer.body))
    return Response(answer.body, media_type=answer.media_type, headers=headers)


def _wants_editor(request: Request, proto: ProtocolRequest, kind: QueryKind | None) -> bool:
    """A browser asking for a page (text/html preferred to every result format), or format=html.

    HTML comes last, so a tie (``*/*``, no Accept) goes to the data.
    """
    data_formats = FORMATS_BY_KIND[kind] if kind is not None else FORMATS_BY_KIND[QueryKind.GRAPH]
    try:
        fmt = choose(
            request.headers.get("accept"), proto.format_names, (*data_formats, formats.HTML)
        )
    except NotAcceptable:
        return False  # answered below, with the right error
    return fmt is formats.HTML


async def _evaluate(
    request: Request,
    proto: ProtocolRequest,
    query: str,
    media_types: dict[QueryKind, str | None],
) -> Answer:
    """Evaluate in a worker; map each failure onto its HTTP answer."""
    settings = _settings(request)
    timeout_s = settings.query_timeout_s
    job = QueryJob(
        query=query,
        media_types=media_types,
        timeout_s=timeout_s,
        max_result_bytes=settings.max_result_bytes,
        dataset=proto.dataset,
        allowed_services=settings.service_allowlist,
    )
    try:
        answer = await _evaluator(request).evaluate_async(job)
    except QuerySyntaxError as error:
        observability.record_query(request, "bad_request")
        raise Problem(
            400, error.title, error.message, line=error.line, column=error.column
        ) from None
    except QueryRejected as error:
        observability.record_query(request, "bad_request")
        raise Problem(400, error.title, error.message) from None
    except FormatNotAcceptable as error:
        observability.record_query(request, "not_acceptable")
        raise _not_acceptable(request.headers.get("accept"), FORMATS_BY_KIND[error.kind]) from None
    except query_failures.FAILURES as error:
        raise query_failures.problem(
            request, error, timeout_s=timeout_s, narrower=NARROWER
        ) from None
    observability.record_query(request, "ok", answer.seconds)
    return answer
