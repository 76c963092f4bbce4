"""The access log: one JSON object per HTTP request on the ``psm_kg.access`` logger.

:class:`AccessLog` is a pure ASGI middleware (it wraps ``send``, so streamed answers pass through
as they come). It times each request once and uses the timing twice: a log line, and the request
counter and duration histogram of the app's :class:`~psm_kg.metrics.Metrics`. A line looks like::

    {"ts": "2026-01-02T10:00:00.123Z", "method": "GET", "path": "/sparql", "route": "/sparql",
     "query_length": 73, "status": 200, "bytes": 512, "duration_ms": 4.1, "query_ms": 3.2,
     "cache": "miss", "client": "127.0.0.1", "user_agent": "curl/8.5.0"}

(on one line). ``ts`` is when the request arrived, in UTC; ``duration_ms`` runs until the app has
sent the last byte of its answer; ``bytes`` counts the body sent (0 for HEAD, and for a 500 that
the server writes itself after an unhandled error). A request cancelled before its answer started
is logged with status 0.

The query string is logged as its length only, never its text, nor is any SPARQL query (a query
may be large, and may carry what a client would not want kept in logs); ``route`` and ``query_ms``
say which endpoint answered and how long the query took.

Contract with the routers: a route may set, during the request,

- ``request.state.query_ms``: milliseconds of SPARQL evaluation (a number);
- ``request.state.cache``: the result cache's part, ``"hit"``, ``"miss"`` or ``"not_modified"``.

``request.state`` lives in ``scope["state"]``, which the middleware reads after the answer; unset
keys are logged as null. observability.py sets both while recording the metrics.
"""

from __future__ import annotations

import logging
import time
from json.encoder import encode_basestring_ascii
from typing import Any, TextIO

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from psm_kg.metrics import OTHER, Metrics

ACCESS_LOGGER = logging.getLogger("psm_kg.access")

QUERY_MS = "query_ms"
CACHE = "cache"

# Generous bounds that keep one line short whatever a client sends.
_MAX_PATH = 1000
_MAX_USER_AGENT = 300
_MAX_METHOD = 20
_MAX_CACHE = 20


class AccessLog:
    """Log each HTTP request (when ``log``) and count it in ``metrics``."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.time()
        started = time.perf_counter()
        root_path: str = scope.get("root_path", "")
        # The dict request.state writes to (servers give each request its own; made if absent).
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 0  # stays 0 if the request is cancelled before an answer starts
        sent = 0
        # The server drops the body of an answer to HEAD; what the app passes it is not sent.
        has_body = scope["method"] != "HEAD"

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.body" and has_body:
                sent += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except Exception:
            # The server error middleware around this one answers 500 for what escapes here.
            status = status or 500
            raise
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope, root_path)
            self.metrics.record_request(scope["method"], route, status, seconds)
            if self.log and ACCESS_LOGGER.isEnabledFor(logging.INFO):
                line = _line(scope, state, route, arrived, status, sent, seconds)
                handlers = ACCESS_LOGGER.handlers
                if len(handlers) == 1 and type(handlers[0]) is _LineStream:
                    handlers[0].write_line(line)
                else:
                    ACCESS_LOGGER.info(line)


def route_template(scope: Scope, root_path: str = "") -> str:
    """The matched route's path template (``/items/{id}``), or ``other`` when none matched.

    ``root_path`` is the scope's root path before routing: a mounted app's routes are relative
    to its mount, whose (matched) path routing appends to the root path. A mounted app without
    routes of its own (static files), or one that found none, counts under its mount's path.
    """
    mount_prefix: str = scope.get("root_path", "")[len(root_path) :]
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return mount_prefix or OTHER
    if isinstance(route, Mount):
        return mount_prefix or path
    return mount_prefix + path


def _line(
    scope: Scope,
    state: dict[str, Any],
    route: str,
    arrived: float,
    status: int,
    sent: int,
    seconds: float,
) -> str:
    """The JSON object of one request, on one line, its keys in a fixed order.

    Written by hand rather than by json.dumps, which took most of the log's time: every value is a
    number, null, or a string escaped by the json module's own (C) escaper.
    """
    query_ms = state.get(QUERY_MS)
    if isinstance(query_ms, bool) or not isinstance(query_ms, int | float):
        query_ms = None
    cache = state.get(CACHE)
    client = scope.get("client")
    user_agent = _header(scope, b"user-agent", _MAX_USER_AGENT)
    return (
        f'{{"ts":"{_timestamp(arrived)}",'
        f'"method":{encode_basestring_ascii(scope["method"][:_MAX_METHOD])},'
        f'"path":{encode_basestring_ascii(scope["path"][:_MAX_PATH])},'
        f'"route":{encode_basestring_ascii(route)},'
        f'"query_length":{len(scope.get("query_string", b""))},'
        f'"status":{int(status)},'
        f'"bytes":{int(sent)},'
        f'"duration_ms":{_number(round(seconds * 1000, 3))},'
        f'"query_ms":{"null" if query_ms is None else _number(round(query_ms, 3))},'
        f'"cache":{_string(cache[:_MAX_CACHE] if isinstance(cache, str) else None)},'
        f'"client":{_string(str(client[0]) if client else None)},'
        f'"user_agent":{_string(user_agent)}}}'
    )


def _timestamp(seconds: float) -> str:
    """ISO 8601 in UTC with milliseconds: 2026-01-02T10:00:00.123Z."""
    whole = int(seconds)
    millis = min(999, int((seconds - whole) * 1000))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def _number(value: float) -> str:
    # As json writes a float; infinities and NaN (never a duration) become null, not bare words.
    return repr(value) if value == value and abs(value) != float("inf") else "null"


def _string(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


def _header(scope: Scope, name: bytes, limit: int) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text: str = value[:limit].decode("latin-1")
            return text
    return None


class _LineStream(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler log_to installs. The middleware hands it each line directly, skipping the
    logging module's per-record work (a LogRecord, a formatter), which took longer than the rest
    of a cached answer; anything else logged to psm_kg.access goes the usual way."""

    def write_line(self, line: str) -> None:
        # One write of the whole line: lines from concurrent requests never interleave.
        try:
            self.stream.write(line + "\n")
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": line}))


def log_to(stream: TextIO) -> None:
    """Write the access log to ``stream``, one JSON object a line, and nowhere else."""
    handler = _LineStream(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    ACCESS_LOGGER.handlers[:] = [handler]
    ACCESS_LOGGER.setLevel(logging.INFO)
    ACCESS_LOGGER.propagate = False  # a root handler would print each line a second time
