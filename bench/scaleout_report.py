"""What bench/bench_scaleout.py measures, the ratios and goal verdicts made of it, and the report.

Pure: no servers, no clock. bench_scaleout.py (or a test, with made-up numbers) fills the
dataclasses; :func:`render` turns them into Markdown, goals included.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sparql_report import (
    MISSING,
    REPEAT,
    Latency,
    Probe,
    Query,
    Throughput,
    geomean,
    ms_text,
    ratio_text,
)

# The targets measured at each size: two engines queried directly, psm-kg over each, embedded.
OXIGRAPH = "oxigraph"
VIRTUOSO = "virtuoso"
PSM_OXIGRAPH = "psm-kg/oxigraph"
PSM_VIRTUOSO = "psm-kg/virtuoso"
EMBEDDED = "embedded"
LABELS = {
    OXIGRAPH: "Oxigraph server",
    VIRTUOSO: "Virtuoso",
    PSM_OXIGRAPH: "psm-kg over Oxigraph",
    PSM_VIRTUOSO: "psm-kg over Virtuoso",
    EMBEDDED: "psm-kg embedded",
}
ORDER = (EMBEDDED, OXIGRAPH, PSM_OXIGRAPH, VIRTUOSO, PSM_VIRTUOSO)
PAIRS = ((OXIGRAPH, PSM_OXIGRAPH), (VIRTUOSO, PSM_VIRTUOSO))  # (engine, psm-kg over it)

# The parts whose CPU time a replica phase reads from /proc.
REPLICAS_PART = "psm-kg replicas"
VIRTUOSO_PART = "Virtuoso"
NGINX_PART = "nginx"
CLIENT_PART = "load generator"
PARTS = (REPLICAS_PART, VIRTUOSO_PART, NGINX_PART, CLIENT_PART)

# The two replica phases: the same replicas behind nginx, the same plan queries.
CACHED = REPEAT  # no nonce: each replica answers from its own result cache after its first miss
UNCACHED = "uncached"  # a new nonce per request: every request goes through to Virtuoso

# Goals
OVERHEAD_GOAL = 1.3  # psm-kg over an engine: p50 / the engine's p50, geometric mean over queries
SCALING_STEP = 1.15  # a replica step scales when throughput rises by at least this factor...
SATURATED = 0.9  # ...unless the cores were already this busy (CPU seconds / cores x seconds)
NO_COLLAPSE = 0.9  # once saturated, more replicas may not lose more than this share


@dataclass
class LoadRun:
    """`psm-kg load` into one engine: wall-clock seconds and its exit code."""

    engine: str
    seconds: float | None = None
    exit_code: int | None = None
    output: str = ""  # the tail of its output, shown when it failed

    def rate(self, triples: int) -> float | None:
        if self.seconds is None or self.exit_code != 0 or self.seconds <= 0:
            return None
        return triples / self.seconds


@dataclass
class TargetRun:
    key: str
    startup_s: float | None = None  # spawn to first answer (psm-kg processes only)
    failure: str | None = None
    probes: dict[str, Probe] = field(default_factory=dict)
    latency: dict[str, Latency] = field(default_factory=dict)
    throughput: Throughput | None = None
    engine_cpu_s: float | None = None  # psm-kg over an engine: the engine's CPU in that phase
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS[self.key]

    def p50(self, query: str) -> float | None:
        latency = self.latency.get(query)
        probe = self.probes.get(query)
        if latency is None or not latency.ok or probe is None or probe.status != 200:
            return None
        return latency.p50


@dataclass
class ReplicaRun:
    replicas: int
    clients: int
    throughput: Throughput | None = None
    cpu_s: dict[str, float] = field(default_factory=dict)  # part -> CPU seconds in the phase
    failure: str | None = None
    notes: list[str] = field(default_factory=list)
    cache_misses: int | None = None  # result-cache misses of the replicas in the phase (/metrics)
    machine_busy: float | None = None  # share of the cores busy, every process of the machine

    def load(self, cores: int) -> float | None:
        """How busy the cores were: machine-wide where measured (other processes may share
        them), else this phase's own processes."""
        return self.machine_busy if self.machine_busy is not None else self.busy(cores)

    @property
    def measured(self) -> bool:
        return self.failure is None and self.throughput is not None and not self.throughput.skipped

    def busy(self, cores: int) -> float | None:
        """Share of the machine's cores kept busy by all parts together over the phase."""
        if self.throughput is None or self.throughput.elapsed_s <= 0 or not self.cpu_s:
            return None
        return sum(self.cpu_s.values()) / (cores * self.throughput.elapsed_s)

    def replica_core(self) -> float | None:
        """CPU of one replica in cores (the replicas' mean): a replica serves from one event loop,
        so near 1 it is the replica itself that limits."""
        if self.throughput is None or self.throughput.elapsed_s <= 0:
            return None
        if REPLICAS_PART not in self.cpu_s:
            return None
        return self.cpu_s[REPLICAS_PART] / self.throughput.elapsed_s / self.replicas

    def bound_by(self, cores: int) -> str:
        """The resource that limited this run's throughput, as the CPU split shows it."""
        busy, load = self.busy(cores), self.load(cores)
        total = sum(self.cpu_s.values())
        if busy is None or load is None or total <= 0:
            return MISSING
        top = max(self.cpu_s, key=lambda part: self.cpu_s[part])
        share = self.cpu_s[top] / total
        if load >= SATURATED and busy < SATURATED:
            return f"the {cores} cores, shared: {load:.0%} busy in all, {busy:.0%} by this phase"
        if load >= SATURATED:
            return f"the {cores} cores, {share:.0%} of their time {top}"
        per_replica = self.replica_core()
        if per_replica is not None and per_replica >= SATURATED:
            return f"the replicas' one core each ({per_replica:.0%} of a core per replica)"
        return f"not the CPU ({load:.0%} of the cores busy; {top} {share:.0%} of this phase's)"


@dataclass
class SizeRun:
    size: int
    triples: int
    graphs: int
    queries: list[Query]
    loads: list[LoadRun] = field(default_factory=list)
    targets: dict[str, TargetRun] = field(default_factory=dict)
    replicas: list[ReplicaRun] = field(default_factory=list)  # the uncached phase
    cached_replicas: list[ReplicaRun] = field(default_factory=list)  # the repeated-query phase
    cached_mix: list[str] = field(default_factory=list)  # queries every replica cached
    replicas_skipped: str | None = None
    dataset_modes: dict[str, str] = field(default_factory=dict)  # engine -> how psm-kg asks it
    mixes: dict[str, list[str]] = field(default_factory=dict)  # target -> throughput queries
    variation: str = ""
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class RunInfo:
    date: str
    machine: str
    cores: int
    python: str
    versions: str
    psm_version: str
    options: str
    method_numbers: str
    load: tuple[float, float]
    wall_s: float
    notes: list[str] = field(default_factory=list)


# --- ratios --------------------------------------------------------------------------------------


def overhead(run: SizeRun, engine: str, psm: str) -> dict[str, float]:
    """Per query: psm-kg-over-the-engine's p50 / the engine's own p50 (both answered 200)."""
    theirs, mine = run.targets.get(engine), run.targets.get(psm)
    if theirs is None or mine is None:
        return {}
    result = {}
    for query in run.queries:
        base, over = theirs.p50(query.name), mine.p50(query.name)
        if base is not None and over is not None and base > 0:
            result[query.name] = over / base
    return result


def embedded_versus(run: SizeRun, other: str) -> dict[str, float]:
    """Per query: psm-kg embedded p50 / ``other``'s p50 (below 1: embedded is faster)."""
    embedded, peer = run.targets.get(EMBEDDED), run.targets.get(other)
    if embedded is None or peer is None:
        return {}
    result = {}
    for query in run.queries:
        mine, theirs = embedded.p50(query.name), peer.p50(query.name)
        if mine is not None and theirs is not None and theirs > 0:
            result[query.name] = mine / theirs
    return result


def row_mismatches(run: SizeRun, key: str) -> list[str]:
    """Queries ``key`` answered with another number of rows than psm-kg embedded."""
    embedded, other = run.targets.get(EMBEDDED), run.targets.get(key)
    if embedded is None or other is None or key == EMBEDDED:
        return []
    found = []
    for query in run.queries:
        reference, probe = embedded.probes.get(query.name), other.probes.get(query.name)
        if reference is None or probe is None or reference.status != 200 or probe.status != 200:
            continue
        if reference.rows != probe.rows:
            found.append(f"`{query.name}` ({probe.rows} rows, embedded {reference.rows})")
    return found


def throughput_ratio(run: SizeRun, engine: str, psm: str) -> float | None:
    """psm-kg-over-the-engine req/s / the engine's req/s, on the same mix."""
    theirs, mine = run.targets.get(engine), run.targets.get(psm)
    if theirs is None or mine is None or theirs.throughput is None or mine.throughput is None:
        return None
    if theirs.throughput.skipped or mine.throughput.skipped or theirs.throughput.rate <= 0:
        return None
    return mine.throughput.rate / theirs.throughput.rate


def replica_scaling(replicas: list[ReplicaRun]) -> dict[int, float]:
    """Replica count -> req/s over 1 replica's req/s."""
    rates = {r.replicas: r.throughput.rate for r in replicas if r.measured and r.throughput}
    one = rates.get(1)
    if not one:
        return {}
    return {n: rate / one for n, rate in sorted(rates.items())}


# --- goals ---------------------------------------------------------------------------------------


@dataclass
class Verdict:
    goal: str
    per_size: dict[int, str]
    met: bool | None  # None: not measured


def overhead_verdict(runs: list[SizeRun], engine: str, psm: str) -> Verdict:
    per_size: dict[int, str] = {}
    met: bool | None = None
    for run in runs:
        if run.skipped:
            continue
        ratios = overhead(run, engine, psm)
        mean = geomean(ratios.values())
        if mean is None:
            per_size[run.size] = "not measured"
            continue
        over = sorted(name for name, value in ratios.items() if value >= OVERHEAD_GOAL)
        per_size[run.size] = (
            f"geometric mean {ratio_text(mean)}; {len(over)} of {len(ratios)} queries at or over "
            f"{OVERHEAD_GOAL}x" + (f" ({', '.join(over)})" if over else "")
        )
        met = (met is not False) and mean < OVERHEAD_GOAL
    return Verdict(
        f"psm-kg over {LABELS[engine]}: p50 under {OVERHEAD_GOAL}x the engine's own "
        "(geometric mean over the queries)",
        per_size,
        met,
    )


def scaling_steps(replicas: list[ReplicaRun], cores: int) -> list[tuple[int, int, bool, str]]:
    """(from, to, acceptable, why) for each step of the replica counts measured."""
    measured = [r for r in sorted(replicas, key=lambda r: r.replicas) if r.measured]
    steps = []
    for before, after in itertools.pairwise(measured):
        assert before.throughput is not None
        assert after.throughput is not None
        if before.throughput.rate <= 0:
            steps.append((before.replicas, after.replicas, False, "nothing answered before"))
            continue
        gain = after.throughput.rate / before.throughput.rate
        busy = before.load(cores)
        if busy is not None and busy >= SATURATED:
            ok = gain >= NO_COLLAPSE
            why = f"{ratio_text(gain)} with the cores {busy:.0%} busy already"
        else:
            ok = gain >= SCALING_STEP
            shown = MISSING if busy is None else f"{busy:.0%}"
            why = f"{ratio_text(gain)} with the cores {shown} busy before"
        steps.append((before.replicas, after.replicas, ok, why))
    return steps


def scaling_verdict(runs: list[SizeRun], cores: int) -> Verdict:
    """Judged on the repeated-query phase, where the replicas' own work is what is measured;
    the uncached phase mostly measures the one Virtuoso they share."""
    per_size: dict[int, str] = {}
    met: bool | None = None
    for run in runs:
        if run.skipped or not run.cached_replicas:
            continue
        steps = scaling_steps(run.cached_replicas, cores)
        if not steps:
            per_size[run.size] = "not measured"
            continue
        per_size[run.size] = "; ".join(
            f"{a}→{b}: {why}" + ("" if ok else " **(not met)**") for a, b, ok, why in steps
        )
        met = (met is not False) and all(ok for _a, _b, ok, _w in steps)
    return Verdict(
        f"replicas scale throughput until the {cores} cores are saturated (each step "
        f"≥ {SCALING_STEP}x while the cores were under {SATURATED:.0%} busy; once saturated, "
        f"no step below {NO_COLLAPSE}x), judged on the repeated-query phase (answers from each "
        "replica's result cache: psm-kg's own work), not on the uncached one",
        per_size,
        met,
    )


def goals(runs: list[SizeRun], cores: int) -> list[Verdict]:
    return [*(overhead_verdict(runs, e, p) for e, p in PAIRS), scaling_verdict(runs, cores)]


# --- rendering -----------------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}"


def _cell(target: TargetRun | None, query: str) -> str:
    if target is None:
        return MISSING
    probe = target.probes.get(query)
    if probe is None:
        return "not measured"
    if probe.status != 200:
        return probe.error or f"HTTP {probe.status}"
    latency = target.latency.get(query)
    if latency is None or not latency.ok:
        return latency.stopped if latency is not None and latency.stopped else "not measured"
    mark = " (probe)" if latency.from_probe else ""
    if not latency.from_probe and len(latency.samples_ms) < latency.requested:
        mark = f" (n={len(latency.samples_ms)})"
    return ms_text(latency.p50) + mark


def _load_table(run: SizeRun) -> list[str]:
    lines = [
        "| engine | `psm-kg load` wall clock (s) | triples/s | exit code |",
        "|---|---|---|---|",
    ]
    for load in run.loads:
        rate = load.rate(run.triples)
        code = MISSING if load.exit_code is None else str(load.exit_code)
        if load.exit_code not in (0, None) and load.output:
            code += f": `{' '.join(load.output.split())[:160]}`"
        rate_text = MISSING if rate is None else f"{rate:,.0f}"
        lines.append(f"| {load.engine} | {_seconds(load.seconds)} | {rate_text} | {code} |")
    startups = [
        (target.label, target.startup_s)
        for key in (EMBEDDED, PSM_OXIGRAPH, PSM_VIRTUOSO)
        for target in [run.targets.get(key)]
        if target is not None
    ]
    if startups:
        lines += [
            "",
            "psm-kg start-up, spawn of `psm-kg serve` to its first answer (embedded: loads "
            "dist/ into memory; over an engine: checks every graph's count there): "
            + ", ".join(f"{label} {_seconds(value)} s" for label, value in startups)
            + ".",
        ]
    return lines


def _latency_table(run: SizeRun) -> list[str]:
    keys = [key for key in ORDER if key in run.targets]
    head = "| query | rows |" + "".join(f" {LABELS[key]} |" for key in keys)
    head += " psm-kg/Oxigraph ÷ Oxigraph | psm-kg/Virtuoso ÷ Virtuoso |"
    head += " embedded ÷ Oxigraph | embedded ÷ Virtuoso |"
    lines = [head, "|---|---|" + "---|" * (len(keys) + 4)]
    over = [overhead(run, e, p) for e, p in PAIRS]
    versus = [embedded_versus(run, e) for e, _p in PAIRS]
    embedded = run.targets.get(EMBEDDED)
    for query in run.queries:
        reference = embedded.probes.get(query.name) if embedded else None
        rows = str(reference.rows) if reference and reference.rows is not None else MISSING
        cells = [f"`{query.name}`", rows]
        cells += [_cell(run.targets.get(key), query.name) for key in keys]
        cells += [ratio_text(table.get(query.name)) for table in (*over, *versus)]
        lines.append("| " + " | ".join(cells) + " |")
    means = [ratio_text(geomean(table.values())) for table in (*over, *versus)]
    blanks = " |" * len(keys)
    lines.append(
        "| **geometric mean** | |" + blanks + " " + " | ".join(f"**{m}**" for m in means) + " |"
    )
    return lines


def _throughput_table(run: SizeRun) -> list[str]:
    lines = [
        "| target | queries in the mix | req/s | p50 under load (ms) | its CPU ms/req "
        "| engine CPU ms/req | not answered | ÷ the engine directly |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ratios = {psm: throughput_ratio(run, engine, psm) for engine, psm in PAIRS}
    for key in ORDER:
        target = run.targets.get(key)
        if target is None or target.throughput is None:
            continue
        measured = target.throughput
        mix = str(len(run.mixes.get(key, [])))
        if measured.skipped:
            lines.append(f"| {target.label} | {mix} | {measured.skipped} | | | | | |")
            continue
        engine_ms = engine_cpu_ms(target)
        lines.append(
            f"| {target.label} | {mix} | {measured.rate:.1f} | {ms_text(measured.p50_ms)} "
            f"| {ms_text(measured.server_cpu_ms)} | {ms_text(engine_ms)} "
            f"| {_not_answered(measured)} "
            f"| {ratio_text(ratios.get(key))} |"
        )
    return lines


def engine_cpu_ms(target: TargetRun | None) -> float | None:
    """CPU ms per request of the engine behind psm-kg in its throughput phase."""
    if target is None or target.throughput is None or target.throughput.skipped:
        return None
    if target.engine_cpu_s is None or not target.throughput.completed:
        return None
    return target.engine_cpu_s * 1000 / target.throughput.completed


def graph_list_cost(run: SizeRun) -> str | None:
    """A sentence on Virtuoso's CPU per request through psm-kg (graph lists) and directly."""
    through = engine_cpu_ms(run.targets.get(PSM_VIRTUOSO))
    direct = run.targets.get(VIRTUOSO)
    own = None
    if direct is not None and direct.throughput is not None and not direct.throughput.skipped:
        own = direct.throughput.server_cpu_ms
    if through is None or own is None or own <= 0:
        return None
    return (
        f"Virtuoso spends {ms_text(through)} ms of CPU per request asked through psm-kg "
        f"(*engine CPU ms/req*), {ratio_text(through / own)} the {ms_text(own)} ms it spends on "
        "the same mix asked directly (*its CPU ms/req*): mostly the cost, on Virtuoso, of the "
        "`default-graph-uri` and `named-graph-uri` per graph that psm-kg sends it."
    )


def _not_answered(measured: Throughput) -> str:
    missing = []
    if measured.timeouts:
        missing.append(f"{measured.timeouts} timeouts")
    if measured.errors:
        missing.append(f"{measured.errors} errors")
    missing += [f"{n} x HTTP {status}" for status, n in sorted(measured.other_statuses.items())]
    return ", ".join(missing) or "0"


def _replica_table(replicas: list[ReplicaRun], cores: int, misses: bool) -> list[str]:
    parts = [part for part in PARTS if any(part in r.cpu_s for r in replicas)]
    parts += sorted({part for r in replicas for part in r.cpu_s} - set(parts))
    lines = [
        "| replicas | clients | req/s | ÷ 1 replica | p50 under load (ms) | not answered |"
        + (" cache misses |" if misses else "")
        + "".join(f" CPU s: {part} |" for part in parts)
        + f" cores busy (of {cores}): this phase / all | bound by |",
        "|---|---|---|---|---|---|" + "---|" * (len(parts) + 2 + misses),
    ]
    scaling = replica_scaling(replicas)
    for replica in replicas:
        measured = replica.throughput
        if not replica.measured or measured is None:
            why = replica.failure or (measured.skipped if measured else None) or "not measured"
            blanks = 5 + len(parts) + misses
            lines.append(f"| {replica.replicas} | {replica.clients} | {why} |" + " |" * blanks)
            continue
        busy = _share(replica.busy(cores)) + " / " + _share(replica.machine_busy)
        missed = MISSING if replica.cache_misses is None else str(replica.cache_misses)
        lines.append(
            f"| {replica.replicas} | {replica.clients} | {measured.rate:.1f} "
            f"| {ratio_text(scaling.get(replica.replicas))} | {ms_text(measured.p50_ms)} "
            f"| {_not_answered(measured)} |"
            + (f" {missed} |" if misses else "")
            + "".join(f" {replica.cpu_s.get(part, 0.0):.1f} |" for part in parts)
            + f" {busy} | {replica.bound_by(cores)} |"
        )
    return lines


def _share(value: float | None) -> str:
    return MISSING if value is None else f"{value:.0%}"


def _span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.0%}" if f"{low:.0%}" == f"{high:.0%}" else f"{low:.0%}-{high:.0%}"


def phase_bound(replicas: list[ReplicaRun], cores: int) -> str | None:
    """Which part took most of the CPU over a whole replica phase, and how busy the cores were."""
    measured = [r for r in replicas if r.measured and r.cpu_s and sum(r.cpu_s.values()) > 0]
    if not measured:
        return None
    totals: dict[str, float] = {}
    for replica in measured:
        for part, seconds in replica.cpu_s.items():
            totals[part] = totals.get(part, 0.0) + seconds
    top = max(totals, key=lambda part: totals[part])
    shares = [r.cpu_s.get(top, 0.0) / sum(r.cpu_s.values()) for r in measured]
    busy = [value for r in measured for value in [r.load(cores)] if value is not None]
    text = f"{top} took most of the CPU ({_span(shares)} of it at each replica count)"
    if busy:
        text += f", with the {cores} cores {_span(busy)} busy"
    return text + "."


def _replica_section(run: SizeRun, cores: int) -> list[str]:
    lines: list[str] = []
    phases = (
        (
            CACHED,
            run.cached_replicas,
            "Replicas, repeated queries: `psm-kg serve --store` (Virtuoso) processes behind "
            "nginx, the plan queries every replica answered 200 at its warm-up "
            f"({len(run.cached_mix)}), sent without a nonce, so that each replica answers them "
            "from its own result cache (each replica was sent every query once, on its own "
            "port, before; *cache misses*: its /metrics over the phase). The work measured is "
            "psm-kg's HTTP layer, which replicas multiply; the goal is judged here.",
        ),
        (
            UNCACHED,
            run.replicas,
            "Replicas, uncached: the same replicas behind nginx, the plan queries with a new "
            "nonce per request, so that every request is evaluated by the one Virtuoso they "
            "share; shown, not judged.",
        ),
    )
    for phase, replicas, heading in phases:
        if not replicas:
            continue
        bound = phase_bound(replicas, cores)
        lines += [
            heading + " CPU seconds of each part over the phase, from /proc:",
            "",
            *_replica_table(replicas, cores, misses=phase == CACHED),
            "",
        ]
        if bound:
            lines += [f"Bound by: {bound}", ""]
    return lines


def _size_section(run: SizeRun, cores: int) -> list[str]:
    lines = [f"## {run.size}x: {run.triples:,} triples in {run.graphs} named graphs", ""]
    if run.skipped:
        return [*lines, f"Not measured: {run.skipped}.", ""]
    lines += ["Load:", "", *_load_table(run), ""]
    if run.dataset_modes:
        lines += [
            "How psm-kg over each engine sends a query that names no dataset, as its start-up "
            "check decided it (remote_store.connect, called by the bench against the same "
            "engine): "
            + "; ".join(f"{LABELS[key]}: {mode}" for key, mode in run.dataset_modes.items())
            + ".",
            "",
        ]
    if run.variation:
        lines += [run.variation, ""]
    lines += [
        "Sequential latency of uncached queries, one keep-alive client, p50 in ms (n: fewer "
        "requests than asked for; *probe*: the first answer is the only sample). Ratios: "
        "psm-kg over an engine ÷ that engine directly (the goal: under "
        f"{OVERHEAD_GOAL}x); embedded ÷ an engine directly (below 1: embedded is faster):",
        "",
        *_latency_table(run),
        "",
        "Throughput of the plan queries, uncached, "
        "clients each sending the mix's next query as soon as the last was answered:",
        "",
        *_throughput_table(run),
        "",
    ]
    cost = graph_list_cost(run)
    if cost:
        lines += [cost, ""]
    if run.replicas or run.cached_replicas:
        lines += _replica_section(run, cores)
    elif run.replicas_skipped:
        lines += [f"Replicas: not measured at this size ({run.replicas_skipped}).", ""]
    notes = list(run.notes)
    notes += [f"{target.label}: {note}" for target in run.targets.values() for note in target.notes]
    for phase, replicas in (("repeated", run.cached_replicas), (UNCACHED, run.replicas)):
        notes += [f"{r.replicas} replica(s), {phase}: {note}" for r in replicas for note in r.notes]
    for key in ORDER:
        found = row_mismatches(run, key)
        if found:
            notes.append(
                f"{LABELS[key]} answers another number of rows than psm-kg embedded (still "
                f"timed; its ratio compares it with psm-kg over the same engine): "
                + ", ".join(found)
            )
    if notes:
        lines += ["Notes:", "", *(f"- {note}" for note in notes), ""]
    return lines


def _goals_section(runs: list[SizeRun], cores: int) -> list[str]:
    sizes = [run.size for run in runs if not run.skipped]
    lines = [
        "## Goals",
        "",
        "Met or not in this run, by the numbers above (every size measured must meet a goal):",
        "",
        "| goal | " + " | ".join(f"{size}x" for size in sizes) + " | met |",
        "|---|" + "---|" * len(sizes) + "---|",
    ]
    for item in goals(runs, cores):
        status = {True: "yes", False: "**no**", None: "not measured"}[item.met]
        cells = [item.per_size.get(size, "not measured") for size in sizes]
        lines.append(f"| {item.goal} | " + " | ".join(cells) + f" | {status} |")
    return [*lines, ""]


def render(info: RunInfo, runs: list[SizeRun], method: str) -> str:
    sizes = ", ".join(f"{run.size}x = {run.triples:,}" for run in runs if not run.skipped)
    lines = [
        f"# Scale-out: psm-kg embedded, over the Oxigraph server and over Virtuoso ({info.date})",
        "",
        f"Machine: {info.machine}. Python {info.python}; {info.versions}. psm-kg "
        f"{info.psm_version}. Options: `{info.options}`. Load average (1 min) at start and "
        f"end: {info.load[0]:.1f} and {info.load[1]:.1f} (other processes may share the "
        f"machine). The run took {info.wall_s / 60:.1f} min. Triples (dist/graphs.json "
        f'"total"): {sizes or "none measured"}.',
        "",
        "## Method",
        "",
        method,
        "",
        info.method_numbers,
        "",
    ]
    for run in runs:
        lines += _size_section(run, info.cores)
    lines += _goals_section(runs, info.cores)
    if info.notes:
        lines += ["Run notes:", "", *(f"- {note}" for note in info.notes), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
