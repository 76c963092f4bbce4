"""psm-kg's SPARQL endpoint against the Oxigraph server and rdflib-endpoint: same data, same
queries, same run, on loopback, every phase bounded in time.

Sizes: 1x is the bundled plan (ontology, shapes and data, built by `psm-kg build` into a scratch
tree); 10x and 100x add 9 and 99 synthetic copies of the plan (bench/synthetic.py). Every server
gets the same quads, one named graph per part as in dist/psm-kg.nq, with the union of the named
graphs as the default graph:

- psm-kg            `psm-kg serve --root TREE` (pyoxigraph embedded, union default graph)
- Oxigraph server   `oxigraph serve --union-default-graph`, in memory, the N-Quads POSTed to /store
- rdflib-endpoint   `rdflib-endpoint serve TREE/dist/psm-kg.nq` (an rdflib Dataset, default_union)
- floor             bench/floor_app.py: FastAPI answering a fixed small JSON, on the same uvicorn
                    with the options `psm-kg serve` gives it: the cheapest answer of that stack

Queries: every queries/*.rq and the heavier ones of bench/sparql_queries.py (property paths,
aggregates over all triples, a text filter over labels in both languages); SELECT/ASK as SPARQL
JSON, CONSTRUCT and DESCRIBE as N-Triples, all by GET. Each peer must give psm-kg's number of rows
for a query; where it does not, the query is reported and left out of that peer's ratios and
throughput mix (psm-kg is measured on that narrower mix too).

At each size the servers start one after the other, each probed once per query when it is up
(rows, answer digest); then each in turn is measured while the others sit idle, so that only one
is ever under load (bench/sparql_phases.py). Per server: start-up (spawn to first answer, median
of a few runs), RSS of its process tree, sequential latency (one keep-alive connection, warm-ups,
then up to N requests per query within a per-query budget), throughput with 8 concurrent
keep-alive clients for a fixed duration, and the server's CPU time per request over that phase
(its whole process tree, from /proc). Uncached means uncached: each request carries a new
trailing comment (`# nonce ...`), checked to change psm-kg's ETag; where it would not, an unused
PREFIX declaration is used instead. For psm-kg, the same request repeated (result cache) and
repeated with If-None-Match (304) are measured against the floor. The requests come from
bench/loadgen.py, a separate process, the same for every server; the report is rendered by
bench/sparql_report.py, goals included.

Usage: .venv/bin/python bench/bench_sparql.py [--sizes 1,10,100] [--quick] [--out FILE]
  --quick   a smoke run of about two minutes: 1x only (unless --sizes), fewer and shorter
            phases; the report goes to stdout only unless --out is given
Without --quick the report is also written to bench/results/sparql.md. See --help for the knobs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from machine import machine
from sparql_phases import CONNECTIONS, Clock, Context, Knobs, measure_size, progress
from sparql_queries import load_queries
from sparql_report import RunInfo, SizeRun, render
from sparql_servers import BIN, Dataset, server_specs, uvicorn_options
from synthetic import generate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "sparql.md"


# --- data ----------------------------------------------------------------------------------------


def child_env(scratch: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PSM_KG_")}
    env["XDG_CACHE_HOME"] = str(scratch / "xdg-cache")
    return env


def prepare_dataset(size: int, scratch: Path, seed: int, env: dict[str, str]) -> Dataset:
    """A project tree with the bundled ontology and data (+ size-1 synthetic copies), built."""
    tree = scratch / f"{size}x"
    if size > 1:
        generate(tree / "data", size - 1, seed=seed)  # first: it empties its output directory
    for part in sorted((ROOT / "data").iterdir()):
        if part.is_dir() and not part.name.startswith("."):
            shutil.copytree(part, tree / "data" / part.name)
    (tree / "ontology").mkdir(parents=True)
    shutil.copy2(ROOT / "ontology" / "psm.ttl", tree / "ontology" / "psm.ttl")
    shutil.copytree(ROOT / "ontology" / "shapes", tree / "ontology" / "shapes")
    completed = subprocess.run(
        [str(BIN / "psm-kg"), "build", "--root", str(tree)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"psm-kg build failed at {size}x: {completed.stderr[-400:]}")
    graphs = json.loads((tree / "dist" / "graphs.json").read_text(encoding="utf-8"))
    return Dataset(size, tree, int(graphs["total"]))


# --- the report's context ------------------------------------------------------------------------


def versions() -> str:
    parts = []
    for name in ("pyoxigraph", "rdflib-endpoint", "rdflib", "uvicorn", "fastapi", "starlette"):
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name} not installed")
    for name in ("uvloop", "httptools"):
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"no {name}")
    try:
        server = subprocess.run(
            [str(BIN / "oxigraph"), "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        server = "oxigraph server: unknown version"
    return ", ".join([*parts, f"{server} (server)"])


def psm_version() -> str:
    version = metadata.version("psm-kg")
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version} at {commit}" + (" with uncommitted changes in src/" if dirty else "")


METHOD = """\
- **Data.** Every server gets the same quads: the N-Quads `psm-kg build` writes for the size, one
  named graph per part, the default graph being the union of the named graphs. psm-kg: pyoxigraph
  with `use_default_graph_as_union`. Oxigraph server: in memory, `--union-default-graph`, the
  N-Quads POSTed to `/store` (part of its start-up). rdflib-endpoint: an rdflib Dataset with
  `default_union`. Each server on a free loopback port; they start one at a time and stay up,
  idle, while the others are measured: only one is ever under load.
- **Queries.** Every `queries/*.rq` (the *plan queries*) and the `bench-*` queries of
  bench/sparql_queries.py (the *heavier queries*: property paths, aggregates over every quad, a
  text filter over Italian and English labels, growing with the size), by GET; SPARQL JSON for
  SELECT/ASK, N-Triples for CONSTRUCT.
- **Same answers.** A first request per query (the probe) gives its rows. A peer that answers
  with another number of rows than psm-kg is named in the notes and the query is left out of that
  peer's ratios and throughput mix; same rows with other values (datatypes, say) is noted only.
- **Uncached.** Every request of the uncached phases carries a new nonce (see each size), so that
  no server can answer it from a cache keyed on the query text.
- **Sequential latency.** One keep-alive connection; per query a few warm-ups, then up to N
  requests, fewer when they exceed the per-query budget (*n* in the table). A query whose probe
  alone took longer than that budget, or that the server's budget left no time for, has the
  probe as its only sample (*probe* in the table).
- **Throughput.** 8 keep-alive clients send the mix's queries in turn for a fixed time; answers
  still outstanding then are awaited up to the request timeout; req/s = answers (200 or 304)
  / time until the last client stopped. Server CPU per request: user + system time of the
  server's process tree (/proc, workers included) over the phase, divided by the answers.
- **Cached (psm-kg).** *repeat*: the same request again (a result-cache hit where psm-kg keeps
  the answer); *304*: the same request with If-None-Match, the ETag of the first answer. Compared
  with the floor: bench/floor_app.py, FastAPI answering a fixed small JSON on the same uvicorn
  with the options `psm-kg serve` uses.
- **Start-up and memory.** From spawning the process to its first successful query answer (ASK),
  median of the runs; RSS: VmRSS summed over the process tree (shared pages counted in each
  process), after loading and at the end.
- **Timeouts.** A request that times out is abandoned and the server restarted (a server may go on
  computing it: rdflib-endpoint evaluates on its event loop). Restarts are noted, not measured.
- **Load generator.** bench/loadgen.py, a separate Python process (asyncio, raw HTTP/1.1), the
  same for every server, on the same two cores as the server; its CPU per request is shown.
- **Ratios.** psm-kg / Oxigraph: psm-kg's p50 over Oxigraph's (below 1: psm-kg faster).
  rdflib-endpoint / psm-kg: rdflib-endpoint's p50 over psm-kg's (above 1: psm-kg faster)."""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", help="comma-separated multiples [1,10,100; --quick: 1]")
    parser.add_argument("--quick", action="store_true", help="a smoke run of about two minutes")
    parser.add_argument("--out", type=Path, help=f"report file [default: {RESULTS}, not --quick]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("--requests", type=int, help="measured requests per query [50; quick 10]")
    parser.add_argument("--warmup", type=int, help="warm-up requests per query [5; quick 2]")
    parser.add_argument("--duration", type=float, help="seconds per throughput phase [6; quick 2]")
    parser.add_argument("--timeout", type=float, help="seconds per request [30; quick 10]")
    parser.add_argument("--query-budget", type=float, help="seconds per query [3; quick 0.5]")
    parser.add_argument(
        "--server-budget", type=float, help="seconds of probes + sequential per server [180; 30]"
    )
    parser.add_argument("--startup-runs", type=int, help="start-up runs per server [3; quick 1]")
    parser.add_argument("--max-minutes", type=float, default=25.0, help="limit of the whole run")
    args = parser.parse_args()
    quick = args.quick

    def pick(value: Any, default: Any, quick_default: Any) -> Any:
        return value if value is not None else (quick_default if quick else default)

    knobs = Knobs(
        warmup=pick(args.warmup, 5, 2),
        requests=pick(args.requests, 50, 10),
        query_budget_s=pick(args.query_budget, 3.0, 0.5),
        server_budget_s=pick(args.server_budget, 180.0, 30.0),
        duration_s=pick(args.duration, 6.0, 2.0),
        timeout_s=pick(args.timeout, 30.0, 10.0),
        startup_runs=pick(args.startup_runs, 3, 1),
        startup_budget_s=20.0,
        start_timeout_s=300.0,
    )
    sizes = [int(size) for size in pick(args.sizes, "1,10,100", "1").split(",")]
    if any(size < 1 for size in sizes) or knobs.requests < 1 or knobs.startup_runs < 1:
        parser.error("sizes, --requests and --startup-runs must be at least 1")
    out: Path | None = args.out if args.out is not None else (None if quick else RESULTS)
    clock = Clock(args.max_minutes * 60)
    load_at_start = os.getloadavg()[0]
    floor_options, not_copied = uvicorn_options()
    specs = server_specs(floor_options)
    queries = load_queries()
    runs: list[SizeRun] = []
    run_notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="psm-kg-bench-sparql-") as scratch_dir:
        scratch = Path(scratch_dir)
        env = child_env(scratch)
        for size in sizes:
            if clock.remaining() < 60:
                runs.append(SizeRun(size, 0, queries, {}, skipped="the run's time limit"))
                continue
            data = prepare_dataset(size, scratch, args.seed, env)
            progress(f"{size}x: {data.triples} triples")
            runs.append(measure_size(specs, queries, Context(knobs, clock, env, data), run_notes))
            shutil.rmtree(data.root)
    options = " ".join(sys.argv[1:]) or "(defaults)"
    method_numbers = (
        f"This run: sizes {','.join(map(str, sizes))}; {knobs.warmup} warm-ups and up to "
        f"{knobs.requests} measured requests per query and server, per-query budget "
        f"{knobs.query_budget_s:g} s, {knobs.server_budget_s:g} s of probes + sequential requests "
        f"per server and size, request timeout {knobs.timeout_s:g} s, throughput phases of "
        f"{knobs.duration_s:g} s with {CONNECTIONS} clients, up to {knobs.startup_runs} start-ups "
        f"per server and size (fewer once they have taken {knobs.startup_budget_s:g} s)."
    )
    uvicorn_text = ", ".join(f"`{k}={v!r}`" for k, v in floor_options.items()) or "none"
    if not_copied:
        uvicorn_text += "; not reusable (computed at run time): " + ", ".join(
            f"`{item}`" for item in not_copied
        )
    info = RunInfo(
        date=f"{datetime.now(UTC):%Y-%m-%d}",
        machine=machine(),
        python=platform.python_version(),
        versions=versions(),
        psm_version=psm_version(),
        options=f"bench_sparql.py {options}",
        method_numbers=method_numbers,
        uvicorn_options=uvicorn_text,
        load=(load_at_start, os.getloadavg()[0]),
        wall_s=time.monotonic() - clock.began,
        notes=run_notes,
    )
    text = render(info, runs, METHOD)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    print(text, end="")


if __name__ == "__main__":
    main()
