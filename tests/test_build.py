from __future__ import annotations

import hashlib
import json
import re
import shutil
import warnings
from pathlib import Path

import pytest
import rdflib
from rdflib.compare import isomorphic

from psm_kg import build, urls
from psm_kg.build import BuildError, build_dist
from psm_kg.config import Settings, load_settings

BASE = "https://w3id.org/psm/"
APP_DATA = Path(__file__).parent / "data" / "app"
FIXTURE_TREE = APP_DATA / "tree"
SYNTAX_ERROR_FILE = APP_DATA / "syntax-error.ttl"


def graph(part: str) -> str:
    return urls.graph_iri(BASE, part)


def triples_in(*paths: Path) -> int:
    """An independent count: rdflib parses the fixture files itself."""
    merged = rdflib.Graph()
    for path in paths:
        merged.parse(path, format="turtle")
    return len(merged)


def read_dataset(path: Path, rdf_format: str) -> rdflib.Dataset:
    """rdflib as an independent reader of the quad files build writes."""
    dataset = rdflib.Dataset()
    with warnings.catch_warnings():
        # rdflib 7.6's quad parsers use its own deprecated ConjunctiveGraph and default_context;
        # only warnings raised from inside rdflib are ignored, and only here.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"rdflib\.")
        # From text: rdflib's parse(path) for quad formats leaves the file open (ResourceWarning).
        dataset.parse(data=path.read_text(encoding="utf-8"), format=rdf_format)
    return dataset


def dist_bytes(settings: Settings) -> dict[str, bytes]:
    """Every file build wrote, by path relative to dist/ (dumps/ included)."""
    dist = settings.dist_dir
    return {
        str(p.relative_to(dist)): p.read_bytes() for p in sorted(dist.rglob("*")) if p.is_file()
    }


def test_build_writes_the_four_dist_files(settings: Settings) -> None:
    build_dist(settings)
    assert sorted(p.name for p in settings.dist_dir.iterdir()) == sorted(build.DIST_FILES)


def test_each_part_becomes_one_named_graph_with_its_triple_count(settings: Settings) -> None:
    result = build_dist(settings)
    ontology = FIXTURE_TREE / "ontology"
    assert dict(result.graph_triples) == {
        graph("ontology"): triples_in(ontology / "psm.ttl"),
        graph("shapes"): triples_in(*ontology.glob("shapes/*.ttl")),
        graph("plan"): triples_in(FIXTURE_TREE / "data/plan/edition.ttl"),
        graph("territory"): triples_in(FIXTURE_TREE / "data/territory/comuni/milano.ttl"),
    }
    assert result.total_triples == sum(dict(result.graph_triples).values())


def test_each_named_graph_holds_exactly_its_files_triples(settings: Settings) -> None:
    build_dist(settings)
    dataset = read_dataset(settings.dist_dir / build.NQUADS_FILE, "nquads")
    source = rdflib.Graph().parse(FIXTURE_TREE / "data/plan/edition.ttl", format="turtle")
    assert isomorphic(dataset.graph(rdflib.URIRef(graph("plan"))), source)


def test_two_builds_of_the_same_input_are_byte_identical(app_tree: Path, tmp_path: Path) -> None:
    first = load_settings(env={}, root=app_tree, dist_dir=tmp_path / "first")
    second = load_settings(env={}, root=app_tree, dist_dir=tmp_path / "second")
    build_dist(first)
    build_dist(second)
    assert dist_bytes(first) == dist_bytes(second)


def test_nquads_lines_are_sorted_with_canonical_blank_node_labels(settings: Settings) -> None:
    build_dist(settings)
    lines = (settings.dist_dir / build.NQUADS_FILE).read_text(encoding="utf-8").splitlines()
    assert lines == sorted(lines)
    labels = set(re.findall(r"_:(\S+)", "\n".join(lines)))
    # edition.ttl has one blank node, the shapes' [ sh:languageIn ( "en" ) ] two more.
    assert labels == {"c14n0", "c14n1", "c14n2"}


def test_the_content_hash_is_the_sha256_of_the_nquads(settings: Settings) -> None:
    result = build_dist(settings)
    nquads = (settings.dist_dir / build.NQUADS_FILE).read_bytes()
    assert result.content_hash == hashlib.sha256(nquads).hexdigest()
    recorded = (settings.dist_dir / build.HASH_FILE).read_text(encoding="ascii")
    assert recorded == result.content_hash + "\n"


def test_graphs_json_lists_counts_total_and_hash(settings: Settings) -> None:
    result = build_dist(settings)
    document = json.loads((settings.dist_dir / build.GRAPHS_FILE).read_text(encoding="utf-8"))
    assert document == {
        "graphs": dict(result.graph_triples),
        "total": result.total_triples,
        "content_hash": result.content_hash,
    }


def test_trig_holds_the_same_dataset_as_nquads(settings: Settings) -> None:
    build_dist(settings)
    from_nquads = read_dataset(settings.dist_dir / build.NQUADS_FILE, "nquads")
    from_trig = read_dataset(settings.dist_dir / build.TRIG_FILE, "trig")
    names = {g.identifier for g in from_nquads.graphs()} - {from_nquads.default_graph.identifier}
    assert names == {rdflib.URIRef(graph(p)) for p in ("ontology", "shapes", "plan", "territory")}
    for name in names:
        assert isomorphic(from_nquads.graph(name), from_trig.graph(name)), name


def test_trig_declares_the_prefixes_the_inputs_declare(settings: Settings) -> None:
    build_dist(settings)
    trig = (settings.dist_dir / build.TRIG_FILE).read_text(encoding="utf-8")
    assert "@prefix psm: <https://w3id.org/psm/ontology#> ." in trig
    assert "@prefix pillar: <https://w3id.org/psm/milano/id/pillar/2025-2027/> ." in trig


def test_a_syntax_error_names_file_line_and_column_and_keeps_the_previous_dist(
    settings: Settings,
) -> None:
    build_dist(settings)
    before = dist_bytes(settings)
    broken = settings.data_dir / "plan" / "broken.ttl"
    shutil.copy(SYNTAX_ERROR_FILE, broken)
    with pytest.raises(BuildError) as raised:
        build_dist(settings)
    assert raised.value.path == broken
    assert raised.value.line == 6
    assert raised.value.column is not None
    assert str(raised.value).startswith(f"{broken}:6:")
    assert dist_bytes(settings) == before


def test_a_failed_first_build_leaves_no_dist_and_no_temporary_files(settings: Settings) -> None:
    shutil.copy(SYNTAX_ERROR_FILE, settings.data_dir / "plan" / "broken.ttl")
    entries_before = sorted(p.name for p in settings.root.iterdir())
    with pytest.raises(BuildError):
        build_dist(settings)
    assert not settings.dist_dir.exists()
    assert sorted(p.name for p in settings.root.iterdir()) == entries_before


def test_a_rebuild_leaves_no_temporary_directories(settings: Settings) -> None:
    build_dist(settings)
    build_dist(settings)
    assert not [p.name for p in settings.root.iterdir() if p.name.startswith(".psm-kg")]


def test_a_missing_ontology_is_named(settings: Settings) -> None:
    settings.ontology_path.unlink()
    with pytest.raises(BuildError, match="ontology file is missing") as raised:
        build_dist(settings)
    assert raised.value.path == settings.ontology_path


def test_a_turtle_file_directly_in_data_is_refused_with_the_fix(settings: Settings) -> None:
    shutil.copy(FIXTURE_TREE / "data/plan/edition.ttl", settings.data_dir / "loose.ttl")
    with pytest.raises(BuildError, match=r"move it to data/<part>/"):
        build_dist(settings)


def test_a_folder_name_that_cannot_name_a_graph_is_refused(settings: Settings) -> None:
    (settings.data_dir / "plan").rename(settings.data_dir / "my plan")
    with pytest.raises(BuildError, match="cannot name a graph") as raised:
        build_dist(settings)
    assert raised.value.path == settings.data_dir / "my plan"


def test_hidden_folders_and_files_are_skipped(settings: Settings) -> None:
    hidden = settings.data_dir / "plan" / ".checkpoints"
    hidden.mkdir()
    shutil.copy(SYNTAX_ERROR_FILE, hidden / "old.ttl")
    (settings.data_dir / ".trash").mkdir()
    shutil.copy(SYNTAX_ERROR_FILE, settings.data_dir / ".trash" / "old.ttl")
    assert build_dist(settings).total_triples > 0


def test_blank_nodes_with_one_label_in_two_files_stay_two_nodes(settings: Settings) -> None:
    for name in ("a", "b"):
        (settings.data_dir / "plan" / f"{name}.ttl").write_text(
            f'_:x <http://example.org/p> "{name}" .\n', encoding="utf-8"
        )
    build_dist(settings)
    nquads = (settings.dist_dir / build.NQUADS_FILE).read_text(encoding="utf-8")
    subjects = {line.split()[0] for line in nquads.splitlines() if "<http://example.org/p>" in line}
    assert len(subjects) == 2


def test_build_refuses_to_replace_a_directory_it_did_not_write(settings: Settings) -> None:
    settings.dist_dir.mkdir()
    keep = settings.dist_dir / "notes.txt"
    keep.write_text("mine", encoding="utf-8")
    with pytest.raises(BuildError, match="refusing to replace"):
        build_dist(settings)
    assert keep.read_text(encoding="utf-8") == "mine"


def test_the_graph_iris_follow_the_base_iri_setting(app_tree: Path) -> None:
    settings = load_settings(env={}, root=app_tree, base_iri="http://localhost:8000/")
    result = build_dist(settings)
    assert "http://localhost:8000/milano/graph/plan" in dict(result.graph_triples)
