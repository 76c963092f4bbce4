"""The catalogue, VoID, dumps, sitemap and robots.txt, over a build of the real bundled data.

The project's ontology/, data/ and queries/ are copied to a temporary directory and built there
once per session (never into the repository). The catalogue is validated as a harvester reads it:
the served document alone, no inference, against the DCAT-AP_IT and the SEMIC DCAT-AP 3.0.1 shapes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, DCTERMS, RDF, XSD
from starlette.testclient import TestClient

from psm_kg import dumps, formats
from psm_kg.app import create_app
from psm_kg.build import build_dist
from psm_kg.config import Settings, load_settings
from psm_kg.profiles import get_profile
from psm_kg.query_workers import InProcessEvaluator
from psm_kg.store import Store
from psm_kg.validation import Severity, validate_paths

pytestmark = pytest.mark.every_backend  # `client`: the embedded store and each engine

ROOT = Path(__file__).resolve().parents[1]
SPDX = Namespace("http://spdx.org/rdf/terms#")
VOID = Namespace("http://rdfs.org/ns/void#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
DCATAPIT = Namespace("http://dati.gov.it/onto/dcatapit#")
BASE = "https://w3id.org/psm/"
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
# A fixed modification time for every input: 2024-03-05 12:00 UTC.
FIXED_MTIME = 1709640000


def copy_project(destination: Path) -> Path:
    """ontology/, data/ and queries/ of this repository, every file's mtime set to FIXED_MTIME."""
    for part in ("ontology", "data", "queries"):
        shutil.copytree(ROOT / part, destination / part)
    for path in destination.rglob("*"):
        if path.is_file():
            os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    return destination


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = copy_project(tmp_path_factory.mktemp("real") / "tree")
    settings = load_settings(env={}, root=root)
    build_dist(settings)
    return settings


@pytest.fixture(scope="session")
def real_store(real_settings: Settings) -> Store:
    return Store.from_dist(real_settings.dist_dir)


@pytest.fixture(scope="module")
def real_client(real_settings: Settings, real_store: Store) -> Iterator[TestClient]:
    app = create_app(real_settings, real_store, InProcessEvaluator(real_store))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def catalog(real_client: TestClient) -> Graph:
    response = real_client.get("/catalog.ttl")
    assert response.status_code == 200
    return Graph().parse(data=response.content, format="turtle")


@pytest.fixture(scope="module")
def void_graph(real_client: TestClient) -> Graph:
    return Graph().parse(data=real_client.get("/.well-known/void.ttl").content, format="turtle")


# --- content negotiation -------------------------------------------------------------------------

RDF_ROUTES = ["/catalog", "/.well-known/void"]
ACCEPT_TABLE = [
    (None, "text/turtle"),
    ("*/*", "text/turtle"),
    ("text/turtle", "text/turtle"),
    ("application/ld+json", "application/ld+json"),
    ("application/rdf+xml", "application/rdf+xml"),
    ("application/n-triples", "application/n-triples"),
    ("application/rdf+xml;q=0.5, application/ld+json;q=0.9", "application/ld+json"),
    ("text/html, application/*;q=0.8", "application/ld+json"),
    ("application/x-turtle", "text/turtle"),
]


@pytest.mark.parametrize("route", RDF_ROUTES)
@pytest.mark.parametrize(
    ("accept", "media_type"), ACCEPT_TABLE, ids=[str(a) for a, _ in ACCEPT_TABLE]
)
def test_rdf_documents_follow_the_accept_header(
    real_client: TestClient, route: str, accept: str | None, media_type: str
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    response = real_client.get(route, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert "Accept" in response.headers["vary"].split(", ")
    extension = {"text/turtle": "ttl", "application/ld+json": "jsonld"}.get(media_type)
    if extension:
        assert response.headers["content-location"] == f"{route}.{extension}"


EXTENSIONS = [
    ("ttl", "text/turtle", "turtle"),
    ("jsonld", "application/ld+json", "json-ld"),
    ("rdf", "application/rdf+xml", "xml"),
    ("nt", "application/n-triples", "nt"),
]


@pytest.mark.parametrize("route", RDF_ROUTES)
@pytest.mark.parametrize(
    ("extension", "media_type", "rdflib_format"), EXTENSIONS, ids=[e[0] for e in EXTENSIONS]
)
def test_an_extension_picks_the_format_and_every_format_is_the_same_graph(
    real_client: TestClient, route: str, extension: str, media_type: str, rdflib_format: str
) -> None:
    response = real_client.get(f"{route}.{extension}", headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    reference = Graph().parse(data=real_client.get(f"{route}.nt").content, format="nt")
    content = response.content
    if (
        rdflib_format == "json-ld"
    ):  # rdflib's JSON-LD parser warns (ConjunctiveGraph): via N-Triples
        content = ox.serialize(
            ox.parse(content, format=ox.RdfFormat.JSON_LD), format=ox.RdfFormat.N_TRIPLES
        )
        rdflib_format = "nt"
    assert isomorphic(Graph().parse(data=content, format=rdflib_format), reference)


@pytest.mark.parametrize("route", RDF_ROUTES)
def test_the_format_parameter_overrides_accept(real_client: TestClient, route: str) -> None:
    response = real_client.get(
        route, params={"format": "jsonld"}, headers={"Accept": "text/turtle"}
    )
    assert response.headers["content-type"].startswith("application/ld+json")


@pytest.mark.parametrize("route", RDF_ROUTES)
def test_an_unacceptable_accept_header_returns_406(real_client: TestClient, route: str) -> None:
    response = real_client.get(route, headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert response.json()["title"] == "Not acceptable"
    assert "text/turtle" in response.json()["available"]


@pytest.mark.parametrize("path", ["/catalog.html", "/catalog.csv", "/.well-known/void.nq"])
def test_an_unknown_extension_returns_404(real_client: TestClient, path: str) -> None:
    response = real_client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "path",
    [
        "/catalog",
        "/catalog.jsonld",
        "/.well-known/void",
        "/dumps/psm-kg.nq.gz",
        "/sitemap.xml",
        "/robots.txt",
    ],
)
def test_every_document_has_a_strong_etag_and_answers_304(
    real_client: TestClient, path: str
) -> None:
    response = real_client.get(path)
    etag = response.headers["etag"]
    assert not etag.startswith("W/")
    assert etag == '"' + hashlib.sha256(response.content).hexdigest() + '"'
    assert "max-age=" in response.headers["cache-control"]
    again = real_client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag


@pytest.mark.parametrize("path", ["/catalog", "/dumps/psm-kg.ttl", "/sitemap.xml"])
def test_head_sends_the_headers_of_get_without_a_body(real_client: TestClient, path: str) -> None:
    get = real_client.get(path)
    head = real_client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["etag"] == get.headers["etag"]


# --- the catalogue against the profiles ----------------------------------------------------------


@pytest.mark.parametrize("profile", ["dcat-ap-it", "dcat-ap"])
def test_the_served_catalogue_has_no_violation_of_either_profile(
    real_client: TestClient, tmp_path: Path, profile: str
) -> None:
    served = tmp_path / "catalog.ttl"
    served.write_bytes(real_client.get("/catalog.ttl").content)
    report = validate_paths([served], profile=get_profile(profile))
    assert not report.errors
    violations = [r for r in report.results if r.severity is Severity.VIOLATION]
    assert not violations, "\n".join(f"{r.focus_node} {r.path}: {r.message}" for r in violations)
    assert report.triples > 400  # the whole catalogue was read, not an empty document


def test_every_catalogue_node_is_typed_with_both_the_dcatapit_and_the_dcat_class(
    catalog: Graph,
) -> None:
    for name in ("Catalog", "Dataset", "Distribution"):
        dcat_nodes = set(catalog.subjects(RDF.type, DCAT[name]))
        assert dcat_nodes, name
        assert dcat_nodes == set(catalog.subjects(RDF.type, DCATAPIT[name])), name


def test_the_catalogue_lists_the_knowledge_graph_the_ontology_and_the_vocabularies(
    catalog: Graph,
) -> None:
    datasets = {str(d) for d in catalog.objects(None, DCAT.dataset)}
    ids = BASE + "milano/id/"
    assert datasets == {
        ids + "dataset/psm-kg",
        BASE + "ontology",
        ids + "scheme/pillars-2025-2027",
        ids + "scheme/missions-2025-2027",
        ids + "scheme/drivers-2025-2027",
        ids + "scheme/pnrr",
        ids + "dataset/territory",
    }


def test_the_sparql_endpoint_is_a_data_service_and_a_sparqlq_distribution(catalog: Graph) -> None:
    endpoint = URIRef(BASE + "sparql")
    (service,) = catalog.subjects(DCAT.endpointURL, endpoint)
    assert (service, RDF.type, DCAT.DataService) in catalog
    assert (
        service,
        DCTERMS.conformsTo,
        URIRef("https://www.w3.org/TR/sparql11-protocol/"),
    ) in catalog
    assert (service, DCAT.servesDataset, URIRef(BASE + "milano/id/dataset/psm-kg")) in catalog
    (distribution,) = catalog.subjects(DCAT.accessURL, endpoint)
    sparqlq = URIRef("http://publications.europa.eu/resource/authority/file-type/SPARQLQ")
    assert (distribution, DCTERMS.format, sparqlq) in catalog


def test_the_rights_holder_is_the_citta_metropolitana_as_the_data_describes_it(
    catalog: Graph,
) -> None:
    body = URIRef(BASE + "milano/id/organization/citta-metropolitana-di-milano")
    (catalogue,) = catalog.subjects(RDF.type, DCATAPIT.Catalog)
    # psm-kg publishes; the plan and its content are the Città metropolitana's.
    assert catalog.value(catalogue, DCTERMS.publisher) == URIRef(
        BASE + "milano/id/organization/psm-kg"
    )
    dataset = URIRef(BASE + "milano/id/dataset/psm-kg")
    assert catalog.value(dataset, DCTERMS.rightsHolder) == body
    assert catalog.value(body, DCTERMS.identifier) == Literal("cmmi")
    notes = {
        str(n)
        for n in catalog.objects(body, URIRef("http://www.w3.org/2004/02/skos/core#editorialNote"))
    }
    assert any("not confirmed on indicepa.gov.it" in note for note in notes)


def test_the_catalogue_states_no_contact_point_and_the_data_licence(catalog: Graph) -> None:
    assert not list(catalog.objects(None, DCAT.contactPoint))
    licences = set(catalog.objects(None, DCTERMS.license))
    assert licences == {URIRef("https://w3id.org/italia/controlled-vocabulary/licences/A21_CCBY40")}


def test_modified_dates_are_the_inputs_date_not_the_clock(catalog: Graph) -> None:
    (catalogue,) = catalog.subjects(RDF.type, DCATAPIT.Catalog)
    assert catalog.value(catalogue, DCTERMS.modified) == Literal("2024-03-05", datatype=XSD.date)


# --- dumps ---------------------------------------------------------------------------------------


def test_every_dump_is_in_the_catalogue_with_the_checksum_and_size_of_the_served_bytes(
    real_client: TestClient, catalog: Graph
) -> None:
    knowledge_graph = URIRef(BASE + "milano/id/dataset/psm-kg")
    urls = {
        str(catalog.value(d, DCAT.downloadURL)): d
        for d in catalog.objects(knowledge_graph, DCAT.distribution)
    }
    for dump in dumps.all_dumps():
        distribution = urls.pop(BASE + "dumps/" + dump.name)
        body = real_client.get("/dumps/" + dump.name).content
        checksum = catalog.value(distribution, SPDX.checksum)
        assert str(catalog.value(checksum, SPDX.checksumValue)) == hashlib.sha256(body).hexdigest()
        assert int(catalog.value(distribution, DCAT.byteSize)) == len(body)
    assert set(urls) == {"None"}  # only the SPARQL distribution is left, which has no download


@pytest.mark.parametrize("dump", dumps.all_dumps(), ids=lambda d: d.name)
def test_every_dump_holds_the_whole_dataset(
    real_client: TestClient, real_store: Store, dump: dumps.Dump
) -> None:
    response = real_client.get("/dumps/" + dump.name)
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.headers["content-disposition"] == f'attachment; filename="{dump.name}"'
    data = response.content
    if dump.gzipped:
        assert response.headers["content-type"] == "application/gzip"
        data = gzip.decompress(data)
        assert data == real_client.get("/dumps/" + dump.name.removesuffix(".gz")).content
    else:
        assert response.headers["content-type"].split(";")[0] == dump.format.media_type
    rdf_format = ox.RdfFormat.from_media_type(dump.format.media_type)
    assert rdf_format is not None
    parsed = list(ox.parse(data, format=rdf_format))
    if dump.union:
        assert len({q.triple for q in parsed}) == real_store.union_size()
    else:
        assert len(set(parsed)) == len(real_store)


VOCABULARIES = ("drivers-2025-2027", "missions-2025-2027", "pillars-2025-2027", "pnrr")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
FILE_TYPE = Namespace("http://publications.europa.eu/resource/authority/file-type/")


@pytest.mark.parametrize("name", VOCABULARIES)
def test_every_vocabulary_has_a_turtle_file_with_the_checksum_and_size_of_the_served_bytes(
    real_client: TestClient, catalog: Graph, name: str
) -> None:
    scheme = URIRef(BASE + "milano/id/scheme/" + name)
    url = BASE + "dumps/" + name + ".ttl"
    distributions = catalog.objects(scheme, DCAT.distribution)
    files = [d for d in distributions if (d, DCAT.downloadURL, None) in catalog]
    assert len(files) == 1
    (distribution,) = files
    assert str(catalog.value(distribution, DCAT.downloadURL)) == url
    assert str(catalog.value(distribution, DCAT.accessURL)) == url
    assert catalog.value(distribution, DCTERMS.format) == FILE_TYPE.RDF_TURTLE
    assert catalog.value(distribution, DCAT.mediaType) == URIRef(
        "http://www.iana.org/assignments/media-types/text/turtle"
    )
    assert (distribution, RDF.type, DCATAPIT.Distribution) in catalog
    response = real_client.get("/dumps/" + name + ".ttl")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/turtle; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="{name}.ttl"'
    checksum = catalog.value(distribution, SPDX.checksum)
    assert (
        str(catalog.value(checksum, SPDX.checksumValue))
        == hashlib.sha256(response.content).hexdigest()
    )
    assert str(catalog.value(checksum, SPDX.algorithm)) == (
        "https://spdx.org/rdf/terms#checksumAlgorithm_sha256"
    )
    assert int(catalog.value(distribution, DCAT.byteSize)) == len(response.content)
    assert distribution not in set(
        catalog.objects(URIRef(BASE + "milano/id/dataset/psm-kg"), DCAT.distribution)
    )


@pytest.mark.parametrize("name", VOCABULARIES)
def test_a_vocabulary_file_holds_its_scheme_and_concepts_as_the_store_has_them(
    real_client: TestClient, real_store: Store, name: str
) -> None:
    scheme = BASE + "milano/id/scheme/" + name
    served = Graph().parse(data=real_client.get(f"/dumps/{name}.ttl").content, format="turtle")
    query = f"""CONSTRUCT {{ ?s ?p ?o }} WHERE {{
        {{ BIND(<{scheme}> AS ?s) }} UNION {{ ?s <{SKOS.inScheme}> <{scheme}> }}
        ?s ?p ?o }}"""
    expected = Graph().parse(
        data=real_store.query(query, timeout_s=30).serialize(formats.N_TRIPLES), format="nt"
    )

    assert len(expected) > 20
    assert isomorphic(served, expected)
    assert set(served.objects(None, SKOS.inScheme)) == {URIRef(scheme)}


def test_the_vocabulary_files_are_in_no_void_data_dump(void_graph: Graph) -> None:
    dumped = {str(d) for d in void_graph.objects(None, VOID.dataDump)}

    assert not [name for name in VOCABULARIES if BASE + "dumps/" + name + ".ttl" in dumped]


@pytest.mark.parametrize(
    "name",
    [
        "nope",
        "psm-kg.csv",
        "no-such-vocabulary.ttl",
        "pnrr.ttl.gz",
        "PNRR.ttl",
        "psm-kg.nq.zip",
        "..%2Fcontent-hash.txt",
        "%2E%2E",
        "psm-kg.nq%00",
        "../psm-kg.nq",
    ],
)
def test_an_unknown_dump_name_returns_404(real_client: TestClient, name: str) -> None:
    response = real_client.get("/dumps/" + name)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


# --- VoID ----------------------------------------------------------------------------------------


def test_void_counts_equal_the_store(void_graph: Graph, real_store: Store) -> None:
    dataset = URIRef(BASE + "milano/id/dataset/psm-kg")
    assert int(void_graph.value(dataset, VOID.triples)) == real_store.union_size()
    subsets = {
        str(void_graph.value(subset, SD.name)): int(void_graph.value(subset, VOID.triples))
        for subset in void_graph.objects(dataset, VOID.subset)
    }
    assert subsets == real_store.graph_sizes()


def test_void_partitions_count_what_sparql_counts(void_graph: Graph, real_store: Store) -> None:
    dataset = URIRef(BASE + "milano/id/dataset/psm-kg")
    classes = {
        str(void_graph.value(p, VOID["class"])): int(void_graph.value(p, VOID.entities))
        for p in void_graph.objects(dataset, VOID.classPartition)
    }
    properties = {
        str(void_graph.value(p, VOID.property)): int(void_graph.value(p, VOID.triples))
        for p in void_graph.objects(dataset, VOID.propertyPartition)
    }

    def rows(query: str) -> dict[str, int]:
        outcome = real_store.query(query, timeout_s=30)
        bindings = json.loads(outcome.serialize(formats.SPARQL_JSON))["results"]["bindings"]
        return {b["k"]["value"]: int(b["n"]["value"]) for b in bindings}

    assert classes == rows(
        "SELECT ?k (COUNT(DISTINCT ?s) AS ?n) { ?s a ?k FILTER isIRI(?k) } GROUP BY ?k"
    )
    assert properties == rows(
        "SELECT ?k (COUNT(*) AS ?n) { SELECT DISTINCT ?s ?k ?o { ?s ?k ?o } } GROUP BY ?k"
    )


def test_void_names_the_endpoint_the_dumps_the_uri_space_and_examples(void_graph: Graph) -> None:
    dataset = URIRef(BASE + "milano/id/dataset/psm-kg")
    assert void_graph.value(dataset, VOID.sparqlEndpoint) == URIRef(BASE + "sparql")
    assert {str(d) for d in void_graph.objects(dataset, VOID.dataDump)} == {
        BASE + "dumps/" + d.name for d in dumps.all_dumps()
    }
    assert str(void_graph.value(dataset, VOID.uriSpace)) == BASE + "milano/id/"
    assert URIRef(BASE + "milano/id/plan/psttm-2025-2027") in set(
        void_graph.objects(dataset, VOID.exampleResource)
    )
    vocabularies = {str(v) for v in void_graph.objects(dataset, VOID.vocabulary)}
    assert {
        "http://www.w3.org/2004/02/skos/core#",
        BASE + "ontology#",
        "http://www.w3.org/ns/dcat#",
    } <= vocabularies


# --- sitemap and robots.txt ----------------------------------------------------------------------


def test_the_sitemap_is_sitemaps_org_xml_listing_the_pages(real_client: TestClient) -> None:
    response = real_client.get("/sitemap.xml")
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == SITEMAP_NS + "urlset"
    locations = [loc.text for loc in root.iter(SITEMAP_NS + "loc")]
    assert len(locations) == len(set(locations)) > 100
    site = "http://testserver"
    for path in ("/", "/catalog", "/sparql", "/ontology", "/milano/doc/plan/psttm-2025-2027"):
        assert site + path in locations
    assert all(loc is not None and loc.startswith(site + "/") for loc in locations)
    assert not any("/milano/id/" in str(loc) for loc in locations)


def test_robots_txt_allows_all_but_queries_and_names_the_sitemap(real_client: TestClient) -> None:
    response = real_client.get("/robots.txt")
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /sparql?" in lines
    assert "Sitemap: http://testserver/sitemap.xml" in lines


# --- reproducibility -----------------------------------------------------------------------------


def _tree(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_two_builds_of_the_same_inputs_give_byte_identical_dist(
    real_settings: Settings, tmp_path: Path
) -> None:
    other = load_settings(env={}, root=copy_project(tmp_path / "again"))
    build_dist(other)
    first, second = _tree(real_settings.dist_dir), _tree(other.dist_dir)
    assert set(first) >= {"catalog.nt", "void.nt", "dumps/psm-kg.ttl.gz", "dumps/psm-kg.jsonld"}
    assert first.keys() == second.keys()
    different = [name for name in first if first[name] != second[name]]
    assert not different
