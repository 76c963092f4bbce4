from __future__ import annotations

import pytest

from psm_kg import formats
from psm_kg.formats import FormatKind


@pytest.mark.parametrize(
    ("media_type", "name"),
    [
        ("application/sparql-results+json", "SPARQL JSON"),
        ("application/sparql-results+json; charset=utf-8", "SPARQL JSON"),
        ("text/turtle", "Turtle"),
        ("Text/Turtle;charset=UTF-8", "Turtle"),
        ("application/x-turtle", "Turtle"),
        ("application/n-triples", "N-Triples"),
        ("application/ld+json", "JSON-LD"),
        ("application/rdf+xml", "RDF/XML"),
        ("application/n-quads", "N-Quads"),
        ("application/trig", "TriG"),
        ("text/html; charset=utf-8", "HTML"),
    ],
    ids=lambda value: str(value),
)
def test_lookup_by_media_type_ignores_parameters_and_case(media_type: str, name: str) -> None:
    found = formats.by_media_type(media_type)
    assert found is not None
    assert found.name == name


def test_a_canonical_media_type_wins_over_another_formats_alias() -> None:
    # application/json is the JSON document; SPARQL JSON answers to it only in negotiation.
    found = formats.by_media_type("application/json")
    assert found is formats.JSON
    assert "application/json" in formats.SPARQL_JSON.aliases


def test_an_unknown_media_type_finds_nothing() -> None:
    assert formats.by_media_type("image/png") is None


@pytest.mark.parametrize(
    ("extension", "name"),
    [
        ("ttl", "Turtle"),
        (".nt", "N-Triples"),
        ("nq", "N-Quads"),
        ("TRIG", "TriG"),
        ("srj", "SPARQL JSON"),
    ],
    ids=lambda value: str(value),
)
def test_lookup_by_extension_accepts_a_leading_dot_and_any_case(extension: str, name: str) -> None:
    found = formats.by_extension(extension)
    assert found is not None
    assert found.name == name


def test_media_types_and_extensions_are_unique_in_the_table() -> None:
    canonical = [fmt.media_type for fmt in formats.FORMATS]
    aliases = [alias for fmt in formats.FORMATS for alias in fmt.aliases]
    extensions = [fmt.extension for fmt in formats.FORMATS]
    assert len(canonical) == len(set(canonical))
    assert len(aliases) == len(set(aliases))
    assert len(extensions) == len(set(extensions))


def test_an_alias_never_names_another_format_of_the_same_kind() -> None:
    # A router offers formats of one kind; within it, every media type must name one format.
    for kind in FormatKind:
        media_types = [mt for fmt in formats.of_kind(kind) for mt in fmt.media_types]
        assert len(media_types) == len(set(media_types)), kind


def test_formats_of_a_kind_keep_the_table_order() -> None:
    assert formats.of_kind(FormatKind.GRAPH) == (
        formats.TURTLE,
        formats.N_TRIPLES,
        formats.JSON_LD,
        formats.RDF_XML,
    )
    assert formats.of_kind(FormatKind.DATASET) == (formats.N_QUADS, formats.TRIG)
    assert formats.of_kind(FormatKind.RESULTS) == (
        formats.SPARQL_JSON,
        formats.SPARQL_XML,
        formats.SPARQL_CSV,
        formats.SPARQL_TSV,
    )
    assert formats.of_kind(FormatKind.DOCUMENT) == (formats.JSON, formats.HTML)


def test_every_rdf_format_in_the_table_is_one_pyoxigraph_can_write() -> None:
    import pyoxigraph as ox

    for fmt in formats.FORMATS:
        if fmt.kind is FormatKind.DOCUMENT:
            continue  # not RDF: the routers that offer it write it themselves
        if fmt.kind is FormatKind.RESULTS:
            assert ox.QueryResultsFormat.from_media_type(fmt.media_type) is not None, fmt
        else:
            assert ox.RdfFormat.from_media_type(fmt.media_type) is not None, fmt
