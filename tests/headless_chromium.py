"""Debian's chromium, driven by Playwright for Python, for the tests of pages in a real browser.

Missing chromium or Playwright skips a browser test locally, with what to install; under CI=true it
fails instead, since CI installs both (.ci/run and make).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = Path("/usr/bin/chromium")
# Headless as root, and no calls home at start (they would leave 127.0.0.1).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def unavailable(test: str, reason: str) -> NoReturn:
    """Skip ``test`` for ``reason``, or fail under CI."""
    if IN_CI:
        pytest.fail(f"{test} cannot run under CI: {reason}")
    pytest.skip(reason)


@contextmanager
def launched_chromium(test: str, timeout_ms: float) -> Iterator[Any]:
    """A headless chromium, closed at the end of the block; ``timeout_ms`` bounds its start."""
    if not CHROMIUM.is_file():
        unavailable(test, f"Debian's chromium is not at {CHROMIUM}: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable(test, "Playwright for Python is not installed: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=timeout_ms
        )
        try:
            yield browser
        finally:
            browser.close()
