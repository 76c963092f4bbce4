"""The parse cache of context files: a hit skips parsing and changes no result; a change misses."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from psm_kg.cli import main
from psm_kg.config import load_settings
from psm_kg.validation import Report, Severity, validate_paths

ROOT = Path(__file__).resolve().parents[1]
CHANGED = Path("data") / "psttm-2025-2027" / "missions.ttl"
INVALID = ROOT / "ontology" / "examples" / "invalid" / "Driver-objective.ttl"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the bundled data/, as the repository a pre-commit hook runs in."""
    shutil.copytree(ROOT / "data", tmp_path / "repo" / "data")
    return tmp_path / "repo"


def entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("*.pickle")) if cache_dir.is_dir() else []


def incremental(tree: Path, cache_dir: Path | None) -> Report:
    return validate_paths([tree / CHANGED], context=[tree], cache_dir=cache_dir)


def break_without_changing_the_stat(path: Path) -> None:
    """Same size and modification time, but no longer Turtle: only a parse can tell."""
    status = path.stat()
    path.write_bytes(b"!" * status.st_size)  # a syntax error on line 1
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def a_context_file(tree: Path) -> Path:
    return next(path for path in sorted((tree / "data").rglob("*.ttl")) if path != tree / CHANGED)


def test_a_second_run_with_an_unchanged_context_reads_it_from_the_cache_without_parsing(
    tree: Path, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "cache"
    first = incremental(tree, cache_dir)
    assert len(entries(cache_dir)) == 1
    # A context file that no longer parses, with its size and mtime kept: a hit does not see it.
    break_without_changing_the_stat(a_context_file(tree))
    assert incremental(tree, cache_dir) == first
    assert incremental(tree, None).errors  # parsed, the broken file is an input error


def test_bundled_data_give_the_same_report_with_and_without_the_cache(
    tree: Path, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "cache"
    uncached = incremental(tree, None)
    filling = incremental(tree, cache_dir)
    cached = incremental(tree, cache_dir)
    assert uncached == filling == cached
    assert not uncached.errors
    assert uncached.count(Severity.WARNING) > 0


def test_an_invalid_example_with_the_whole_tree_as_context_gives_the_same_results_from_the_cache(
    tmp_path: Path,
) -> None:
    cache_dir = tmp_path / "cache"

    def run(cache: Path | None) -> Report:
        return validate_paths([INVALID], context=[ROOT / "data"], cache_dir=cache)

    uncached, filling, cached = run(None), run(cache_dir), run(cache_dir)
    assert len(entries(cache_dir)) == 1
    assert uncached.count(Severity.VIOLATION) > 0
    assert uncached == filling == cached
    assert all(result.file == INVALID for result in cached.results)
    assert any(result.value_line is not None for result in cached.results)


def test_touching_a_context_file_makes_a_new_entry(tree: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    incremental(tree, cache_dir)
    touched = a_context_file(tree)
    status = touched.stat()
    os.utime(touched, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000))
    incremental(tree, cache_dir)
    assert len(entries(cache_dir)) == 2


def test_a_touched_context_file_is_parsed_again(tree: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    incremental(tree, cache_dir)
    broken = a_context_file(tree)
    break_without_changing_the_stat(broken)
    status = broken.stat()
    os.utime(broken, ns=(status.st_atime_ns, status.st_mtime_ns + 1))
    report = incremental(tree, cache_dir)
    assert [error.path for error in report.errors] == [broken]


@pytest.mark.parametrize(
    "content", [b"", b"not a pickle", b"\x80\x05K\x01."], ids=["empty", "garbage", "an int"]
)
def test_a_corrupt_cache_entry_is_ignored_and_the_context_parsed_again(
    tree: Path, tmp_path: Path, content: bytes
) -> None:
    cache_dir = tmp_path / "cache"
    expected = incremental(tree, cache_dir)
    (entry,) = entries(cache_dir)
    entry.write_bytes(content)
    assert incremental(tree, cache_dir) == expected
    assert entry.stat().st_size > len(content)  # written again, whole


def test_data_files_are_never_part_of_the_cache(tree: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    incremental(tree, cache_dir)
    # The changed file is data: editing it keeps the entry, and the edit is seen.
    changed = tree / CHANGED
    changed.write_text(changed.read_text(encoding="utf-8") + "\n!", encoding="utf-8")
    report = incremental(tree, cache_dir)
    assert [error.path for error in report.errors] == [changed]
    assert len(entries(cache_dir)) == 1


def test_only_the_newest_entries_are_kept(tree: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    touched = a_context_file(tree)
    for step in range(10):
        status = touched.stat()
        os.utime(touched, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000 * (step + 1)))
        incremental(tree, cache_dir)
    assert len(entries(cache_dir)) == 8


def test_validate_without_no_cache_fills_the_configured_cache_dir(
    tree: Path, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "cache"
    result = CliRunner().invoke(
        main,
        ["validate", "--context", str(tree), str(tree / CHANGED)],
        env={"PSM_KG_CACHE_DIR": str(cache_dir)},
    )
    assert result.exit_code == 0, result.output
    assert len(entries(cache_dir)) == 1


def test_no_cache_never_writes_the_cache_dir(tree: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    result = CliRunner().invoke(
        main,
        ["validate", "--no-cache", "--context", str(tree), str(tree / CHANGED)],
        env={"PSM_KG_CACHE_DIR": str(cache_dir)},
    )
    assert result.exit_code == 0, result.output
    assert not cache_dir.exists()


def test_the_cache_dir_defaults_to_xdg_cache_home_then_the_home_cache(tmp_path: Path) -> None:
    assert load_settings(env={"XDG_CACHE_HOME": str(tmp_path)}).cache_dir == tmp_path / "psm-kg"
    home_cache = Path.home() / ".cache" / "psm-kg"
    assert load_settings(env={"XDG_CACHE_HOME": "relative"}).cache_dir == home_cache
    assert load_settings(env={}).cache_dir == home_cache
    chosen = tmp_path / "elsewhere"
    assert load_settings(env={"PSM_KG_CACHE_DIR": str(chosen)}).cache_dir == chosen
