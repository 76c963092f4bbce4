"""Reading RDF files: every problem is a located SourceError, and subjects keep their lines."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from rdflib import URIRef

from psm_kg.loading import RDF_SUFFIXES, SourceError, expand_paths, load_files

FIXTURES = Path(__file__).parent / "data" / "validation"
RDF_XMLNS = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'


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
def test_file_that_cannot_be_opened_is_a_source_error(tmp_path: Path) -> None:
    # A socket passes as a file until it is opened; unlike permissions, this also fails for root.
    path = tmp_path / "socket.ttl"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))

        loaded, errors = load_files([path])

    assert loaded == []
    assert [str(error) for error in errors] == [f"{path}: no such device or address"]


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
        ("x.nt", "<http://a> <http://b> <http://c> .\n<http://a> <b> .\n", 2, None, "invalid"),
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
