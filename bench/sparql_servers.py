"""The servers of bench/bench_sparql.py: how each is started, loaded, probed, measured and stopped.

Each server is a child process in its own session (so that it and any worker processes it starts
can be stopped together) on a free loopback port, with its output thrown away except for the tail
of stderr, kept to explain a failed start. CPU time and memory are read from /proc for the whole
process tree (a server's workers included).
"""

from __future__ import annotations

import ast
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
ASK_ANY = "ASK { ?s ?p ?o }"
SPARQL_JSON = "application/sparql-results+json"
N_TRIPLES = "application/n-triples"
N_QUADS = "application/n-quads"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

PSM = "psm-kg"
OXIGRAPH = "oxigraph"
RDFLIB = "rdflib-endpoint"
FLOOR = "floor"
LABELS = {
    PSM: "psm-kg",
    OXIGRAPH: "Oxigraph server",
    RDFLIB: "rdflib-endpoint",
    FLOOR: "floor (FastAPI)",
}


class StartError(Exception):
    """A server exited or did not answer its first query in time."""


@dataclass(frozen=True)
class Dataset:
    size: int
    root: Path  # a project tree (ontology/, data/) built with `psm-kg build`
    triples: int

    @property
    def nquads(self) -> Path:
        return self.root / "dist" / "psm-kg.nq"


@dataclass(frozen=True)
class ServerSpec:
    key: str
    query_path: str  # where the SPARQL query operation answers GET ?query=
    command: Callable[[int, Dataset], list[str]]
    upload: bool = False  # the data is POSTed to /store once the port is open (Oxigraph)

    @property
    def label(self) -> str:
        return LABELS[self.key]


def uvicorn_options(source_dir: Path = ROOT / "src" / "psm_kg") -> tuple[dict[str, Any], list[str]]:
    """The keyword arguments psm-kg passes to ``uvicorn.run`` (or ``uvicorn.Config``), read from its
    source: literal values are returned to be reused, the names of the others are listed.

    host, port and the app are left out: the floor app gets its own.
    """
    literal: dict[str, Any] = {}
    other: list[str] = []
    for path in sorted(source_dir.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "uvicorn"
                and node.func.attr in ("run", "Config")
            ):
                continue
            for keyword in node.keywords:
                if keyword.arg is None or keyword.arg in ("host", "port", "app"):
                    continue
                try:
                    literal[keyword.arg] = ast.literal_eval(keyword.value)
                except ValueError:
                    other.append(f"{keyword.arg}={ast.unparse(keyword.value)}")
    return literal, other


def server_specs(floor_options: dict[str, Any]) -> dict[str, ServerSpec]:
    import json

    def psm(port: int, data: Dataset) -> list[str]:
        return [
            str(BIN / "psm-kg"),
            "serve",
            "--root",
            str(data.root),
            "--host",
            HOST,
            "--port",
            str(port),
        ]

    def oxigraph(port: int, data: Dataset) -> list[str]:
        return [str(BIN / "oxigraph"), "serve", "--bind", f"{HOST}:{port}", "--union-default-graph"]

    def rdflib(port: int, data: Dataset) -> list[str]:
        return [
            str(BIN / "rdflib-endpoint"),
            "serve",
            str(data.nquads),
            "--host",
            HOST,
            "--port",
            str(port),
        ]

    def floor(port: int, data: Dataset) -> list[str]:
        script = ROOT / "bench" / "floor_app.py"
        options = json.dumps(floor_options)
        return [sys.executable, str(script), "--port", str(port), "--uvicorn-options", options]

    return {
        PSM: ServerSpec(PSM, "/sparql", psm),
        OXIGRAPH: ServerSpec(OXIGRAPH, "/query", oxigraph, upload=True),
        RDFLIB: ServerSpec(RDFLIB, "/", rdflib),
        FLOOR: ServerSpec(FLOOR, "/sparql", floor),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def query_target(path: str, query: str) -> str:
    """The request target of a GET query: the query is the only (and last) parameter."""
    return f"{path}?query={quote(query, safe='')}"


def http_request(
    port: int,
    target: str,
    headers: dict[str, str],
    *,
    timeout: float,
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        connection.close()


# --- the process tree in /proc ------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3 onwards), or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants alive now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending += children.get(current, [])
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the tree, with that of its children already reaped."""
    ticks = 0
    for member in process_tree(pid):
        fields = _stat(member)
        if fields is not None:  # utime, stime, cutime, cstime are fields 14-17
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


def tree_rss_mb(pid: int) -> float:
    """Resident memory of the tree (VmRSS summed: pages shared between processes count twice)."""
    total_kb = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def _group_alive(group: int) -> bool:
    """True while a process of the group is alive (zombies, already dead, do not count)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[2]) == group and fields[0] != "Z":
                return True
    return False


# --- start and stop ------------------------------------------------------------------------------


@dataclass
class Server:
    spec: ServerSpec
    process: subprocess.Popen[bytes]
    port: int
    stderr: IO[bytes]

    def ask_target(self) -> str:
        return query_target(self.spec.query_path, ASK_ANY)

    def stderr_tail(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        return " ".join(self.stderr.read()[-400:].decode("utf-8", errors="replace").split())

    def stop(self) -> None:
        """SIGTERM to the server's process group (its workers too), SIGKILL to whatever is left
        of it after 10 s; returns once the whole group is gone (or after 20 s)."""
        group = self.process.pid  # started as a session leader: its pid is the group's id
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline:
                if self.process.poll() is not None and not _group_alive(group):
                    break
                time.sleep(0.02)
            else:
                continue
            break
        self.process.poll()
        self.stderr.close()


def start(
    spec: ServerSpec, data: Dataset, env: dict[str, str], *, timeout: float
) -> tuple[Server, float]:
    """Spawn the server, load it (Oxigraph: upload the N-Quads) and wait for its first answer.

    Returns the server and the seconds from spawning to the first successful query answer.
    """
    upload = data.nquads.read_bytes() if spec.upload else b""
    port = free_port()
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server; Server.stop closes it
    began = time.perf_counter()
    process = subprocess.Popen(
        spec.command(port, data),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        env=env,
        start_new_session=True,
    )
    server = Server(spec, process, port, stderr)
    deadline = began + timeout
    uploaded = not spec.upload
    try:
        while True:
            if process.poll() is not None:
                raise StartError(f"exited with {process.returncode}: {server.stderr_tail()}")
            if time.perf_counter() > deadline:
                raise StartError(f"no answer within {timeout:.0f} s: {server.stderr_tail()}")
            try:
                if not uploaded:
                    status, _, _ = http_request(
                        port,
                        "/store",
                        {"Content-Type": N_QUADS},
                        method="POST",
                        body=upload,
                        timeout=timeout,
                    )
                    if status >= 300:
                        raise StartError(f"loading the data answered HTTP {status}")
                    uploaded = True
                status, _, body = http_request(
                    port, server.ask_target(), {"Accept": SPARQL_JSON}, timeout=timeout
                )
                if status == 200 and b"true" in body:
                    return server, time.perf_counter() - began
            except (ConnectionError, http.client.HTTPException, OSError):
                pass
            time.sleep(0.01)
    except BaseException:
        server.stop()
        raise


def restart(server: Server, data: Dataset, env: dict[str, str], *, timeout: float) -> float:
    """Stop the server and start it again in place (new process and port); the start-up seconds.

    Used after a timed-out request: a server may go on computing an abandoned query (rdflib-
    endpoint evaluates on its event loop and answers nothing else meanwhile).
    """
    server.stop()
    fresh, seconds = start(server.spec, data, env, timeout=timeout)
    server.process, server.port, server.stderr = fresh.process, fresh.port, fresh.stderr
    return seconds
