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
