from __future__ import annotations

import pytest

from psm_kg import formats
from psm_kg.formats import FormatKind


@pytest.mark.parametrize(
    ("media_type", "name"),
    [
        ("application/sparql-results+json", "SPARQL JSON"),
        ("application/sparql-results+json; charset=utf-8", "SPARQL JSON"),
        ("application/json", "SPARQL JSON"),
        ("text/turtle", "Turtle"),
        ("Text/Turtle;charset=UTF-8", "Turtle"),
        ("application/n-triples", "N-Triples"),
        ("application/n-quads", "N-Quads"),
        ("application/trig", "TriG"),
    ],
    ids=lambda value: str(value),
)
def test_lookup_by_media_type_ignores_parameters_and_case(media_type: str, name: str) -> None:
    found = formats.by_media_type(media_type)
    assert found is not None
    assert found.name == name


def test_an_unknown_media_type_finds_nothing() -> None:
    assert formats.by_media_type("text/html") is None


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
    media_types = [mt for fmt in formats.FORMATS for mt in fmt.media_types]
    extensions = [fmt.extension for fmt in formats.FORMATS]
    assert len(media_types) == len(set(media_types))
    assert len(extensions) == len(set(extensions))


def test_formats_of_a_kind_keep_the_table_order() -> None:
    assert formats.of_kind(FormatKind.GRAPH) == (formats.TURTLE, formats.N_TRIPLES)
    assert formats.of_kind(FormatKind.DATASET) == (formats.N_QUADS, formats.TRIG)
    assert formats.of_kind(FormatKind.RESULTS) == (formats.SPARQL_JSON,)


def test_every_format_in_the_table_is_one_pyoxigraph_can_write() -> None:
    import pyoxigraph as ox

    for fmt in formats.FORMATS:
        if fmt.kind is FormatKind.RESULTS:
            assert ox.QueryResultsFormat.from_media_type(fmt.media_type) is not None, fmt
        else:
            assert ox.RdfFormat.from_media_type(fmt.media_type) is not None, fmt
