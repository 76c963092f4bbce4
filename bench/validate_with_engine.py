"""`psm-kg validate` through the library with a chosen engine, for bench_validate.py.

Used only when the command has no --engine option: the same inputs as the command (the ontology
plus PATHS, every ontology/shapes/*.ttl) and the same exit code; it prints a one-line summary
instead of the full report.
Usage: .venv/bin/python bench/validate_with_engine.py {turbo|pyshacl} ROOT PATH...
"""

from __future__ import annotations

import sys
from pathlib import Path

from psm_kg.validation import Engine, Severity, validate_paths


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    engine, root, paths = Engine(argv[0]), Path(argv[1]), [Path(p) for p in argv[2:]]
    shapes = sorted((root / "ontology" / "shapes").glob("*.ttl"))
    report = validate_paths([root / "ontology" / "psm.ttl", *paths], shapes, engine=engine)
    counts = ", ".join(f"{report.count(s)} {s.value.lower()}s" for s in Severity)
    print(f"{report.files_checked} files, {report.triples} triples: {counts}")
    for error in report.errors:
        print(error, file=sys.stderr)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
