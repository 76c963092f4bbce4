"""Reading SPARQL text before the engine: the query form, and the endpoints SERVICE names."""

from __future__ import annotations

import pytest

from psm_kg.sparql_text import (
    QueryForm,
    dataset_clauses,
    has_dataset_clause,
    masked,
    query_form,
    service_targets,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT * {}", QueryForm.SELECT),
        ("  select distinct ?s {}", QueryForm.SELECT),
        ("PREFIX ex: <http://e/> BASE <http://b/> ASK {}", QueryForm.ASK),
        ("# CONSTRUCT in a comment\nDESCRIBE <http://e/x>", QueryForm.DESCRIBE),
        ("PREFIX : <http://e/select/>\nCONSTRUCT WHERE { ?s ?p ?o }", QueryForm.CONSTRUCT),
        ("PREFIX ask: <http://e/>\nSELECT * {}", QueryForm.SELECT),
        ("INSERT DATA { <a:s> <a:p> <a:o> }", None),
        ("SELECTED * {}", None),
        ("", None),
        ("<http://e/> SELECT", None),
    ],
    ids=[
        "select",
        "lower case and blanks",
        "after a prologue",
        "after a comment",
        "empty prefix whose IRI holds a keyword",
        "prefix named like a keyword",
        "update",
        "longer word",
        "empty",
        "no prologue keyword",
    ],
)
def test_the_query_form_is_the_first_keyword_after_the_prologue(
    text: str, expected: QueryForm | None
) -> None:
    assert query_form(text) is expected


def test_masking_keeps_every_offset() -> None:
    text = 'SELECT * { ?s <http://x/SERVICE> "a \\" SERVICE" } # SERVICE\nLIMIT 1'
    blanked = masked(text)
    assert len(blanked) == len(text)
    assert "SERVICE" not in blanked
    assert blanked.index("LIMIT") == text.index("LIMIT")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT * { SERVICE <http://a/sparql> { ?s ?p ?o } }", ["http://a/sparql"]),
        (
            "SELECT * { SERVICE SILENT <http://a/> {} SERVICE <http://b/> {} }",
            ["http://a/", "http://b/"],
        ),
        ("PREFIX ep: <http://a/> SELECT * { SERVICE ep:sparql { } }", ["http://a/sparql"]),
        ("PREFIX : <http://a/> SELECT * { SERVICE :q { } }", ["http://a/q"]),
        ("SELECT * { SERVICE ?endpoint { } }", [None]),
        ("SELECT * { SERVICE unknown:x { } }", [None]),
        ('SELECT * { ?s ?p "SERVICE <http://a/>" }', []),
    ],
    ids=[
        "IRI",
        "two, one SILENT",
        "prefixed name",
        "empty prefix",
        "variable",
        "undeclared",
        "none",
    ],
)
def test_service_targets_are_read_from_iris_and_prefixed_names(
    text: str, expected: list[str | None]
) -> None:
    assert service_targets(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT * FROM <http://g/> { ?s ?p ?o }", True),
        ("SELECT * FROM NAMED <http://g/> { GRAPH ?g { ?s ?p ?o } }", True),
        ("SELECT ?from { ?from ex:from <http://e/FROM> }", False),
        ("SELECT * { ?s ?p 'FROM' }", False),
    ],
    ids=["FROM", "FROM NAMED", "variable and name", "literal"],
)
def test_dataset_clauses_are_recognised_only_as_keywords(text: str, expected: bool) -> None:
    assert has_dataset_clause(text) is expected


@pytest.mark.parametrize(
    ("text", "default", "named"),
    [
        ("SELECT * FROM <http://g/a> { ?s ?p ?o }", ("http://g/a",), ()),
        (
            "PREFIX g: <http://g/> SELECT * FROM g:a from named g:b FROM NAMED <http://g/c> {}",
            ("http://g/a",),
            ("http://g/b", "http://g/c"),
        ),
        ("SELECT * { ?s ?p 'FROM <http://g/x>' } # FROM <http://g/y>", (), ()),
    ],
    ids=["IRI", "prefixed names and NAMED", "in a literal and a comment"],
)
def test_dataset_clauses_give_their_graphs_and_can_be_taken_out(
    text: str, default: tuple[str, ...], named: tuple[str, ...]
) -> None:
    clauses = dataset_clauses(text)
    assert clauses is not None
    assert (clauses.default_graphs, clauses.named_graphs) == (default, named)
    removed = clauses.removed_from(text)
    assert len(removed) == len(text)
    assert not has_dataset_clause(removed)
    assert removed.split("{")[1:] == text.split("{")[1:]


@pytest.mark.parametrize(
    "text",
    ["SELECT * FROM <a> {}", "SELECT * FROM x:a {}", "SELECT * FROM ?g {}"],
    ids=["relative IRI", "undeclared prefix", "not a graph name"],
)
def test_a_dataset_clause_that_cannot_be_resolved_gives_none(text: str) -> None:
    assert dataset_clauses(text) is None
