"""Query worker processes: answers equal to in-process evaluation, and timeouts that stop the work.

Each test that kills or starves workers makes a pool of its own; the shared session pool is left
to the in-process app tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from psm_kg.config import Settings
from psm_kg.query_workers import (
    Answer,
    FormatNotAcceptable,
    InProcessEvaluator,
    QueryJob,
    ServerBusy,
    WorkerFailed,
    WorkerPool,
)
from psm_kg.store import (
    FederationNotAllowed,
    QueryKind,
    QuerySyntaxError,
    QueryTimeout,
    ResultTooLarge,
    Store,
    UpdateNotAllowed,
)

JSON = "application/sparql-results+json"
TURTLE = "text/turtle"
MEDIA_TYPES = {QueryKind.SOLUTIONS: JSON, QueryKind.BOOLEAN: JSON, QueryKind.GRAPH: TURTLE}
PILLARS = "SELECT ?p { ?p a <https://w3id.org/psm/ontology#Pillar> } ORDER BY ?p"
# Counts about 200 million rows of the fixture tree before its one row: minutes if not stopped.
LONG_COUNT = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o }"


def job(query: str, *, timeout_s: float = 10.0, max_bytes: int = 10_000_000) -> QueryJob:
    return QueryJob(query, MEDIA_TYPES, timeout_s, max_bytes)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child stays a zombie until reaped; /proc tells it apart.
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


@pytest.fixture
def one_worker(store: Store) -> Iterator[WorkerPool]:
    pool = WorkerPool.for_store(store, 1)
    pool.start()
    yield pool
    pool.close()


@pytest.mark.parametrize(
    "query",
    [
        PILLARS,
        "ASK { ?s a <https://w3id.org/psm/ontology#Pillar> }",
        "CONSTRUCT WHERE { ?s a <https://w3id.org/psm/ontology#Pillar> }",
        "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g",
    ],
    ids=["select", "ask", "construct", "named graphs"],
)
def test_a_worker_answers_exactly_as_the_server_process_would(
    query_pool: WorkerPool, store: Store, query: str
) -> None:
    in_worker = query_pool.evaluate(job(query))
    in_process = InProcessEvaluator(store).evaluate(job(query))
    assert (in_worker.kind, in_worker.media_type) == (in_process.kind, in_process.media_type)
    assert in_worker.body == in_process.body


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("SELECT ?s {", QuerySyntaxError),
        ("CLEAR ALL", UpdateNotAllowed),
        ("SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", FederationNotAllowed),
        ("SELECT * { ?s ?p ?o }", ResultTooLarge),
    ],
    ids=["syntax", "update", "service", "too large"],
)
def test_errors_cross_from_the_worker_as_the_store_raised_them(
    query_pool: WorkerPool, query: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        query_pool.evaluate(job(query, max_bytes=100))


def test_a_result_of_a_kind_the_client_does_not_accept_is_refused(query_pool: WorkerPool) -> None:
    only_json = {QueryKind.SOLUTIONS: JSON, QueryKind.BOOLEAN: JSON, QueryKind.GRAPH: None}
    with pytest.raises(FormatNotAcceptable) as raised:
        query_pool.evaluate(QueryJob("CONSTRUCT WHERE { ?s ?p ?o }", only_json, 5.0, 10**7))
    assert raised.value.kind is QueryKind.GRAPH


def test_a_query_past_its_timeout_ends_with_its_process(one_worker: WorkerPool) -> None:
    one_worker.evaluate(job(PILLARS))  # loaded and idle
    (before,) = one_worker.pids
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        one_worker.evaluate(job(LONG_COUNT, timeout_s=0.5))
    assert time.monotonic() - started < 3.0
    assert not alive(before)  # the computation is gone, not left running in the background
    assert one_worker.restarts == 1
    assert one_worker.evaluate(job(PILLARS)).body  # a fresh worker took its place
    assert one_worker.pids != [before]


def test_the_event_loop_path_stops_a_query_past_its_timeout_too(one_worker: WorkerPool) -> None:
    async def scenario() -> tuple[bytes, int]:
        first = await one_worker.evaluate_async(job(PILLARS))
        (pid,) = one_worker.pids
        with pytest.raises(QueryTimeout):
            await one_worker.evaluate_async(job(LONG_COUNT, timeout_s=0.5))
        return first.body, pid

    one_worker.evaluate(job(PILLARS))  # loaded: the event loop path needs a ready worker
    body, before = asyncio.run(scenario())
    assert body == one_worker.evaluate(job(PILLARS)).body
    assert not alive(before)
    assert one_worker.restarts == 1


def test_a_large_answer_arrives_whole_on_the_servers_event_loop(query_pool: WorkerPool) -> None:
    """uvloop makes a watched pipe non-blocking: an answer larger than the pipe's buffer is still
    read whole, and the worker is not taken for dead."""
    rows = "SELECT * { ?a ?b ?c . ?d ?e ?f }"  # about half a megabyte of JSON on the fixture tree

    async def twice() -> list[Answer]:
        return [await query_pool.evaluate_async(job(rows)) for _ in range(2)]

    query_pool.evaluate(job(PILLARS))
    restarts = query_pool.restarts
    first, second = uvloop.run(twice())
    assert len(first.body) > 1 << 17
    assert first.body == second.body == query_pool.evaluate(job(rows)).body
    assert query_pool.restarts == restarts


def test_every_worker_writes_the_same_bytes_for_the_same_query(store: Store) -> None:
    """Blank node labels and row order do not depend on the process: strong ETags hold."""
    rows = "SELECT * { ?a ?b ?c . ?d ?e ?f }"
    pool = WorkerPool.for_store(store, 2)
    try:
        bodies = set()
        for _ in range(6):  # both workers, several times each
            bodies.add(pool.evaluate(job(rows)).body)
        bodies.add(InProcessEvaluator(store).evaluate(job(rows)).body)
    finally:
        pool.close()
    assert len(bodies) == 1


def test_a_query_waits_for_a_busy_worker_at_most_its_own_time_budget(
    one_worker: WorkerPool,
) -> None:
    one_worker.evaluate(job(PILLARS))
    outcome: list[BaseException] = []

    def run_long_query() -> None:
        try:
            one_worker.evaluate(job(LONG_COUNT, timeout_s=3))
        except QueryTimeout as error:
            outcome.append(error)

    long_running = threading.Thread(target=run_long_query)
    long_running.start()
    time.sleep(0.2)
    started = time.monotonic()
    with pytest.raises(ServerBusy):
        one_worker.evaluate(job(PILLARS, timeout_s=0.2))
    assert time.monotonic() - started < 2.0
    long_running.join(timeout=10)
    assert len(outcome) == 1


def test_a_worker_that_dies_is_replaced(one_worker: WorkerPool) -> None:
    one_worker.evaluate(job(PILLARS))
    (pid,) = one_worker.pids
    os.kill(pid, 9)
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(WorkerFailed):
        one_worker.evaluate(job(PILLARS))
    assert one_worker.evaluate(job(PILLARS)).body


def test_closing_the_pool_ends_its_workers(store: Store) -> None:
    pool = WorkerPool.for_store(store, 2)
    pool.evaluate(job(PILLARS))
    pids = pool.pids
    assert len(pids) == 2
    pool.close()
    assert not any(alive(pid) for pid in pids)


def forbid_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any hop to a worker thread fail the test: the event-loop path must not take one."""

    async def no_thread(*args: object, **kwargs: object) -> object:
        raise AssertionError("the event-loop path handed work to a thread")

    monkeypatch.setattr("anyio.to_thread.run_sync", no_thread)


def test_a_fresh_pool_answers_from_the_event_loop_without_a_thread(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers still loading the dataset are waited for on their pipes, not from a thread."""
    forbid_threads(monkeypatch)
    pool = WorkerPool.for_store(store, 2)

    async def many() -> list[Answer]:
        return [await pool.evaluate_async(job(PILLARS)) for _ in range(6)]

    try:
        answers = uvloop.run(many())
        assert len({answer.body for answer in answers}) == 1
        assert len(pool.pids) == 2
        assert pool.restarts == 0
    finally:
        pool.close()


def test_on_the_event_loop_a_query_waits_for_a_busy_worker_without_a_thread(
    one_worker: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    forbid_threads(monkeypatch)

    async def scenario() -> tuple[BaseException | Answer, ...]:
        # Four queries at once on one worker: three wait their turn, then each is answered.
        together = await asyncio.gather(
            *(one_worker.evaluate_async(job(PILLARS)) for _ in range(4))
        )
        long_running = asyncio.ensure_future(
            one_worker.evaluate_async(job(LONG_COUNT, timeout_s=2))
        )
        await asyncio.sleep(0.2)
        started = time.monotonic()
        with pytest.raises(ServerBusy):
            await one_worker.evaluate_async(job(PILLARS, timeout_s=0.2))
        assert time.monotonic() - started < 1.5
        timed_out = await asyncio.gather(long_running, return_exceptions=True)
        return (*together, *timed_out)

    *answers, last = uvloop.run(scenario())
    bodies = {answer.body for answer in answers if isinstance(answer, Answer)}
    assert len(answers) == 4
    assert len(bodies) == 1
    assert isinstance(last, QueryTimeout)
    # The worker killed for the timeout was replaced, and the replacement serves the event loop.
    assert uvloop.run(one_worker.evaluate_async(job(PILLARS))).body in bodies


ABANDONING_SERVER = """
import sys
from pathlib import Path
from psm_kg.query_workers import QueryJob, WorkerPool
from psm_kg.store import QueryKind, Store

if __name__ == "__main__":
    store = Store.from_dist(Path(sys.argv[1]))
    pool = WorkerPool.for_store(store, 1)
    pool.start()
    media_types = {kind: "application/sparql-results+json" for kind in QueryKind}
    pool.evaluate(QueryJob("ASK {}", media_types, 10.0, 1000))
    print(pool.pids[0], flush=True)
    pool.evaluate(QueryJob(sys.argv[2], media_types, 1.0, 1000))  # killed during this
"""


def test_a_worker_ends_itself_when_its_server_dies_during_a_long_query(
    built_settings: Settings, tmp_path: Path
) -> None:
    """The server kills a worker past its timeout; a killed server cannot, so the worker stops
    itself a little after the query's time is up instead of computing on for minutes."""
    script = tmp_path / "server.py"
    script.write_text(ABANDONING_SERVER, encoding="utf-8")
    command = [sys.executable, str(script), str(built_settings.dist_dir), LONG_COUNT]
    worker_pid = None
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            worker_pid = int(server.stdout.readline())
            time.sleep(0.3)  # the long query is running in the worker
            assert alive(worker_pid)
            server.kill()
            server.wait(timeout=10)
            deadline = time.monotonic() + 10
            while alive(worker_pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not alive(worker_pid)
        finally:
            server.kill()
            if worker_pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker_pid, signal.SIGKILL)
