"""The psm-kg command through click's CliRunner, on copies of the fixture tree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import psm_kg
from psm_kg import build
from psm_kg.cli import main
from psm_kg.config import Settings

SETTING_VARIABLES = (
    "PSM_KG_ROOT",
    "PSM_KG_DIST_DIR",
    "PSM_KG_HOST",
    "PSM_KG_PORT",
    "PSM_KG_BASE_IRI",
    "PSM_KG_QUERY_TIMEOUT_S",
    "PSM_KG_MAX_BODY_BYTES",
)


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke the CLI with no PSM_KG_* variables from the developer's shell, plus ``env``."""
    clean: dict[str, str | None] = {key: None for key in os.environ if key.startswith("PSM_KG_")}
    clean.update(env or {})
    return CliRunner().invoke(main, list(args), env=clean, catch_exceptions=False)


def test_help_lists_the_commands_and_every_setting_variable() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("validate", "build", "serve"):
        assert command in result.output
    flat = " ".join(result.output.split())
    for variable in SETTING_VARIABLES:
        assert variable in flat
    fields = {f"PSM_KG_{name.upper()}" for name in Settings.__dataclass_fields__}
    assert fields == set(SETTING_VARIABLES)


@pytest.mark.parametrize(
    ("command", "codes"),
    [("validate", ("0", "1", "2")), ("build", ("0", "2")), ("serve", ("0", "1", "2"))],
)
def test_each_command_documents_its_exit_codes(command: str, codes: tuple[str, ...]) -> None:
    output = run(command, "--help").output
    assert "Exit codes:" in output
    for code in codes:
        assert re.search(rf"^\s+{code}\s+\S", output, re.MULTILINE), code


def test_version_is_the_package_version() -> None:
    assert psm_kg.__version__ in run("--version").output


def test_build_prints_each_graph_with_its_count_then_the_total_and_the_hash(app_tree: Path) -> None:
    result = run("build", "--root", str(app_tree))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    graphs = [line.split() for line in lines if "/milano/graph/" in line]
    assert [iri.rsplit("/", 1)[1] for _count, iri in graphs] == [
        "ontology",
        "plan",
        "shapes",
        "territory",
    ]
    total = next(line for line in lines if line.strip().endswith("total"))
    assert int(total.split()[0]) == sum(int(count) for count, _iri in graphs)
    content_hash = (app_tree / "dist" / build.HASH_FILE).read_text(encoding="ascii").strip()
    assert f"sha256 {content_hash}" in result.stdout


def test_build_out_writes_to_the_given_directory(app_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    assert run("build", "--root", str(app_tree), "--out", str(out)).exit_code == 0
    assert (out / build.NQUADS_FILE).is_file()
    assert not (app_tree / "dist").exists()


def test_build_reads_the_root_from_the_environment(app_tree: Path) -> None:
    assert run("build", env={"PSM_KG_ROOT": str(app_tree)}).exit_code == 0
    assert (app_tree / "dist" / build.NQUADS_FILE).is_file()


def test_build_with_a_syntax_error_exits_2_naming_file_and_line(
    app_tree: Path, app_data: Path
) -> None:
    broken = app_tree / "data" / "plan" / "broken.ttl"
    shutil.copy(app_data / "syntax-error.ttl", broken)
    result = run("build", "--root", str(app_tree))
    assert result.exit_code == 2
    assert f"{broken}:6:" in result.stderr
    assert "Traceback" not in result.output


def test_a_bad_environment_setting_exits_2_naming_the_variable(app_tree: Path) -> None:
    result = run("build", "--root", str(app_tree), env={"PSM_KG_PORT": "eighty"})
    assert result.exit_code == 2
    assert "PSM_KG_PORT='eighty'" in result.stderr


def test_serve_get_prints_the_body_and_exits_0(app_tree: Path) -> None:
    run("build", "--root", str(app_tree))
    result = run("serve", "--root", str(app_tree), "--get", "/healthz")
    assert result.exit_code == 0
    assert result.stdout.startswith('{"status":"ok","triples":')


def test_serve_get_builds_dist_when_it_is_missing(app_tree: Path) -> None:
    result = run("serve", "--root", str(app_tree), "--get", "/healthz")
    assert result.exit_code == 0
    assert "building it first" in result.stderr
    assert (app_tree / "dist" / build.NQUADS_FILE).is_file()


def test_serve_get_runs_a_sparql_query(app_tree: Path) -> None:
    query = "ASK%20%7B%20%3Fs%20a%20%3Chttps%3A%2F%2Fw3id.org%2Fpsm%2Fontology%23Pillar%3E%20%7D"
    result = run("serve", "--root", str(app_tree), "--get", f"/sparql?query={query}")
    assert result.exit_code == 0
    assert '"boolean":true' in result.stdout


def test_serve_get_of_an_error_exits_1_and_prints_the_problem(app_tree: Path) -> None:
    result = run("serve", "--root", str(app_tree), "--get", "/no/such/page")
    assert result.exit_code == 1
    assert '"status":404' in result.stdout


def test_serve_get_needs_a_path_starting_with_a_slash(app_tree: Path) -> None:
    result = run("serve", "--root", str(app_tree), "--get", "healthz")
    assert result.exit_code == 2
    assert "must be a path starting with /" in result.stderr


def test_serve_with_a_syntax_error_in_the_input_exits_2(app_tree: Path, app_data: Path) -> None:
    shutil.copy(app_data / "syntax-error.ttl", app_tree / "data" / "plan" / "broken.ttl")
    result = run("serve", "--root", str(app_tree), "--get", "/healthz")
    assert result.exit_code == 2
    assert "broken.ttl:6:" in result.stderr


# validate: runs psm_kg.validation and psm_kg.report on the fixture tree.


def test_validate_a_conforming_tree_exits_0(app_tree: Path) -> None:
    result = run("validate", "--root", str(app_tree))
    assert result.exit_code == 0, result.output
    assert "conforms" in result.stdout


def test_validate_a_violation_exits_1_and_names_the_file(app_tree: Path, app_data: Path) -> None:
    violating = app_tree / "data" / "plan" / "violation.ttl"
    shutil.copy(app_data / "violation.ttl", violating)
    result = run("validate", "--root", str(app_tree))
    assert result.exit_code == 1
    assert "violation.ttl" in result.stdout
    assert "a pillar needs an English label" in result.stdout


def test_validate_given_paths_checks_only_those(app_tree: Path, app_data: Path) -> None:
    result = run(
        "validate",
        "--root",
        str(app_tree),
        str(app_tree / "ontology" / "psm.ttl"),
        str(app_data / "violation.ttl"),
    )
    assert result.exit_code == 1
    assert "violation.ttl" in result.stdout


def test_validate_an_unparsable_file_exits_2_without_a_traceback(
    app_tree: Path, app_data: Path
) -> None:
    shutil.copy(app_data / "syntax-error.ttl", app_tree / "data" / "plan" / "broken.ttl")
    result = run("validate", "--root", str(app_tree))
    assert result.exit_code == 2
    assert "broken.ttl:6" in result.stdout
    assert "Traceback" not in result.output


def test_validate_a_path_that_does_not_exist_exits_2_naming_it(app_tree: Path) -> None:
    missing = app_tree / "missing.ttl"
    result = run("validate", "--root", str(app_tree), str(missing))
    assert result.exit_code == 2
    assert f"{missing}: no such file or directory" in result.stdout
    assert "Traceback" not in result.output


def test_validate_without_shapes_exits_2_saying_where_it_looked(app_tree: Path) -> None:
    shutil.rmtree(app_tree / "ontology" / "shapes")
    result = run("validate", "--root", str(app_tree))
    assert result.exit_code == 2
    assert "no shapes" in result.stderr


def test_python_dash_m_psm_kg_is_the_same_command() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "psm_kg", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert psm_kg.__version__ in completed.stdout
