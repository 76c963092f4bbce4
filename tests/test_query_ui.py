"""The query editor: example query files, the page, its static files, and a real browser.

The in-process tests use the fixture tree, whose queries/ holds two examples. The browser tests
start the real server and drive Debian's chromium with Playwright: they open the editor, run an
example and record every request the page makes. Without chromium, Playwright or the editor's
vendored files they skip, saying how to get them, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from starlette.testclient import TestClient

from headless_chromium import launched_chromium, unavailable
from live_server import live_server
from psm_kg import query_ui
from psm_kg.query_files import load_query_files, parse_header, read_query_file

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_QUERIES = Path(__file__).parent / "data" / "app" / "tree" / "queries"
# What Chromium sends when it opens a page.
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
PAGES = ["/sparql", "/sparql/editor"]


# --- query files -------------------------------------------------------------------------------


def test_a_header_gives_each_field_with_its_continuation_lines() -> None:
    text = (
        "# summary: The pillars\n"
        "# description: The pillars of the plan,\n"
        "#   with their labels.\n"
        "# parameter: edition, default <x>\n"
        "# parameter: lang, default it\n"
        "# tags: plan, pillars\n"
        "PREFIX psm: <https://w3id.org/psm/ontology#>\n"
        "# not a header line: the header ended with PREFIX\n"
    )
    assert parse_header(text) == (
        ("summary", "The pillars"),
        ("description", "The pillars of the plan, with their labels."),
        ("parameter", "edition, default <x>"),
        ("parameter", "lang, default it"),
        ("tags", "plan, pillars"),
    )


def test_a_query_file_is_named_by_its_file_name_and_keeps_its_whole_text() -> None:
    query = read_query_file(FIXTURE_QUERIES / "list-pillars.rq")
    assert query.name == "list-pillars"
    assert query.summary == "The pillars of a plan edition"
    assert query.description.endswith("to the fixture's psm:pillarOf links).")
    assert query.tags == ("plan", "pillars")
    assert query.get("missing") is None
    assert query.text == (FIXTURE_QUERIES / "list-pillars.rq").read_text(encoding="utf-8")


def test_every_project_query_loads_with_a_summary_and_a_description() -> None:
    queries = load_query_files(ROOT / "queries")
    assert [query.name for query in queries] == sorted(
        path.stem for path in (ROOT / "queries").glob("*.rq")
    )
    assert all(query.summary and query.description for query in queries)
    fact_sources = next(query for query in queries if query.name == "list-fact-sources")
    assert fact_sources.get_all("parameter")[0].startswith("entity (IRI)")


def test_unreadable_query_files_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "b-good.rq").write_text("# summary: good\nASK {}\n", encoding="utf-8")
    (tmp_path / "a-latin1.rq").write_bytes("# summary: perch\xe9\nASK {}\n".encode("latin-1"))
    (tmp_path / "c-folder.rq").mkdir()
    (tmp_path / "notes.txt").write_text("not a query", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="psm_kg.query_files"):
        queries = load_query_files(tmp_path)
    assert [query.name for query in queries] == ["b-good"]
    assert "a-latin1.rq" in caplog.text


def test_a_missing_queries_folder_gives_no_queries(tmp_path: Path) -> None:
    assert load_query_files(tmp_path / "queries") == []


# --- the page, in process ----------------------------------------------------------------------


class _Page(HTMLParser):
    """The parts of the editor page the tests look at: URLs it loads, its data block, its form."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []  # src of scripts, href of stylesheets and icons
        self.links: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.forms: list[dict[str, str | None]] = []
        self.textareas: list[str] = []
        self.config_text = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes)
            if attributes.get("src"):
                self.loads.append(str(attributes["src"]))
            if attributes.get("id") == "sparql-editor-config":
                self._in = "config"
        elif tag == "link" and attributes.get("href"):
            self.loads.append(str(attributes["href"]))
        elif tag == "a" and attributes.get("href"):
            self.links.append(str(attributes["href"]))
        elif tag == "form":
            self.forms.append(attributes)
        elif tag == "textarea":
            self._in = "textarea"
            self.textareas.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "textarea"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "config":
            self.config_text += data
        elif self._in == "textarea":
            self.textareas[-1] += data

    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = json.loads(self.config_text)
        return config


def parse_page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


VENDORED = ("yasgui/yasgui.min.js", "yasgui/yasgui.min.css")  # names below /static/
VENDORED_FILES = ("yasgui.min.js", "yasgui.min.css")  # ... and in query_ui.VENDOR_DIR
NOT_INSTALLED = "the query editor's files are not installed: run `make node` and `make ui-assets`"


@pytest.fixture(autouse=True)
def editor_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The vendored YASGUI files, or small stand-ins where `make ui-assets` has not run.

    The page and its routes do not need the real files to be tested; the browser tests below
    use the real ones (and skip, or fail under CI, without them).
    """
    for name in VENDORED:
        path, media_type = query_ui.ASSETS[name]
        if not path.is_file():
            stand_in = tmp_path / "stand-in" / name
            stand_in.parent.mkdir(parents=True, exist_ok=True)
            stand_in.write_text(f"/* a stand-in for {name} */\n", encoding="utf-8")
            monkeypatch.setitem(query_ui.ASSETS, name, (stand_in, media_type))


@pytest.fixture
def without_editor_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As on a machine where `make ui-assets` never ran: the vendored YASGUI files are missing."""
    for name in VENDORED:
        _, media_type = query_ui.ASSETS[name]
        monkeypatch.setitem(query_ui.ASSETS, name, (tmp_path / "missing" / name, media_type))


def test_the_editor_page_is_html_in_english(client: TestClient) -> None:
    response = client.get("/sparql/editor")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="en">' in response.text


@pytest.mark.parametrize("path", PAGES)
def test_every_example_query_is_a_tab_and_the_first_is_open(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    config = parse_page(response.text).config
    files = sorted(FIXTURE_QUERIES.glob("*.rq"))
    assert [tab["name"] for tab in config["tabs"]] == [file.stem for file in files]
    assert [tab["query"] for tab in config["tabs"]] == [
        file.read_text(encoding="utf-8") for file in files
    ]
    assert [tab["summary"] for tab in config["tabs"]] == [
        read_query_file(file).summary for file in files
    ]
    assert config["selected"] == 0
    assert config["endpoint"] == "/sparql"


@pytest.mark.parametrize("path", PAGES)
def test_a_query_in_the_url_opens_in_its_own_tab_selected(client: TestClient, path: str) -> None:
    query = "SELECT ?s WHERE { ?s ?p ?o } LIMIT 1"
    response = client.get(path, params={"query": query}, headers={"accept": BROWSER_ACCEPT})
    config = parse_page(response.text).config
    assert config["tabs"][-1] == {"name": query_ui.QUERY_TAB_NAME, "summary": "", "query": query}
    assert config["selected"] == len(config["tabs"]) - 1
    assert len(config["tabs"]) == len(list(FIXTURE_QUERIES.glob("*.rq"))) + 1


def test_a_blank_query_parameter_opens_no_tab_of_its_own(client: TestClient) -> None:
    config = parse_page(client.get("/sparql/editor", params={"query": "  "}).text).config
    assert [tab["name"] for tab in config["tabs"]] == ["describe-edition", "list-pillars"]
    assert config["selected"] == 0


def test_a_tree_without_queries_opens_one_default_tab() -> None:
    config = query_ui.editor_config("/sparql", [], None)
    assert config["tabs"] == [{"name": "Query", "summary": "", "query": query_ui.DEFAULT_QUERY}]
    assert config["selected"] == 0


def test_a_query_cannot_break_out_of_the_page_data_block(client: TestClient) -> None:
    query = 'ASK { FILTER ("</script><script>alert(1)</script><!--" != "") }'
    response = client.get("/sparql/editor", params={"query": query})
    assert "<script>alert(1)" not in response.text
    page = parse_page(response.text)
    assert page.config["tabs"][-1]["query"] == query
    assert [script.get("src") for script in page.scripts if script.get("src")] == [
        query_ui.asset_url("", "yasgui/yasgui.min.js"),
        query_ui.asset_url("", "editor.js"),
    ]


def test_the_page_sends_a_content_security_policy_of_this_origin_only(
    client: TestClient,
) -> None:
    response = client.get("/sparql/editor")
    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval
    assert csp["connect-src"] == ["'self'"]  # queries go to this server only
    assert csp["frame-ancestors"] == ["'none'"]
    sources = {value for values in csp.values() for value in values}
    assert sources <= {"'none'", "'self'", "'unsafe-inline'", "data:"}, sources
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_page_loads_only_files_of_this_server_and_each_is_there(client: TestClient) -> None:
    page = parse_page(client.get("/sparql/editor").text)
    assert len(page.loads) == 5  # the icon, two stylesheets, two scripts
    for url in page.loads:
        if url.startswith("data:"):
            continue
        assert url.startswith("/static/"), url
        assert "//" not in url, url
        assert client.get(url).status_code == 200, url


# --- static files ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(query_ui.ASSETS))
def test_a_static_file_has_its_media_type_and_a_versioned_url_is_cached_for_a_year(
    client: TestClient, name: str
) -> None:
    url = query_ui.asset_url("", name)
    assert url is not None
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == query_ui.ASSETS[name][1]
    assert response.headers["cache-control"] == query_ui.IMMUTABLE
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == query_ui.ASSETS[name][0].read_bytes()


def test_an_unversioned_static_url_is_revalidated_with_its_etag(client: TestClient) -> None:
    response = client.get("/static/editor.js")
    assert response.headers["cache-control"] == query_ui.REVALIDATE
    again = client.get("/static/editor.js", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/static/unknown.js",
        "/static/../app.py",
        "/static/..%2Fapp.py",
        "/static/yasgui/..%2F..%2Fquery_ui.py",
        "/static/%2E%2E/%2E%2E/pyproject.toml",
        "/static/vendor/yasgui/yasgui.min.js",
        "/static/yasgui/package.json",
        "/static/editor.js/",
        "/static/",
    ],
    ids=[
        "unknown",
        "dot-dot",
        "encoded-slash",
        "encoded-dot-dot-from-yasgui",
        "encoded-dots",
        "file-system-layout",
        "vendored-but-not-served",
        "trailing-slash",
        "folder",
    ],
)
def test_anything_but_the_known_static_files_is_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "import" not in response.text  # no Python source, whatever the path resolved to


# --- without the editor's files ----------------------------------------------------------------


@pytest.mark.usefixtures("without_editor_files")
@pytest.mark.parametrize("path", PAGES)
def test_without_the_editor_files_the_page_is_a_plain_form_saying_how_to_install(
    client: TestClient, path: str
) -> None:
    response = client.get(path, headers={"accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert "content-security-policy" in response.headers
    page = parse_page(response.text)
    assert page.scripts == []  # nothing that would fail to load
    assert page.forms == [{"method": "post", "action": "/sparql"}]
    assert page.textareas == [""]
    assert 'id="editor-missing"' in response.text
    assert "make node" in response.text
    assert all(client.get(url).status_code == 200 for url in page.loads if url.startswith("/"))


@pytest.mark.usefixtures("without_editor_files")
def test_the_plain_form_runs_the_query_and_offers_every_example(client: TestClient) -> None:
    page = parse_page(client.get("/sparql", headers={"accept": BROWSER_ACCEPT}).text)
    examples = [link for link in page.links if link.startswith("?")]
    assert len(examples) == len(list(FIXTURE_QUERIES.glob("*.rq")))
    query = parse_qs(urlsplit(examples[1]).query)["query"][0]
    assert query == (FIXTURE_QUERIES / "list-pillars.rq").read_text(encoding="utf-8")
    # The example link opens the form filled in, and the form's POST answers results, not HTML.
    filled = parse_page(
        client.get("/sparql", params={"query": query}, headers={"accept": BROWSER_ACCEPT}).text
    )
    assert filled.textareas == [query]
    answer = client.post("/sparql", data={"query": query}, headers={"accept": BROWSER_ACCEPT})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/sparql-results+json")
    assert len(answer.json()["results"]["bindings"]) == 2


# --- what the vendored YASGUI can reach ---------------------------------------------------------


def test_yasgui_fetches_nothing_the_editor_does_not_turn_off() -> None:
    """The audit behind editor.js, pinned: a YASGUI upgrade with a new fetch must be audited.

    The four fetch() calls of yasgui.min.js: the query itself (to the configured endpoint), the
    prefix.cc list (prefixCcApi, kept null), Linked Open Vocabularies (the property and class
    autocompleters, unregistered) and the CORS probe of an endpoint (corsProxy, kept unset).
    """
    path = query_ui.VENDOR_DIR / "yasgui.min.js"
    if not path.is_file():
        _unavailable(NOT_INSTALLED)
    script = path.read_text(encoding="utf-8")
    assert script.count("fetch(") == 4
    assert "fetch(e.config.prefixCcApi)" in script
    assert "lov.linkeddata.es" in script
    assert "checkEndpointForCors" in script
    # YASGUI's defaults point at remote endpoints; editor.js must keep overriding each of them.
    editor = (query_ui.STATIC_DIR / "editor.js").read_text(encoding="utf-8")
    for setting in ("populateFromUrl: false", "corsProxy: undefined", "prefixCcApi = null"):
        assert setting in editor


# --- in a real browser ---------------------------------------------------------------------------

WAIT_MS = 15_000  # every browser wait is bounded by this
ACTIVE = ".yasgui .tabPanel.active"
# Chromium logs most CSP violations to the console itself; this makes sure every one shows there
# as an error, whatever blocked it.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
});
"""


def _unavailable(reason: str) -> NoReturn:
    unavailable("the query editor test", reason)


@dataclass
class Visit:
    """A page of the browser and what it did: every request ("METHOD url"), every console error."""

    page: Any
    base_url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_stayed_on_127_0_0_1(self) -> None:
        urls = [request.split(" ", 1)[1] for request in self.requests]
        elsewhere = [url for url in urls if urlsplit(url).hostname != "127.0.0.1"]
        assert elsewhere == [], f"requests to other hosts: {elsewhere}"
        assert self.errors == [], f"console errors: {self.errors}"


@pytest.fixture(scope="module")
def browser_server(tmp_path_factory: pytest.TempPathFactory, app_data: Path) -> Iterator[str]:
    """The real server on a fresh copy of the fixture tree (serve builds its dist/)."""
    if not all((query_ui.VENDOR_DIR / name).is_file() for name in VENDORED_FILES):
        _unavailable(NOT_INSTALLED)
    root = tmp_path_factory.mktemp("query-ui") / "tree"
    shutil.copytree(app_data / "tree", root)
    with live_server(root) as running:
        yield running.base_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium("the query editor test", WAIT_MS * 2) as launched:
        yield launched


@pytest.fixture
def visit(browser: Any, browser_server: str) -> Iterator[Visit]:
    """A fresh browser context (no storage) whose every request is recorded.

    A request to another host is recorded and aborted, so that a failing test never reaches out.
    """
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    recorded = Visit(page, browser_server)

    def route(route: Any) -> None:
        recorded.requests.append(f"{route.request.method} {route.request.url}")
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    context.route("**/*", route)

    def console(message: Any) -> None:
        if message.type == "error":
            recorded.errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: recorded.errors.append(str(error)))
    try:
        yield recorded
    finally:
        context.close()


def open_editor(visit: Visit, path: str) -> None:
    response = visit.page.goto(visit.base_url + path)
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    visit.page.wait_for_selector("html[data-editor=ready]")


def tab_names(visit: Visit) -> list[str]:
    names: list[str] = visit.page.eval_on_selector_all(
        ".yasgui .tabsList .tab a span", "spans => spans.map(span => span.textContent)"
    )
    return names


def result_rows(visit: Visit) -> list[str]:
    rows = f"{ACTIVE} .yasr table.dataTable tbody tr"
    visit.page.wait_for_selector(rows)
    texts: list[str] = visit.page.eval_on_selector_all(rows, "rows => rows.map(r => r.innerText)")
    return texts


@pytest.mark.e2e
@pytest.mark.parametrize("path", PAGES)
def test_running_an_example_in_the_browser_shows_its_rows_and_stays_on_127_0_0_1(
    visit: Visit, path: str
) -> None:
    open_editor(visit, path)
    assert tab_names(visit) == ["describe-edition", "list-pillars"]
    tab = visit.page.locator(".yasgui .tabsList .tab a", has_text="list-pillars")
    assert tab.get_attribute("title") == "The pillars of a plan edition"
    tab.click()
    shown = visit.page.evaluate("sparqlEditor.getTab().getYasqe().getValue()")
    assert shown == (FIXTURE_QUERIES / "list-pillars.rq").read_text(encoding="utf-8")
    visit.page.click(f"{ACTIVE} .yasqe_queryButton")
    rows = result_rows(visit)
    assert len(rows) == 2
    assert "Innovazione" in rows[0]
    assert "Sostenibilità" in rows[1]
    # Autocompletion of a property: by default YASGUI asks Linked Open Vocabularies for it.
    visit.page.evaluate(
        "sparqlEditor.getTab().getYasqe().setValue('PREFIX rdfs: <http://www.w3.org/2000/01/"
        "rdf-schema#>\\nSELECT * WHERE { ?s  }')"
    )
    visit.page.evaluate("sparqlEditor.getTab().getYasqe().focus()")
    visit.page.evaluate("sparqlEditor.getTab().getYasqe().setCursor({line: 1, ch: 20})")
    visit.page.keyboard.type("rdfs:la")
    visit.page.keyboard.press("Control+Space")
    visit.page.wait_for_timeout(500)  # a remote lookup would start at once; give it the time
    typed = visit.page.evaluate("sparqlEditor.getTab().getYasqe().getValue()")
    assert "{ ?s rdfs:la }" in typed
    assert f"POST {visit.base_url}/sparql" in visit.requests
    visit.assert_stayed_on_127_0_0_1()


@pytest.mark.e2e
def test_a_query_in_the_url_opens_selected_in_the_browser_and_runs_with_ctrl_enter(
    visit: Visit,
) -> None:
    query = (
        "SELECT ?label WHERE { ?p a <https://w3id.org/psm/ontology#Pillar> ;\n"
        "  <http://www.w3.org/2000/01/rdf-schema#label> ?label } ORDER BY ?label"
    )
    open_editor(visit, "/sparql?" + urlencode({"query": query}))
    assert tab_names(visit)[-1] == query_ui.QUERY_TAB_NAME
    active = visit.page.locator(".yasgui .tabsList .tab.active a span").inner_text()
    assert active == query_ui.QUERY_TAB_NAME
    assert visit.page.evaluate("sparqlEditor.getTab().getYasqe().getValue()") == query
    visit.page.click(f"{ACTIVE} .CodeMirror-code")
    visit.page.keyboard.press("Control+Enter")
    assert len(result_rows(visit)) == 4  # two pillars, each labelled in Italian and English
    visit.assert_stayed_on_127_0_0_1()
