from __future__ import annotations

import pytest

from psm_kg.formats import N_QUADS, N_TRIPLES, SPARQL_JSON, TRIG, TURTLE, Format
from psm_kg.negotiation import NotAcceptable, choose, negotiate, parse_accept

GRAPH = (TURTLE, N_TRIPLES)
RESULTS = (SPARQL_JSON,)
DATASET = (N_QUADS, TRIG)

CASES: list[tuple[str, str | None, tuple[Format, ...], Format]] = [
    ("no header means the server default", None, GRAPH, TURTLE),
    ("an empty header means the server default", "", GRAPH, TURTLE),
    ("a header with no well-formed range means the server default", "garbage", GRAPH, TURTLE),
    ("an exact match", "application/n-triples", GRAPH, N_TRIPLES),
    (
        "parameters other than q are ignored",
        "application/n-triples; charset=utf-8",
        GRAPH,
        N_TRIPLES,
    ),
    ("media types match case-insensitively", "Application/N-Triples", GRAPH, N_TRIPLES),
    ("*/* accepts the server default", "*/*", GRAPH, TURTLE),
    ("type/* matches its type", "application/*", GRAPH, N_TRIPLES),
    ("the higher q wins", "text/turtle;q=0.5, application/n-triples;q=0.9", GRAPH, N_TRIPLES),
    ("equal q goes to server order", "application/n-triples, text/turtle", GRAPH, TURTLE),
    ("q=0 excludes a format", "text/turtle;q=0, */*", GRAPH, N_TRIPLES),
    ("q=0 on the exact type beats */*", "*/*;q=1, text/turtle;q=0", GRAPH, N_TRIPLES),
    (
        "specific beats wildcard in both directions",
        "text/*;q=0.1, text/turtle;q=0.8, */*;q=0.5",
        GRAPH,
        TURTLE,
    ),
    (
        "a browser's Accept gets the default",
        "text/html,application/xhtml+xml,*/*;q=0.8",
        GRAPH,
        TURTLE,
    ),
    ("an alias counts as the format", "application/json", RESULTS, SPARQL_JSON),
    ("an unknown range is skipped", "text/html, application/n-quads", DATASET, N_QUADS),
    (
        "a malformed q skips its range",
        "text/turtle;q=high, application/n-triples",
        GRAPH,
        N_TRIPLES,
    ),
    ("q above 1 skips its range", "text/turtle;q=2, application/n-triples;q=0.1", GRAPH, N_TRIPLES),
    (
        "spaces around separators are fine",
        " application/trig ; q=0.9 ,  application/n-quads;q=0.1",
        DATASET,
        TRIG,
    ),
]


@pytest.mark.parametrize(
    ("accept", "allowed", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_negotiate_picks_the_format(
    accept: str | None, allowed: tuple[Format, ...], expected: Format
) -> None:
    assert negotiate(accept, allowed) == expected


NOT_ACCEPTABLE: list[tuple[str, str, tuple[Format, ...]]] = [
    ("nothing the server has", "text/html", GRAPH),
    ("everything the server has at q=0", "text/turtle;q=0, application/n-triples;q=0", GRAPH),
    ("a wildcard at q=0", "*/*;q=0", GRAPH),
    ("results asked as a graph", "text/turtle", RESULTS),
    ("the wrong type family", "text/*", RESULTS),
]


@pytest.mark.parametrize(
    ("accept", "allowed"),
    [case[1:] for case in NOT_ACCEPTABLE],
    ids=[case[0] for case in NOT_ACCEPTABLE],
)
def test_negotiate_raises_not_acceptable(accept: str, allowed: tuple[Format, ...]) -> None:
    with pytest.raises(NotAcceptable) as raised:
        negotiate(accept, allowed)
    assert raised.value.accept == accept
    assert raised.value.available == allowed


def test_no_allowed_formats_is_not_acceptable_whatever_the_header() -> None:
    with pytest.raises(NotAcceptable):
        negotiate(None, ())


def test_parse_accept_keeps_weights_and_drops_malformed_ranges() -> None:
    ranges = parse_accept("text/turtle;q=0.5, bad, */json, application/*")
    assert [(r.type, r.subtype, r.q) for r in ranges] == [
        ("text", "turtle", 0.5),
        ("application", "*", 1.0),
    ]


CHOICES: list[tuple[str, str | None, tuple[str, ...], tuple[Format, ...], Format]] = [
    ("no format parameter: Accept decides", "application/n-triples", (), GRAPH, N_TRIPLES),
    ("a short name wins over Accept", "application/n-triples", ("ttl",), GRAPH, TURTLE),
    ("a media type wins over Accept", "text/turtle", ("application/n-triples",), GRAPH, N_TRIPLES),
    ("json means SPARQL JSON for results", None, ("json",), RESULTS, SPARQL_JSON),
    ("names are case-insensitive", None, ("NT",), GRAPH, N_TRIPLES),
    ("an unknown name leaves it to Accept", "application/n-triples", ("yaml",), GRAPH, N_TRIPLES),
    ("the first name that fits wins", None, ("csv", "nt", "ttl"), GRAPH, N_TRIPLES),
    (
        "a comma-separated list is read in order",
        None,
        ("x/y,application/n-triples",),
        GRAPH,
        N_TRIPLES,
    ),
]


@pytest.mark.parametrize(
    ("accept", "names", "allowed", "expected"),
    [case[1:] for case in CHOICES],
    ids=[case[0] for case in CHOICES],
)
def test_choose_lets_a_format_parameter_override_accept(
    accept: str | None, names: tuple[str, ...], allowed: tuple[Format, ...], expected: Format
) -> None:
    assert choose(accept, names, allowed) is expected


def test_choose_refuses_a_format_of_another_kind() -> None:
    with pytest.raises(NotAcceptable):
        choose(None, ("csv",), GRAPH)
