"""The DCAT-AP_IT 2.0 profile: our own SHACL shapes, documented and pinned by examples.

No official DCAT-AP_IT SHACL shapes exist, so psm-kg writes them from the AgID guideline tables
(shared/research/harvest-validate.md §1.2):

- src/psm_kg/profiles/dcat-ap-it/dcat-ap-it-shapes.ttl holds the mandatory (M) rows (sh:Violation),
  dcat-ap-it-shapes-recommended.ttl the recommended (R) rows (sh:Warning); the README says where
  every rule comes from.
- tests/data/dcat-ap-it/valid/*.ttl conform with no result at all; invalid/<Name>.ttl trips
  itsh:<Name> and no other shape. Examples are validated as a harvester reads them: alone, with no
  inference and no ontology merged in (the official OWL's superclasses are in a wrong namespace).
- Every check runs on both engines the validator offers, pySHACL and pyshacl-turbo, which must
  give the same results.

A shape that needs a counter-example is a property shape (the object of sh:property) or a node
shape with a target and a constraint of its own; the node shapes here only gather property shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pyshacl
import pyshacl_turbo
import pytest
from rdflib import RDF, RDFS, BNode, Graph, Namespace, URIRef
from rdflib.namespace import SH
from rdflib.term import Node

from shape_inventory import checked_shapes, shapes_in

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "src" / "psm_kg" / "profiles" / "dcat-ap-it"
README = PROFILE / "README.md"
EXAMPLES = ROOT / "tests" / "data" / "dcat-ap-it"
VALID_EXAMPLES = sorted((EXAMPLES / "valid").glob("*.ttl"))
INVALID_EXAMPLES = sorted((EXAMPLES / "invalid").glob("*.ttl"))

ITSH = Namespace("https://w3id.org/psm/shapes/dcat-ap-it#")
SEVERITY = {
    "dcat-ap-it-shapes.ttl": SH.Violation,
    "dcat-ap-it-shapes-recommended.ttl": SH.Warning,
}
ENGINES: dict[str, Callable[..., Any]] = {
    "pyshacl": pyshacl.validate,
    "pyshacl-turbo": pyshacl_turbo.validate,
}


@cache
def _parse(name: str) -> Graph:
    return Graph().parse(PROFILE / name, format="turtle")


@cache
def _all_shapes() -> Graph:
    merged = Graph()
    for name in SEVERITY:
        merged += _parse(name)
    return merged


def _local(shape: Node) -> str:
    return str(shape).removeprefix(str(ITSH))


def _file_of(shape: Node) -> str:
    (name,) = [name for name in SEVERITY if (shape, None, None) in _parse(name)]
    return name


@cache
def _report(example: Path, engine: str) -> Graph:
    data = Graph().parse(example, format="turtle")
    _, report, _ = ENGINES[engine](
        data, shacl_graph=_all_shapes(), advanced=True, inference="none", allow_warnings=True
    )
    assert isinstance(report, Graph), f"{engine} failed on {example.name}: {report}"
    return report


def _results(report: Graph) -> frozenset[tuple[tuple[str, str], ...]]:
    """Each result as its sorted (predicate, object) pairs; blank nodes (complex paths) as "_"."""
    return frozenset(
        tuple(
            sorted(
                (str(p), "_" if isinstance(o, BNode) else o.n3())
                for p, o in report.predicate_objects(result)
            )
        )
        for result in report.subjects(RDF.type, SH.ValidationResult)
    )


def _source_shapes(report: Graph) -> set[Node]:
    results = report.subjects(RDF.type, SH.ValidationResult)
    return {node for r in results if (node := report.value(r, SH.sourceShape)) is not None}


ALL_SHAPES = sorted(shapes_in(_all_shapes()), key=str)
CHECKED = sorted(checked_shapes(_all_shapes()), key=str)
ENGINE_NAMES = list(ENGINES)


@pytest.mark.parametrize("name", list(SEVERITY))
def test_every_shape_file_parses_and_passes_the_shacl_meta_shapes(name: str) -> None:
    # meta_shacl=True validates the shapes graph against SHACL's own shapes (shacl-shacl).
    conforms, _, text = pyshacl.validate(
        Graph(), shacl_graph=_parse(name), meta_shacl=True, advanced=True
    )
    assert conforms, text
    assert shapes_in(_parse(name)), f"{name} declares no shapes"


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_both_shape_files_together_load_in_every_engine(engine: str) -> None:
    conforms, report, text = ENGINES[engine](
        Graph(), shacl_graph=_all_shapes(), advanced=True, inference="none"
    )
    assert isinstance(report, Graph), text
    assert conforms, text


def test_no_shape_is_defined_in_both_files() -> None:
    first, second = (shapes_in(_parse(name)) for name in SEVERITY)
    assert not first & second, sorted(_local(s) for s in first & second)


@pytest.mark.parametrize("shape", ALL_SHAPES, ids=[_local(s) for s in ALL_SHAPES])
def test_every_shape_is_a_typed_iri_in_the_profile_namespace(shape: Node) -> None:
    g = _all_shapes()
    assert isinstance(shape, URIRef), f"blank-node shape {g.cbd(shape).serialize()}"
    assert str(shape).startswith(str(ITSH)), f"{shape} is outside {ITSH}"
    types = set(g.objects(shape, RDF.type))
    assert types & {SH.NodeShape, SH.PropertyShape}, f"{_local(shape)} is not a typed shape"


@pytest.mark.parametrize("shape", ALL_SHAPES, ids=[_local(s) for s in ALL_SHAPES])
def test_every_shape_has_a_name_a_comment_and_messages_in_english_and_italian(
    shape: Node,
) -> None:
    g = _all_shapes()
    for predicate in (SH.name, SH.message):
        languages = {getattr(m, "language", None) for m in g.objects(shape, predicate)}
        assert {"en", "it"} <= languages, f"{_local(shape)} lacks {predicate.n3()} @en or @it"
    comments = [str(c) for c in g.objects(shape, RDFS.comment)]
    assert comments, f"{_local(shape)} has no rdfs:comment"
    # The comment says where the rule comes from: a row of the AgID DCAT-AP_IT 2.0 guidelines.
    assert any("AgID" in c for c in comments), f"{_local(shape)}'s comment cites no AgID row"


@pytest.mark.parametrize("shape", ALL_SHAPES, ids=[_local(s) for s in ALL_SHAPES])
def test_every_shape_has_one_severity_the_severity_of_its_file(shape: Node) -> None:
    name = _file_of(shape)
    severities = set(_parse(name).objects(shape, SH.severity))
    assert severities == {SEVERITY[name]}, f"{name}: {_local(shape)} is {severities}"


@pytest.mark.parametrize("shape", ALL_SHAPES, ids=[_local(s) for s in ALL_SHAPES])
def test_every_shape_is_named_in_the_readme(shape: Node) -> None:
    assert f"`itsh:{_local(shape)}`" in README.read_text(), f"document itsh:{_local(shape)}"


@pytest.mark.parametrize("shape", CHECKED, ids=[_local(s) for s in CHECKED])
def test_every_shape_has_exactly_one_invalid_example(shape: Node) -> None:
    matches = [p for p in INVALID_EXAMPLES if p.stem == _local(shape)]
    assert len(matches) == 1, f"add tests/data/dcat-ap-it/invalid/{_local(shape)}.ttl to trip it"


@pytest.mark.parametrize("example", INVALID_EXAMPLES, ids=[p.name for p in INVALID_EXAMPLES])
def test_every_invalid_example_names_an_existing_shape(example: Path) -> None:
    assert ITSH[example.stem] in CHECKED, f"{example.name} names no shape of the profile"


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("example", VALID_EXAMPLES, ids=[p.name for p in VALID_EXAMPLES])
def test_every_valid_example_conforms_without_violations_or_warnings(
    example: Path, engine: str
) -> None:
    report = _report(example, engine)
    assert not _source_shapes(report), report.serialize(format="turtle")


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("example", INVALID_EXAMPLES, ids=[p.name for p in INVALID_EXAMPLES])
def test_every_invalid_example_trips_only_its_shape(example: Path, engine: str) -> None:
    report = _report(example, engine)
    text = report.serialize(format="turtle")
    assert _source_shapes(report) == {ITSH[example.stem]}, text
    severities = set(report.objects(None, SH.resultSeverity))
    assert severities == {SEVERITY[_file_of(ITSH[example.stem])]}, text


DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCATAPIT = Namespace("http://dati.gov.it/onto/dcatapit#")
CATALOGUE_NODES = {
    "Catalog": URIRef("https://w3id.org/psm/catalog"),
    "Dataset": URIRef("https://w3id.org/psm/milano/id/dataset/psttm"),
    "Distribution": URIRef("https://w3id.org/psm/milano/id/distribution/psttm-turtle"),
}
# A node of the valid catalogue loses one of its two classes: its -classes shape must catch it.
TYPED_ONCE = [
    pytest.param(node, ns[kind], ITSH[f"{kind}-classes"], id=f"{kind}-without-{prefix}:{kind}")
    for kind, node in CATALOGUE_NODES.items()
    for prefix, ns in (("dcatapit", DCATAPIT), ("dcat", DCAT))
]


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize(("node", "dropped", "shape"), TYPED_ONCE)
def test_a_node_typed_with_only_one_of_its_two_classes_is_a_violation(
    node: URIRef, dropped: URIRef, shape: URIRef, engine: str
) -> None:
    data = Graph().parse(EXAMPLES / "valid" / "catalog.ttl", format="turtle")
    data.remove((node, RDF.type, dropped))
    conforms, report, text = ENGINES[engine](
        data, shacl_graph=_all_shapes(), advanced=True, inference="none", allow_warnings=True
    )
    assert not conforms, text
    assert _source_shapes(report) == {shape}, text


@pytest.mark.parametrize("example", INVALID_EXAMPLES, ids=[p.name for p in INVALID_EXAMPLES])
def test_both_engines_give_the_same_results_for_every_invalid_example(example: Path) -> None:
    reference, turbo = (_results(_report(example, engine)) for engine in ENGINE_NAMES)
    assert reference == turbo, f"only pySHACL: {reference - turbo}\nonly turbo: {turbo - reference}"


def test_there_are_valid_examples_and_counter_examples() -> None:
    assert VALID_EXAMPLES, "no tests/data/dcat-ap-it/valid/*.ttl"
    assert INVALID_EXAMPLES, "no tests/data/dcat-ap-it/invalid/*.ttl"
