"""Router: the DCAT-AP_IT catalogue, VoID, the dumps, sitemap.xml and robots.txt.

- ``GET /catalog[.ttl|.jsonld|.rdf|.nt]``: the catalogue (dist/catalog.nt, see catalog_graph.py);
- ``GET /.well-known/void[.ttl|…]``: the VoID description (dist/void.nt, see void.py);
- ``GET /dumps/{name}``: a dump from dist/dumps/ (see dumps.py), the dataset's or a vocabulary's
  Turtle file (``/dumps/pnrr.ttl``); ``.gz`` files are sent as
  ``application/gzip`` without ``Content-Encoding``, so that curl, wget and harvesters save the
  bytes the catalogue's checksum describes;
- ``GET /sitemap.xml``, ``GET /robots.txt`` (see sitemap.py).

The RDF documents are negotiated (Accept, or the ``format`` parameter; an extension overrides
both) among Turtle, JSON-LD, RDF/XML and N-Triples, and carry ``Vary: Accept``,
``Content-Location`` and a strong ETag (the SHA-256 of the bytes sent), answering
``If-None-Match`` with 304. Everything is read from dist/ once and kept: the served data never
changes while the server runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import anyio
import pyoxigraph as ox
from fastapi import APIRouter, Query, Request, Response

from psm_kg import catalog_graph, dumps, formats, sitemap, urls, void
from psm_kg.config import Settings
from psm_kg.formats import Format
from psm_kg.negotiation import NotAcceptable, choose
from psm_kg.request_handling import Problem, etag_matches
from psm_kg.store import DatasetStore

router = APIRouter()

# The formats of the catalogue and VoID, the default first (curl's */* gets Turtle).
RDF_FORMATS: tuple[Format, ...] = (
    formats.TURTLE,
    formats.JSON_LD,
    formats.RDF_XML,
    formats.N_TRIPLES,
)
EXTENSIONS = tuple(fmt.extension for fmt in RDF_FORMATS)
DOCUMENTS = {
    urls.CATALOG_PATH: (catalog_graph.CATALOG_FILE, catalog_graph.PREFIXES),
    urls.VOID_PATH: (void.VOID_FILE, void.PREFIXES),
}
SITEMAP_TIMEOUT_S = 30.0


@dataclass
class _Served:
    """What this router has read from dist/ and rendered, by key."""

    bodies: dict[tuple[str, str], bytes] = field(default_factory=dict)
    dumps: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    vocabularies: tuple[str, ...] | None = None  # the vocabulary dumps dist/dumps/ holds
    sitemap_paths: list[str] | None = None


def _served(request: Request) -> _Served:
    state = request.app.state
    if not hasattr(state, "catalog_served"):
        state.catalog_served = _Served()
    served: _Served = state.catalog_served
    return served


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _missing(path: Path) -> Problem:
    return Problem(
        404,
        "Not built",
        f"{path.name} is not in the built dataset; run `psm-kg build`",
        file=path.name,
    )


def _render(path: Path, prefixes: dict[str, str], fmt: Format) -> bytes:
    try:
        data = path.read_bytes()
    except OSError:
        raise _missing(path) from None
    triples = [q.triple for q in ox.parse(data, format=ox.RdfFormat.N_TRIPLES)]
    rdf_format = ox.RdfFormat.from_media_type(fmt.media_type)
    assert rdf_format is not None
    if fmt is formats.N_TRIPLES:
        return data
    body = ox.serialize(triples, format=rdf_format, prefixes=dict(sorted(prefixes.items())))
    assert body is not None
    return body


def _strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest() + '"'


def _cache_headers(request: Request) -> dict[str, str]:
    return {"Cache-Control": f"public, max-age={_settings(request).cache_max_age_s}"}


def _not_acceptable(error: NotAcceptable) -> Problem:
    return Problem(
        406,
        "Not acceptable",
        "none of the formats of this document is acceptable",
        accept=error.accept,
        available=[fmt.media_type for fmt in error.available],
    )


def _answer(
    request: Request, body: bytes, media_type: str, headers: dict[str, str], etag: str
) -> Response:
    headers = {**headers, **_cache_headers(request), "ETag": etag}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=media_type)
    return Response(body, headers=headers, media_type=media_type)


def _rdf_document(
    request: Request, path: str, extension: str | None, format_names: list[str]
) -> Response:
    if extension is not None:
        fmt = formats.by_extension(extension)
        if fmt is None or fmt not in RDF_FORMATS:
            raise Problem(
                404,
                "Not found",
                f"{path} is not served as .{extension}; extensions: {', '.join(EXTENSIONS)}",
                path=f"{path}.{extension}",
            )
    else:
        try:
            fmt = choose(request.headers.get("accept"), format_names, RDF_FORMATS)
        except NotAcceptable as error:
            raise _not_acceptable(error) from None
    file_name, prefixes = DOCUMENTS[path]
    served = _served(request)
    key = (path, fmt.extension)
    if key not in served.bodies:
        served.bodies[key] = _render(_settings(request).dist_dir / file_name, prefixes, fmt)
    body = served.bodies[key]
    root_path = str(request.scope.get("root_path", ""))
    headers = {"Content-Location": f"{root_path}{path}.{fmt.extension}"}
    if extension is None:
        headers["Vary"] = "Accept"
    media_type = fmt.media_type + ("; charset=utf-8" if fmt is not formats.RDF_XML else "")
    return _answer(request, body, media_type, headers, _strong_etag(body))


FormatParameter = Annotated[
    list[str], Query(alias="format", description="a format name or media type; overrides Accept")
]


@router.get(urls.CATALOG_PATH, summary="The DCAT-AP_IT catalogue")
@router.head(urls.CATALOG_PATH, include_in_schema=False)
async def catalog(request: Request, format: FormatParameter = []) -> Response:  # noqa: B006
    return _rdf_document(request, urls.CATALOG_PATH, None, format)


@router.get(urls.CATALOG_PATH + ".{extension}", summary="The catalogue, one format")
@router.head(urls.CATALOG_PATH + ".{extension}", include_in_schema=False)
async def catalog_file(request: Request, extension: str) -> Response:
    return _rdf_document(request, urls.CATALOG_PATH, extension, [])


@router.get(urls.VOID_PATH, summary="The VoID description")
@router.head(urls.VOID_PATH, include_in_schema=False)
async def void_description(request: Request, format: FormatParameter = []) -> Response:  # noqa: B006
    return _rdf_document(request, urls.VOID_PATH, None, format)


@router.get(urls.VOID_PATH + ".{extension}", summary="The VoID description, one format")
@router.head(urls.VOID_PATH + ".{extension}", include_in_schema=False)
async def void_file(request: Request, extension: str) -> Response:
    return _rdf_document(request, urls.VOID_PATH, extension, [])


def _vocabulary_dumps(directory: Path) -> tuple[str, ...]:
    try:
        names = [path.name for path in directory.iterdir() if path.is_file()]
    except OSError:
        return ()
    return tuple(sorted(name for name in names if dumps.is_vocabulary_name(name)))


@router.get(urls.DUMPS_PATH + "{name}", summary="A dump of the dataset")
@router.head(urls.DUMPS_PATH + "{name}", include_in_schema=False)
async def dump(request: Request, name: str) -> Response:
    served = _served(request)
    if served.vocabularies is None:
        directory = _settings(request).dist_dir / dumps.DUMPS_DIR
        served.vocabularies = await anyio.to_thread.run_sync(_vocabulary_dumps, directory)
    found = dumps.find(name, served.vocabularies)
    if found is None:
        names = ", ".join((*(d.name for d in dumps.all_dumps()), *served.vocabularies))
        raise Problem(
            404, "Not found", f"there is no dump called {name!r}; dumps: {names}", name=name
        )
    if name not in served.dumps:
        path = _settings(request).dist_dir / dumps.DUMPS_DIR / found.name
        try:
            data = await anyio.to_thread.run_sync(path.read_bytes)
        except OSError:
            raise _missing(path) from None
        served.dumps[name] = (data, '"' + dumps.sha256(data) + '"')
    data, etag = served.dumps[name]
    media_type = found.media_type
    if not found.gzipped and found.format is not formats.RDF_XML:
        media_type += "; charset=utf-8"
    headers = {"Content-Disposition": f'attachment; filename="{found.name}"'}
    return _answer(request, data, media_type, headers, etag)


def _site(request: Request) -> str:
    """Scheme, host and root path, no trailing slash: ``https://example.org/psm``."""
    return str(request.base_url).rstrip("/")


def _subject_iris(store: DatasetStore, base_iri: str) -> list[str]:
    outcome = store.query(sitemap.subjects_query(base_iri), timeout_s=SITEMAP_TIMEOUT_S)
    document = json.loads(outcome.serialize(formats.SPARQL_JSON))
    return [row["s"]["value"] for row in document["results"]["bindings"]]


@router.get(urls.SITEMAP_PATH, summary="The sitemap")
@router.head(urls.SITEMAP_PATH, include_in_schema=False)
async def sitemap_xml(request: Request) -> Response:
    served = _served(request)
    base_iri = _settings(request).base_iri
    if served.sitemap_paths is None:
        store: DatasetStore = request.app.state.store
        subjects = await anyio.to_thread.run_sync(_subject_iris, store, base_iri)
        served.sitemap_paths = sitemap.page_paths(base_iri, subjects)
    body = sitemap.sitemap_xml(_site(request), served.sitemap_paths)
    media_type = sitemap.SITEMAP_MEDIA_TYPE + "; charset=utf-8"
    return _answer(request, body, media_type, {}, _strong_etag(body))


@router.get(urls.ROBOTS_PATH, summary="robots.txt")
@router.head(urls.ROBOTS_PATH, include_in_schema=False)
async def robots(request: Request) -> Response:
    body = sitemap.robots_txt(_site(request))
    media_type = sitemap.ROBOTS_MEDIA_TYPE + "; charset=utf-8"
    return _answer(request, body, media_type, {}, _strong_etag(body))
