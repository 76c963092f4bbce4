"""Every queries/*.rq runs against the bundled plan and gives the answer the sources support.

These tests read the real ontology/ and data/ (the product), built once into a temporary dist/.
Each query's own examples (its ``# example:`` and ``# expect:`` header lines) are checked here too,
through the same function as ``psm-kg validate --queries``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from psm_kg import formats
from psm_kg.build import build_dist
from psm_kg.config import Settings, load_settings
from psm_kg.named_queries import NamedQuery, bind, check_query_files, load_named_queries
from psm_kg.sparql_text import QueryForm
from psm_kg.store import QueryKind, Store

ROOT = Path(__file__).resolve().parents[1]
QUERIES = sorted((ROOT / "queries").glob("*.rq"))
ID = "https://w3id.org/psm/milano/id/"


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Store:
    settings: Settings = load_settings(
        env={}, root=ROOT, dist_dir=tmp_path_factory.mktemp("dist") / "dist"
    )
    build_dist(settings)
    return Store.from_dist(settings.dist_dir)


@pytest.fixture(scope="module")
def named() -> dict[str, NamedQuery]:
    queries, problems = load_named_queries(ROOT / "queries")
    assert not problems, [str(problem) for problem in problems]
    return {query.name: query for query in queries}


def select(store: Store, name: str, **params: str) -> list[dict[str, Any]]:
    """The rows of a named SELECT query called with ``params`` (else its defaults), each a dict
    of variable -> lexical value."""
    queries, _ = load_named_queries(ROOT / "queries")
    query = next(q for q in queries if q.name == name.removesuffix(".rq"))
    outcome = store.query(query.text, timeout_s=10, substitutions=bind(query, params))
    assert outcome.kind is QueryKind.SOLUTIONS
    body = json.loads(outcome.serialize(formats.SPARQL_JSON))
    return [{k: v["value"] for k, v in row.items()} for row in body["results"]["bindings"]]


def column(rows: list[dict[str, Any]], name: str) -> list[Any]:
    return [row.get(name) for row in rows]


@pytest.mark.parametrize("path", QUERIES, ids=[p.name for p in QUERIES])
def test_every_query_has_a_header_with_summary_description_and_result(path: Path) -> None:
    header = [
        line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")
    ]
    keys = {line[1:].split(":", 1)[0].strip() for line in header if ":" in line}
    assert {"summary", "description", "result"} <= keys, f"{path.name}: header has {keys}"


def test_every_query_loads_as_a_named_query(named: dict[str, NamedQuery]) -> None:
    assert sorted(named) == [path.stem for path in QUERIES]


def test_every_query_gives_the_answers_its_examples_assert(bundled: Store) -> None:
    problems = check_query_files(ROOT / "queries", bundled)
    assert not problems, "\n".join(str(problem) for problem in problems)


@pytest.mark.parametrize("path", QUERIES, ids=[p.name for p in QUERIES])
def test_every_query_has_an_example_with_an_answer(
    bundled: Store, named: dict[str, NamedQuery], path: Path
) -> None:
    query = named[path.stem]
    assert query.examples, f"{path.name} has no example"
    outcome = bundled.query(
        query.text, timeout_s=10, substitutions=bind(query, query.examples[0].params)
    )
    body = outcome.serialize(outcome.formats[0])
    if outcome.kind is QueryKind.SOLUTIONS:
        assert json.loads(body)["results"]["bindings"], f"{path.name} returned no rows"
    elif outcome.kind is QueryKind.GRAPH:
        assert body.strip(), f"{path.name} returned nothing"


def test_there_are_at_least_sixteen_queries_of_every_form_but_describe(
    named: dict[str, NamedQuery],
) -> None:
    assert len(named) >= 16
    assert {query.form for query in named.values()} >= {
        QueryForm.SELECT,
        QueryForm.ASK,
        QueryForm.CONSTRUCT,
    }


def test_every_parameter_has_a_description_and_a_value_to_try(
    named: dict[str, NamedQuery],
) -> None:
    for query in named.values():
        for parameter in query.parameters:
            assert parameter.description, (query.name, parameter.name)
            assert parameter.default or parameter.example, (query.name, parameter.name)


def test_the_2025_edition_has_the_five_pillars_of_the_press_release(bundled: Store) -> None:
    rows = select(bundled, "list-pillars.rq")
    assert sorted(column(rows, "label_it")) == sorted(
        ["sostenibilità", "connettività", "prossimità", "inclusione", "attrattività"]
    )
    assert sorted(column(rows, "label_en")) == sorted(
        ["sustainability", "connectivity", "proximity", "inclusion", "attractiveness"]
    )


def test_the_six_missions_align_by_name_with_pnrr_m1_to_m6(bundled: Store) -> None:
    rows = select(bundled, "list-missions.rq")
    assert [(r["label_it"], r["pnrr_code"]) for r in rows] == [
        ("digitalizzazione e innovazione", "M1"),
        ("transizione ecologica", "M2"),
        ("infrastrutture per la mobilità sostenibile", "M3"),
        ("istruzione e ricerca", "M4"),
        ("inclusione e coesione", "M5"),
        ("salute", "M6"),
    ]
    # No source states the correspondence mission by mission: every one is marked as derived.
    assert set(column(rows, "derived")) == {"true"}


def test_ten_drivers_nine_with_an_objective_taken_from_their_stated_purpose(
    bundled: Store,
) -> None:
    rows = select(bundled, "list-drivers.rq")
    assert len({r["driver"] for r in rows}) == 10
    with_objective = [r for r in rows if "objective" in r]
    assert len(with_objective) == 9
    assert set(column(with_objective, "derived")) == {"true"}
    without = [r["driver_label"] for r in rows if "objective" not in r]
    assert without == ["Governo degli spazi della produzione e della logistica"]
    assert "Campus metropolitano smart" in column(rows, "driver_label")


def test_pnrr_alignment_lists_the_sixteen_components_of_m1_to_m6(bundled: Store) -> None:
    rows = select(bundled, "list-pnrr-alignment.rq")
    codes = column(rows, "component_code")
    assert len(codes) == 16
    assert codes[0] == "M1C1"
    assert codes[-1] == "M6C2"
    assert "M7" not in column(rows, "pnrr_code")


def test_compare_editions_shows_sustainability_changed_and_unknown_2022_drivers(
    bundled: Store,
) -> None:
    rows = select(bundled, "compare-editions.rq")
    assert set(column(rows, "previous")) == {ID + "plan/psttm-2022-2024"}
    unchanged = [r for r in rows if r["change"] == "unchanged name"]
    # 5 pillars + 6 missions + the 5 Drivers the 2023 sources name.
    assert len(unchanged) == 16
    drivers_only_2025 = [
        r["label_new"]
        for r in rows
        if r["kind"] == "driver" and r["change"] == "only in this edition"
    ]
    assert len(drivers_only_2025) == 5
    sustainability = next(r for r in unchanged if r["label_new"] == "Sustainability")
    assert "ecologica" in sustainability["description_new"]
    assert "digitale" in sustainability["description_old"]
    assert not [r for r in rows if r["change"] == "only in the previous edition"]


def test_the_2025_approval_path_runs_forum_conferenza_consiglio(bundled: Store) -> None:
    rows = select(bundled, "list-approval-path.rq")
    assert set(column(rows, "edition")) == {ID + "plan/psttm-2025-2027"}
    assert [r["step"].removeprefix(ID + "approval-step/psttm-2025-2027-") for r in rows] == [
        "forum-metropolitano",
        "approvazione",
        "conferenza-metropolitana",  # no date in any source: sorts last
    ]
    forum, approval, conferenza = rows
    assert forum["date"] == "2025-02-27"
    assert forum["date_inferred"] == "false"
    assert approval["date"] == "2025-05-29"
    assert approval["date_inferred"] == "true"
    assert "date" not in conferenza


def test_the_2016_approval_carries_its_resolution_number_and_votes(bundled: Store) -> None:
    rows = select(bundled, "list-approval-path.rq", edition=ID + "plan/psttm-2016-2018")
    approval = next(r for r in rows if r["date"] == "2016-05-12")
    assert (approval["deliberation"], approval["in_favour"], approval["against"]) == (
        "27",
        "13",
        "5",
    )


def test_the_sud_est_zone_has_its_fifteen_known_comuni(bundled: Store) -> None:
    rows = select(bundled, "list-zone-comuni.rq")
    assert len(rows) == 15
    assert set(column(rows, "declared_count")) == {"15"}
    assert all(len(code) == 6 and code.startswith("015") for code in column(rows, "istat"))


def test_the_sources_of_the_2025_edition_are_the_press_release_and_the_forum_article(
    bundled: Store,
) -> None:
    rows = select(bundled, "list-fact-sources.rq")
    assert sorted(r["notation"] for r in rows if "notation" in r) == ["S0", "S1"]


def test_every_derived_statement_names_one_of_the_four_methods(bundled: Store) -> None:
    rows = select(bundled, "list-derived-statements.rq")
    assert set(column(rows, "method")) == {"all"}
    assert set(column(rows, "notation")) <= {
        "name-match",
        "date-inference",
        "purpose-phrase",
        "count-consistency",
    }
    assert len(rows) >= 30


def test_the_plan_has_four_editions_in_order(bundled: Store) -> None:
    rows = select(bundled, "list-editions.rq")
    assert column(rows, "start") == ["2016", "2019", "2022", "2025"]
    assert rows[-1]["subtitle"] == "Prospettive metropolitane"
    assert rows[-1]["previous"] == ID + "plan/psttm-2022-2024"
    assert "previous" not in rows[0]
