"""Router: SHACL validation over HTTP, for anyone's data and for the served dataset.

- ``POST /validate[?profile=NAME]``: validate the RDF in the request body (Turtle, N-Triples,
  JSON-LD or RDF/XML, by Content-Type) against a profile's shapes (default ``psm``).
- ``GET /validation[?profile=NAME]``: the served dataset's own report, computed once per content
  hash and profile for the life of the process, with an ETag (304 on If-None-Match).

Both answer the report by content negotiation: JSON (the default), Turtle (a standard
``sh:ValidationReport``) or an HTML page. A finished validation is **200 whether or not the data
conforms**: the report says which (``conforms``), not the status code. Everything else leaves
through the one error shape (:class:`psm_kg.request_handling.Problem`):

- 400 unknown profile (the body lists the profiles), empty body, or a body that cannot be read:
  a syntax error (``line`` and ``column`` fields), invalid UTF-8, something the server refuses
  to fetch (a remote JSON-LD context), or data the SHACL engine refuses (an invalid IRI);
- 406 no acceptable report format; 413 body over ``max_body_bytes`` (counted while streaming);
  415 unsupported Content-Type (the body lists the supported ones);
- 503 with ``Retry-After`` when validation runs past ``query_timeout_s``.

Nothing a client sends is fetched or imported: ``loading.load_bytes`` refuses remote JSON-LD
contexts and the SHACL engine never follows ``owl:imports``. Parsing, validation and rendering run
in a worker thread; on timeout the server stops waiting, and the thread finishes in the background
(the SHACL engine cannot be interrupted). Because such threads outlive their requests, at most
MAX_VALIDATIONS validations run at once, abandoned ones included; beyond that a request gets 503
at once. A dataset report that finishes late is still cached, so the retry the 503 asks for
finds it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response

from psm_kg import formats, profiles
from psm_kg.config import Settings
from psm_kg.errors import ShapesError
from psm_kg.formats import Format, essence
from psm_kg.negotiation import NotAcceptable, negotiate
from psm_kg.profiles import Profile
from psm_kg.request_handling import Problem, etag_matches, read_capped_body
from psm_kg.store import DatasetStore

if TYPE_CHECKING:
    from psm_kg.validation import Report

logger = logging.getLogger(__name__)

router = APIRouter()

# What a client may send, and what the report is written as (the first is the default).
BODY_FORMATS: tuple[Format, ...] = (
    formats.TURTLE,
    formats.N_TRIPLES,
    formats.JSON_LD,
    formats.RDF_XML,
)
REPORT_FORMATS: tuple[Format, ...] = (formats.JSON, formats.TURTLE, formats.HTML)
DEFAULT_PROFILE = "psm"

# The HTML page loads nothing: no scripts at all, styles only from its own <style> element.
HTML_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}
# Validations running at once, counting those whose request timed out (they run on): bounds the
# CPU and memory a burst of heavy requests can take. The thread pool cannot: it frees a thread's
# slot when its request stops waiting.
MAX_VALIDATIONS = 4
_SLOTS = threading.BoundedSemaphore(MAX_VALIDATIONS)

# Caches may keep a dataset report, but must ask again (a cheap 304) since a deploy changes it.
DATASET_CACHE_CONTROL = "public, no-cache"

ProfileParameter = Annotated[
    str,
    Query(description="the shapes to validate against: psm, dcat-ap, dcat-ap-it or ndc"),
]

_T = TypeVar("_T")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _store(request: Request) -> DatasetStore:
    store: DatasetStore = request.app.state.store
    return store


# --- routes ------------------------------------------------------------------------------------


@router.post(
    "/validate",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {fmt.media_type: {"schema": {"type": "string"}} for fmt in BODY_FORMATS},
        }
    },
    responses={200: {"content": {fmt.media_type: {} for fmt in REPORT_FORMATS}}},
)
async def validate_body(request: Request, profile: ProfileParameter = DEFAULT_PROFILE) -> Response:
    """Validate the RDF in the request body; the report says whether it conforms (always 200)."""
    # `profile` is declared for the OpenAPI document; _profile reads it, refusing repeats.
    settings = _settings(request)
    chosen = _profile(request)
    body_format = _body_format(request)
    report_format = _report_format(request)
    body = await read_capped_body(request, settings.max_body_bytes)
    if not body.strip():
        raise Problem(
            400,
            "Empty request body",
            "send the RDF to validate as the request body, e.g. with Content-Type: text/turtle",
        )
    try:
        from psm_kg import validation_work  # rdflib and the SHACL engine: loaded on first use

        report, text = await _in_worker(
            settings.query_timeout_s,
            _bounded,
            validation_work.check_body,
            body,
            body_format,
            chosen,
            report_format,
        )
    except ShapesError as error:
        # The bundled shapes are tested; what the engine refuses here comes from the body, e.g.
        # an IRI rdflib accepts through an escape (\u003C) but that is not a valid IRI.
        logger.info("the SHACL engine refused a request body: %s", error)
        raise Problem(
            400,
            "Data the SHACL engine cannot check",
            "the SHACL engine refused to validate this data with the profile's shapes; "
            "check that every IRI is valid (no spaces, no '<', '>' or '\"', even escaped)",
            engine_message=str(error),
        ) from None
    if text is None:
        raise _unreadable(report, body_format)
    return _answer(text, report_format, {"Vary": "Accept"})


@router.get(
    "/validation", responses={200: {"content": {fmt.media_type: {} for fmt in REPORT_FORMATS}}}
)
async def dataset_report(request: Request, profile: ProfileParameter = DEFAULT_PROFILE) -> Response:
    """The served dataset's own validation report (always 200; the report says if it conforms)."""
    settings, store = _settings(request), _store(request)
    chosen = _profile(request)
    report_format = _report_format(request)
    etag = _etag(store.content_hash, chosen.name, report_format)
    headers = {"Vary": "Accept", "ETag": etag, "Cache-Control": DATASET_CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    from psm_kg import validation_work  # rdflib and the SHACL engine: loaded on first use

    text = await _in_worker(
        settings.query_timeout_s,
        validation_work.dataset_text,
        _bounded,
        store,
        settings.base_iri,
        chosen,
        report_format,
        settings.query_timeout_s,
        str(request.scope.get("root_path", "")),
    )
    return _answer(text, report_format, headers)


# --- request checks ----------------------------------------------------------------------------


def _profile(request: Request) -> Profile:
    """The profile the query names (default psm), or a 400 listing the profiles there are."""
    names = request.query_params.getlist("profile") or [DEFAULT_PROFILE]
    available = sorted(profiles.PROFILES)
    if len(names) > 1:
        raise Problem(400, "More than one profile", "name at most one profile", profiles=available)
    if names[0] not in profiles.PROFILES:
        raise Problem(
            400,
            "Unknown profile",
            f"there is no profile {names[0]!r}; use one of: {', '.join(available)}",
            profile=names[0],
            profiles=available,
        )
    return profiles.get_profile(names[0])


def _body_format(request: Request) -> Format:
    content_type = essence(request.headers.get("content-type", ""))
    found = formats.by_media_type(content_type) if content_type else None
    if found is None or found not in BODY_FORMATS:
        supported = [fmt.media_type for fmt in BODY_FORMATS]
        raise Problem(
            415,
            "Unsupported content type",
            f"send the RDF to validate as one of: {', '.join(supported)}",
            content_type=content_type or None,
            supported=supported,
        )
    return found


def _report_format(request: Request) -> Format:
    accept = request.headers.get("accept")
    try:
        return negotiate(accept, REPORT_FORMATS)
    except NotAcceptable as error:
        raise Problem(
            406,
            "Not acceptable",
            "the validation report cannot be sent in any format the Accept header allows",
            accept=error.accept,
            available=[fmt.media_type for fmt in error.available],
        ) from None


def _unreadable(report: Report, body_format: Format) -> Problem:
    """400 for a body that did not parse: the first problem, located, and all of them listed."""
    first = report.errors[0]
    return Problem(
        400,
        "Unreadable request body",
        f"the body is not readable {body_format.name}: {first}",
        line=first.line,
        column=first.column,
        errors=[
            {"line": error.line, "column": error.column, "message": error.message}
            for error in report.errors
        ],
    )


class _Busy(Exception):
    """MAX_VALIDATIONS validations are running already."""


def _bounded(function: Callable[..., _T], *args: Any) -> _T:
    """Call ``function`` in one of the MAX_VALIDATIONS slots, or raise _Busy at once."""
    if not _SLOTS.acquire(blocking=False):
        raise _Busy
    try:
        return function(*args)
    finally:
        _SLOTS.release()


async def _in_worker(timeout_s: float, function: Callable[..., _T], *args: Any) -> _T:
    """Run ``function`` in a worker thread; 503 with Retry-After once ``timeout_s`` has passed,
    or at once when the validator is busy."""
    retry_after = {"Retry-After": str(max(1, math.ceil(timeout_s)))}
    try:
        with anyio.fail_after(timeout_s):
            # abandon_on_cancel: the SHACL engine cannot be interrupted; stop waiting for it.
            return await anyio.to_thread.run_sync(function, *args, abandon_on_cancel=True)
    except TimeoutError:
        raise Problem(
            503,
            "Validation timed out",
            f"validation ran longer than {timeout_s:g} s; send less data or try again later",
            headers=retry_after,
            timeout_s=timeout_s,
        ) from None
    except _Busy:
        raise Problem(
            503,
            "Validator busy",
            f"{MAX_VALIDATIONS} validations are running already; try again later",
            headers=retry_after,
        ) from None


def _answer(text: str, fmt: Format, headers: dict[str, str]) -> Response:
    if fmt is formats.HTML:
        headers = {**headers, **HTML_SECURITY_HEADERS}
    return Response(content=text.encode("utf-8"), media_type=fmt.media_type, headers=headers)


def _etag(content_hash: str, profile: str, fmt: Format) -> str:
    seed = "\n".join(("validation", content_hash, profile, fmt.media_type))
    return f'"{hashlib.sha256(seed.encode()).hexdigest()[:32]}"'
