"""/metrics and metrics.Metrics: the exposition parses with Prometheus' own parser, counters move
with the requests of the in-process app, labels stay bounded, updates are safe across threads."""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

import psm_kg
from psm_kg import __version__, observability
from psm_kg.app import create_app
from psm_kg.config import Settings
from psm_kg.metrics import CONTENT_TYPE, DURATION_BUCKETS, QUERY_OUTCOMES, Metrics
from psm_kg.store import Store

pytestmark = pytest.mark.every_backend  # `client`: the embedded store and each engine

Labels = frozenset[tuple[str, str]]
PILLARS = "SELECT ?p WHERE { ?p a <https://w3id.org/psm/ontology#Pillar> }"


def parse(text: str) -> dict[str, dict[tuple[str, Labels], float]]:
    """Metric family -> (sample name, labels) -> value, as the Prometheus parser reads them."""
    families: dict[str, dict[tuple[str, Labels], float]] = {}
    for family in text_string_to_metric_families(text):
        # The parser is lax: a sample outside any declared family comes back untyped.
        assert family.type != "unknown", f"{family.name} has no TYPE line"
        assert family.name not in families, f"{family.name} is declared twice"
        families[family.name] = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for sample in family.samples
        }
    return families


def scrape(client: TestClient) -> dict[str, dict[tuple[str, Labels], float]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return parse(response.text)


def requests_of(families: dict[str, dict[tuple[str, Labels], float]]) -> dict[Labels, float]:
    return {labels: value for (_, labels), value in families["psm_kg_http_requests"].items()}


def labels(**pairs: str) -> Labels:
    return frozenset(pairs.items())


@pytest.fixture
def app(built_settings: Settings, store: Store) -> FastAPI:
    """The real app, plus a route with a path parameter and one that reports a query."""
    app = create_app(built_settings, store)

    @app.get("/items/{item}")
    async def item(item: str) -> dict[str, str]:
        return {"item": item}

    @app.get("/report")
    async def report(request: Request) -> dict[str, str]:
        observability.record_cache(request, hit=False)
        observability.record_query(request, "ok", 0.003)
        return {}

    mounted = FastAPI()

    @mounted.get("/things/{thing}")
    async def thing(thing: str) -> dict[str, str]:
        return {"thing": thing}

    app.mount("/mounted", mounted)
    app.mount("/files", PlainTextResponse("a file"))  # an app without routes, as static files
    return app


@pytest.fixture
def app_client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_metrics_answers_the_text_format_0_0_4_outside_the_openapi_document(
    app: FastAPI, app_client: TestClient
) -> None:
    response = app_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE
    assert "/metrics" not in app.openapi()["paths"]


def test_the_exposition_parses_and_declares_every_family(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/sparql", params={"query": PILLARS})
    families = parse(client.get("/metrics").text)
    assert set(families) >= {
        "psm_kg_build_info",
        "psm_kg_start_time_seconds",
        "psm_kg_dataset_triples",
        "psm_kg_http_requests",
        "psm_kg_http_request_duration_seconds",
        "psm_kg_sparql_queries",
        "psm_kg_sparql_query_duration_seconds",
        "psm_kg_sparql_query_timeouts",
        "psm_kg_sparql_result_cache_hits",
        "psm_kg_sparql_result_cache_misses",
        "psm_kg_sparql_not_modified",
    }


def test_process_info_names_the_version_and_the_triples_served(
    client: TestClient, store: Store
) -> None:
    families = scrape(client)
    info = families["psm_kg_build_info"]
    assert info == {("psm_kg_build_info", labels(version=__version__)): 1.0}
    triples = families["psm_kg_dataset_triples"][("psm_kg_dataset_triples", frozenset())]
    assert triples == len(store) > 0
    start = families["psm_kg_start_time_seconds"][("psm_kg_start_time_seconds", frozenset())]
    assert start > 1.7e9


def test_requests_are_counted_by_method_route_and_status(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/healthz")
    client.get("/sparql", params={"query": PILLARS})
    client.get("/sparql", params={"query": "SELECT ?s {"})
    client.delete("/healthz")
    counts = requests_of(scrape(client))
    assert counts[labels(method="GET", route="/healthz", status="200")] == 2
    assert counts[labels(method="GET", route="/sparql", status="200")] == 1
    assert counts[labels(method="GET", route="/sparql", status="400")] == 1
    assert counts[labels(method="DELETE", route="/healthz", status="405")] == 1


def test_a_route_with_a_parameter_is_counted_under_its_template(app_client: TestClient) -> None:
    for item in ("a", "b", "c"):
        assert app_client.get(f"/items/{item}").status_code == 200
    counts = requests_of(scrape(app_client))
    assert counts[labels(method="GET", route="/items/{item}", status="200")] == 3
    assert not [key for key in counts if ("route", "/items/a") in key]


def test_mounted_apps_are_counted_under_their_mount_and_template(app_client: TestClient) -> None:
    for path in ("/mounted/things/1", "/mounted/things/2", "/files/a.txt", "/files/b/c.txt"):
        assert app_client.get(path).status_code == 200
    counts = requests_of(scrape(app_client))
    assert counts[labels(method="GET", route="/mounted/things/{thing}", status="200")] == 2
    assert counts[labels(method="GET", route="/files", status="200")] == 2


def test_unmatched_paths_share_one_label_instead_of_one_each(client: TestClient) -> None:
    for path in ("/nothing", "/no/such/page", "/wp-login.php", "/nothing?x=1"):
        assert client.get(path).status_code == 404
    counts = requests_of(scrape(client))
    assert counts[labels(method="GET", route="other", status="404")] == 4
    routes = {dict(key)["route"] for key in counts}
    assert routes <= {"/healthz", "/sparql", "/metrics", "other"}


def test_unknown_methods_share_one_label(client: TestClient) -> None:
    client.request("BREW", "/healthz")
    counts = requests_of(scrape(client))
    assert [dict(key)["method"] for key in counts if dict(key)["route"] == "/healthz"] == ["other"]


def test_histogram_buckets_are_cumulative_and_count_equals_the_requests(
    client: TestClient,
) -> None:
    for _ in range(5):
        client.get("/healthz")
    client.get("/sparql", params={"query": PILLARS})
    family = scrape(client)["psm_kg_http_request_duration_seconds"]
    route = ("route", "/healthz")
    buckets = sorted(
        (float(dict(key)["le"]), value)
        for (name, key), value in family.items()
        if name.endswith("_bucket") and route in key
    )
    assert [bound for bound, _ in buckets] == [*DURATION_BUCKETS, float("inf")]
    counts = [value for _, value in buckets]
    assert counts == sorted(counts)  # cumulative: never decreasing
    count = family[("psm_kg_http_request_duration_seconds_count", frozenset([route]))]
    total = family[("psm_kg_http_request_duration_seconds_sum", frozenset([route]))]
    assert counts[-1] == count == 5
    assert 0 < total < 5 * 10.0
    requests = requests_of(scrape(client))
    assert requests[labels(method="GET", route="/healthz", status="200")] == count


def test_a_query_reported_by_a_route_is_counted_with_its_evaluation_time(
    app_client: TestClient,
) -> None:
    app_client.get("/report")
    families = scrape(app_client)
    queries = families["psm_kg_sparql_queries"]
    assert queries[("psm_kg_sparql_queries_total", labels(outcome="ok"))] == 1
    assert queries[("psm_kg_sparql_queries_total", labels(outcome="timeout"))] == 0
    seconds = families["psm_kg_sparql_query_duration_seconds"]
    assert seconds[("psm_kg_sparql_query_duration_seconds_count", frozenset())] == 1
    assert seconds[("psm_kg_sparql_query_duration_seconds_bucket", labels(le="0.0025"))] == 0
    assert seconds[("psm_kg_sparql_query_duration_seconds_bucket", labels(le="0.005"))] == 1
    misses = families["psm_kg_sparql_result_cache_misses"]
    assert misses == {("psm_kg_sparql_result_cache_misses_total", frozenset()): 1}


def test_two_apps_keep_their_own_counters(built_settings: Settings, store: Store) -> None:
    with (
        TestClient(create_app(built_settings, store)) as first,
        TestClient(create_app(built_settings, store)) as second,
    ):
        first.get("/healthz")
        first.get("/healthz")
        second.get("/healthz")
        key = labels(method="GET", route="/healthz", status="200")
        assert requests_of(scrape(first))[key] == 2
        assert requests_of(scrape(second))[key] == 1


def metric_value(metrics: Metrics, family: str, sample: str, **pairs: str) -> float:
    return parse(metrics.render())[family][(sample, labels(**pairs))]


def test_every_outcome_starts_at_zero_and_a_timeout_also_counts_as_one() -> None:
    metrics = Metrics(version="1", triples=0)
    family = "psm_kg_sparql_queries"
    for outcome in QUERY_OUTCOMES:
        assert metric_value(metrics, family, f"{family}_total", outcome=outcome) == 0
    metrics.record_query("timeout", 11.0)
    metrics.record_query("bad_request")
    assert metric_value(metrics, family, f"{family}_total", outcome="timeout") == 1
    timeouts = "psm_kg_sparql_query_timeouts"
    assert metric_value(metrics, timeouts, f"{timeouts}_total") == 1
    durations = "psm_kg_sparql_query_duration_seconds"
    assert metric_value(metrics, durations, f"{durations}_count") == 1  # the refused one never ran
    assert metric_value(metrics, durations, f"{durations}_bucket", le="10.0") == 0
    assert metric_value(metrics, durations, f"{durations}_bucket", le="+Inf") == 1


def test_an_unknown_outcome_is_an_error_not_a_new_series() -> None:
    with pytest.raises(ValueError, match="unknown query outcome 'oops'"):
        Metrics(version="1", triples=0).record_query("oops", 0.1)


def test_cache_lookups_and_304s_are_counted() -> None:
    metrics = Metrics(version="1", triples=0)
    metrics.record_cache(True)
    metrics.record_cache(True)
    metrics.record_cache(False)
    metrics.record_not_modified()
    hits, misses = "psm_kg_sparql_result_cache_hits", "psm_kg_sparql_result_cache_misses"
    assert metric_value(metrics, hits, f"{hits}_total") == 2
    assert metric_value(metrics, misses, f"{misses}_total") == 1
    not_modified = "psm_kg_sparql_not_modified"
    assert metric_value(metrics, not_modified, f"{not_modified}_total") == 1


@pytest.mark.parametrize(
    "route",
    ['say "hi"', "back\\slash", "new\nline", "città/{x}"],
    ids=["quote", "backslash", "newline", "utf-8"],
)
def test_label_values_are_escaped_and_read_back_unchanged(route: str) -> None:
    metrics = Metrics(version='v"1\\', triples=0)
    metrics.record_request("GET", route, 200, 0.01)
    families = parse(metrics.render())
    assert requests_of(families) == {labels(method="GET", route=route, status="200"): 1}
    assert ("psm_kg_build_info", labels(version='v"1\\')) in families["psm_kg_build_info"]


def test_a_duration_on_a_bucket_bound_falls_in_that_bucket() -> None:
    metrics = Metrics(version="1", triples=0)
    metrics.record_request("GET", "/x", 200, 0.001)  # le means "less than or equal"
    family = "psm_kg_http_request_duration_seconds"
    bucket = f"{family}_bucket"
    assert metric_value(metrics, family, bucket, route="/x", le="0.0005") == 0
    assert metric_value(metrics, family, bucket, route="/x", le="0.001") == 1


def test_concurrent_updates_from_threads_are_all_counted() -> None:
    metrics = Metrics(version="1", triples=0)
    threads, rounds = 8, 5_000
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(rounds):
            metrics.record_request("GET", "/sparql", 200, 0.002)
            metrics.record_query("ok", 0.001)
            metrics.record_cache(True)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to provoke lost updates
    try:
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    finally:
        sys.setswitchinterval(switch)
    expected = threads * rounds
    assert requests_of(parse(metrics.render())) == {
        labels(method="GET", route="/sparql", status="200"): expected
    }
    family = "psm_kg_http_request_duration_seconds"
    assert metric_value(metrics, family, f"{family}_count", route="/sparql") == expected
    assert metric_value(metrics, family, f"{family}_sum", route="/sparql") == pytest.approx(
        expected * 0.002
    )
    queries = "psm_kg_sparql_queries"
    assert metric_value(metrics, queries, f"{queries}_total", outcome="ok") == expected
    hits = "psm_kg_sparql_result_cache_hits"
    assert metric_value(metrics, hits, f"{hits}_total") == expected


def test_every_outcome_a_router_reports_is_a_known_one() -> None:
    """An unknown outcome raises at run time: catch a misspelt one in any module here."""
    package = Path(psm_kg.__file__).parent
    reported = {
        outcome
        for path in package.glob("*.py")
        for outcome in re.findall(r'record_query\(\s*\w+,\s*"(\w+)"', path.read_text("utf-8"))
    }
    assert reported <= set(QUERY_OUTCOMES)
