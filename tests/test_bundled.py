"""The command line on the bundled ontology, shapes and data (the product, not a fixture).

`psm-kg validate` must pass on what ships, fail with exit 1 on every counter-example naming the
shape it trips, and exit 2 with a located one-line message on unreadable input.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from psm_kg.cli import main

ROOT = Path(__file__).resolve().parents[1]
INVALID = sorted((ROOT / "ontology" / "examples" / "invalid").glob("*.ttl"))
VALID = sorted((ROOT / "ontology" / "examples" / "valid").glob("*.ttl"))


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["validate", "--root", str(ROOT), *args], env={})


def test_the_bundled_ontology_and_data_conform() -> None:
    result = run()
    assert result.exit_code == 0, result.output
    assert "0 violations" in result.stdout


@pytest.mark.parametrize("example", VALID, ids=[p.name for p in VALID])
def test_every_valid_example_exits_0(example: Path) -> None:
    result = run(str(example))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("example", INVALID, ids=[p.stem for p in INVALID])
def test_every_counter_example_exits_1_naming_its_shape(example: Path) -> None:
    # Warning shapes fail only when asked to: --fail-on warning makes every counter-example count.
    result = run("--fail-on", "warning", str(example))
    assert result.exit_code == 1, result.output
    assert f"psmsh:{example.stem}" in result.stdout
    assert str(example.name) in result.stdout


def test_a_counter_example_of_a_violation_shape_fails_without_options() -> None:
    result = run(str(ROOT / "ontology" / "examples" / "invalid" / "Pillar-label-en.ttl"))
    assert result.exit_code == 1
    assert "psmsh:Pillar-label-en" in result.stdout


def test_a_counter_example_of_a_warning_shape_passes_without_options() -> None:
    result = run(str(ROOT / "ontology" / "examples" / "invalid" / "Pillar-description-en.ttl"))
    assert result.exit_code == 0
    assert "1 warning" in result.stdout


BAD_INPUT = [
    ("missing.ttl", None, "missing.ttl: no such file or directory"),
    ("notes", {"a.txt": b"hello\n", "b.csv": b"x,y\n"}, "no RDF files here"),
    ("latin1.ttl", b'<http://e/a> <http://e/b> "caf\xe9" .\n', "latin1.ttl:1:31: invalid UTF-8"),
    (
        "syntax.ttl",
        b"@prefix ex: <http://e/> .\nex:a ex:b ex:c\nex:d ex:e ex:f .\n",
        "syntax.ttl:3:1: expected '.'",
    ),
    (
        "prefix.ttl",
        b"foo:a <http://e/b> <http://e/c> .\n",
        'prefix.ttl:1:1: undefined prefix "foo:"',
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "expected"), BAD_INPUT, ids=[name for name, *_ in BAD_INPUT]
)
def test_bad_input_exits_2_with_a_located_one_line_message(
    tmp_path: Path, name: str, content: bytes | dict[str, bytes] | None, expected: str
) -> None:
    target = tmp_path / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    elif isinstance(content, dict):
        target.mkdir()
        for file, data in content.items():
            (target / file).write_bytes(data)
    result = run(str(target))
    assert result.exit_code == 2
    assert expected in result.stdout
    assert "Traceback" not in result.output
    assert "not validated" in result.stdout


def test_a_bad_file_does_not_hide_the_problems_of_the_others(tmp_path: Path) -> None:
    (tmp_path / "a.ttl").write_bytes(b"foo:a <http://e/b> <http://e/c> .\n")
    (tmp_path / "b.ttl").write_bytes(b"<http://e/a> <http://e/b> .\n")
    result = run(str(tmp_path))
    assert result.exit_code == 2
    assert "a.ttl:1:1" in result.stdout
    assert "b.ttl:1:" in result.stdout


def test_build_writes_one_named_graph_per_part_with_its_triple_count(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["build", "--root", str(ROOT), "--out", str(tmp_path / "dist")], env={}
    )
    assert result.exit_code == 0, result.output
    graphs = json.loads((tmp_path / "dist" / "graphs.json").read_text(encoding="utf-8"))
    parts = {iri.rsplit("/", 1)[1] for iri in graphs["graphs"]}
    folders = {p.name for p in (ROOT / "data").iterdir() if p.is_dir()}
    assert parts == folders | {"ontology", "shapes"}
    assert sum(graphs["graphs"].values()) == graphs["total"]
