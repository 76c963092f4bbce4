"""Write every page and representation the server serves as static files, plus the server rules.

The export crawls the real app in process (starlette's TestClient, as ``serve --get`` does), from
``/``, ``/sitemap.xml``, ``/robots.txt``, ``/catalog`` and ``/.well-known/void``, following the
links of every HTML page (``href`` and ``src``), the sitemap's ``<loc>`` URLs, the dumps the
catalogue and VoID name, the redirects and the ``Link: rel="alternate"`` headers. A negotiated
URL (one answered with a ``Content-Location``) is also asked for with every extension of the
format table. The crawl stops at `MAX_URLS`.

URL to file: ``/a/`` is ``a/index.html``; a negotiated URL is written at its
``Content-Location`` (``/milano/doc/x`` -> ``milano/doc/x.html``, ``/catalog`` -> ``catalog.ttl``);
any other URL at its own path. Left out: ``/milano/id/…`` (303s, redone by the rules), the SPARQL
endpoint and editor (``/sparql``), and other URLs with a query string (the ``?v=`` of ``/static/``
files is dropped, the file is the same).

Languages: a page (an HTML answer with ``Content-Language``) is Italian at its own file, and is
also fetched as the app serves it in the other cases the app tells apart (`LANGUAGE_COPIES`:
``Accept-Language: en``, the switch ``?lang=en`` and ``?lang=it``, whose links keep the
``?lang=``); each copy is written under ``_lang/<copy>/`` with the page's file name, and the rules
serve it in place of the page (``_lang/`` itself is never served at its own URL).

Beside the pages: ``.htaccess`` (Apache) and ``_server/nginx-http.conf`` +
``_server/nginx-server.conf`` (nginx), rendered from the templates in ``server_rules/`` with the
media type of every file written; see docs/cli.md. ``/sparql`` either redirects to
``sparql_endpoint`` (a live psm-kg server's ``/sparql``, query string kept) or serves
``sparql.html``, a note that this copy has no endpoint and where the dumps are. The crawl runs
as if the app were served at ``site_url`` (an origin): the only absolute URLs the app writes with
its own host are in ``sitemap.xml`` and ``robots.txt``.
"""

from __future__ import annotations

import html
import re
from collections import deque
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

from starlette.testclient import TestClient

from psm_kg import formats, urls
from psm_kg.config import Settings
from psm_kg.errors import PsmKgError
from psm_kg.store import Store

MAX_URLS = 20_000
DEFAULT_SITE_URL = "http://localhost"
SEEDS = ("/", urls.SITEMAP_PATH, urls.ROBOTS_PATH, urls.CATALOG_PATH, urls.VOID_PATH)
DESCRIPTIONS = (urls.CATALOG_PATH + ".ttl", urls.VOID_PATH + ".ttl")
RULES_DIR = "_server"
NGINX_HTTP = f"{RULES_DIR}/nginx-http.conf"
NGINX_SERVER = f"{RULES_DIR}/nginx-server.conf"
HTACCESS = ".htaccess"
SPARQL_NOTE = "sparql.html"
LANGUAGE_DIR = "_lang"
# The copies of every page besides the Italian one at its own file, as the app chooses a page's
# language (page_data.choose_language): ?lang= when it names a language (and links keep it), else
# Accept-Language, else Italian. (folder under _lang/, query string, Accept-Language header)
LANGUAGE_COPIES = (
    ("accept-en", "", "en"),
    ("lang-en", "lang=en", ""),
    ("lang-it", "lang=it", ""),
)
_LANGUAGE_QUERIES = {query for _, query, _ in LANGUAGE_COPIES if query}
# The formats a negotiated URL may also have as a file, in the format table's order.
FILE_FORMATS = tuple(
    f for f in formats.FORMATS if f.kind in (formats.FormatKind.GRAPH, formats.FormatKind.DOCUMENT)
)
# Formats the rules negotiate: documents (HTML first, the default) and RDF-only documents.
DOC_FORMATS = (formats.HTML, formats.TURTLE, formats.JSON_LD, formats.RDF_XML, formats.N_TRIPLES)
RDF_FORMATS = DOC_FORMATS[1:]
_SITEMAP_LOC = "{http://www.sitemaps.org/schemas/sitemap/0.9}loc"


class SiteExportError(PsmKgError):
    """DIR cannot be written, or the crawl found something it cannot write as a file."""


@dataclass(frozen=True)
class SiteExport:
    directory: Path
    files: dict[str, str]  # URL path -> media type (essence) of the file written for it
    redirects: dict[str, str]  # URL path -> Location, as the app answered (303s)
    skipped: tuple[str, ...]  # URLs seen and not exported (SPARQL, query strings, other hosts)
    translated: tuple[str, ...] = ()  # URL paths of the pages also written in LANGUAGE_COPIES


def copy_file(folder: str, path: str) -> str:
    """The file (relative, POSIX) of the ``folder`` copy of the page at URL ``path``."""
    return f"{LANGUAGE_DIR}/{folder}/{file_of(path)}"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def _html_links(body: bytes) -> list[str]:
    parser = _Links()
    parser.feed(body.decode("utf-8", errors="replace"))
    return parser.links


def _alternates(link_header: str) -> list[str]:
    return re.findall(r'<([^>]+)>\s*;[^,]*rel="?alternate', link_header)


def _sitemap_links(body: bytes, origin: str) -> list[str]:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    locs = [element.text or "" for element in root.iter(_SITEMAP_LOC)]
    return [loc.removeprefix(origin) for loc in locs if loc.startswith(origin + "/")]


def file_of(path: str) -> str:
    """The file (relative, POSIX) that serves URL ``path``: ``/a/`` -> ``a/index.html``."""
    relative = path.lstrip("/")
    if relative == "" or relative.endswith("/"):
        relative += "index.html"
    if any(part in ("", ".", "..") for part in relative.split("/")):
        raise SiteExportError(f"{path}: cannot be written as a file")
    return relative


def _is_sparql(path: str) -> bool:
    return path == urls.SPARQL_PATH or path.startswith(urls.SPARQL_PATH + "/")


def crawl(
    client: TestClient, base_iri: str, origin: str
) -> tuple[dict[str, tuple[str, bytes]], SiteExport]:
    """Fetch every reachable URL of ``client`` (whose base URL is ``origin``): (file -> (media
    type, body)), the language copies of the pages included, and the export's summary."""
    site = urlsplit(origin)
    queue: deque[str] = deque(SEEDS)
    seen: set[str] = set(SEEDS)
    bodies: dict[str, tuple[str, bytes]] = {}
    copies: dict[str, tuple[str, bytes]] = {}
    redirects: dict[str, str] = {}
    skipped: set[str] = set()

    def visit(link: str, page: str) -> None:
        parts = urlsplit(urljoin(origin + page, link))
        if (parts.scheme, parts.netloc) != (site.scheme, site.netloc):
            skipped.add(link)
            return
        path = parts.path or "/"
        if parts.query in _LANGUAGE_QUERIES:
            parts = parts._replace(query="")  # the page's language copies are fetched with it
        if parts.query and not path.startswith("/static/"):
            skipped.add(path + "?" + parts.query)
            return
        if _is_sparql(path):
            skipped.add(path)
            return
        if path not in seen and len(seen) < MAX_URLS:
            seen.add(path)
            queue.append(path)

    while queue:
        path = queue.popleft()
        response = client.get(path, follow_redirects=False)
        if response.status_code in (301, 302, 303, 307, 308):
            location = response.headers["location"]
            redirects[path] = location
            visit(location, path)
            continue
        if response.status_code >= 500:
            raise SiteExportError(f"GET {path} answered {response.status_code}: nothing written")
        if response.status_code != 200:
            continue
        media_type = formats.essence(response.headers.get("content-type", ""))
        located = response.headers.get("content-location")
        if located and urlsplit(located).path != path:
            target = urlsplit(located).path
            visit(target, path)
            for fmt in FILE_FORMATS:
                visit(f"{path}.{fmt.extension}", path)
        elif not path.startswith(urls.ID_PATH):
            bodies[path] = (media_type, response.content)
            if media_type == formats.HTML.media_type and "content-language" in response.headers:
                for folder, query, language in LANGUAGE_COPIES:
                    url = f"{path}?{query}" if query else path
                    headers = {"Accept-Language": language} if language else {}
                    copy = client.get(url, headers=headers, follow_redirects=False)
                    if copy.status_code != 200:
                        raise SiteExportError(
                            f"GET {url} ({headers or 'no Accept-Language'}) answered "
                            f"{copy.status_code}, {path} answered 200: nothing written"
                        )
                    copies[copy_file(folder, path)] = (media_type, copy.content)
        for link in _alternates(response.headers.get("link", "")):
            visit(link, path)
        if media_type == formats.HTML.media_type:
            for link in _html_links(response.content):
                visit(link, path)
        elif path == urls.SITEMAP_PATH:
            for link in _sitemap_links(response.content, origin):
                visit(link, path)
        elif media_type == formats.TURTLE.media_type and path in DESCRIPTIONS:
            # The catalogue and VoID name the dumps by their canonical URLs.
            for iri in re.findall(r"<(" + re.escape(base_iri) + r"dumps/[^>]+)>", response.text):
                visit("/" + iri.removeprefix(base_iri), path)
    files = {path: media_type for path, (media_type, _) in sorted(bodies.items())}
    translated = tuple(
        sorted({path for path in bodies if copy_file(LANGUAGE_COPIES[0][0], path) in copies})
    )
    summary = SiteExport(
        Path(), files, dict(sorted(redirects.items())), tuple(sorted(skipped)), translated
    )
    written = {file_of(path): body for path, body in bodies.items()}
    return {**written, **copies}, summary


def _template(name: str) -> str:
    return resources.files("psm_kg").joinpath("server_rules", name).read_text(encoding="utf-8")


def _extension_types(files: dict[str, str]) -> dict[str, str]:
    """Extension -> media type of the written files (the first file of an extension decides)."""
    types: dict[str, str] = {fmt.extension: fmt.media_type for fmt in DOC_FORMATS}
    for path, media_type in files.items():
        suffix = PurePosixPath(file_of(path)).suffix.removeprefix(".")
        if suffix and suffix not in types:
            types[suffix] = media_type
    return types


def _accept_pattern(fmt: formats.Format) -> str:
    return re.escape(fmt.media_type)


def nginx_rules(files: dict[str, str], sparql_endpoint: str | None) -> tuple[str, str]:
    """(http-level rules, server-level rules) for nginx."""

    def accept_map(choices: tuple[formats.Format, ...]) -> str:
        first = [f'    "~*^\\s*{_accept_pattern(f)}"  {f.extension};' for f in choices]
        anywhere = [f'    "~*{_accept_pattern(f)}"  {f.extension};' for f in choices]
        return "\n".join(first + anywhere)

    by_type: dict[str, list[str]] = {}
    for extension, media_type in sorted(_extension_types(files).items()):
        by_type.setdefault(media_type, []).append(extension)
    types = "\n".join(f"    {t} {' '.join(exts)};" for t, exts in sorted(by_type.items()))
    if sparql_endpoint:
        endpoint = sparql_endpoint.rstrip("/")
        sparql = (
            "location = /sparql {\n    return 307 " + endpoint + "$is_args$args;\n}\n"
            "location /sparql/ {\n    rewrite ^/sparql/(.*)$ " + endpoint + "/$1 redirect;\n}"
        )
    else:
        sparql = (
            "location = /sparql {\n    try_files /" + SPARQL_NOTE + " =404;\n}\n"
            "location /sparql/ {\n    try_files /" + SPARQL_NOTE + " =404;\n}"
        )
    http_rules = (
        _template("nginx-http.conf")
        .replace("@@DOC_MAP@@", accept_map(DOC_FORMATS))
        .replace("@@RDF_MAP@@", accept_map(RDF_FORMATS))
    )
    server_rules = (
        _template("nginx-server.conf").replace("@@TYPES@@", types).replace("@@SPARQL@@", sparql)
    )
    return http_rules, server_rules


def htaccess_rules(files: dict[str, str], sparql_endpoint: str | None) -> str:
    """The Apache ``.htaccess`` for the exported directory."""
    types = "\n".join(
        f"AddType {media_type} .{extension}"
        for extension, media_type in sorted(_extension_types(files).items())
    )
    # Rules run in order and each match overwrites the variable, so the least wanted come first:
    # "anywhere" matches, then "first type" matches (each from the last format to the first),
    # then the default when nothing matched.
    accept: list[str] = []
    for variable, choices, default in (
        ("PSM_DOC", DOC_FORMATS, formats.HTML),
        ("PSM_RDF", RDF_FORMATS, formats.TURTLE),
    ):
        for anchor in ("", "^\\s*"):
            for fmt in reversed(choices):
                accept.append(f"RewriteCond %{{HTTP_ACCEPT}} {anchor}{_accept_pattern(fmt)} [NC]")
                accept.append(f"RewriteRule ^ - [E={variable}:{fmt.extension}]")
        accept.append(f"RewriteCond %{{ENV:{variable}}} ^$")
        accept.append(f"RewriteRule ^ - [E={variable}:{default.extension}]")
    accept_text = "\n".join(accept)
    if sparql_endpoint:
        endpoint = sparql_endpoint.rstrip("/")
        sparql = (
            f"RewriteRule ^sparql$ {endpoint} [R=307,QSA,L]\n"
            f"RewriteRule ^sparql/(.*)$ {endpoint}/$1 [R=302,QSA,L]"
        )
    else:
        sparql = f"RewriteRule ^sparql(/.*)?$ /{SPARQL_NOTE} [END]"
    return (
        _template("htaccess")
        .replace("@@TYPES@@", types)
        .replace("@@ACCEPT@@", accept_text)
        .replace("@@SPARQL@@", sparql)
    )


def sparql_note(sparql_endpoint: str | None) -> bytes:
    """The page ``/sparql`` serves when no endpoint is configured."""
    link = (
        f'<p><a href="{html.escape(sparql_endpoint)}">{html.escape(sparql_endpoint)}</a></p>'
        if sparql_endpoint
        else ""
    )
    text = f"""<!doctype html>
<html lang="it"><head><meta charset="utf-8"><title>SPARQL</title>
<link rel="stylesheet" href="/static/pages.css"></head>
<body><main>
<h1>SPARQL</h1>
<p>Questa copia statica del sito non ha un endpoint SPARQL. I dati completi sono nei
<a href="/catalog">dump elencati nel catalogo</a>
(per esempio <a href="/dumps/psm-kg.ttl">psm-kg.ttl</a>).</p>
<p lang="en">This static copy of the site has no SPARQL endpoint. The whole dataset is in the
<a href="/catalog">dumps the catalogue lists</a>
(for example <a href="/dumps/psm-kg.ttl">psm-kg.ttl</a>).</p>
{link}</main></body></html>
"""
    return text.encode("utf-8")


def _write(directory: Path, relative: str, body: bytes) -> None:
    path = directory / relative
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    except OSError as error:
        raise SiteExportError(f"{path}: cannot write: {error.strerror or error}") from None


def site_origin(url: str) -> str:
    """``https://host[:port]`` of ``url``, which may end in "/" but have no other path."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise SiteExportError(
            f"site URL {url!r}: use the origin the files are served from, e.g. "
            "https://psm.example.org (no path, query or fragment)"
        )
    if parts.query or parts.fragment:
        raise SiteExportError(f"site URL {url!r}: no query or fragment")
    return f"{parts.scheme}://{parts.netloc}"


def export_site(
    settings: Settings,
    store: Store,
    directory: Path,
    *,
    site_url: str = DEFAULT_SITE_URL,
    sparql_endpoint: str | None = None,
) -> SiteExport:
    """Crawl the app over ``store`` as if served at ``site_url`` and write the static site and
    its server rules. ``site_url`` is the origin that sitemap.xml and robots.txt name."""
    origin = site_origin(site_url)
    from psm_kg.app import create_app  # FastAPI only from here on
    from psm_kg.query_workers import InProcessEvaluator

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SiteExportError(f"{directory}: cannot create: {error.strerror or error}") from None
    app = create_app(settings, store, InProcessEvaluator(store))
    with TestClient(app, base_url=origin, raise_server_exceptions=False) as client:
        bodies, summary = crawl(client, settings.base_iri, origin)
    for relative, (_, body) in bodies.items():
        _write(directory, relative, body)
    _write(directory, SPARQL_NOTE, sparql_note(sparql_endpoint))
    files = {**summary.files, "/" + SPARQL_NOTE: formats.HTML.media_type}
    http_rules, server_rules = nginx_rules(files, sparql_endpoint)
    _write(directory, NGINX_HTTP, http_rules.encode("utf-8"))
    _write(directory, NGINX_SERVER, server_rules.encode("utf-8"))
    _write(directory, HTACCESS, htaccess_rules(files, sparql_endpoint).encode("utf-8"))
    return SiteExport(directory, files, summary.redirects, summary.skipped, summary.translated)
