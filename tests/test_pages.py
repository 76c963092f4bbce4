"""The linked-data pages over the bundled data: 303s, content negotiation, headers, errors,
languages, the RDF and schema.org of each page, a crawl from / that must reach every entity, and
the plan and objective pages in a real browser.

The bundled data (ontology/, data/, queries/ of this repository) are copied to a temporary
directory and built there; nothing is built into the repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic
from starlette.testclient import TestClient

from engines import EngineServer, oxigraph_server, virtuoso_server
from headless_chromium import launched_chromium
from live_server import live_server
from psm_kg import page_data
from psm_kg.app import create_app
from psm_kg.build import build_dist
from psm_kg.config import Settings, load_settings
from psm_kg.store import DatasetStore, Store
from remote_backends import BACKENDS, load_dist, remote_store, started

ROOT = Path(__file__).resolve().parents[1]
DATA = "https://w3id.org/psm/milano/id/"
PLAN = "plan/psttm-2025-2027"
OBJECTIVE = "objective/2025-2027/servizi-digitali-innovativi-nei-comuni"
PILLAR = "pillar/2025-2027/sostenibilita"
DERIVED_MISSION = "mission/2025-2027/salute"
MILANO = "comune/015146"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
RDF_TYPES = {
    "ttl": ("text/turtle", "turtle"),
    "jsonld": ("application/ld+json", "json-ld"),
    "rdf": ("application/rdf+xml", "xml"),
    "nt": ("application/n-triples", "nt"),
}


@pytest.fixture(scope="module")
def bundled_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's own ontology/, data/ and queries/, never built in place."""
    root = tmp_path_factory.mktemp("bundled") / "tree"
    for part in ("ontology", "data", "queries"):
        shutil.copytree(ROOT / part, root / part)
    return root


@pytest.fixture(scope="module")
def bundled_settings(bundled_root: Path) -> Settings:
    settings = load_settings(env={"PSM_KG_QUERY_WORKERS": "0"}, root=bundled_root)
    build_dist(settings)
    return settings


@pytest.fixture(scope="module")
def bundled_store(bundled_settings: Settings) -> Store:
    return Store.from_dist(bundled_settings.dist_dir)


@pytest.fixture(scope="module")
def bundled_oxigraph(bundled_settings: Settings) -> Iterator[EngineServer]:
    for server in started("test_pages (Oxigraph server)", oxigraph_server):
        load_dist(server, bundled_settings.dist_dir)
        yield server


@pytest.fixture(scope="module")
def bundled_virtuoso(bundled_settings: Settings) -> Iterator[EngineServer]:
    for server in started("test_pages (Virtuoso)", virtuoso_server):
        load_dist(server, bundled_settings.dist_dir)
        yield server


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    bundled_settings: Settings, bundled_store: Store, request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    """The real app over the bundled data, from the embedded store and from each engine holding
    it; server errors come back as responses."""
    store: DatasetStore = bundled_store
    if request.param != "embedded":
        engine = request.getfixturevalue(f"bundled_{request.param}")
        settings = bundled_settings
        store = remote_store(engine, settings.dist_dir, settings.max_result_bytes)
    app = create_app(bundled_settings, store)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def subject_triples(store: Store, iri: str) -> rdflib.Graph:
    outcome = store.query(f"CONSTRUCT {{ <{iri}> ?p ?o }} WHERE {{ <{iri}> ?p ?o }}", timeout_s=10)
    from psm_kg import formats

    return rdflib.Graph().parse(data=outcome.serialize(formats.N_TRIPLES), format="nt")


def rdf_graph(data: bytes | str, media_type: str) -> rdflib.Graph:
    """A graph parsed by pyoxigraph (rdflib's JSON-LD parser warns), compared with rdflib."""
    rdf_format = ox.RdfFormat.from_media_type(media_type)
    assert rdf_format is not None
    raw = data.encode() if isinstance(data, str) else data
    quads = list(ox.parse(raw, format=rdf_format))
    triples = ox.serialize(
        [ox.Triple(q.subject, q.predicate, q.object) for q in quads], format=ox.RdfFormat.N_TRIPLES
    )
    return rdflib.Graph().parse(data=triples or b"", format="nt")


class Links(HTMLParser):
    """Every href of <a> and <link>, the <html lang>, the h1s and the JSON-LD blocks of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.lang = ""
        self.h1: list[str] = []
        self.json_ld: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("a", "link") and attributes.get("href"):
            self.hrefs.append(attributes["href"] or "")
        if tag == "html":
            self.lang = attributes.get("lang") or ""
        if tag == "h1":
            self.h1.append("")
            self._in = "h1"
        if tag == "script" and attributes.get("type") == "application/ld+json":
            self.json_ld.append("")
            self._in = "script"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "script"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "h1":
            self.h1[-1] += data
        elif self._in == "script":
            self.json_ld[-1] += data


def parse_page(html: str) -> Links:
    links = Links()
    links.feed(html)
    return links


# --- 303 and content negotiation ----------------------------------------------------------------

NEGOTIATION = [
    (None, "html"),
    ("*/*", "html"),
    (BROWSER_ACCEPT, "html"),
    ("text/html", "html"),
    ("text/turtle", "ttl"),
    ("application/x-turtle", "ttl"),
    ("application/ld+json", "jsonld"),
    ("application/rdf+xml", "rdf"),
    ("application/n-triples", "nt"),
    ("text/*", "html"),
    ("application/*", "jsonld"),
    ("text/turtle;q=0.9, application/rdf+xml", "rdf"),
    ("text/html;q=0.1, text/turtle;q=0.8", "ttl"),
    ("text/html;q=0, */*;q=0.5", "ttl"),
    ("application/ld+json; charset=utf-8", "jsonld"),
    ("image/png, */*;q=0.1", "html"),
]


@pytest.mark.parametrize(("accept", "extension"), NEGOTIATION, ids=lambda v: str(v))
def test_a_thing_answers_303_to_its_document_in_the_negotiated_format(
    site: TestClient, accept: str | None, extension: str
) -> None:
    headers = {"accept": accept} if accept else {}
    response = site.get(f"/milano/id/{PLAN}", headers=headers, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/milano/doc/{PLAN}.{extension}"
    assert "Accept" in response.headers["vary"]


@pytest.mark.parametrize(("accept", "extension"), NEGOTIATION, ids=lambda v: str(v))
def test_a_document_without_extension_negotiates_and_says_where_it_lives(
    site: TestClient, accept: str | None, extension: str
) -> None:
    headers = {"accept": accept} if accept else {}
    response = site.get(f"/milano/doc/{PILLAR}", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-location"] == f"/milano/doc/{PILLAR}.{extension}"


@pytest.mark.parametrize("accept", ["image/png", "text/turtle;q=0", "application/json"])
@pytest.mark.parametrize(
    "path", [f"/milano/id/{PLAN}", f"/milano/doc/{PLAN}", "/ontology", "/shapes"]
)
def test_nothing_acceptable_is_406_in_the_error_shape(
    site: TestClient, path: str, accept: str
) -> None:
    response = site.get(path, headers={"accept": accept}, follow_redirects=False)
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 406


@pytest.mark.parametrize("extension", ["html", *RDF_TYPES])
@pytest.mark.parametrize("stem", [f"/milano/doc/{OBJECTIVE}", "/ontology", "/shapes"])
def test_an_extension_picks_the_format_whatever_accept_says(
    site: TestClient, stem: str, extension: str
) -> None:
    response = site.get(f"{stem}.{extension}", headers={"accept": "image/png"})
    assert response.status_code == 200
    media_type = RDF_TYPES[extension][0] if extension in RDF_TYPES else "text/html"
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["content-location"] == f"{stem}.{extension}"
    links = response.headers["link"]
    for other in {"html", *RDF_TYPES} - {extension}:
        assert f'<{stem}.{other}>; rel="alternate"' in links
    assert f"<{stem}.{extension}>" not in links


def test_head_answers_like_get_without_a_body(site: TestClient) -> None:
    get = site.get(f"/milano/doc/{PLAN}.ttl")
    head = site.head(f"/milano/doc/{PLAN}.ttl")
    assert head.status_code == 200
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-location"] == get.headers["content-location"]
    assert head.content == b""
    thing = site.head(
        f"/milano/id/{PLAN}", headers={"accept": "text/turtle"}, follow_redirects=False
    )
    assert thing.status_code == 303
    assert thing.headers["location"].endswith(".ttl")


def test_documents_carry_a_strong_etag_that_answers_304(site: TestClient) -> None:
    first = site.get(f"/milano/doc/{PILLAR}.ttl")
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    assert "Accept" in first.headers["vary"]
    assert first.headers["cache-control"] == "public, max-age=300"
    again = site.get(f"/milano/doc/{PILLAR}.ttl", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    others = {
        site.get(f"/milano/doc/{PILLAR}.jsonld").headers["etag"],
        site.get(f"/milano/doc/{PLAN}.ttl").headers["etag"],
        site.get(f"/milano/doc/{PILLAR}.html").headers["etag"],
        site.get(f"/milano/doc/{PILLAR}.html?lang=en").headers["etag"],
    }
    assert etag not in others
    assert len(others) == 4


# --- unknown and odd IRIs -----------------------------------------------------------------------

UNKNOWN = [f"/milano/id/{PILLAR}-nope", f"/milano/doc/{PILLAR}-nope", "/milano/doc/nope/"]


@pytest.mark.parametrize("path", UNKNOWN)
def test_an_unknown_iri_is_404_in_the_error_shape_for_machines(site: TestClient, path: str) -> None:
    response = site.get(path, headers={"accept": "text/turtle"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404
    assert problem["title"]
    assert problem["detail"]
    assert problem["iri"].startswith(DATA)


@pytest.mark.parametrize("path", UNKNOWN)
def test_an_unknown_iri_is_a_404_page_for_browsers(site: TestClient, path: str) -> None:
    response = site.get(path, headers={"accept": BROWSER_ACCEPT})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    page = parse_page(response.text)
    assert page.lang == "it"
    assert len(page.h1) == 1
    assert "/milano/doc/" in page.hrefs


ODD_PATHS = [
    "/milano/id/pillar/%20x",
    "/milano/id/pillar/x%3E%3Cscript%3E",
    "/milano/doc/..%2F..%2Fetc%2Fpasswd",
    "/milano/doc/pillar/../../etc/passwd",
    "/milano/doc/pillar/x%00y",
    "/milano/doc/pillar/%E2%82%AC",
    "/milano/doc/pillar//sostenibilita",
    f"/milano/doc/{PILLAR}/",
    f"/milano/id/{PILLAR}/",
    f"/milano/doc/{PILLAR}.exe",
    f"/milano/doc/{PILLAR}.ttl.ttl",
    "/milano/doc/" + "a" * 5000,
    "/milano/id/" + "a/" * 2000,
    "/milano/doc/pillar/x%22%20%7D%20ASK%20%7B",
    "/ontology.exe",
    "/shapes.ttl/x",
    "/milano/identity",
]


@pytest.mark.parametrize("path", ODD_PATHS)
@pytest.mark.parametrize("accept", ["text/html", "text/turtle"])
def test_odd_paths_are_404_never_500(site: TestClient, path: str, accept: str) -> None:
    response = site.get(path, headers={"accept": accept}, follow_redirects=False)
    assert response.status_code == 404, response.text[:300]


def test_percent_encoded_references_denote_the_same_thing(site: TestClient) -> None:
    response = site.get("/milano/id/pillar/2025-2027/sostenibilit%61", follow_redirects=False)
    assert response.headers["location"] == f"/milano/doc/{PILLAR}.html"


def test_index_ids_answer_303_to_the_index_pages(site: TestClient) -> None:
    assert site.get("/milano/id/", follow_redirects=False).headers["location"] == "/milano/doc/"
    response = site.get("/milano/id/pillar/", follow_redirects=False)
    assert response.headers["location"] == "/milano/doc/pillar/"


# --- languages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "accept_language", "lang", "label"),
    [
        ("", None, "it", "sostenibilità"),
        ("", "en-GB,en;q=0.9", "en", "sustainability"),
        ("", "it;q=0.5, en;q=0.8", "en", "sustainability"),
        ("", "fr, de", "it", "sostenibilità"),
        ("?lang=en", "it", "en", "sustainability"),
        ("?lang=it", "en", "it", "sostenibilità"),
        ("?lang=xx", "en", "en", "sustainability"),
    ],
)
def test_pages_are_italian_unless_english_is_asked_for(
    site: TestClient, query: str, accept_language: str | None, lang: str, label: str
) -> None:
    headers = {"accept-language": accept_language} if accept_language else {}
    response = site.get(f"/milano/doc/{PILLAR}{query}", headers=headers)
    page = parse_page(response.text)
    assert page.lang == lang
    assert response.headers["content-language"] == lang
    assert page.h1 == [label]
    other = "en" if lang == "it" else "it"
    assert f"/milano/doc/{PILLAR}?lang={other}" in page.hrefs


def test_the_language_chosen_by_the_switch_is_kept_in_links(site: TestClient) -> None:
    page = parse_page(site.get(f"/milano/doc/{PLAN}?lang=en").text)
    internal = [
        h for h in page.hrefs if h.startswith("/milano/doc/") and not re.search(r"\.\w+$", h)
    ]
    assert internal
    assert all("lang=" in h for h in internal)


# --- what a page holds ----------------------------------------------------------------------------


@pytest.mark.parametrize("extension", list(RDF_TYPES))
@pytest.mark.parametrize(
    "reference", [PLAN, OBJECTIVE, MILANO, "membership/francesco-vassallo-vicesindaco"]
)
def test_the_rdf_of_a_page_holds_the_entity_and_its_incoming_triples(
    site: TestClient, bundled_store: Store, reference: str, extension: str
) -> None:
    iri = rdflib.URIRef(DATA + reference)
    response = site.get(f"/milano/doc/{reference}.{extension}")
    graph = rdf_graph(response.content, RDF_TYPES[extension][0])
    expected = subject_triples(bundled_store, str(iri))
    named = [t for t in expected if not isinstance(t[2], rdflib.BNode)]
    assert named
    assert all(triple in graph for triple in named)
    assert len(set(graph.predicate_objects(iri))) == len(set(expected.predicate_objects(iri)))
    incoming = bundled_store.query(
        f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s ?p <{iri}> }}", timeout_s=10
    )
    from psm_kg import formats

    count = int(
        json.loads(incoming.serialize(formats.SPARQL_JSON))["results"]["bindings"][0]["n"]["value"]
    )
    assert len(set(graph.subjects(None, iri))) == count


def test_every_rdf_format_of_a_page_is_the_same_graph(site: TestClient) -> None:
    graphs = [
        rdf_graph(site.get(f"/milano/doc/{MILANO}.{ext}").content, media_type)
        for ext, (media_type, _) in RDF_TYPES.items()
    ]
    assert all(isomorphic(graphs[0], other) for other in graphs[1:])


@pytest.mark.parametrize(
    ("reference", "schema_type"),
    [
        (PLAN, "CreativeWork"),
        (OBJECTIVE, "DefinedTerm"),
        (MILANO, "AdministrativeArea"),
        ("organization/citta-metropolitana-di-milano", "GovernmentOrganization"),
        ("source/s0", "CreativeWork"),
    ],
)
def test_each_page_embeds_schema_org_json_ld(
    site: TestClient, reference: str, schema_type: str
) -> None:
    page = parse_page(site.get(f"/milano/doc/{reference}").text)
    assert len(page.json_ld) == 1
    data = json.loads(page.json_ld[0])
    assert data["@type"] == schema_type
    assert data["@id"] == DATA + reference
    assert data["name"] == page.h1[0]
    graph = rdf_graph(page.json_ld[0], "application/ld+json")
    assert (
        rdflib.URIRef(DATA + reference),
        rdflib.URIRef("https://schema.org/name"),
        None,
    ) in graph


def test_json_ld_carries_same_as_where_the_data_has_it(site: TestClient) -> None:
    data = json.loads(parse_page(site.get(f"/milano/doc/{MILANO}").text).json_ld[0])
    assert data["sameAs"] == ["http://www.wikidata.org/entity/Q490"]


def test_a_derived_link_shows_its_method_and_sources(site: TestClient) -> None:
    html = site.get(f"/milano/doc/{DERIVED_MISSION}").text
    mark = re.search(r'<span class="derived">(.*?)</span>', html, re.S)
    assert mark is not None
    assert "/milano/doc/derived/" in mark.group(1)
    assert "/ontology#NameMatch" in mark.group(1)
    assert "/milano/doc/source/" in mark.group(1)


def test_the_edition_page_draws_its_structure_as_an_accessible_svg(site: TestClient) -> None:
    html = site.get(f"/milano/doc/{PLAN}").text
    svg = re.search(r"<svg .*?</svg>", html, re.S)
    assert svg is not None
    assert 'aria-labelledby="structure-wide-title structure-wide-desc"' in svg.group(0)
    assert "<title" in svg.group(0)
    assert "<desc" in svg.group(0)
    assert "5 pilastri, 6 missioni, 10 driver, 9 obiettivi" in svg.group(0)
    for pillar in ("sostenibilita", "connettivita", "prossimita", "inclusione", "attrattivita"):
        assert f'href="/milano/doc/pillar/2025-2027/{pillar}"' in svg.group(0)
    assert svg.group(0).count('class="edge"') >= 9


def test_pages_load_nothing_from_elsewhere(site: TestClient) -> None:
    response = site.get(f"/milano/doc/{PLAN}")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert not re.search(r'(src|href)="(https?:)?//', re.sub(r"<a [^>]*>", "", response.text))


def test_the_ontology_page_documents_every_term(site: TestClient) -> None:
    ontology = rdflib.Graph().parse(ROOT / "ontology" / "psm.ttl")
    terms = {
        str(term).partition("#")[2]
        for kind in (rdflib.OWL.Class, rdflib.OWL.ObjectProperty, rdflib.OWL.DatatypeProperty)
        for term in ontology.subjects(rdflib.RDF.type, kind)
        if str(term).startswith("https://w3id.org/psm/ontology#")
    }
    html = site.get("/ontology").text
    missing = [term for term in terms if f'id="{term}"' not in html]
    assert terms
    assert not missing
    assert "ha pilastro" in html
    assert "has pillar" in html
    assert 'href="/milano/doc/plan/psttm-2025-2027"' in html  # an example of use


def test_the_ontology_rdf_is_the_ontology(site: TestClient) -> None:
    served = rdflib.Graph().parse(data=site.get("/ontology.ttl").content, format="turtle")
    assert isomorphic(served, rdflib.Graph().parse(ROOT / "ontology" / "psm.ttl"))


def test_the_shapes_page_lists_every_shape_with_its_severity(site: TestClient) -> None:
    shapes = rdflib.Graph()
    for path in sorted((ROOT / "ontology" / "shapes").glob("*.ttl")):
        shapes.parse(path)
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    named = {
        str(s).rpartition("#")[2]
        for kind in (sh.NodeShape, sh.PropertyShape)
        for s in shapes.subjects(rdflib.RDF.type, kind)
        if isinstance(s, rdflib.URIRef)
    }
    html = site.get("/shapes").text
    assert named
    assert not [name for name in named if f'id="{name}"' not in html]
    assert "Violation" in html
    assert "Warning" in html
    served = rdflib.Graph().parse(data=site.get("/shapes.ttl").content, format="turtle")
    assert len(served) == len(shapes)


def test_the_home_page_links_to_the_plan_and_the_tools(site: TestClient) -> None:
    page = parse_page(site.get("/").text)
    for target in (f"/milano/doc/{PLAN}", "/milano/doc/", "/ontology", "/shapes", "/sparql/editor"):
        assert target in page.hrefs
    assert "/?lang=en" in page.hrefs
    assert len(page.h1) == 1


# --- the crawl ------------------------------------------------------------------------------------

CRAWL_LIMIT = 6000
SAMPLED_PAGES = 3  # HTML pages per kind of entity when the crawl runs on an engine


def _entity_of(path: str) -> str | None:
    """``plan/psttm-2025-2027`` for /milano/doc/plan/psttm-2025-2027.ttl; None for other pages."""
    if not path.startswith("/milano/doc/") or path.endswith("/"):
        return None
    return re.sub(r"\.(html|ttl|jsonld|rdf|nt)$", "", path[len("/milano/doc/") :])


def test_a_crawl_from_the_home_page_reaches_every_entity_without_an_error(
    site: TestClient, bundled_store: Store, request: pytest.FixtureRequest
) -> None:
    # On an engine (50-250 ms a page) the crawl reads every index and listing page, which link
    # every entity, but only the first few HTML pages of each kind of entity: every RDF document
    # comes from the same store answer as its HTML page, and test_remote_http.py compares each
    # format with the embedded store's.
    sampled = request.node.callspec.params["site"] != "embedded"
    pages_per_kind: dict[str, int] = {}
    queue, seen, failures, malformed = ["/"], {"/"}, [], []
    reached: set[str] = set()
    while queue and len(seen) < CRAWL_LIMIT:
        path = queue.pop()
        stem = urlsplit(path).path
        entity = _entity_of(stem)
        if sampled and entity is not None:
            reached.add(DATA + entity)
            kind = entity.partition("/")[0]
            if not stem.endswith(".html") or pages_per_kind.get(kind, 0) >= SAMPLED_PAGES:
                continue
            pages_per_kind[kind] = pages_per_kind.get(kind, 0) + 1
        response = site.get(path, follow_redirects=False)
        if response.status_code >= 400:
            failures.append((path, response.status_code))
            continue
        if entity is not None:
            reached.add(DATA + entity)
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        if stem.startswith(("/sparql", "/static")):
            continue  # the editor's own example links run queries
        page = parse_page(response.text)
        if page.lang not in ("it", "en") or len(page.h1) != 1 or len(page.json_ld) != 1:
            malformed.append(path)
        for block in page.json_ld:
            assert isinstance(json.loads(block), dict), path
        for href in page.hrefs:
            target = href.partition("#")[0]
            if target.startswith("/") and not target.startswith("//") and target not in seen:
                seen.add(target)
                queue.append(target)
    assert not failures
    assert not malformed, "pages without one lang, one h1 and one JSON-LD block"
    assert len(seen) < CRAWL_LIMIT
    subjects = bundled_store.query(
        f'SELECT DISTINCT ?s WHERE {{ ?s ?p ?o FILTER(STRSTARTS(STR(?s), "{DATA}")) }}',
        timeout_s=10,
    )
    from psm_kg import formats

    rows = json.loads(subjects.serialize(formats.SPARQL_JSON))["results"]["bindings"]
    expected = {row["s"]["value"] for row in rows}
    assert expected
    assert not expected - reached
    print(f"crawl: {len(seen)} URLs, {len(reached)} entities reached of {len(expected)} subjects")


# --- the fixture tree: a source as a blank node -----------------------------------------------


def test_a_blank_node_object_is_described_in_the_rdf(client: TestClient) -> None:
    response = client.get("/milano/doc/plan/psttm-2025-2027.nt")
    graph = rdflib.Graph().parse(data=response.content, format="nt")
    titles = list(graph.objects(None, rdflib.DCTERMS.title))
    assert [str(t) for t in titles] == ["Comunicato stampa (test)"]


def test_languages_are_read_from_accept_language() -> None:
    assert page_data.choose_language(None, "en-US,en;q=0.9,it;q=0.8") == "en"
    assert page_data.choose_language(None, "it-IT,it;q=0.9,en;q=0.8") == "it"
    assert page_data.choose_language(None, "en;q=0, it;q=0.1") == "it"
    assert page_data.choose_language(None, None) == "it"
    assert page_data.choose_language("en", "it") == "en"


# --- in a real browser ----------------------------------------------------------------------------

SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
SCREENSHOT_HEIGHT = {"desktop": 1500, "phone": 1600}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium("the page browser test", 30_000) as launched:
        yield launched


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("pages-browser") / "tree"
    for part in ("ontology", "data", "queries"):
        shutil.copytree(ROOT / part, root / part)
    with live_server(root, {"PSM_KG_QUERY_WORKERS": "0", "PSM_KG_ACCESS_LOG": "false"}) as server:
        yield server.base_url


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize(("name", "reference"), [("plan", PLAN), ("objective", OBJECTIVE)])
def test_the_plan_and_an_objective_render_in_a_browser_from_this_server_only(
    browser: Any, served: str, name: str, reference: str, viewport: str
) -> None:
    width, height = VIEWPORTS[viewport]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="it-IT")
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    try:
        response = page.goto(f"{served}/milano/doc/{reference}", wait_until="networkidle")
        assert response is not None
        assert response.status == 200
        assert page.locator("h1").count() == 1
        assert page.evaluate("document.documentElement.lang") == "it"
        if name == "plan":
            assert page.locator("svg.structure a").count() >= 30
        elsewhere = [url for url in requests if urlsplit(url).hostname != "127.0.0.1"]
        assert elsewhere == []
        assert errors == []
        if os.environ.get("PSM_KG_WRITE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            # The top of the page, down to the end of the plan's diagram on a desktop.
            full = page.evaluate("document.documentElement.scrollHeight")
            shown = min(full, SCREENSHOT_HEIGHT[viewport])
            clip = {"x": 0, "y": 0, "width": width, "height": shown}
            page.screenshot(
                path=str(SCREENSHOTS / f"{name}-{viewport}.png"), full_page=True, clip=clip
            )
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/", "/ontology", "/shapes", "/milano/doc/"])
def test_pages_of_a_sparse_tree_answer_without_server_errors(client: TestClient, path: str) -> None:
    """The fixture tree's ontology has terms without Italian comments: the pages still render."""
    response = client.get(path, headers={"accept": "text/html"})
    assert response.status_code == 200
