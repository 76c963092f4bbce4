"""`psm-kg export ndc` over the bundled data: the schema.gov.it layout, one main resource per
file, metadata taken only from the data, and the NDC rules (SHACL-AF on) run on every file.

The bundled data (ontology/, data/ of this repository) are copied to a temporary directory and
built there; nothing is built into the repository.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from click.testing import CliRunner, Result
from rdflib.namespace import DCAT, DCTERMS, OWL, RDF, SKOS

from psm_kg import export_ndc
from psm_kg.build import build_dist
from psm_kg.cli import main
from psm_kg.config import Settings, load_settings
from psm_kg.export_ndc import DCATAPIT, NDC, NdcExport
from psm_kg.profiles import get_profile
from psm_kg.validation import Severity, validate_paths

ROOT = Path(__file__).resolve().parents[1]
SCHEME = "https://w3id.org/psm/milano/id/scheme/"
VOCABULARIES = ("drivers-2025-2027", "missions-2025-2027", "pillars-2025-2027", "pnrr")
PROJECT_SOURCE = rdflib.URIRef("https://w3id.org/psm/milano/id/source/psm-kg")


@pytest.fixture(scope="module")
def bundled_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("bundled") / "tree"
    for part in ("ontology", "data"):
        shutil.copytree(ROOT / part, root / part)
    settings = load_settings(env={}, root=root)
    build_dist(settings)
    return settings


@pytest.fixture(scope="module")
def exported(bundled_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> NdcExport:
    return export_ndc.export_ndc(bundled_settings, tmp_path_factory.mktemp("ndc") / "repo")


def built_graph(settings: Settings) -> rdflib.Graph:
    """Every triple of the build: the dataset's named graphs and the catalogue."""
    triples = [
        ox.Triple(q.subject, q.predicate, q.object)
        for q in ox.parse(path=str(settings.dist_dir / "psm-kg.nq"), format=ox.RdfFormat.N_QUADS)
    ]
    triples += ox.parse(path=str(settings.dist_dir / "catalog.nt"), format=ox.RdfFormat.N_TRIPLES)
    text = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
    return rdflib.Graph().parse(data=text, format="nt")


def grounded(graph: rdflib.Graph) -> set[tuple[object, ...]]:
    """The triples of ``graph`` with each blank node replaced by its own description (its
    predicates and objects), so that two parses of the same bytes compare equal."""

    def ground(node: rdflib.term.Node, depth: int = 0) -> object:
        if not isinstance(node, rdflib.BNode) or depth > 3:
            return node
        return frozenset((p, ground(o, depth + 1)) for p, o in graph.predicate_objects(node))

    return {(ground(s), p, ground(o)) for s, p, o in graph}


def vocabulary_file(exported: NdcExport, name: str) -> Path:
    return exported.directory / "assets" / "controlled-vocabularies" / name / f"{name}.ttl"


def ontology_files(exported: NdcExport) -> list[Path]:
    folder = exported.directory / "assets" / "ontologies" / "ontology"
    return [folder / "latest" / "ontology.ttl", folder / "0.1.0" / "ontology.ttl"]


def test_the_layout_is_the_one_the_harvester_reads(exported: NdcExport) -> None:
    written = sorted(
        str(path.relative_to(exported.directory))
        for path in exported.directory.rglob("*")
        if path.is_file()
    )

    assert written == sorted(
        [
            "assets/ontologies/ontology/0.1.0/ontology.ttl",
            "assets/ontologies/ontology/latest/ontology.ttl",
            *(f"assets/controlled-vocabularies/{n}/{n}.ttl" for n in VOCABULARIES),
        ]
    )


def test_every_name_is_the_last_segment_of_its_main_resource(exported: NdcExport) -> None:
    for asset in exported.assets:
        last = re.split(r"[/#]", asset.iri)[-1]
        for relative in asset.files:
            assert relative.stem == last
            folder = relative.parent.name if asset.kind == "controlled-vocabulary" else None
            if folder is not None:
                assert folder == last
            assert re.fullmatch(r"[a-zA-Z][.a-zA-Z0-9_-]{1,63}", relative.stem)


def test_the_version_folder_holds_the_same_ontology_as_latest(exported: NdcExport) -> None:
    latest, version = ontology_files(exported)

    assert latest.read_bytes() == version.read_bytes()
    graph = rdflib.Graph().parse(latest)
    assert str(graph.value(rdflib.URIRef("https://w3id.org/psm/ontology"), OWL.versionInfo)) == (
        version.parent.name
    )


@pytest.mark.parametrize("name", VOCABULARIES)
def test_every_file_has_exactly_one_main_resource(exported: NdcExport, name: str) -> None:
    vocabulary = rdflib.Graph().parse(vocabulary_file(exported, name))
    ontology = rdflib.Graph().parse(ontology_files(exported)[0])

    assert list(vocabulary.subjects(RDF.type, DCATAPIT.Dataset)) == [rdflib.URIRef(SCHEME + name)]
    assert list(ontology.subjects(RDF.type, OWL.Ontology)) == [
        rdflib.URIRef("https://w3id.org/psm/ontology")
    ]
    assert not list(ontology.subjects(RDF.type, DCATAPIT.Dataset))


def test_the_vocabularies_are_the_schemes_the_catalogue_lists(exported: NdcExport) -> None:
    iris = [a.iri for a in exported.assets if a.kind == "controlled-vocabulary"]

    assert iris == [SCHEME + name for name in VOCABULARIES]


@pytest.mark.parametrize("name", VOCABULARIES)
def test_a_vocabulary_holds_its_own_concepts_and_no_other(exported: NdcExport, name: str) -> None:
    graph = rdflib.Graph().parse(vocabulary_file(exported, name))
    scheme = rdflib.URIRef(SCHEME + name)

    in_schemes = set(graph.objects(None, SKOS.inScheme))
    concepts = set(graph.subjects(SKOS.inScheme, scheme))
    assert in_schemes == {scheme}
    assert concepts
    assert set(graph.objects(scheme, SKOS.hasTopConcept)) <= concepts


@pytest.mark.parametrize("name", VOCABULARIES)
def test_every_vocabulary_triple_but_the_key_concept_is_in_the_build(
    bundled_settings: Settings, exported: NdcExport, name: str
) -> None:
    built = grounded(built_graph(bundled_settings))
    graph = rdflib.Graph().parse(vocabulary_file(exported, name))

    added = grounded(graph) - built

    assert added == {(rdflib.URIRef(SCHEME + name), NDC.keyConcept, rdflib.Literal(name))}
    assert any(isinstance(o, rdflib.BNode) for o in graph.objects())  # the checksums compared


def test_the_ontology_file_is_the_ontology_graph_unchanged(
    bundled_settings: Settings, exported: NdcExport
) -> None:
    graph = rdflib.Graph().parse(ontology_files(exported)[0])
    source = rdflib.Graph().parse(bundled_settings.ontology_path)

    assert set(graph) == set(source)


@pytest.mark.parametrize("path", [0, 1], ids=["latest", "version"])
def test_the_ontology_files_pass_the_ndc_rules(exported: NdcExport, path: int) -> None:
    report = validate_paths([ontology_files(exported)[path]], profile=get_profile("ndc"))

    assert report.errors == ()
    assert [r for r in report.results if r.severity is Severity.VIOLATION] == []


@pytest.mark.parametrize("name", VOCABULARIES)
def test_the_vocabulary_files_pass_the_ndc_rules(exported: NdcExport, name: str) -> None:
    report = validate_paths([vocabulary_file(exported, name)], profile=get_profile("ndc"))

    assert report.errors == ()
    assert [r for r in report.results if r.severity is Severity.VIOLATION] == []
    assert report.results == ()  # no warning either
    assert not [gap for gap in exported.missing if gap[0] == SCHEME + name]


@pytest.mark.parametrize("name", VOCABULARIES)
def test_a_vocabulary_version_is_the_projects_own_statement(
    bundled_settings: Settings, name: str
) -> None:
    built = built_graph(bundled_settings)
    scheme = rdflib.URIRef(SCHEME + name)
    ontology_version = built.value(rdflib.URIRef("https://w3id.org/psm/ontology"), OWL.versionInfo)

    assert list(built.objects(scheme, OWL.versionInfo)) == [ontology_version]
    assert PROJECT_SOURCE in set(built.objects(scheme, DCTERMS.source))
    catalog = Path(bundled_settings.data_dir, "catalog", "catalog.ttl")
    stated = rdflib.Graph().parse(catalog)
    assert (scheme, OWL.versionInfo, ontology_version) in stated
    assert (scheme, DCTERMS.source, PROJECT_SOURCE) in stated


@pytest.mark.parametrize(
    ("name", "left_out"),
    [("pnrr", OWL.versionInfo), ("drivers-2025-2027", NDC.keyConcept)],
    ids=["version-info", "key-concept"],
)
def test_the_ndc_rules_fire_when_a_vocabulary_loses_a_required_property(
    exported: NdcExport, tmp_path: Path, name: str, left_out: rdflib.URIRef
) -> None:
    graph = rdflib.Graph().parse(vocabulary_file(exported, name))
    graph.remove((rdflib.URIRef(SCHEME + name), left_out, None))
    stripped = tmp_path / f"{name}.ttl"
    graph.serialize(stripped, format="turtle")

    report = validate_paths([stripped], profile=get_profile("ndc"))

    assert [(r.severity, r.focus_node, r.path) for r in report.results] == [
        (Severity.VIOLATION, SCHEME + name, str(left_out))
    ]


@pytest.mark.parametrize("name", VOCABULARIES)
def test_the_key_concept_is_the_folder_name(exported: NdcExport, name: str) -> None:
    graph = rdflib.Graph().parse(vocabulary_file(exported, name))

    values = list(graph.objects(rdflib.URIRef(SCHEME + name), NDC.keyConcept))
    assert values == [rdflib.Literal(name)]
    assert re.fullmatch(r"\w(:?[\w-]+\w)*", name)


@pytest.mark.parametrize("name", VOCABULARIES)
def test_the_rights_holder_has_the_identifier_and_name_the_harvester_reads(
    exported: NdcExport, name: str
) -> None:
    graph = rdflib.Graph().parse(vocabulary_file(exported, name))

    holders = list(graph.objects(rdflib.URIRef(SCHEME + name), DCTERMS.rightsHolder))
    assert len(holders) == 1
    assert str(graph.value(holders[0], DCTERMS.identifier)) == "cmmi"
    assert graph.value(holders[0], rdflib.URIRef("http://xmlns.com/foaf/0.1/name")) is not None


@pytest.mark.parametrize("name", VOCABULARIES)
def test_every_vocabulary_has_a_turtle_distribution_with_a_download_url(
    bundled_settings: Settings, exported: NdcExport, name: str
) -> None:
    graph = rdflib.Graph().parse(vocabulary_file(exported, name))
    turtle = rdflib.URIRef("http://publications.europa.eu/resource/authority/file-type/RDF_TURTLE")
    licence = rdflib.URIRef("https://w3id.org/italia/controlled-vocabulary/licences/A21_CCBY40")

    distributions = [
        d
        for d in graph.objects(rdflib.URIRef(SCHEME + name), DCAT.distribution)
        if (d, DCTERMS.format, turtle) in graph and (d, DCAT.downloadURL, None) in graph
    ]
    assert len(distributions) == 1
    (distribution,) = distributions
    assert (distribution, DCTERMS.license, licence) in graph
    url = str(graph.value(distribution, DCAT.downloadURL))
    assert url == f"https://w3id.org/psm/dumps/{name}.ttl"
    # The file it names is the built dump of this scheme, a Turtle file holding the scheme.
    dump = bundled_settings.dist_dir / "dumps" / f"{name}.ttl"
    assert int(graph.value(distribution, DCAT.byteSize)) == len(dump.read_bytes())
    assert (rdflib.URIRef(SCHEME + name), RDF.type, SKOS.ConceptScheme) in rdflib.Graph().parse(
        dump, format="turtle"
    )


# --- the command ---------------------------------------------------------------------------------


def run(*args: str) -> Result:
    clean: dict[str, str | None] = {key: None for key in os.environ if key.startswith("PSM_KG_")}
    return CliRunner().invoke(main, list(args), env=clean, catch_exceptions=False)


def test_export_ndc_writes_the_files_and_leaves_nothing_out(
    bundled_settings: Settings, tmp_path: Path
) -> None:
    result = run("export", "ndc", str(tmp_path / "out"), "--root", str(bundled_settings.root))

    assert result.exit_code == 0, result.output
    assert "assets/controlled-vocabularies/pnrr/pnrr.ttl" in result.stdout
    assert "left out" not in result.stderr
    assert (tmp_path / "out" / "assets" / "ontologies" / "ontology" / "latest").is_dir()


def test_export_ndc_names_what_the_data_do_not_state(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    for part in ("ontology", "data"):
        shutil.copytree(ROOT / part, root / part)
    catalog = root / "data" / "catalog" / "catalog.ttl"
    text = catalog.read_text(encoding="utf-8")
    assert 'id:scheme\\/pnrr owl:versionInfo "0.1.0" ;' in text
    catalog.write_text(
        text.replace('id:scheme\\/pnrr owl:versionInfo "0.1.0" ;', "id:scheme\\/pnrr"),
        encoding="utf-8",
    )

    result = run("export", "ndc", str(tmp_path / "out"), "--root", str(root))

    assert result.exit_code == 0, result.output
    assert result.stderr == f"not in the data, left out: {SCHEME}pnrr {OWL.versionInfo}\n"


def test_export_ndc_into_a_file_exits_2_naming_it(
    bundled_settings: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("not a directory\n", encoding="utf-8")

    result = run("export", "ndc", str(blocker / "repo"), "--root", str(bundled_settings.root))

    assert result.exit_code == 2
    assert str(blocker / "repo") in result.stderr
    assert "Traceback" not in result.output


def test_export_ndc_exits_2_when_dist_cannot_be_built(app_tree: Path, app_data: Path) -> None:
    shutil.copy(app_data / "syntax-error.ttl", app_tree / "data" / "plan" / "broken.ttl")

    result = run("export", "ndc", str(app_tree / "out"), "--root", str(app_tree))

    assert result.exit_code == 2
    assert "dist/ cannot be built" in result.stderr
    assert "broken.ttl:" in result.stderr
    assert not (app_tree / "out").exists()
