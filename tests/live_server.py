"""The real server (`python -m psm_kg serve`) on 127.0.0.1, started for a test module or session.

Used by the end-to-end, real-client and browser tests. The server runs in a child process with a
free loopback port and an environment cleared of the developer's PSM_KG_* variables; it builds
dist/ itself when the tree has none, as `make serve` does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

STARTUP_LIMIT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def sparql(self) -> str:
        return f"{self.base_url}/sparql"


def _wait_until_healthy(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"the server exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the server did not answer /healthz within {STARTUP_LIMIT_S} s")


@contextmanager
def live_server(root: Path, env: Mapping[str, str] | None = None) -> Iterator[LiveServer]:
    """Serve the project tree at ``root`` on a free loopback port until the block ends.

    ``env`` adds PSM_KG_* settings; the server's output goes to a pipe that is read only when it
    fails to start (a quiet access log keeps it from filling up).
    """
    port = free_port()
    child_env = {key: value for key, value in os.environ.items() if not key.startswith("PSM_KG_")}
    child_env.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "psm_kg", "serve", "--root", str(root), "--port", str(port)],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base_url, process)
        yield LiveServer(base_url, root, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
