from __future__ import annotations

import pytest

from psm_kg import urls

BASE = "https://w3id.org/psm/"


def test_data_iris_live_under_milano_id() -> None:
    assert urls.data_base(BASE) == "https://w3id.org/psm/milano/id/"


def test_the_ontology_namespace_is_a_hash_namespace_under_the_base() -> None:
    assert urls.ontology_namespace(BASE) == "https://w3id.org/psm/ontology#"


@pytest.mark.parametrize(
    ("part", "iri"),
    [
        ("ontology", "https://w3id.org/psm/milano/graph/ontology"),
        ("shapes", "https://w3id.org/psm/milano/graph/shapes"),
        ("psttm-2025-2027", "https://w3id.org/psm/milano/graph/psttm-2025-2027"),
        ("territory", "https://w3id.org/psm/milano/graph/territory"),
    ],
    ids=lambda value: str(value),
)
def test_each_part_names_one_graph_under_milano_graph(part: str, iri: str) -> None:
    assert urls.graph_iri(BASE, part) == iri


def test_the_base_iri_is_a_setting_not_a_constant() -> None:
    assert (
        urls.graph_iri("http://localhost:8000/", "pnrr")
        == "http://localhost:8000/milano/graph/pnrr"
    )


@pytest.mark.parametrize(
    "part", ["", "two words", "a/b", "-leading-dash", "è-accent", "../up"], ids=repr
)
def test_a_folder_name_that_cannot_be_an_iri_segment_is_refused(part: str) -> None:
    with pytest.raises(urls.InvalidPartName, match="kebab-case"):
        urls.graph_iri(BASE, part)


# --- the server's own URLs for the linked-data pages ---------------------------------------------


@pytest.mark.parametrize(
    ("path", "iri"),
    [
        ("pillar/2025-2027/sostenibilita", f"{BASE}milano/id/pillar/2025-2027/sostenibilita"),
        ("comune/015146", f"{BASE}milano/id/comune/015146"),
        ("plan/psttm", f"{BASE}milano/id/plan/psttm"),
        ("", None),
        ("pillar//x", None),
        ("pillar/../x", None),
        ("pillar/./x", None),
        ("pillar/x/", None),
        ("pillar/a b", None),
        ("pillar/x>", None),
        ('pillar/x"', None),
        ("pillar/{x}", None),
        ("pillar/.hidden", None),
        ("a" * 513, None),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_server_path_denotes_a_data_iri_only_when_it_is_a_clean_reference(
    path: str, iri: str | None
) -> None:
    assert urls.data_iri(BASE, path) == iri


@pytest.mark.parametrize(
    ("iri", "extension", "page"),
    [
        (f"{BASE}milano/id/pillar/2025-2027/x", None, "/milano/doc/pillar/2025-2027/x"),
        (f"{BASE}milano/id/pillar/2025-2027/x", "ttl", "/milano/doc/pillar/2025-2027/x.ttl"),
        (f"{BASE}ontology", None, "/ontology"),
        (f"{BASE}ontology", "jsonld", "/ontology.jsonld"),
        (f"{BASE}ontology#Pillar", None, "/ontology#Pillar"),
        (f"{BASE}ontology#", None, None),
        (f"{BASE}shapes#Pillar-label-it", None, "/shapes#Pillar-label-it"),
        (f"{BASE}milano/graph/pnrr", None, None),
        ("http://www.wikidata.org/entity/Q490", None, None),
        (f"{BASE}milano/id/pillar/a b", None, None),
    ],
    ids=lambda value: str(value),
)
def test_an_iri_has_a_page_here_only_when_this_server_describes_it(
    iri: str, extension: str | None, page: str | None
) -> None:
    assert urls.page_path(BASE, iri, extension) == page


@pytest.mark.parametrize(
    ("path", "split"),
    [
        ("pillar/x.ttl", ("pillar/x", "ttl")),
        ("pillar/x.html", ("pillar/x", "html")),
        ("pillar/x", ("pillar/x", None)),
        ("pillar/x.exe", ("pillar/x.exe", None)),
        ("pillar/x.ttl.ttl", ("pillar/x.ttl", "ttl")),
        ("a.ttl/x", ("a.ttl/x", None)),
    ],
    ids=lambda value: str(value),
)
def test_only_a_known_extension_is_split_off(path: str, split: tuple[str, str | None]) -> None:
    assert urls.split_extension(path, ("html", "ttl", "jsonld", "rdf", "nt")) == split


def test_references_round_trip_between_iris_and_paths() -> None:
    iri = urls.data_iri(BASE, "driver/2025-2027/lavoro")
    assert iri is not None
    reference = urls.reference_of(BASE, iri)
    assert reference == "driver/2025-2027/lavoro"
    assert urls.type_of(reference) == "driver"
    assert urls.doc_path(reference, "nt") == "/milano/doc/driver/2025-2027/lavoro.nt"
    assert urls.id_path(reference) == "/milano/id/driver/2025-2027/lavoro"
    assert urls.type_index_path("driver") == "/milano/doc/driver/"
    assert urls.reference_of(BASE, "https://example.org/milano/id/x") is None
