"""bench/bench_sparql.py without servers: its statistics, query variations, answer counting, the
load generator's HTTP reading and the report with its goals, on made-up numbers.

The bench itself (servers, load) runs with `bench/bench_sparql.py --quick`; these tests keep its
pure parts honest: a variation must change the text but not the answer, a report must call a goal
missed when the numbers miss it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyoxigraph as ox
import pytest

from bench_modules import load_bench_module

servers = load_bench_module("sparql_servers")
report = load_bench_module("sparql_report")
sparql_queries = load_bench_module("sparql_queries")
phases = load_bench_module("sparql_phases")
loadgen = load_bench_module("loadgen")
load_bench_module("synthetic")
load_bench_module("machine")
load_bench_module("bench_sparql")  # the command imports: its modules fit together

DATA = """
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:a rdfs:label "Sviluppo metropolitano"@it , "Metropolitan development"@en ; ex:p ex:b .
ex:b rdfs:label "B"@it ; ex:p ex:c .
"""


def _store() -> ox.Store:
    store = ox.Store()
    store.load(DATA.encode(), ox.RdfFormat.TURTLE, to_graph=ox.NamedNode("http://example.org/g"))
    return store


# --- statistics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0, 5.0], 50, 3.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 95, 4.8),
        ([5.0, 1.0, 4.0, 2.0, 3.0], 0, 1.0),
        ([5.0, 1.0, 4.0, 2.0, 3.0], 100, 5.0),
        ([1.0, 2.0], 50, 1.5),
        ([7.0], 95, 7.0),
    ],
    ids=["median", "p95-interpolated", "p0-min", "p100-max", "even-count", "one-value"],
)
def test_percentile_interpolates_between_closest_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert report.percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        report.percentile([], 50)


def test_geomean_of_ratios_and_of_nothing() -> None:
    assert report.geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert report.geomean([]) is None


# --- queries and their variations ----------------------------------------------------------------


@pytest.mark.parametrize("style", ["comment", "prefix"])
def test_a_variation_changes_the_text_but_not_the_answer(style: str) -> None:
    store = _store()
    query = "SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
    first = sparql_queries.vary_query(query, "n1", style)
    second = sparql_queries.vary_query(query, "n2", style)
    assert len({query, first, second}) == 3

    def rows(text: str) -> set[tuple[str, ...]]:
        solutions = store.query(text, use_default_graph_as_union=True)
        return {tuple(str(term) for term in solution) for solution in solutions}

    assert rows(first) == rows(second) == rows(query)
    assert sparql_queries.query_form(first) == "SELECT"


def test_a_placeholder_nonce_survives_url_encoding() -> None:
    text = sparql_queries.vary_query("ASK { ?s ?p ?o }", sparql_queries.NONCE, "comment")
    target = servers.query_target("/sparql", text)
    assert sparql_queries.NONCE in target
    assert loadgen.NONCE == sparql_queries.NONCE


def test_a_nonce_with_other_characters_is_refused() -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        sparql_queries.vary_query("ASK {}", "a b")


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("PREFIX ex: <http://e.org/ns#>\nSELECT * WHERE { ?s ?p ?o }", "SELECT"),
        ("# ASK would be wrong here\nCONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "CONSTRUCT"),
        ('PREFIX ex: <http://e.org/select#>\nask { ?s ex:p "SELECT" }', "ASK"),
        ("DESCRIBE <http://e.org/x>", "DESCRIBE"),
    ],
    ids=["select", "keyword-in-comment", "keyword-in-iri-and-string", "describe"],
)
def test_query_form_ignores_comments_iris_and_strings(text: str, form: str) -> None:
    assert sparql_queries.query_form(text) == form


def test_every_benchmark_query_parses() -> None:
    store = _store()
    queries = sparql_queries.load_queries()
    assert {q.name for q in queries} >= set(sparql_queries.HEAVY_QUERIES)
    assert {q.mix for q in queries} == {report.PLAN_MIX, report.HEAVY_MIX}
    for query in queries:
        store.query(query.text, use_default_graph_as_union=True)  # raises if it does not parse


# --- counting answers ----------------------------------------------------------------------------


def test_rows_of_a_select_answer_ignore_order_blank_labels_and_xsd_string() -> None:
    first = (
        b'{"head":{"vars":["s","o"]},"results":{"bindings":['
        b'{"s":{"type":"bnode","value":"b1"},"o":{"type":"literal","value":"x"}},'
        b'{"s":{"type":"uri","value":"http://e.org/a"}}]}}'
    )
    second = (
        b'{"head":{"vars":["s","o"]},"results":{"bindings":['
        b'{"s":{"type":"uri","value":"http://e.org/a"}},'
        b'{"o":{"type":"literal","value":"x",'
        b'"datatype":"http://www.w3.org/2001/XMLSchema#string"},'
        b'"s":{"type":"bnode","value":"other"}}]}}'
    )
    rows, digest = sparql_queries.answer_rows(first, "application/sparql-results+json")
    assert rows == 2
    assert sparql_queries.answer_rows(second, "application/sparql-results+json") == (rows, digest)


def test_rows_of_a_boolean_and_of_a_graph() -> None:
    boolean = b'{"head":{},"boolean":true}'
    assert sparql_queries.answer_rows(boolean, "application/sparql-results+json")[0] == 1
    triples = b"_:x <http://e.org/p> <http://e.org/o> .\n<http://e.org/s> <http://e.org/p> _:y .\n"
    rows, digest = sparql_queries.answer_rows(triples, "application/n-triples")
    relabelled = triples.replace(b"_:x", b"_:q").replace(b"_:y", b"_:r")
    assert rows == 2
    assert sparql_queries.answer_rows(relabelled, "application/n-triples")[1] == digest


# --- the load generator's HTTP -------------------------------------------------------------------


def _read(raw: bytes) -> tuple[int, dict[str, str], bytes | int]:
    async def read() -> tuple[int, dict[str, str], bytes | int]:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        result: tuple[int, dict[str, str], bytes | int] = await loadgen.read_response(reader)
        return result

    return asyncio.run(read())


@pytest.mark.parametrize(
    ("raw", "status", "length"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, 5),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n",
            200,
            5,
        ),
        (b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n', 304, 0),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", 200, 13),
    ],
    ids=["content-length", "chunked-with-trailer", "not-modified", "until-close"],
)
def test_loadgen_reads_each_way_a_body_can_be_delimited(
    raw: bytes, status: int, length: int
) -> None:
    got_status, _headers, got_length = _read(raw)
    assert (got_status, got_length) == (status, length)


def test_loadgen_keeps_the_body_of_an_error_answer() -> None:
    raw = (
        b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nbusy\r\n0\r\n\r\n"
    )
    assert _read(raw)[::2] == (503, b"busy")


def test_loadgen_fills_the_nonce_and_nothing_else() -> None:
    template = loadgen.Template.make(
        "127.0.0.1", 80, f"/q?query=x{loadgen.NONCE}", {"Accept": "a/b"}
    )
    assert template.render("j1x7").startswith(b"GET /q?query=xj1x7 HTTP/1.1\r\nHost: 127.0.0.1:80")
    plain = loadgen.Template.make("127.0.0.1", 80, "/q?query=x", {})
    assert plain.render("j1x7") == plain.render("other")


# --- uvicorn options ------------------------------------------------------------------------------


def test_uvicorn_options_are_read_from_the_source(tmp_path: Path) -> None:
    (tmp_path / "cli.py").write_text(
        "import uvicorn\n"
        "def serve(app, s):\n"
        "    uvicorn.run(app, host=s.host, port=s.port, log_level='info', access_log=False,\n"
        "                workers=s.workers)\n",
        encoding="utf-8",
    )
    literal, other = servers.uvicorn_options(tmp_path)
    assert literal == {"log_level": "info", "access_log": False}
    assert other == ["workers=s.workers"]


# --- the report -----------------------------------------------------------------------------------


def _latency(*samples: float) -> object:
    return report.Latency(list(samples), requested=len(samples))


def _throughput(rate: float, kind: str = "") -> object:
    return report.Throughput(completed=int(rate * 10), elapsed_s=10.0, p50_ms=1.0, kind=kind)


def _fake_run(psm_ms: float, oxigraph_ms: float, rdflib_ms: float) -> object:
    queries = [
        report.Query("list-a", "SELECT * {}", "SELECT", "queries/"),
        report.Query("bench-b", "SELECT * {}", "SELECT", "bench"),
    ]
    runs = {}
    for key, ms, rate in (
        (servers.PSM, psm_ms, 1000 / psm_ms),
        (servers.OXIGRAPH, oxigraph_ms, 1000 / oxigraph_ms),
        (servers.RDFLIB, rdflib_ms, 1000 / rdflib_ms),
    ):
        run = report.ServerRun(key, startup_s=[0.5, 0.6, 0.7], rss_loaded_mb=50.0)
        for query in queries:
            run.probes[query.name] = report.Probe(status=200, rows=3, digest="d", seconds=0.01)
            run.latency[query.name] = _latency(ms, ms, ms * 1.5)
        run.throughput = {
            report.PLAN_MIX: _throughput(rate, report.PLAN_MIX),
            report.HEAVY_MIX: _throughput(rate, report.HEAVY_MIX),
        }
        runs[key] = run
    psm = runs[servers.PSM]
    for query in queries:
        psm.cached[(report.REPEAT, query.name)] = _latency(0.6, 0.6)
        psm.cached[(report.NOT_MODIFIED, query.name)] = _latency(0.5, 0.5)
    psm.throughput[report.REPEAT] = _throughput(1500, report.REPEAT)
    psm.throughput[report.NOT_MODIFIED] = _throughput(1600, report.NOT_MODIFIED)
    floor = report.ServerRun(servers.FLOOR, startup_s=[0.4])
    floor.latency[report.FLOOR_MODE] = _latency(0.4, 0.4)
    floor.throughput[report.FLOOR_MODE] = _throughput(2000, report.FLOOR_MODE)
    runs[servers.FLOOR] = floor
    return report.SizeRun(1, 5435, queries, runs, variation="Uncached requests: checked.")


def _info() -> object:
    return report.RunInfo(
        date="2026-01-01",
        machine="test machine",
        python="3.11",
        versions="none",
        psm_version="0.1.0",
        options="--quick",
        method_numbers="numbers",
        uvicorn_options="none",
        load=(0.1, 0.2),
        wall_s=60.0,
    )


def _goal_row(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {start}"))


def test_report_says_goals_are_met_when_the_numbers_meet_them() -> None:
    text = report.render(_info(), [_fake_run(1.0, 1.0, 40.0)], "method")
    assert "| `list-a` | 3 | 1.00 | 1.45 |" in text
    assert "**geometric mean, all** |" in text
    assert _goal_row(text, "throughput").endswith("| yes |")
    assert _goal_row(text, "p50 ≤").endswith("| yes |")
    assert _goal_row(text, "≥ 20x").endswith("| yes |")
    assert _goal_row(text, "a cached").endswith("| yes |")
    assert _goal_row(text, "start-up").endswith("| yes |")


def test_report_says_goals_are_missed_when_the_numbers_miss_them() -> None:
    text = report.render(_info(), [_fake_run(3.0, 1.0, 30.0)], "method")
    assert "3.00x" in text  # psm-kg / Oxigraph
    assert _goal_row(text, "throughput").endswith("| **no** |")
    assert _goal_row(text, "p50 ≤").endswith("| **no** |")
    assert "2 of 2 queries over 1.2x" in _goal_row(text, "p50 ≤")
    assert _goal_row(text, "≥ 20x").endswith("| **no** |")


def test_a_peer_with_other_rows_is_excluded_and_named() -> None:
    run = _fake_run(1.0, 1.0, 40.0)
    run.servers[servers.OXIGRAPH].probes["list-a"].rows = 4
    text = report.render(_info(), [run], "method")
    assert "excluded: 4 rows, psm-kg 3" in text
    assert set(report.ratios(run).vs_oxigraph) == {"bench-b"}
    assert report.ratios(run).excluded == {servers.OXIGRAPH: ["list-a"]}


def test_psm_kg_is_measured_on_each_peers_mix() -> None:
    plan = [report.Query(f"list-{n}", "ASK {}", "ASK", "queries/") for n in "abc"]
    heavy = [report.Query("bench-d", "ASK {}", "ASK", "bench")]
    usable = {
        servers.PSM: [*plan, *heavy],
        servers.OXIGRAPH: [*plan, *heavy],
        servers.RDFLIB: [plan[0], plan[2]],  # list-b answered otherwise, bench-d timed out
    }
    plans = phases.mixes(usable)
    narrower = "plan queries without list-b"
    assert set(plans[servers.OXIGRAPH]) == {report.PLAN_MIX, report.HEAVY_MIX}
    assert set(plans[servers.RDFLIB]) == {narrower, "heavier queries without bench-d"}
    assert set(plans[servers.PSM]) == {*plans[servers.OXIGRAPH], *plans[servers.RDFLIB]}
    kind, mix = plans[servers.PSM][narrower]
    assert kind == report.PLAN_MIX
    assert [q.name for q in mix] == ["list-a", "list-c"]
