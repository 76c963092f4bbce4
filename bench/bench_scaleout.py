"""psm-kg on real SPARQL engines: load time, latency and throughput embedded vs over the Oxigraph
server vs over Virtuoso, and throughput of 1, 2 and 4 replicas behind nginx; same run, loopback.

Sizes are the multiples of bench_sparql.prepare_dataset: 1x is the bundled plan (5,751 triples),
each further copy adds about 3,100 (bench/synthetic.py copies the plan, not the ontology, shapes
or catalogue), so the defaults 3, 32 and 323 give about 12k, 100k and 1M triples; the report
states the real counts (dist/graphs.json "total"). At each size:

- **Load**: a fresh Oxigraph server (in memory, union default graph) and a fresh Virtuoso, both
  started by tests/engines.py, and the real `psm-kg load --into Q --graph-store G` timed into
  each (wall clock; exit code 0 means every graph's count was checked).
- **Targets**: each engine queried directly (Oxigraph /query, Virtuoso's anonymous /sparql),
  `psm-kg serve --store` over each, and `psm-kg serve` embedded (its start-up timed, spawn to
  first answer, as bench/sparql_servers.py does).
- **Latency**: every query of bench/sparql_queries.py, uncached (a new nonce per request, as in
  bench/sparql_phases.py), sequential on one keep-alive connection: p50 per target, the ratio
  psm-kg over an engine / that engine, and embedded / each engine.
- **Throughput**: 8 keep-alive clients, the plan queries, a fixed time, every target in turn.
- **Replicas**: 1, 2 and 4 `psm-kg serve --store` (Virtuoso) behind nginx (configuration from
  deploy/nginx/render_replicas.py, nginx run as tests/nginx.py runs it), 16 clients; req/s and
  the CPU time of replicas, Virtuoso, nginx and the load generator, from /proc. Two phases:
  the plan queries repeated (no nonce), each replica's result cache warmed first, so that the
  replicas' own work is what limits (the scaling goal is judged on it); then uncached, where the
  one Virtuoso they share limits. By default at 3x and 32x, which keeps the whole run within
  about 25 minutes on 2 cores.

tests/ and deploy/nginx/ are put on sys.path to reuse tests/engines.py, tests/nginx.py and
render_replicas.py as they are. Requests come from bench/loadgen.py; the report is rendered by
bench/scaleout_report.py, goals included.

Usage: .venv/bin/python bench/bench_scaleout.py [--sizes 3,32,323] [--replica-sizes 3,32]
                                                [--quick] [--out FILE]
  --quick   a smoke run of a few minutes: the smallest size only, short phases; the report goes
            to stdout only unless --out is given
Without --quick the report is also written to bench/results/scaleout.md. See --help for the knobs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "deploy" / "nginx")]

import pytest  # noqa: E402 - tests/nginx.py reports a failed start with pytest.fail
from render_replicas import render as render_nginx  # noqa: E402

from bench_sparql import child_env, prepare_dataset, psm_version  # noqa: E402
from engines import EngineServer, oxigraph_server, virtuoso_server  # noqa: E402
from machine import machine  # noqa: E402
from nginx import running_nginx  # noqa: E402
from scaleout_report import (  # noqa: E402
    EMBEDDED,
    LABELS,
    NGINX_PART,
    ORDER,
    OXIGRAPH,
    PAIRS,
    PSM_OXIGRAPH,
    PSM_VIRTUOSO,
    REPLICAS_PART,
    UNCACHED,
    VIRTUOSO,
    VIRTUOSO_PART,
    LoadRun,
    ReplicaRun,
    RunInfo,
    SizeRun,
    TargetRun,
    render,
)
from sparql_phases import CONNECTIONS, Clock, choose_variation, gist, loadgen, progress  # noqa: E402
from sparql_queries import (  # noqa: E402
    NONCE,
    accept_for,
    answer_rows,
    load_queries,
    vary_query,
)
from sparql_report import PLAN_MIX, Latency, Probe, Query, Throughput, percentile  # noqa: E402
from sparql_servers import (  # noqa: E402
    BIN,
    HOST,
    PSM,
    Dataset,
    Server,
    ServerSpec,
    StartError,
    free_port,
    http_request,
    query_target,
    start,
    tree_cpu_seconds,
)

RESULTS = ROOT / "bench" / "results" / "scaleout.md"
REPLICA_COUNTS = (1, 2, 4)
REPLICA_CLIENTS = 16  # enough requests in flight to keep 4 replicas busy at once
NGINX_FAILED = (pytest.fail.Exception, pytest.skip.Exception)
MACHINE = "machine"  # concurrent(): the share of all cores busy, every process of the machine
MISSES = re.compile(r"^\w*sparql_result_cache_misses_total(?:\{[^}]*\})? (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Knobs:
    warmup: int
    requests: int
    query_budget_s: float
    target_budget_s: float
    duration_s: float
    replica_duration_s: float
    timeout_s: float
    start_timeout_s: float
    load_limit_s: float
    seed: int


@dataclass
class Run:
    knobs: Knobs
    clock: Clock
    env: dict[str, str]
    scratch: Path


@dataclass(frozen=True)
class Target:
    """Where a target answers queries, and whose process tree's CPU time is its own."""

    key: str
    port: int
    query_path: str
    pid: int
    engine_pid: int | None = None  # psm-kg over an engine: the engine's process

    def request_target(self, query: Query, nonce: str, style: str) -> str:
        return query_target(self.query_path, vary_query(query.text, nonce, style))


_JOBS = itertools.count(1)


def nonce_prefix() -> str:
    """A prefix no other load-generator job of the run uses: nonces never repeat."""
    return f"s{next(_JOBS)}"


# --- the timed phases ----------------------------------------------------------------------------


def probe_all(
    target: Target, target_run: TargetRun, queries: list[Query], style: str, run: Run
) -> float:
    """One uncached request per query: status, rows, seconds; returns the seconds spent."""
    knobs = run.knobs
    began = time.monotonic()
    until = min(began + knobs.target_budget_s, run.clock.deadline)
    for index, query in enumerate(queries):
        if until - time.monotonic() < 1:
            target_run.probes[query.name] = Probe(error="not measured (time budget)")
            continue
        sent = time.perf_counter()
        try:
            status, headers, body = http_request(
                target.port,
                target.request_target(query, f"probe{index}", style),
                {"Accept": accept_for(query)},
                timeout=knobs.timeout_s,
            )
        except TimeoutError:
            error = f"timeout (> {knobs.timeout_s:g} s)"
            target_run.probes[query.name] = Probe(error=error, seconds=knobs.timeout_s)
            continue
        except OSError as failure:
            target_run.probes[query.name] = Probe(error=f"no answer ({type(failure).__name__})")
            continue
        probe = Probe(status=status, seconds=time.perf_counter() - sent)
        if status == 200:
            try:
                probe.rows, probe.digest = answer_rows(body, headers.get("content-type", ""))
            except (ValueError, KeyError, SyntaxError) as failure:
                target_run.notes.append(
                    f"`{query.name}`: answer not readable as {headers.get('content-type')} "
                    f"({type(failure).__name__}): its rows are unknown"
                )
        else:
            probe.error = f"HTTP {status}"
            said = gist(body.decode("utf-8", errors="replace"))
            target_run.notes.append(f"`{query.name}` answered HTTP {status} ({said}): left out")
        target_run.probes[query.name] = probe
    return time.monotonic() - began


def measure_latency(
    target: Target, target_run: TargetRun, queries: list[Query], style: str, run: Run, spent: float
) -> None:
    """Sequential uncached requests per query answered 200 at the probe (bench/loadgen.py)."""
    knobs = run.knobs
    items = []
    for query in queries:
        probe = target_run.probes.get(query.name)
        if probe is None or probe.status != 200 or probe.seconds is None:
            continue
        if probe.seconds > knobs.query_budget_s:
            target_run.latency[query.name] = Latency(
                [probe.seconds * 1000], knobs.requests, "probe only", from_probe=True
            )
            continue
        warmups = max(0, min(knobs.warmup, int(knobs.query_budget_s / 2 / probe.seconds)))
        request = target.request_target(query, NONCE, style)
        items.append((query.name, request, {"Accept": accept_for(query)}, warmups))
    until = min(time.monotonic() + knobs.target_budget_s - spent, run.clock.deadline)
    pending = items
    while pending:
        limit = until - time.monotonic()
        if limit < 1:
            break
        job = {
            "mode": "sequential",
            "host": HOST,
            "port": target.port,
            "timeout_s": knobs.timeout_s,
            "deadline_s": limit,
            "nonce_prefix": nonce_prefix(),
            "items": [
                {
                    "label": name,
                    "target": request,
                    "headers": headers,
                    "warmup": warmups,
                    "count": knobs.requests,
                    "budget_s": knobs.query_budget_s,
                }
                for name, request, headers, warmups in pending
            ],
        }
        result, _cpu = loadgen(job, limit + knobs.timeout_s)
        for name, item in result["items"].items():
            target_run.latency[name] = Latency(
                item["latencies_ms"], knobs.requests, item["stopped"], statuses=item["statuses"]
            )
            for status, sample in item["error_samples"].items():
                target_run.notes.append(
                    f"`{name}` answered HTTP {status} {item['statuses'].get(status, 0)} times in "
                    f"the latency phase; the first said: {gist(sample)}"
                )
        pending = [item for item in pending if item[0] not in result["items"]]
        interrupted = result["interrupted"]
        if interrupted is None:
            break
        why = result["items"][interrupted]["stopped"]
        target_run.notes.append(f"`{interrupted}` abandoned in the latency phase ({why})")
    for query in queries:  # the target's budget ran out first: the probe is all there is
        probe = target_run.probes.get(query.name)
        latency = target_run.latency.get(query.name)
        if probe and probe.status == 200 and probe.seconds and not (latency and latency.ok):
            target_run.latency[query.name] = Latency(
                [probe.seconds * 1000], knobs.requests, "probe only, budget spent", from_probe=True
            )


def concurrent(
    port: int,
    requests: list[tuple[str, dict[str, str]]],
    clients: int,
    duration_s: float,
    pids: dict[str, list[int]],
    run: Run,
    notes: list[str],
) -> tuple[Throughput, dict[str, float]]:
    """``clients`` keep-alive clients for ``duration_s``; the CPU seconds of each part of
    ``pids`` (process trees, from /proc) and of the load generator over the phase."""
    knobs = run.knobs
    job = {
        "mode": "concurrent",
        "host": HOST,
        "port": port,
        "timeout_s": knobs.timeout_s,
        "nonce_prefix": nonce_prefix(),
        "connections": clients,
        "duration_s": duration_s,
        "grace_s": knobs.timeout_s,
        "requests": [{"target": target, "headers": headers} for target, headers in requests],
    }

    def cpu() -> dict[str, float]:
        return {part: sum(tree_cpu_seconds(pid) for pid in group) for part, group in pids.items()}

    before, machine_before = cpu(), machine_cpu()
    result, client_cpu = loadgen(job, duration_s + knobs.timeout_s + 10)
    after, machine_after = cpu(), machine_cpu()
    spent = {part: after[part] - before[part] for part in pids}
    busy, total = (a - b for a, b in zip(machine_after, machine_before, strict=True))
    if total > 0:
        spent[MACHINE] = busy / total  # not a part: popped by the caller that wants it
    spent["load generator"] = client_cpu
    latencies = result["latencies_ms"]
    odd = {s: n for s, n in result["statuses"].items() if s not in ("200", "304")}
    for status, sample in result["error_samples"].items():
        notes.append(
            f"{odd.get(status, 0)} x HTTP {status} under load; the first said: {gist(sample)}"
        )
    measured = Throughput(
        completed=result["completed"],
        elapsed_s=result["elapsed_s"],
        p50_ms=percentile(latencies, 50) if latencies else None,
        client_cpu_s=client_cpu,
        timeouts=result["timeouts"],
        errors=result["errors"],
        other_statuses=odd,
        kind=PLAN_MIX,
    )
    return measured, spent


def machine_cpu() -> tuple[int, int]:
    """Busy and total jiffies of all cores since boot (/proc/stat): idle and iowait are idle."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(fields[:8])  # guest time is counted in user time already
    return total - fields[3] - fields[4], total


def measure_throughput(
    target: Target, target_run: TargetRun, mix: list[Query], style: str, run: Run
) -> None:
    if not mix:
        target_run.throughput = Throughput(skipped="no query to send")
        return
    if run.clock.remaining() < run.knobs.duration_s + 10:
        target_run.throughput = Throughput(skipped="not measured (the run's time limit)")
        return
    requests = [(target.request_target(q, NONCE, style), {"Accept": accept_for(q)}) for q in mix]
    pids = {"self": [target.pid]}
    if target.engine_pid is not None:
        pids["engine"] = [target.engine_pid]
    measured, cpu = concurrent(
        target.port, requests, CONNECTIONS, run.knobs.duration_s, pids, run, target_run.notes
    )
    cpu.pop(MACHINE, None)
    measured.server_cpu_s = cpu["self"]
    measured.queries = tuple(q.name for q in mix)
    target_run.throughput = measured
    target_run.engine_cpu_s = cpu.get("engine")


def timed_load(engine: EngineServer, data: Dataset, run: Run) -> LoadRun:
    """`psm-kg load` into the engine as a user runs it; wall clock to its exit."""
    command = [str(BIN / "psm-kg"), "load", "--root", str(data.root)]
    command += ["--into", engine.query_url, "--graph-store", engine.graph_store_url]
    if engine.user is not None and engine.password is not None:
        command += ["--user", engine.user, "--password", engine.password]
    limit = max(10.0, min(run.knobs.load_limit_s, run.clock.remaining()))
    began = time.perf_counter()
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=run.env,
            timeout=limit,
            check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        return LoadRun(engine.name, None, None, f"no exit within {limit:.0f} s")
    seconds = time.perf_counter() - began
    return LoadRun(engine.name, seconds, completed.returncode, completed.stderr[-400:])


def psm_spec(store_url: str | None) -> ServerSpec:
    def command(port: int, data: Dataset) -> list[str]:
        line = [str(BIN / "psm-kg"), "serve", "--root", str(data.root)]
        line += ["--host", HOST, "--port", str(port)]
        return line + (["--store", store_url] if store_url else [])

    return ServerSpec(PSM, "/sparql", command)


def start_psm(
    key: str, store: EngineServer | None, data: Dataset, run: Run, stack: ExitStack
) -> tuple[Target, TargetRun, Server | None]:
    """`psm-kg serve`, embedded or over ``store``, its start-up timed; stopped with ``stack``."""
    target_run = TargetRun(key)
    spec = psm_spec(store.query_url if store else None)
    try:
        server, seconds = start(spec, data, run.env, timeout=run.knobs.start_timeout_s)
    except StartError as error:
        target_run.failure = f"did not start: {error}"
        target_run.notes.append(target_run.failure)
        return Target(key, 0, spec.query_path, 0), target_run, None
    stack.callback(server.stop)
    target_run.startup_s = seconds
    engine_pid = store.process.pid if store else None
    target = Target(key, server.port, spec.query_path, server.process.pid, engine_pid)
    return target, target_run, server


def plan_mixes(size_run: SizeRun) -> dict[str, list[Query]]:
    """Per target, the plan queries of its throughput phase: those psm-kg over an engine and the
    engine itself both answered with 200 (the same mix for the two), embedded: its own."""

    def answered(key: str) -> set[str]:
        target = size_run.targets.get(key)
        if target is None or target.failure:
            return set()
        return {name for name, probe in target.probes.items() if probe.status == 200}

    plan = [query for query in size_run.queries if query.mix == PLAN_MIX]
    mixes = {EMBEDDED: [q for q in plan if q.name in answered(EMBEDDED)]}
    for engine, psm in PAIRS:
        both = answered(engine) & answered(psm)
        mixes[engine] = mixes[psm] = [q for q in plan if q.name in both]
    return mixes


def start_replicas(
    count: int, virtuoso: EngineServer, data: Dataset, run: Run, stack: ExitStack
) -> list[Server]:
    """``count`` `psm-kg serve --store` over Virtuoso, started side by side (each start mostly
    waits on Virtuoso's answers to its checks); StartError if one does not start."""
    spec = psm_spec(virtuoso.query_url)
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [
            pool.submit(start, spec, data, run.env, timeout=run.knobs.start_timeout_s)
            for _ in range(count)
        ]
        servers, failures = [], []
        for future in futures:
            try:
                server, _seconds = future.result()
            except StartError as error:
                failures.append(error)
                continue
            stack.callback(server.stop)
            servers.append(server)
    if failures:
        raise failures[0]
    return servers


def cache_misses(server: Server, run: Run) -> int | None:
    """The replica's result-cache misses so far (its /metrics), None if it does not say."""
    try:
        status, _headers, body = http_request(
            server.port, "/metrics", {}, timeout=run.knobs.timeout_s
        )
    except OSError:
        return None
    found = MISSES.search(body.decode("utf-8", errors="replace")) if status == 200 else None
    return int(float(found[1])) if found else None


def warm_caches(servers: list[Server], mix: list[Query], run: Run, notes: list[str]) -> list[Query]:
    """Every query of the mix once to every replica on its own port (nginx's least_conn would
    not reach each replica with each query); the queries every replica answered 200, which it
    now holds in its result cache. One request at a time: Virtuoso answers them unloaded."""
    cached = []
    for query in mix:
        request = query_target("/sparql", query.text)
        statuses = []
        for server in servers:
            try:
                status, _headers, body = http_request(
                    server.port, request, {"Accept": accept_for(query)}, timeout=run.knobs.timeout_s
                )
            except OSError as failure:
                statuses.append(type(failure).__name__)
                continue
            statuses.append(str(status))
            if status != 200:
                said = gist(body.decode("utf-8", errors="replace"))
                notes.append(f"`{query.name}` answered HTTP {status} at the warm-up ({said})")
        if all(status == "200" for status in statuses):
            cached.append(query)
        else:
            notes.append(f"`{query.name}` left out of the repeated queries ({', '.join(statuses)})")
    return cached


def replica_phase(
    servers: list[Server],
    virtuoso: EngineServer,
    requests: list[tuple[str, dict[str, str]]],
    label: str,
    run: Run,
) -> ReplicaRun:
    """nginx over ``servers``, a short unmeasured run through it, then the measured one."""
    knobs = run.knobs
    count = len(servers)
    replica = ReplicaRun(count, REPLICA_CLIENTS)
    warmup_s = min(2.0, knobs.replica_duration_s / 2)
    if run.clock.remaining() < knobs.replica_duration_s + warmup_s + 30:
        replica.failure = "not measured (the run's time limit)"
        return replica
    progress(f"    {count} replica(s) behind nginx, {label}")
    port = free_port()
    prefix = run.scratch / f"nginx-{label}-{count}-{next(_JOBS)}"
    config = render_nginx([str(s.port) for s in servers], listen=f"{HOST}:{port}")
    with ExitStack() as phase:
        try:
            nginx = phase.enter_context(running_nginx(prefix, config, port))
        except NGINX_FAILED as error:
            replica.failure = f"nginx did not start: {error}"
            return replica
        notes: list[str] = []
        concurrent(port, requests, REPLICA_CLIENTS, warmup_s, {}, run, notes)  # unmeasured
        pids = {
            REPLICAS_PART: [s.process.pid for s in servers],
            VIRTUOSO_PART: [virtuoso.process.pid],
            NGINX_PART: [nginx.process.pid],
        }
        before = [cache_misses(s, run) for s in servers]
        notes.clear()
        replica.throughput, replica.cpu_s = concurrent(
            port, requests, REPLICA_CLIENTS, knobs.replica_duration_s, pids, run, notes
        )
        replica.machine_busy = replica.cpu_s.pop(MACHINE, None)
        after = [cache_misses(s, run) for s in servers]
        counted = [
            (b, a) for b, a in zip(before, after, strict=True) if b is not None and a is not None
        ]
        if len(counted) == count:
            replica.cache_misses = sum(a - b for b, a in counted)
        replica.notes += notes
    return replica


def measure_replicas(
    virtuoso: EngineServer, data: Dataset, mix: list[Query], style: str, run: Run, size_run: SizeRun
) -> None:
    """1, 2 and 4 `psm-kg serve --store` over Virtuoso behind nginx: the repeated-query phase
    (each replica's result cache warmed first), then the uncached one. The same replicas serve
    every count (nginx over the first N), so that the caches are warmed once; the uncached phase
    comes last, as the queries it leaves Virtuoso working on would slow anything after it."""
    if not mix:
        size_run.replicas_skipped = "no query to send"
        return
    most = max(REPLICA_COUNTS)
    with ExitStack() as stack:
        progress(f"    starting {most} replicas")
        try:
            servers = start_replicas(most, virtuoso, data, run, stack)
        except StartError as error:
            size_run.replicas_skipped = f"a replica did not start: {error}"
            return
        warm_notes: list[str] = []
        cached = warm_caches(servers, mix, run, warm_notes)
        size_run.cached_mix = [q.name for q in cached]
        size_run.notes += [f"Replicas' warm-up: {note}" for note in warm_notes]
        repeated = [(query_target("/sparql", q.text), {"Accept": accept_for(q)}) for q in cached]
        uncached = [
            (query_target("/sparql", vary_query(q.text, NONCE, style)), {"Accept": accept_for(q)})
            for q in mix
        ]
        for phase, requests, results in (
            ("repeated", repeated, size_run.cached_replicas),
            (UNCACHED, uncached, size_run.replicas),
        ):
            for count in REPLICA_COUNTS:
                if not requests:
                    results.append(ReplicaRun(count, REPLICA_CLIENTS, failure="no query to send"))
                    continue
                names = tuple(q.name for q in (cached if phase == "repeated" else mix))
                result = replica_phase(servers[:count], virtuoso, requests, phase, run)
                if result.throughput is not None:
                    result.throughput.queries = names
                results.append(result)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def dataset_mode(engine: EngineServer, data: Dataset) -> str:
    """How psm-kg over ``engine`` sends a query that names no dataset, and why: `serve --store`
    decides it at start-up (remote_store.connect) and logs it at INFO, which `psm-kg serve` does
    not print; so connect is called here, against the same engine, and its record read."""
    from psm_kg import remote_store
    from psm_kg.store import StoreError

    logger = logging.getLogger(remote_store.__name__)
    records, level = _Records(), logger.level
    logger.addHandler(records)
    logger.setLevel(logging.INFO)
    try:
        store = remote_store.connect(
            engine.query_url, data.root / "dist", max_result_bytes=50_000_000, wait_s=30.0
        )
    except StoreError as error:
        return f"unknown (the check failed: {gist(str(error))})"
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
    sends_lists = store.sends_dataset
    store.close()
    if not sends_lists:
        return "as it is, to the engine's own dataset (found to be the built one)"
    # The record's last argument is why the engine's own dataset was not used.
    why = [str(r.args[-1]) for r in records.records if isinstance(r.args, tuple) and r.args]
    return "with a `default-graph-uri` and a `named-graph-uri` per graph" + (
        f", since {why[-1]}" if why else ""
    )


def measure_size(size: int, queries: list[Query], run: Run, with_replicas: bool) -> SizeRun:
    """Every phase at one size; every process it started is stopped when it returns."""
    data = prepare_dataset(size, run.scratch, run.knobs.seed, run.env)
    graphs = json.loads((data.root / "dist" / "graphs.json").read_text(encoding="utf-8"))
    progress(f"{size}x: {data.triples} triples, {len(graphs['graphs'])} graphs")
    size_run = SizeRun(size, data.triples, len(graphs["graphs"]), queries)
    with ExitStack() as stack:
        oxigraph = stack.enter_context(oxigraph_server(union_default_graph=True))
        virtuoso = stack.enter_context(virtuoso_server())
        engines = {OXIGRAPH: oxigraph, VIRTUOSO: virtuoso}
        loaded = {}
        for key, engine in engines.items():
            load = timed_load(engine, data, run)
            size_run.loads.append(load)
            loaded[key] = load.exit_code == 0
            progress(f"  load into {engine.name}: {load.seconds} s, exit code {load.exit_code}")
            if loaded[key]:
                size_run.dataset_modes[key] = dataset_mode(engine, data)
        targets: dict[str, Target] = {}
        embedded: Server | None = None
        for key, store in ((EMBEDDED, None), (PSM_OXIGRAPH, oxigraph), (PSM_VIRTUOSO, virtuoso)):
            engine_key = OXIGRAPH if key == PSM_OXIGRAPH else VIRTUOSO
            if store is not None and not loaded[engine_key]:
                size_run.notes.append(f"{LABELS[key]}: not started, the load failed")
                continue
            targets[key], size_run.targets[key], server = start_psm(key, store, data, run, stack)
            embedded = server if key == EMBEDDED else embedded
            progress(f"  {LABELS[key]}: start-up {size_run.targets[key].startup_s} s")
        for key, engine in engines.items():
            if loaded[key]:
                url = urlsplit(engine.query_url)
                assert url.port is not None
                targets[key] = Target(key, url.port, url.path, engine.process.pid)
                size_run.targets[key] = TargetRun(key)
        order = [key for key in ORDER if key in targets and not size_run.targets[key].failure]
        style = "comment"
        if embedded is not None:
            style, size_run.variation = choose_variation(embedded, queries[0], run.knobs.timeout_s)
        for key in order:
            progress(f"  {LABELS[key]}: probes and latency")
            spent = probe_all(targets[key], size_run.targets[key], queries, style, run)
            measure_latency(targets[key], size_run.targets[key], queries, style, run, spent)
        mixes = plan_mixes(size_run)
        for key in order:
            size_run.mixes[key] = [q.name for q in mixes.get(key, [])]
            progress(f"  {LABELS[key]}: throughput")
            measure_throughput(targets[key], size_run.targets[key], mixes.get(key, []), style, run)
        if not with_replicas:
            size_run.replicas_skipped = "not among --replica-sizes"
        elif not loaded[VIRTUOSO]:
            size_run.replicas_skipped = "the load into Virtuoso failed"
        else:
            mix = mixes.get(PSM_VIRTUOSO, [])
            measure_replicas(virtuoso, data, mix, style, run, size_run)
    return size_run


# --- the report's context ------------------------------------------------------------------------


def _first_line(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown version"
    lines = [line.strip() for line in (completed.stdout + completed.stderr).splitlines()]
    return next((line for line in lines if "ersion" in line), lines[0] if lines else "unknown")


def versions() -> str:
    parts = []
    for name in ("pyoxigraph", "uvicorn", "fastapi"):
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name} not installed")
    parts.append(_first_line([str(BIN / "oxigraph"), "--version"]) + " (server)")
    parts.append("Virtuoso " + _first_line(["virtuoso-t", "-?"]))
    parts.append(_first_line(["nginx", "-v"]))
    return ", ".join(parts)


METHOD = """\
- **Data.** `psm-kg build` of the bundled plan plus synthetic copies (bench/synthetic.py), one
  named graph per part. Oxigraph server: in memory, `--union-default-graph`. Virtuoso 7: a new
  database per size (tests/engines.py and deploy/virtuoso/virtuoso.ini.template), whose default
  graph is everything it holds, its own system graphs included. Both fresh at every size, each
  loaded with the real `psm-kg load --into QUERY_URL --graph-store GSP_URL` (Virtuoso: the
  `-auth` Graph Store endpoint as `dba`); *load* is its wall clock, Graph Store PUTs and the
  count check of every graph included. Embedded psm-kg loads dist/ itself at start-up.
- **Targets.** The engine directly (Oxigraph `/query`, Virtuoso's anonymous `/sparql`), asked
  as a client would: JSON for SELECT and ASK, N-Triples for CONSTRUCT. `psm-kg serve --store`
  over each engine, which parses and re-writes every answer (that work is part of what the
  ratio measures). A query that names no dataset is sent as it is to an engine whose own
  dataset psm-kg found, at start-up, to be the built one (RemoteStore.use_own_dataset: the
  Oxigraph server, whose default graph is the union of its graphs and which holds only the
  dataset), and otherwise with a `default-graph-uri` and a `named-graph-uri` per graph of
  graphs.json (Virtuoso, whose default graph includes its system graphs); each size says which
  mode psm-kg used. `psm-kg serve` embedded. Default `serve` options (access log on, query
  timeout 10 s). Every process on a free loopback port, in its own process group.
- **Answers.** A first request per query and target (the probe) gives its status and rows. A
  target answering a query with a status other than 200 is noted and that query is left out of
  its ratios. Another number of rows than psm-kg embedded is noted and still timed: the overhead
  ratio compares psm-kg over an engine with that engine, which give the same answers.
- **Sequential latency.** One keep-alive connection; per query a few warm-ups, then up to N
  requests within a per-query budget; a query whose probe took longer than that budget has the
  probe as its only sample.
- **Throughput.** Keep-alive clients send the plan queries (queries/*.rq) in turn for a fixed
  time; req/s = answers / time until the last client stopped. An engine and psm-kg over it get
  the same mix (the plan queries both answered with 200). CPU: user + system time of each
  process tree over the phase (/proc).
- **Replicas.** Four `psm-kg serve --store` over the same Virtuoso; nginx (one worker,
  `least_conn`, keep-alive to the replicas: deploy/nginx/render_replicas.py) in front of the
  first 1, 2 and 4 of them in turn, a short unmeasured run through it, then the measured one.
  Two phases, with the psm-kg-over-Virtuoso plan mix. *Repeated*: first every query sent once
  to every replica on its own port (nginx's `least_conn` would not give each replica each
  query), then the queries all of them answered 200 sent again without a nonce: each replica
  answers from its own result cache, so the work is psm-kg's HTTP layer, which replicas
  multiply (the replicas' /metrics count the cache misses in the phase). *Uncached*: a new
  nonce per request, so every request is evaluated by Virtuoso; run after the repeated phase,
  as Virtuoso may go on with queries psm-kg stopped waiting for. *Cores busy*: the CPU seconds
  of every part (replicas, Virtuoso, nginx, load generator) over cores x the phase's time
  (*this phase*), and of every process of the machine (*all*, from /proc/stat, over a window a
  little longer: the load generator's start and end included); the goal's "busy" is *all*.
  *Bound by*: the cores when *all* is at least 90%, else the replicas when each used at least
  90% of a core (a replica answers from one event loop), else not the CPU.
- **Uncached.** Outside the repeated replica phase, every request carries a new nonce (see each
  size), so that no target can answer it from a cache keyed on the query text.
- **Load generator.** bench/loadgen.py, a separate process on the same cores as the servers."""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", help="comma-separated multiples [3,32,323; --quick: 3]")
    parser.add_argument("--replica-sizes", help="sizes with the replica phases [3,32; quick 3]")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few minutes")
    parser.add_argument("--out", type=Path, help=f"report file [default: {RESULTS}, not --quick]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("--requests", type=int, help="measured requests per query [30; quick 5]")
    parser.add_argument("--warmup", type=int, help="warm-up requests per query [3; quick 1]")
    parser.add_argument("--query-budget", type=float, help="seconds per query [1.5; quick 0.3]")
    parser.add_argument("--target-budget", type=float, help="seconds per target [60; quick 20]")
    parser.add_argument("--duration", type=float, help="seconds per throughput phase [8; 2]")
    parser.add_argument("--timeout", type=float, help="seconds per request [30; quick 15]")
    parser.add_argument("--limit-min", type=float, default=30.0, help="limit of the whole run")
    args = parser.parse_args()
    quick = args.quick

    def pick(value: Any, default: Any, quick_default: Any) -> Any:
        return value if value is not None else (quick_default if quick else default)

    duration = pick(args.duration, 8.0, 2.0)
    knobs = Knobs(
        warmup=pick(args.warmup, 3, 1),
        requests=pick(args.requests, 30, 5),
        query_budget_s=pick(args.query_budget, 1.5, 0.3),
        target_budget_s=pick(args.target_budget, 60.0, 20.0),
        duration_s=duration,
        replica_duration_s=duration,
        timeout_s=pick(args.timeout, 30.0, 15.0),
        start_timeout_s=300.0,
        load_limit_s=900.0,
        seed=args.seed,
    )
    sizes = [int(size) for size in pick(args.sizes, "3,32,323", "3").split(",")]
    replica_sizes = {int(size) for size in pick(args.replica_sizes, "3,32", "3").split(",")}
    if any(size < 1 for size in sizes) or knobs.requests < 1:
        parser.error("sizes and --requests must be at least 1")
    out: Path | None = args.out if args.out is not None else (None if quick else RESULTS)
    clock = Clock(args.limit_min * 60)
    load_at_start = os.getloadavg()[0]
    queries = load_queries()
    runs: list[SizeRun] = []
    with tempfile.TemporaryDirectory(prefix="psm-kg-bench-scaleout-") as scratch_dir:
        scratch = Path(scratch_dir)
        run = Run(knobs, clock, child_env(scratch), scratch)
        for size in sizes:
            if clock.remaining() < 120:
                runs.append(SizeRun(size, 0, 0, queries, skipped="the run's time limit"))
                continue
            runs.append(measure_size(size, queries, run, size in replica_sizes))
    cores = os.cpu_count() or 1
    method_numbers = (
        f"This run: sizes {','.join(map(str, sizes))} (replicas at "
        f"{','.join(map(str, sorted(replica_sizes & set(sizes)))) or 'none'}); "
        f"{knobs.warmup} warm-ups and up to {knobs.requests} measured requests per query and "
        f"target, per-query budget {knobs.query_budget_s:g} s, {knobs.target_budget_s:g} s of "
        f"probes + sequential requests per target and size, request timeout {knobs.timeout_s:g} "
        f"s; throughput phases of {knobs.duration_s:g} s with {CONNECTIONS} clients; replica "
        f"phases of {knobs.replica_duration_s:g} s with {REPLICA_CLIENTS} clients; the whole run "
        f"limited to {args.limit_min:g} min."
    )
    info = RunInfo(
        date=f"{datetime.now(UTC):%Y-%m-%d}",
        machine=machine(),
        cores=cores,
        python=platform.python_version(),
        versions=versions(),
        psm_version=psm_version(),
        options="bench_scaleout.py " + (" ".join(sys.argv[1:]) or "(defaults)"),
        method_numbers=method_numbers,
        load=(load_at_start, os.getloadavg()[0]),
        wall_s=time.monotonic() - clock.began,
    )
    text = render(info, runs, METHOD)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    print(text, end="")


if __name__ == "__main__":
    main()
