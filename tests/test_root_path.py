"""Serving under a path prefix (``root_path``, docs/deploy.md "Proxy headers").

Three levels: the setting and its option; every link, redirect and URL the app writes, found by a
crawl of the in-process app asked as uvicorn asks it behind a proxy (``root_path`` in the scope and
before the path); and the real ``psm-kg serve --root-path /psm`` behind the real nginx, whose
``location /psm/`` strips the prefix as a deployment's would.

nginx as in tests/nginx.py: without it the end-to-end tests are skipped, except under CI=true,
where they fail.
"""

from __future__ import annotations

import json
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

import httpx
import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from live_server import free_port, live_server
from nginx import nginx_binary, running_nginx
from psm_kg.app import create_app
from psm_kg.cli import main
from psm_kg.config import Settings, SettingsError, load_settings
from psm_kg.query_workers import WorkerPool
from psm_kg.store import Store

PREFIX = "/psm"
PLAN = "plan/psttm-2025-2027"
PILLAR_CLASS = "https://w3id.org/psm/ontology#Pillar"
DATA = "https://w3id.org/psm/milano/id/"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SPARQL_JSON = "application/sparql-results+json"
CRAWL_LIMIT = 400
TESTSERVER = "testserver"
STARTUP_LIMIT_S = 30.0
SITEMAP_LOC = "{http://www.sitemaps.org/schemas/sitemap/0.9}loc"


# --- the setting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("", True),
        ("/psm", True),
        ("/data/psm", True),
        ("/psm-kg_2.0~x", True),
        ("/.well", True),
        ("psm", False),
        ("/psm/", False),
        ("/", False),
        ("//psm", False),
        ("/data//psm", False),
        ("/psm?x=1", False),
        ("/psm#top", False),
        ("/psm's", False),
        ("/ps m", False),
        ("/città", False),
        ("/%70sm", False),
        ("/..", False),
        ("/data/./psm", False),
        ("https://example.org/psm", False),
    ],
    ids=repr,
)
def test_root_path_is_empty_or_a_path_starting_and_not_ending_with_a_slash(
    text: str, accepted: bool
) -> None:
    if accepted:
        assert load_settings(env={"PSM_KG_ROOT_PATH": text}).root_path == text
        assert load_settings(env={}, root_path=text).root_path == text
        return
    with pytest.raises(SettingsError) as from_env:
        load_settings(env={"PSM_KG_ROOT_PATH": text})
    assert from_env.value.key == "PSM_KG_ROOT_PATH"
    with pytest.raises(SettingsError) as from_option:
        load_settings(env={}, root_path=text)
    assert from_option.value.key == "root_path"
    message = str(from_option.value)
    assert repr(text) in message
    assert "starting with /" in message
    assert "not ending with /" in message


def test_root_path_is_empty_by_default() -> None:
    assert load_settings(env={}).root_path == ""


def run(*args: str) -> Result:
    """The CLI with no PSM_KG_* variables from the developer's shell."""
    clean: dict[str, str | None] = {key: None for key in os.environ if key.startswith("PSM_KG_")}
    return CliRunner().invoke(main, list(args), env=clean, catch_exceptions=False)


def test_serve_with_a_bad_root_path_exits_2_naming_the_setting(tmp_path: Path) -> None:
    result = run("serve", "--root", str(tmp_path), "--root-path", "psm/", "--get", "/")
    assert result.exit_code == 2
    assert "root_path='psm/'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_get_with_a_root_path_writes_the_links_under_it(built_settings: Settings) -> None:
    result = run("serve", "--root", str(built_settings.root), "--root-path", PREFIX, "--get", "/")
    assert result.exit_code == 0
    hrefs = re.findall(r'href="(/[^"]*)"', result.stdout)
    assert f"{PREFIX}/milano/doc/" in hrefs
    assert all(href.startswith(PREFIX + "/") for href in hrefs), hrefs


# --- every URL the app writes, in process --------------------------------------------------------


class Page(HTMLParser):
    """The URLs an HTML page names (href, src, action) and the editor's JSON configuration."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.editor_config = ""
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.urls += [value for name, value in attrs if name in ("href", "src", "action") and value]
        self._in_config = tag == "script" and attributes.get("id") == "sparql-editor-config"

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.editor_config += data


def page_urls(html: str) -> tuple[list[str], str]:
    page = Page()
    page.feed(html)
    return page.urls, page.editor_config


def header_urls(response: httpx.Response) -> list[str]:
    """The URLs of Location, Content-Location and every Link header."""
    headers = response.headers
    found = [headers[name] for name in ("location", "content-location") if name in headers]
    for value in headers.get_list("link"):
        found += re.findall(r"<([^>]*)>", value)
    return found


def body_urls(response: httpx.Response, path: str) -> list[str]:
    """The URLs written in the body of a page, the sitemap, robots.txt or the API's listing."""
    media_type = response.headers.get("content-type", "").partition(";")[0]
    if media_type == "text/html":
        urls, config = page_urls(response.text)
        if config:
            urls.append(json.loads(config)["endpoint"])
        return urls
    if path.endswith("/sitemap.xml"):
        root = ElementTree.fromstring(response.content)
        return [loc.text or "" for loc in root.iter(SITEMAP_LOC)]
    if path.endswith("/robots.txt"):
        rules = ("Allow:", "Disallow:", "Sitemap:")
        lines = response.text.splitlines()
        return [line.partition(":")[2].strip() for line in lines if line.startswith(rules)]
    if path.endswith("/api/queries"):
        return [item["url"] for item in response.json()["queries"]]
    return []


def on_this_site(url: str, page: str) -> str | None:
    """``url`` (as written on ``page``) resolved to a path and query on this site, or None for a
    URL elsewhere (a data IRI, an external link) or a fragment of the page itself."""
    if url.startswith("#") or url.startswith("data:"):
        return None
    parts = urlsplit(urljoin(f"http://{TESTSERVER}{page}", url))
    if parts.scheme not in ("http", "https") or parts.netloc != TESTSERVER:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture(scope="module")
def prefixed(
    built_settings: Settings, store: Store, query_pool: WorkerPool
) -> Iterator[TestClient]:
    """The app asked as uvicorn asks it with --root-path /psm behind a proxy."""
    app = create_app(built_settings, store, query_pool)
    with TestClient(app, root_path=PREFIX, raise_server_exceptions=False) as client:
        yield client


SEEDS = (
    "/",
    "/milano/id/",
    f"/milano/id/{PLAN}",
    "/sparql",
    "/sparql/editor",
    "/docs",
    "/openapi.json",
    "/validation",
    "/api/queries",
    "/api/queries/list-pillars?limit=1",
    "/catalog",
    "/.well-known/void",
    "/sitemap.xml",
    "/robots.txt",
    "/healthz",
)


def test_a_crawl_under_the_root_path_finds_only_links_under_it_that_answer(
    prefixed: TestClient,
) -> None:
    queue = deque(PREFIX + seed for seed in SEEDS)
    seen = set(queue)
    outside: list[tuple[str, str]] = []
    failures: list[tuple[str, int]] = []
    fetched = 0
    while queue and fetched < CRAWL_LIMIT:
        path = queue.popleft()
        response = prefixed.get(path, headers={"Accept": BROWSER_ACCEPT}, follow_redirects=False)
        fetched += 1
        if response.status_code >= 400:
            failures.append((path, response.status_code))
            continue
        for url in header_urls(response) + body_urls(response, urlsplit(path).path):
            target = on_this_site(url, path)
            if target is None:
                continue
            if not target.startswith(PREFIX + "/"):
                outside.append((path, url))
            elif target not in seen and "query=" not in target:  # editor examples run queries
                seen.add(target)
                queue.append(target)
    assert not outside, f"links outside {PREFIX}/: {outside[:20]}"
    assert not failures, failures
    assert f"{PREFIX}/milano/doc/{PLAN}.html" in seen
    assert f"{PREFIX}/validation?profile=dcat-ap" in seen


def test_a_thing_redirects_to_its_document_under_the_root_path(prefixed: TestClient) -> None:
    response = prefixed.get(
        f"{PREFIX}/milano/id/{PLAN}", headers={"Accept": "text/turtle"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{PREFIX}/milano/doc/{PLAN}.ttl"
    document = prefixed.get(response.headers["location"])
    assert document.headers["content-location"] == f"{PREFIX}/milano/doc/{PLAN}.ttl"
    # The data IRIs do not depend on where the site is served.
    assert f"<{DATA}{PLAN}>" in document.text


def test_the_openapi_document_and_swagger_ui_name_the_root_path(prefixed: TestClient) -> None:
    assert prefixed.get(f"{PREFIX}/openapi.json").json()["servers"] == [{"url": PREFIX}]
    assert f"'{PREFIX}/openapi.json'" in prefixed.get(f"{PREFIX}/docs").text


def test_the_editor_and_the_service_description_name_the_prefixed_endpoint(
    prefixed: TestClient,
) -> None:
    editor = prefixed.get(f"{PREFIX}/sparql/editor")
    _urls, config = page_urls(editor.text)
    assert json.loads(config)["endpoint"] == f"{PREFIX}/sparql"
    description = prefixed.get(f"{PREFIX}/sparql", headers={"Accept": "text/turtle"})
    assert f"<http://{TESTSERVER}{PREFIX}/sparql>" in description.text


def test_the_api_pages_link_under_the_root_path(prefixed: TestClient) -> None:
    response = prefixed.get(f"{PREFIX}/api/queries/list-pillars?limit=1")
    links = header_urls(response)
    assert links
    assert all(link.startswith(f"http://{TESTSERVER}{PREFIX}/api/queries/") for link in links)


def test_robots_txt_names_the_paths_under_the_root_path(prefixed: TestClient) -> None:
    lines = prefixed.get(f"{PREFIX}/robots.txt").text.splitlines()
    assert f"Allow: {PREFIX}/" in lines
    assert f"Disallow: {PREFIX}/sparql?" in lines
    assert f"Sitemap: http://{TESTSERVER}{PREFIX}/sitemap.xml" in lines


# --- the real server behind the real nginx -------------------------------------------------------


@dataclass(frozen=True)
class Proxied:
    site: str  # nginx's origin: the site is at {site}/psm/
    server: str  # psm-kg's own origin
    client: httpx.Client


def nginx_http(listen: int, upstream: int) -> str:
    """The http { } body: the server under /psm/, the prefix stripped on the way (the trailing /
    of proxy_pass replaces the location's)."""
    return f"""server {{
    listen 127.0.0.1:{listen};
    location {PREFIX}/ {{
        proxy_pass http://127.0.0.1:{upstream}/;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
    }}
}}
"""


# Query workers are not what this module tests: threads start sooner.
PREFIXED_SERVER = {
    "PSM_KG_ROOT_PATH": PREFIX,
    "PSM_KG_QUERY_WORKERS": "0",
    "PSM_KG_ACCESS_LOG": "false",
}


@pytest.fixture(scope="module")
def proxied(
    built_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxied]:
    nginx_binary()  # skip (or fail under CI=true) before starting the server
    listen = free_port()
    prefix = tmp_path_factory.mktemp("nginx-root-path")
    with (
        live_server(built_settings.root, PREFIXED_SERVER) as server,
        running_nginx(
            prefix, nginx_http(listen, urlsplit(server.base_url).port or 0), listen
        ) as nginx,
        httpx.Client(base_url=nginx.url, timeout=10.0) as client,
    ):
        yield Proxied(nginx.url, server.base_url, client)


@pytest.mark.e2e
def test_behind_nginx_a_thing_answers_303_to_its_document_under_the_prefix(
    proxied: Proxied,
) -> None:
    client = proxied.client
    response = client.get(f"{PREFIX}/milano/id/{PLAN}", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 303
    assert response.headers["location"] == f"{PREFIX}/milano/doc/{PLAN}.html"
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    urls, _config = page_urls(page.text)
    paths = sorted({url for url in urls if url.startswith("/")})
    assert f"{PREFIX}/milano/doc/" in paths
    assert all(path.startswith(PREFIX + "/") for path in paths), paths
    # Every link of the page leads somewhere through nginx.
    for path in paths:
        assert client.get(path).status_code < 400, path


@pytest.mark.e2e
def test_behind_nginx_the_prefix_without_its_slash_redirects_to_the_home_page(
    proxied: Proxied,
) -> None:
    response = proxied.client.get(PREFIX)
    assert response.status_code == 301
    assert response.headers["location"].endswith(f"{PREFIX}/")
    home = proxied.client.get(f"{PREFIX}/")
    assert home.status_code == 200
    assert f'href="{PREFIX}/milano/doc/"' in home.text


@pytest.mark.e2e
def test_behind_nginx_the_sparql_endpoint_answers_under_the_prefix(proxied: Proxied) -> None:
    query = f"ASK {{ ?s a <{PILLAR_CLASS}> }}"
    by_get = proxied.client.get(
        f"{PREFIX}/sparql", params={"query": query}, headers={"Accept": SPARQL_JSON}
    )
    assert by_get.status_code == 200
    assert by_get.json()["boolean"] is True
    by_post = proxied.client.post(
        f"{PREFIX}/sparql", data={"query": query}, headers={"Accept": SPARQL_JSON}
    )
    assert by_post.json()["boolean"] is True
    # The service description names the endpoint as the client reached it: host, port and prefix.
    description = proxied.client.get(f"{PREFIX}/sparql", headers={"Accept": "text/turtle"})
    assert f"<{proxied.site}{PREFIX}/sparql>" in description.text


@pytest.mark.e2e
def test_behind_nginx_the_api_lists_its_queries_under_the_prefix(proxied: Proxied) -> None:
    listing = proxied.client.get(f"{PREFIX}/api/queries").json()["queries"]
    assert listing
    for item in listing:
        assert item["url"].startswith(f"{PREFIX}/api/queries/"), item["url"]
        assert proxied.client.get(item["url"]).status_code == 200, item["url"]


@pytest.mark.e2e
def test_a_request_with_the_prefix_still_on_finds_nothing(proxied: Proxied) -> None:
    assert httpx.get(f"{proxied.server}/healthz", timeout=10.0).status_code == 200
    assert httpx.get(f"{proxied.server}{PREFIX}/healthz", timeout=10.0).status_code == 404
