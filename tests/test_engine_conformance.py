"""pyshacl-turbo gives pySHACL's results: the condition on which psm-kg validates with it.

Two corpora, each run through both engines with the options psm-kg uses (advanced=True,
inference none):

- every ontology/examples/{valid,invalid}/*.ttl, merged with ontology/psm.ttl, against all of
  ontology/shapes/*.ttl (allow_warnings=True, as `psm-kg validate`);
- the W3C SHACL test suite as shipped in pySHACL's source distribution for the installed pySHACL
  version (test/resources/sht_tests/core/**, 98 tests, and sparql/**, 23 tests), with plain SHACL
  conformance (warnings do not conform). Both engines must agree with each other, and each is
  also checked against the manifest's expected result.

A run's outcome is its conformance and its results, each result being (focus node, path, value,
source shape, severity, constraint component) with blank nodes compared as blank. The results are
compared as a multiset, which is stricter than a set: a duplicated result counts. A run that fails
(sh:Failure in the suite's terms) or raises is an outcome of its own. Known differences are
xfail(strict=True) with the reason, so that a fix is noticed. Messages are not compared: where a
shape has no sh:message the engines word their own (all psm shapes have messages).

`make test` downloads pySHACL's sdist into .cache/pyshacl-sdist/ (`make pyshacl-sdist`); without
it the W3C tests skip locally and fail under CI=true.

pySHACL takes about half a second per example (some 50 s for all of them), pyshacl-turbo a
thirtieth of that. So pySHACL's outcomes on the examples are computed by a process pool and kept
in .cache/engine-conformance/, one file per example, named by a hash of everything the outcome
depends on: the bytes of the ontology, the shapes and the example, the options, and the pySHACL,
rdflib and Python versions. Any change recomputes; delete the folder to recompute everything.
pyshacl-turbo always runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import sys
import tarfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from typing import Any

import pyshacl
import pyshacl_turbo
import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, SH
from rdflib.term import BNode, Node

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY = ROOT / "ontology" / "psm.ttl"
SHAPES = sorted((ROOT / "ontology" / "shapes").glob("*.ttl"))
EXAMPLES = sorted((ROOT / "ontology" / "examples").glob("*/*.ttl"))
PYSHACL_VERSION = version("pyshacl")
SDIST = ROOT / ".cache" / "pyshacl-sdist" / f"pyshacl-{PYSHACL_VERSION}.tar.gz"
SUITE = f"pyshacl-{PYSHACL_VERSION}/test/resources/sht_tests"
PARTS = {"core": 98, "sparql": 23}  # tests per part of the suite, as pySHACL ships it
REFERENCE_CACHE = ROOT / ".cache" / "engine-conformance"  # pySHACL's outcomes on the examples
CACHE_FORMAT = 2  # bump when Outcome or its file format changes

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
SHT = Namespace("http://www.w3.org/ns/shacl-test#")
FAKE_ROOT = "file:///sht_tests/"  # base IRI for reading the manifests inside the tarball

ResultKey = tuple[str | None, ...]


@dataclass(frozen=True)
class Outcome:
    """What a run gave: a report (conforms, results) or a failure/error (kind, no results)."""

    kind: str  # "report", "failure" (sh:Failure: the engine refused the input) or "error: <Type>"
    conforms: bool | None = None
    results: tuple[ResultKey, ...] = ()  # sorted: a multiset, so duplicates count too

    def __str__(self) -> str:
        if self.kind != "report":
            return self.kind
        lines = [f"conforms={self.conforms}, {len(self.results)} results"]
        lines += [f"  {result}" for result in self.results]
        return "\n".join(lines)


def _key(node: Node | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, BNode):
        return "_:"
    return node.n3()


def _results(report: Graph, node: Node) -> tuple[ResultKey, ...]:
    keys = (
        (
            _key(report.value(result, SH.focusNode)),
            _key(report.value(result, SH.resultPath)),
            _key(report.value(result, SH.value)),
            _key(report.value(result, SH.sourceShape)),
            _key(report.value(result, SH.resultSeverity)),
            _key(report.value(result, SH.sourceConstraintComponent)),
        )
        for result in report.objects(node, SH.result)
    )
    return tuple(sorted(keys, key=str))


def _outcome_of(run: Any) -> Outcome:
    try:
        conforms, report, _text = run()
    except Exception as error:  # an engine that raises is an outcome to compare, not a crash
        return Outcome(f"error: {type(error).__name__}")
    if not isinstance(report, Graph):
        return Outcome("failure")  # both engines return the failure in place of the report
    reports = list(report.subjects(RDF.type, SH.ValidationReport))
    if len(reports) != 1:
        return Outcome(f"error: {len(reports)} validation reports")
    return Outcome("report", bool(conforms), _results(report, reports[0]))


def _validate(engine: str, data: Graph, shapes: Graph, *, allow_warnings: bool) -> Outcome:
    module = pyshacl if engine == "pyshacl" else pyshacl_turbo
    return _outcome_of(
        lambda: module.validate(
            data,
            shacl_graph=shapes,
            advanced=True,
            inference="none",
            allow_warnings=allow_warnings,
            meta_shacl=False,
        )
    )


# -------------------------------------------------------------------------------------------------
# The ontology's examples
# -------------------------------------------------------------------------------------------------


@cache
def _shapes_graph() -> Graph:
    shapes = Graph()
    for path in SHAPES:
        shapes.parse(path, format="turtle")
    return shapes


EXAMPLE_OPTIONS = "advanced=True, inference=none, allow_warnings=True, meta_shacl=False"


def _example_outcome(engine: str, example: str) -> Outcome:
    """One example, merged with the ontology, against every shapes file (EXAMPLE_OPTIONS)."""
    data = Graph().parse(ONTOLOGY, format="turtle")
    data.parse(example, format="turtle")
    return _validate(engine, data, _shapes_graph(), allow_warnings=True)


def _pyshacl_example_outcome(example: str) -> Outcome:  # module level: run in a worker process
    return _example_outcome("pyshacl", example)


def _reference_file(example: Path) -> Path:
    """Where pySHACL's outcome for ``example`` is kept: named by everything it depends on."""
    digest = hashlib.sha256(
        f"format {CACHE_FORMAT}, pyshacl {PYSHACL_VERSION}, rdflib {version('rdflib')}, "
        f"{sys.version_info[:2]}, {EXAMPLE_OPTIONS}".encode()
    )
    for path in (ONTOLOGY, *SHAPES, example):
        digest.update(f"\0{path.name}\0".encode())
        digest.update(path.read_bytes())
    return REFERENCE_CACHE / f"{digest.hexdigest()}.json"


def _load_reference(file: Path) -> Outcome | None:
    try:
        saved = json.loads(file.read_text(encoding="utf-8"))
        results = tuple(sorted((tuple(result) for result in saved["results"]), key=str))
        return Outcome(saved["kind"], saved["conforms"], results)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save_reference(file: Path, outcome: Outcome) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    saved = {
        "kind": outcome.kind,
        "conforms": outcome.conforms,
        "results": outcome.results,
    }
    partial = file.with_name(f"{file.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(saved, indent=1), encoding="utf-8")
    partial.replace(file)  # atomic: a concurrent run reads the old file or the new one


@pytest.fixture(scope="session")
def pyshacl_example_outcomes() -> dict[str, Outcome]:
    """pySHACL's outcome for every example: from the cache, else computed in parallel."""
    outcomes, missing = {}, []
    for path in EXAMPLES:
        cached = _load_reference(_reference_file(path))
        if cached is None:
            missing.append(str(path))
        else:
            outcomes[str(path)] = cached
    if missing:
        workers = max(1, min(os.cpu_count() or 1, 8, len(missing)))
        context = multiprocessing.get_context("spawn")  # no fork of a threaded process
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for name, outcome in zip(
                missing, pool.map(_pyshacl_example_outcome, missing), strict=True
            ):
                outcomes[name] = outcome
                _save_reference(_reference_file(Path(name)), outcome)
    return outcomes


def test_there_are_examples_to_compare() -> None:
    assert sum(1 for path in EXAMPLES if path.parent.name == "valid") >= 5
    assert sum(1 for path in EXAMPLES if path.parent.name == "invalid") >= 50


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"{path.parent.name}/{path.stem}" for path in EXAMPLES]
)
def test_turbo_gives_pyshacl_results_on_every_example(
    example: Path, pyshacl_example_outcomes: dict[str, Outcome]
) -> None:
    reference = pyshacl_example_outcomes[str(example)]
    turbo = _example_outcome("turbo", str(example))
    assert reference.kind == "report", f"pySHACL: {reference}"
    assert turbo == reference, f"pyshacl-turbo:\n{turbo}\npySHACL:\n{reference}"
    # Not vacuous: a counter-example trips its shape; a valid example has no violation.
    shapes = {result[3] for result in reference.results}
    severities = {result[4] for result in reference.results}
    if example.parent.name == "invalid":
        assert f"<https://w3id.org/psm/shapes#{example.stem}>" in shapes
    else:
        assert SH.Violation.n3() not in severities


# -------------------------------------------------------------------------------------------------
# The W3C SHACL test suite, from pySHACL's sdist
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShtCase:
    """One sht:Validate entry: the file holding it (below sht_tests/) and its IRI there."""

    test_id: str  # e.g. core/node/class-001
    file: str  # e.g. core/node/class-001.ttl
    entry: str  # the entry's IRI relative to the file's folder, e.g. class-001


def _read_manifests(read: Any, start: str) -> Iterator[ShtCase]:
    """Walk mf:include from ``start`` (a path below sht_tests/), yielding every sht:Validate."""
    pending, seen = [start], set()
    for _ in range(1000):  # the suite has about 140 files; a bound against include cycles
        if not pending:
            return
        file = pending.pop(0)
        if file in seen:
            continue
        seen.add(file)
        folder = str(PurePosixPath(file).parent)
        base = FAKE_ROOT + file
        graph = Graph().parse(data=read(file), format="turtle", publicID=base)
        for manifest in graph.subjects(RDF.type, MF.Manifest):
            for include in graph.objects(manifest, MF.include):
                pending.append(str(include).removeprefix(FAKE_ROOT))
            for entries in graph.objects(manifest, MF.entries):
                for entry in graph.items(entries):
                    if (entry, RDF.type, SHT.Validate) in graph:
                        name = str(entry).removeprefix(f"{FAKE_ROOT}{folder}/")
                        yield ShtCase(f"{folder}/{name}", file, name)
    raise RuntimeError("the manifests include more files than any version of the suite has")


@contextmanager
def _quiet_rdflib() -> Iterator[None]:
    """rdflib logs an error for each ill-typed literal; the suite has them on purpose."""
    logger = logging.getLogger("rdflib.term")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@cache
def _sht_cases() -> tuple[ShtCase, ...]:
    """The suite's tests, read from the tarball without extracting it (at collection time)."""
    if not SDIST.is_file():
        return ()
    with tarfile.open(SDIST) as archive, _quiet_rdflib():

        def read(file: str) -> bytes:
            member = archive.extractfile(f"{SUITE}/{file}")
            if member is None:
                raise FileNotFoundError(file)
            return member.read()

        return tuple(
            case for part in PARTS for case in _read_manifests(read, f"{part}/manifest.ttl")
        )


# Where the engines part from each other or from the manifest: (test id, check) -> reason.
_ONE_IS_TRUE = (
    'both engines read sh:uniqueLang "1"^^xsd:boolean as true and report the duplicate @en; '
    'the suite expects the constraint to be ignored, since only "true" is in the spec'
)
_SHAPES_GRAPH = (
    "pySHACL raises NotImplementedError for the pre-bound $shapesGraph and $currentShape; "
    "pyshacl-turbo supports them and gives the suite's expected result"
)
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    ("core/property/uniqueLang-002", "pyshacl equals manifest"): _ONE_IS_TRUE,
    ("core/property/uniqueLang-002", "turbo equals manifest"): _ONE_IS_TRUE,
    ("sparql/pre-binding/shapesGraph-001", "turbo equals pyshacl"): _SHAPES_GRAPH,
    ("sparql/pre-binding/shapesGraph-001", "pyshacl equals manifest"): _SHAPES_GRAPH,
}


def _missing_sdist() -> None:
    message = (
        f"pySHACL's sdist is not in {SDIST.parent.relative_to(ROOT)}/: "
        "`make test` (or `make pyshacl-sdist`) fetches it"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


CHECKS = ("turbo equals pyshacl", "pyshacl equals manifest", "turbo equals manifest")


def _sht_params() -> list[Any]:
    cases = _sht_cases()
    if not cases:
        return [pytest.param(None, check, id=f"sdist-missing-{check}") for check in CHECKS]
    params = []
    for case in cases:
        for check in CHECKS:
            reason = KNOWN_DIFFERENCES.get((case.test_id, check))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(case, check, marks=marks, id=f"{case.test_id}-{check}"))
    return params


@pytest.fixture(scope="session")
def suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sht_tests/ extracted from the sdist into a temporary directory."""
    if not SDIST.is_file():
        _missing_sdist()
    target = tmp_path_factory.mktemp("pyshacl-sdist")
    with tarfile.open(SDIST) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(f"{SUITE}/")]
        archive.extractall(target, members=members, filter="data")
    return target / SUITE


def _sht_graph(suite_dir: Path, ref: Node) -> Graph:
    """The graph a test names (sht:dataGraph/sht:shapesGraph): a file of the suite."""
    path = Path(str(ref).removeprefix("file://"))
    if not path.is_relative_to(suite_dir):
        raise ValueError(f"{ref} is outside the suite")
    return _parse(path, str(ref))


def _parse(path: Path, base: str) -> Graph:
    with _quiet_rdflib():
        return Graph().parse(path, format="turtle", publicID=base)


@cache
def _sht_run(suite_dir: Path, case: ShtCase, engine: str) -> Outcome:
    path = suite_dir / case.file
    graph = _parse(path, path.as_uri())
    entry = URIRef(f"{path.parent.as_uri()}/{case.entry}")
    action = graph.value(entry, MF.action)
    data, shapes = graph.value(action, SHT.dataGraph), graph.value(action, SHT.shapesGraph)
    assert data is not None, f"{case.test_id} has no sht:dataGraph"
    assert shapes is not None, f"{case.test_id} has no sht:shapesGraph"
    # Fresh graphs per run: neither engine may see what the other did to its input.
    return _validate(
        engine, _sht_graph(suite_dir, data), _sht_graph(suite_dir, shapes), allow_warnings=False
    )


def _expected(suite_dir: Path, case: ShtCase) -> Outcome:
    path = suite_dir / case.file
    graph = _parse(path, path.as_uri())
    entry = URIRef(f"{path.parent.as_uri()}/{case.entry}")
    result = graph.value(entry, MF.result)
    if result == SHT.Failure:
        return Outcome("failure")
    assert result is not None, f"{case.test_id} has no mf:result"
    conforms = graph.value(result, SH.conforms)
    assert isinstance(conforms, Literal), f"{case.test_id} has no sh:conforms"
    return Outcome("report", bool(conforms.toPython()), _results(graph, result))


def test_the_suite_has_the_number_of_tests_pyshacl_ships() -> None:
    if not _sht_cases():
        _missing_sdist()
    counts = {part: sum(1 for c in _sht_cases() if c.file.startswith(f"{part}/")) for part in PARTS}
    assert counts == PARTS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Here rather than in a decorator: importing this module (as the pool's workers do) must
    # not read the tarball.
    if metafunc.function is test_turbo_and_pyshacl_agree_on_the_w3c_shacl_test:
        metafunc.parametrize(("case", "check"), _sht_params())


def test_turbo_and_pyshacl_agree_on_the_w3c_shacl_test(
    case: ShtCase | None, check: str, suite_dir: Path
) -> None:
    assert case is not None  # without the sdist, suite_dir has skipped or failed already
    turbo, reference = _sht_run(suite_dir, case, "turbo"), _sht_run(suite_dir, case, "pyshacl")
    if check == "turbo equals pyshacl":
        assert turbo == reference, f"pyshacl-turbo:\n{turbo}\npySHACL:\n{reference}"
        return
    actual = reference if check.startswith("pyshacl") else turbo
    expected = _expected(suite_dir, case)
    if expected.kind == "failure":  # sht:Failure: any refusal will do, a report will not
        assert actual.kind != "report", f"expected a failure, got:\n{actual}"
    else:
        assert actual == expected, f"got:\n{actual}\nexpected:\n{expected}"
