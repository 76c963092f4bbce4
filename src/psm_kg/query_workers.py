"""Evaluating SPARQL queries off the event loop, in processes that can be stopped.

pyoxigraph cannot be interrupted while it computes (a COUNT over a cross product yields no row for
minutes), so a timeout that really stops the work has to end the process doing it. A
:class:`WorkerPool` keeps N worker processes, each with its own copy of the store loaded from the
built N-Quads file. A query goes to an idle worker; when it is not answered within its timeout the
worker is killed, a fresh one takes its place, and the caller gets :class:`QueryTimeout`. Workers
also give the server true parallelism on several cores, which threads sharing one interpreter do
not.

:class:`InProcessEvaluator` runs the same jobs in the calling thread (``query_workers = 0``): no
processes, but a timeout there only stops the writing of results.

``evaluate`` blocks (for threads and the command line); the router awaits ``evaluate_async``,
which for a pool waits on the workers' pipes from the event loop, taking no thread. Exceptions::

    QueryRejected (and subclasses), QueryTimeout, ResultTooLarge    as raised by store.py
    FormatNotAcceptable     the result's kind has no format the client accepts
    ServerBusy              no worker became free within the query's time budget
    WorkerFailed            a worker died, or could not load the dataset
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread

from psm_kg import formats
from psm_kg.store import (
    DatasetSpec,
    DatasetStore,
    FederationNotAllowed,
    InvalidDataset,
    QueryKind,
    QueryRejected,
    QuerySyntaxError,
    QueryTimeout,
    ResultTooLarge,
    Store,
    StoreError,
    SubstitutionRejected,
    Term,
    UpdateNotAllowed,
)

logger = logging.getLogger(__name__)

# Extra wait beyond a job's own deadline, for the worker to notice it and answer by itself.
TIMEOUT_GRACE_S = 0.5
# How long after the server's own limit a worker still computing ends itself.
SELF_STOP_AFTER_S = 2
# Loading the dataset into a new worker: generous, it is done once per worker.
WORKER_START_LIMIT_S = 120.0


class FormatNotAcceptable(Exception):
    def __init__(self, kind: QueryKind) -> None:
        self.kind = kind
        super().__init__(f"no acceptable format for a {kind} result")


class ServerBusy(Exception):
    """Every worker stayed busy for the whole time budget of the query."""


class WorkerFailed(Exception):
    """A worker process died or could not load the dataset."""


@dataclass(frozen=True)
class QueryJob:
    query: str
    # The negotiated media type for each kind of result; None when the client accepts none.
    media_types: Mapping[QueryKind, str | None]
    timeout_s: float
    max_result_bytes: int
    dataset: DatasetSpec | None = None
    allowed_services: tuple[str, ...] = ()
    # Pre-bound variables (name without '?', term), passed to the engine as SEP-0007
    # substitutions: never spliced into the text. pyoxigraph terms pickle to the workers.
    bindings: tuple[tuple[str, Term], ...] = ()


@dataclass(frozen=True)
class Answer:
    kind: QueryKind
    media_type: str
    body: bytes
    seconds: float  # evaluation and serialisation, in the worker


class Evaluator(Protocol):
    def evaluate(self, job: QueryJob) -> Answer:
        """Blocking: from a thread."""

    async def evaluate_async(self, job: QueryJob) -> Answer:
        """From the event loop."""

    def close(self) -> None: ...


def run_job(store: DatasetStore, job: QueryJob) -> Answer:
    """Evaluate and serialise one job. Blocking; raises the exceptions listed above."""
    started = time.perf_counter()
    outcome = store.query(
        job.query,
        timeout_s=job.timeout_s,
        dataset=job.dataset,
        allowed_services=job.allowed_services,
        substitutions=dict(job.bindings) or None,
    )
    media_type = job.media_types.get(outcome.kind)
    fmt = formats.by_media_type(media_type) if media_type else None
    if fmt is None:
        raise FormatNotAcceptable(outcome.kind)
    body = outcome.serialize(fmt, max_bytes=job.max_result_bytes)
    return Answer(outcome.kind, fmt.media_type, body, time.perf_counter() - started)


class InProcessEvaluator:
    """Runs jobs in the calling thread, on the server's own store."""

    def __init__(self, store: DatasetStore) -> None:
        self._store = store

    def evaluate(self, job: QueryJob) -> Answer:
        # pyoxigraph results must be freed on the thread that made them (pyo3 "unsendable"). On
        # an error, the traceback's frames (run_job's, serialize's) hold them and would carry
        # them to the thread that handles the exception, so the traceback is dropped here.
        try:
            return run_job(self._store, job)
        except Exception as error:
            raise error.with_traceback(None) from None

    async def evaluate_async(self, job: QueryJob) -> Answer:
        return await anyio.to_thread.run_sync(self.evaluate, job)

    def close(self) -> None:
        pass


# --- worker processes --------------------------------------------------------------------------

# Exceptions cross the pipe as (code, argument): exception objects need not pickle.
_REJECTIONS: dict[str, type[QueryRejected]] = {
    "syntax": QuerySyntaxError,
    "update": UpdateNotAllowed,
    "federation": FederationNotAllowed,
    "dataset": InvalidDataset,
    "substitution": SubstitutionRejected,
    "rejected": QueryRejected,
}
_CODES = {cls: code for code, cls in _REJECTIONS.items()}


def _reply(store: Store, job: QueryJob) -> tuple[Any, ...]:
    try:
        answer = run_job(store, job)
    except QueryRejected as error:
        return ("error", _CODES.get(type(error), "rejected"), error.message)
    except QueryTimeout as error:
        return ("error", "timeout", error.timeout_s)
    except ResultTooLarge as error:
        return ("error", "too_large", error.max_bytes)
    except FormatNotAcceptable as error:
        return ("error", "not_acceptable", str(error.kind))
    except Exception as error:  # reported to the server's log; the worker keeps serving
        return ("error", "internal", f"{type(error).__name__}: {error}")
    return ("ok", str(answer.kind), answer.media_type, answer.seconds, answer.body)


def _raise_error(code: str, argument: Any) -> None:
    if code in _REJECTIONS:
        raise _REJECTIONS[code](argument)
    if code == "timeout":
        raise QueryTimeout(argument)
    if code == "too_large":
        raise ResultTooLarge(argument)
    if code == "not_acceptable":
        raise FormatNotAcceptable(QueryKind(argument))
    raise WorkerFailed(f"the query worker failed: {argument}")


def _worker_main(conn: multiprocessing.connection.Connection, source: str, digest: str) -> None:
    """A worker process: load the store, then answer jobs until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server, which ends us
    try:
        store = Store.from_nquads(Path(source), expected_hash=digest)
    except StoreError as error:
        conn.send(("failed", str(error)))
        return
    conn.send(("ready", os.getpid()))
    # SIGALRM's default action ends the process, even while pyoxigraph holds the interpreter.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the server closed the pipe or exited
        # The server kills a worker whose query outlives its timeout; should the server itself be
        # gone (killed, crashed), the worker ends itself a little later rather than compute on.
        signal.alarm(math.ceil(job.timeout_s + TIMEOUT_GRACE_S) + SELF_STOP_AFTER_S)
        reply = _reply(store, job)
        signal.alarm(0)
        conn.send(reply)


class _Worker:
    def __init__(self, context: multiprocessing.context.BaseContext, source: Path, digest: str):
        parent, child = multiprocessing.Pipe()
        self.conn = parent
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(child, str(source), digest), daemon=True
        )
        self.process.start()
        child.close()
        self.ready = False

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def wait_ready(self, deadline: float) -> None:
        """Block until the worker has loaded the dataset (WorkerFailed, or ServerBusy past the
        deadline)."""
        if self.ready:
            return
        if not self.conn.poll(max(0.0, deadline - time.monotonic())):
            raise ServerBusy()
        try:
            status, detail = self.conn.recv()
        except (EOFError, OSError):
            raise WorkerFailed("a query worker exited while loading the dataset") from None
        if status != "ready":
            raise WorkerFailed(f"a query worker could not load the dataset: {detail}")
        self.ready = True

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


class WorkerPool:
    """N worker processes over the N-Quads file a Store was loaded from. Thread-safe."""

    def __init__(self, source: Path, content_hash: str, size: int) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self._source = source
        self._digest = content_hash
        self._size = size
        self._context = multiprocessing.get_context("forkserver")
        # Workers start from a server process that has already imported this module and
        # pyoxigraph: a new worker (after a timeout) costs a fork and a load, not an interpreter.
        self._context.set_forkserver_preload(["psm_kg.query_workers"])
        self._idle: queue.Queue[_Worker] = queue.Queue()
        # Event-loop callers waiting for a free worker, oldest first. A freed worker goes to them
        # before the idle queue, so that waiting for one takes no thread.
        self._waiters: collections.deque[asyncio.Future[_Worker]] = collections.deque()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self.restarts = 0
        self._finalizer = weakref.finalize(self, _stop_all, self._all)

    @classmethod
    def for_store(cls, store: DatasetStore, size: int) -> WorkerPool:
        if store.source is None:
            raise ValueError("the store was not loaded from a file that workers could load")
        return cls(store.source, store.content_hash, size)

    def start(self) -> None:
        """Start the worker processes (they load the dataset in the background).

        Callable from any thread, once or more: a caller that finds the pool starting gets its
        worker as soon as one has been spawned.
        """
        with self._lock:
            if self._started or self._closed:
                return
            self._started = True
        for _ in range(self._size):
            with self._lock:
                if self._closed:
                    return
                worker = self._spawn()
            self._release(worker)

    def _spawn(self) -> _Worker:
        worker = _Worker(self._context, self._source, self._digest)
        self._all.add(worker)
        return worker

    def _replace(self, worker: _Worker) -> None:
        worker.stop()
        with self._lock:
            self._all.discard(worker)
            if self._closed:
                return
            self.restarts += 1
            fresh = self._spawn()
        self._release(fresh)

    def _release(self, worker: _Worker) -> None:
        """A worker is free: to the event-loop caller waiting longest, else to the idle queue."""
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                try:
                    waiter.get_loop().call_soon_threadsafe(self._hand_over, waiter, worker)
                except RuntimeError:  # that caller's event loop has closed
                    continue
                return
            self._idle.put(worker)

    def _hand_over(self, waiter: asyncio.Future[_Worker], worker: _Worker) -> None:
        if waiter.done():  # the caller stopped waiting meanwhile
            self._release(worker)
        else:
            waiter.set_result(worker)

    async def _acquire(self, budget_s: float) -> _Worker:
        """An idle worker, waiting at most ``budget_s`` for one to be freed (else ServerBusy)."""
        with self._lock:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                waiter: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter, budget_s)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():  # handed over as the wait ended
                self._release(waiter.result())
            raise ServerBusy() from None
        finally:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    @property
    def pids(self) -> list[int]:
        """The live worker processes (for /healthz and the tests)."""
        with self._lock:
            return sorted(w.pid for w in self._all if w.pid is not None and w.process.is_alive())

    def evaluate(self, job: QueryJob) -> Answer:
        """Run a job on the first idle worker; the whole call takes at most about its timeout."""
        self.start()
        deadline = time.monotonic() + job.timeout_s + TIMEOUT_GRACE_S
        try:
            worker = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise ServerBusy() from None
        try:
            # Only a worker that is still loading the dataset (at start, after a restart) waits.
            worker.wait_ready(time.monotonic() + WORKER_START_LIMIT_S)
        except ServerBusy:
            self._release(worker)
            raise
        except WorkerFailed:
            self._replace(worker)
            raise
        # The time budget counts from when a worker has the query.
        deadline = max(deadline, time.monotonic() + job.timeout_s + TIMEOUT_GRACE_S)
        try:
            worker.conn.send(job)
            answered = worker.conn.poll(max(0.0, deadline - time.monotonic()))
            reply = worker.conn.recv() if answered else None
        except (EOFError, OSError):
            self._replace(worker)
            raise WorkerFailed("a query worker exited while evaluating a query") from None
        except BaseException:  # interrupted mid-exchange: the pipe's state is unknown
            self._replace(worker)
            raise
        if reply is None:
            logger.warning("query worker %s stopped after %.3g s", worker.pid, job.timeout_s)
            self._replace(worker)
            raise QueryTimeout(job.timeout_s)
        self._release(worker)
        return _answer_of(reply)

    async def evaluate_async(self, job: QueryJob) -> Answer:
        """:meth:`evaluate` without threads: the event loop waits for a free worker, then on its
        pipe, for the dataset to be loaded (at start-up, after a restart) and for the answer."""
        self.start()
        worker = await self._acquire(job.timeout_s + TIMEOUT_GRACE_S)
        fd = worker.conn.fileno()
        if not worker.ready:
            try:
                await _readable(fd, WORKER_START_LIMIT_S)
                worker.wait_ready(time.monotonic())  # its message has come: reads without waiting
            except TimeoutError:
                self._release(worker)
                raise ServerBusy() from None
            except WorkerFailed:
                self._replace(worker)
                raise
            except BaseException:  # cancelled: the message, if any, is still in the pipe
                self._release(worker)
                raise
        try:
            worker.conn.send(job)
            await _readable(fd, job.timeout_s + TIMEOUT_GRACE_S)
            reply = worker.conn.recv()
        except TimeoutError:
            logger.warning("query worker %s stopped after %.3g s", worker.pid, job.timeout_s)
            self._replace(worker)
            raise QueryTimeout(job.timeout_s) from None
        except (EOFError, OSError):
            self._replace(worker)
            raise WorkerFailed("a query worker exited while evaluating a query") from None
        except BaseException:  # cancelled mid-exchange: the pipe's state is unknown
            self._replace(worker)
            raise
        self._release(worker)
        return _answer_of(reply)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._finalizer()


async def _readable(fd: int, timeout_s: float) -> None:
    """Wait until ``fd`` (a worker's pipe) has something to read; TimeoutError after timeout_s."""
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, _resolve, readable)
    try:
        await asyncio.wait_for(readable, timeout_s)
    finally:
        loop.remove_reader(fd)
        # uvloop makes a watched descriptor non-blocking; the reply may still be arriving, and
        # Connection.recv expects a blocking descriptor.
        os.set_blocking(fd, True)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _answer_of(reply: tuple[Any, ...]) -> Answer:
    if reply[0] == "error":
        _raise_error(reply[1], reply[2])
    _, kind, media_type, seconds, body = reply
    return Answer(QueryKind(kind), media_type, body, seconds)


def _stop_all(workers: set[_Worker]) -> None:
    for worker in list(workers):
        worker.stop()
    workers.clear()


def pool_starting_in_background(store: DatasetStore, size: int) -> WorkerPool | None:
    """A pool of ``size`` workers over ``store`` whose processes start on a thread of their own,
    or None when ``size`` is 0 or the store has no file to load them from.

    For ``psm-kg serve``: the workers load the dataset while the web framework is imported, so
    the server's first answer comes about half a second sooner. The caller closes the pool.
    """
    if size < 1 or store.source is None:
        return None
    pool = WorkerPool.for_store(store, size)
    threading.Thread(target=pool.start, name="query-workers-start", daemon=True).start()
    return pool
