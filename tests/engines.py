"""Real SPARQL engines on 127.0.0.1 for the tests (and the bench), each in its own process group.

- **Oxigraph server** (PyPI ``oxigraph``, a dev dependency: ``.venv/bin/oxigraph``), in memory:
  ``oxigraph serve --bind 127.0.0.1:PORT``. Queries at ``/query``, SPARQL Update at ``/update``,
  Graph Store at ``/store``; no authentication.
- **OpenLink Virtuoso 7** (Debian ``virtuoso-opensource-7-bin``: ``virtuoso-t``, ``isql-vt``):
  ``virtuoso-t +foreground +configfile DIR/virtuoso.ini`` with the ini written from the project's
  deploy/virtuoso/virtuoso.ini.template into a temporary DIR, which is removed afterwards. A new
  database takes about 15 s to come up. The DBA password (``dba`` in a new database) is then
  changed through ``isql-vt`` to a random one made for this run. Anonymous read-only queries at
  ``/sparql``; queries and SPARQL Update at ``/sparql-auth``, Graph Store at
  ``/sparql-graph-crud-auth``, both with HTTP Digest as ``dba``. :class:`VirtuosoDatabase`
  keeps the directory and ports, so that its server can be killed and started again on them.

A missing engine skips the test locally, with how to install it; under CI=true it fails the test
instead, since CI installs both (.ci/run and ``pip install -e '.[dev]'``). Every wait is bounded;
a server is stopped with SIGTERM to its process group, then SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import NoReturn

import httpx
import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
OXIGRAPH = Path(sys.executable).parent / "oxigraph"
VIRTUOSO = "virtuoso-t"
VIRTUOSO_ISQL = "isql-vt"
VIRTUOSO_TEMPLATE = ROOT / "deploy" / "virtuoso" / "virtuoso.ini.template"
VIRTUOSO_USER = "dba"
VIRTUOSO_DEFAULT_PASSWORD = "dba"
OXIGRAPH_START_LIMIT_S = 20.0
VIRTUOSO_START_LIMIT_S = 60.0
STOP_GRACE_S = 15.0
ASK = "ASK {}"


class EngineUnavailable(Exception):
    """The engine is not installed here; the message says how to install it."""


class EngineStartError(Exception):
    """The engine exited, or did not answer a query in time; carries the tail of its log."""


@dataclass(frozen=True)
class EngineServer:
    """A running engine and its SPARQL endpoints. ``user``/``password``: what writes need."""

    name: str
    base_url: str
    query_url: str
    update_url: str
    graph_store_url: str
    process: subprocess.Popen[bytes]
    log: Path
    user: str | None = None
    password: str | None = None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


def unavailable(test: str, reason: str) -> NoReturn:
    """Skip ``test`` for ``reason``, or fail under CI."""
    if IN_CI:
        pytest.fail(f"{test} cannot run under CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def oxigraph_missing() -> str | None:
    if OXIGRAPH.is_file():
        return None
    return f"the Oxigraph server is not at {OXIGRAPH}: pip install -e '.[dev]' (PyPI oxigraph)"


def virtuoso_missing() -> str | None:
    for program in (VIRTUOSO, VIRTUOSO_ISQL):
        if shutil.which(program) is None:
            return (
                f"OpenLink Virtuoso 7 is not installed ({program} is not on PATH): "
                "apt-get install virtuoso-opensource-7-bin"
            )
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group the engine leads, SIGKILL if it outlives the grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=STOP_GRACE_S)
            break
        except subprocess.TimeoutExpired:
            continue
    if process.poll() is None:
        process.wait(timeout=STOP_GRACE_S)


def _spawn(
    command: list[str], log: Path, cwd: Path | None = None, *, append: bool = False
) -> subprocess.Popen[bytes]:
    with log.open("ab" if append else "wb") as output:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,  # its own process group, stopped as one
        )


def _wait_until_answering(server: EngineServer, limit_s: float) -> None:
    """Return once ``ASK {}`` answers 200 on the query endpoint; EngineStartError otherwise."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise EngineStartError(
                f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            answer = httpx.get(server.query_url, params={"query": ASK}, timeout=2.0)
            if answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise EngineStartError(
        f"{server.name} did not answer {server.query_url} within {limit_s:g} s:\n"
        f"{server.log_tail()}"
    )


@contextmanager
def oxigraph_server(*, union_default_graph: bool = False) -> Iterator[EngineServer]:
    """The Oxigraph server, in memory, on a free loopback port, until the block ends.

    ``union_default_graph``: its default graph is the union of its named graphs (as psm-kg's
    embedded store has it; bench/bench_scaleout.py queries it directly), not its own empty one.
    """
    reason = oxigraph_missing()
    if reason:
        raise EngineUnavailable(reason)
    with tempfile.TemporaryDirectory(prefix="psm-kg-oxigraph-") as directory:
        port = free_port()
        log = Path(directory) / "oxigraph.log"
        command = [str(OXIGRAPH), "serve", "--bind", f"{HOST}:{port}"]
        if union_default_graph:
            command.append("--union-default-graph")
        process = _spawn(command, log)
        base = f"http://{HOST}:{port}"
        server = EngineServer(
            "Oxigraph server",
            base,
            f"{base}/query",
            f"{base}/update",
            f"{base}/store",
            process,
            log,
        )
        try:
            _wait_until_answering(server, OXIGRAPH_START_LIMIT_S)
            yield server
        finally:
            _stop(process)


def virtuoso_ini(directory: Path, sql_address: str, http_address: str) -> str:
    """deploy/virtuoso/virtuoso.ini.template filled in for a database in ``directory``."""
    template = Template(VIRTUOSO_TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(
        DIR=str(directory), SQL_ADDRESS=sql_address, HTTP_ADDRESS=http_address
    )


def _isql(sql_address: str, password: str, statement: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VIRTUOSO_ISQL, sql_address, VIRTUOSO_USER, password, f"exec={statement}"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


class VirtuosoDatabase:
    """One Virtuoso database directory on two fixed loopback ports, its server started, killed
    and started again at will: a restart finds the data (and the DBA password) of the previous
    run, as a crashed server restarted by systemd would (Virtuoso rolls its transaction log
    forward at start-up)."""

    def __init__(self, directory: Path) -> None:
        (directory / "www").mkdir(exist_ok=True)
        sql_port = free_port()
        http_port = free_port()
        while http_port == sql_port:
            http_port = free_port()
        self.directory = directory
        self.sql_address, self.http_address = f"{HOST}:{sql_port}", f"{HOST}:{http_port}"
        self.ini = directory / "virtuoso.ini"
        self.ini.write_text(
            virtuoso_ini(directory, self.sql_address, self.http_address), encoding="utf-8"
        )
        self.log = directory / "virtuoso-t.out"
        self.password = f"psm-kg-test-{secrets.token_hex(8)}"  # made for this run, gone with it
        self.server: EngineServer | None = None
        self._starts = 0

    def start(self, limit_s: float = VIRTUOSO_START_LIMIT_S) -> EngineServer:
        """virtuoso-t on the database, once it answers a query (EngineStartError otherwise);
        the DBA password is changed at the first start only."""
        if self.server is not None and self.server.process.poll() is None:
            raise EngineStartError(f"Virtuoso is running already ({self.server.process.pid})")
        command = [VIRTUOSO, "+foreground", "+configfile", str(self.ini)]
        process = _spawn(command, self.log, cwd=self.directory, append=self._starts > 0)
        base = f"http://{self.http_address}"
        self.server = EngineServer(
            "Virtuoso",
            base,
            f"{base}/sparql",
            f"{base}/sparql-auth",
            f"{base}/sparql-graph-crud-auth",
            process,
            self.log,
            VIRTUOSO_USER,
            self.password,
        )
        self._starts += 1
        _wait_until_answering(self.server, limit_s)
        if self._starts == 1:
            changed = _isql(
                self.sql_address,
                VIRTUOSO_DEFAULT_PASSWORD,
                f"USER_SET_PASSWORD('{VIRTUOSO_USER}', '{self.password}');",
            )
            if changed.returncode != 0:
                raise EngineStartError(
                    f"isql-vt could not set the DBA password: {changed.stdout}{changed.stderr}"
                )
        return self.server

    def kill(self) -> None:
        """SIGKILL to the server's process group, as a crash or the OOM killer would."""
        if self.server is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.server.process.pid, signal.SIGKILL)
        self.server.process.wait(timeout=STOP_GRACE_S)

    def stop(self) -> None:
        if self.server is not None:
            _stop(self.server.process)


@contextmanager
def virtuoso_database() -> Iterator[VirtuosoDatabase]:
    """A new Virtuoso database in a temporary directory, not started yet; whatever server is
    running on it when the block ends is stopped, and the directory removed."""
    reason = virtuoso_missing()
    if reason:
        raise EngineUnavailable(reason)
    with tempfile.TemporaryDirectory(prefix="psm-kg-virtuoso-") as name:
        database = VirtuosoDatabase(Path(name))
        try:
            yield database
        finally:
            database.stop()


@contextmanager
def virtuoso_server() -> Iterator[EngineServer]:
    """Virtuoso 7 with a new database in a temporary directory, on free loopback ports, its
    DBA password changed to a random one (``EngineServer.password``), until the block ends."""
    with virtuoso_database() as database:
        yield database.start()
