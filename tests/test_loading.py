"""Reading RDF files: every problem is a located SourceError, and subjects keep their lines."""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import pytest
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF
from rdflib.term import Node

from psm_kg.loading import (
    MIN_FILES_PER_PROCESS_POOL,
    RDF_SUFFIXES,
    LoadedFile,
    SourceError,
    expand_paths,
    load_bytes,
    load_files,
)
from psm_kg.turtle_index import MAX_NESTING

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "data" / "validation"
RDF_XMLNS = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
RDF_XML_ONE_TRIPLE = (
    f'<?xml version="1.0"?>\n<rdf:RDF {RDF_XMLNS} xmlns:e="https://e/">\n'
    ' <rdf:Description rdf:about="https://e/a"><e:b rdf:resource="https://e/c"/></rdf:Description>\n'
    "</rdf:RDF>\n"
).encode()


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (SourceError(Path("a.ttl"), 12, 7, "why"), "a.ttl:12:7: why"),
        (SourceError(Path("a.ttl"), 12, None, "why"), "a.ttl:12: why"),
        (SourceError(Path("a.ttl"), None, None, "why"), "a.ttl: why"),
        (SourceError(Path("a.ttl"), None, 7, "why"), "a.ttl: why"),
    ],
    ids=["line-and-column", "line-only", "no-position", "column-without-line"],
)
def test_source_error_text_omits_unknown_parts(error: SourceError, expected: str) -> None:
    assert str(error) == expected


def test_rdf_suffixes_are_the_triple_formats() -> None:
    assert {".ttl", ".nt", ".n3", ".jsonld", ".rdf", ".owl", ".xml"} == RDF_SUFFIXES


def test_directory_expands_to_its_rdf_files_recursively_and_sorted(tmp_path: Path) -> None:
    for name in ["b.ttl", "a/z.nt", "a/m.jsonld", "notes.md", "a/.hidden.ttl", ".git/x.ttl"]:
        write(tmp_path / name, "")

    files, errors = expand_paths([tmp_path])

    assert errors == []
    assert files == [tmp_path / "a" / "m.jsonld", tmp_path / "a" / "z.nt", tmp_path / "b.ttl"]


def test_a_file_named_twice_is_listed_once(tmp_path: Path) -> None:
    data = write(tmp_path / "x.ttl", "")

    files, errors = expand_paths([data, tmp_path, data])

    assert (files, errors) == ([data], [])


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        (lambda tmp: tmp / "missing.ttl", "no such file or directory"),
        (lambda tmp: write(tmp / "empty" / "README.md", "").parent, "no RDF files here"),
        (lambda tmp: write(tmp / "notes.txt", "hello"), "not an RDF file (expected one of .ttl"),
        (lambda tmp: write(tmp / "image.png", b"\x89PNG\r\n\x1a\n\0"), "not an RDF file"),
    ],
    ids=["missing-path", "directory-without-rdf", "text-file", "binary-file"],
)
def test_unusable_path_is_a_source_error_naming_it(
    tmp_path: Path, make_path: object, message: str
) -> None:
    assert callable(make_path)
    path = make_path(tmp_path)

    files, errors = expand_paths([path])

    assert files == []
    assert [(error.path, error.line, error.column) for error in errors] == [(path, None, None)]
    assert errors[0].message.startswith(message)


def test_symlink_loop_is_a_source_error(tmp_path: Path) -> None:
    loop = tmp_path / "loop.ttl"
    loop.symlink_to(loop)

    _, errors = load_files([loop])

    assert [str(error) for error in errors] == [f"{loop}: too many levels of symbolic links"]


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
@pytest.mark.parametrize("kind", ["fifo", "socket"])
@pytest.mark.parametrize("named", [True, False], ids=["named", "in-a-folder"])
def test_a_pipe_or_socket_is_refused_without_opening_it(
    tmp_path: Path, kind: str, named: bool
) -> None:
    # Opening a FIFO would wait for a writer forever; a socket cannot be read at all.
    path = tmp_path / f"{kind}.ttl"
    good = write(tmp_path / "good.ttl", "")
    with socket.socket(socket.AF_UNIX) as server:
        if kind == "fifo":
            os.mkfifo(path)
        else:
            server.bind(str(path))

        loaded, errors = load_files([path] if named else [tmp_path])

    assert [file.path for file in loaded] == ([] if named else [good])
    assert [str(error) for error in errors] == [
        f"{path}: not a regular file (a pipe, socket or device): use - for standard input"
    ]


def test_dangling_and_looping_links_in_a_folder_are_reported(tmp_path: Path) -> None:
    (tmp_path / "gone.ttl").symlink_to(tmp_path / "deleted.ttl")
    (tmp_path / "a.ttl").symlink_to(tmp_path / "b.ttl")
    (tmp_path / "b.ttl").symlink_to(tmp_path / "a.ttl")
    (tmp_path / "README").symlink_to(tmp_path / "nowhere")  # not RDF: not our business

    files, errors = expand_paths([tmp_path])

    assert files == []
    assert [str(error) for error in errors] == [
        f"{tmp_path / 'a.ttl'}: too many levels of symbolic links",
        f"{tmp_path / 'b.ttl'}: too many levels of symbolic links",
        f"{tmp_path / 'gone.ttl'}: no such file or directory",
    ]


def test_unreadable_file_is_a_source_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = write(tmp_path / "secret.ttl", "")
    # Root (as in CI) reads any file whatever its mode, so the operating system's refusal is
    # reproduced at the one call that reads the bytes.
    original = Path.read_bytes

    def refuse(self: Path) -> bytes:
        if self == secret:
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)

    loaded, errors = load_files([secret])

    assert loaded == []
    assert [str(error) for error in errors] == [f"{secret}: permission denied"]


@pytest.mark.parametrize(
    ("name", "content", "line", "column", "message"),
    [
        ("syntax-error.ttl", None, 5, 1, "expected '.' or '}' or ']' at end of statement"),
        ("undefined-prefix.ttl", None, 4, 11, 'undefined prefix "foo:"'),
        ("long.ttl", '<a> <b> """never\nclosed .\n', 2, 9, "unterminated string literal"),
        ("iri.ttl", "<a> <b> <never-closed .\n", 1, None, "unterminated URI reference"),
        ("x.nt", "<http://a> <http://b> <http://c> .\n<http://a> <b> .\n", 2, 12, "no scheme"),
        (
            "x.rdf",
            f'<?xml version="1.0"?>\n<rdf:RDF {RDF_XMLNS}>\n <a>\n</rdf:RDF>\n',
            4,
            3,
            "mismatched",
        ),
        ("x.jsonld", '{"@id": "http://a",\n  }\n', 2, 3, "Expecting property name"),
    ],
    ids=[
        "turtle-syntax",
        "turtle-undefined-prefix",
        "turtle-unterminated-long-string",
        "turtle-no-offset",
        "n-triples",
        "rdf-xml",
        "json-ld",
    ],
)
def test_parse_error_reports_line_and_column_in_one_line(
    tmp_path: Path, name: str, content: str | None, line: int, column: int | None, message: str
) -> None:
    path = FIXTURES / name if content is None else write(tmp_path / name, content)

    loaded, errors = load_files([path])

    assert loaded == []
    assert [(error.path, error.line, error.column) for error in errors] == [(path, line, column)]
    assert errors[0].message.startswith(message)
    assert "\n" not in errors[0].message


@pytest.mark.parametrize(
    ("content", "line", "column"),
    [
        (b'<a> <b> "ok" .\n<a> <b> "caf\xe9" .\n', 2, 13),
        (b'<a> <b> "\xc3\xa8\xc3\xa8\xff" .\n', 1, 12),
        (b"\xff\xfe<\0a\0>\0", 1, 1),
    ],
    ids=["latin-1-byte", "after-multibyte-characters", "utf-16-file"],
)
def test_invalid_utf8_reports_line_and_column_of_first_bad_byte(
    tmp_path: Path, content: bytes, line: int, column: int
) -> None:
    path = write(tmp_path / "x.ttl", content)

    _, errors = load_files([path])

    assert [(error.line, error.column) for error in errors] == [(line, column)]
    assert errors[0].message.startswith("invalid UTF-8: byte 0x")


@pytest.mark.parametrize("suffix", sorted(RDF_SUFFIXES), ids=lambda suffix: suffix)
@pytest.mark.parametrize("content", ["", "\n  \n"], ids=["empty", "blank"])
def test_empty_file_loads_as_zero_triples(tmp_path: Path, suffix: str, content: str) -> None:
    path = write(tmp_path / f"empty{suffix}", content)

    loaded, errors = load_files([path])

    assert errors == []
    assert [(file.path, len(file.graph)) for file in loaded] == [(path, 0)]


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.ttl", "\ufeff<https://e.org/a> <https://e.org/b> 1 .\n")

    loaded, errors = load_files([path])

    assert errors == []
    assert dict(loaded[0].subject_lines) == {URIRef("https://e.org/a"): 1}


def test_every_file_is_tried_after_a_bad_one(tmp_path: Path) -> None:
    write(tmp_path / "a-bad.ttl", "<a> <b> .\n")
    write(tmp_path / "b-bad.ttl", b"\xff")
    write(tmp_path / "c-good.ttl", "<https://e.org/a> <https://e.org/b> <https://e.org/c> .\n")

    loaded, errors = load_files([tmp_path, tmp_path / "missing"])

    assert [error.path.name for error in errors] == ["missing", "a-bad.ttl", "b-bad.ttl"]
    assert [(file.path.name, len(file.graph)) for file in loaded] == [("c-good.ttl", 1)]


def test_subject_lines_survive_tricky_turtle() -> None:
    path = FIXTURES / "tricky-subjects.ttl"
    ns, default = "https://example.org/ns#", "https://example.org/default/"

    loaded, errors = load_files([path])

    assert errors == []
    assert dict(loaded[0].subject_lines) == {
        URIRef(ns + "prefixed"): 8,
        URIRef("https://example.org/full"): 11,
        URIRef("https://w3id.org/psm/milano/id/pillar/relative"): 15,
        URIRef(default + "empty-prefix"): 17,
        URIRef(ns + "dotted.name"): 18,
        URIRef(ns + "after-number"): 18,
        URIRef(ns + "nested"): 22,
        URIRef(ns + "escaped-local"): 24,
        URIRef("https://example.org/Ascii"): 25,
        URIRef(ns + "last"): 26,
    }


def test_subject_lines_cover_every_subject_iri_rdflib_found() -> None:
    loaded, _ = load_files([FIXTURES])

    for file in loaded:
        subjects = {s for s in file.graph.subjects() if isinstance(s, URIRef)}
        assert set(file.subject_lines) == subjects, file.path


def test_relative_iris_resolve_against_the_file_like_rdflib(tmp_path: Path) -> None:
    path = write(tmp_path / "rel.ttl", "\n<thing> <https://e.org/p> 1 .\n")

    loaded, _ = load_files([path])

    assert dict(loaded[0].subject_lines) == {URIRef((tmp_path / "thing").as_uri()): 2}
    assert set(loaded[0].graph.subjects()) == {URIRef((tmp_path / "thing").as_uri())}


def test_subject_lines_for_n_triples(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.nt",
        '<https://e.org/a> <https://e.org/p> "a . b" .\n'
        "_:b <https://e.org/p> <https://e.org/a> .\n"
        "# comment .\n"
        "<https://e.org/c> <https://e.org/p> <https://e.org/a> .\n",
    )

    loaded, _ = load_files([path])

    assert dict(loaded[0].subject_lines) == {
        URIRef("https://e.org/a"): 1,
        URIRef("https://e.org/c"): 4,
    }


# Where objects are written: LoadedFile.positions (turtle_index).

EX = "https://example.org/ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"


def tricky_values() -> LoadedFile:
    loaded, errors = load_files([FIXTURES / "tricky-values.ttl"])
    assert errors == []
    return loaded[0]


@pytest.mark.parametrize(
    ("predicate", "value", "line"),
    [
        ("type", URIRef(EX + "Thing"), 7),
        ("iri", URIRef("https://example.org/base/relative"), 8),
        ("prefixed", URIRef(EX + "o"), 8),
        ("integer", Literal("15", datatype=URIRef(XSD + "integer")), 9),
        ("decimal", Literal("1.50", datatype=URIRef(XSD + "decimal")), 9),
        ("double", Literal("1e3", datatype=URIRef(XSD + "double")), 9),
        ("boolean", Literal("true", datatype=URIRef(XSD + "boolean")), 9),
        ("tagged", Literal("ciao", lang="it"), 10),
        ("tagged", Literal("hello", lang="en-GB"), 10),
        ("typed", Literal("2025-01-01", datatype=URIRef(XSD + "date")), 11),
        ("typed", Literal("7", datatype=URIRef(XSD + "int")), 12),
        ("long", Literal("first line\nsecond line"), 13),
        ("long", Literal("single ' quote"), 14),
        ("escaped", Literal("tab\there \u00e8"), 15),
        ("after", Literal("after the nesting"), 17),
    ],
    ids=lambda value: str(value).rsplit("#", 1)[-1][:20],
)
def test_value_line_of_every_kind_of_object(predicate: str, value: Node, line: int) -> None:
    positions = tricky_values().positions
    full_predicate = RDF.type if predicate == "type" else URIRef(EX + predicate)

    assert positions.value_line(URIRef(EX + "s"), full_predicate, value) == line


def test_value_line_inside_an_anonymous_node_is_filed_under_its_owner() -> None:
    positions = tricky_values().positions
    owner = URIRef(EX + "s")

    assert positions.value_line(owner, URIRef(EX + "inner"), Literal("deep"), nested=True) == 16
    assert positions.value_line(owner, URIRef(EX + "inner"), Literal("deep")) is None


def test_value_line_prefers_the_subjects_own_statement_then_the_lexical_form() -> None:
    positions = tricky_values().positions
    s, t = URIRef(EX + "s"), URIRef(EX + "t")
    retyped = Literal("2025-01-01")  # an engine may report a value without its datatype

    assert positions.value_line(t, URIRef(EX + "same"), Literal("hello", lang="en-GB")) == 19
    assert positions.value_line(s, URIRef(EX + "typed"), retyped) == 11
    assert positions.value_line(s, URIRef(EX + "typed"), Literal("absent")) is None


def test_the_value_line_of_a_node_itself_is_its_subject_line() -> None:
    positions = tricky_values().positions

    assert positions.value_line(URIRef(EX + "s"), None, URIRef(EX + "s")) == 7


INDEXED = [
    *sorted(FIXTURES.glob("*.ttl")),
    *sorted((ROOT / "data").rglob("*.ttl")),
    *sorted((ROOT / "ontology").rglob("*.ttl")),
]


@pytest.mark.parametrize("path", INDEXED, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_indexed_statement_is_a_triple_rdflib_parsed(path: Path) -> None:
    loaded, errors = load_files([path])
    if errors:  # the fixtures that are meant not to parse
        assert path.parent == FIXTURES
        return
    file = loaded[0]
    top_level = [
        (s.owner, s.predicate, s.value)
        for statements in file.positions.statements.values()
        for s in statements
        if not s.nested
    ]

    missing = [triple for triple in top_level if triple not in file.graph]
    assert missing == []
    # Every triple whose subject is an IRI is indexed, except rdf:first/rest of collections.
    expected = {
        (s, p, o) for s, p, o in file.graph if isinstance(s, URIRef) and not isinstance(o, BNode)
    }
    assert set(top_level) == expected


def test_crlf_line_endings_give_the_same_lines(tmp_path: Path) -> None:
    text = (FIXTURES / "tricky-values.ttl").read_text(encoding="utf-8")
    lf = write(tmp_path / "lf.ttl", text)
    crlf = write(tmp_path / "crlf.ttl", text.replace("\n", "\r\n").encode())

    loaded, errors = load_files([lf, crlf])

    assert errors == []
    assert loaded[0].positions.subject_lines == loaded[1].positions.subject_lines
    as_lines = [
        sorted((s.predicate, s.line) for s in file.positions.statements[URIRef(EX + "s")])
        for file in loaded
    ]
    assert as_lines[0] == as_lines[1]
    assert len(loaded[1].graph) == len(loaded[0].graph)


def test_a_byte_order_mark_keeps_the_lines(tmp_path: Path) -> None:
    text = (FIXTURES / "tricky-values.ttl").read_text(encoding="utf-8")
    path = write(tmp_path / "bom.ttl", "\ufeff" + text)

    loaded, errors = load_files([path])

    assert errors == []
    assert loaded[0].positions == tricky_values().positions


# Safety: nothing is fetched, nothing nests without bound, every walk ends.


@pytest.mark.parametrize(
    ("document", "reference", "line"),
    [
        ('{"@context": "https://schema.org/",\n "@id": "http://e/a"}', "https://schema.org/", 1),
        ('{"@context": ["ctx.jsonld", {"ex": "http://e/"}]}', "ctx.jsonld", 1),
        ('{"@context": {"@import": "https://e.org/c", "@version": 1.1}}', "https://e.org/c", 1),
        (
            '{"@graph": [\n  {"@id": "http://e/a",\n   "@context": "http://192.0.2.1/c"}]}',
            "http://192.0.2.1/c",
            3,
        ),
        ('{"@context": {"ex": {"@id": "http://e/p", "@context": "x.jsonld"}}}', "x.jsonld", 1),
    ],
    ids=["remote-url", "file-in-a-list", "import", "nested-node", "scoped-term-context"],
)
def test_json_ld_context_by_reference_is_refused_before_parsing(
    tmp_path: Path, document: str, reference: str, line: int
) -> None:
    path = write(tmp_path / "doc.jsonld", document)

    loaded, errors = load_files([path])

    assert loaded == []
    assert [(error.path, error.line) for error in errors] == [(path, line)]
    assert errors[0].message.startswith(f"JSON-LD context {reference!r} is not inline")


def test_json_ld_with_an_inline_context_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path / "doc.jsonld",
        '{"@context": {"ex": "https://e.org/"}, "@id": "ex:a", "ex:p": {"@id": "ex:b"}}',
    )

    loaded, errors = load_files([path])

    assert errors == []
    assert set(loaded[0].graph) == {
        (URIRef("https://e.org/a"), URIRef("https://e.org/p"), URIRef("https://e.org/b"))
    }


@pytest.mark.parametrize(
    ("declaration", "line", "message"),
    [
        ('<!ENTITY s SYSTEM "{secret}">', 3, "XML external entity 's' refused"),
        ('<!ENTITY % p SYSTEM "{secret}">', 3, "XML parameter entity 'p' refused"),
        (
            '<!ENTITY a "ha">\n<!ENTITY s "&a;&a;&a;">',
            4,
            "XML entity 's' is made of other entities",
        ),
    ],
    ids=["external", "parameter", "nested-billion-laughs"],
)
def test_rdf_xml_entities_that_fetch_or_expand_are_refused(
    tmp_path: Path, declaration: str, line: int, message: str
) -> None:
    secret = write(tmp_path / "secret.txt", "SECRET")
    path = write(
        tmp_path / "x.rdf",
        '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n'
        + declaration.format(secret=secret.as_uri())
        + f'\n]>\n<rdf:RDF {RDF_XMLNS} xmlns:ex="https://e.org/">\n'
        ' <rdf:Description rdf:about="https://e.org/a"><ex:p>&s;</ex:p></rdf:Description>\n'
        "</rdf:RDF>\n",
    )

    loaded, errors = load_files([path])

    assert loaded == []
    assert [(error.line, error.message[: len(message)]) for error in errors] == [(line, message)]


def test_rdf_xml_internal_entities_as_owl_editors_write_them_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.owl",
        '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY ex "https://e.org/"> ]>\n'
        f"<rdf:RDF {RDF_XMLNS}>\n"
        ' <rdf:Description rdf:about="&ex;a"><rdf:value>1</rdf:value></rdf:Description>\n'
        "</rdf:RDF>\n",
    )

    loaded, errors = load_files([path])

    assert errors == []
    assert set(loaded[0].graph.subjects()) == {URIRef("https://e.org/a")}


@pytest.mark.parametrize(
    ("name", "content", "line", "column", "message"),
    [
        (
            "space.ttl",
            "\n<https://e.org/a b> <https://e.org/p> 1 .\n",
            2,
            1,
            "invalid IRI code point ' '",
        ),
        (
            "braces.nt",
            "<https://e.org/{a}> <https://e.org/p> 1 .\n",
            1,
            1,
            "invalid IRI code point '{'",
        ),
        (
            "tag.ttl",
            '<https://e.org/a> <https://e.org/p>\n  "x"@english-as-spoken-in-milan .\n',
            2,
            7,
            "a subtag",
        ),
        (
            "tag.jsonld",
            '{"@id": "https://e.org/a", "https://e.org/p": {"@value": "x", "@language": "en-'
            'spoken-in-milan"}}',
            1,
            76,
            "language tag 'en-spoken-in-milan' is not well-formed BCP 47",
        ),
    ],
    ids=["turtle-iri-space", "n-triples-iri-braces", "turtle-tag", "json-ld-tag"],
)
def test_what_rdf_does_not_allow_is_an_error_in_the_data_file(
    tmp_path: Path, name: str, content: str, line: int | None, column: int | None, message: str
) -> None:
    path = write(tmp_path / name, content)

    loaded, errors = load_files([path])

    assert loaded == []
    assert [(error.path, error.line, error.column) for error in errors] == [(path, line, column)]
    assert message.lower() in errors[0].message.lower()


@pytest.mark.parametrize(
    ("document", "fine"),
    [
        ("[1, 2, 3]", False),
        ('{"name": "Milano"}', False),
        ('{"@graph": ["Milano"]}', False),
        ('{"@id": "https://e.org/a"}', True),
        ('{"@context": {"ex": "https://e.org/"}}', True),
        ("[]", True),
    ],
    ids=[
        "numbers",
        "keys-without-context",
        "plain-value-in-graph",
        "bare-node",
        "context-only",
        "empty-list",
    ],
)
def test_json_that_json_ld_drops_entirely_is_an_error(
    tmp_path: Path, document: str, fine: bool
) -> None:
    path = write(tmp_path / "doc.jsonld", document)

    loaded, errors = load_files([path])

    if fine:
        assert (errors, len(loaded[0].graph)) == ([], 0)
    else:
        assert [error.message.split(":")[0] for error in errors] == ["no triples"]
        assert "@context" in errors[0].message


def test_rdflib_logs_nothing_while_parsing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(
        tmp_path / "x.jsonld",
        '{"@id": "https://e.org/a", "https://e.org/p": '
        '{"@value": "three", "@type": "http://www.w3.org/2001/XMLSchema#integer"}}',
    )
    turtle = write(
        tmp_path / "x.ttl",
        '<https://e.org/a> <https://e.org/p> "three"^^<' + XSD + "integer> .\n",
    )

    with caplog.at_level(logging.DEBUG):
        loaded, errors = load_files([path, turtle])

    assert (errors, [len(file.graph) for file in loaded]) == ([], [1, 1])
    assert [
        record.getMessage() for record in caplog.records if record.name.startswith("rdflib")
    ] == []


def test_a_long_multi_line_string_is_read_in_linear_time(tmp_path: Path) -> None:
    # rdflib's own Turtle parser takes minutes on this (quadratic in the number of lines).
    body = ("y" * 79 + "\n") * 50_000
    path = write(tmp_path / "long.ttl", f'<https://e.org/a> <https://e.org/p> """{body}""" .\n')

    started = time.perf_counter()
    loaded, errors = load_files([path])

    assert errors == []
    assert len(str(next(loaded[0].graph.objects()))) == len(body)
    assert time.perf_counter() - started < 15


def lower_case_tags(graph: rdflib.Graph) -> rdflib.Graph:
    lowered = rdflib.Graph()
    for s, p, o in graph:
        if isinstance(o, Literal) and o.language:
            o = Literal(str(o), lang=o.language.lower())
        lowered.add((s, p, o))
    return lowered


@pytest.mark.parametrize("path", INDEXED, ids=lambda path: str(path.relative_to(ROOT)))
def test_pyoxigraph_reads_the_same_graph_as_rdflib(path: Path) -> None:
    loaded, errors = load_files([path])
    if errors:
        return  # the fixtures that are meant not to parse: see the parse error tests
    by_rdflib = rdflib.Graph().parse(path, format="nt" if path.suffix == ".nt" else "turtle")

    # pyoxigraph writes language tags in lower case; RDF compares them ignoring case.
    assert isomorphic(lower_case_tags(loaded[0].graph), lower_case_tags(by_rdflib))
    assert dict(loaded[0].graph.namespaces()).items() >= {
        (prefix, namespace) for prefix, namespace in by_rdflib.namespaces() if prefix != ""
    } - set(rdflib.Graph().namespaces())


DEPTH = 5000


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("collections.ttl", "<a> <b> " + "(" * DEPTH + ")" * DEPTH + " .\n"),
        ("blank-nodes.ttl", "<a> <b> " + "[ <p> " * DEPTH + "1" + " ]" * DEPTH + " .\n"),
        ("arrays.jsonld", "[" * DEPTH + "]" * DEPTH),
    ],
    ids=["turtle-collections", "turtle-blank-nodes", "json-arrays"],
)
def test_deep_nesting_is_a_source_error_not_a_crash(
    tmp_path: Path, name: str, content: str
) -> None:
    path = write(tmp_path / name, content)

    loaded, errors = load_files([path])

    assert loaded == []
    position = f":1:{len('<a> <b> ') + 1 + MAX_NESTING * (content[8:10].count('[') * 5 + 1)}"
    position = position if name.endswith(".ttl") else ""
    assert [str(error) for error in errors] == [
        f"{path}{position}: nested too deeply (collections, [ ] or JSON): cannot be read safely"
    ]


def test_symlink_loop_in_a_directory_is_reported_and_the_walk_ends(tmp_path: Path) -> None:
    good = write(tmp_path / "sub" / "good.ttl", "")
    (tmp_path / "sub" / "back").symlink_to(tmp_path, target_is_directory=True)

    files, errors = expand_paths([tmp_path])

    assert files == [good]
    assert [str(error) for error in errors] == [
        f"{tmp_path / 'sub' / 'back'}: symbolic link loop: leads back to {tmp_path.resolve()},"
        " not followed"
    ]


def test_a_symlinked_directory_that_is_no_loop_is_followed(tmp_path: Path) -> None:
    write(tmp_path / "elsewhere" / "x.ttl", "")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)

    files, errors = expand_paths([tmp_path / "tree"])

    assert (files, errors) == ([tmp_path / "tree" / "link" / "x.ttl"], [])


def test_build_and_tool_directories_are_skipped_unless_named(tmp_path: Path) -> None:
    for folder in ["dist", "venv", "node_modules", "__pycache__", "data"]:
        write(tmp_path / folder / "x.ttl", "")

    files, _ = expand_paths([tmp_path])
    named, _ = expand_paths([tmp_path / "dist"])

    assert files == [tmp_path / "data" / "x.ttl"]
    assert named == [tmp_path / "dist" / "x.ttl"]


# load_bytes: documents that are not files (request bodies, standard input).


def test_load_bytes_names_the_document_in_messages() -> None:
    loaded, errors = load_bytes(b"<a> <b> .\n", suffix=".ttl", name="<request>")

    assert loaded is None
    assert [str(error) for error in errors] == ["<request>:1:8: objectList expected"]


def test_load_bytes_indexes_turtle_and_resolves_against_an_invalid_host() -> None:
    loaded, errors = load_bytes(b"\n<thing> <p> 1 .\n", suffix=".ttl", name="<request>")

    assert errors == []
    assert loaded is not None
    thing = URIRef("https://psm-kg.invalid/thing")
    assert (loaded.path, dict(loaded.subject_lines)) == (Path("<request>"), {thing: 2})


@pytest.mark.parametrize(
    ("suffix", "data"),
    [
        (".nt", b"<https://e/a> <https://e/b> <https://e/c> .\n"),
        (".jsonld", b'{"@id": "https://e/a", "https://e/b": {"@id": "https://e/c"}}'),
        (".rdf", RDF_XML_ONE_TRIPLE),
    ],
    ids=["n-triples", "json-ld", "rdf-xml"],
)
def test_load_bytes_picks_the_parser_by_suffix(suffix: str, data: bytes) -> None:
    loaded, errors = load_bytes(data, suffix=suffix, name="body")

    assert errors == []
    assert loaded is not None
    assert len(loaded.graph) == 1


@pytest.mark.parametrize(
    ("data", "suffix", "message"),
    [
        (b"<a> <b> <c> .", ".csv", "not an RDF format"),
        (b'{"@context": "https://schema.org/"}', ".jsonld", "JSON-LD context"),
        (b"\xff", ".ttl", "invalid UTF-8"),
    ],
    ids=["unknown-suffix", "remote-context", "bad-bytes"],
)
def test_load_bytes_applies_the_same_rules_as_files(data: bytes, suffix: str, message: str) -> None:
    loaded, errors = load_bytes(data, suffix=suffix, name="<request>")

    assert loaded is None
    assert [error.path for error in errors] == [Path("<request>")]
    assert errors[0].message.startswith(message)


def test_parsing_in_processes_gives_the_same_files(tmp_path: Path) -> None:
    for number in range(MIN_FILES_PER_PROCESS_POOL + 2):
        write(tmp_path / f"{number:02}.ttl", f"<https://e/{number}> <https://e/p> {number} .\n")
    write(tmp_path / "bad.ttl", "<a> <b> .\n")

    one = load_files([tmp_path])
    two = load_files([tmp_path], jobs=2)

    assert [str(error) for error in two[1]] == [str(error) for error in one[1]]
    assert [(f.path, set(f.graph), f.positions) for f in two[0]] == [
        (f.path, set(f.graph), f.positions) for f in one[0]
    ]
