"""`psm-kg export site`: the bundled data crawled into static files, served by a real nginx with
the exported rules, checked against the app itself; and the Apache rules checked as text.

nginx comes from Debian's packages (`apt-get install nginx-light`; .ci/run installs it). Without
it the nginx tests are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from live_server import free_port
from nginx import Nginx, check_config, running_nginx
from psm_kg import formats
from psm_kg.app import create_app
from psm_kg.build import build_dist
from psm_kg.cli import main
from psm_kg.config import Settings, load_settings
from psm_kg.export_site import (
    DOC_FORMATS,
    HTACCESS,
    LANGUAGE_COPIES,
    NGINX_HTTP,
    NGINX_SERVER,
    SiteExport,
    SiteExportError,
    copy_file,
    export_site,
    file_of,
    htaccess_rules,
    nginx_rules,
    site_origin,
)
from psm_kg.page_data import choose_language
from psm_kg.query_workers import InProcessEvaluator
from psm_kg.store import Store

ROOT = Path(__file__).resolve().parents[1]
PILLAR = "pillar/2025-2027/sostenibilita"
SITE_URL = "https://psm.example.org"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
SAMPLE_EVERY = (
    7  # compare every 7th exported file with the app, and every file outside /milano/doc/
)


@pytest.fixture(scope="module")
def bundled_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("bundled") / "tree"
    for part in ("ontology", "data", "queries"):
        shutil.copytree(ROOT / part, root / part)
    settings = load_settings(env={"PSM_KG_QUERY_WORKERS": "0"}, root=root)
    build_dist(settings)
    return settings


@pytest.fixture(scope="module")
def bundled_store(bundled_settings: Settings) -> Store:
    return Store.from_dist(bundled_settings.dist_dir)


@pytest.fixture(scope="module")
def site(
    bundled_settings: Settings, bundled_store: Store, tmp_path_factory: pytest.TempPathFactory
) -> SiteExport:
    directory = tmp_path_factory.mktemp("site") / "www"
    return export_site(bundled_settings, bundled_store, directory, site_url=SITE_URL)


@pytest.fixture(scope="module")
def app(bundled_settings: Settings, bundled_store: Store) -> Iterator[TestClient]:
    application = create_app(bundled_settings, bundled_store, InProcessEvaluator(bundled_store))
    with TestClient(application, raise_server_exceptions=False) as client:
        yield client


# --- nginx ---------------------------------------------------------------------------------------


def nginx_http(site_dir: Path, port: int) -> str:
    """The http { } block serving the export at ``site_dir`` with its rules."""
    return (
        "access_log off;\n"
        f"include {site_dir / NGINX_HTTP};\n"
        "server {\n"
        f"    listen 127.0.0.1:{port};\n"
        f"    root {site_dir};\n"
        f"    include {site_dir / NGINX_SERVER};\n"
        "}\n"
    )


@pytest.fixture(scope="module")
def nginx(site: SiteExport, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    with running_nginx(prefix, nginx_http(site.directory, port), port) as server:
        yield server


def get(
    nginx: Nginx, path: str, accept: str | None = None, accept_language: str | None = None
) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    if accept_language:
        headers["Accept-Language"] = accept_language
    return httpx.get(nginx.url + path, headers=headers, follow_redirects=False, timeout=10)


# (path, Accept, status, Location or None, Content-Type essence or None)
NEGOTIATION = [
    (f"/milano/id/{PILLAR}", "text/html", 303, f"/milano/doc/{PILLAR}.html", None),
    (f"/milano/id/{PILLAR}", BROWSER_ACCEPT, 303, f"/milano/doc/{PILLAR}.html", None),
    (f"/milano/id/{PILLAR}", None, 303, f"/milano/doc/{PILLAR}.html", None),
    (f"/milano/id/{PILLAR}", "*/*", 303, f"/milano/doc/{PILLAR}.html", None),
    (f"/milano/id/{PILLAR}", "text/turtle", 303, f"/milano/doc/{PILLAR}.ttl", None),
    (f"/milano/id/{PILLAR}", "application/ld+json", 303, f"/milano/doc/{PILLAR}.jsonld", None),
    (f"/milano/id/{PILLAR}", "application/rdf+xml", 303, f"/milano/doc/{PILLAR}.rdf", None),
    (f"/milano/id/{PILLAR}", "application/n-triples", 303, f"/milano/doc/{PILLAR}.nt", None),
    (
        f"/milano/id/{PILLAR}",
        "text/turtle;q=1.0, application/rdf+xml;q=0.5",
        303,
        f"/milano/doc/{PILLAR}.ttl",
        None,
    ),
    ("/milano/id/", "text/html", 303, "/milano/doc/", None),
    ("/milano/id/pillar/", "text/html", 303, "/milano/doc/pillar/", None),
    *((f"/milano/doc/{PILLAR}", fmt.media_type, 200, None, fmt.media_type) for fmt in DOC_FORMATS),
    (f"/milano/doc/{PILLAR}", BROWSER_ACCEPT, 200, None, "text/html"),
    *(
        (f"/milano/doc/{PILLAR}.{fmt.extension}", "text/html", 200, None, fmt.media_type)
        for fmt in DOC_FORMATS
    ),
    ("/milano/doc/", None, 200, None, "text/html"),
    ("/milano/doc/pillar/", None, 200, None, "text/html"),
    *(("/ontology", fmt.media_type, 200, None, fmt.media_type) for fmt in DOC_FORMATS),
    ("/ontology.ttl", "text/html", 200, None, "text/turtle"),
    ("/shapes", "application/ld+json", 200, None, "application/ld+json"),
    ("/catalog", None, 200, None, "text/turtle"),
    ("/catalog", "application/rdf+xml", 200, None, "application/rdf+xml"),
    ("/.well-known/void", "application/ld+json", 200, None, "application/ld+json"),
    ("/", BROWSER_ACCEPT, 200, None, "text/html"),
    ("/sitemap.xml", None, 200, None, "application/xml"),
    ("/robots.txt", None, 200, None, "text/plain"),
    ("/dumps/psm-kg.ttl", None, 200, None, "text/turtle"),
    ("/dumps/psm-kg.nq.gz", None, 200, None, "application/gzip"),
    ("/static/pages.css", None, 200, None, "text/css"),
    ("/sparql", "text/html", 200, None, "text/html"),
    ("/milano/id/pillar/2025-2027/no-such-pillar", "text/html", 404, None, None),
    ("/milano/doc/pillar/2025-2027/no-such-pillar", "text/turtle", 404, None, None),
    ("/milano/doc/pillar/2025-2027/no-such-pillar.ttl", None, 404, None, None),
    ("/no-such-page", None, 404, None, None),
    (f"/{NGINX_SERVER}", None, 404, None, None),
    (f"/{HTACCESS}", None, 404, None, None),
    ("/_lang/accept-en/index.html", None, 404, None, None),
    (f"/_lang/lang-en/milano/doc/{PILLAR}.html", "text/html", 404, None, None),
]


def row_id(row: tuple[str, str | None, int, str | None, str | None]) -> str:
    path, accept, status, _, _ = row
    return f"{path} {accept.split(',')[0] if accept else 'no-accept'} {status}"


@pytest.mark.parametrize(
    ("path", "accept", "status", "location", "media_type"),
    NEGOTIATION,
    ids=[row_id(r) for r in NEGOTIATION],
)
def test_nginx_answers_the_negotiation_table(
    nginx: Nginx,
    path: str,
    accept: str | None,
    status: int,
    location: str | None,
    media_type: str | None,
) -> None:
    response = get(nginx, path, accept)

    assert response.status_code == status
    if location is not None:
        assert response.headers["location"] == location
    if media_type is not None:
        assert formats.essence(response.headers["content-type"]) == media_type


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        (f"/milano/id/{PILLAR}", "text/turtle"),
        (f"/milano/doc/{PILLAR}", "text/turtle"),
        ("/ontology", "text/html"),
        ("/catalog", "text/turtle"),
    ],
)
def test_negotiated_nginx_answers_vary_on_accept(nginx: Nginx, path: str, accept: str) -> None:
    response = get(nginx, path, accept)

    assert "accept" in response.headers["vary"].lower()


@pytest.mark.parametrize("accept", ["text/turtle", "application/ld+json", "text/html"])
def test_a_303_from_nginx_leads_where_the_app_leads(
    nginx: Nginx, app: TestClient, accept: str
) -> None:
    path = f"/milano/id/{PILLAR}"
    ours = get(nginx, path, accept)
    theirs = app.get(path, headers={"Accept": accept}, follow_redirects=False)

    assert (ours.status_code, ours.headers["location"]) == (303, theirs.headers["location"])
    followed = get(nginx, ours.headers["location"])
    assert followed.content == app.get(theirs.headers["location"]).content


# (path with its query, Accept, Accept-Language): the language the app picks, and the page's bytes.
LANGUAGES = [
    ("/", None, None),
    ("/", None, "en"),
    ("/", None, "en-US,en;q=0.9"),
    ("/", None, "en-GB,en;q=0.9,it;q=0.8"),
    ("/", None, "it-IT,it;q=0.9,en-US;q=0.8,en;q=0.7"),
    ("/", None, "fr-FR,fr;q=0.9,en;q=0.8"),
    ("/", None, "de-DE,de;q=0.9"),
    ("/", None, "english"),
    ("/?lang=en", None, None),
    ("/?lang=en", None, "it"),
    ("/?lang=it", None, "en"),
    ("/?lang=fr", None, "en"),
    ("/milano/doc/", None, "en"),
    ("/milano/doc/?lang=en", None, None),
    ("/milano/doc/pillar/", None, "en"),
    ("/milano/doc/pillar/?lang=it", None, "en-US"),
    (f"/milano/doc/{PILLAR}", None, "en"),
    (f"/milano/doc/{PILLAR}", BROWSER_ACCEPT, "en-US,en;q=0.5"),
    (f"/milano/doc/{PILLAR}.html", None, "en"),
    (f"/milano/doc/{PILLAR}?lang=en", BROWSER_ACCEPT, None),
    (f"/milano/doc/{PILLAR}.html?lang=it", None, "en"),
    (f"/milano/doc/{PILLAR}.html?lang=en", None, "it"),
    (f"/milano/doc/{PILLAR}", "text/turtle", "en"),
    (f"/milano/doc/{PILLAR}.jsonld?lang=en", None, None),
    ("/ontology", None, "en"),
    ("/ontology?lang=en", "text/html", None),
    ("/ontology", "text/turtle", "en"),
    ("/ontology.html", None, "en"),
    ("/ontology.html?lang=it", None, "en"),
    ("/shapes", None, "en-GB"),
    ("/shapes.html?lang=en", None, None),
]


@pytest.mark.parametrize(
    ("path", "accept", "accept_language"),
    LANGUAGES,
    ids=[f"{p} {a.split(',')[0] if a else '-'} {al or '-'}" for p, a, al in LANGUAGES],
)
def test_nginx_picks_the_language_the_app_picks(
    nginx: Nginx, app: TestClient, path: str, accept: str | None, accept_language: str | None
) -> None:
    headers = {"Accept": accept or "*/*"}
    if accept_language:
        headers["Accept-Language"] = accept_language
    ours = get(nginx, path, accept, accept_language)
    theirs = app.get(SITE_URL + path, headers=headers, follow_redirects=False)

    assert ours.status_code == theirs.status_code == 200
    assert formats.essence(ours.headers["content-type"]) == formats.essence(
        theirs.headers["content-type"]
    )
    assert ours.content == theirs.content
    if "content-language" in theirs.headers:  # a page: English or Italian, as the app chose
        language = theirs.headers["content-language"]
        assert f'<html lang="{language}">' in ours.text
        assert "accept-language" in ours.headers["vary"].lower()


@pytest.mark.parametrize("accept_language", [None, "en"], ids=["italian", "english"])
def test_the_language_switch_and_the_links_it_leads_to_work_as_in_the_app(
    nginx: Nginx, app: TestClient, accept_language: str | None
) -> None:
    page = get(nginx, f"/milano/doc/{PILLAR}", "text/html", accept_language)
    found = re.search(r'<a class="lang" href="([^"]+)"', page.text)
    assert found is not None
    switch = found.group(1)
    assert switch.endswith("?lang=" + ("it" if accept_language else "en"))

    ours = get(nginx, switch)
    theirs = app.get(SITE_URL + switch)
    assert ours.content == theirs.content
    kept = [
        link
        for link in re.findall(r'href="([^"]+)"', ours.text)
        if link.startswith("/milano/doc/") and link.endswith(switch[-8:])
    ]
    assert len(kept) > 3  # the links of the switched page keep the language
    for link in [*kept[:6], "/" + switch[-8:]]:
        response = get(nginx, link)
        assert response.status_code == 200, link
        assert response.content == app.get(SITE_URL + link).content, link


def test_every_page_is_written_in_every_language_copy(site: SiteExport) -> None:
    pages = [path for path, media_type in site.files.items() if media_type == "text/html"]

    assert set(site.translated) == set(pages) - {"/sparql.html"}
    assert len(site.translated) > 300
    for path in site.translated:
        for folder, _, _ in LANGUAGE_COPIES:
            assert (site.directory / copy_file(folder, path)).is_file(), (folder, path)


def sample(site: SiteExport) -> list[str]:
    docs = [path for path in site.files if path.startswith("/milano/doc/")]
    others = [path for path in site.files if not path.startswith("/milano/doc/")]
    return others + docs[::SAMPLE_EVERY]


def test_nginx_serves_the_bytes_the_app_serves(
    nginx: Nginx, app: TestClient, site: SiteExport
) -> None:
    checked = 0
    for path in sample(site):
        if path == "/sparql.html":
            continue
        ours = get(nginx, path)
        theirs = app.get(SITE_URL + path, follow_redirects=False)
        assert ours.status_code == theirs.status_code == 200, path
        assert ours.content == theirs.content, path
        assert formats.essence(ours.headers["content-type"]) == formats.essence(
            theirs.headers["content-type"]
        ), path
        checked += 1
    assert checked > 200


def test_the_crawl_exports_every_page_of_the_sitemap(site: SiteExport) -> None:
    sitemap = (site.directory / "sitemap.xml").read_text(encoding="utf-8")
    locs = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    pages = [loc.removeprefix(SITE_URL) for loc in locs]
    pages = [page for page in pages if page != "/sparql"]

    assert len(pages) > 300
    for page in pages:
        exported = {page, *(f"{page}.{fmt.extension}" for fmt in DOC_FORMATS)}
        assert exported & set(site.files), page
        assert (site.directory / file_of(next(iter(exported & set(site.files))))).is_file()


def test_every_description_is_exported_in_every_format(site: SiteExport) -> None:
    pages = [p for p in site.files if p.startswith("/milano/doc/") and p.endswith(".html")]

    for page in pages:
        stem = page.removesuffix(".html")
        for fmt in DOC_FORMATS:
            assert f"{stem}.{fmt.extension}" in site.files


def test_the_sitemap_and_robots_name_the_site_url(site: SiteExport) -> None:
    robots = (site.directory / "robots.txt").read_text(encoding="utf-8")
    sitemap = (site.directory / "sitemap.xml").read_text(encoding="utf-8")

    assert f"Sitemap: {SITE_URL}/sitemap.xml" in robots
    assert set(re.findall(r"<loc>(https?://[^/<]+)", sitemap)) == {SITE_URL}


@pytest.mark.parametrize("url", ["ftp://x.org", "https://x.org/psm/", "x.org", "https://x.org/?a"])
def test_a_site_url_that_is_not_an_origin_is_refused(url: str) -> None:
    with pytest.raises(SiteExportError, match="site URL"):
        site_origin(url)


def test_no_query_url_sparql_or_thing_url_is_written(site: SiteExport) -> None:
    written = [p for p in site.files if "?" in p or p.startswith(("/sparql", "/milano/id/"))]
    assert written == ["/sparql.html"]  # the note, not a page of the app
    assert not [url for url in site.skipped if "lang=" in url]  # the language copies serve them


def test_with_a_sparql_endpoint_nginx_redirects_sparql_there(
    site: SiteExport, tmp_path: Path
) -> None:
    http_rules, server_rules = nginx_rules(site.files, "https://example.org/sparql")
    (tmp_path / "_server").mkdir()
    (tmp_path / NGINX_HTTP).write_text(http_rules, encoding="utf-8")
    (tmp_path / NGINX_SERVER).write_text(server_rules, encoding="utf-8")

    checked = check_config(tmp_path, nginx_http(tmp_path, free_port()))

    assert checked.returncode == 0, checked.stderr.decode()
    assert "return 307 https://example.org/sparql$is_args$args;" in server_rules


# --- Apache --------------------------------------------------------------------------------------

APACHE_DIRECTIVES = {
    "Options",
    "DirectoryIndex",
    "AddDefaultCharset",
    "AddType",
    "RewriteEngine",
    "RewriteCond",
    "RewriteRule",
    "Header",
    "<IfModule",
    "</IfModule>",
    "<If",
    "</If>",
}


def test_the_htaccess_uses_only_known_directives_in_balanced_sections(site: SiteExport) -> None:
    text = (site.directory / HTACCESS).read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    directives = [line.split()[0] for line in lines if line and not line.startswith("#")]

    assert set(directives) <= APACHE_DIRECTIVES
    for section in ("IfModule", "If"):
        assert directives.count(f"<{section}") == directives.count(f"</{section}>")
    for line in lines:
        if line.startswith("RewriteRule"):
            assert len(line.split()) in (3, 4), line  # pattern, substitution, [flags]
            re.compile(line.split()[1])  # the pattern is a valid regular expression
        if line.startswith("RewriteCond"):
            assert len(line.split()) in (3, 4), line


@pytest.mark.parametrize("fmt", DOC_FORMATS, ids=[f.extension for f in DOC_FORMATS])
def test_the_htaccess_negotiates_every_document_format(
    site: SiteExport, fmt: formats.Format
) -> None:
    text = (site.directory / HTACCESS).read_text(encoding="utf-8")
    pattern = re.escape(fmt.media_type)

    assert f"AddType {fmt.media_type} .{fmt.extension}" in text
    assert f"RewriteCond %{{HTTP_ACCEPT}} ^\\s*{pattern} [NC]" in text
    assert f"RewriteCond %{{HTTP_ACCEPT}} {pattern} [NC]" in text
    assert f"[E=PSM_DOC:{fmt.extension}]" in text


def test_the_htaccess_types_every_exported_file(site: SiteExport) -> None:
    text = (site.directory / HTACCESS).read_text(encoding="utf-8")
    typed = dict(re.findall(r"^AddType (\S+) \.(\S+)$", text, re.MULTILINE)[::1])
    by_extension = {ext: media_type for media_type, ext in typed.items()}

    for path, media_type in site.files.items():
        extension = Path(file_of(path)).suffix.removeprefix(".")
        assert by_extension[extension] == media_type, path


ACCEPT_LANGUAGES = [
    "",
    "en",
    "EN-us",
    " en-GB , en;q=0.9",
    "en-US,en;q=0.9,it;q=0.8",
    "it",
    "it-IT,it;q=0.9,en-US;q=0.8,en;q=0.7",
    "fr-FR,fr;q=0.9,en;q=0.8",
    "fr-FR,fr;q=0.9,it;q=0.8,en;q=0.7",
    "de",
    "*",
    "english",
    "en_US",
    "eng",
    "es, en-US;q=0.5",
]


@pytest.mark.parametrize("header", ACCEPT_LANGUAGES)
def test_the_rules_accept_language_pattern_picks_what_the_app_picks(
    site: SiteExport, header: str
) -> None:
    nginx_text = (site.directory / NGINX_HTTP).read_text(encoding="utf-8")
    apache_text = (site.directory / HTACCESS).read_text(encoding="utf-8")
    found = re.search(r'"~\*(\^[^"]+)"\s+/_lang/accept-en;', nginx_text)
    assert found is not None
    pattern = found.group(1)
    assert f"RewriteCond %{{HTTP:Accept-Language}} {pattern} [NC]" in apache_text

    english = re.search(pattern, header, re.IGNORECASE) is not None  # PCRE, case-insensitive

    assert english == (choose_language(None, header) == "en")


def test_the_htaccess_picks_the_page_language_and_hides_the_copies(site: SiteExport) -> None:
    text = htaccess_rules(site.files, None)

    assert "RewriteRule ^_lang/ - [R=404,L]" in text
    assert "RewriteCond %{QUERY_STRING} (?:^|&)lang=(en|it)(?:&|$)" in text
    assert "RewriteRule ^ - [E=PSM_LANG:_lang/lang-%1/]" in text
    assert "RewriteRule ^ - [E=PSM_LANG:_lang/accept-en/]" in text
    assert {folder for folder, _, _ in LANGUAGE_COPIES} == {"accept-en", "lang-en", "lang-it"}
    assert "Header always merge Vary Accept-Language" in text


def test_the_htaccess_redirects_things_with_303_and_marks_vary(site: SiteExport) -> None:
    text = htaccess_rules(site.files, None)

    assert "RewriteRule ^milano/id/(.+)$ /milano/doc/$1.%{ENV:PSM_DOC} [R=303,L]" in text
    assert "Header always merge Vary Accept" in text
    assert "RewriteRule ^sparql(/.*)?$ /sparql.html [END]" in text
    with_endpoint = htaccess_rules(site.files, "https://example.org/sparql")
    assert "RewriteRule ^sparql$ https://example.org/sparql [R=307,QSA,L]" in with_endpoint


# --- the command ---------------------------------------------------------------------------------


def run(*args: str) -> Result:
    clean: dict[str, str | None] = {key: None for key in os.environ if key.startswith("PSM_KG_")}
    clean["PSM_KG_QUERY_WORKERS"] = "0"
    return CliRunner().invoke(main, list(args), env=clean, catch_exceptions=False)


def test_export_site_writes_the_pages_and_the_rules(app_tree: Path) -> None:
    # The fixture tree's ontology has no Italian comments, which the ontology page needs.
    shutil.copy(ROOT / "ontology" / "psm.ttl", app_tree / "ontology" / "psm.ttl")
    out = app_tree / "www"

    result = run("export", "site", str(out), "--root", str(app_tree))

    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"\d+ files written to .*\n", result.stdout)
    for name in ("index.html", "sparql.html", HTACCESS, NGINX_HTTP, NGINX_SERVER):
        assert (out / name).is_file(), name


def test_export_site_into_a_file_exits_2_naming_it(app_tree: Path) -> None:
    blocker = app_tree / "taken"
    blocker.write_text("not a directory\n", encoding="utf-8")

    result = run("export", "site", str(blocker / "www"), "--root", str(app_tree))

    assert result.exit_code == 2
    assert str(blocker / "www") in result.stderr
    assert "Traceback" not in result.output


def test_export_site_exits_2_when_dist_cannot_be_built(app_tree: Path, app_data: Path) -> None:
    shutil.copy(app_data / "syntax-error.ttl", app_tree / "data" / "plan" / "broken.ttl")

    result = run("export", "site", str(app_tree / "www"), "--root", str(app_tree))

    assert result.exit_code == 2
    assert "dist/ cannot be built" in result.stderr
    assert not (app_tree / "www").exists()


def test_export_site_refuses_a_sparql_endpoint_that_is_not_a_url(app_tree: Path) -> None:
    result = run(
        "export", "site", str(app_tree / "www"), "--root", str(app_tree), "--sparql-endpoint", "x"
    )

    assert result.exit_code == 2
    assert "--sparql-endpoint 'x'" in result.stderr
