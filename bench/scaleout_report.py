"""What bench/bench_scaleout.py measures, the ratios and goal verdicts made of it, and the report.

Pure: no servers, no clock. bench_scaleout.py (or a test, with made-up numbers) fills the
dataclasses; :func:`render` turns them into Markdown, goals included.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sparql_report import Latency, Probe, Query, Throughput, geomean

MISSING = "-"

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

    def busy(self, cores: int) -> float | None:
        """Share of the machine's cores kept busy by all parts together over the phase."""
        if self.throughput is None or self.throughput.elapsed_s <= 0 or not self.cpu_s:
            return None
        return sum(self.cpu_s.values()) / (cores * self.throughput.elapsed_s)


@dataclass
class SizeRun:
    size: int
    triples: int
    graphs: int
    queries: list[Query]
    loads: list[LoadRun] = field(default_factory=list)
    targets: dict[str, TargetRun] = field(default_factory=dict)
    replicas: list[ReplicaRun] = field(default_factory=list)
    replicas_skipped: str | None = None
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
    rates = {
        r.replicas: r.throughput.rate
        for r in replicas
        if r.throughput is not None and not r.throughput.skipped and r.failure is None
    }
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
            f"geometric mean {_ratio(mean)}; {len(over)} of {len(ratios)} queries at or over "
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
    measured = [
        r
        for r in sorted(replicas, key=lambda r: r.replicas)
        if r.throughput is not None and not r.throughput.skipped and r.failure is None
    ]
    steps = []
    for before, after in itertools.pairwise(measured):
        assert before.throughput is not None
        assert after.throughput is not None
        if before.throughput.rate <= 0:
            steps.append((before.replicas, after.replicas, False, "nothing answered before"))
            continue
        gain = after.throughput.rate / before.throughput.rate
        busy = before.busy(cores)
        if busy is not None and busy >= SATURATED:
            ok = gain >= NO_COLLAPSE
            why = f"{_ratio(gain)} with the cores {busy:.0%} busy already"
        else:
            ok = gain >= SCALING_STEP
            shown = MISSING if busy is None else f"{busy:.0%}"
            why = f"{_ratio(gain)} with the cores {shown} busy before"
        steps.append((before.replicas, after.replicas, ok, why))
    return steps


def scaling_verdict(runs: list[SizeRun], cores: int) -> Verdict:
    per_size: dict[int, str] = {}
    met: bool | None = None
    for run in runs:
        if run.skipped or not run.replicas:
            continue
        steps = scaling_steps(run.replicas, cores)
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
        f"no step below {NO_COLLAPSE}x)",
        per_size,
        met,
    )


def goals(runs: list[SizeRun], cores: int) -> list[Verdict]:
    return [*(overhead_verdict(runs, e, p) for e, p in PAIRS), scaling_verdict(runs, cores)]


# --- rendering -----------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return MISSING
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}x"


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
    return _ms(latency.p50) + mark


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
        cells += [_ratio(table.get(query.name)) for table in (*over, *versus)]
        lines.append("| " + " | ".join(cells) + " |")
    means = [_ratio(geomean(table.values())) for table in (*over, *versus)]
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
        engine_ms = (
            target.engine_cpu_s * 1000 / measured.completed
            if target.engine_cpu_s is not None and measured.completed
            else None
        )
        lines.append(
            f"| {target.label} | {mix} | {measured.rate:.1f} | {_ms(measured.p50_ms)} "
            f"| {_ms(measured.server_cpu_ms)} | {_ms(engine_ms)} | {_not_answered(measured)} "
            f"| {_ratio(ratios.get(key))} |"
        )
    return lines


def _not_answered(measured: Throughput) -> str:
    missing = []
    if measured.timeouts:
        missing.append(f"{measured.timeouts} timeouts")
    if measured.errors:
        missing.append(f"{measured.errors} errors")
    missing += [f"{n} x HTTP {status}" for status, n in sorted(measured.other_statuses.items())]
    return ", ".join(missing) or "0"


def _replica_table(run: SizeRun, cores: int) -> list[str]:
    parts = sorted({part for r in run.replicas for part in r.cpu_s})
    lines = [
        "| replicas | clients | req/s | ÷ 1 replica | p50 under load (ms) | not answered |"
        + "".join(f" CPU s: {part} |" for part in parts)
        + f" cores busy (of {cores}) |",
        "|---|---|---|---|---|---|" + "---|" * (len(parts) + 1),
    ]
    scaling = replica_scaling(run.replicas)
    for replica in run.replicas:
        measured = replica.throughput
        if replica.failure or measured is None or measured.skipped:
            why = replica.failure or (measured.skipped if measured else None) or "not measured"
            lines.append(
                f"| {replica.replicas} | {replica.clients} | {why} |" + " |" * (4 + len(parts))
            )
            continue
        busy = replica.busy(cores)
        lines.append(
            f"| {replica.replicas} | {replica.clients} | {measured.rate:.1f} "
            f"| {_ratio(scaling.get(replica.replicas))} | {_ms(measured.p50_ms)} "
            f"| {_not_answered(measured)} |"
            + "".join(f" {replica.cpu_s.get(part, 0.0):.1f} |" for part in parts)
            + f" {MISSING if busy is None else f'{busy:.0%}'} |"
        )
    return lines


def _size_section(run: SizeRun, cores: int) -> list[str]:
    lines = [f"## {run.size}x: {run.triples:,} triples in {run.graphs} named graphs", ""]
    if run.skipped:
        return [*lines, f"Not measured: {run.skipped}.", ""]
    lines += ["Load:", "", *_load_table(run), ""]
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
    if run.replicas:
        lines += [
            "Replicas: `psm-kg serve --store` (Virtuoso) processes behind nginx, the same plan "
            "queries; CPU seconds of each part over the phase, from /proc:",
            "",
            *_replica_table(run, cores),
            "",
        ]
    elif run.replicas_skipped:
        lines += [f"Replicas: not measured at this size ({run.replicas_skipped}).", ""]
    notes = list(run.notes)
    notes += [f"{target.label}: {note}" for target in run.targets.values() for note in target.notes]
    notes += [f"{r.replicas} replica(s): {note}" for r in run.replicas for note in r.notes]
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
