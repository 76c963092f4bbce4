"""Router: ``GET /docs``, Swagger UI over the app's OpenAPI document, served by this server.

Swagger UI's files come from the npm package swagger-ui-dist, copied by ``make ui-assets`` into
``static/vendor/swagger-ui/`` (git-ignored, shipped in the wheel) as the query editor's are: the
page loads nothing from a CDN, and its Content-Security-Policy allows this origin only. Without
the files the page says how to install them and links the OpenAPI document itself.

- ``GET /docs``: the page
- ``GET /docs/swagger-ui/{name}``: its script, style sheet and icon (not in the OpenAPI document)
"""

from __future__ import annotations

import functools
import hashlib
import html
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from psm_kg.request_handling import Problem, etag_matches

router = APIRouter()

VENDOR_DIR = Path(__file__).parent / "static" / "vendor" / "swagger-ui"
ASSET_PREFIX = "/docs/swagger-ui"

# URL name -> file name and media type; nothing else is served.
ASSETS: dict[str, tuple[str, str]] = {
    "swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui.css", "text/css; charset=utf-8"),
    "favicon-32x32.png": ("favicon-32x32.png", "image/png"),
}

# Same origin only; FastAPI's page starts Swagger UI with an inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    digest: str


def load_asset(name: str) -> Asset | None:
    """The Swagger UI file served as ``name``, or None (unknown name, or not installed)."""
    known = ASSETS.get(name)
    if known is None:
        return None
    path = VENDOR_DIR / known[0]
    try:
        stat = path.stat()
    except OSError:
        return None
    return _read(path, known[1], stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2 * len(ASSETS))
def _read(path: Path, media_type: str, mtime_ns: int, size: int) -> Asset | None:
    try:
        body = path.read_bytes()
    except OSError:
        return None
    return Asset(body, media_type, hashlib.sha256(body).hexdigest()[:16])


def _url(root_path: str, name: str) -> str | None:
    asset = load_asset(name)
    return None if asset is None else f"{root_path}{ASSET_PREFIX}/{name}?v={asset.digest}"


@router.get("/docs", include_in_schema=False)
def api_docs(request: Request) -> Response:
    """Swagger UI for /openapi.json, or a note saying how to install it."""
    root_path = str(request.scope.get("root_path", ""))
    openapi_url = f"{root_path}{request.app.openapi_url}"
    script = _url(root_path, "swagger-ui-bundle.js")
    style = _url(root_path, "swagger-ui.css")
    icon = _url(root_path, "favicon-32x32.png") or ""
    if script is None or style is None:
        note = (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>psm-kg API</title>"
            "</head><body><h1>psm-kg API</h1><p>Swagger UI is not installed on this server "
            "(<code>make ui-assets</code> copies it from npm). The API is described by "
            f"<a href='{html.escape(openapi_url)}'>its OpenAPI document</a>.</p></body></html>"
        )
        return HTMLResponse(note, headers=PAGE_HEADERS)
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{request.app.title} API",
        swagger_js_url=script,
        swagger_css_url=style,
        swagger_favicon_url=icon,
        # no badge fetched from the public validator
        swagger_ui_parameters={"validatorUrl": None},
    )
    page.headers.update(PAGE_HEADERS)
    return page


@router.get(ASSET_PREFIX + "/{name}", include_in_schema=False)
def swagger_ui_file(request: Request, name: str) -> Response:
    asset = load_asset(name)
    if asset is None:
        raise Problem(
            404, "Not Found", f"there is no Swagger UI file {name!r}", path=request.url.path
        )
    etag = f'"{asset.digest}"'
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE if request.query_params.get("v") == asset.digest else REVALIDATE,
        "X-Content-Type-Options": "nosniff",
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
