"""Router: the named queries, ``GET /api/queries/{name}`` for each ``queries/{name}.rq``.

- ``GET /api/queries``: every served query with its summary, description, tags, parameters and URL
- ``GET /api/queries/{name}`` (and HEAD): the query's answer, its parameters taken from the query
  string and bound as RDF terms before evaluation (pyoxigraph substitutions: a value is never
  spliced into the query text, so it cannot change the query)
- an unknown name: 404 in the one error shape

Routes are made per query file when the app is created (:func:`router_for`), so the OpenAPI
document has one operation per query with its own typed parameters (api_schema.py). A query file
that does not load is left out and logged; the others are served (``psm-kg validate --queries``
reports it).

Answers work as /sparql's do (sparql.py): the format is negotiated first (``format`` wins over
Accept; 406 when nothing fits), then a strong ETag (dataset hash, query, bound parameters, page,
format) answers If-None-Match with 304 and keys the result cache; evaluation goes to the same query
workers with the same timeout, size cap and errors. A SELECT is fetched as SPARQL JSON and written
out here (api_results.py); a list query (``paginated``) is cut into pages of ``limit`` rows from
``offset``, one row more being asked for to know whether a next page exists, with
``Link: <...>; rel="next"`` (and ``prev``, ``first``) keeping the other parameters.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from psm_kg import api_results, api_schema, formats, observability, query_failures
from psm_kg.api_results import Solutions
from psm_kg.api_schema import (
    DEFAULT_LIMIT,
    FORMAT_PARAMETER,
    LIMIT_PARAMETER,
    MAX_LIMIT,
    MAX_OFFSET,
    OFFSET_PARAMETER,
)
from psm_kg.config import Settings
from psm_kg.formats import Format
from psm_kg.named_queries import (
    NamedQuery,
    ParameterError,
    ParameterType,
    QueryProblem,
    bind,
    load_named_queries,
)
from psm_kg.negotiation import NotAcceptable, choose
from psm_kg.query_workers import (
    Answer,
    Evaluator,
    FormatNotAcceptable,
    QueryJob,
)
from psm_kg.request_handling import Problem, etag_matches
from psm_kg.result_cache import CachedAnswer, ResultCache
from psm_kg.sparql_text import QueryForm
from psm_kg.store import (
    FORMATS_BY_KIND,
    DatasetStore,
    QueryKind,
    QueryRejected,
    StoreRefusedQuery,
)

logger = logging.getLogger(__name__)

PREFIX = "/api/queries"
QUERIES_DIR = "queries"  # below the project root, as the query editor reads it
# A name becomes a path segment as it is.
# Listing the instances of a class at start-up: generous, it is done once.
INSTANCES_TIMEOUT_S = 60.0
_ROUTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class ServedQuery:
    """A named query the API serves, with the instances of each class-typed IRI parameter."""

    query: NamedQuery
    # parameter name -> the IRIs of the instances of its class in the served data
    instances: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.query.name)

    @property
    def path(self) -> str:
        return f"{PREFIX}/{self.name}"


# --- what is served -----------------------------------------------------------------------------


def api_problems(queries: list[NamedQuery]) -> list[QueryProblem]:
    """What keeps a loaded query off the API: a name that cannot be a path segment, or a
    parameter named like one the API reads itself (format, limit, offset)."""
    problems: list[QueryProblem] = []
    for query in queries:
        if not _ROUTE_NAME.fullmatch(query.name):
            problems.append(
                QueryProblem(
                    query.path,
                    1,
                    f"the name {query.name!r} cannot be a URL path segment: use letters, digits, "
                    "'.', '_' and '-'",
                )
            )
        for parameter in query.parameters:
            if parameter.name in api_schema.reserved_names(query):
                problems.append(
                    QueryProblem(
                        query.path,
                        parameter.line,
                        f"the parameter name {parameter.name!r} is taken by the API "
                        f"({', '.join(api_schema.reserved_names(query))}): rename it",
                    )
                )
    return problems


def class_instances(store: DatasetStore, iri_class: str, timeout_s: float) -> frozenset[str] | None:
    """The IRIs typed with ``iri_class`` or a subclass of it in ``store``; None if it is no IRI."""
    try:
        node = ox.NamedNode(iri_class)
    except ValueError:
        return None
    sparql = (
        "SELECT DISTINCT ?i WHERE { ?i a/<http://www.w3.org/2000/01/rdf-schema#subClassOf>* "
        f"{node} FILTER(isIRI(?i)) }}"
    )
    try:
        body = store.query(sparql, timeout_s=timeout_s).serialize(formats.SPARQL_JSON)
        solutions = Solutions.from_sparql_json(body)
    except Exception:  # the API must come up anyway: the parameter is then not checked
        logger.warning("cannot list the instances of <%s>", iri_class, exc_info=True)
        return None
    return frozenset(str(row["i"]["value"]) for row in solutions.rows if "i" in row)


def served_queries(settings: Settings, store: DatasetStore) -> tuple[list[ServedQuery], list[str]]:
    """The queries to serve from ROOT/queries, and one line per file left out."""
    queries, problems = load_named_queries(settings.root / QUERIES_DIR)
    problems = [*problems, *api_problems(queries)]
    left_out = {str(problem.path) for problem in problems}
    served: list[ServedQuery] = []
    by_class: dict[str, frozenset[str] | None] = {}
    for query in queries:
        if str(query.path) in left_out:
            continue
        instances: dict[str, frozenset[str]] = {}
        for parameter in query.parameters:
            if parameter.type is ParameterType.IRI and parameter.iri_class:
                iri_class = parameter.iri_class
                if iri_class not in by_class:
                    by_class[iri_class] = class_instances(store, iri_class, INSTANCES_TIMEOUT_S)
                found = by_class[iri_class]
                if found is not None:
                    instances[parameter.name] = found
        served.append(ServedQuery(query, instances))
    return served, [str(problem) for problem in problems]


# --- routes ------------------------------------------------------------------------------------


Endpoint = Callable[[Request], Awaitable[Response]]


def router_for(settings: Settings, store: DatasetStore) -> APIRouter:
    """The API's routes for the queries of ``settings.root``/queries, as they are now."""
    served, problems = served_queries(settings, store)
    for problem in problems:
        logger.warning("named query left out of the API: %s", problem)
    by_name = {item.name: item for item in served}
    router = APIRouter()

    async def list_named_queries(request: Request) -> Response:
        """Every named query: name, summary, description, tags, parameters and URL."""
        root_path = str(request.scope.get("root_path", ""))
        listing = {"queries": [_describe(item, root_path) for item in served]}
        return JSONResponse(listing, headers=_read_headers(_settings(request)))

    router.add_api_route(
        PREFIX,
        list_named_queries,
        methods=["GET"],
        name="list_named_queries",
        summary="The named queries",
        description="Every named query this server answers at /api/queries/{name}, with its "
        "typed parameters.",
        tags=["named queries"],
        response_class=JSONResponse,
        responses={200: {"content": {"application/json": {"schema": api_schema.LISTING_SCHEMA}}}},
    )

    async def head_named_queries(request: Request) -> Response:
        listing = await list_named_queries(request)
        return Response(status_code=listing.status_code, headers=dict(listing.headers))

    router.add_api_route(PREFIX, head_named_queries, methods=["HEAD"], include_in_schema=False)
    for item in served:
        endpoint, head = _endpoints(item)
        query = item.query
        router.add_api_route(
            item.path,
            endpoint,
            methods=["GET"],
            name=f"named_query:{item.name}",
            operation_id="named_query_" + re.sub(r"\W", "_", item.name),
            summary=query.summary or item.name,
            description=_operation_description(query),
            tags=list(query.tags) or ["named queries"],
            response_class=Response,
            responses=api_schema.responses(query),
            openapi_extra={
                "parameters": api_schema.operation_parameters(query, _sorted(item.instances))
            },
        )
        router.add_api_route(item.path, head, methods=["HEAD"], include_in_schema=False)

    async def unknown_named_query(request: Request) -> Response:
        name = request.path_params["name"]
        raise Problem(
            404,
            "Unknown query",
            f"there is no named query {name!r}; GET {PREFIX} lists them",
            name=name,
            available=sorted(by_name),
        )

    router.add_api_route(
        PREFIX + "/{name}", unknown_named_query, methods=["GET", "HEAD"], include_in_schema=False
    )
    return router


def _sorted(instances: Mapping[str, frozenset[str]]) -> dict[str, list[str]]:
    return {name: sorted(iris) for name, iris in instances.items()}


def _operation_description(query: NamedQuery) -> str:
    text = query.description or query.summary or ""
    return f"{text}\n\n```sparql\n{query.text.rstrip()}\n```"


def _describe(item: ServedQuery, root_path: str) -> dict[str, Any]:
    query = item.query
    return {
        "name": item.name,
        "url": root_path + item.path,
        "summary": query.summary,
        "description": query.description,
        "tags": list(query.tags),
        "form": query.form.value,
        "paginated": query.paginated,
        "parameters": [api_schema.describe_parameter(p) for p in query.parameters],
    }


def _endpoints(item: ServedQuery) -> tuple[Endpoint, Endpoint]:
    async def run_named_query(request: Request) -> Response:
        return await _answer(request, item)

    async def run_named_query_head(request: Request) -> Response:
        response = await _answer(request, item)
        headers = dict(response.headers)
        headers["content-length"] = str(len(response.body))
        return Response(status_code=response.status_code, headers=headers)

    return run_named_query, run_named_query_head


# --- answering ---------------------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _read_headers(settings: Settings) -> dict[str, str]:
    return {"Vary": "Accept", "Cache-Control": f"public, max-age={settings.cache_max_age_s}"}


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def _single_values(request: Request, item: ServedQuery) -> dict[str, str]:
    """The query string as one value per name; 400 for a repeated or unknown name."""
    known = {p.name for p in item.query.parameters} | set(api_schema.reserved_names(item.query))
    values: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in known:
            observability.record_query(request, "bad_request")
            raise Problem(
                400,
                "Unknown parameter",
                f"{name!r} is not a parameter of {item.name}; it takes: "
                + (", ".join(sorted(known))),
                parameter=name,
                parameters=sorted(known),
            )
        if name in values:
            observability.record_query(request, "bad_request")
            raise Problem(
                400,
                "Repeated parameter",
                f"{name!r} is given more than once; give it once",
                parameter=name,
            )
        values[name] = value
    return values


def _whole_number(request: Request, name: str, text: str, low: int, high: int) -> int:
    if re.fullmatch(r"[0-9]{1,9}", text.strip()) and low <= int(text) <= high:
        return int(text)
    observability.record_query(request, "bad_request")
    raise Problem(
        400,
        "Invalid parameter",
        f"{name} must be an integer from {low} to {high}",
        parameter=name,
        expected=f"integer from {low} to {high}",
    )


def _page(request: Request, values: Mapping[str, str]) -> Page:
    limit = _whole_number(
        request, LIMIT_PARAMETER, values.get(LIMIT_PARAMETER, str(DEFAULT_LIMIT)), 1, MAX_LIMIT
    )
    offset = _whole_number(
        request, OFFSET_PARAMETER, values.get(OFFSET_PARAMETER, "0"), 0, MAX_OFFSET
    )
    return Page(limit, offset)


def _format_names(query: NamedQuery, value: str | None) -> tuple[str, ...]:
    """The ``format`` value; for SELECT and ASK, ``json`` names the plain JSON answer."""
    if value is None:
        return ()
    parts = [part.strip() for part in value.split(",")]
    if query.form in (QueryForm.SELECT, QueryForm.ASK):
        parts = ["application/json" if part.lower() == "json" else part for part in parts]
    return tuple(parts)


def _negotiate(request: Request, query: NamedQuery, format_value: str | None) -> Format:
    allowed = api_schema.formats_of(query)
    try:
        chosen: Format = choose(
            request.headers.get("accept"), _format_names(query, format_value), allowed
        )
    except NotAcceptable as error:
        observability.record_query(request, "not_acceptable")
        raise Problem(
            406,
            "Not acceptable",
            "this answer cannot be sent in any format the request allows",
            accept=error.accept,
            available=[fmt.media_type for fmt in allowed],
        ) from None
    return chosen


def _bound(request: Request, item: ServedQuery, values: Mapping[str, str]) -> dict[str, Any]:
    """The parameters as RDF terms; 400 naming the parameter and the type it needs."""
    raw = {p.name: values[p.name] for p in item.query.parameters if p.name in values}
    for parameter in item.query.parameters:
        value = raw.get(parameter.name)
        if value and not api_schema.accepts(parameter, value):
            observability.record_query(request, "bad_request")
            raise Problem(
                400,
                "Invalid parameter",
                f"parameter {parameter.name!r}: expected {parameter.expected}"
                + (
                    " (http, https or urn; ASCII, percent-encoded; no angle brackets)"
                    if parameter.type is ParameterType.IRI
                    else ""
                ),
                parameter=parameter.name,
                expected=parameter.expected,
            )
    try:
        bound = bind(item.query, raw)
    except ParameterError as error:
        observability.record_query(request, "bad_request")
        raise Problem(
            400,
            "Invalid parameter",
            str(error),
            parameter=error.parameter,
            expected=error.expected,
        ) from None
    for name, instances in item.instances.items():
        term = bound.get(name)
        if name in raw and term is not None and getattr(term, "value", None) not in instances:
            parameter = next(p for p in item.query.parameters if p.name == name)
            observability.record_query(request, "bad_request")
            raise Problem(
                400,
                "Invalid parameter",
                f"{name} must be the IRI of a <{parameter.iri_class}> in the data; "
                f"GET {PREFIX} or the OpenAPI document list them",
                parameter=name,
                expected=f"IRI of a <{parameter.iri_class}>",
            )
    return bound


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


async def _answer(request: Request, item: ServedQuery) -> Response:
    query = item.query
    settings = _settings(request)
    store: DatasetStore = request.app.state.store
    cache: ResultCache = request.app.state.result_cache

    values = _single_values(request, item)
    fmt = _negotiate(request, query, values.get(FORMAT_PARAMETER))
    bound = _bound(request, item, values)
    page = _page(request, values) if query.paginated else None

    text = query.text
    if page is not None:
        # Validated integers only: one row more than the page tells whether a next one exists.
        text = f"{text}\nLIMIT {page.limit + 1} OFFSET {page.offset}"
    bindings = tuple(sorted(bound.items()))
    worker_type = (
        fmt.media_type
        if query.form in (QueryForm.CONSTRUCT, QueryForm.DESCRIBE)
        else (formats.SPARQL_JSON.media_type)
    )
    job_key = _key(
        store.content_hash,
        query.name,
        text,
        "\n".join(f"{name}={term}" for name, term in bindings),
        worker_type,
    )
    etag = f'"{_key(job_key, fmt.media_type)}"'
    headers = {**_read_headers(settings), "ETag": etag}
    if etag_matches(request.headers.get("if-none-match"), etag):
        observability.record_not_modified(request)
        observability.record_query(request, "ok")
        return Response(status_code=304, headers=headers)

    cached = cache.get(job_key) if cache.capacity else None
    if cache.capacity:
        observability.record_cache(request, hit=cached is not None)
    if cached is not None:
        observability.record_query(request, "ok")
        body = cached.body
    else:
        job = QueryJob(
            query=text,
            media_types={
                QueryKind.SOLUTIONS: formats.SPARQL_JSON.media_type,
                QueryKind.BOOLEAN: formats.SPARQL_JSON.media_type,
                QueryKind.GRAPH: worker_type,
            },
            timeout_s=settings.query_timeout_s,
            max_result_bytes=settings.max_result_bytes,
            allowed_services=settings.service_allowlist,
            bindings=bindings,
        )
        answer = await _evaluate(request, job)
        body = answer.body
        if cache.capacity:
            cache.put(job_key, CachedAnswer(answer.media_type, body))

    if query.form is QueryForm.SELECT:
        solutions = Solutions.from_sparql_json(body)
        if page is not None:
            solutions, more = solutions.page(page.limit)
            headers["Link"] = _links(request, page, more)
        body = api_results.render_solutions(solutions, fmt)
    elif query.form is QueryForm.ASK:
        body = api_results.render_boolean(api_results.boolean_of(body), fmt)
    return Response(body, media_type=_content_type(fmt), headers=headers)


def _content_type(fmt: Format) -> str:
    if fmt.media_type.startswith("text/") or fmt.media_type == formats.JSON.media_type:
        return f"{fmt.media_type}; charset=utf-8"
    return fmt.media_type


def _links(request: Request, page: Page, more: bool) -> str:
    """The Link header of a page: first, prev (past the first page) and next (when there is one)."""

    def at(offset: int, rel: str) -> str:
        url = request.url.include_query_params(
            **{LIMIT_PARAMETER: page.limit, OFFSET_PARAMETER: offset}
        )
        return f'<{url}>; rel="{rel}"'

    links = [at(0, "first")]
    if page.offset > 0:
        links.append(at(max(0, page.offset - page.limit), "prev"))
    if more:
        links.append(at(page.offset + page.limit, "next"))
    return ", ".join(links)


async def _evaluate(request: Request, job: QueryJob) -> Answer:
    """Evaluate in a query worker; map each failure onto its HTTP answer, as /sparql does."""
    evaluator: Evaluator = request.app.state.evaluator
    timeout_s = job.timeout_s
    try:
        answer = await evaluator.evaluate_async(job)
    except StoreRefusedQuery as error:
        # A limit of the remote store that these parameters reach (a large offset, say): its
        # message tells the client what to change.
        observability.record_query(request, "error")
        raise Problem(400, error.title, error.message) from None
    except QueryRejected as error:
        # The query text comes from the server's own files and values are bound, not spliced:
        # a rejection is the file's fault, not the client's.
        observability.record_query(request, "error")
        logger.error("a named query was rejected by the engine: %s", error.message)
        raise Problem(
            500,
            "Named query failed",
            "the query file cannot be evaluated; the error has been logged",
        ) from None
    except FormatNotAcceptable as error:
        observability.record_query(request, "not_acceptable")
        raise Problem(
            406,
            "Not acceptable",
            "this answer cannot be sent in any format the request allows",
            available=[fmt.media_type for fmt in FORMATS_BY_KIND[error.kind]],
        ) from None
    except query_failures.FAILURES as error:
        raise query_failures.problem(
            request, error, timeout_s=timeout_s, narrower="ask for a smaller page"
        ) from None
    observability.record_query(request, "ok", answer.seconds)
    return answer


def queries_dir(settings: Settings) -> Path:
    """Where the named queries of a project tree are."""
    return settings.root / QUERIES_DIR
