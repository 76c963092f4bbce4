"""Wall time of `psm-kg validate` against plain `pyshacl` on the same files and shapes, same run.

Each command runs as a cold process (what a CI job or a pre-commit hook pays), REPEAT times; the
script prints the median of each and their ratio, and writes the table to bench/results/validate.md.
Usage: .venv/bin/python bench/bench_validate.py [--repeat N]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rdflib import Graph

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results" / "validate.md"


def data_files() -> list[Path]:
    return [ROOT / "ontology" / "psm.ttl", *sorted((ROOT / "data").rglob("*.ttl"))]


def shapes_file(tmp: Path) -> Path:
    # pyshacl takes one shapes file: merge ours into one, as psm-kg does in memory.
    merged = tmp / "shapes.ttl"
    merged.write_text(
        "\n".join(
            p.read_text(encoding="utf-8")
            for p in sorted((ROOT / "ontology" / "shapes").glob("*.ttl"))
        ),
        encoding="utf-8",
    )
    return merged


def wall(command: list[str], expected_codes: set[int]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, check=False, timeout=600)
    elapsed = time.perf_counter() - start
    if completed.returncode not in expected_codes:
        raise SystemExit(f"{command[0]} exited {completed.returncode}: {completed.stderr[-500:]!r}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="psm-kg-bench-") as scratch:
        measure(Path(scratch), args.repeat)


def measure(tmp: Path, repeat: int) -> None:
    files = [str(p) for p in data_files()]
    # pyshacl needs one data graph: hand it one merged Turtle file, as psm-kg merges in memory.
    merged_data = tmp / "data.ttl"
    merged_data.write_text(
        "\n".join(Path(f).read_text(encoding="utf-8") for f in files), encoding="utf-8"
    )
    psm = [str(BIN / "psm-kg"), "validate", "--root", str(ROOT)]
    pyshacl = [str(BIN / "pyshacl"), "-a", "-w", "-s", str(shapes_file(tmp)), str(merged_data)]
    rows = []
    for name, command in (("psm-kg validate", psm), ("pyshacl -a", pyshacl)):
        times = [wall(command, {0, 1}) for _ in range(repeat)]
        rows.append((name, statistics.median(times), min(times)))
    ratio = rows[1][1] / rows[0][1]
    triples = len(Graph().parse(merged_data, format="turtle"))
    lines = [
        f"# psm-kg validate vs pyshacl ({datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, "
        f"Python {platform.python_version()})",
        "",
        f"Bundled ontology + data ({len(files)} files), all shapes, cold process, "
        f"{repeat} runs each; {triples} triples.",
        "",
        "| command | median wall (s) | best (s) |",
        "|---|---|---|",
        *[f"| {name} | {median:.2f} | {best:.2f} |" for name, median, best in rows],
        "",
        f"pyshacl / psm-kg = {ratio:.2f}x (above 1: psm-kg is faster)",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text, end="")


if __name__ == "__main__":
    main()
