"""sitemap.xml and robots.txt: the pages this server has, for search engines.

The sitemap (https://www.sitemaps.org/protocol.html) lists the home page, the catalogue, the SPARQL
endpoint's page, the ontology and the document page (``/milano/doc/{type}/{ref}``) of every thing
the data names under ``{base}milano/id/``, as absolute URLs on the host that serves it.

robots.txt allows everything except SPARQL queries and the editor with a query: a crawler that
follows query links would make the endpoint evaluate them. ``/sparql`` itself (the editor page)
stays open and is in the sitemap.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from psm_kg import urls

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
SITEMAP_MEDIA_TYPE = "application/xml"
ROBOTS_MEDIA_TYPE = "text/plain"
MAX_URLS = 50_000  # the protocol's limit per sitemap file

FIXED_PATHS = ("/", urls.CATALOG_PATH, urls.SPARQL_PATH, urls.ONTOLOGY_PATH)


def subjects_query(base_iri: str) -> str:
    """SPARQL for the distinct IRIs under the data namespace that are subjects of a triple."""
    prefix = urls.data_base(base_iri).replace("\\", "\\\\").replace('"', '\\"')
    return (
        "SELECT DISTINCT ?s WHERE { ?s ?p ?o "
        f'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{prefix}")) }} ORDER BY ?s'
    )


def page_paths(base_iri: str, subjects: Iterable[str]) -> list[str]:
    """The server paths of the sitemap: the fixed pages, then one document page per subject."""
    paths = list(FIXED_PATHS)
    seen = set(paths)
    for iri in sorted(subjects):
        path = urls.page_path(base_iri, iri)
        if path is not None and "#" not in path and path not in seen:
            seen.add(path)
            paths.append(path)
    return paths[:MAX_URLS]


def sitemap_xml(site: str, paths: Iterable[str]) -> bytes:
    """The sitemap for the server at ``site`` (scheme, host and root path, no trailing slash)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{SITEMAP_NS}">']
    lines += [f"  <url><loc>{escape(site + path)}</loc></url>" for path in paths]
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode()


def robots_txt(site: str) -> bytes:
    """Allow all but SPARQL queries; point to the sitemap. The rules name paths under the root
    path of ``site`` (as sitemap_xml's ``site``); a crawler reads robots.txt at the root of a host
    only, so a site under a prefix has its lines copied there."""
    root = urlsplit(site).path
    return (
        "User-agent: *\n"
        f"Allow: {root}/\n"
        f"Disallow: {root}{urls.SPARQL_PATH}?\n"
        f"Disallow: {root}{urls.SPARQL_PATH}/editor?\n"
        f"Sitemap: {site}{urls.SITEMAP_PATH}\n"
    ).encode()
