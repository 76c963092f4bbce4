"""Profiles: every bundled set of shapes loads in both engines and catches what it should.

The SEMIC and OntoPiA files are copies; SOURCES.md records their origin and SHA-256, checked here
against the files, so "copied unchanged" cannot silently stop being true.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import SH

from psm_kg import profiles
from psm_kg.engines import Engine, run_shacl
from psm_kg.profiles import PROFILES, Profile, ProfileError, get_profile, shapes_graph
from psm_kg.validation import Severity, validate_graph, validate_paths

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "data" / "validation"
CATALOGUE = FIXTURES / "dcat-ap-catalogue.ttl"
DCT_TITLE = "http://purl.org/dc/terms/title"
ENGINES = pytest.mark.parametrize("engine", list(Engine), ids=[e.value for e in Engine])
EVERY_PROFILE = pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))


@EVERY_PROFILE
def test_every_shapes_file_ships_inside_the_package(profile: Profile) -> None:
    assert profile.shape_files
    for path in profile.shape_files:
        assert path.is_file(), path
        assert path.resolve().is_relative_to(ROOT), path
        assert path.is_relative_to(profiles.PROFILES_DIR), path


@EVERY_PROFILE
@ENGINES
def test_every_profile_loads_in_both_engines(profile: Profile, engine: Engine) -> None:
    data = rdflib.Graph().parse(CATALOGUE)

    results = validate_graph(data, shapes_graph(profile), engine=engine)

    assert all(result.shape for result in results)


def test_profile_names_are_their_keys_and_psm_is_the_default() -> None:
    assert [profile.name for profile in PROFILES.values()] == list(PROFILES)
    assert profiles.DEFAULT_PROFILE in PROFILES
    assert [name for name, profile in PROFILES.items() if profile.with_ontology] == ["psm"]


def test_an_unknown_profile_is_an_error_listing_the_profiles() -> None:
    with pytest.raises(ProfileError, match=r"^unknown profile 'dcat': use one of psm, dcat-ap,"):
        get_profile("dcat")


def test_shapes_are_parsed_once_per_profile() -> None:
    profile = get_profile("ndc")

    assert shapes_graph(profile) is shapes_graph(profile)


@ENGINES
def test_validating_does_not_change_the_shared_shapes(engine: Engine) -> None:
    profile = get_profile("ndc")
    before = set(shapes_graph(profile))

    run_shacl(profiles.ontology_graph(), shapes_graph(profile), engine)

    assert set(shapes_graph(profile)) == before


# dcat-ap


@ENGINES
def test_a_minimal_dcat_ap_catalogue_conforms(engine: Engine) -> None:
    report = validate_paths([CATALOGUE], profile=get_profile("dcat-ap"), engine=engine)

    assert report.errors == ()
    assert report.count(Severity.VIOLATION) == 0
    assert report.count(Severity.WARNING) > 0  # recommended properties are left out


@ENGINES
def test_a_dataset_without_dct_title_violates_dcat_ap(tmp_path: Path, engine: Engine) -> None:
    text = CATALOGUE.read_text(encoding="utf-8")
    untitled = tmp_path / "untitled.ttl"
    untitled.write_text(re.sub(r'    dct:title "Piano strategico.*\n', "", text), encoding="utf-8")

    report = validate_paths([untitled], profile=get_profile("dcat-ap"), engine=engine)

    violations = [r for r in report.results if r.severity is Severity.VIOLATION]
    assert [(r.focus_node.rsplit("/", 1)[1], r.path, r.line) for r in violations] == [
        ("psm-kg", DCT_TITLE, 14)
    ]


@pytest.mark.parametrize("untitled", [False, True], ids=["conforming", "untitled"])
def test_dropping_dangling_property_links_changes_no_pyshacl_result(untitled: bool) -> None:
    # SEMIC's dcat-ap-SHACL.ttl links two property shapes it never defines; profiles.py drops
    # the links so that pyshacl-turbo accepts the file. pySHACL, which ignores them, must not
    # see any difference.
    data = rdflib.Graph().parse(CATALOGUE)
    if untitled:
        data.remove((None, rdflib.URIRef(DCT_TITLE), None))
    as_published = rdflib.Graph()
    for path in get_profile("dcat-ap").shape_files:
        as_published.parse(path)
    dangling = {
        (s, o)
        for s, o in as_published.subject_objects(SH.property)
        if (o, None, None) not in as_published
    }
    assert len(dangling) == 2

    # Anonymous shapes get fresh blank-node names in each parse: compare what they report.
    def results(shapes: rdflib.Graph) -> set[tuple[str, str | None, str | None, str | None]]:
        logging.getLogger("pyshacl-validate").disabled = True
        try:
            found = validate_graph(data, shapes, engine=Engine.PYSHACL)
        finally:
            logging.getLogger("pyshacl-validate").disabled = False
        return {(r.focus_node, r.path, r.component, r.value) for r in found}

    assert results(shapes_graph(get_profile("dcat-ap"))) == results(as_published)


# ndc: SHACL-AF targets must fire


@ENGINES
def test_the_psm_ontology_conforms_to_the_ndc_rules(engine: Engine) -> None:
    report = validate_paths(
        [ROOT / "ontology" / "psm.ttl"], profile=get_profile("ndc"), engine=engine
    )

    assert (report.errors, report.results) == ((), ())


NDC_HEADERS = [
    ("ontology.ttl", "<https://e.org/onto> a owl:Ontology .\n"),
    (
        "vocabulary.ttl",
        "<https://e.org/scheme> a skos:ConceptScheme, dcatapit:Dataset .\n",
    ),
]


@pytest.mark.parametrize(("name", "header"), NDC_HEADERS, ids=[n for n, _ in NDC_HEADERS])
@ENGINES
def test_a_header_without_metadata_violates_the_ndc_rules(
    tmp_path: Path, name: str, header: str, engine: Engine
) -> None:
    path = tmp_path / name
    path.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n"
        "@prefix dcatapit: <http://dati.gov.it/onto/dcatapit#> .\n" + header,
        encoding="utf-8",
    )

    report = validate_paths([path], profile=get_profile("ndc"), engine=engine)

    # Without SHACL-AF the sh:SPARQLTarget selects nothing and every header "conforms".
    assert report.count(Severity.VIOLATION) >= 10
    assert {(r.file, r.line) for r in report.results} == {(path, 4)}


# psm


def test_the_bundled_data_conform_to_the_psm_profile() -> None:
    report = validate_paths(
        [ROOT / "ontology" / "psm.ttl", ROOT / "data"], profile=get_profile("psm")
    )

    assert report.errors == ()
    assert report.count(Severity.VIOLATION) == 0


def test_the_psm_profile_is_this_projects_shapes_and_ontology() -> None:
    shapes = sorted((ROOT / "ontology" / "shapes").glob("*.ttl"))

    assert [path.resolve() for path in get_profile("psm").shape_files] == shapes
    assert profiles.ONTOLOGY_FILE.resolve() == ROOT / "ontology" / "psm.ttl"


# SOURCES.md


SOURCES = (profiles.PROFILES_DIR / "SOURCES.md").read_text(encoding="utf-8")
COPIED = sorted(
    path.relative_to(profiles.PROFILES_DIR).as_posix()
    for name in ("dcat-ap", "ndc")
    for path in get_profile(name).shape_files
)


@pytest.mark.parametrize("copied", COPIED)
def test_every_copied_file_is_in_sources_with_its_hash_and_licence(copied: str) -> None:
    row = next((line for line in SOURCES.splitlines() if line.startswith(f"| `{copied}`")), None)
    assert row is not None, f"add {copied} to SOURCES.md"
    digest = hashlib.sha256((profiles.PROFILES_DIR / copied).read_bytes()).hexdigest()
    assert digest in row
    assert "CC-BY 4.0" in row
    assert re.search(r"\b[0-9a-f]{40}\b", row), "the upstream commit"


# The wheel: an installed package validates without this repository.

WHEEL_BUILD_TIMEOUT_S = 600


def test_the_wheel_carries_every_profile_and_works_without_the_repository(tmp_path: Path) -> None:
    # Built from a copy: the links in src/psm_kg/profiles/ point into ontology/, and setuptools
    # writes build/ and *.egg-info next to pyproject.toml.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("src", "ontology"):
        shutil.copytree(
            ROOT / folder,
            source / folder,
            symlinks=True,
            ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"),
        )
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path / "wheel"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=WHEEL_BUILD_TIMEOUT_S,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "wheel").glob("psm_kg-*.whl")
    installed = tmp_path / "installed"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(installed)

    expected = {
        "psm_kg/profiles/SOURCES.md",
        "psm_kg/profiles/psm-ontology.ttl",
        *(
            path.relative_to(ROOT / "src").as_posix()
            for path in (ROOT / "src" / "psm_kg" / "templates").glob("*.html")
        ),
        *(
            path.relative_to(profiles.PROFILES_DIR.parent.parent).as_posix()
            for profile in PROFILES.values()
            for path in profile.shape_files
        ),
    }
    assert expected <= names
    for name in expected:  # copies of what the links point at, not links
        assert (installed / name).read_bytes() == (ROOT / "src" / name).read_bytes(), name

    check = (
        "import psm_kg, psm_kg.profiles as p; print(psm_kg.__file__);"
        "[print(n, len(p.shapes_graph(x))) for n, x in p.PROFILES.items()];"
        "print('ontology', len(p.ontology_graph()))"
    )
    ran = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
    )
    lines = ran.stdout.splitlines()
    assert lines[0].startswith(str(installed))
    counts = dict(line.split() for line in lines[1:])
    assert set(counts) == {*PROFILES, "ontology"}
    assert all(int(count) > 0 for count in counts.values())
