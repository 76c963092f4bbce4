"""The app's counters and histograms, written in the Prometheus text format (version 0.0.4).

One :class:`Metrics` per app (``app.state.metrics``, made by create_app), so that two apps in one
process, as the tests make, never share counters. Nothing here knows HTTP frameworks; what feeds it:

- access_log.AccessLog, once per HTTP request: ``record_request(method, route, status, seconds)``
- the SPARQL router, through observability.py (which also tells the access log):

  - ``record_query(outcome, seconds)``: one query answered; ``outcome`` is one of
    :data:`QUERY_OUTCOMES`; ``seconds`` is the evaluation time, or None when nothing was
    evaluated (the request was refused first, or the answer came from the result cache).
    A ``"timeout"`` also counts in ``psm_kg_sparql_query_timeouts_total``.
  - ``record_cache(hit)``: one lookup in the result cache.
  - ``record_not_modified()``: one 304 answer to ``If-None-Match``.

Labels stay few by construction: routes are path templates (``/sparql``, not the raw path; no
route, as for a 404, is ``other``), methods outside :data:`HTTP_METHODS` are ``other``, and an
outcome outside :data:`QUERY_OUTCOMES` is a ValueError, not a new series.

Thread-safety: every update and the snapshot that :meth:`Metrics.render` writes from hold one
small lock (requests are counted on the event loop, but callers may sit in worker threads). An
update is a dict lookup and a few additions under that lock, about half a microsecond; the
bucket of an observation is found before the lock is taken. Histograms keep per-bucket counts
and make them cumulative only when rendered.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "psm_kg_"

# Upper bounds in seconds, from an answer served from memory to the longest allowed query.
DURATION_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

HTTP_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE")
)
OTHER = "other"

QUERY_OUTCOMES: tuple[str, ...] = (
    "ok",  # answered, 304 included
    "bad_request",  # syntax error, refused query or parameters, missing query (400)
    "not_acceptable",  # no result format fits Accept (406)
    "too_large",  # the request body is over max_body_bytes (413)
    "result_too_large",  # the result is over max_result_bytes (422)
    "busy",  # no query worker became free in time (503)
    "unsupported_media_type",  # a POST body that is neither a form nor a query (415)
    "timeout",  # ran past query_timeout_s (503)
    "error",  # anything else: a server error
)
_OUTCOMES = frozenset(QUERY_OUTCOMES)


class _Histogram:
    """Counts per bucket (not cumulative; the last one is +Inf), their sum and their number."""

    __slots__ = ("counts", "sum")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)
        self.sum = 0.0

    def copy(self) -> _Histogram:
        twin = _Histogram(len(self.counts) - 1)
        twin.counts[:] = self.counts
        twin.sum = self.sum
        return twin


class Metrics:
    """Everything /metrics reports about one app. Safe to update from any thread."""

    def __init__(self, *, version: str, triples: int) -> None:
        self.version = version
        self.triples = triples
        self.start_time = time.time()
        self._lock = threading.Lock()
        # (method, route template, status) -> requests
        self._requests: dict[tuple[str, str, int], int] = {}
        # route template -> request durations
        self._durations: dict[str, _Histogram] = {}
        # Known outcomes start at 0, so that a rate over them exists before the first one.
        self._queries = dict.fromkeys(QUERY_OUTCOMES, 0)
        self._query_seconds = _Histogram(len(DURATION_BUCKETS))
        self._timeouts = 0
        self._cache_hits = 0
        self._cache_misses = 0
        self._not_modified = 0

    def record_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request answered: ``route`` is a path template or ``other``."""
        if method not in HTTP_METHODS:
            method = OTHER
        key = (method, route, status)
        bucket = bisect_left(DURATION_BUCKETS, seconds)
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1
            histogram = self._durations.get(route)
            if histogram is None:
                histogram = self._durations[route] = _Histogram(len(DURATION_BUCKETS))
            histogram.counts[bucket] += 1
            histogram.sum += seconds

    def record_query(self, outcome: str, seconds: float | None = None) -> None:
        """One SPARQL query answered; ``seconds`` of evaluation, or None if none ran."""
        if outcome not in _OUTCOMES:
            raise ValueError(f"unknown query outcome {outcome!r}: use one of {QUERY_OUTCOMES}")
        bucket = 0 if seconds is None else bisect_left(DURATION_BUCKETS, seconds)
        with self._lock:
            self._queries[outcome] += 1
            if outcome == "timeout":
                self._timeouts += 1
            if seconds is not None:
                self._query_seconds.counts[bucket] += 1
                self._query_seconds.sum += seconds

    def record_cache(self, hit: bool) -> None:
        """One lookup in the SPARQL result cache."""
        with self._lock:
            if hit:
                self._cache_hits += 1
            else:
                self._cache_misses += 1

    def record_not_modified(self) -> None:
        """One 304 Not Modified answer to a query whose ETag the client already holds."""
        with self._lock:
            self._not_modified += 1

    def render(self) -> str:
        """The text exposition format, version 0.0.4, of every metric."""
        with self._lock:
            requests = dict(self._requests)
            durations = {route: h.copy() for route, h in self._durations.items()}
            queries = dict(self._queries)
            query_seconds = self._query_seconds.copy()
            timeouts, hits, misses = self._timeouts, self._cache_hits, self._cache_misses
            not_modified = self._not_modified
        lines: list[str] = []
        _family(lines, "build_info", "gauge", "The psm-kg version serving, as a label.")
        lines.append(_sample("build_info", {"version": self.version}, 1))
        _family(lines, "start_time_seconds", "gauge", "When the app started, in Unix time.")
        lines.append(_sample("start_time_seconds", {}, self.start_time))
        _family(lines, "dataset_triples", "gauge", "Triples served, across all named graphs.")
        lines.append(_sample("dataset_triples", {}, self.triples))

        _family(
            lines,
            "http_requests_total",
            "counter",
            "HTTP requests answered, by method, route template and status.",
        )
        for (method, route, status), count in sorted(requests.items()):
            labels = {"method": method, "route": route, "status": str(status)}
            lines.append(_sample("http_requests_total", labels, count))
        _family(
            lines,
            "http_request_duration_seconds",
            "histogram",
            "Time from the request's arrival to the end of its answer, by route template.",
        )
        for route, histogram in sorted(durations.items()):
            _histogram(lines, "http_request_duration_seconds", {"route": route}, histogram)

        _family(lines, "sparql_queries_total", "counter", "SPARQL queries answered, by outcome.")
        for outcome, count in queries.items():
            lines.append(_sample("sparql_queries_total", {"outcome": outcome}, count))
        _family(
            lines,
            "sparql_query_duration_seconds",
            "histogram",
            "SPARQL query evaluation time (serialisation included), of queries that ran.",
        )
        _histogram(lines, "sparql_query_duration_seconds", {}, query_seconds)
        counters = (
            ("sparql_query_timeouts_total", "SPARQL queries stopped by the timeout.", timeouts),
            ("sparql_result_cache_hits_total", "SPARQL results found in the cache.", hits),
            ("sparql_result_cache_misses_total", "SPARQL results not in the cache.", misses),
            (
                "sparql_not_modified_total",
                "SPARQL answers 304 Not Modified to If-None-Match.",
                not_modified,
            ),
        )
        for name, help_text, value in counters:
            _family(lines, name, "counter", help_text)
            lines.append(_sample(name, {}, value))
        lines.append("")
        return "\n".join(lines)


def _family(lines: list[str], name: str, kind: str, help_text: str) -> None:
    escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
    lines.append(f"# HELP {PREFIX}{name} {escaped}")
    lines.append(f"# TYPE {PREFIX}{name} {kind}")


def _histogram(lines: list[str], name: str, labels: dict[str, str], histogram: _Histogram) -> None:
    cumulative = 0
    bounds: Iterable[float] = (*DURATION_BUCKETS, math.inf)
    for bound, count in zip(bounds, histogram.counts, strict=True):
        cumulative += count
        lines.append(_sample(f"{name}_bucket", {**labels, "le": _number(bound)}, cumulative))
    lines.append(_sample(f"{name}_sum", labels, histogram.sum))
    lines.append(_sample(f"{name}_count", labels, cumulative))


def _sample(name: str, labels: dict[str, str], value: float) -> str:
    if not labels:
        return f"{PREFIX}{name} {_number(value)}"
    pairs = ",".join(f'{key}="{escape_label_value(text)}"' for key, text in labels.items())
    return f"{PREFIX}{name}{{{pairs}}} {_number(value)}"


def escape_label_value(text: str) -> str:
    """A label value as the text format quotes it: backslash, double quote and newline escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(value)
