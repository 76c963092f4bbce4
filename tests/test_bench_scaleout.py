"""bench/bench_scaleout.py without servers: its ratios, goal verdicts and report, made-up numbers.

The bench itself (engines, load, nginx) runs with `bench/bench_scaleout.py --quick`; these tests
keep its pure parts (bench/scaleout_report.py) honest: a ratio compares the right two targets, and
a report calls a goal missed when the numbers miss it.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench_modules import load_bench_module

load_bench_module("sparql_servers")
sparql_report = load_bench_module("sparql_report")
scaleout = load_bench_module("scaleout_report")

QUERIES = [
    sparql_report.Query("list-missions", "SELECT * {}", "SELECT", "queries/"),
    sparql_report.Query("list-zones", "SELECT * {}", "SELECT", "queries/"),
    sparql_report.Query("bench-path-hierarchy", "SELECT * {}", "SELECT", "bench"),
]


def target(key: str, p50_ms: dict[str, float], rows: int = 5, status: int = 200) -> Any:
    """A target whose every query answered ``status`` with ``rows`` rows, p50 as given."""
    run = scaleout.TargetRun(key)
    for name, value in p50_ms.items():
        run.probes[name] = sparql_report.Probe(status=status, rows=rows, seconds=value / 1000)
        run.latency[name] = sparql_report.Latency([value] * 3, 3)
    return run


def size_run(overhead_factor: float, size: int = 3) -> Any:
    """Oxigraph answers in 2 ms and Virtuoso in 4 ms; psm-kg over each takes ``overhead_factor``
    times as long; embedded takes 3 ms."""
    names = [q.name for q in QUERIES]
    run = scaleout.SizeRun(size, 11_943, 14, QUERIES)
    run.targets = {
        scaleout.EMBEDDED: target(scaleout.EMBEDDED, dict.fromkeys(names, 3.0)),
        scaleout.OXIGRAPH: target(scaleout.OXIGRAPH, dict.fromkeys(names, 2.0)),
        scaleout.PSM_OXIGRAPH: target(
            scaleout.PSM_OXIGRAPH, dict.fromkeys(names, 2.0 * overhead_factor)
        ),
        scaleout.VIRTUOSO: target(scaleout.VIRTUOSO, dict.fromkeys(names, 4.0)),
        scaleout.PSM_VIRTUOSO: target(
            scaleout.PSM_VIRTUOSO, dict.fromkeys(names, 4.0 * overhead_factor)
        ),
    }
    for key, rate in ((scaleout.OXIGRAPH, 400.0), (scaleout.PSM_OXIGRAPH, 300.0)):
        run.targets[key].throughput = sparql_report.Throughput(completed=int(rate * 8), elapsed_s=8)
    run.loads = [scaleout.LoadRun("Oxigraph server", 2.0, 0), scaleout.LoadRun("Virtuoso", 4.0, 1)]
    return run


def replica(
    count: int, rate: float, cpu_s: float, elapsed_s: float = 10.0, virtuoso_s: float = 0.0
) -> Any:
    """``count`` replicas answering ``rate`` req/s for ``elapsed_s``, the replicas using
    ``cpu_s`` CPU seconds and Virtuoso ``virtuoso_s``."""
    measured = sparql_report.Throughput(completed=int(rate * elapsed_s), elapsed_s=elapsed_s)
    cpu = {scaleout.REPLICAS_PART: cpu_s}
    if virtuoso_s:
        cpu[scaleout.VIRTUOSO_PART] = virtuoso_s
    return scaleout.ReplicaRun(count, 16, measured, cpu)


def info() -> Any:
    return scaleout.RunInfo(
        date="2026-01-01",
        machine="a test machine, 2 CPUs",
        cores=2,
        python="3.11",
        versions="none",
        psm_version="0.0",
        options="bench_scaleout.py --quick",
        method_numbers="This run: made up.",
        load=(0.1, 0.2),
        wall_s=60.0,
    )


def test_overhead_is_psm_kg_over_the_engine_per_query() -> None:
    ratios = scaleout.overhead(size_run(1.5), scaleout.OXIGRAPH, scaleout.PSM_OXIGRAPH)
    assert ratios == pytest.approx(dict.fromkeys([q.name for q in QUERIES], 1.5))


def test_a_query_the_engine_did_not_answer_with_200_has_no_ratio() -> None:
    run = size_run(1.5)
    run.targets[scaleout.VIRTUOSO].probes["bench-path-hierarchy"].status = 500
    ratios = scaleout.overhead(run, scaleout.VIRTUOSO, scaleout.PSM_VIRTUOSO)
    assert "bench-path-hierarchy" not in ratios
    assert len(ratios) == 2


def test_embedded_versus_an_engine_is_embedded_over_the_engine() -> None:
    ratios = scaleout.embedded_versus(size_run(1.0), scaleout.VIRTUOSO)
    assert list(ratios.values()) == pytest.approx([0.75] * len(QUERIES))


def test_geometric_mean_of_the_ratios() -> None:
    assert sparql_report.geomean([1.0, 4.0]) == pytest.approx(2.0)
    assert sparql_report.geomean([]) is None


def test_throughput_ratio_is_psm_kg_req_per_s_over_the_engine() -> None:
    run = size_run(1.0)
    ratio = scaleout.throughput_ratio(run, scaleout.OXIGRAPH, scaleout.PSM_OXIGRAPH)
    assert ratio == pytest.approx(0.75)
    assert scaleout.throughput_ratio(run, scaleout.VIRTUOSO, scaleout.PSM_VIRTUOSO) is None


def test_rows_other_than_embedded_are_listed() -> None:
    run = size_run(1.0)
    run.targets[scaleout.VIRTUOSO].probes["list-zones"].rows = 7
    assert scaleout.row_mismatches(run, scaleout.VIRTUOSO) == ["`list-zones` (7 rows, embedded 5)"]
    assert scaleout.row_mismatches(run, scaleout.OXIGRAPH) == []


@pytest.mark.parametrize(
    ("factor", "met"),
    [(1.1, True), (1.29, True), (1.3, False), (2.0, False)],
    ids=["well-under", "just-under", "at-the-goal", "twice"],
)
def test_overhead_goal_is_met_only_under_the_threshold(factor: float, met: bool) -> None:
    verdict = scaleout.overhead_verdict(
        [size_run(factor)], scaleout.OXIGRAPH, scaleout.PSM_OXIGRAPH
    )
    assert verdict.met is met
    assert f"{factor:.2f}x" in verdict.per_size[3]


def test_overhead_goal_must_hold_at_every_size() -> None:
    runs = [size_run(1.1, size=3), size_run(1.6, size=32)]
    assert scaleout.overhead_verdict(runs, scaleout.VIRTUOSO, scaleout.PSM_VIRTUOSO).met is False


def test_overhead_goal_not_measured_without_the_engine() -> None:
    run = size_run(1.1)
    del run.targets[scaleout.OXIGRAPH]
    verdict = scaleout.overhead_verdict([run], scaleout.OXIGRAPH, scaleout.PSM_OXIGRAPH)
    assert verdict.met is None


def test_replica_scaling_is_relative_to_one_replica() -> None:
    scaling = scaleout.replica_scaling(
        [replica(1, 100, 10), replica(2, 180, 18), replica(4, 190, 19)]
    )
    assert scaling == pytest.approx({1: 1.0, 2: 1.8, 4: 1.9})


def test_scaling_goal_met_when_throughput_rises_until_the_cores_are_busy() -> None:
    run = size_run(1.0)
    # 1 replica keeps 50% of 2 cores busy; 2 replicas saturate them (19 s of 20); 4 hold steady.
    run.cached_replicas = [replica(1, 100, 10), replica(2, 180, 19), replica(4, 175, 19.5)]
    verdict = scaleout.scaling_verdict([run], cores=2)
    assert verdict.met is True
    assert "95% busy already" in verdict.per_size[3]


def test_scaling_goal_missed_when_throughput_stays_flat_on_idle_cores() -> None:
    run = size_run(1.0)
    run.cached_replicas = [replica(1, 100, 8), replica(2, 102, 8), replica(4, 101, 8)]
    verdict = scaleout.scaling_verdict([run], cores=2)
    assert verdict.met is False
    assert "(not met)" in verdict.per_size[3]


def test_scaling_goal_missed_when_saturated_throughput_collapses() -> None:
    run = size_run(1.0)
    run.cached_replicas = [replica(1, 100, 19), replica(2, 60, 19)]
    assert scaleout.scaling_verdict([run], cores=2).met is False


def test_scaling_goal_is_judged_on_the_repeated_queries_not_the_uncached_ones() -> None:
    run = size_run(1.0)
    # Uncached: flat on saturated cores, Virtuoso's CPU; repeated: the replicas scale.
    run.replicas = [replica(1, 5, 0.7, virtuoso_s=19), replica(2, 5, 0.7, virtuoso_s=19)]
    run.cached_replicas = [replica(1, 100, 10), replica(2, 180, 18)]
    verdict = scaleout.scaling_verdict([run], cores=2)
    assert verdict.met is True
    assert "1.80x" in verdict.per_size[3]
    assert "repeated-query phase" in verdict.goal


def test_scaling_goal_is_missed_by_the_repeated_queries_even_if_uncached_ones_scale() -> None:
    run = size_run(1.0)
    run.replicas = [replica(1, 5, 4), replica(2, 9, 8)]
    run.cached_replicas = [replica(1, 100, 10), replica(2, 101, 10)]
    assert scaleout.scaling_verdict([run], cores=2).met is False


def test_scaling_goal_not_measured_with_the_uncached_phase_only() -> None:
    run = size_run(1.0)
    run.replicas = [replica(1, 100, 10), replica(2, 180, 18)]
    assert scaleout.scaling_verdict([run], cores=2).met is None


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (replica(1, 5, 0.7, virtuoso_s=19), "the 2 cores, 96% of their time Virtuoso"),
        (replica(1, 900, 9.8), "the replicas' one core each (98% of a core per replica)"),
        (
            replica(2, 900, 12),
            "not the CPU (60% of the cores busy; psm-kg replicas 100% of this phase's)",
        ),
    ],
    ids=["virtuoso-saturates-the-cores", "one-replica-on-its-core", "neither"],
)
def test_a_replica_run_names_what_bound_it(run: Any, expected: str) -> None:
    assert run.bound_by(cores=2) == expected


def test_cores_busy_with_other_processes_count_as_saturated() -> None:
    shared = replica(1, 100, 8)
    shared.machine_busy = 0.95
    assert shared.bound_by(cores=2) == "the 2 cores, shared: 95% busy in all, 40% by this phase"
    run = size_run(1.0)
    run.cached_replicas = [shared, replica(2, 95, 8)]
    verdict = scaleout.scaling_verdict([run], cores=2)
    assert verdict.met is True
    assert "95% busy already" in verdict.per_size[3]


def test_a_replica_phase_names_the_part_that_took_most_cpu() -> None:
    phase = [replica(1, 5, 0.7, virtuoso_s=19), replica(2, 5, 0.7, virtuoso_s=19.3)]
    assert scaleout.phase_bound(phase, cores=2) == (
        "Virtuoso took most of the CPU (96%-97% of it at each replica count), "
        "with the 2 cores 98%-100% busy."
    )


def test_failed_load_has_no_rate() -> None:
    assert scaleout.LoadRun("Virtuoso", 4.0, 1).rate(1000) is None
    assert scaleout.LoadRun("Oxigraph server", 2.0, 0).rate(1000) == pytest.approx(500)


def test_report_shows_triples_ratios_and_goals() -> None:
    met = size_run(1.1, size=3)
    met.cached_replicas = [replica(1, 100, 10), replica(2, 180, 19)]
    met.replicas = [replica(1, 5, 0.7, virtuoso_s=19), replica(2, 5, 0.7, virtuoso_s=19)]
    missed = size_run(2.0, size=32)
    text = scaleout.render(info(), [met, missed], "- the method")
    assert text.startswith("# Scale-out")
    assert "3x = 11,943" in text
    assert "## 3x: 11,943 triples in 14 named graphs" in text
    assert "| Oxigraph server | 2.00 | 5,972 | 0 |" in text
    assert "| Virtuoso | 4.00 | - | 1 |" in text
    assert "**1.10x**" in text
    assert "**2.00x**" in text
    assert "| 2 | 16 | 180.0 | 1.80x |" in text
    assert text.index("Replicas, repeated queries") < text.index("Replicas, uncached")
    assert "Bound by: Virtuoso took most of the CPU" in text
    assert "Bound by: psm-kg replicas took most of the CPU" in text
    goals = text.split("## Goals", 1)[1]
    goal_lines = [line for line in goals.splitlines() if line.startswith("| psm-kg over")]
    assert goal_lines
    assert len(goal_lines) == 2
    assert all(line.endswith("| **no** |") for line in goal_lines)
    assert "until the 2 cores are saturated" in text
    assert text.rstrip().splitlines()[-1].endswith("| yes |")


def test_report_points_at_virtuoso_cpu_through_psm_kg_as_the_graph_lists_cost() -> None:
    run = size_run(1.0)
    virtuoso = run.targets[scaleout.VIRTUOSO]
    virtuoso.throughput = sparql_report.Throughput(completed=100, elapsed_s=8, server_cpu_s=2.0)
    through = run.targets[scaleout.PSM_VIRTUOSO]
    through.throughput = sparql_report.Throughput(completed=50, elapsed_s=8, server_cpu_s=0.4)
    through.engine_cpu_s = 4.0
    sentence = scaleout.graph_list_cost(run)
    assert sentence is not None
    assert sentence.startswith("Virtuoso spends 80.0 ms of CPU per request asked through psm-kg")
    assert "4.00x the 20.0 ms" in sentence
    assert sentence in scaleout.render(info(), [run], "- the method")


def test_report_says_how_psm_kg_sends_queries_to_each_engine() -> None:
    run = size_run(1.0)
    run.dataset_modes = {scaleout.OXIGRAPH: "as it is", scaleout.VIRTUOSO: "with the lists"}
    text = scaleout.render(info(), [run], "- the method")
    assert "Oxigraph server: as it is; Virtuoso: with the lists." in text


def test_report_of_a_skipped_size_says_why() -> None:
    skipped = scaleout.SizeRun(323, 0, 0, QUERIES, skipped="the run's time limit")
    text = scaleout.render(info(), [skipped], "- the method")
    assert "Not measured: the run's time limit." in text
    assert "## Goals" in text
