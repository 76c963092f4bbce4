"""Debian's nginx on 127.0.0.1, started for a test with a generated configuration.

nginx comes from Debian's packages (`apt-get install nginx-light`; .ci/run installs it). Without
it the tests that need it are skipped, except under CI=true, where they fail. nginx runs in the
foreground (`daemon off`) with everything it writes (pid, logs, temporary files) under a prefix
directory of the test's own, so neither root nor /etc/nginx is needed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

STARTUP_LIMIT_S = 10.0
STOP_LIMIT_S = 10.0
INSTALL_HINT = "nginx is not installed: apt-get install nginx-light"


def nginx_binary() -> str:
    """nginx's path; skips the test without it (fails it under CI=true)."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(INSTALL_HINT + " (CI=true: .ci/run installs it)")
        pytest.skip(INSTALL_HINT)
    return found


def main_config(prefix: Path, http: str) -> str:
    """A whole nginx.conf running in the foreground under ``prefix``; ``http`` goes in http { }."""
    temp = prefix / "temp"
    temp.mkdir(parents=True, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    temps = "".join(
        f"    {kind}_temp_path {temp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    body = "".join(f"    {line}\n" if line else "\n" for line in http.splitlines())
    return (
        f"daemon off;\nworker_processes 1;\n{user}pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 64; }\n"
        f"http {{\n{temps}{body}}}\n"
    )


def check_config(prefix: Path, http: str) -> subprocess.CompletedProcess[bytes]:
    """`nginx -t` on ``main_config(prefix, http)``, written to prefix/nginx.conf."""
    binary = nginx_binary()
    config = prefix / "nginx.conf"
    config.write_text(main_config(prefix, http), encoding="utf-8")
    command = [binary, "-t", "-p", str(prefix), "-c", str(config), "-e", str(prefix / "e.log")]
    return subprocess.run(command, capture_output=True, timeout=30, check=False)


@dataclass(frozen=True)
class Nginx:
    url: str
    prefix: Path
    process: subprocess.Popen[bytes]

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text(encoding="utf-8") if log.exists() else ""
            pytest.fail(f"nginx exited with {process.returncode}: {text}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"nginx did not listen on 127.0.0.1:{port} within {STARTUP_LIMIT_S} s")


@contextmanager
def running_nginx(prefix: Path, http: str, port: int) -> Iterator[Nginx]:
    """nginx with ``main_config(prefix, http)``, whose server listens on 127.0.0.1:``port``,
    until the block ends."""
    binary = nginx_binary()
    config = prefix / "nginx.conf"
    config.write_text(main_config(prefix, http), encoding="utf-8")
    log = prefix / "error.log"
    command = [binary, "-p", str(prefix), "-c", str(config), "-e", str(log)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, process, log)
        yield Nginx(f"http://127.0.0.1:{port}", prefix, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_LIMIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_LIMIT_S)
        if process.stderr is not None:
            process.stderr.close()
