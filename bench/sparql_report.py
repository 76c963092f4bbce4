"""What bench/bench_sparql.py measures, and the Markdown report made of it.

Pure: no servers, no clock. The measurements are plain dataclasses filled by bench_sparql.py (or
by a test with made-up numbers); :func:`render` turns them into the report, goals included.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sparql_servers import FLOOR, LABELS, OXIGRAPH, PSM, RDFLIB

PLAN_MIX = "plan queries"
HEAVY_MIX = "heavier queries"
REPEAT = "repeat"  # the same request again: answered from psm-kg's result cache if it has one
NOT_MODIFIED = "304"  # the same request with If-None-Match: the ETag of the first answer
FLOOR_MODE = "floor"

MISSING = "-"  # a cell with no value

# Goals (the thresholds the report holds the measurements against)
P50_VS_OXIGRAPH = 1.2
VS_RDFLIB = 20.0
CACHED_VS_FLOOR = 1.5
STARTUP_S = 1.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated linearly between the closest ranks."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def geomean(values: Iterable[float]) -> float | None:
    logs = [math.log(value) for value in values if value > 0]
    return math.exp(sum(logs) / len(logs)) if logs else None


@dataclass(frozen=True)
class Query:
    name: str
    text: str
    form: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    origin: str  # "queries/" or "bench"

    @property
    def mix(self) -> str:
        return PLAN_MIX if self.origin == "queries/" else HEAVY_MIX


@dataclass
class Probe:
    """The first (uncached) answer of a server to a query: what it returned and how long it took."""

    status: int | None = None  # None: no answer (timeout or connection error)
    rows: int | None = None  # solutions, 1 for ASK, triples for CONSTRUCT/DESCRIBE
    digest: str | None = None  # of the answer's normalised rows, order and blank nodes ignored
    seconds: float | None = None
    error: str | None = None


@dataclass
class Latency:
    samples_ms: list[float] = field(default_factory=list)
    requested: int = 0
    stopped: str | None = None  # why fewer than requested were measured
    from_probe: bool = False  # the only sample is the probe (it took longer than the budget)
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.samples_ms)

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 95)


@dataclass
class Throughput:
    completed: int = 0
    elapsed_s: float = 0.0
    p50_ms: float | None = None
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    timeouts: int = 0
    errors: int = 0
    other_statuses: dict[str, int] = field(default_factory=dict)
    queries: tuple[str, ...] = ()
    kind: str = ""  # PLAN_MIX or HEAVY_MIX for the uncached mixes, else the cached mode
    skipped: str | None = None

    @property
    def rate(self) -> float:
        return self.completed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def server_cpu_ms(self) -> float | None:
        return self.server_cpu_s * 1000 / self.completed if self.completed else None

    @property
    def client_cpu_ms(self) -> float | None:
        return self.client_cpu_s * 1000 / self.completed if self.completed else None


@dataclass
class ServerRun:
    key: str
    startup_s: list[float] = field(default_factory=list)
    rss_loaded_mb: float | None = None
    rss_end_mb: float | None = None
    failure: str | None = None
    probes: dict[str, Probe] = field(default_factory=dict)
    latency: dict[str, Latency] = field(default_factory=dict)  # uncached, by query
    cached: dict[tuple[str, str], Latency] = field(default_factory=dict)  # (mode, query)
    throughput: dict[str, Throughput] = field(default_factory=dict)  # by mix or cached mode
    restarts: list[str] = field(default_factory=list)  # after timed-out requests: why, how long
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS[self.key]

    def startup_median(self) -> float | None:
        if not self.startup_s:
            return None
        return percentile(self.startup_s, 50)


@dataclass
class SizeRun:
    size: int
    triples: int
    queries: list[Query]
    servers: dict[str, ServerRun]
    variation: str = ""  # how uncached requests were made unique, and the ETag check
    skipped: str | None = None


@dataclass
class RunInfo:
    date: str
    machine: str
    python: str
    versions: str
    psm_version: str
    options: str
    method_numbers: str  # the run's parameters, spelled out for the method section
    uvicorn_options: str
    load: tuple[float, float]
    wall_s: float
    notes: list[str] = field(default_factory=list)


# --- comparing answers ---------------------------------------------------------------------------


def comparable(reference: Probe | None, other: Probe | None) -> str | None:
    """None when ``other`` answered with the reference's number of rows, else why not."""
    if reference is None or reference.status != 200 or reference.rows is None:
        return "psm-kg gave no answer"
    if other is None:
        return "not run"
    if other.status is None:
        return other.error or "no answer"
    if other.status != 200:
        return f"HTTP {other.status}"
    if other.rows != reference.rows:
        return f"{other.rows} rows, psm-kg {reference.rows}"
    return None


# --- rendering -----------------------------------------------------------------------------------


def ms_text(value: float | None) -> str:
    if value is None:
        return MISSING
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio_text(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}x"


def _cell(latency: Latency | None, probe: Probe | None, mismatch: str | None) -> tuple[str, str]:
    """p50 and p95 cells of one server and query."""
    if probe is not None and probe.status is None and probe.error:
        return probe.error, ""
    if mismatch is not None and mismatch not in ("not run", "psm-kg gave no answer"):
        return f"excluded: {mismatch}", ""
    if latency is None or not latency.ok:
        reason = latency.stopped if latency is not None and latency.stopped else "not measured"
        return reason, ""
    mark = ""
    if latency.from_probe:
        mark = " (1, probe)"
    elif len(latency.samples_ms) < latency.requested:
        mark = f" (n={len(latency.samples_ms)})"
    return ms_text(latency.p50) + mark, ms_text(latency.p95)


def _p50(run: ServerRun | None, query: str) -> float | None:
    if run is None:
        return None
    latency = run.latency.get(query)
    return latency.p50 if latency is not None and latency.ok else None


def _timed_out(run: ServerRun | None, query: str) -> bool:
    probe = run.probes.get(query) if run is not None else None
    return probe is not None and probe.status is None and (probe.error or "").startswith("timeout")


@dataclass
class Ratios:
    """Per-query p50 ratios of one size: psm-kg/Oxigraph and rdflib-endpoint/psm-kg."""

    vs_oxigraph: dict[str, float] = field(default_factory=dict)
    vs_rdflib: dict[str, float] = field(default_factory=dict)
    rdflib_timeouts: list[str] = field(default_factory=list)  # psm-kg answered, rdflib timed out
    excluded: dict[str, list[str]] = field(default_factory=dict)  # server -> queries


def ratios(run: SizeRun) -> Ratios:
    psm = run.servers.get(PSM)
    oxigraph, rdflib = run.servers.get(OXIGRAPH), run.servers.get(RDFLIB)
    result = Ratios()
    for query in run.queries:
        reference = psm.probes.get(query.name) if psm else None
        mine = _p50(psm, query.name)
        if mine is None:
            continue
        for key, peer in ((OXIGRAPH, oxigraph), (RDFLIB, rdflib)):
            if peer is None:
                continue
            if key == RDFLIB and _timed_out(peer, query.name):
                result.rdflib_timeouts.append(query.name)
                continue
            problem = comparable(reference, peer.probes.get(query.name))
            theirs = _p50(peer, query.name)
            if problem is not None or theirs is None:
                if problem not in (None, "not run"):
                    result.excluded.setdefault(key, []).append(query.name)
                continue
            if key == OXIGRAPH:
                result.vs_oxigraph[query.name] = mine / theirs
            else:
                result.vs_rdflib[query.name] = theirs / mine
    return result


def _latency_table(run: SizeRun) -> list[str]:
    keys = [key for key in (PSM, OXIGRAPH, RDFLIB) if key in run.servers]
    head = "| query | rows |"
    rule = "|---|---|"
    for key in keys:
        head += f" {LABELS[key]} p50 | p95 |"
        rule += "---|---|"
    head += " psm-kg / Oxigraph | rdflib-endpoint / psm-kg |"
    rule += "---|---|"
    lines = [head, rule]
    psm = run.servers.get(PSM)
    table_ratios = ratios(run)
    for query in run.queries:
        reference = psm.probes.get(query.name) if psm else None
        rows = str(reference.rows) if reference and reference.rows is not None else MISSING
        cells = [f"`{query.name}`", rows]
        for key in keys:
            server = run.servers[key]
            probe = server.probes.get(query.name)
            mismatch = None if key == PSM else comparable(reference, probe)
            cells += list(_cell(server.latency.get(query.name), probe, mismatch))
        cells.append(ratio_text(table_ratios.vs_oxigraph.get(query.name)))
        if query.name in table_ratios.rdflib_timeouts:
            psm_p50 = _p50(psm, query.name)
            rdflib = run.servers[RDFLIB]
            bound = _timeout_ms(rdflib, query.name)
            cells.append(f"> {bound / psm_p50:.0f}x" if psm_p50 and bound else "timeout")
        else:
            cells.append(ratio_text(table_ratios.vs_rdflib.get(query.name)))
        lines.append("| " + " | ".join(cells) + " |")
    for mix in (PLAN_MIX, HEAVY_MIX):
        names = {q.name for q in run.queries if q.mix == mix}
        ox = geomean(v for k, v in table_ratios.vs_oxigraph.items() if k in names)
        rd = geomean(v for k, v in table_ratios.vs_rdflib.items() if k in names)
        blanks = ["", ""] * len(keys)
        lines.append(
            f"| geometric mean, {mix} | | "
            + " | ".join(blanks)
            + f" | {ratio_text(ox)} | {ratio_text(rd)} |"
        )
    ox_all = geomean(table_ratios.vs_oxigraph.values())
    rd_all = geomean(table_ratios.vs_rdflib.values())
    blanks = ["", ""] * len(keys)
    lines.append(
        "| **geometric mean, all** | | "
        + " | ".join(blanks)
        + f" | **{ratio_text(ox_all)}** | **{ratio_text(rd_all)}** |"
    )
    return lines


def _timeout_ms(run: ServerRun, query: str) -> float | None:
    probe = run.probes.get(query)
    return probe.seconds * 1000 if probe is not None and probe.seconds else None


def mix_labels(run: SizeRun) -> list[str]:
    """The uncached mixes psm-kg ran: each kind's full mix first, then the peers' narrower ones."""
    psm = run.servers.get(PSM)
    if psm is None:
        return []
    labels = []
    for kind in (PLAN_MIX, HEAVY_MIX):
        labels += sorted(
            (label for label, measured in psm.throughput.items() if measured.kind == kind),
            key=lambda label: (label != kind, label),
        )
    return labels


def _throughput_table(run: SizeRun) -> list[str]:
    lines = [
        "| requests | server | req/s | p50 under load (ms) | server CPU ms/req | "
        "load generator CPU ms/req | not answered | psm-kg / this |",
        "|---|---|---|---|---|---|---|---|",
    ]
    psm = run.servers.get(PSM)
    for label in mix_labels(run):
        assert psm is not None
        mine = psm.throughput[label]
        for key in (PSM, OXIGRAPH, RDFLIB):
            server = run.servers.get(key)
            if server is None or label not in server.throughput:
                continue
            measured = server.throughput[label]
            lines.append(_throughput_row(label, server.label, measured, mine, key == PSM))
    return lines


def _throughput_row(
    name: str,
    label: str | None,
    measured: Throughput,
    reference: Throughput | None,
    is_reference: bool,
) -> str:
    """One row; ``label`` None leaves out the server column."""
    head = f"| {name} |" if label is None else f"| {name} | {label} |"
    if measured.skipped:
        return f"{head} {measured.skipped} | | | | |" + ("" if label is None else " |")
    missing = []
    if measured.timeouts:
        missing.append(f"{measured.timeouts} timeouts")
    if measured.errors:
        missing.append(f"{measured.errors} errors")
    missing += [f"{n} x HTTP {status}" for status, n in sorted(measured.other_statuses.items())]
    if is_reference or reference is None or reference.skipped:
        versus = ""
    elif measured.completed == 0:
        versus = f"∞ (none answered in {measured.elapsed_s:.0f} s)"
    else:
        versus = ratio_text(reference.rate / measured.rate)
    return (
        f"{head} {measured.rate:.1f} | {ms_text(measured.p50_ms)} "
        f"| {ms_text(measured.server_cpu_ms)} | {ms_text(measured.client_cpu_ms)} "
        f"| {', '.join(missing) or '0'} | {versus} |"
    )


def cached_summary(run: SizeRun) -> dict[str, float | None]:
    """Geometric means over the queries of psm-kg's p50: uncached, repeat and 304; the floor's."""
    psm, floor = run.servers.get(PSM), run.servers.get(FLOOR)
    summary: dict[str, float | None] = {"uncached": None, REPEAT: None, NOT_MODIFIED: None}
    if psm is None:
        return summary | {FLOOR_MODE: None}
    summary["uncached"] = geomean(lat.p50 for lat in psm.latency.values() if lat.ok)
    for mode in (REPEAT, NOT_MODIFIED):
        values = [lat.p50 for (m, _q), lat in psm.cached.items() if m == mode and lat.ok]
        summary[mode] = geomean(values)
    floor_latency = floor.latency.get(FLOOR_MODE) if floor else None
    summary[FLOOR_MODE] = floor_latency.p50 if floor_latency and floor_latency.ok else None
    return summary


def _cached_table(run: SizeRun) -> list[str]:
    psm, floor = run.servers.get(PSM), run.servers.get(FLOOR)
    if psm is None:
        return []
    floor_latency = floor.latency.get(FLOOR_MODE) if floor else None
    floor_p50 = floor_latency.p50 if floor_latency and floor_latency.ok else None
    lines = [
        "| query | uncached p50 | repeat p50 | repeat p95 | 304 p50 | 304 p95 "
        "| repeat / floor | 304 / floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for query in run.queries:
        uncached = psm.latency.get(query.name)
        repeat = psm.cached.get((REPEAT, query.name))
        not_modified = psm.cached.get((NOT_MODIFIED, query.name))
        cells = [f"`{query.name}`", ms_text(uncached.p50) if uncached and uncached.ok else MISSING]
        for latency in (repeat, not_modified):
            if latency is None or not latency.ok:
                reason = latency.stopped if latency and latency.stopped else MISSING
                cells += [reason, ""]
            else:
                cells += [ms_text(latency.p50), ms_text(latency.p95)]
        for latency in (repeat, not_modified):
            if latency is not None and latency.ok and floor_p50:
                cells.append(ratio_text(latency.p50 / floor_p50))
            else:
                cells.append(MISSING)
        lines.append("| " + " | ".join(cells) + " |")
    summary = cached_summary(run)
    lines += [
        "",
        f"Floor (FastAPI, fixed JSON) sequential p50 {ms_text(floor_p50)} ms"
        + (f", p95 {ms_text(floor_latency.p95)} ms" if floor_latency and floor_latency.ok else "")
        + ". Geometric means of psm-kg's p50 over the queries: uncached "
        f"{ms_text(summary['uncached'])} ms, repeat {ms_text(summary[REPEAT])} ms, "
        f"304 {ms_text(summary[NOT_MODIFIED])} ms.",
        "",
        "| requests (8 clients) | req/s | p50 under load (ms) | server CPU ms/req "
        "| load generator CPU ms/req | not answered | floor req/s / this |",
        "|---|---|---|---|---|---|---|",
    ]
    floor_rate = floor.throughput.get(FLOOR_MODE) if floor else None
    rows = [
        ("psm-kg repeat, all queries", psm.throughput.get(REPEAT), False),
        ("psm-kg 304, all queries", psm.throughput.get(NOT_MODIFIED), False),
        ("floor (FastAPI, fixed JSON)", floor_rate, True),
    ]
    for name, measured, is_floor in rows:
        if measured is not None:
            lines.append(_throughput_row(name, None, measured, floor_rate, is_floor))
    return lines


def _startup_table(run: SizeRun) -> list[str]:
    lines = [
        "| server | start-up to first answer, median (s) | runs | RSS after loading (MB) "
        "| RSS at the end (MB) |",
        "|---|---|---|---|---|",
    ]
    for key in (PSM, OXIGRAPH, RDFLIB, FLOOR):
        server = run.servers.get(key)
        if server is None:
            continue
        median = server.startup_median()
        rss = [server.rss_loaded_mb, server.rss_end_mb]
        cells = [
            server.label,
            f"{median:.2f}" if median is not None else (server.failure or MISSING),
            str(len(server.startup_s)),
            *(MISSING if value is None else f"{value:.0f}" for value in rss),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _size_section(run: SizeRun) -> list[str]:
    lines = [f"## {run.size}x: {run.triples} triples", ""]
    if run.skipped:
        return [*lines, f"Not measured: {run.skipped}.", ""]
    lines += [*_startup_table(run), ""]
    if run.variation:
        lines += [run.variation, ""]
    lines += [
        "Sequential latency of uncached queries, one client, ms (n: fewer requests than asked "
        "for, see the notes; *probe*: the only sample is the first answer, see the method):",
        "",
        *_latency_table(run),
        "",
        "Throughput, 8 concurrent clients, uncached (each request a new query text), the "
        "queries of the mix in turn:",
        "",
        *_throughput_table(run),
        "",
        "Cached answers of psm-kg: *repeat* sends the same request again (answered from the "
        "result cache where there is one), *304* adds If-None-Match with the answer's ETag:",
        "",
        *_cached_table(run),
        "",
    ]
    notes = [note for key in run.servers for note in run.servers[key].notes]
    for server in run.servers.values():
        if server.restarts:
            times = "once" if len(server.restarts) == 1 else f"{len(server.restarts)} times"
            notes.append(
                f"{server.label} restarted {times} (not counted in any measurement): "
                + "; ".join(server.restarts)
            )
    if notes:
        lines += ["Notes:", "", *(f"- {note}" for note in notes), ""]
    return lines


def _paired(run: SizeRun, peer: ServerRun | None) -> list[tuple[str, Throughput, Throughput]]:
    """(mix, psm-kg's, the peer's) for every uncached mix both were measured on."""
    psm = run.servers.get(PSM)
    if psm is None or peer is None:
        return []
    pairs = []
    for label in mix_labels(run):
        mine, theirs = psm.throughput[label], peer.throughput.get(label)
        if theirs is not None and not mine.skipped and not theirs.skipped:
            pairs.append((label, mine, theirs))
    return pairs


def _rate(measured: Throughput) -> str:
    return f"{measured.rate:.0f}" if measured.rate >= 10 else f"{measured.rate:.2g}"


@dataclass
class Verdict:
    goal: str
    per_size: dict[int, str]
    met: bool | None  # None: not measured


def goals(runs: list[SizeRun]) -> list[Verdict]:
    measured = [run for run in runs if not run.skipped]
    throughput: dict[int, str] = {}
    p50: dict[int, str] = {}
    vs_rdflib: dict[int, str] = {}
    cached: dict[int, str] = {}
    met = {"throughput": True, "p50": True, "rdflib": True, "cached": True}
    seen = dict.fromkeys(met, False)
    for run in measured:
        psm, oxigraph, rdflib = (run.servers.get(k) for k in (PSM, OXIGRAPH, RDFLIB))
        parts = []
        for mix, mine, theirs in _paired(run, oxigraph):
            if theirs.rate > 0:
                value = mine.rate / theirs.rate
                seen["throughput"] = True
                met["throughput"] &= value >= 1.0
                parts.append(f"{mix}: {_rate(mine)} vs {_rate(theirs)} req/s ({value:.2f}x)")
        throughput[run.size] = "; ".join(parts) or "not measured"
        table = ratios(run)
        if table.vs_oxigraph:
            seen["p50"] = True
            over = sorted(k for k, v in table.vs_oxigraph.items() if v > P50_VS_OXIGRAPH)
            mean = geomean(table.vs_oxigraph.values())
            met["p50"] &= not over
            p50[run.size] = (
                f"geometric mean {ratio_text(mean)}; {len(over)} of {len(table.vs_oxigraph)} "
                f"queries over {P50_VS_OXIGRAPH}x" + (f" ({', '.join(over)})" if over else "")
            )
        else:
            p50[run.size] = "not measured"
        parts = []
        if table.vs_rdflib or table.rdflib_timeouts:
            seen["rdflib"] = True
            under = sorted(k for k, v in table.vs_rdflib.items() if v < VS_RDFLIB)
            mean = geomean(table.vs_rdflib.values())
            # A timed-out query is slower than the timeout: met only if that alone is enough.
            bounds: dict[str, float] = {}
            for name in table.rdflib_timeouts:
                psm_p50 = _p50(psm, name)
                waited = _timeout_ms(rdflib, name) if rdflib is not None else None
                if psm_p50 and waited:
                    bounds[name] = waited / psm_p50
            unproven = sorted(k for k, v in bounds.items() if v < VS_RDFLIB)
            met["rdflib"] &= not under and not unproven
            text = (
                f"p50 geometric mean {ratio_text(mean)}, {len(under)} of {len(table.vs_rdflib)} "
                f"queries under {VS_RDFLIB:.0f}x" + (f" ({', '.join(under)})" if under else "")
            )
            if bounds:
                text += (
                    f"; {len(bounds)} timed out on rdflib-endpoint (> "
                    + ", > ".join(f"{v:.0f}x" for v in bounds.values())
                    + ")"
                )
            parts.append(text)
        for mix, mine, theirs in _paired(run, rdflib):
            seen["rdflib"] = True
            if theirs.completed == 0:
                bound = mine.rate * theirs.elapsed_s  # rdflib-endpoint: < 1 per elapsed_s
                met["rdflib"] &= bound >= VS_RDFLIB
                parts.append(f"{mix}: throughput > {bound:.0f}x (rdflib-endpoint answered none)")
                continue
            value = mine.rate / theirs.rate
            met["rdflib"] &= value >= VS_RDFLIB
            parts.append(f"{mix}: throughput {value:.1f}x")
        vs_rdflib[run.size] = "; ".join(parts) or "not measured"
        summary = cached_summary(run)
        floor_p50 = summary[FLOOR_MODE]
        parts = []
        if floor_p50:
            floor = run.servers[FLOOR].throughput.get(FLOOR_MODE)
            for mode in (NOT_MODIFIED, REPEAT):
                cached_p50 = summary[mode]
                if cached_p50 is None:
                    continue
                seen["cached"] = True
                ratio = cached_p50 / floor_p50
                text = f"{mode}: p50 {ratio_text(ratio)} the floor's"
                measured_rate = psm.throughput.get(mode) if psm else None
                rate_ratio: float | None = None
                if floor and measured_rate and measured_rate.completed and not floor.skipped:
                    rate_ratio = floor.rate / measured_rate.rate
                    text += f", throughput {ratio_text(1 / rate_ratio)} the floor's"
                met["cached"] &= ratio <= CACHED_VS_FLOOR and (
                    rate_ratio is None or rate_ratio <= CACHED_VS_FLOOR
                )
                parts.append(text)
        cached[run.size] = "; ".join(parts) or "not measured"
    startup: dict[int, str] = {}
    startup_met: bool | None = None
    for run in measured:
        psm = run.servers.get(PSM)
        median = psm.startup_median() if psm else None
        startup[run.size] = f"{median:.2f} s" if median is not None else "not measured"
        if run.size == 1 and median is not None:
            startup_met = median < STARTUP_S

    def verdict(key: str) -> bool | None:
        return met[key] if seen[key] else None

    return [
        Verdict(
            "throughput at 8 clients ≥ the Oxigraph server's", throughput, verdict("throughput")
        ),
        Verdict(
            f"p50 ≤ {P50_VS_OXIGRAPH}x the Oxigraph server's on uncached queries (every query)",
            p50,
            verdict("p50"),
        ),
        Verdict(
            f"≥ {VS_RDFLIB:.0f}x rdflib-endpoint (every query's p50 and both throughputs)",
            vs_rdflib,
            verdict("rdflib"),
        ),
        Verdict(
            f"a cached answer within {CACHED_VS_FLOOR}x the floor (304 and repeat alike: "
            "geometric-mean p50 and throughput at 8 clients)",
            cached,
            verdict("cached"),
        ),
        Verdict(
            f"start-up under {STARTUP_S:.0f} s for the bundled plan (1x)", startup, startup_met
        ),
    ]


def _goals_section(runs: list[SizeRun]) -> list[str]:
    sizes = [run.size for run in runs if not run.skipped]
    lines = [
        "## Goals",
        "",
        "Met or not in this run, by the numbers above (every size measured must meet a goal):",
        "",
        "| goal | " + " | ".join(f"{size}x" for size in sizes) + " | met |",
        "|---|" + "---|" * len(sizes) + "---|",
    ]
    for item in goals(runs):
        status = {True: "yes", False: "**no**", None: "not measured"}[item.met]
        cells = [item.per_size.get(size, MISSING) for size in sizes]
        lines.append(f"| {item.goal} | " + " | ".join(cells) + f" | {status} |")
    return [*lines, ""]


def render(info: RunInfo, runs: list[SizeRun], method: str) -> str:
    lines = [
        f"# SPARQL endpoints: psm-kg vs the Oxigraph server vs rdflib-endpoint ({info.date})",
        "",
        f"Machine: {info.machine}. Python {info.python}; {info.versions}. psm-kg "
        f"{info.psm_version}. Options: `{info.options}`. Load average (1 min) at start and "
        f"end: {info.load[0]:.1f} and {info.load[1]:.1f} (other processes may share the "
        f"machine). The run took {info.wall_s / 60:.1f} min.",
        "",
        "## Method",
        "",
        method,
        "",
        info.method_numbers,
        "",
        f"uvicorn options of `psm-kg serve`, reused for the floor app: {info.uvicorn_options}.",
        "",
    ]
    for run in runs:
        lines += _size_section(run)
    lines += _goals_section(runs)
    if info.notes:
        lines += ["Run notes:", "", *(f"- {note}" for note in info.notes), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
