"""The psm-kg command through click's CliRunner, on copies of the fixture tree."""

from __future__ import annotations

import json
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
    "PSM_KG_QUERY_WORKERS",
    "PSM_KG_MAX_RESULT_BYTES",
    "PSM_KG_RESULT_CACHE_BYTES",
    "PSM_KG_CACHE_MAX_AGE_S",
    "PSM_KG_SERVICE_ALLOWLIST",
    "PSM_KG_CORS_ORIGINS",
    "PSM_KG_ACCESS_LOG",
    "PSM_KG_CACHE_DIR",
    "PSM_KG_STORE_URL",
    "PSM_KG_STORE_WAIT_S",
    "PSM_KG_ROOT_PATH",
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
    [
        ("validate", ("0", "1", "2")),
        ("build", ("0", "2")),
        ("serve", ("0", "1", "2")),
        ("query", ("0", "1", "2")),
    ],
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


# validate: runs psm_kg.validation and psm_kg.reports on the fixture tree, whose own shapes
# (tree/ontology/shapes/) replace the psm profile's with --shapes.


def validate_tree(tree: Path, *args: str, stdin: str | None = None) -> Result:
    shapes = str(tree / "ontology" / "shapes")
    clean: dict[str, str | None] = {key: None for key in os.environ if key.startswith("PSM_KG_")}
    return CliRunner().invoke(
        main,
        ["validate", "--root", str(tree), "--shapes", shapes, *args],
        input=stdin,
        env=clean,
        catch_exceptions=False,
    )


def test_validate_a_conforming_tree_exits_0(app_tree: Path) -> None:
    result = validate_tree(app_tree)
    assert result.exit_code == 0, result.output
    assert "conforms" in result.stdout


def test_validate_a_violation_exits_1_and_names_the_file(app_tree: Path, app_data: Path) -> None:
    violating = app_tree / "data" / "plan" / "violation.ttl"
    shutil.copy(app_data / "violation.ttl", violating)
    result = validate_tree(app_tree)
    assert result.exit_code == 1
    assert f"{violating}:5: Violation" in result.stdout
    assert "a pillar needs an English label" in result.stdout


def test_validate_given_paths_checks_only_those(app_tree: Path, app_data: Path) -> None:
    result = validate_tree(app_tree, str(app_data / "violation.ttl"))
    assert result.exit_code == 1
    assert "violation.ttl" in result.stdout
    assert "1 file," in result.stdout


def test_validate_an_unparsable_file_exits_2_without_a_traceback(
    app_tree: Path, app_data: Path
) -> None:
    shutil.copy(app_data / "syntax-error.ttl", app_tree / "data" / "plan" / "broken.ttl")
    result = validate_tree(app_tree)
    assert result.exit_code == 2
    assert "broken.ttl:6" in result.stdout
    assert "Traceback" not in result.output


def test_validate_a_path_that_does_not_exist_exits_2_naming_it(app_tree: Path) -> None:
    missing = app_tree / "missing.ttl"
    result = validate_tree(app_tree, str(missing))
    assert result.exit_code == 2
    assert f"{missing}: no such file or directory" in result.stdout
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "schema-org"], "unknown profile 'schema-org': use one of psm, dcat-ap,"),
        (["--format", "xml"], "unknown format 'xml': use one of text, json, turtle, junit,"),
        (["--engine", "jena"], "unknown engine 'jena': use one of turbo, pyshacl"),
        (["--shapes", "no-such-shapes.ttl"], "shapes file no-such-shapes.ttl: no such file"),
        (["-", "-"], "- (standard input) can be given once"),
    ],
    ids=["profile", "format", "engine", "shapes-file", "stdin-twice"],
)
def test_validate_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = run("validate", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: " + message)
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_validate_lists_the_same_choices_as_the_library() -> None:
    from psm_kg import cli, profiles, reports
    from psm_kg.engines import Engine

    assert cli.REPORT_FORMATS == reports.FORMATS
    assert tuple(profiles.PROFILES) == cli.PROFILE_NAMES
    assert tuple(engine.value for engine in Engine) == cli.ENGINE_NAMES


def test_validate_dash_reads_turtle_from_stdin(app_tree: Path, app_data: Path) -> None:
    turtle = (app_data / "violation.ttl").read_text(encoding="utf-8")
    result = validate_tree(app_tree, "-", stdin=turtle)
    assert result.exit_code == 1, result.output
    assert "<stdin>:5: Violation" in result.stdout


def test_validate_a_syntax_error_on_stdin_is_located_in_stdin(app_tree: Path) -> None:
    result = validate_tree(app_tree, "-", stdin="@prefix ex: <http://e/> .\nex:a ex:b .\n")
    assert result.exit_code == 2
    assert "<stdin>:2:" in result.stdout


def test_validate_format_json_writes_json(app_tree: Path, app_data: Path) -> None:
    result = validate_tree(app_tree, "--format", "json", str(app_data / "violation.ttl"))
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    assert "Violation" in result.stdout


def test_validate_does_not_report_focus_nodes_of_context_files(
    app_tree: Path, app_data: Path
) -> None:
    # The violating pillar sits in the context: it is loaded, but its results are not reported.
    context = app_tree / "context"
    context.mkdir()
    shutil.copy(app_data / "violation.ttl", context / "other-pillars.ttl")
    edition = app_tree / "data" / "plan" / "edition.ttl"
    result = validate_tree(app_tree, str(edition), "--context", str(context))
    assert result.exit_code == 0, result.output
    assert "1 file," in result.stdout


@pytest.mark.parametrize(
    "args",
    [["--engine", "pyshacl"], ["--jobs", "2"]],
    ids=["reference-engine", "two-processes"],
)
def test_validate_engine_and_jobs_do_not_change_the_report(
    app_tree: Path, app_data: Path, args: list[str]
) -> None:
    for number in range(10):  # enough files for --jobs to start a process pool
        shutil.copy(app_data / "violation.ttl", app_tree / "data" / "plan" / f"v{number}.ttl")
    plain = validate_tree(app_tree, "--format", "json")
    varied = validate_tree(app_tree, "--format", "json", *args)
    assert plain.exit_code == varied.exit_code == 1
    assert json.loads(varied.stdout) == json.loads(plain.stdout)


def test_python_dash_m_psm_kg_is_the_same_command() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "psm_kg", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert psm_kg.__version__ in completed.stdout


# query and validate --queries: the fixture tree with the named queries of test_api.py.


def query_tree(tree: Path) -> Path:
    from test_api import TEST_QUERIES

    for name, text in TEST_QUERIES.items():
        (tree / "queries" / f"{name}.rq").write_text(text, encoding="utf-8")
    return tree


def test_query_writes_the_json_rows_of_a_named_query(app_tree: Path) -> None:
    result = run("query", "find-pillars", "--root", str(query_tree(app_tree)))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["label"] for row in rows] == ["Innovazione", "Sostenibilità"]
    assert "building it first" in result.stderr


def test_query_binds_params_and_writes_the_chosen_format(app_tree: Path) -> None:
    query_tree(app_tree)
    args = ["--param", "lang=en", "--param", "text=SUS", "--format", "csv"]
    result = run("query", "find-pillars", *args, "--root", str(app_tree))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "edition,text,lang,pillar,label",
        "https://w3id.org/psm/milano/id/plan/psttm-2025-2027,SUS,en,"
        "https://w3id.org/psm/milano/id/pillar/2025-2027/sostenibilita,Sustainability",
    ]


def test_query_without_limit_joins_every_page(
    app_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from psm_kg import query_command

    query_tree(app_tree)
    whole = run("query", "labels-of", "--format", "tsv", "--root", str(app_tree))
    monkeypatch.setattr(query_command, "WHOLE_PAGE", 1)
    for fmt in ("tsv", "json", "csv", "srj"):
        paged = run("query", "labels-of", "--format", fmt, "--root", str(app_tree))
        one = run("query", "labels-of", "--format", fmt, "--limit", "1000", "--root", str(app_tree))
        assert paged.exit_code == 0, paged.output
        assert paged.stdout_bytes == one.stdout_bytes, fmt
    assert run("query", "labels-of", "--format", "tsv", "--root", str(app_tree)).stdout == (
        whole.stdout
    )
    assert len(whole.stdout.splitlines()) > 3


def test_query_limit_and_offset_give_one_page(app_tree: Path) -> None:
    query_tree(app_tree)
    first = run("query", "labels-of", "--limit", "1", "--root", str(app_tree))
    second = run("query", "labels-of", "--limit", "1", "--offset", "1", "--root", str(app_tree))
    both = run("query", "labels-of", "--limit", "2", "--root", str(app_tree))
    assert json.loads(first.stdout) + json.loads(second.stdout) == json.loads(both.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compute-numbers", "--param", "n=many"], "'n'"),
        (["compute-numbers", "--param", "day=2025-13-01"], "'day'"),
        (["compute-numbers", "--param", "nope=1"], "'nope'"),
        (["compute-numbers", "--param", "n"], "NAME=VALUE"),
        (["pillar-graph"], "'pillar'"),
        (["no-such-query"], "no named query 'no-such-query'"),
        (["compute-numbers", "--format", "xyz"], "unknown format 'xyz'"),
        (["pillar-graph", "--param", "pillar=x:y", "--format", "csv"], "available"),
        (["is-pillar", "--limit", "1"], "'limit'"),
        (["compute-numbers", "--endpoint", "ftp://x"], "--endpoint"),
    ],
    ids=[
        "integer",
        "date",
        "unknown parameter",
        "no equals sign",
        "required",
        "unknown query",
        "unknown format",
        "format of another form",
        "limit on a fixed query",
        "endpoint not http",
    ],
)
def test_query_usage_errors_exit_2_naming_the_problem(
    app_tree: Path, args: list[str], message: str
) -> None:
    result = run("query", *args, "--root", str(query_tree(app_tree)))
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_query_on_an_endpoint_nobody_answers_exits_1() -> None:
    from live_server import free_port

    result = run("query", "list-pillars", "--endpoint", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert "cannot reach" in result.stderr


@pytest.mark.e2e
def test_query_endpoint_asks_a_running_server_and_answers_as_the_bundled_data(
    app_tree: Path,
) -> None:
    from live_server import live_server

    query_tree(app_tree)
    local = run("query", "find-pillars", "--param", "lang=en", "--root", str(app_tree))
    with live_server(app_tree) as server:
        remote = run("query", "find-pillars", "--param", "lang=en", "--endpoint", server.base_url)
        assert remote.exit_code == 0, remote.output
        assert remote.stdout == local.stdout
        graph = run(
            "query",
            "pillar-graph",
            "--param",
            "pillar=https://w3id.org/psm/milano/id/pillar/2025-2027/innovazione",
            "--format",
            "nt",
            "--endpoint",
            server.base_url + "/",
        )
        assert graph.exit_code == 0, graph.output
        assert "<https://w3id.org/psm/ontology#Pillar>" in graph.stdout
        wrong = run("query", "compute-numbers", "--param", "n=x", "--endpoint", server.base_url)
        assert wrong.exit_code == 2
        assert "'n'" in wrong.stderr


def test_validate_queries_passes_on_good_query_files(app_tree: Path) -> None:
    result = run("validate", "--queries", "--root", str(query_tree(app_tree)))
    # The fixture tree's own two queries declare no examples: one problem each.
    assert result.exit_code == 1
    problems = result.stdout.splitlines()
    assert {Path(line.split(":", 1)[0]).name for line in problems} == {
        "describe-edition.rq",
        "list-pillars.rq",
    }
    for name in ("describe-edition", "list-pillars"):
        (app_tree / "queries" / f"{name}.rq").unlink()
    result = run("validate", "--queries", "--root", str(app_tree))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "0 problems" in result.stderr


def test_validate_queries_reports_each_problem_as_file_line_message(app_tree: Path) -> None:
    query_tree(app_tree)
    broken = app_tree / "queries" / "find-broken.rq"
    broken.write_text(
        "# summary: Broken\n# description: Not SPARQL.\nSELECT ?x WHERE {\n", encoding="utf-8"
    )
    failing = app_tree / "queries" / "find-pillars.rq"
    failing.write_text(
        failing.read_text(encoding="utf-8").replace("# expect: 1 rows", "# expect: 7 rows"),
        encoding="utf-8",
    )
    result = run("validate", "--queries", "--root", str(app_tree))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(re.match(rf"{re.escape(str(broken))}:\d+: ", line) for line in lines), lines
    expect_line = failing.read_text(encoding="utf-8").splitlines().index("# expect: 7 rows") + 1
    assert any(line.startswith(f"{failing}:{expect_line}: ") for line in lines), lines


def test_validate_queries_takes_no_paths(app_tree: Path) -> None:
    result = run("validate", "--queries", "data", "--root", str(app_tree))
    assert result.exit_code == 2
    assert "--queries" in result.stderr
