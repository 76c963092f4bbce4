"""End to end: the real server (`python -m psm_kg serve`) on 127.0.0.1, queried with httpx."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from live_server import live_server
from psm_kg import build

pytestmark = pytest.mark.e2e

QUERY_TIMEOUT_S = 1.0  # the server's limit, small so the timeout test is quick
PILLARS = "SELECT ?p WHERE { ?p a <https://w3id.org/psm/ontology#Pillar> }"
# Counts about 200 million rows of the fixture tree before its one row of answer: runs far past
# QUERY_TIMEOUT_S unless its worker is stopped.
LONG_COUNT = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o }"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, app_data: Path) -> Iterator[str]:
    """A server on a fresh copy of the fixture tree, without dist/: serve builds it."""
    root = tmp_path_factory.mktemp("e2e") / "tree"
    shutil.copytree(app_data / "tree", root)
    with live_server(root, {"PSM_KG_QUERY_TIMEOUT_S": str(QUERY_TIMEOUT_S)}) as running:
        assert (root / "dist" / build.NQUADS_FILE).is_file()
        yield running.base_url


def bindings(response: httpx.Response) -> list[dict[str, dict[str, str]]]:
    rows: list[dict[str, dict[str, str]]] = response.json()["results"]["bindings"]
    return rows


def test_get_query_answers_sparql_json(server: str) -> None:
    response = httpx.get(f"{server}/sparql", params={"query": PILLARS})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/sparql-results+json"
    assert len(bindings(response)) == 2


def test_post_form_query_answers_sparql_json(server: str) -> None:
    response = httpx.post(f"{server}/sparql", data={"query": PILLARS})
    assert response.status_code == 200
    assert len(bindings(response)) == 2


def test_post_sparql_query_body_answers_turtle_for_construct(server: str) -> None:
    response = httpx.post(
        f"{server}/sparql",
        content="CONSTRUCT WHERE { ?s a <https://w3id.org/psm/ontology#Pillar> }",
        headers={"content-type": "application/sparql-query", "accept": "text/turtle"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/turtle")
    assert "pillar/2025-2027/sostenibilita" in response.text


def test_errors_come_back_in_the_one_shape(server: str) -> None:
    response = httpx.get(f"{server}/sparql", params={"query": "SELECT ?s {"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.json()) >= {"status", "title", "detail"}


def test_a_long_query_times_out_without_blocking_other_requests(server: str) -> None:
    outcome: dict[str, httpx.Response] = {}

    def long_query() -> None:
        outcome["response"] = httpx.get(
            f"{server}/sparql", params={"query": LONG_COUNT}, timeout=30.0
        )

    workers_before = set(httpx.get(f"{server}/healthz").json()["query_workers"]["pids"])
    started = time.monotonic()
    worker = threading.Thread(target=long_query)
    worker.start()
    time.sleep(0.2)  # let the query start
    health = httpx.get(f"{server}/healthz", timeout=5.0)
    health_seconds = time.monotonic() - started
    answer = httpx.get(f"{server}/sparql", params={"query": PILLARS}, timeout=5.0)
    worker.join(timeout=30.0)
    assert health.status_code == 200
    assert health_seconds < QUERY_TIMEOUT_S  # answered while the query was still running
    assert answer.status_code == 200  # by the other worker
    assert outcome["response"].status_code == 503
    assert outcome["response"].json()["title"] == "Query timed out"
    assert int(outcome["response"].headers["retry-after"]) >= 1
    assert time.monotonic() - started < QUERY_TIMEOUT_S + 5.0
    # The worker that ran the query was ended, and replaced.
    workers_after = httpx.get(f"{server}/healthz").json()["query_workers"]
    assert workers_after["restarts"] == 1
    stopped = workers_before - set(workers_after["pids"])
    assert len(stopped) == 1
    assert not Path(f"/proc/{stopped.pop()}").exists()
