"""/docs in a real browser: Swagger UI, served by the live server, shows every named query and
runs one, with no request leaving 127.0.0.1 (Debian's chromium through Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from headless_chromium import launched_chromium, unavailable
from live_server import live_server
from psm_kg import api_docs
from test_api import TEST_QUERIES

pytestmark = pytest.mark.e2e

WAIT_MS = 15_000
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory, app_data: Path) -> Iterator[str]:
    if not all((api_docs.VENDOR_DIR / name).is_file() for name in api_docs.ASSETS):
        unavailable("the /docs browser test", "Swagger UI is not installed: make ui-assets")
    root = tmp_path_factory.mktemp("docs") / "tree"
    shutil.copytree(app_data / "tree", root)
    for name, text in TEST_QUERIES.items():
        (root / "queries" / f"{name}.rq").write_text(text, encoding="utf-8")
    with live_server(root) as running:
        yield running.base_url


def test_swagger_ui_lists_every_query_and_runs_one_from_this_server_only(
    docs_server: str,
) -> None:
    requests: list[str] = []
    errors: list[str] = []
    with launched_chromium("the /docs browser test", WAIT_MS * 2) as browser:
        context = browser.new_context()
        context.set_default_timeout(WAIT_MS)
        context.add_init_script(REPORT_CSP_VIOLATIONS)

        def route(route: Any) -> None:
            requests.append(route.request.url)
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        response = page.goto(docs_server + "/docs")
        assert response is not None
        assert response.status == 200
        page.wait_for_selector(".opblock-summary-path")
        paths = page.eval_on_selector_all(
            ".opblock-summary-path", "nodes => nodes.map(n => n.getAttribute('data-path'))"
        )
        assert {f"/api/queries/{name}" for name in TEST_QUERIES} <= set(paths)
        assert "/sparql" in paths

        operation = page.locator("#operations-test-named_query_find_pillars")
        operation.locator(".opblock-summary").click()
        operation.locator(".try-out__btn").click()
        operation.locator("input[placeholder='text']").fill("sost")
        operation.locator(".execute").click()
        body = operation.locator(".responses-wrapper .live-responses-table .microlight").first
        body.wait_for()
        assert "Sostenibilità" in body.inner_text()
        context.close()
    assert any("/api/queries/find-pillars?" in url and "text=sost" in url for url in requests)
    elsewhere = [url for url in requests if urlsplit(url).hostname != "127.0.0.1"]
    assert elsewhere == []
    assert errors == []
