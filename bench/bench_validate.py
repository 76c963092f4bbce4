"""Wall time and peak memory of `psm-kg validate` against plain `pyshacl`, same files, same run.

Sizes: 1x is the bundled ontology + data; 10x and 100x add 9 and 99 synthetic copies of the plan
(bench/synthetic.py: same structure under fresh IRIs, 0 violations, the same warnings per copy).
For each size, each command runs as a cold process (what a CI job or a pre-commit hook pays):

- `psm-kg validate`                   the default engine, pyshacl-turbo
- `psm-kg validate --engine pyshacl`  the reference engine; while the command has no --engine
                                      option, bench/validate_with_engine.py calls the library
- `pyshacl -a`                        plain pySHACL on the same data (merged into one file, as it
                                      takes one) and the same shapes (merged likewise)
- incremental                         `psm-kg validate --context DIR FILE`: one changed file,
                                      the rest as context; skipped while the option is missing.
                                      Run once unmeasured to fill the parse cache (a scratch
                                      PSM_KG_CACHE_DIR), then measured warm: the pre-commit case,
                                      context unchanged between commits

Each command runs up to REPEAT times, round-robin; a command stops repeating at a size once its
runs there have taken BUDGET seconds (the table gives the number of runs), and a run is killed
after TIMEOUT seconds. Peak memory is the child's ru_maxrss (os.wait4). The script prints the
median and best wall time, the peak RSS and the ratios, and writes bench/results/validate.md.

Usage: .venv/bin/python bench/bench_validate.py [--repeat 5] [--sizes 1,10,100]
       [--budget 300] [--timeout 1800] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pyoxigraph as ox

from machine import machine
from synthetic import generate

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results" / "validate.md"
CHANGED_FILE = Path("data") / "psttm-2025-2027" / "missions.ttl"  # the incremental run's edit
PSM = "psm-kg validate"
PSM_PYSHACL = "psm-kg validate --engine pyshacl"
PYSHACL = "pyshacl -a"
INCREMENTAL = "psm-kg validate --context DIR FILE (incremental)"


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss_mb: float
    exit_code: int | None  # None: killed at the timeout


@dataclass
class Row:
    size: int
    triples: int
    name: str
    command: list[str]
    runs: list[Run] = field(default_factory=list)
    failure: str | None = None
    warm_up: bool = False  # run once, unmeasured, before the measured runs

    @property
    def median(self) -> float:
        return statistics.median(run.seconds for run in self.runs)

    @property
    def best(self) -> float:
        return min(run.seconds for run in self.runs)

    @property
    def peak_mb(self) -> float:
        return max(run.max_rss_mb for run in self.runs)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and self.failure is None


def run_once(command: list[str], timeout: float) -> tuple[Run, str]:
    """One cold process: wall time, its own peak RSS (os.wait4), exit code and stderr's tail."""
    killed = threading.Event()
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)

        def kill() -> None:
            killed.set()
            process.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        stderr.seek(0)
        tail = stderr.read()[-600:].decode("utf-8", errors="replace")
    exit_code = None if killed.is_set() else process.returncode
    return Run(elapsed, usage.ru_maxrss / 1024, exit_code), tail  # ru_maxrss is in KiB on Linux


def validate_help() -> str:
    completed = subprocess.run(
        [str(BIN / "psm-kg"), "validate", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return completed.stdout


def merge_turtle(files: list[Path], target: Path) -> None:
    """One Turtle document from many: each file declares its prefixes before using them."""
    with target.open("w", encoding="utf-8") as out:
        for path in files:
            out.write(path.read_text(encoding="utf-8"))
            out.write("\n")


def count_triples(path: Path) -> int:
    return len({quad.triple for quad in ox.parse(path=path, format=ox.RdfFormat.TURTLE)})


def prepare(size: int, scratch: Path, seed: int) -> tuple[Path, Path, int]:
    """The tree validated at ``size`` (a copy of data/ plus size-1 synthetic copies), the same
    files merged with the ontology into one Turtle file for pyshacl, and its triple count."""
    tree = scratch / f"{size}x"
    shutil.copytree(ROOT / "data", tree / "data")
    if size > 1:
        generate(tree / "synthetic", size - 1, seed=seed)
    merged = scratch / f"{size}x.ttl"
    merge_turtle([ROOT / "ontology" / "psm.ttl", *sorted(tree.rglob("*.ttl"))], merged)
    return tree, merged, count_triples(merged)


def commands(
    tree: Path, merged: Path, shapes: Path, has_engine: bool, has_context: bool
) -> dict[str, list[str] | None]:
    psm = [str(BIN / "psm-kg"), "validate", "--root", str(ROOT)]
    if has_engine:
        reference = [*psm, "--engine", "pyshacl", str(tree)]
    else:
        script = ROOT / "bench" / "validate_with_engine.py"
        reference = [sys.executable, str(script), "pyshacl", str(ROOT), str(tree)]
    return {
        PSM: [*psm, str(tree)],
        PSM_PYSHACL: reference,
        PYSHACL: [str(BIN / "pyshacl"), "-a", "-w", "-s", str(shapes), str(merged)],
        INCREMENTAL: (
            [*psm, "--context", str(tree), str(tree / CHANGED_FILE)] if has_context else None
        ),
    }


def measure_size(rows: list[Row], repeat: int, budget: float, timeout: float) -> None:
    """Round-robin: every command once, then again, until REPEAT runs or its BUDGET is spent."""
    for row in rows:
        if row.warm_up:
            run, stderr = run_once(row.command, timeout)
            if run.exit_code != 0:
                row.failure = f"warm-up failed: {' '.join(stderr.split())[-200:]}"
            print(
                f"  {row.size}x {row.name}: warm-up {run.seconds:.2f} s (not counted)", flush=True
            )
    for _ in range(repeat):
        pending = [
            row
            for row in rows
            if row.failure is None and sum(run.seconds for run in row.runs) < budget
        ]
        if not pending:
            break
        for row in pending:
            run, stderr = run_once(row.command, timeout)
            if run.exit_code is None:
                row.failure = f"killed after {timeout:.0f} s"
            elif run.exit_code != 0:  # every size conforms: anything else is a broken command
                row.failure = f"exit {run.exit_code}: {' '.join(stderr.split())[-200:]}"
            else:
                row.runs.append(run)
            status = row.failure or f"{run.seconds:.2f} s, {run.max_rss_mb:.0f} MB"
            print(f"  {row.size}x {row.name}: {status}", flush=True)


def versions() -> str:
    names = ("pyshacl", "pyshacl-turbo", "rdflib")
    return ", ".join(f"{name} {metadata.version(name)}" for name in names)


def ratio(numerator: Row | None, denominator: Row | None) -> str:
    if numerator is None or denominator is None or not (numerator.ok and denominator.ok):
        return "n/a"
    return f"{numerator.median / denominator.median:.2f}x"


def report(
    rows: list[Row],
    args: argparse.Namespace,
    has_engine: bool,
    has_context: bool,
    load: tuple[float, float],
) -> str:
    sizes = sorted({row.size for row in rows})
    by = {(row.size, row.name): row for row in rows}
    lines = [
        f"# psm-kg validate vs pyshacl ({datetime.now(UTC):%Y-%m-%d})",
        "",
        f"Machine: {machine()}. Python {platform.python_version()}; {versions()}.",
        "",
        "Data: 1x is the bundled ontology + data; Nx adds N-1 synthetic copies of the plan "
        f"(`bench/synthetic.py`, seed {args.seed}: every part of data/ but the PNRR under fresh "
        "IRIs, as several files per copy; 0 violations, the bundled "
        "warnings once per copy). All shapes. Cold process per run; up to "
        f"{args.repeat} runs per command and size, fewer where a command's runs at that size "
        f"exceeded {args.budget:.0f} s (see *runs*). Peak RSS is the child's `ru_maxrss`. "
        f"Load average (1 min) at start and end: {load[0]:.1f} and {load[1]:.1f} "
        "(other processes may share the machine).",
        "",
        "| size | triples | command | runs | median wall (s) | best (s) | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row.ok:
            cells = [
                str(len(row.runs)),
                f"{row.median:.2f}",
                f"{row.best:.2f}",
                f"{row.peak_mb:.0f}",
            ]
        else:
            cells = ["0", row.failure or "not run", "", ""]
        lines.append(f"| {row.size}x | {row.triples} | {row.name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Ratios of median wall time (above 1: psm-kg validate is faster):",
        "",
        "| size | pyshacl -a / psm-kg validate | pyshacl -a / psm-kg --engine pyshacl "
        "| psm-kg --engine pyshacl / psm-kg validate | psm-kg validate / incremental |",
        "|---|---|---|---|---|",
    ]
    for size in sizes:
        psm, reference, plain = by[(size, PSM)], by[(size, PSM_PYSHACL)], by[(size, PYSHACL)]
        incremental = by.get((size, INCREMENTAL))
        lines.append(
            f"| {size}x | {ratio(plain, psm)} | {ratio(plain, reference)} "
            f"| {ratio(reference, psm)} | {ratio(psm, incremental)} |"
        )
    lines.append("")
    if not has_engine:
        lines.append(
            f"`{PSM_PYSHACL}`: the command has no --engine option yet; measured as "
            "`bench/validate_with_engine.py pyshacl` (validate_paths with Engine.PYSHACL, "
            "same inputs, a one-line summary instead of the report)."
        )
    if not has_context:
        lines.append(
            "Incremental row skipped: `psm-kg validate` has no --context option yet "
            f"(the run would validate {CHANGED_FILE} with the rest as context)."
        )
    else:
        lines.append(
            f"Incremental: {CHANGED_FILE} validated with the whole tree as context, warm: one "
            "unmeasured run first fills the parse cache (a scratch PSM_KG_CACHE_DIR), so the "
            "measured runs read the parsed context from it (the pre-commit case: the context "
            "unchanged between commits)."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per command and size")
    parser.add_argument("--sizes", default="1,10,100", help="comma-separated multiples")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per command/size")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if args.repeat < 1 or any(size < 1 for size in sizes):
        parser.error("--repeat and every size must be at least 1")
    load_at_start = os.getloadavg()[0]
    help_text = validate_help()
    has_engine, has_context = "--engine" in help_text, "--context" in help_text
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="psm-kg-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        os.environ["PSM_KG_CACHE_DIR"] = str(scratch / "cache")  # the children's parse cache
        shapes = scratch / "shapes.ttl"  # pyshacl takes one shapes file: ours merged
        merge_turtle(sorted((ROOT / "ontology" / "shapes").glob("*.ttl")), shapes)
        for size in sizes:
            tree, merged, triples = prepare(size, scratch, args.seed)
            print(f"{size}x: {triples} triples", flush=True)
            named = commands(tree, merged, shapes, has_engine, has_context)
            size_rows = [
                Row(size, triples, name, command, warm_up=name == INCREMENTAL)
                for name, command in named.items()
                if command is not None
            ]
            measure_size(size_rows, args.repeat, args.budget, args.timeout)
            rows += size_rows
            shutil.rmtree(tree)
            merged.unlink()
    load = (load_at_start, os.getloadavg()[0])
    text = report(rows, args, has_engine, has_context, load)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text, end="")


if __name__ == "__main__":
    main()
