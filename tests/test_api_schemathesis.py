"""Schemathesis against the live server's own OpenAPI document: the named-query API.

The real server (uvicorn, query worker processes) serves the bundled project (ROOT/queries and
the real data, built into a temporary dist/) on 127.0.0.1. Schemathesis reads /openapi.json and
sends, for every /api/queries operation, requests generated from its schema (valid ones, and
invalid ones that must be refused with a 4xx), checking each answer: no 5xx, a status, content
type, headers and body that the document declares. Bounded: a few examples per operation, well
under a minute on two cores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from live_server import LiveServer, live_server
from psm_kg.build import build_dist
from psm_kg.config import load_settings

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
MAX_EXAMPLES = 15
API_PATHS = r"^/api/queries"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    dist = tmp_path_factory.mktemp("schemathesis") / "dist"
    build_dist(load_settings(env={}, root=ROOT, dist_dir=dist))
    env = {"PSM_KG_DIST_DIR": str(dist), "PSM_KG_ACCESS_LOG": "0"}
    with live_server(ROOT, env) as running:
        yield running


def test_every_api_operation_answers_as_its_schema_says_and_never_5xx(
    server: LiveServer,
) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json").include(
        path_regex=API_PATHS
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {operation.path for operation in operations}
    assert "/api/queries" in paths
    assert len(paths) > 5, paths  # one per bundled query file

    failures: list[str] = []
    statuses: dict[int, int] = {}
    for operation in operations:
        modes = [schemathesis.GenerationMode.POSITIVE]
        if operation.query:  # nothing to send wrong to an operation without parameters
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:
            try:
                _fuzz(server.base_url, operation, mode, statuses)()
            except Exception as error:  # every operation runs; the failures are reported together
                failures.append(f"{operation.method.upper()} {operation.path} ({mode}):\n{error}")
    assert not failures, "\n\n".join(failures)
    assert not [status for status in statuses if status >= 500], statuses
    assert statuses.get(200, 0) > len(operations), statuses
    assert statuses.get(400, 0) > 0, statuses


def _fuzz(
    base_url: str,
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    statuses: dict[int, int],
) -> Callable[[], None]:
    """A Hypothesis test of one operation: generated requests, each answer checked."""

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate(base_url=base_url)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    test: Callable[[], None] = check
    return test
