"""The pre-commit hook, for real: the `pre-commit` tool runs `psm-kg-validate` in a git repository.

pre-commit installs a python hook by cloning the hook repository at a rev and pip-installing it
into a fresh virtualenv, so it never sees uncommitted changes. To test this working tree, the
files a wheel needs (pyproject.toml, src/, ontology/, .pre-commit-hooks.yaml) are committed to a
snapshot repository first, and a test repository's .pre-commit-config.yaml points at it.
(`pre-commit try-repo` would include uncommitted changes too, but it installs the environment
afresh on every call, about 40 s each here; one config and one PRE_COMMIT_HOME install it once.)

Installing needs the package index for the dependencies. When `pre-commit` or `git` is missing,
or nothing could be installed, the tests skip with the reason, except under CI=true, where they
fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VALID_EXAMPLE = ROOT / "ontology" / "examples" / "valid" / "plan-edition.ttl"
INSTALL_TIMEOUT_S = 900  # the first run creates the hook's virtualenv
RUN_TIMEOUT_S = 300
IN_CI = os.environ.get("CI", "").lower() == "true"
HOOK_ID = "psm-kg-validate"


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"pre-commit hook test cannot run under CI: {reason}")
    pytest.skip(reason)


def find_tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        unavailable(f"{name} is not installed")
    assert found is not None
    return found


def git(cwd: Path, *args: str) -> str:
    identity = ["-c", "user.name=psm-kg tests", "-c", "user.email=tests@psm-kg.invalid"]
    done = subprocess.run(
        ["git", *identity, *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


@dataclass
class HookRepository:
    """A git repository whose .pre-commit-config.yaml uses psm-kg-validate from this tree."""

    path: Path
    pre_commit: str
    env: dict[str, str]
    pillar: str = ""  # a pillar that conforms once edition.ttl is loaded as context

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.write_text(text, encoding="utf-8")
        git(self.path, "add", name)
        return target

    def pre_commit_run(self, *args: str, timeout: int) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [self.pre_commit, *args],
                cwd=self.path,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"pre-commit {args[0]} did not finish within {timeout} s")

    def run_hook(self, *files: str) -> subprocess.CompletedProcess[str]:
        return self.pre_commit_run("run", HOOK_ID, "--files", *files, timeout=RUN_TIMEOUT_S)


def snapshot_of_this_tree(destination: Path) -> str:
    """Commit what pip needs to install psm-kg from this working tree; return the commit."""
    destination.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, destination / name)
    skip = shutil.ignore_patterns("*.egg-info", "__pycache__")
    for folder in ("src", "ontology"):
        # The profile links (src/psm_kg/profiles/psm -> ontology/shapes) stay links.
        shutil.copytree(ROOT / folder, destination / folder, symlinks=True, ignore=skip)
    git(destination, "init", "-q")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "snapshot of the working tree")
    return git(destination, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def hook_repository(tmp_path_factory: pytest.TempPathFactory) -> HookRepository:
    pre_commit = find_tool("pre-commit")
    find_tool("git")
    base = tmp_path_factory.mktemp("precommit")
    rev = snapshot_of_this_tree(base / "psm-kg")
    repository = base / "data-repository"
    repository.mkdir()
    git(repository, "init", "-q")
    (repository / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {base / 'psm-kg'}\n    rev: {rev}\n    hooks:\n      - id: {HOOK_ID}\n",
        encoding="utf-8",
    )
    git(repository, "add", ".pre-commit-config.yaml")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PSM_KG_")}
    env["PRE_COMMIT_HOME"] = str(base / "pre-commit-home")
    # The rest of the repository, committed: sources, organisations, the edition, the schemes.
    example = VALID_EXAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    split = next(i for i, line in enumerate(example) if line.startswith("<pillar/"))
    prefixes = "".join(line for line in example if line.startswith("@"))
    pillar = prefixes + "\n" + "".join(example[split : split + 9])
    hook = HookRepository(repository, pre_commit, env, pillar)
    hook.write("edition.ttl", "".join(example[:split]))
    git(repository, "commit", "-q", "-m", "the edition")
    installed = hook.pre_commit_run("install-hooks", timeout=INSTALL_TIMEOUT_S)
    if installed.returncode != 0:
        unavailable(f"the hook's environment could not be installed: {installed.stdout[-2000:]}")
    return hook


def test_a_good_file_passes_with_the_rest_of_the_repository_as_context(
    hook_repository: HookRepository,
) -> None:
    # The pillar refers to the edition, its scheme and its source, all in edition.ttl: without
    # that file as context it would have three violations.
    hook_repository.write("pillar.ttl", hook_repository.pillar)

    done = hook_repository.run_hook("pillar.ttl")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed" in done.stdout


def test_a_violation_fails_naming_the_shape(hook_repository: HookRepository) -> None:
    english_dropped = hook_repository.pillar.replace("sostenibilita>", "senza-inglese>").replace(
        '"sostenibilità"@it , "sustainability"@en ;', '"sostenibilità"@it ;', 1
    )
    hook_repository.write("no-english-label.ttl", english_dropped)

    done = hook_repository.run_hook("no-english-label.ttl")

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Failed" in done.stdout
    assert "- exit code: 1" in done.stdout
    assert "no-english-label.ttl:" in done.stdout
    assert "psmsh:Pillar-label-en" in done.stdout


def test_a_syntax_error_fails_naming_file_line_and_column(hook_repository: HookRepository) -> None:
    hook_repository.write(
        "broken.ttl", "@prefix ex: <http://e/> .\nex:a ex:b ex:c\nex:d ex:e ex:f .\n"
    )

    done = hook_repository.run_hook("broken.ttl")

    assert done.returncode == 1, done.stdout + done.stderr  # pre-commit's own code for "failed"
    assert "- exit code: 2" in done.stdout
    assert "broken.ttl:3:1: expected '.'" in done.stdout
