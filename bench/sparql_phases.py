"""The phases of bench/bench_sparql.py at one size: start-up, probes, sequential latency,
throughput, cached answers. Each phase is bounded: per-request timeouts, per-query and per-server
budgets, and the run's overall limit.

At each size the servers start one after the other (start-up timed, nothing else busy) and each
is probed once per query as soon as it is up; they then stay up, idle, while each in turn is
measured, so that only one is ever under load. Knowing every server's answers before any load
phase lets psm-kg's throughput be measured on exactly the mix each peer is measured on.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparql_queries import NONCE, VARIATIONS, accept_for, answer_rows, vary_query
from sparql_report import (
    FLOOR_MODE,
    HEAVY_MIX,
    NOT_MODIFIED,
    PLAN_MIX,
    REPEAT,
    Latency,
    Probe,
    Query,
    ServerRun,
    SizeRun,
    Throughput,
    comparable,
    percentile,
)
from sparql_servers import (
    ASK_ANY,
    FLOOR,
    OXIGRAPH,
    PSM,
    RDFLIB,
    SPARQL_JSON,
    Dataset,
    Server,
    ServerSpec,
    StartError,
    http_request,
    query_target,
    restart,
    start,
    tree_cpu_seconds,
    tree_rss_mb,
)

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
CONNECTIONS = 8
RETRIES = 2  # more tries of a probe or of a first cached answer that got a 5xx

Request = tuple[str, str, dict[str, str]]  # query name, request target, headers


@dataclass(frozen=True)
class Knobs:
    warmup: int
    requests: int
    query_budget_s: float
    server_budget_s: float
    duration_s: float
    timeout_s: float
    startup_runs: int
    startup_budget_s: float
    start_timeout_s: float


class Clock:
    """The run's overall limit: phases that would start after it are skipped and reported."""

    def __init__(self, max_s: float) -> None:
        self.began = time.monotonic()
        self.deadline = self.began + max_s

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


class Context:
    def __init__(self, knobs: Knobs, clock: Clock, env: dict[str, str], data: Dataset) -> None:
        self.knobs = knobs
        self.clock = clock
        self.env = env
        self.data = data
        self.jobs = 0
        self.style = "comment"  # the query variation; psm-kg's probe phase checks it

    def nonce_prefix(self) -> str:
        self.jobs += 1
        return f"j{self.jobs}"

    def restart(self, server: Server, run: ServerRun, why: str) -> bool:
        """Restart a server after an abandoned request; False (and a note) if it does not start."""
        try:
            seconds = restart(server, self.data, self.env, timeout=self.knobs.start_timeout_s)
        except StartError as error:
            run.failure = f"did not restart: {error}"
            run.notes.append(f"{run.label}: did not restart after {why}: {error}")
            return False
        run.restarts.append(f"{why} ({seconds:.1f} s)")
        return True


def progress(line: str) -> None:
    """Progress goes to stderr: stdout carries the report only."""
    print(line, file=sys.stderr, flush=True)


def loadgen(job: dict[str, Any], limit_s: float) -> tuple[dict[str, Any], float]:
    """Run one job in a fresh load-generator process; its result and its CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        [sys.executable, str(LOADGEN)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=limit_s + 60,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if completed.returncode != 0:
        raise RuntimeError(f"load generator failed: {completed.stderr[-400:]}")
    result: dict[str, Any] = json.loads(completed.stdout)
    return result, cpu


def gist(body: str) -> str:
    """The title and detail of a problem+json answer, else the start of the body."""
    try:
        problem = json.loads(body)
        return f'"{problem["title"]}: {problem["detail"]}"'
    except (ValueError, KeyError, TypeError):
        return "`" + " ".join(body.split())[:120] + "`"


def _target(server: Server, query: Query, nonce: str | None, style: str) -> str:
    text = query.text if nonce is None else vary_query(query.text, nonce, style)
    return query_target(server.spec.query_path, text)


# --- start-up and probes -------------------------------------------------------------------------


def bring_up(spec: ServerSpec, run: ServerRun, ctx: Context) -> Server | None:
    """Start the server up to STARTUP_RUNS times, timing each; the last one is kept running."""
    knobs = ctx.knobs
    server: Server | None = None
    for attempt in range(knobs.startup_runs):
        if server is not None:
            server.stop()
        try:
            server, seconds = start(spec, ctx.data, ctx.env, timeout=knobs.start_timeout_s)
        except StartError as error:
            run.failure = f"did not start: {error}"
            return None
        run.startup_s.append(seconds)
        if attempt + 1 == knobs.startup_runs or sum(run.startup_s) > knobs.startup_budget_s:
            break
    time.sleep(0.2)  # let the first answer's allocations settle before reading RSS
    assert server is not None
    run.rss_loaded_mb = tree_rss_mb(server.process.pid)
    return server


def choose_variation(server: Server, query: Query, timeout: float) -> tuple[str, str]:
    """The variation whose nonce changes psm-kg's ETag, and a sentence saying what was checked."""
    for style in VARIATIONS:
        etags = []
        for nonce in ("check1", "check2"):
            try:
                _, headers, _ = http_request(
                    server.port,
                    _target(server, query, nonce, style),
                    {"Accept": accept_for(query)},
                    timeout=timeout,
                )
            except OSError as error:
                return "comment", (
                    "Uncached requests: a trailing `# nonce N` comment per request; checking it "
                    f"against psm-kg's ETag failed ({type(error).__name__})."
                )
            etags.append(headers.get("etag"))
        if None in etags:
            return style, (
                f"Uncached requests: a trailing `# nonce N` comment per request; psm-kg sent no "
                f"ETag for `{query.name}`, so the variation could not be checked against it."
            )
        if etags[0] != etags[1]:
            how = "a trailing `# nonce N` comment" if style == "comment" else "an unused PREFIX"
            return style, (
                f"Uncached requests: {how} with a new N per request (checked: two nonces give "
                f"`{query.name}` two different ETags from psm-kg)."
            )
    return "comment", (
        "Uncached requests: **not guaranteed**: neither a trailing comment nor an unused PREFIX "
        "changed psm-kg's ETag, so its uncached numbers may include cache hits."
    )


def _with_retries(
    server: Server, run: ServerRun, name: str, target: str, headers: dict[str, str], timeout: float
) -> tuple[int, dict[str, str], bytes]:
    """One request, tried again (up to RETRIES times) while it answers a 5xx; noted."""
    for attempt in range(RETRIES + 1):
        status, answer_headers, body = http_request(server.port, target, headers, timeout=timeout)
        if status < 500 or attempt == RETRIES:
            return status, answer_headers, body
        said = gist(body.decode("utf-8", errors="replace"))
        run.notes.append(f"{run.label}: `{name}` answered HTTP {status} ({said}); tried again")
    raise AssertionError("unreachable")


def probe(server: Server, run: ServerRun, queries: list[Query], ctx: Context) -> float:
    """One uncached request per query: status, rows, digest and time of each answer. Stops
    probing once the server's budget is spent; returns the seconds it took."""
    timeout = ctx.knobs.timeout_s
    began = time.monotonic()
    until = min(began + ctx.knobs.server_budget_s, ctx.clock.deadline)
    for query in queries:
        if until - time.monotonic() < 1 or run.failure is not None:
            run.probes[query.name] = Probe(error="not measured (time budget)")
            continue
        target = _target(server, query, "probe", ctx.style)
        sent = time.perf_counter()
        try:
            status, headers, body = _with_retries(
                server, run, query.name, target, {"Accept": accept_for(query)}, timeout
            )
        except TimeoutError:
            run.probes[query.name] = Probe(error=f"timeout (> {timeout:.0f} s)", seconds=timeout)
            ctx.restart(server, run, f"`{query.name}` timed out")
            continue
        except OSError as error:
            run.probes[query.name] = Probe(error=f"no answer ({type(error).__name__})")
            continue
        answer = Probe(status=status, seconds=time.perf_counter() - sent)
        if status == 200:
            try:
                answer.rows, answer.digest = answer_rows(body, headers.get("content-type", ""))
            except (ValueError, KeyError, SyntaxError) as error:
                answer.error = f"unreadable answer ({type(error).__name__})"
        run.probes[query.name] = answer
    not_measured = [
        name for name, answer in run.probes.items() if (answer.error or "").startswith("not meas")
    ]
    if not_measured:
        run.notes.append(f"{run.label}: not measured (time budget): {', '.join(not_measured)}")
    return time.monotonic() - began


def answered(run: ServerRun, queries: list[Query], reference: ServerRun | None) -> list[Query]:
    """The queries this server answered (with psm-kg's number of rows, for a peer); the others
    are named in the notes."""
    usable = []
    for query in queries:
        mine = run.probes[query.name]
        if (mine.error or "").startswith("not meas"):
            continue
        if (mine.error or "").startswith("timeout"):
            run.notes.append(
                f"{run.label}: `{query.name}` timed out at the probe: left out of its throughput "
                "mix (psm-kg is measured on the same mix)"
            )
            continue
        if reference is not None:
            theirs = reference.probes.get(query.name)
            problem = comparable(theirs, mine)
            if problem is not None:
                if problem != "psm-kg gave no answer":
                    run.notes.append(
                        f"{run.label}: `{query.name}` excluded from its ratios and throughput "
                        f"mix ({problem})"
                    )
                continue
            if theirs is not None and mine.digest and mine.digest != theirs.digest:
                run.notes.append(
                    f"{run.label}: `{query.name}` has psm-kg's number of rows but not the same "
                    "values (kept: same rows, same work)"
                )
        if mine.status == 200 and mine.rows is not None:
            usable.append(query)
    return usable


# --- load phases ---------------------------------------------------------------------------------


def _latency(result: dict[str, Any], requested: int) -> Latency:
    stopped = result["stopped"]
    statuses = result["statuses"]
    odd = {status: n for status, n in statuses.items() if status not in ("200", "304")}
    if odd and not result["latencies_ms"]:
        stopped = "answered " + ", ".join(f"HTTP {s}" for s in odd)
    return Latency(result["latencies_ms"], requested, stopped, statuses=statuses)


def sequential(
    server: Server,
    run: ServerRun,
    items: list[tuple[str, str, dict[str, str], int]],  # name, target, headers, warm-ups
    ctx: Context,
    budget_s: float,
) -> dict[str, Latency]:
    """Sequential requests per item; after an abandoned one, a restart and the items after it."""
    knobs = ctx.knobs
    until = min(time.monotonic() + budget_s, ctx.clock.deadline)
    measured: dict[str, Latency] = {}
    pending = list(items)
    while pending and run.failure is None:
        limit = until - time.monotonic()
        if limit < 1:
            break
        job = {
            "mode": "sequential",
            "host": "127.0.0.1",
            "port": server.port,
            "timeout_s": knobs.timeout_s,
            "deadline_s": limit,
            "nonce_prefix": ctx.nonce_prefix(),
            "items": [
                {
                    "label": name,
                    "target": target,
                    "headers": headers,
                    "warmup": warmup,
                    "count": knobs.requests,
                    "budget_s": knobs.query_budget_s,
                }
                for name, target, headers, warmup in pending
            ],
        }
        result, _cpu = loadgen(job, limit + knobs.timeout_s)
        for name, item in result["items"].items():
            measured[name] = _latency(item, knobs.requests)
            for status, sample in item["error_samples"].items():
                run.notes.append(
                    f"{run.label}: `{name}` answered HTTP {status} "
                    f"({item['statuses'].get(status, 0)} times); the first said: {gist(sample)}"
                )
        pending = [item for item in pending if item[0] not in result["items"]]
        interrupted = result["interrupted"]
        if interrupted is None:
            break
        why = result["items"][interrupted]["stopped"]  # "timeout" or "run deadline"
        ctx.restart(server, run, f"`{interrupted}` abandoned ({why})")
    return measured


def throughput(
    server: Server, run: ServerRun, phase: str, kind: str, requests: list[Request], ctx: Context
) -> Throughput:
    """8 keep-alive clients for the run's duration; the server tree's CPU time over the phase."""
    knobs = ctx.knobs
    names = tuple(name for name, _t, _h in requests)
    if not requests:
        return Throughput(skipped="no query to send", queries=names, kind=kind)
    if run.failure is not None:
        return Throughput(skipped="not measured (server down)", queries=names, kind=kind)
    if ctx.clock.remaining() < knobs.duration_s + 5:
        return Throughput(skipped="not measured (the run's time limit)", queries=names, kind=kind)
    grace = knobs.timeout_s
    job = {
        "mode": "concurrent",
        "host": "127.0.0.1",
        "port": server.port,
        "timeout_s": knobs.timeout_s,
        "nonce_prefix": ctx.nonce_prefix(),
        "connections": CONNECTIONS,
        "duration_s": knobs.duration_s,
        "grace_s": grace,
        "requests": [{"target": target, "headers": headers} for _n, target, headers in requests],
    }
    cpu_before = tree_cpu_seconds(server.process.pid)
    result, client_cpu = loadgen(job, knobs.duration_s + grace + 10)
    server_cpu = tree_cpu_seconds(server.process.pid) - cpu_before
    latencies = result["latencies_ms"]
    odd = {s: n for s, n in result["statuses"].items() if s not in ("200", "304")}
    measured = Throughput(
        completed=result["completed"],
        elapsed_s=result["elapsed_s"],
        p50_ms=percentile(latencies, 50) if latencies else None,
        server_cpu_s=server_cpu,
        client_cpu_s=client_cpu,
        timeouts=result["timeouts"],
        errors=result["errors"],
        other_statuses=odd,
        queries=names,
        kind=kind,
    )
    for status, sample in result["error_samples"].items():
        run.notes.append(
            f"{run.label}, {phase}: {odd.get(status, 0)} x HTTP {status} under load; the first "
            f"said: {gist(sample)}"
        )
    if result["timeouts"]:
        ctx.restart(server, run, f"{result['timeouts']} requests abandoned under load")
    return measured


def _warmups(answer: Probe, knobs: Knobs) -> int:
    """Warm-ups that fit in half the per-query budget at the probe's pace (the probe was one)."""
    if not answer.seconds:
        return knobs.warmup
    return max(0, min(knobs.warmup, int(knobs.query_budget_s / 2 / answer.seconds)))


def measure_latency(
    server: Server, run: ServerRun, usable: list[Query], ctx: Context, budget_s: float
) -> None:
    """Sequential latency of each uncached query (a query slower than its budget: the probe)."""
    knobs = ctx.knobs
    items = []
    for query in usable:
        answer = run.probes[query.name]
        if answer.seconds and answer.seconds > knobs.query_budget_s:
            run.latency[query.name] = Latency(
                [answer.seconds * 1000], knobs.requests, "probe only", from_probe=True
            )
            continue
        target = _target(server, query, NONCE, ctx.style)
        items.append((query.name, target, {"Accept": accept_for(query)}, _warmups(answer, knobs)))
    run.latency.update(sequential(server, run, items, ctx, budget_s))
    for query in usable:  # the server's budget ran out first: the probe is all there is
        answer = run.probes[query.name]
        if not run.latency.get(query.name, Latency()).ok and answer.seconds:
            run.latency[query.name] = Latency(
                [answer.seconds * 1000], knobs.requests, "probe only, budget spent", from_probe=True
            )
    capped = [
        f"`{name}` ({len(latency.samples_ms)}, {latency.stopped})"
        for name, latency in run.latency.items()
        if latency.ok and len(latency.samples_ms) < latency.requested
    ]
    if capped:
        run.notes.append(
            f"{run.label}: fewer than {knobs.requests} measured requests (per-query budget "
            f"{knobs.query_budget_s:g} s, server budget {knobs.server_budget_s:g} s, request "
            f"timeout {knobs.timeout_s:g} s): " + ", ".join(capped)
        )


def mix_label(kind: str, left_out: list[str]) -> str:
    return kind if not left_out else f"{kind} without {', '.join(left_out)}"


def mixes(usable: dict[str, list[Query]]) -> dict[str, dict[str, tuple[str, list[Query]]]]:
    """Per server, its throughput mixes: label -> (kind, queries). A peer's mix of a kind is
    psm-kg's minus the queries the peer did not answer alike; psm-kg runs its own full mix and
    every peer's."""
    result: dict[str, dict[str, tuple[str, list[Query]]]] = {key: {} for key in usable}
    for kind in (PLAN_MIX, HEAVY_MIX):
        full = [q for q in usable.get(PSM, []) if q.mix == kind]
        result.setdefault(PSM, {})[kind] = (kind, full)
        for key in (OXIGRAPH, RDFLIB):
            if key not in usable:
                continue
            theirs = {q.name for q in usable[key]}
            mix = [q for q in full if q.name in theirs]
            label = mix_label(kind, [q.name for q in full if q.name not in theirs])
            result[key][label] = (kind, mix)
            result[PSM].setdefault(label, (kind, mix))
    return result


def measure_throughput(
    server: Server, run: ServerRun, plan: dict[str, tuple[str, list[Query]]], ctx: Context
) -> None:
    for label, (kind, mix) in plan.items():
        requests = [
            (q.name, _target(server, q, NONCE, ctx.style), {"Accept": accept_for(q)}) for q in mix
        ]
        run.throughput[label] = throughput(server, run, label, kind, requests, ctx)


def measure_cached(server: Server, run: ServerRun, queries: list[Query], ctx: Context) -> None:
    """psm-kg only: the same request again (result cache), and again with If-None-Match (304)."""
    plain: list[Request] = []
    conditional: list[Request] = []
    no_etag = []
    for query in queries:
        if run.probes.get(query.name, Probe()).status != 200:
            continue
        target = _target(server, query, None, ctx.style)
        headers = {"Accept": accept_for(query)}
        try:
            status, answer_headers, body = _with_retries(
                server, run, query.name, target, headers, ctx.knobs.timeout_s
            )
        except OSError as error:
            run.notes.append(f"psm-kg: `{query.name}` not cached: {type(error).__name__}")
            continue
        if status != 200:
            said = gist(body.decode("utf-8", errors="replace"))
            run.notes.append(f"psm-kg: `{query.name}` not cached: HTTP {status}, {said}")
            continue
        plain.append((query.name, target, headers))
        etag = answer_headers.get("etag")
        if etag is None:
            no_etag.append(query.name)
            continue
        conditional.append((query.name, target, {**headers, "If-None-Match": etag}))
    if no_etag:
        run.notes.append(f"psm-kg sent no ETag for: {', '.join(no_etag)} (no 304 measured)")
    for mode, requests in ((REPEAT, plain), (NOT_MODIFIED, conditional)):
        items = [(name, target, headers, ctx.knobs.warmup) for name, target, headers in requests]
        for name, latency in sequential(server, run, items, ctx, ctx.knobs.server_budget_s).items():
            run.cached[(mode, name)] = latency
            if mode == NOT_MODIFIED and latency.statuses.get("200"):
                run.notes.append(
                    f"psm-kg answered `{name}` with 200 instead of 304 to If-None-Match "
                    f"({latency.statuses})"
                )
        run.throughput[mode] = throughput(server, run, f"cached ({mode})", mode, requests, ctx)


def measure_floor(server: Server, run: ServerRun, ctx: Context) -> None:
    target = query_target(server.spec.query_path, ASK_ANY)
    headers = {"Accept": SPARQL_JSON}
    items = [(FLOOR_MODE, target, headers, ctx.knobs.warmup)]
    run.latency.update(sequential(server, run, items, ctx, ctx.knobs.server_budget_s))
    requests = [(FLOOR_MODE, target, headers)]
    run.throughput[FLOOR_MODE] = throughput(server, run, FLOOR_MODE, FLOOR_MODE, requests, ctx)


# --- one size ------------------------------------------------------------------------------------

# The floor right after psm-kg: the cached answers are compared with it, close in time.
ORDER = (PSM, FLOOR, OXIGRAPH, RDFLIB)


def measure_size(
    specs: dict[str, ServerSpec], queries: list[Query], ctx: Context, notes: list[str]
) -> SizeRun:
    """Start and probe every server, then measure each in turn; every server stopped at the end."""
    size = ctx.data.size
    size_run = SizeRun(size, ctx.data.triples, queries, {})
    servers: dict[str, Server] = {}
    probe_s: dict[str, float] = {}
    try:
        for key in ORDER:
            spec = specs[key]
            if ctx.clock.remaining() < 30:
                notes.append(f"{size}x {spec.label}: skipped, the run's time limit")
                continue
            run = size_run.servers[key] = ServerRun(key)
            progress(f"  {size}x {spec.label}: starting")
            server = bring_up(spec, run, ctx)
            if server is None:
                progress(f"  {size}x {spec.label}: {run.failure}")
                continue
            servers[key] = server
            times = ", ".join(f"{t:.2f} s" for t in run.startup_s)
            progress(f"  {size}x {spec.label}: start-up {times}")
            if key == PSM:
                ctx.style, size_run.variation = choose_variation(
                    server, queries[0], ctx.knobs.timeout_s
                )
            if key != FLOOR:
                probe_s[key] = probe(server, run, queries, ctx)
        psm = size_run.servers.get(PSM)
        usable = {
            key: answered(size_run.servers[key], queries, None if key == PSM else psm)
            for key in probe_s
        }
        plans = mixes(usable) if PSM in usable else {}
        for key in ORDER:
            if key not in servers:
                continue
            server, run = servers[key], size_run.servers[key]
            progress(f"  {size}x {run.label}: measuring")
            if key == FLOOR:
                measure_floor(server, run, ctx)
            else:
                budget = ctx.knobs.server_budget_s - probe_s[key]
                measure_latency(server, run, usable[key], ctx, budget)
                measure_throughput(server, run, plans.get(key, {}), ctx)
                if key == PSM:
                    measure_cached(server, run, usable[key], ctx)
            run.rss_end_mb = tree_rss_mb(server.process.pid)
    finally:
        for server in servers.values():
            server.stop()
    return size_run
