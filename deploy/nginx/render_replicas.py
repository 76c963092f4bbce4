#!/usr/bin/env python3
"""Render psm-kg-replicas.conf.template for a list of psm-kg replicas; the result goes to stdout.

    python3 deploy/nginx/render_replicas.py [--listen ADDRESS] [--fail-timeout SECONDS]
                                            [--max-fails N] REPLICA...

REPLICA is HOST:PORT, or a PORT on 127.0.0.1. --listen is what nginx's `listen` takes: a port, or
HOST:PORT (default 80). Each replica gets `max_fails=N fail_timeout=SECONDS` (defaults 1 and 10):
after N failed attempts within SECONDS it gets no requests for SECONDS, then one to try it again.

Exit codes: 0 written; 2 usage error (no replica, a replica or number that cannot be read).
Standard library only: it runs with any Python 3.11, without psm-kg installed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("psm-kg-replicas.conf.template")
_REPLICA = re.compile(r"(?:(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(?P<port>[0-9]{1,5})")
_LISTEN = re.compile(r"(?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.*-]+):)?[0-9]{1,5}")


def replica_address(text: str) -> str:
    """``8001`` -> ``127.0.0.1:8001``; ``host:8001`` unchanged (ValueError if neither)."""
    found = _REPLICA.fullmatch(text)
    if found is None or not 0 < int(found["port"]) < 65536:
        raise ValueError(f"replica {text!r} is not HOST:PORT or PORT")
    return f"{found['host'] or '127.0.0.1'}:{found['port']}"


def render(
    replicas: list[str], listen: str = "80", fail_timeout_s: int = 10, max_fails: int = 1
) -> str:
    """The nginx configuration (for the http { } block) in front of ``replicas``."""
    if not replicas:
        raise ValueError("name at least one replica")
    if _LISTEN.fullmatch(listen) is None:
        raise ValueError(f"--listen {listen!r} is not PORT or HOST:PORT")
    if fail_timeout_s < 1 or max_fails < 1:
        raise ValueError("--fail-timeout and --max-fails must be at least 1")
    checks = f"max_fails={max_fails} fail_timeout={fail_timeout_s}s"
    servers = "\n".join(f"    server {replica_address(r)} {checks};" for r in replicas)
    text = TEMPLATE.read_text(encoding="utf-8")
    text = text.replace("@@SERVERS@@", servers).replace("@@LISTEN@@", listen)
    left = re.findall(r"@@[A-Z_]+@@", text)
    if left:
        raise ValueError(f"{TEMPLATE.name} has placeholders this script does not fill: {left}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the nginx configuration for psm-kg replicas to stdout."
    )
    parser.add_argument("replicas", nargs="+", metavar="REPLICA", help="HOST:PORT or PORT")
    parser.add_argument("--listen", default="80", help="nginx's listen address [default: 80]")
    parser.add_argument("--fail-timeout", type=int, default=10, metavar="SECONDS")
    parser.add_argument("--max-fails", type=int, default=1, metavar="N")
    options = parser.parse_args(argv)
    try:
        text = render(options.replicas, options.listen, options.fail_timeout, options.max_fails)
    except ValueError as error:
        parser.error(str(error))  # exits 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
