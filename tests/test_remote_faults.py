"""`serve --store` when the store fails: it stops, hangs, or does not hold the dataset.

Real engines on 127.0.0.1 (tests/engines.py): an Oxigraph server this module stops and starts
again on the same port (in memory, so it comes back empty and is loaded again), and Virtuoso,
frozen with SIGSTOP to play a store that accepts connections and never answers. psm-kg must answer
503 in the one error shape with Retry-After, say so on /healthz, stay up, and recover by itself.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import engines
from conftest import copy_tree
from engines import EngineServer, virtuoso_server
from live_server import live_server
from psm_kg import validation_work
from psm_kg.app import create_app
from psm_kg.build import build_dist
from psm_kg.cli import main
from psm_kg.config import Settings, load_settings
from remote_backends import load_dist, remote_store, started

PAGE = "/milano/doc/plan/psttm-2025-2027.ttl"
API = "/api/queries/list-pillars"
QUERY = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"


class RestartableOxigraph:
    """An in-memory Oxigraph server on one fixed loopback port, stopped and started at will."""

    def __init__(self, directory: Path) -> None:
        reason = engines.oxigraph_missing()
        if reason:
            engines.unavailable("test_remote_faults (Oxigraph server)", reason)
        self.port = engines.free_port()
        self.base = f"http://{engines.HOST}:{self.port}"
        self.log = directory / "oxigraph.log"
        self.server: EngineServer | None = None

    def start(self) -> EngineServer:
        self.stop()
        command = [str(engines.OXIGRAPH), "serve", "--bind", f"{engines.HOST}:{self.port}"]
        process = engines._spawn(command, self.log)
        self.server = EngineServer(
            "Oxigraph server",
            self.base,
            f"{self.base}/query",
            f"{self.base}/update",
            f"{self.base}/store",
            process,
            self.log,
        )
        engines._wait_until_answering(self.server, engines.OXIGRAPH_START_LIMIT_S)
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            engines._stop(self.server.process)
            self.server = None


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = copy_tree(tmp_path_factory.mktemp("remote-faults") / "tree")
    built = load_settings(env={}, root=root, result_cache_bytes=0, query_timeout_s=2.0)
    build_dist(built)
    return built


@pytest.fixture(scope="module")
def oxigraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableOxigraph]:
    engine = RestartableOxigraph(tmp_path_factory.mktemp("oxigraph"))
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="module")
def virtuoso(settings: Settings) -> Iterator[EngineServer]:
    for server in started("test_remote_faults (Virtuoso)", virtuoso_server):
        load_dist(server, settings.dist_dir)
        yield server


def _unavailable(response: httpx.Response, url: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) >= 1
    body = response.json()
    assert body["status"] == 503
    assert body["title"] == "Store unavailable"
    assert f"the SPARQL store at {url} is not answering" in body["detail"]
    assert "Traceback" not in response.text


def _all_answer(get: object) -> None:
    for path, params in (("/sparql", {"query": QUERY}), (PAGE, {}), (API, {})):
        response = get(path, params=params)  # type: ignore[operator]
        assert response.status_code == 200, (path, response.text)


def test_a_store_that_stops_answers_503_and_recovers_without_a_restart(
    settings: Settings, oxigraph: RestartableOxigraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dataset reports are kept by content hash: none may come from an earlier test.
    monkeypatch.setattr(validation_work, "_DATASET_REPORTS", validation_work._ReportCache())
    server = oxigraph.start()
    load_dist(server, settings.dist_dir)
    store = remote_store(server, settings.dist_dir, settings.max_result_bytes)
    with TestClient(create_app(settings, store), raise_server_exceptions=False) as client:
        _all_answer(client.get)
        assert client.get("/healthz").json()["status"] == "ok"

        oxigraph.stop()
        for path, params in (
            ("/sparql", {"query": QUERY}),
            (PAGE, {}),
            (API, {}),
            ("/sitemap.xml", {}),
            ("/validation", {}),
        ):
            _unavailable(client.get(path, params=params), server.query_url)
        assert client.get("/catalog.ttl").status_code == 200  # from dist/: no store needed
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"
        assert health.json()["store"]["url"] == server.query_url
        assert health.json()["store"]["reachable"] is False
        assert health.json()["store"]["error"]

        load_dist(oxigraph.start(), settings.dist_dir)
        _all_answer(client.get)
        assert client.get("/healthz").status_code == 200
        assert client.get("/sitemap.xml").status_code == 200
        assert client.get("/validation").status_code == 200
    oxigraph.stop()


def test_the_real_server_stays_up_while_the_store_is_down(
    settings: Settings, oxigraph: RestartableOxigraph
) -> None:
    server = oxigraph.start()
    load_dist(server, settings.dist_dir)
    env = {
        "PSM_KG_STORE_URL": server.query_url,
        "PSM_KG_ACCESS_LOG": "0",
        "PSM_KG_RESULT_CACHE_BYTES": "0",
    }
    with (
        live_server(settings.root, env) as live,
        httpx.Client(base_url=live.base_url, timeout=10.0) as http,
    ):
        _all_answer(http.get)
        oxigraph.stop()
        _unavailable(http.get("/sparql", params={"query": QUERY}), server.query_url)
        _unavailable(http.get(PAGE), server.query_url)
        _unavailable(http.get(API), server.query_url)
        assert http.get("/healthz").json()["store"]["reachable"] is False
        assert live.process.poll() is None

        load_dist(oxigraph.start(), settings.dist_dir)
        _all_answer(http.get)
        assert http.get("/healthz").json()["store"]["reachable"] is True
    oxigraph.stop()


def _serve(settings: Settings, url: str) -> tuple[int, str]:
    clean: dict[str, str | None] = {key: None for key in os.environ if key.startswith("PSM_KG_")}
    result = CliRunner().invoke(
        main,
        ["serve", "--store", url, "--root", str(settings.root), "--get", "/healthz"],
        env={**clean, "PSM_KG_STORE_WAIT_S": "1"},
    )
    return result.exit_code, result.output


def test_serve_refuses_to_start_when_the_store_does_not_answer(settings: Settings) -> None:
    url = f"http://127.0.0.1:{engines.free_port()}/query"
    began = time.monotonic()
    code, output = _serve(settings, url)
    assert code == 2, output
    assert f"the SPARQL store at {url} is not answering after 1 s" in output
    assert f"psm-kg load --into {url}" in output
    assert time.monotonic() - began < 10


def test_serve_refuses_a_store_that_does_not_hold_the_dataset(
    settings: Settings, oxigraph: RestartableOxigraph
) -> None:
    server = oxigraph.start()  # in memory: empty
    try:
        code, output = _serve(settings, server.query_url)
        assert code == 2, output
        assert "does not hold the built dataset" in output
        assert "https://w3id.org/psm/milano/graph/plan: expected" in output
        assert f"psm-kg load --into {server.query_url}" in output

        load_dist(server, settings.dist_dir)
        code, output = _serve(settings, server.query_url)
        assert code == 0, output
        assert '"reachable":true' in output.replace(" ", "")
    finally:
        oxigraph.stop()


def test_a_store_that_hangs_costs_the_timeout_and_blocks_nothing_else(
    settings: Settings, virtuoso: EngineServer
) -> None:
    store = remote_store(virtuoso, settings.dist_dir, settings.max_result_bytes)
    with TestClient(create_app(settings, store), raise_server_exceptions=False) as client:
        _all_answer(client.get)
        os.killpg(virtuoso.process.pid, signal.SIGSTOP)
        try:
            page: list[int] = []
            stuck = threading.Thread(target=lambda: page.append(client.get(PAGE).status_code))
            stuck.start()
            began = time.monotonic()
            answer = client.get("/sparql", params={"query": QUERY + " # hang"})
            waited = time.monotonic() - began
            assert answer.status_code == 503, answer.text
            assert answer.json()["title"] == "Query timed out"
            assert answer.headers["retry-after"] == "2"
            assert 1.5 < waited < 5.0
            quick = time.monotonic()
            assert client.get("/robots.txt").status_code == 200  # the event loop is free
            assert time.monotonic() - quick < 1.0
            health = client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["store"]["reachable"] is False
        finally:
            os.killpg(virtuoso.process.pid, signal.SIGCONT)
        stuck.join(timeout=20)
        assert page
        assert page[0] in (200, 503)
        _all_answer(client.get)
