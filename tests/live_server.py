"""The real server (`python -m psm_kg serve`) on 127.0.0.1, started for a test module or session.

Used by the end-to-end, real-client and browser tests. The server runs in a child process with a
free loopback port and an environment cleared of the developer's PSM_KG_* variables; it builds
dist/ itself when the tree has none, as `make serve` does.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import httpx

STARTUP_LIMIT_S = 30.0
# The server's output kept for the tests (the access log writes a line per request): the start
# and the most recent part.
OUTPUT_KEPT_BYTES = 1 << 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class OutputDrain:
    """Reads a child's output in a thread, so that a full pipe never blocks the server."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        # A binary pipe from Popen is a BufferedReader: read1 returns what has come so far.
        self._stream = cast(io.BufferedReader, process.stdout)
        self._chunks = bytearray()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while chunk := self._stream.read1(1 << 16):
            with self._changed:
                self._chunks += chunk
                if len(self._chunks) > OUTPUT_KEPT_BYTES:
                    del self._chunks[: len(self._chunks) - OUTPUT_KEPT_BYTES]
                self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return self._chunks.decode(errors="replace")

    def wait_for(self, wanted: str, limit_s: float = 10.0) -> str:
        """The output so far, once it holds ``wanted`` or ``limit_s`` has passed."""
        deadline = time.monotonic() + limit_s
        with self._changed:
            while wanted.encode() not in self._chunks:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return self._chunks.decode(errors="replace")

    def join(self) -> None:
        self._thread.join(timeout=10)


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    root: Path
    process: subprocess.Popen[bytes]
    output: OutputDrain = field(repr=False)

    @property
    def sparql(self) -> str:
        return f"{self.base_url}/sparql"


def _wait_until_healthy(
    base_url: str, process: subprocess.Popen[bytes], output: OutputDrain
) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output.join()
            raise AssertionError(f"the server exited with {process.returncode}:\n{output.text()}")
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

    ``env`` adds PSM_KG_* settings; the server's output (stdout and stderr) is read all along
    and kept in ``LiveServer.output``.
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
    output = OutputDrain(process)
    try:
        _wait_until_healthy(base_url, process, output)
        yield LiveServer(base_url, root, process, output)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        output.join()
        if process.stdout:
            process.stdout.close()
