"""The load generator of bench/bench_sparql.py: keep-alive HTTP/1.1 GETs over asyncio streams.

It runs in its own process, the same for every server, and does as little work per request as it
can: the request bytes are prepared once (only the nonce changes), a response is read by its
Content-Length or its chunks and thrown away. It reads one job as JSON on stdin and writes the
results as JSON on stdout.

Every occurrence of NONCE in a request target is replaced by a token that no other request of
the job uses (the job's ``nonce_prefix`` and a counter), so that a server sees a new query text
each time; a target without NONCE is sent unchanged (repeats: the cached answers).

Jobs::

    {"mode": "sequential", "host": H, "port": P, "timeout_s": T, "deadline_s": D,
     "nonce_prefix": "a1",
     "items": [{"label": L, "target": "/path?query=...", "headers": {...},
                "warmup": 5, "count": 50, "budget_s": 4.0}, ...]}
        one connection; per item, ``warmup`` unmeasured requests and then up to ``count``
        measured ones, stopping once the item has taken ``budget_s`` (at least one measured
        request) or the job ``deadline_s``. A timed-out request ends the job: the result names
        the item as ``interrupted``, and the caller restarts the server (which may still be busy
        with the abandoned query) before sending the items after it.

    {"mode": "concurrent", "host": H, "port": P, "timeout_s": T, "nonce_prefix": "b1",
     "connections": 8, "duration_s": 8.0, "grace_s": 30.0,
     "requests": [{"target": ..., "headers": {...}}, ...]}
        ``connections`` clients, each sending the next request of the list (round-robin over
        all clients) as soon as its previous answer is read, until ``duration_s`` has passed;
        answers still outstanding then are awaited up to ``grace_s`` more and abandoned after.

Usage: .venv/bin/python bench/loadgen.py < job.json
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

NONCE = "__NONCE__"
OK_STATUSES = frozenset({200, 304})


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 as this client reads it."""


@dataclass(frozen=True)
class Template:
    """A request whose bytes are prepared once; only the nonce is filled in per request."""

    head: str  # "GET target HTTP/1.1", possibly holding NONCE
    rest: bytes  # the header lines and the blank line that ends them

    @classmethod
    def make(cls, host: str, port: int, target: str, headers: dict[str, str]) -> Template:
        lines = [f"Host: {host}:{port}", *(f"{name}: {value}" for name, value in headers.items())]
        return cls(f"GET {target} HTTP/1.1\r\n", ("\r\n".join(lines) + "\r\n\r\n").encode())

    def render(self, nonce: str) -> bytes:
        head = self.head.replace(NONCE, nonce) if NONCE in self.head else self.head
        return head.encode("latin-1") + self.rest


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes | int]:
    """Status, headers (lower-case names) and the body of one response: its length, or for an
    error status (400 and up) the bytes themselves. The body is always read to its end.

    Raises asyncio.IncompleteReadError when the connection closes before a whole response.
    """
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError):
        raise ProtocolError(f"not a status line: {lines[0][:80]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if status in (204, 304) or 100 <= status < 200:
        return status, headers, 0
    keep = status >= 400
    if "chunked" in headers.get("transfer-encoding", "").lower():
        length, chunks = 0, list[bytes]()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then a blank line
                    pass
                return status, headers, b"".join(chunks) if keep else length
            chunk = await reader.readexactly(size + 2)
            length += size
            if keep:
                chunks.append(chunk[:-2])
    if "content-length" in headers:
        size = int(headers["content-length"])
        body = await reader.readexactly(size)
        return status, headers, body if keep else size
    body = await reader.read()  # delimited by the end of the connection
    headers["connection"] = "close"
    return status, headers, body if keep else len(body)


class Connection:
    """One keep-alive connection, reopened when the server closes it or a request fails."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        """One request, its whole answer read; returns the status and, for an error status, the
        body (else b"").

        A reused connection the server has closed meanwhile fails before any byte of the answer:
        that request is sent once more on a fresh connection.
        """
        for attempt in (1, 2):
            reused = self._writer is not None
            await self.open()
            assert self._reader is not None
            assert self._writer is not None
            self._writer.write(raw)
            try:
                await self._writer.drain()
                status, headers, body = await read_response(self._reader)
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                self.close()
                partial = getattr(error, "partial", b"")
                if reused and attempt == 1 and not partial:
                    continue
                raise
            if headers.get("connection", "").lower() == "close":
                self.close()
            return status, body if isinstance(body, bytes) else b""
        raise AssertionError("unreachable")


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    timeouts: int = 0
    errors: int = 0
    warmups: int = 0
    stopped: str | None = None  # why fewer than ``count`` requests were measured
    error_samples: dict[int, str] = field(default_factory=dict)  # status -> first error body

    def count(self, status: int, body: bytes) -> None:
        self.statuses[status] += 1
        if body and status not in self.error_samples:
            self.error_samples[status] = body[:300].decode("utf-8", errors="replace")

    def as_json(self) -> dict[str, Any]:
        return {
            "error_samples": {str(k): v for k, v in sorted(self.error_samples.items())},
            "latencies_ms": self.latencies_ms,
            "statuses": {str(status): n for status, n in sorted(self.statuses.items())},
            "timeouts": self.timeouts,
            "errors": self.errors,
            "warmups": self.warmups,
            "stopped": self.stopped,
        }


async def run_sequential(job: dict[str, Any]) -> dict[str, Any]:
    host, port, timeout = job["host"], job["port"], float(job["timeout_s"])
    deadline = time.monotonic() + float(job["deadline_s"])
    prefix, counter = job["nonce_prefix"], itertools.count()
    conn = Connection(host, port)
    results: dict[str, Any] = {}
    interrupted = None
    for item in job["items"]:
        if interrupted is not None:
            break
        template = Template.make(host, port, item["target"], item["headers"])
        tally = Tally()
        started = time.monotonic()
        warmup, count, budget = int(item["warmup"]), int(item["count"]), float(item["budget_s"])
        for index in range(warmup + count):
            now = time.monotonic()
            measured = index >= warmup
            if now >= deadline:
                tally.stopped = "run deadline"
                break
            if measured and tally.latencies_ms and now - started >= budget:
                tally.stopped = "budget"
                break
            if not measured and now - started >= budget / 2:
                continue  # fewer warm-ups, keep the measured requests
            raw = template.render(f"{prefix}x{next(counter)}")
            begin = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(conn.send(raw), min(timeout, deadline - now))
            except TimeoutError:
                # Abandoned, at the request timeout or at the job's deadline: either way the
                # server may still be computing it.
                if deadline - now < timeout:
                    tally.stopped = "run deadline"
                else:
                    tally.timeouts += 1
                    tally.stopped = "timeout"
                interrupted = item["label"]
                break
            except (OSError, asyncio.IncompleteReadError, ProtocolError):
                tally.errors += 1
                conn.close()
                continue
            elapsed_ms = (time.perf_counter() - begin) * 1000
            tally.count(status, body)
            if not measured:
                tally.warmups += 1
            elif status in OK_STATUSES:
                tally.latencies_ms.append(elapsed_ms)
        results[item["label"]] = tally.as_json()
    conn.close()
    return {"items": results, "interrupted": interrupted}


async def run_concurrent(job: dict[str, Any]) -> dict[str, Any]:
    host, port, timeout = job["host"], job["port"], float(job["timeout_s"])
    templates = [Template.make(host, port, r["target"], r["headers"]) for r in job["requests"]]
    prefix, counter = job["nonce_prefix"], itertools.count()
    connections = [Connection(host, port) for _ in range(int(job["connections"]))]
    for conn in connections:
        await conn.open()  # connecting is not part of the measured time
    tally = Tally()
    start = time.monotonic()
    stop_issuing = start + float(job["duration_s"])
    give_up = stop_issuing + float(job["grace_s"])
    finished: list[float] = []

    async def client(conn: Connection) -> None:
        while time.monotonic() < stop_issuing:
            index = next(counter)
            raw = templates[index % len(templates)].render(f"{prefix}x{index}")
            begin = time.monotonic()
            try:
                status, body = await asyncio.wait_for(conn.send(raw), min(timeout, give_up - begin))
            except TimeoutError:
                tally.timeouts += 1
                conn.close()
                continue
            except (OSError, asyncio.IncompleteReadError, ProtocolError):
                tally.errors += 1
                conn.close()
                await asyncio.sleep(0.01)
                continue
            tally.count(status, body)
            if status in OK_STATUSES:
                tally.latencies_ms.append((time.monotonic() - begin) * 1000)
        finished.append(time.monotonic())

    await asyncio.gather(*(client(conn) for conn in connections))
    for conn in connections:
        conn.close()
    result = tally.as_json()
    result["completed"] = len(tally.latencies_ms)
    result["elapsed_s"] = max(finished) - start
    return result


def run(job: dict[str, Any]) -> dict[str, Any]:
    if job["mode"] == "sequential":
        return asyncio.run(run_sequential(job))
    if job["mode"] == "concurrent":
        return asyncio.run(run_concurrent(job))
    raise ValueError(f"unknown mode {job['mode']!r}")


def main() -> int:
    job = json.load(sys.stdin)
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the result only
        result = run(job)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
