"""Evaluating /sparql and API jobs on a remote SPARQL store (a query_workers.Evaluator).

The event loop sends the request with one pooled ``httpx2.AsyncClient`` (per event loop) and reads
the answer as it streams, counting bytes against the cap; the whole exchange is bounded by the
job's timeout. Parsing the interchange format and writing the negotiated one (pyoxigraph, CPU
work) run in a worker thread. No worker processes: the store does the evaluation.

A timeout stops the waiting here; whether the store stops computing depends on the engine (its
own query time limit: ``oxigraph serve --timeout-s``, Virtuoso's ``MaxQueryExecutionTime``; see
docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from psm_kg import formats
from psm_kg.query_workers import Answer, FormatNotAcceptable, QueryJob, run_job
from psm_kg.remote_store import (
    DOWNLOAD_FACTOR,
    RemoteStore,
    answer_error,
    check_progress,
    transport_reason,
)
from psm_kg.store import BackendUnavailable, QueryTimeout

if TYPE_CHECKING:
    import httpx2

# Connections kept open to the store.
POOL_SIZE = 20


class RemoteEvaluator:
    """Runs jobs against a :class:`RemoteStore`."""

    def __init__(self, store: RemoteStore) -> None:
        self._store = store
        self._clients: dict[asyncio.AbstractEventLoop, httpx2.AsyncClient] = {}
        self._lock = threading.Lock()

    def evaluate(self, job: QueryJob) -> Answer:
        """Blocking: from a thread (the command line, ``serve --get``)."""
        return run_job(self._store, job)

    def _client(self) -> httpx2.AsyncClient:
        import httpx2

        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                limits = httpx2.Limits(
                    max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE
                )
                client = self._clients[loop] = httpx2.AsyncClient(limits=limits)
            return client

    async def evaluate_async(self, job: QueryJob) -> Answer:
        """From the event loop: the same answer as :meth:`evaluate`, taking no thread while the
        store computes."""
        started = time.perf_counter()
        deadline = time.monotonic() + job.timeout_s
        store = self._store
        request = store.request(
            job.query,
            dataset=job.dataset,
            allowed_services=job.allowed_services,
            substitutions=dict(job.bindings) or None,
        )
        media_type = job.media_types.get(request.kind)
        fmt = formats.by_media_type(media_type) if media_type else None
        if fmt is None:
            raise FormatNotAcceptable(request.kind)
        cap = job.max_result_bytes * DOWNLOAD_FACTOR
        try:
            with anyio.fail_after(max(0.0, deadline - time.monotonic())):
                body = await self._fetch(request.fields, request.accept, deadline, job, cap)
        except TimeoutError:
            raise QueryTimeout(job.timeout_s) from None
        outcome = store.outcome(request, body, deadline, job.timeout_s)
        written = await anyio.to_thread.run_sync(
            lambda: outcome.serialize(fmt, max_bytes=job.max_result_bytes)
        )
        return Answer(request.kind, fmt.media_type, written, time.perf_counter() - started)

    async def _fetch(
        self,
        fields: dict[str, str | list[str]],
        accept: str,
        deadline: float,
        job: QueryJob,
        cap: int,
    ) -> bytes:
        import httpx2

        url = self._store.url
        try:
            async with self._client().stream(
                "POST", url, data=fields, headers={"Accept": accept}, timeout=job.timeout_s
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise answer_error(url, response.status_code, response.text, job.timeout_s)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    check_progress(len(body), deadline, job.timeout_s, cap)
                return bytes(body)
        except httpx2.TimeoutException:
            raise QueryTimeout(job.timeout_s) from None
        except httpx2.HTTPError as error:
            raise BackendUnavailable(url, transport_reason(error)) from None

    async def aclose(self) -> None:
        """Close the connection pool of the running event loop (the app's shutdown)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        with self._lock:
            self._clients.clear()  # other loops' pools: closed with their sockets by the GC
        self._store.close()
