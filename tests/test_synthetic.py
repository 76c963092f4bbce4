"""bench/synthetic.py: benchmark data that scales the bundled plan and still follows the shapes.

Each synthetic copy replicates every part of data/ but the PNRR under fresh IRIs. Checked here:
the size (one copy holds the replicated parts' triples, less the owl:sameAs links it drops; two
copies twice that), conformance (0 violations, and exactly the bundled warnings once more per
copy), determinism (same seed, same bytes; copy k independent of the number of copies), and that
nothing is ever written under data/.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pyoxigraph as ox
import pytest

from psm_kg.validation import Engine, Report, Severity, validate_paths

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY = ROOT / "ontology" / "psm.ttl"
SHAPES = sorted((ROOT / "ontology" / "shapes").glob("*.ttl"))
OWL_SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"


def _load_synthetic() -> ModuleType:
    """bench/ is not a package: load bench/synthetic.py by path."""
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "bench" / "synthetic.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["synthetic"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


synthetic = _load_synthetic()


def _triples(paths: list[Path]) -> set[ox.Triple]:
    found: set[ox.Triple] = set()
    for path in paths:
        found.update(quad.triple for quad in ox.parse(path=path, format=ox.RdfFormat.TURTLE))
    return found


def _files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.ttl"))


@pytest.fixture(scope="module")
def two_copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic") / "out"
    synthetic.generate(out, 2, seed=7)
    return out


@pytest.fixture(scope="module")
def bundled_report() -> Report:
    return validate_paths([ONTOLOGY, ROOT / "data"], SHAPES, engine=Engine.TURBO)


def test_one_copy_holds_the_replicated_parts_and_two_copies_twice_as_many(
    tmp_path: Path, two_copies: Path
) -> None:
    replicated = _triples(synthetic.replicated_files())
    same_as = sum(1 for triple in replicated if triple.predicate.value == OWL_SAME_AS)
    one = tmp_path / "one"
    synthetic.generate(one, 1, seed=7)
    one_copy = _triples(_files(one))
    assert len(one_copy) == len(replicated) - same_as
    assert len(_triples(_files(two_copies))) == 2 * len(one_copy)
    # --scale 2: data/ plus one copy is about twice the replicated parts, all of them new triples
    assert not one_copy & replicated
    assert 1.98 < (len(replicated) + len(one_copy)) / len(replicated) <= 2


def test_every_copy_is_written_as_the_files_of_data_except_the_shared_parts(
    two_copies: Path,
) -> None:
    expected = [p.relative_to(ROOT / "data") for p in synthetic.replicated_files()]
    for copy in ("synthetic-001", "synthetic-002"):
        assert [p.relative_to(two_copies / copy) for p in _files(two_copies / copy)] == expected
    assert not any("pnrr" in p.parts for p in _files(two_copies))


def test_the_copies_conform_and_repeat_the_bundled_warnings_once_per_copy(
    two_copies: Path, bundled_report: Report
) -> None:
    report = validate_paths([ONTOLOGY, ROOT / "data", two_copies], SHAPES, engine=Engine.TURBO)
    assert not report.errors
    assert report.count(Severity.VIOLATION) == 0
    assert report.conforms
    # The warnings on the replicated parts (not on the ontology or the PNRR), once more per copy.
    replicated_subjects = {
        triple.subject.value
        for triple in _triples(synthetic.replicated_files())
        if isinstance(triple.subject, ox.NamedNode)
    }
    bundled = Counter((r.severity, r.shape) for r in bundled_report.results)
    per_copy = Counter(
        (r.severity, r.shape) for r in bundled_report.results if r.focus_node in replicated_subjects
    )
    assert per_copy, "the bundled data should draw some warnings on replicated parts"
    expected = bundled + per_copy + per_copy
    assert Counter((r.severity, r.shape) for r in report.results) == expected
    assert report.triples == bundled_report.triples + len(_triples(_files(two_copies)))


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(
    tmp_path: Path, two_copies: Path
) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    synthetic.generate(again, 2, seed=7)
    synthetic.generate(other, 2, seed=8)
    for path in _files(two_copies):
        relative = path.relative_to(two_copies)
        assert (again / relative).read_bytes() == path.read_bytes(), relative
    assert any(
        (other / p.relative_to(two_copies)).read_bytes() != p.read_bytes()
        for p in _files(two_copies)
    )


def test_a_copy_does_not_depend_on_how_many_copies_are_written(
    tmp_path: Path, two_copies: Path
) -> None:
    synthetic.generate(tmp_path / "one", 1, seed=7)
    for path in _files(tmp_path / "one"):
        assert (two_copies / path.relative_to(tmp_path / "one")).read_bytes() == path.read_bytes()


def test_copies_mint_their_own_iris_under_the_canonical_base(two_copies: Path) -> None:
    bundled = _triples([ONTOLOGY, *sorted((ROOT / "data").rglob("*.ttl"))])
    bundled_subjects = {t.subject for t in bundled}
    first = {t.subject for t in _triples(_files(two_copies / "synthetic-001"))}
    second = {t.subject for t in _triples(_files(two_copies / "synthetic-002"))}
    named = {s for s in first | second if isinstance(s, ox.NamedNode)}
    assert not first & second
    assert not first & bundled_subjects
    assert all(s.value.startswith(synthetic.BASE) for s in named)
    assert ox.NamedNode(f"{synthetic.BASE}plan/synthetic-1-2025-2027") in first
    assert ox.NamedNode(f"{synthetic.BASE}pillar/synthetic-2-2025-2027/sostenibilita") in second


def test_a_generated_comune_keeps_its_iri_and_istat_code_in_step(two_copies: Path) -> None:
    istat = "https://w3id.org/psm/ontology#istatCode"
    codes = {
        t.subject.value: t.object.value
        for t in _triples(_files(two_copies / "synthetic-001" / "territory"))
        if t.predicate.value == istat and t.subject.value.startswith(synthetic.BASE + "comune/")
    }
    assert len(codes) == 133
    assert all(
        iri.rsplit("/", 1)[1] == code and code.startswith("301") for iri, code in codes.items()
    )


def test_the_generator_never_writes_under_data() -> None:
    target = ROOT / "data" / "synthetic-test-never-created"
    with pytest.raises(ValueError, match="never written under data/"):
        synthetic.generate(target, 1)
    assert not target.exists()


def test_the_generator_refuses_a_directory_holding_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ValueError, match="holds other things"):
        synthetic.generate(tmp_path, 1)
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_the_command_line_writes_scale_minus_one_copies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert synthetic.main([str(tmp_path / "out"), "--scale", "3", "--seed", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "synthetic-001",
        "synthetic-002",
    ]
    assert capsys.readouterr().out.startswith("2 copies, ")
