"""deploy/nginx/: nginx in front of two psm-kg replicas, all real processes on 127.0.0.1.

Two `psm-kg serve` processes on the bundled data (each with one query worker, so that /healthz
names a worker pid of its own and tells the replicas apart) behind nginx configured by
deploy/nginx/render_replicas.py. A replica is killed with SIGKILL and started again on its port;
clients must see no error meanwhile. nginx as in tests/nginx.py: skipped without it, except under
CI=true.
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
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from nginx import Nginx, check_config, nginx_binary, running_nginx
from psm_kg.build import build_dist
from psm_kg.config import load_settings

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
RENDER = ROOT / "deploy" / "nginx" / "render_replicas.py"
PILLAR = "pillar/2025-2027/sostenibilita"
FAIL_TIMEOUT_S = 2  # the template's default is 10 s: shorter, so a restarted replica is back soon
QUERY_TIMEOUT_S = 1.0  # each replica's --query-timeout: short, so the timeout test is quick
STARTUP_LIMIT_S = 30.0
REQUEST_TIMEOUT_S = 10.0
REQUESTS_AFTER_KILL = 200
BACK_S = FAIL_TIMEOUT_S + 5.0  # bound on the wait for a restarted replica to get requests
# A killed server's query worker stops when it next reads its pipe: after the query it computes
# (minutes, for LONG_COUNT). Ended by the test after this long.
ORPHAN_LIMIT_S = 2.0
FORM = "application/x-www-form-urlencoded"
# Five triple patterns joined on nothing: 5,751^5 rows to count, stopped at the query timeout.
LONG_COUNT = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o }"
ASK = "ASK { ?s ?p ?o }"
# What nginx logs per request: the replicas it tried, in order, and what each answered.
LOG_FORMAT = (
    "log_format tries '$request_method $request_uri $status [$upstream_addr] [$upstream_status]';"
)


# --- replicas ------------------------------------------------------------------------------------


@dataclass
class Replica:
    """`psm-kg serve --port PORT` on ``root``, started and stopped (or killed) by the test."""

    root: Path
    port: int
    client: httpx.Client
    log: Path  # the server's output, its access log included (appended to at each start)
    process: subprocess.Popen[bytes] | None = None
    worker_pids: frozenset[int] = frozenset()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PSM_KG_")}
        env.update(PSM_KG_QUERY_WORKERS="1", PSM_KG_QUERY_TIMEOUT_S=str(QUERY_TIMEOUT_S))
        command = [sys.executable, "-m", "psm_kg", "serve", "--root", str(self.root)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)], env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"replica {self.port} exited: {self.output()}")
            try:
                health = self.client.get(f"{self.url}/healthz", timeout=1.0)
                pids = health.json().get("query_workers", {}).get("pids", [])
                if health.status_code == 200 and pids:
                    self.worker_pids = frozenset(pids)
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"replica {self.port} named no query worker within {STARTUP_LIMIT_S} s")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def refresh(self) -> frozenset[int]:
        """The query worker pids, asked of the replica itself (a timeout replaces a worker)."""
        health = self.client.get(f"{self.url}/healthz")
        pids = frozenset(health.json()["query_workers"]["pids"])
        self.worker_pids |= pids
        return pids

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown, no goodbye to nginx."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=REQUEST_TIMEOUT_S)
        self._reap()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=REQUEST_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=REQUEST_TIMEOUT_S)
        self._reap()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def _reap(self) -> None:
        """End the query workers, should they outlive the server."""
        deadline = time.monotonic() + ORPHAN_LIMIT_S
        alive = {pid for pid in self.worker_pids if _query_worker(pid)}
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = {pid for pid in alive if _query_worker(pid)}
        for pid in alive:  # our own grandchildren, ended by pid
            os.kill(pid, signal.SIGKILL)
        self.worker_pids = frozenset()


def free_port() -> int:
    """As tests/live_server.py's, which is not imported: mypy --strict stops at its `read1`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _query_worker(pid: int) -> bool:
    """Whether ``pid`` is a live process of multiprocessing's (not a zombie, not a reused pid)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z" and b"multiprocessing" in command


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
    return f"{LOG_FORMAT}\naccess_log {prefix / 'access.log'} tries;\n{rendered.stdout}"


@dataclass(frozen=True)
class Deployment:
    nginx: Nginx
    replicas: list[Replica]
    client: httpx.Client  # one client throughout: a new one per request costs 40 ms (TLS setup)

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
        for replica in self.replicas:
            if replica.running:
                replica.refresh()
        by_pid = {pid: replica.port for replica in self.replicas for pid in replica.worker_pids}
        seen: set[int] = set()
        for _ in range(requests):
            response = self.get("/healthz")
            assert response.status_code == 200, response.text
            pids = response.json()["query_workers"]["pids"]
            seen.add(by_pid[pids[0]])
        return seen


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled data with dist/ built: the replicas serve the same content."""
    root = tmp_path_factory.mktemp("replicas") / "tree"
    for part in ("ontology", "data", "queries"):
        shutil.copytree(ROOT / part, root / part)
    build_dist(load_settings(env={}, root=root))
    return root


@pytest.fixture(scope="module")
def deployment(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    nginx_binary()  # skip (or fail under CI) before starting anything
    logs = tmp_path_factory.mktemp("logs")
    client = httpx.Client(timeout=REQUEST_TIMEOUT_S, follow_redirects=False)
    replicas = [Replica(tree, free_port(), client, logs / f"replica-{n}.log") for n in (1, 2)]
    try:
        for replica in replicas:
            replica.start()
        prefix = tmp_path_factory.mktemp("nginx")
        port = free_port()
        with running_nginx(prefix, nginx_http(port, replicas, prefix), port) as nginx:
            yield Deployment(nginx, replicas, client)
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


def test_a_query_past_the_timeout_gets_psm_kgs_503_from_one_replica_only(
    deployment: Deployment,
) -> None:
    query = httpx.QueryParams({"query": LONG_COUNT})
    started = time.monotonic()
    answer = deployment.post("/sparql", str(query), FORM)
    took = time.monotonic() - started

    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["title"] == "Query timed out"
    assert took < 2 * QUERY_TIMEOUT_S + 1  # not tried again on the other replica
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

    def keep_asking() -> list[int]:
        statuses: list[int] = []
        while not stop.is_set():
            statuses.append(request_mix(deployment, len(statuses)).status_code)
        return statuses

    with ThreadPoolExecutor(2) as pool:
        clients = [pool.submit(keep_asking) for _ in range(2)]
        time.sleep(0.3)
        victim.stop()
        time.sleep(0.3)
        stop.set()
        statuses = [s for client in clients for s in client.result(timeout=REQUEST_TIMEOUT_S)]

    assert len(statuses) > 50
    assert set(statuses) == {200}
    victim.start()
    assert taken_back(deployment, victim), f"no request for the restarted replica in {BACK_S} s"


def test_killing_a_replica_loses_no_request_and_a_restarted_one_is_taken_back(
    deployment: Deployment,
) -> None:
    victim, survivor = deployment.replicas
    assert deployment.answering(10) == {victim.port, survivor.port}

    victim.kill()
    statuses = [request_mix(deployment, index).status_code for index in range(REQUESTS_AFTER_KILL)]

    assert statuses == [200] * REQUESTS_AFTER_KILL
    retried = deployment.access_log(f"[{victim.address}, ")
    assert retried, "no request met the dead replica: the test did not test the kill"
    tried_twice = f"[{victim.address}, {survivor.address}] [502, 200]"
    assert all(line.endswith(tried_twice) for line in retried), retried
    assert deployment.answering(10) == {survivor.port}

    victim.start()  # same port, new worker pid
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


def cpu_ticks(pid: int) -> int:
    """The CPU time a process has used so far, user and system, in clock ticks (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_a_query_whose_replica_dies_mid_answer_is_answered_by_the_other_one(
    deployment: Deployment,
) -> None:
    """POST is retried even after it was sent (non_idempotent): the client gets an answer of
    psm-kg's, here the other replica's 503 for a query past its timeout, never nginx's 502."""
    victim, survivor = deployment.replicas
    body = str(httpx.QueryParams({"query": LONG_COUNT}))
    (worker,) = victim.refresh()
    with ThreadPoolExecutor(2) as pool:
        # Two at once: least_conn gives one to each replica.
        started = cpu_ticks(worker)
        sent = [pool.submit(deployment.post, "/sparql", body, FORM) for _ in range(2)]
        deadline = time.monotonic() + QUERY_TIMEOUT_S / 2
        while cpu_ticks(worker) < started + 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cpu_ticks(worker) >= started + 5, "the victim's worker never started the query"
        victim.kill()
        answers = [future.result(timeout=REQUEST_TIMEOUT_S) for future in sent]

    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert deployment.access_log(f"[{victim.address}, {survivor.address}] [502, 503]")
    victim.start()
    assert taken_back(deployment, victim), f"no request for the restarted replica in {BACK_S} s"


def test_with_every_replica_down_the_client_gets_502(deployment: Deployment) -> None:
    for replica in deployment.replicas:
        replica.kill()

    answers = [deployment.get("/healthz") for _ in range(10)]

    assert [answer.status_code for answer in answers] == [502] * 10
    assert "<title>502 Bad Gateway</title>" in answers[0].text  # nginx's page, in HTML
    log = deployment.nginx.error_log.read_text(encoding="utf-8")
    assert "no live upstreams" in log  # within fail_timeout nginx tries neither
