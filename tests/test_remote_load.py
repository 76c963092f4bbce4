"""`psm-kg load` against the real Oxigraph server and Virtuoso 7 on 127.0.0.1 (tests/engines.py).

Each engine is started once for the module. The dataset is the fixture tree plus one part of
awkward terms (escapes, language tags, datatypes, nested blank nodes, an RDF list), built once.
Every load is checked independently of the code under test: counts by our own COUNT query, and
graph contents fetched with CONSTRUCT and compared as RDF graphs (isomorphism).
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
import rdflib
from click.testing import CliRunner, Result
from rdflib.compare import isomorphic

from engines import (
    EngineServer,
    EngineUnavailable,
    oxigraph_server,
    unavailable,
    virtuoso_server,
)
from psm_kg.build import GRAPHS_FILE, NQUADS_FILE, build_dist
from psm_kg.config import load_settings
from psm_kg.load_command import load
from psm_kg.remote_load import chunks, insert_request

FIXTURE_TREE = Path(__file__).parent / "data" / "app" / "tree"
EDGE_GRAPH = "https://w3id.org/psm/milano/graph/edge-cases"
EMPTY_GRAPH = "https://w3id.org/psm/milano/graph/empty"
# Small enough that the update path needs several requests, smaller than the blank-node group
# of ex:nested + ex:list (which must still arrive in one piece).
SMALL_CHUNK = "7"
EDGE_CASES = r"""
@prefix ex: <https://w3id.org/psm/milano/id/test/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:literals rdfs:label "plain" , "con \"virgolette\" e \\ barra"@it ,
        "Città metropolitana — Milano ☃ 𝄞"@it , "due\nrighe\tcon tab" , "English"@en-gb ;
    ex:number 42 , 3.14 , true , "2025-01-01"^^xsd:date , "2025-03-01T10:00:00Z"^^xsd:dateTime ,
        "x"^^ex:customType ;
    ex:iri <https://example.org/a%20b?x=1&y=2#frag> , <urn:isbn:978-88-00000-00-0> .

ex:list ex:items ( "uno" "due" "tre" [ ex:inner "quattro" ] ) .

ex:nested ex:has [ ex:inner [ ex:deep "a" ; ex:deeper [ ex:deepest "b" ] ] ; ex:other "c" ] .

ex:x ex:shares _:shared .
ex:y ex:shares _:shared .
_:shared ex:label "shared" .
"""


# --- engines and data ----------------------------------------------------------------------------


def _engine(
    name: str, starter: Callable[[], AbstractContextManager[EngineServer]]
) -> Iterator[EngineServer]:
    try:
        with starter() as server:
            yield server
    except EngineUnavailable as error:
        unavailable(f"test_remote_load ({name})", str(error))


@pytest.fixture(scope="module")
def oxigraph() -> Iterator[EngineServer]:
    yield from _engine("Oxigraph server", oxigraph_server)


@pytest.fixture(scope="module")
def virtuoso() -> Iterator[EngineServer]:
    yield from _engine("Virtuoso", virtuoso_server)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project tree whose dist/ is built: the fixture tree plus the edge-cases part."""
    root = tmp_path_factory.mktemp("remote-load") / "tree"
    shutil.copytree(FIXTURE_TREE, root)
    (root / "data" / "edge-cases").mkdir()
    (root / "data" / "edge-cases" / "terms.ttl").write_text(EDGE_CASES, encoding="utf-8")
    # A part whose file holds no triple: an empty graph, deleted rather than PUT.
    (root / "data" / "empty").mkdir()
    (root / "data" / "empty" / "nothing.ttl").write_text("@prefix ex: <urn:x:> .\n")
    build_dist(load_settings(env={}, root=root))
    return root


def expected_counts(root: Path) -> dict[str, int]:
    counts: dict[str, int] = json.loads((root / "dist" / GRAPHS_FILE).read_text())["graphs"]
    return counts


def expected_graph(root: Path, graph: str) -> rdflib.Graph:
    """``graph`` as dist/psm-kg.nq holds it, as an rdflib graph."""
    quads = ox.parse(path=root / "dist" / NQUADS_FILE, format=ox.RdfFormat.N_QUADS)
    triples = [q.triple for q in quads if q.graph_name == ox.NamedNode(graph)]
    ntriples = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
    assert ntriples is not None
    return rdflib.Graph().parse(data=ntriples.decode("utf-8"), format="nt")


@dataclass(frozen=True)
class Mode:
    """How a load reaches an engine: the command's arguments, by engine."""

    engine: str
    via: str  # "graph-store" or "update"

    def args(self, server: EngineServer) -> list[str]:
        auth = ["--user", server.user, "--password", server.password] if server.user else []
        if self.via == "graph-store":
            return ["--into", server.query_url, "--graph-store", server.graph_store_url, *auth]
        if self.engine == "virtuoso":  # queries and updates on the one authenticated endpoint
            return ["--into", server.update_url, "--chunk", SMALL_CHUNK, *auth]
        return ["--into", server.query_url, "--update", server.update_url, "--chunk", SMALL_CHUNK]


MODES = [Mode(e, v) for e in ("oxigraph", "virtuoso") for v in ("graph-store", "update")]
MODE_IDS = [f"{m.engine}-{m.via}" for m in MODES]


@pytest.fixture
def server(request: pytest.FixtureRequest) -> EngineServer:
    """The engine the test's ``mode`` (or ``engine``) parameter names."""
    params = request.node.callspec.params
    engine = params["mode"].engine if "mode" in params else params["engine"]
    started: EngineServer = request.getfixturevalue(engine)
    return started


def run_load(root: Path, *args: str) -> Result:
    """``psm-kg load`` in process, without PSM_KG_* variables from the developer's shell."""
    clean: dict[str, str | None] = {key: None for key in os.environ if key.startswith("PSM_KG_")}
    return CliRunner().invoke(load, [*args, "--root", str(root)], env=clean, catch_exceptions=False)


# --- independent checks on the store -------------------------------------------------------------


def _client(server: EngineServer) -> httpx.Client:
    auth = httpx.DigestAuth(server.user, server.password or "") if server.user else None
    return httpx.Client(auth=auth, timeout=30.0)


def store_count(server: EngineServer, graph: str) -> int:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    with _client(server) as client:
        answer = client.post(
            server.query_url,
            data={"query": query},
            headers={"Accept": "application/sparql-results+json"},
        )
    answer.raise_for_status()
    return int(answer.json()["results"]["bindings"][0]["n"]["value"])


def store_graph(server: EngineServer, graph: str) -> rdflib.Graph:
    query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    with _client(server) as client:
        answer = client.post(
            server.query_url, data={"query": query}, headers={"Accept": "application/n-triples"}
        )
    answer.raise_for_status()
    return rdflib.Graph().parse(data=answer.text, format="nt")


def store_update(server: EngineServer, update: str) -> None:
    with _client(server) as client:
        answer = client.post(
            server.update_url,
            content=update.encode(),
            headers={"Content-Type": "application/sparql-update"},
        )
    answer.raise_for_status()


def drop_graphs(server: EngineServer, graphs: list[str]) -> None:
    store_update(server, " ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in graphs))
    assert all(store_count(server, g) == 0 for g in graphs)


# --- loading -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_load_puts_every_graph_in_the_store_as_built(
    mode: Mode, server: EngineServer, project: Path
) -> None:
    counts = expected_counts(project)
    assert counts[EMPTY_GRAPH] == 0
    drop_graphs(server, list(counts))
    store_update(server, f"INSERT DATA {{ GRAPH <{EMPTY_GRAPH}> {{ <urn:x:s> <urn:x:p> 1 }} }}")

    result = run_load(project, *mode.args(server))

    assert result.exit_code == 0, result.output
    assert {g: store_count(server, g) for g in counts} == counts
    for graph, count in counts.items():
        assert f"{count}  {graph}" in result.stdout
    assert "loaded" not in result.stderr  # progress lines only on a terminal
    for graph in counts:
        assert isomorphic(store_graph(server, graph), expected_graph(project, graph)), graph


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_a_second_load_changes_nothing(mode: Mode, server: EngineServer, project: Path) -> None:
    counts = expected_counts(project)
    assert run_load(project, *mode.args(server)).exit_code == 0
    before = store_graph(server, EDGE_GRAPH)

    again = run_load(project, *mode.args(server))

    assert again.exit_code == 0, again.output
    assert {g: store_count(server, g) for g in counts} == counts
    assert isomorphic(store_graph(server, EDGE_GRAPH), before)
    assert isomorphic(before, expected_graph(project, EDGE_GRAPH))


@pytest.mark.parametrize("engine", ["oxigraph", "virtuoso"])
def test_a_graph_changed_in_the_store_is_reported_with_expected_and_found(
    engine: str, server: EngineServer, project: Path
) -> None:
    mode = Mode(engine, "graph-store")
    counts = expected_counts(project)
    assert run_load(project, *mode.args(server)).exit_code == 0
    assert run_load(project, *mode.args(server), "--verify-only").exit_code == 0
    store_update(
        server,
        f"INSERT DATA {{ GRAPH <{EDGE_GRAPH}> {{ <urn:x:intruder> <urn:x:p> <urn:x:o> }} }}",
    )

    result = run_load(project, *mode.args(server), "--verify-only")

    assert result.exit_code == 1, result.output
    expected = counts[EDGE_GRAPH]
    assert f"{EDGE_GRAPH}: expected {expected} triples, found {expected + 1}" in result.stderr
    assert "1 of" in result.stderr
    others = [g for g in counts if g != EDGE_GRAPH]
    assert not any(f"{g}:" in result.stderr for g in others)
    # A load puts the graph back.
    assert run_load(project, *mode.args(server)).exit_code == 0
    assert store_count(server, EDGE_GRAPH) == expected


def test_a_graph_missing_from_the_store_is_reported(oxigraph: EngineServer, project: Path) -> None:
    counts = expected_counts(project)
    drop_graphs(oxigraph, [EDGE_GRAPH])

    result = run_load(project, "--into", oxigraph.query_url, "--verify-only")

    assert result.exit_code == 1
    assert f"{EDGE_GRAPH}: expected {counts[EDGE_GRAPH]} triples, found 0" in result.stderr


def test_progress_lines_go_to_stderr_on_a_terminal(oxigraph: EngineServer, project: Path) -> None:
    counts = expected_counts(project)
    command = "from psm_kg.load_command import load; load()"
    args = ["--into", oxigraph.query_url, "--graph-store", oxigraph.graph_store_url]
    clean = {key: value for key, value in os.environ.items() if not key.startswith("PSM_KG_")}
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-c", command, *args, "--root", str(project)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=clean,
            timeout=60,
            check=False,
        )
        os.close(terminal)
        terminal = -1
        shown = b""
        while select.select([controller], [], [], 5.0)[0]:
            try:
                chunk = os.read(controller, 1 << 16)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert done.returncode == 0, shown
    progress = [line for line in shown.decode().splitlines() if line.startswith("loaded")]
    assert len(progress) == len(counts)
    assert all(graph in "\n".join(progress) for graph in counts)
    assert b"loaded" not in done.stdout


# --- failures: exit 2, one line, no traceback ----------------------------------------------------


def _assert_one_clean_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: ")
    for fragment in fragments:
        assert fragment in result.stderr


@pytest.mark.parametrize("via", ["graph-store", "update"])
def test_wrong_credentials_exit_2_with_the_status(
    via: str, virtuoso: EngineServer, project: Path
) -> None:
    if via == "graph-store":
        args = ["--into", virtuoso.query_url, "--graph-store", virtuoso.graph_store_url]
        url = virtuoso.graph_store_url
    else:
        args = ["--into", virtuoso.update_url]
        url = virtuoso.update_url
    result = run_load(project, *args, "--user", "dba", "--password", "dba")
    _assert_one_clean_error(result, url, "HTTP 401", "--password")


def test_writing_without_credentials_exits_2_with_the_status(
    virtuoso: EngineServer, project: Path
) -> None:
    # Anonymous SPARQL Update on Virtuoso's public endpoint is refused (HTTP 500, SR186).
    result = run_load(project, "--into", virtuoso.query_url)
    _assert_one_clean_error(result, virtuoso.query_url, "HTTP 5")


def test_an_unreachable_store_exits_2_naming_the_url(project: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/sparql"
    result = run_load(project, "--into", url)
    _assert_one_clean_error(result, url, "cannot reach")


def test_a_store_that_never_answers_exits_2_after_the_timeout(project: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/sparql"
        result = run_load(project, "--into", url, "--verify-only", "--timeout", "0.5")
    _assert_one_clean_error(result, url, "no answer within 0.5 s")


def test_an_endpoint_that_is_not_sparql_exits_2_with_the_status(
    oxigraph: EngineServer, project: Path
) -> None:
    url = f"{oxigraph.base_url}/no-such-endpoint"
    result = run_load(project, "--into", url, "--verify-only")
    _assert_one_clean_error(result, url, "HTTP 404")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--into", "ftp://example.org/sparql"], "is not an http:// or https:// URL"),
        (["--into", "http://[::1/sparql", "--verify-only"], "is not a usable URL"),
        (["--into", "http://127.0.0.1:9/q", "--password", "x"], "--password needs --user"),
        (["--into", "http://127.0.0.1:9/q", "--user", "dba"], "--user needs --password"),
        (
            [
                "--into",
                "http://127.0.0.1:9/q",
                "--update",
                "http://a/",
                "--graph-store",
                "http://b/",
            ],
            "not both",
        ),
        (["--into", "http://127.0.0.1:9/q", "--chunk", "0"], "--chunk"),
        ([], "--into"),
    ],
    ids=[
        "not-http",
        "bad-url",
        "password-alone",
        "user-alone",
        "update-and-graph-store",
        "chunk-0",
        "no-into",
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str, project: Path) -> None:
    result = run_load(project, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_a_dist_that_disagrees_with_graphs_json_exits_2(project: Path, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(project, root)
    graphs_file = root / "dist" / GRAPHS_FILE
    document = json.loads(graphs_file.read_text())
    document["graphs"][EDGE_GRAPH] += 1
    graphs_file.write_text(json.dumps(document))
    result = run_load(root, "--into", "http://127.0.0.1:9/sparql")
    _assert_one_clean_error(result, "inconsistent", EDGE_GRAPH, "psm-kg build")


# --- the chunks of the update path ---------------------------------------------------------------


def _triples(turtle: str) -> list[ox.Triple]:
    return [q.triple for q in ox.parse(turtle, format=ox.RdfFormat.TURTLE)]


def test_chunks_keep_triples_sharing_a_blank_node_together() -> None:
    triples = _triples(EDGE_CASES)
    batches = list(chunks(triples, 3))
    assert sorted(map(str, (t for b in batches for t in b))) == sorted(map(str, triples))
    where: dict[str, int] = {}
    for number, batch in enumerate(batches):
        for triple in batch:
            for term in (triple.subject, triple.object):
                if isinstance(term, ox.BlankNode):
                    assert where.setdefault(term.value, number) == number, term
    # Only a blank-node group larger than the chunk size makes a larger batch.
    assert all(len(b) <= 3 or any(isinstance(t.subject, ox.BlankNode) for t in b) for b in batches)


def test_insert_request_uses_a_template_only_for_blank_nodes() -> None:
    plain = _triples('<urn:a> <urn:b> "c" .')
    blank = _triples("<urn:a> <urn:b> [ <urn:c> 1 ] .")
    assert insert_request("urn:g", plain).startswith("INSERT DATA { GRAPH <urn:g>")
    assert insert_request("urn:g", blank).startswith("INSERT { GRAPH <urn:g>")
    assert insert_request("urn:g", blank).endswith("WHERE {}")
