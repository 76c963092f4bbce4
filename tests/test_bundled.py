"""The command line on the bundled ontology, shapes and data (the product, not a fixture).

`psm-kg validate` must pass on what ships, fail with exit 1 on every counter-example naming the
shape it trips, and exit 2 with a located one-line message on unreadable input.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from psm_kg.cli import main
from psm_kg.validation import validate_paths

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


# Line numbers: for every counter-example, each result points at the line that starts its focus
# node's description and, when it has a value, at the line holding that value. The expected lines
# are found here by reading the file's text, independently of psm_kg's Turtle index.


def spellings(text: str, iri: str) -> list[str]:
    """How an IRI can be written in this file: <full>, <relative to @base>, prefix:local."""
    written = [f"<{iri}>"]
    base = re.search(r"^@base <([^>]*)>", text, re.MULTILINE)
    if base and iri.startswith(base.group(1)):
        written.append(f"<{iri[len(base.group(1)) :]}>")
    for prefix, namespace in re.findall(r"^@prefix (\w*): <([^>]*)>", text, re.MULTILINE):
        if iri.startswith(namespace) and len(iri) > len(namespace):
            written.append(f"{prefix}:{iri[len(namespace) :]}")
    return written


def literal_spellings(value: str) -> list[str]:
    """'"15140"^^<…#integer>' -> ['"15140"', '15140']: quoted, or bare for numbers."""
    match = re.fullmatch(r'"(.*)"(?:@[\w-]+|\^\^<([^>]*)>)?', value, re.DOTALL)
    assert match, value
    lexical, datatype = match.group(1), match.group(2) or ""
    bare = datatype.endswith(("#integer", "#decimal", "#double", "#boolean"))
    return [f'"{lexical}"', *([lexical] if bare else [])]


def focus_line(lines: list[str], text: str, focus: str) -> int | None:
    """The first line that starts with the focus node, as a statement's subject."""
    for number, line in enumerate(lines, start=1):
        for written in spellings(text, focus):
            if line.startswith(written) and line[len(written) : len(written) + 1] in ("", " "):
                return number
    return None


def value_line(lines: list[str], text: str, start: int, path: str | None, value: str) -> int | None:
    """In the statement starting at ``start``: the first line holding ``value`` that comes at or
    after the line naming ``path``."""
    end = next(n for n in range(start, len(lines) + 1) if lines[n - 1].rstrip().endswith(" ."))
    written = literal_spellings(value) if value.startswith('"') else spellings(text, value)
    predicate = (["a"] if path == RDF_TYPE else spellings(text, path)) if path else []
    seen_predicate = not predicate
    for number in range(start, end + 1):
        words = re.split(r"[\s,;]+", lines[number - 1].strip())
        seen_predicate = seen_predicate or any(p in words for p in predicate)
        if seen_predicate and any(w in lines[number - 1] for w in written):
            return number
    return None


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


@pytest.mark.parametrize("example", INVALID, ids=[p.stem for p in INVALID])
def test_every_counter_example_result_points_at_its_lines(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    lines = text.splitlines()

    report = validate_paths([example])

    results = [r for r in report.results if r.shape.endswith("#" + example.stem)]
    assert results, "the counter-example trips its shape"
    for result in report.results:
        expected = focus_line(lines, text, result.focus_node)
        assert expected is not None, result.focus_node
        assert (result.file, result.line) == (example, expected), result
        if result.value is None:
            assert result.value_line is None
        elif result.value == result.focus_node:  # the node itself is the offending value
            assert result.value_line == expected
        else:
            holding = value_line(lines, text, expected, result.path, result.value)
            assert holding is not None, result.value
            assert result.value_line == holding, result


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
