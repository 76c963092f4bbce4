"""Write the ontology and the SKOS vocabularies in the layout schema.gov.it (NDC) harvests.

```
DIR/assets/ontologies/<name>/latest/<name>.ttl          the ontology (named graph "ontology")
DIR/assets/ontologies/<name>/<version>/<name>.ttl       the same file, when owl:versionInfo is a
                                                        version folder name (e.g. 0.1.0)
DIR/assets/controlled-vocabularies/<name>/<name>.ttl    one per SKOS scheme the catalogue lists
```

``<name>`` is the last segment of the main resource's IRI (the harvester's "file name = directory
name = last URI segment" rule). A vocabulary is every ``skos:ConceptScheme`` of the data that the
built catalogue (``dist/catalog.nt``) describes as a ``dcatapit:Dataset``: its file holds the
scheme, its concepts (``skos:inScheme``), the catalogue's description of the scheme, and the nodes
that description points at (rights holder, publisher, distributions, licence).

Nothing is made up: metadata come from the data and the catalogue (the version of a scheme and
its Turtle file, ``/dumps/{name}.ttl``, are the catalogue's: psm-kg's statements about its own
publication). The one value added is ``ndc:keyConcept``, which NDC defines as the vocabulary's key
name and illustrates with the last segment of the scheme's IRI; it is that segment here, the same
name as the folder. What the NDC rules ask for and the data do not state (e.g. ``owl:versionInfo``
of a scheme, a Turtle distribution with a ``dcat:downloadURL``) is left out and listed in
`NdcExport.missing`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, OWL, RDF, SKOS

from psm_kg import urls
from psm_kg.build import NQUADS_FILE
from psm_kg.catalog_graph import CATALOG_FILE
from psm_kg.config import Settings
from psm_kg.errors import PsmKgError

NDC = rdflib.Namespace("https://w3id.org/italia/onto/NDC/")
DCATAPIT = rdflib.Namespace("http://dati.gov.it/onto/dcatapit#")
ADMSAPIT = rdflib.Namespace("https://w3id.org/italia/onto/ADMS/")
RDF_TURTLE = URIRef("http://publications.europa.eu/resource/authority/file-type/RDF_TURTLE")

ONTOLOGIES_DIR = Path("assets", "ontologies")
VOCABULARIES_DIR = Path("assets", "controlled-vocabularies")
# The harvester's name and version-folder rules (dati-semantic-tools hooks, dati-semantic-backend).
ASSET_NAME = re.compile(r"[a-zA-Z][.a-zA-Z0-9_-]{1,63}")
VERSION_FOLDER = re.compile(r"latest|v?[0-9]+(\.[0-9]+){0,2}")
KEY_CONCEPT = re.compile(r"\w(:?[\w-]+\w)*")
# NDC vocabulary rule properties (VocabolariControllati/rules.shacl) the export cannot take from
# the data when they are absent: reported, never filled in.
VOCABULARY_REQUIRED = (
    DCTERMS.identifier,
    DCTERMS.title,
    DCTERMS.description,
    DCTERMS.modified,
    DCAT.theme,
    DCTERMS.rightsHolder,
    DCTERMS.accrualPeriodicity,
    DCAT.distribution,
    DCAT.keyword,
    OWL.versionInfo,
)
PREFIXES = {
    "dcat": DCAT,
    "dcatapit": DCATAPIT,
    "dct": DCTERMS,
    "ndc": NDC,
    "owl": OWL,
    "skos": SKOS,
    "admsapit": ADMSAPIT,
    "foaf": rdflib.Namespace("http://xmlns.com/foaf/0.1/"),
    "prov": rdflib.Namespace("http://www.w3.org/ns/prov#"),
    "psm": rdflib.Namespace("https://w3id.org/psm/ontology#"),
}


class NdcExportError(PsmKgError):
    """DIR cannot be written, or the build lacks what the export needs."""


@dataclass(frozen=True)
class NdcAsset:
    kind: str  # "ontology" or "controlled-vocabulary"
    iri: str
    files: tuple[Path, ...]  # relative to the export directory
    triples: int


@dataclass(frozen=True)
class NdcExport:
    directory: Path
    assets: tuple[NdcAsset, ...]
    # (asset IRI, property IRI): a required metadata property the data do not state
    missing: tuple[tuple[str, str], ...]


def asset_name(iri: str) -> str:
    """The last segment of ``iri``: the folder and file name the harvester expects."""
    name = re.split(r"[/#]", iri.rstrip("/#"))[-1]
    if not ASSET_NAME.fullmatch(name):
        raise NdcExportError(f"{iri}: its last segment {name!r} is not a valid NDC asset name")
    return name


def _graphs(dist_dir: Path) -> dict[str, rdflib.Graph]:
    """Each named graph of dist/psm-kg.nq, plus "" for dist/catalog.nt, as rdflib graphs."""
    by_graph: dict[str, list[ox.Triple]] = {}
    for quad in ox.parse(path=str(dist_dir / NQUADS_FILE), format=ox.RdfFormat.N_QUADS):
        name = quad.graph_name.value if isinstance(quad.graph_name, ox.NamedNode) else ""
        by_graph.setdefault(name, []).append(ox.Triple(quad.subject, quad.predicate, quad.object))
    by_graph["catalog.nt"] = list(
        ox.parse(path=str(dist_dir / CATALOG_FILE), format=ox.RdfFormat.N_TRIPLES)
    )
    graphs = {}
    for name, triples in by_graph.items():
        text = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
        graphs[name] = rdflib.Graph().parse(data=text, format="nt")
    return graphs


def _describe(source: rdflib.Graph, node: rdflib.term.Node, into: rdflib.Graph) -> None:
    """Copy ``node``'s triples into ``into``, following blank nodes (a bounded description)."""
    todo, seen = [node], set()
    while todo:
        subject = todo.pop()
        if subject in seen:
            continue
        seen.add(subject)
        for triple in source.triples((subject, None, None)):
            into.add(triple)
            if isinstance(triple[2], BNode):
                todo.append(triple[2])


def _new_graph() -> rdflib.Graph:
    graph = rdflib.Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


def _write(directory: Path, relative: Path, graph: rdflib.Graph) -> None:
    path = directory / relative
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(graph.serialize(format="turtle", encoding="utf-8"))
    except OSError as error:
        raise NdcExportError(f"{path}: cannot write: {error.strerror or error}") from None


def _ontology(
    directory: Path, ontology: rdflib.Graph, ontology_iri: URIRef
) -> tuple[NdcAsset, list[tuple[str, str]]]:
    name = asset_name(str(ontology_iri))
    graph = _new_graph()
    for triple in ontology:
        graph.add(triple)
    folders = ["latest"]
    version = ontology.value(ontology_iri, OWL.versionInfo)
    if version is not None and VERSION_FOLDER.fullmatch(str(version)) and str(version) != "latest":
        folders.append(str(version))
    files = tuple(ONTOLOGIES_DIR / name / folder / f"{name}.ttl" for folder in folders)
    for relative in files:
        _write(directory, relative, graph)
    return NdcAsset("ontology", str(ontology_iri), files, len(graph)), []


def _vocabulary(
    directory: Path, data: rdflib.Graph, catalog: rdflib.Graph, scheme: URIRef
) -> tuple[NdcAsset, list[tuple[str, str]]]:
    name = asset_name(str(scheme))
    graph = _new_graph()
    _describe(data, scheme, graph)
    for concept in set(data.subjects(SKOS.inScheme, scheme)):
        _describe(data, concept, graph)
    _describe(catalog, scheme, graph)
    # The nodes the catalogue's description points at: agents, distributions, licences.
    for predicate in (DCTERMS.rightsHolder, DCTERMS.publisher, DCTERMS.creator, DCAT.distribution):
        for node in catalog.objects(scheme, predicate):
            _describe(catalog, node, graph)
            for licence in catalog.objects(node, DCTERMS.license):
                _describe(catalog, licence, graph)
    if KEY_CONCEPT.fullmatch(name):
        graph.add((scheme, NDC.keyConcept, Literal(name)))
    missing = [(str(scheme), str(p)) for p in VOCABULARY_REQUIRED if (scheme, p, None) not in graph]
    if not any(
        (d, DCTERMS.format, RDF_TURTLE) in graph and (d, DCAT.downloadURL, None) in graph
        for d in graph.objects(scheme, DCAT.distribution)
    ):
        missing.append(
            (str(scheme), str(DCAT.distribution) + " (RDF_TURTLE with dcat:downloadURL)")
        )
    relative = VOCABULARIES_DIR / name / f"{name}.ttl"
    _write(directory, relative, graph)
    return NdcAsset("controlled-vocabulary", str(scheme), (relative,), len(graph)), missing


def vocabulary_schemes(data: rdflib.Graph, catalog: rdflib.Graph) -> list[URIRef]:
    """The SKOS schemes of the data that the catalogue lists as datasets, sorted."""
    schemes = {s for s in data.subjects(RDF.type, SKOS.ConceptScheme) if isinstance(s, URIRef)}
    listed = set(catalog.subjects(RDF.type, DCATAPIT.Dataset))
    return sorted(schemes & listed)


def export_ndc(settings: Settings, directory: Path) -> NdcExport:
    """Write the NDC layout under ``directory`` from the built dist/ (build it first)."""
    for needed in (NQUADS_FILE, CATALOG_FILE):
        if not (settings.dist_dir / needed).is_file():
            raise NdcExportError(f"{settings.dist_dir / needed} is missing: run psm-kg build")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NdcExportError(f"{directory}: cannot create: {error.strerror or error}") from None
    graphs = _graphs(settings.dist_dir)
    catalog = graphs.pop("catalog.nt")
    ontology = graphs.get(urls.graph_iri(settings.base_iri, urls.ONTOLOGY_PART), rdflib.Graph())
    data = rdflib.Graph()
    for name, graph in graphs.items():
        if name != urls.graph_iri(settings.base_iri, urls.SHAPES_PART):
            for triple in graph:
                data.add(triple)
    ontology_iris = [s for s in ontology.subjects(RDF.type, OWL.Ontology) if isinstance(s, URIRef)]
    if len(ontology_iris) != 1:
        raise NdcExportError(
            f"the ontology graph declares {len(ontology_iris)} owl:Ontology, not 1"
        )
    written = [_ontology(directory, ontology, ontology_iris[0])]
    written += [_vocabulary(directory, data, catalog, s) for s in vocabulary_schemes(data, catalog)]
    missing: list[tuple[str, str]] = []
    for _, gaps in written:
        missing += gaps
    return NdcExport(directory, tuple(asset for asset, _ in written), tuple(missing))


def written_files(export: NdcExport) -> Iterable[Path]:
    for asset in export.assets:
        for relative in asset.files:
            yield export.directory / relative
