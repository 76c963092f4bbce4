"""deploy/nginx/: nginx in front of two psm-kg replicas over one Virtuoso, all real processes on
127.0.0.1.

The reference deployment of docs/deploy.md ("Replicas behind nginx"): Virtuoso 7
(tests/engines.py), started once for the module and loaded once with the built dataset; two
`psm-kg serve --store VIRTUOSO` processes, each on its own copy of the built tree, so that they
share nothing but the store; nginx configured by deploy/nginx/render_replicas.py in front of
them. Replicas are killed with SIGKILL (or stopped with SIGTERM) and started again on their port,
and so is Virtuoso, on its port and database: clients must get psm-kg's answers meanwhile, never
an error of nginx's while a replica is up.

A store that does not answer within a replica's query timeout is played by Virtuoso frozen with
SIGSTOP (as tests/test_remote_faults.py does): Virtuoso does not stop a query whose client has
gone, and a query that really runs long (a cross join of the dataset with itself takes over a
minute) would keep it computing, and the machine loaded, for the rest of the module.

nginx as in tests/nginx.py, Virtuoso as in tests/engines.py: without them the tests are skipped
with how to install them, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from engines import VirtuosoDatabase, unavailable, virtuoso_database, virtuoso_missing
from nginx import Nginx, check_config, nginx_binary, running_nginx
from psm_kg.build import build_dist
from psm_kg.config import load_settings
from remote_backends import load_dist

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
RENDER = ROOT / "deploy" / "nginx" / "render_replicas.py"
PILLAR = "pillar/2025-2027/sostenibilita"
FAIL_TIMEOUT_S = 2  # the template's default is 10 s: shorter, so a restarted replica is back soon
QUERY_TIMEOUT_S = 1.0  # each replica's --query-timeout: short, so the timeout tests are quick
STARTUP_LIMIT_S = 30.0
REQUEST_TIMEOUT_S = 10.0
# How long clients keep asking after a replica is killed: long enough for nginx to try the dead
# replica again after its fail_timeout.
ASKING_AFTER_KILL_S = FAIL_TIMEOUT_S + 1.5
ASKING_AROUND_STOP_S = 1.0  # ... before and after a replica is stopped with SIGTERM
BACK_S = FAIL_TIMEOUT_S + 5.0  # bound on the wait for a restarted replica to get requests
STORE_BACK_S = 10.0  # bound on the wait for answers once Virtuoso has been restarted
FORM = "application/x-www-form-urlencoded"
ASK = "ASK { ?s ?p ?o }"
COUNT = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
# What nginx logs per request: the replicas it tried, in order, and what each answered; and, in a
# header of the answer, the replica that answered it (for the tests only: not in the template).
LOG_FORMAT = (
    "log_format tries '$request_method $request_uri $status [$upstream_addr] [$upstream_status]';"
)
UPSTREAM_HEADER = "X-Test-Upstream"


def unique_query(tag: str) -> str:
    """A query no earlier test asked, so that no replica has its answer in its result cache."""
    return f'SELECT (COUNT(*) AS ?n) {{ ?s ?p ?o FILTER(?o != "{tag}-{time.monotonic_ns()}") }}'


# --- replicas ------------------------------------------------------------------------------------


@dataclass
class Replica:
    """`psm-kg serve --store STORE --port PORT` on ``root``, started and stopped (or killed) by
    the test."""

    root: Path
    store: str
    port: int
    client: httpx.Client
    log: Path  # the server's output, its access log included (appended to at each start)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.launch()
        self.wait_until_ready()

    def launch(self) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PSM_KG_")}
        env.update(PSM_KG_QUERY_TIMEOUT_S=str(QUERY_TIMEOUT_S))
        command = [sys.executable, "-m", "psm_kg", "serve", "--root", str(self.root)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--store", self.store, "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=log,
            )

    def wait_until_ready(self) -> None:
        """Until /healthz answers 200: the replica has checked the store and reached it."""
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"replica {self.port} exited: {self.output()}")
            try:
                if self.client.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"replica {self.port} did not answer /healthz within {STARTUP_LIMIT_S} s")

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown, no goodbye to nginx."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=REQUEST_TIMEOUT_S)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=REQUEST_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=REQUEST_TIMEOUT_S)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    """As tests/live_server.py's, which is not imported: mypy --strict stops at its `read1`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- the deployment ------------------------------------------------------------------------------


def render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RENDER), *args],
        capture_output=True,
        text=True,
        timeout=REQUEST_TIMEOUT_S,
        check=False,
    )


def nginx_http(port: int, replicas: list[Replica], prefix: Path) -> str:
    rendered = render(
        "--listen",
        f"127.0.0.1:{port}",
        "--fail-timeout",
        str(FAIL_TIMEOUT_S),
        *(replica.address for replica in replicas),
    )
    assert rendered.returncode == 0, rendered.stderr
    # add_header in http { } reaches the template's server and location: they set none.
    return (
        f"{LOG_FORMAT}\naccess_log {prefix / 'access.log'} tries;\n"
        f"add_header {UPSTREAM_HEADER} $upstream_addr always;\n{rendered.stdout}"
    )


@dataclass(frozen=True)
class Deployment:
    nginx: Nginx
    replicas: list[Replica]
    virtuoso: VirtuosoDatabase
    client: httpx.Client  # one client throughout: a new one per request costs 40 ms (TLS setup)

    @property
    def store(self) -> str:
        """The query URL every replica is started with (the same after a restart of Virtuoso)."""
        return self.replicas[0].store

    def get(self, path: str, **headers: str) -> httpx.Response:
        return self.client.get(self.nginx.url + path, headers=headers)

    def post(self, path: str, body: str, content_type: str) -> httpx.Response:
        headers = {"Content-Type": content_type}
        return self.client.post(self.nginx.url + path, content=body, headers=headers)

    def access_log(self, containing: str, limit_s: float = 2.0) -> list[str]:
        """nginx's access log lines ``containing`` some text, once there is one or after
        ``limit_s`` (nginx writes a line once the answer has gone, so maybe after the client has
        read it)."""
        log = self.nginx.prefix / "access.log"
        deadline = time.monotonic() + limit_s
        while True:
            lines = log.read_text(encoding="utf-8").splitlines()
            found = [line for line in lines if containing in line]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def answering(self, requests: int) -> set[int]:
        """The ports of the replicas that answer ``requests`` GET /healthz through nginx."""
        seen: set[int] = set()
        for _ in range(requests):
            response = self.get("/healthz")
            assert response.status_code == 200, response.text
            seen.add(answered_by(response))
        return seen

    @contextmanager
    def store_frozen(self) -> Iterator[None]:
        """Virtuoso stopped with SIGSTOP until the block ends: it accepts connections and
        requests, and answers none, as a store busy past the replicas' query timeout."""
        assert self.virtuoso.server is not None
        group = self.virtuoso.server.process.pid
        os.killpg(group, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(group, signal.SIGCONT)


def answered_by(response: httpx.Response) -> int:
    """The port of the replica whose answer nginx passed on (the last one it tried)."""
    return int(response.headers[UPSTREAM_HEADER].split(",")[-1].strip().rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled data with dist/ built: what the store is loaded with, and what
    each replica gets a copy of."""
    root = tmp_path_factory.mktemp("replicas") / "tree"
    for part in ("ontology", "data", "queries"):
        shutil.copytree(ROOT / part, root / part)
    build_dist(load_settings(env={}, root=root))
    return root


@pytest.fixture(scope="module")
def virtuoso(tree: Path) -> Iterator[VirtuosoDatabase]:
    """Virtuoso, started once for the module and loaded once with ``tree``'s dist/."""
    nginx_binary()  # skip (or fail under CI) before starting anything
    reason = virtuoso_missing()
    if reason:
        unavailable("test_deploy_replicas (Virtuoso)", reason)
    with virtuoso_database() as database:
        load_dist(database.start(), tree / "dist")
        yield database


@pytest.fixture(scope="module")
def deployment(
    tree: Path, virtuoso: VirtuosoDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    assert virtuoso.server is not None
    store = virtuoso.server.query_url
    logs = tmp_path_factory.mktemp("logs")
    client = httpx.Client(timeout=REQUEST_TIMEOUT_S, follow_redirects=False)
    replicas: list[Replica] = []
    for n in (1, 2):
        root = tmp_path_factory.mktemp(f"replica-{n}") / "tree"
        shutil.copytree(tree, root)
        replicas.append(Replica(root, store, free_port(), client, logs / f"replica-{n}.log"))
    try:
        for replica in replicas:  # side by side: each spends seconds checking the store
            replica.launch()
        for replica in replicas:
            replica.wait_until_ready()
        prefix = tmp_path_factory.mktemp("nginx")
        port = free_port()
        with running_nginx(prefix, nginx_http(port, replicas, prefix), port) as nginx:
            yield Deployment(nginx, replicas, virtuoso, client)
    finally:
        for replica in replicas:
            replica.stop()
        client.close()


# --- the configuration ---------------------------------------------------------------------------


def test_the_rendered_configuration_passes_nginx_t(tmp_path: Path) -> None:
    rendered = render("--listen", "127.0.0.1:8080", "8001", "127.0.0.1:8002", "[::1]:8003")

    assert rendered.returncode == 0, rendered.stderr
    assert "server 127.0.0.1:8001 max_fails=1 fail_timeout=10s;" in rendered.stdout
    assert "server [::1]:8003 max_fails=1 fail_timeout=10s;" in rendered.stdout
    checked = check_config(tmp_path, rendered.stdout)
    assert checked.returncode == 0, checked.stderr.decode()


@pytest.mark.parametrize(
    "args",
    [[], ["host:port"], ["70000"], ["--listen", "x y", "8001"], ["--fail-timeout", "0", "8001"]],
    ids=["no-replica", "bad-port", "port-out-of-range", "bad-listen", "zero-fail-timeout"],
)
def test_render_refuses_what_nginx_could_not_use_with_exit_2(args: list[str]) -> None:
    rendered = render(*args)

    assert rendered.returncode == 2
    assert rendered.stdout == ""
    assert "error:" in rendered.stderr


# --- through nginx -------------------------------------------------------------------------------


def test_requests_through_nginx_reach_every_replica(deployment: Deployment) -> None:
    assert deployment.answering(20) == {replica.port for replica in deployment.replicas}


def test_the_replicas_share_only_the_store_and_answer_alike(deployment: Deployment) -> None:
    """Each replica has a tree of its own and no query worker: the one thing they share is
    Virtuoso, which both name on /healthz, and their answers are the same, ETags included."""
    first, second = deployment.replicas
    health = [deployment.client.get(f"{r.url}/healthz").json() for r in deployment.replicas]
    params = {"query": COUNT}
    headers = {"Accept": "application/sparql-results+json"}
    direct = [
        deployment.client.get(f"{r.url}/sparql", params=params, headers=headers)
        for r in deployment.replicas
    ]
    through = deployment.client.get(
        f"{deployment.nginx.url}/sparql", params=params, headers=headers
    )

    assert first.root != second.root
    for replica_health in health:
        assert replica_health["store"] == {
            "url": deployment.store,
            "reachable": True,
            "error": None,
        }
        assert "query_workers" not in replica_health
        assert replica_health["triples"] == health[0]["triples"]
    for answer in (*direct, through):
        assert answer.status_code == 200, answer.text
        assert answer.headers["etag"].startswith('"')
        assert (answer.headers["etag"], answer.content) == (
            direct[0].headers["etag"],
            direct[0].content,
        )
    assert json.loads(direct[0].content)["results"]["bindings"][0]["n"]["value"] == str(
        health[0]["triples"]
    )


# (path, Accept): answers that must be the same bytes and the same ETag from nginx and each replica
SAME_ANSWERS = [
    (f"/milano/doc/{PILLAR}", "text/turtle"),
    (f"/milano/doc/{PILLAR}.html", "text/html"),
    ("/api/queries/list-pillars", "application/json"),
    ("/sparql?" + str(httpx.QueryParams({"query": ASK})), "application/sparql-results+json"),
    ("/catalog", "text/turtle"),
    ("/dumps/psm-kg.nq.gz", "*/*"),
    ("/dumps/psm-kg.nq", "*/*"),  # 1.1 MB: more than nginx's buffers hold
]


@pytest.mark.parametrize(("path", "accept"), SAME_ANSWERS, ids=[p for p, _ in SAME_ANSWERS])
def test_nginx_answers_the_bytes_and_strong_etag_of_every_replica(
    deployment: Deployment, path: str, accept: str
) -> None:
    headers = {"Accept": accept, "Accept-Encoding": "identity"}
    ours = deployment.get(path, **headers)
    direct = [
        deployment.client.get(replica.url + path, headers=headers)
        for replica in deployment.replicas
    ]

    assert ours.status_code == 200
    assert ours.headers["etag"].startswith('"')  # strong
    for theirs in direct:
        assert theirs.status_code == 200
        assert (ours.headers["etag"], ours.content) == (theirs.headers["etag"], theirs.content)
        assert ours.headers["content-type"] == theirs.headers["content-type"]


def test_compressed_answers_have_the_weak_etag_and_still_revalidate(
    deployment: Deployment,
) -> None:
    path = f"/milano/doc/{PILLAR}.html"
    plain = deployment.get(path, **{"Accept-Encoding": "identity"})
    compressed = deployment.get(path, **{"Accept-Encoding": "gzip"})

    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.content == plain.content  # httpx decompresses
    assert compressed.headers["etag"] == "W/" + plain.headers["etag"]
    assert "accept-encoding" in compressed.headers["vary"].lower()
    for etag in (compressed.headers["etag"], plain.headers["etag"]):
        again = deployment.get(path, **{"Accept-Encoding": "gzip", "If-None-Match": etag})
        assert again.status_code == 304, etag


@pytest.mark.parametrize(
    ("accept", "extension"),
    [("text/turtle", "ttl"), ("application/ld+json", "jsonld"), ("text/html", "html")],
)
def test_a_303_through_nginx_leads_to_the_document_with_its_links(
    deployment: Deployment, accept: str, extension: str
) -> None:
    thing = deployment.get(f"/milano/id/{PILLAR}", Accept=accept)

    assert thing.status_code == 303
    assert thing.headers["location"] == f"/milano/doc/{PILLAR}.{extension}"
    document = deployment.get(f"/milano/doc/{PILLAR}", Accept=accept)
    direct = deployment.client.get(
        f"{deployment.replicas[0].url}/milano/doc/{PILLAR}", headers={"Accept": accept}
    )
    assert document.status_code == 200
    assert document.headers["content-location"] == thing.headers["location"]
    assert document.headers["link"] == direct.headers["link"]
    for target in re.findall(r"<([^>]+)>", document.headers["link"]):
        assert deployment.get(target).status_code == 200, target


def test_absolute_urls_name_the_host_and_port_the_client_asked(deployment: Deployment) -> None:
    base = deployment.nginx.url
    paged = deployment.get("/api/queries/list-objectives?limit=2")
    described = deployment.get("/sparql", Accept="text/turtle")
    robots = deployment.get("/robots.txt")

    assert (
        f'<{base}/api/queries/list-objectives?limit=2&offset=2>; rel="next"'
        in (paged.headers["link"])
    )
    assert f"sd:endpoint <{base}/sparql>" in described.text
    assert f"Sitemap: {base}/sitemap.xml" in robots.text


def test_a_client_cannot_set_the_forwarded_headers_through_nginx(deployment: Deployment) -> None:
    spoofed = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    paged = deployment.get("/api/queries/list-objectives?limit=2", **spoofed)
    deployment.get("/healthz?via=nginx", **spoofed)

    assert f"<{deployment.nginx.url}/" in paged.headers["link"]  # http, as nginx was asked
    assert logged_client(deployment.replicas, "/healthz", "via=nginx") == "127.0.0.1"
    # The same headers sent straight to a replica from loopback are believed (uvicorn trusts
    # 127.0.0.1 and ::1): so the client logged above is the one nginx named.
    deployment.client.get(f"{deployment.replicas[0].url}/healthz?via=direct", headers=spoofed)
    assert logged_client(deployment.replicas, "/healthz", "via=direct") == "203.0.113.9"


def logged_client(replicas: list[Replica], path: str, query: str) -> str | None:
    """The "client" of the replicas' access log line for ``path``, told apart by the length of
    its query (the log keeps no query string): a line is written after its answer, so the wait
    for it is bounded."""
    deadline = time.monotonic() + 2.0
    while True:
        for replica in replicas:
            for line in replica.output().splitlines():
                entry = json.loads(line) if line.startswith('{"ts":') else {}
                if entry.get("path") == path and entry.get("query_length") == len(query):
                    return str(entry["client"])
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def test_a_replica_trusts_x_forwarded_proto_from_loopback(deployment: Deployment) -> None:
    """uvicorn's default FORWARDED_ALLOW_IPS (127.0.0.1, ::1): nginx on the same machine may
    say https; on another machine it needs FORWARDED_ALLOW_IPS set for each replica."""
    replica = deployment.replicas[0]
    paged = deployment.client.get(
        f"{replica.url}/api/queries/list-objectives?limit=2",
        headers={"X-Forwarded-Proto": "https", "Host": "psm.example.org"},
    )

    assert "<https://psm.example.org/api/queries/list-objectives?" in paged.headers["link"]


def assert_timed_out(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["title"] == "Query timed out"
    assert int(answer.headers["retry-after"]) >= 1


def test_a_query_past_the_timeout_gets_psm_kgs_503_from_one_replica_only(
    deployment: Deployment,
) -> None:
    query = str(httpx.QueryParams({"query": unique_query("timeout")}))
    with deployment.store_frozen():
        started = time.monotonic()
        answer = deployment.post("/sparql", query, FORM)
        took = time.monotonic() - started

    assert_timed_out(answer)
    assert QUERY_TIMEOUT_S <= took < 2 * QUERY_TIMEOUT_S + 1  # not tried on the other replica
    tried = deployment.access_log("POST /sparql 503 ")
    assert len(tried) == 1
    assert "," not in tried[0], tried[0]  # one replica
    # ... and it was not counted as a failure: both replicas still take requests.
    assert deployment.answering(10) == {replica.port for replica in deployment.replicas}


def request_mix(deployment: Deployment, index: int) -> httpx.Response:
    """One of a few kinds of request: a page, a document, a named query, SPARQL by POST."""
    kind = index % 4
    if kind == 0:
        return deployment.get(f"/milano/doc/{PILLAR}.html")
    if kind == 1:
        return deployment.get(f"/milano/doc/{PILLAR}", Accept="text/turtle")
    if kind == 2:
        return deployment.get("/api/queries/list-pillars")
    return deployment.post("/sparql", ASK, "application/sparql-query")


def test_a_replica_stopped_for_a_restart_loses_no_request(deployment: Deployment) -> None:
    """SIGTERM, as systemd or a rolling restart sends: uvicorn stops listening, finishes what it
    has, closes its idle connections; requests keep coming all the while."""
    victim, _ = deployment.replicas
    stop = threading.Event()

    def keep_asking() -> list[tuple[float, int, int]]:
        """(when the answer came, its status, the replica that gave it), until told to stop."""
        answers: list[tuple[float, int, int]] = []
        while not stop.is_set():
            answer = request_mix(deployment, len(answers))
            answers.append((time.monotonic(), answer.status_code, answered_by(answer)))
        return answers

    with ThreadPoolExecutor(2) as pool:
        clients = [pool.submit(keep_asking) for _ in range(2)]
        time.sleep(ASKING_AROUND_STOP_S)
        stopping = time.monotonic()
        victim.stop()
        stopped = time.monotonic()
        time.sleep(ASKING_AROUND_STOP_S)
        stop.set()
        answers = [a for client in clients for a in client.result(timeout=REQUEST_TIMEOUT_S)]

    assert {status for _, status, _ in answers} == {200}
    assert any(when < stopping and port == victim.port for when, _, port in answers)
    assert sum(when > stopped for when, _, _ in answers) >= 2
    victim.start()
    assert taken_back(deployment, victim), f"no request for the restarted replica in {BACK_S} s"


def test_killing_a_replica_loses_no_request_and_a_restarted_one_is_taken_back(
    deployment: Deployment,
) -> None:
    victim, survivor = deployment.replicas
    assert deployment.answering(10) == {victim.port, survivor.port}

    victim.kill()
    statuses: list[int] = []
    deadline = time.monotonic() + ASKING_AFTER_KILL_S
    while time.monotonic() < deadline:
        statuses.append(request_mix(deployment, len(statuses)).status_code)

    assert statuses == [200] * len(statuses)
    retried = deployment.access_log(f"[{victim.address}, ")
    # The first request after the kill, and one per fail_timeout after that.
    assert len(retried) >= 2, "the dead replica was not tried again after its fail_timeout"
    tried_twice = f"[{victim.address}, {survivor.address}] [502, 200]"
    assert all(line.endswith(tried_twice) for line in retried), retried
    assert deployment.answering(10) == {survivor.port}

    victim.start()  # same port, same tree, same store
    assert taken_back(deployment, victim), f"no request for the restarted replica in {BACK_S} s"


def taken_back(deployment: Deployment, replica: Replica) -> bool:
    """Whether nginx sends ``replica`` requests again within BACK_S (it tries a failed replica
    again once its fail_timeout has passed)."""
    deadline = time.monotonic() + BACK_S
    while time.monotonic() < deadline:
        if replica.port in deployment.answering(2):
            return True
        time.sleep(0.1)
    return False


def test_a_query_whose_replica_dies_mid_answer_is_answered_by_the_other_one(
    deployment: Deployment,
) -> None:
    """POST is retried even after it was sent (non_idempotent): the client gets an answer of
    psm-kg's, here the other replica's 503 for a query past its timeout, never nginx's 502."""
    victim, survivor = deployment.replicas
    body = str(httpx.QueryParams({"query": unique_query("mid-answer")}))
    with deployment.store_frozen(), ThreadPoolExecutor(2) as pool:
        # Two at once: least_conn gives one to each replica, which sends it on to the frozen
        # store and waits; the victim is killed while it waits, well before its timeout.
        sent = [pool.submit(deployment.post, "/sparql", body, FORM) for _ in range(2)]
        time.sleep(QUERY_TIMEOUT_S / 3)
        victim.kill()
        answers = [future.result(timeout=REQUEST_TIMEOUT_S) for future in sent]

    for answer in answers:
        assert_timed_out(answer)
    assert deployment.access_log(f"[{victim.address}, {survivor.address}] [502, 503]")
    # The victim had taken the request when it died: nginx saw the connection closed or reset
    # while it waited for the answer, not refused.
    errors = deployment.nginx.error_log.read_text(encoding="utf-8").splitlines()
    broken = [
        line
        for line in errors
        if f'upstream: "http://{victim.address}/sparql"' in line
        and ("upstream prematurely closed connection" in line or "reset by peer" in line)
    ]
    assert broken, errors
    victim.start()
    assert taken_back(deployment, victim), f"no request for the restarted replica in {BACK_S} s"


def assert_store_unavailable(answer: httpx.Response, store: str) -> None:
    """psm-kg's 503 (not nginx's 502): the one error shape, naming the store, with Retry-After."""
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert int(answer.headers["retry-after"]) >= 1
    problem = answer.json()
    assert (problem["status"], problem["title"]) == (503, "Store unavailable")
    assert f"the SPARQL store at {store} is not answering" in problem["detail"]


def test_killing_virtuoso_gets_psm_kgs_503_until_it_is_back_on_the_same_database(
    deployment: Deployment,
) -> None:
    """SIGKILL to Virtuoso under nginx: every replica answers 503 by itself meanwhile (which
    nginx neither retries nor counts as a failure), and answers again once Virtuoso has been
    started on the same port and database directory, without a restart of any replica."""
    replicas = deployment.replicas
    pids = [replica.process.pid for replica in replicas if replica.process is not None]
    counted = deployment.post("/sparql", COUNT, "application/sparql-query")
    assert counted.status_code == 200, counted.text

    deployment.virtuoso.kill()
    down = [
        deployment.get(f"/milano/doc/{PILLAR}", Accept="text/turtle"),
        deployment.get("/api/queries/list-objectives?limit=3"),
        *(
            deployment.post("/sparql", unique_query(f"down-{n}"), "application/sparql-query")
            for n in range(6)
        ),
    ]
    health = [deployment.client.get(f"{replica.url}/healthz") for replica in replicas]

    for answer in down:
        assert_store_unavailable(answer, deployment.store)
    assert {answered_by(answer) for answer in down} == {replica.port for replica in replicas}
    for answer in health:
        assert answer.status_code == 503, answer.text
        assert answer.json()["status"] == "degraded"
        store = answer.json()["store"]
        assert (store["url"], store["reachable"]) == (deployment.store, False)
        assert store["error"]

    deployment.virtuoso.start()  # same ports, same directory: the data is still there
    deadline = time.monotonic() + STORE_BACK_S
    again = deployment.post("/sparql", COUNT, "application/sparql-query")
    while again.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        again = deployment.post("/sparql", COUNT, "application/sparql-query")
    assert again.status_code == 200, again.text
    assert (again.headers["etag"], again.content) == (counted.headers["etag"], counted.content)
    assert [request_mix(deployment, index).status_code for index in range(8)] == [200] * 8
    assert deployment.answering(10) == {replica.port for replica in replicas}
    assert [replica.process.pid for replica in replicas if replica.process is not None] == pids


def test_with_every_replica_down_the_client_gets_502(deployment: Deployment) -> None:
    for replica in deployment.replicas:
        replica.kill()

    answers = [deployment.get("/healthz") for _ in range(10)]

    assert [answer.status_code for answer in answers] == [502] * 10
    assert "<title>502 Bad Gateway</title>" in answers[0].text  # nginx's page, in HTML
    log = deployment.nginx.error_log.read_text(encoding="utf-8")
    assert "no live upstreams" in log  # within fail_timeout nginx tries neither
