"""The access log: one JSON line per request on the psm_kg.access logger, through the in-process
app and, at the end, through the real server."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from starlette.testclient import TestClient

from live_server import live_server
from psm_kg import access_log, observability
from psm_kg.app import create_app
from psm_kg.config import Settings
from psm_kg.store import Store

FIELDS = {
    "ts",
    "method",
    "path",
    "route",
    "query_length",
    "status",
    "bytes",
    "duration_ms",
    "query_ms",
    "cache",
    "client",
    "user_agent",
}
# Never logged: a marker inside the query text must not reach the line.
SECRET = "c0ffee-secret-marker"
QUERY = f'SELECT ?p WHERE {{ ?p a <https://w3id.org/psm/ontology#Pillar> }} # "{SECRET}"'
CHUNKS = (b"first,", b"second,", b"third")
STREAM_PAUSE_S = 0.05


def build_app(settings: Settings, store: Store) -> FastAPI:
    """The real app plus routes that set the log's state, stream, answer HEAD and fail."""
    app = create_app(settings, store)

    @app.get("/timed")
    async def timed(request: Request) -> dict[str, str]:
        request.state.query_ms = 12.5
        request.state.cache = "hit"
        return {}

    @app.get("/reported")
    async def reported(request: Request) -> Response:
        observability.record_query(request, "ok", 0.0042)
        observability.record_not_modified(request)
        return Response(status_code=304)

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in CHUNKS:
                await asyncio.sleep(STREAM_PAUSE_S)
                yield chunk

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.api_route("/hello", methods=["GET", "HEAD"])
    async def hello() -> Response:
        return Response(b"hello, world", media_type="text/plain")

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("this text must stay in the server log")

    return app


@pytest.fixture
def access(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=access_log.ACCESS_LOGGER.name)
    return caplog


@pytest.fixture
def app(built_settings: Settings, store: Store) -> FastAPI:
    return build_app(built_settings, store)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == access_log.ACCESS_LOGGER.name]


def only_line(caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    found = lines(caplog)
    assert len(found) == 1, found
    assert "\n" not in found[0]
    record: dict[str, Any] = json.loads(found[0])
    return record


def test_a_request_is_one_json_line_with_every_field(
    client: TestClient, access: pytest.LogCaptureFixture
) -> None:
    response = client.get("/healthz?pretty=1", headers={"user-agent": "probe/1.0"})
    line = only_line(access)
    assert set(line) == FIELDS
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"
    assert line["route"] == "/healthz"
    assert line["query_length"] == len("pretty=1")
    assert line["status"] == 200
    assert line["bytes"] == len(response.content)
    assert 0 < line["duration_ms"] < 10_000
    assert line["query_ms"] is None
    assert line["cache"] is None
    assert line["client"] == "testclient"
    assert line["user_agent"] == "probe/1.0"


def test_the_timestamp_is_iso_8601_in_utc_at_arrival(
    client: TestClient, access: pytest.LogCaptureFixture
) -> None:
    before = datetime.now(UTC)
    client.get("/healthz")
    stamp = only_line(access)["ts"]
    assert stamp.endswith("Z")
    when = datetime.fromisoformat(stamp)
    assert when.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= when <= datetime.now(UTC)


def test_query_ms_and_cache_are_logged_when_the_route_sets_them(
    client: TestClient, access: pytest.LogCaptureFixture
) -> None:
    client.get("/timed")
    line = only_line(access)
    assert line["query_ms"] == 12.5
    assert line["cache"] == "hit"


def test_a_reported_query_reaches_the_log_and_the_metrics(
    client: TestClient, access: pytest.LogCaptureFixture
) -> None:
    assert client.get("/reported").status_code == 304
    line = only_line(access)
    assert line["query_ms"] == pytest.approx(4.2)
    assert line["cache"] == "not_modified"
    assert "psm_kg_sparql_not_modified_total 1" in client.get("/metrics").text


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_query_text_is_never_logged(
    client: TestClient, access: pytest.LogCaptureFixture, method: str
) -> None:
    if method == "GET":
        response = client.get("/sparql", params={"query": QUERY})
    else:
        response = client.post("/sparql", data={"query": QUERY})
    assert response.status_code == 200
    line = only_line(access)
    assert line["route"] == "/sparql"
    assert SECRET not in json.dumps(line)
    assert "SELECT" not in json.dumps(line)
    assert (line["query_length"] > len(QUERY)) is (method == "GET")


def test_a_streamed_answer_passes_whole_and_is_timed_to_its_last_byte(
    client: TestClient, access: pytest.LogCaptureFixture
) -> None:
    with client.stream("GET", "/stream") as response:
        body = b"".join(response.iter_bytes())
    assert body == b"".join(CHUNKS)
    line = only_line(access)
    assert line["bytes"] == len(body)
    assert line["duration_ms"] >= len(CHUNKS) * STREAM_PAUSE_S * 1000 * 0.9


def test_head_is_answered_without_a_body_and_logged(
    client: TestClient, access: pytest.LogCaptureFixture
) -> None:
    response = client.head("/hello")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(b"hello, world"))
    line = only_line(access)
    assert (line["method"], line["route"], line["status"], line["bytes"]) == (
        "HEAD",
        "/hello",
        200,
        0,
    )


def test_an_unhandled_error_is_logged_as_500_without_its_text(
    client: TestClient, access: pytest.LogCaptureFixture
) -> None:
    assert client.get("/broken").status_code == 500
    line = only_line(access)
    assert (line["status"], line["route"]) == (500, "/broken")
    assert "must stay" not in json.dumps(line)
    assert 'route="/broken",status="500"' in client.get("/metrics").text


def test_a_404_is_logged_under_route_other(
    client: TestClient, access: pytest.LogCaptureFixture
) -> None:
    client.get("/no/such/page")
    line = only_line(access)
    assert (line["status"], line["route"], line["path"]) == (404, "other", "/no/such/page")


def test_what_a_client_sends_cannot_break_the_line_or_make_it_long(
    client: TestClient, access: pytest.LogCaptureFixture
) -> None:
    client.get("/x%0A{%22status%22:200}" + "y" * 5000, headers={"user-agent": "a" * 5000})
    line = only_line(access)  # one line: the decoded newline is escaped
    assert line["path"].startswith('/x\n{"status":200}')
    assert len(line["path"]) == 1000
    assert len(line["user_agent"]) == 300


def test_no_line_when_the_setting_is_off_but_requests_are_still_counted(
    built_settings: Settings, store: Store, access: pytest.LogCaptureFixture
) -> None:
    quiet = dataclasses.replace(built_settings, access_log=False)
    with TestClient(create_app(quiet, store)) as client:
        client.get("/healthz")
        metrics = client.get("/metrics").text
    assert lines(access) == []
    assert 'psm_kg_http_requests_total{method="GET",route="/healthz",status="200"} 1' in metrics


@pytest.fixture
def restored_logger() -> Iterator[logging.Logger]:
    logger = access_log.ACCESS_LOGGER
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved


def test_log_to_writes_bare_json_lines_to_the_stream_only(
    client: TestClient, restored_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    stream = io.StringIO()
    access_log.log_to(stream)
    client.get("/healthz")
    client.get("/timed")
    written = stream.getvalue().splitlines()
    assert [json.loads(line)["path"] for line in written] == ["/healthz", "/timed"]
    assert not restored_logger.propagate
    assert lines(caplog) == []


@pytest.mark.e2e
def test_the_real_server_logs_json_lines_instead_of_uvicorns(app_tree: Path) -> None:
    with live_server(app_tree) as server:
        assert httpx.get(server.sparql, params={"query": QUERY}).status_code == 200
        metrics = httpx.get(f"{server.base_url}/metrics")
        output = server.output.wait_for('"path":"/metrics"')
    assert metrics.status_code == 200
    assert metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert 'psm_kg_http_requests_total{method="GET",route="/sparql",status="200"} 1' in (
        metrics.text
    )
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    paths = [record["path"] for record in records]
    assert "/healthz" in paths  # the helper's readiness check
    assert {"/sparql", "/metrics"} <= set(paths)
    assert all(set(record) == FIELDS for record in records)
    assert SECRET not in output
    assert "HTTP/1.1" not in output  # uvicorn's access line: '... "GET /sparql HTTP/1.1" 200'


@pytest.mark.e2e
def test_the_real_server_logs_no_access_lines_when_told_not_to(app_tree: Path) -> None:
    with live_server(app_tree, {"PSM_KG_ACCESS_LOG": "off"}) as server:
        assert httpx.get(f"{server.base_url}/metrics").status_code == 200
        output = server.output.wait_for("never printed", limit_s=1.0)
    assert "Uvicorn running" in output
    assert "/metrics" not in output
