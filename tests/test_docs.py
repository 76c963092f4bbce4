"""Docs that cannot rot: every command, setting and route is documented, and links resolve."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from psm_kg.app import create_app
from psm_kg.cli import main
from psm_kg.config import Settings, env_key
from psm_kg.store import Store

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def test_the_readme_shows_the_two_commands_first() -> None:
    first_screen = "\n".join(README.splitlines()[:30])
    assert "make serve" in first_screen
    assert "make test" in first_screen


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_a_section_in_docs_cli(command: str) -> None:
    assert f"## `psm-kg {command}" in CLI_DOC


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Settings)])
def test_every_setting_is_documented_as_an_environment_variable(field: str) -> None:
    assert env_key(field) in CLI_DOC


def test_every_route_is_documented(store: Store, built_settings: Settings) -> None:
    app = create_app(built_settings, store=store)
    paths = set(app.openapi()["paths"])
    assert {"/sparql", "/healthz", "/api/queries"} <= paths
    # One route per queries/*.rq: documented once, as the template.
    paths = {"/api/queries/{name}" if p.startswith("/api/queries/") else p for p in paths}
    undocumented = {p for p in paths if f"`GET {p}" not in CLI_DOC and f"`POST {p}" not in CLI_DOC}
    assert not undocumented, f"add these routes to docs/cli.md: {sorted(undocumented)}"


@pytest.mark.parametrize("doc", ["README.md", "docs/cli.md", "docs/model.md"])
def test_every_relative_link_points_to_a_file_that_exists(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)\)", text):
        assert ((ROOT / doc).parent / target).exists(), f"{doc} links to missing {target}"
