"""Router: the SPARQL query editor for browsers, and the static files it loads.

- ``GET /sparql/editor[?query=...]``: the editor page (YASGUI) with one tab per ``queries/*.rq``
  file and, when ``query`` is given, a tab holding that query, selected. A browser's ``GET
  /sparql`` renders the same page through :func:`editor_response`.
- ``GET /static/{name}``: the page's files: YASGUI's build (vendored from npm by ``make
  ui-assets`` into ``static/vendor/yasgui/``, never loaded from a CDN) and the page's own
  ``editor.js`` and ``editor.css``.

The page loads nothing from anywhere else: its Content-Security-Policy allows this origin only,
and editor.js turns off what YASGUI fetches from other hosts by default (autocompletion from
prefix.cc and Linked Open Vocabularies, the CORS proxy probe). Without the vendored files (npm
not installed) the page is a plain form that needs no script: still 200, never a 500, with a note
saying how to install the editor.

Static URLs carry ``?v=<content hash>``; such a request is cached for a year, any other must be
revalidated (ETag, 304).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from psm_kg import page_templates
from psm_kg.config import Settings
from psm_kg.query_files import QueryFile, load_query_files
from psm_kg.request_handling import Problem, etag_matches

logger = logging.getLogger(__name__)

router = APIRouter()

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"
VENDOR_DIR = STATIC_DIR / "vendor" / "yasgui"
QUERIES_DIR = "queries"  # below the project root

JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"

# URL name (below /static/) -> file and media type. Only these names are served: a request never
# becomes a file system path, so no "..", symlink or encoded slash can reach another file.
ASSETS: dict[str, tuple[Path, str]] = {
    "yasgui/yasgui.min.js": (VENDOR_DIR / "yasgui.min.js", JAVASCRIPT),
    "yasgui/yasgui.min.css": (VENDOR_DIR / "yasgui.min.css", CSS),
    "editor.js": (STATIC_DIR / "editor.js", JAVASCRIPT),
    "editor.css": (STATIC_DIR / "editor.css", CSS),
    "pages.css": (STATIC_DIR / "pages.css", CSS),
}
EDITOR_ASSETS = ("yasgui/yasgui.min.js", "yasgui/yasgui.min.css", "editor.js")

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"

# Same origin only. Styles may be inline: YASGUI adds <style> elements while it draws results.
# connect-src 'self' also keeps a query sent to another endpoint (typed in the editor) from leaving.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # /sparql answers this page or query results by Accept; the page lists files that change.
    "Vary": "Accept",
    "Cache-Control": "no-cache",
}

# The one tab of a tree without queries/, so that the editor never opens empty.
DEFAULT_QUERY = (
    "SELECT ?subject ?predicate ?object\nWHERE { ?subject ?predicate ?object }\nLIMIT 10\n"
)
QUERY_TAB_NAME = "Query"

QueryParameter = Annotated[
    str | None, Query(description="a SPARQL query to open in its own tab, selected")
]


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    digest: str  # of the content: the ?v= of its URL and its ETag

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'


# --- routes ------------------------------------------------------------------------------------


@router.get("/sparql/editor", response_class=HTMLResponse)
def sparql_editor(request: Request, query: QueryParameter = None) -> Response:
    """The SPARQL query editor, with every example query in a tab (the page a browser's GET
    /sparql shows)."""
    return editor_response(request, query)


@router.get("/static/{name:path}", include_in_schema=False)
def static_file(request: Request, name: str) -> Response:
    asset = load_asset(name)
    if asset is None:
        raise Problem(404, "Not Found", f"there is no static file {name!r}", path=request.url.path)
    versioned = request.query_params.get("v") == asset.digest
    headers = {
        "ETag": asset.etag,
        "Cache-Control": IMMUTABLE if versioned else REVALIDATE,
        "X-Content-Type-Options": "nosniff",
    }
    if etag_matches(request.headers.get("if-none-match"), asset.etag):
        return Response(status_code=304, headers=headers)
    return Response(content=asset.body, media_type=asset.media_type, headers=headers)


# --- the page ----------------------------------------------------------------------------------


def editor_response(request: Request, query: str | None = None) -> Response:
    """The editor page for ``request``, with ``query`` (if any) in a tab of its own, selected.

    Always 200: without the vendored editor files it is the plain form.
    """
    settings: Settings = request.app.state.settings
    examples = load_query_files(settings.root / QUERIES_DIR)
    query = query if query and query.strip() else None
    root_path = str(request.scope.get("root_path", ""))
    assets = {name: asset_url(root_path, name) for name in ASSETS}
    editor = all(assets[name] is not None for name in EDITOR_ASSETS)
    if not editor:
        logger.warning(
            "the query editor's files are missing in %s: run `make ui-assets`", VENDOR_DIR
        )
    template = page_templates.environment().get_template("sparql-editor.html")
    page = template.render(
        editor=editor,
        endpoint=f"{root_path}/sparql",
        assets=assets,
        config=editor_config(f"{root_path}/sparql", examples, query),
        query=query,
        examples=examples,
        yasgui_version=yasgui_version(),
    )
    return HTMLResponse(page, headers=PAGE_HEADERS)


def editor_config(endpoint: str, examples: list[QueryFile], query: str | None) -> dict[str, Any]:
    """What editor.js reads: the endpoint, the tabs in order (name, summary shown on hover,
    query), and the index of the one to open."""
    tabs = [
        {"name": example.name, "summary": example.summary, "query": example.text}
        for example in examples
    ]
    if query is not None:
        tabs.append({"name": QUERY_TAB_NAME, "summary": "", "query": query})
    elif not tabs:
        tabs.append({"name": QUERY_TAB_NAME, "summary": "", "query": DEFAULT_QUERY})
    return {"endpoint": endpoint, "tabs": tabs, "selected": len(tabs) - 1 if query else 0}


# --- static files ------------------------------------------------------------------------------


def asset_url(root_path: str, name: str) -> str | None:
    """``/static/<name>?v=<content hash>``, or None when the file is not installed."""
    asset = load_asset(name)
    return None if asset is None else f"{root_path}/static/{name}?v={asset.digest}"


def load_asset(name: str) -> Asset | None:
    """The static file served as ``name``, or None when there is none by that name or on disk."""
    known = ASSETS.get(name)
    if known is None:
        return None
    path, media_type = known
    try:
        stat = path.stat()
    except OSError:
        return None
    # Keyed by modification time and size, so that `make ui-assets` shows without a restart.
    return _read(path, media_type, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2 * len(ASSETS))
def _read(path: Path, media_type: str, mtime_ns: int, size: int) -> Asset | None:
    try:
        body = path.read_bytes()
    except OSError as error:
        logger.warning("cannot read the static file %s: %s", path, error)
        return None
    return Asset(body, media_type, hashlib.sha256(body).hexdigest()[:16])


def yasgui_version() -> str:
    """The vendored YASGUI's version, from the package.json copied beside it ("" if unknown)."""
    try:
        manifest = json.loads((VENDOR_DIR / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    version = manifest.get("version") if isinstance(manifest, dict) else None
    return version if isinstance(version, str) else ""
