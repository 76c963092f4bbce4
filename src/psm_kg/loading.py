"""Read RDF files into rdflib graphs, keeping what rdflib forgets: where things are.

Every problem with an input file becomes a `SourceError` value (path, line, column, one-line
message) instead of an exception, so that a caller can try every file and report all problems at
once. rdflib keeps no source positions, so for Turtle and N-Triples this module also indexes the
line on which each subject IRI is first described (`LoadedFile.subject_lines`); validation reports
use it to point at the offending statement.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import stat
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax import SAXParseException

import rdflib
from rdflib.exceptions import ParserError
from rdflib.plugins.parsers.notation3 import BadSyntax
from rdflib.plugins.parsers.notation3 import join as resolve_iri
from rdflib.term import Node, URIRef

# rdflib format names by file suffix; only formats that hold triples (no quads).
_FORMAT_BY_SUFFIX: Mapping[str, str] = {
    ".ttl": "turtle",
    ".nt": "nt",
    ".n3": "n3",
    ".jsonld": "json-ld",
    ".rdf": "xml",
    ".owl": "xml",
    ".xml": "xml",
}
RDF_SUFFIXES: frozenset[str] = frozenset(_FORMAT_BY_SUFFIX)
_EXPECTED = "expected one of " + ", ".join(_FORMAT_BY_SUFFIX)


@dataclass(frozen=True)
class SourceError:
    """An input that could not be read or parsed, located as precisely as the parser allows."""

    path: Path
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        location = [str(self.path)]
        if self.line is not None:
            location.append(str(self.line))
            if self.column is not None:
                location.append(str(self.column))
        return ":".join(location) + ": " + self.message


@dataclass(frozen=True)
class LoadedFile:
    """One parsed file: its graph and, best effort, the first line describing each subject IRI."""

    path: Path
    graph: rdflib.Graph
    subject_lines: Mapping[Node, int]


def expand_paths(paths: Sequence[Path]) -> tuple[list[Path], list[SourceError]]:
    """Turn files and directories into the RDF files to read, in a stable order.

    A directory stands for the RDF files below it (recursively, sorted, hidden entries skipped);
    a file named explicitly must have an RDF suffix. Each file is listed once.
    """
    files: list[Path] = []
    errors: list[SourceError] = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError as error:
            errors.append(SourceError(path, None, None, _os_message(error)))
            continue
        if stat.S_ISDIR(mode):
            problems_before = len(errors)
            found = _rdf_files_below(path, errors)
            if not found and len(errors) == problems_before:  # an unreadable one is reported
                errors.append(SourceError(path, None, None, f"no RDF files here ({_EXPECTED})"))
            files.extend(found)
        elif path.suffix.lower() in RDF_SUFFIXES:
            files.append(path)
        else:
            errors.append(SourceError(path, None, None, f"not an RDF file ({_EXPECTED})"))
    seen: set[Path] = set()
    unique = []
    for file in files:
        if (key := file.resolve()) not in seen:
            seen.add(key)
            unique.append(file)
    return unique, errors


def load_files(paths: Sequence[Path]) -> tuple[list[LoadedFile], list[SourceError]]:
    """Parse every file (directories are expanded as by `expand_paths`); never raise for bad input.

    A bad file does not stop the others from being read, so one run reports every problem.
    """
    files, errors = expand_paths(paths)
    loaded: list[LoadedFile] = []
    for path in files:
        outcome = _load_file(path)
        if isinstance(outcome, SourceError):
            errors.append(outcome)
        else:
            loaded.append(outcome)
    return loaded, errors


def _rdf_files_below(directory: Path, errors: list[SourceError]) -> list[Path]:
    found: list[Path] = []

    def unreadable(error: OSError) -> None:
        where = Path(error.filename) if error.filename else directory
        errors.append(SourceError(where, None, None, _os_message(error)))

    # Symlinked directories are not followed, so a link loop cannot make the walk endless.
    for root, dirs, names in os.walk(directory, onerror=unreadable):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        found.extend(
            Path(root, name)
            for name in names
            if not name.startswith(".") and Path(name).suffix.lower() in RDF_SUFFIXES
        )
    return sorted(found)


def _os_message(error: OSError) -> str:
    reason = error.strerror or type(error).__name__
    return reason[:1].lower() + reason[1:]


def _load_file(path: Path) -> LoadedFile | SourceError:
    rdf_format = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if rdf_format is None:
        return SourceError(path, None, None, f"not an RDF file ({_EXPECTED})")
    try:
        raw = path.read_bytes()
    except OSError as error:
        return SourceError(path, None, None, _os_message(error))
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        return _decoding_error(path, raw, error)
    base = path.resolve().as_uri()  # what rdflib itself would use for relative IRIs
    graph = rdflib.Graph()
    if text.strip():  # some parsers (RDF/XML, JSON-LD) reject an empty document
        try:
            with warnings.catch_warnings():
                # rdflib's own JSON-LD and N3 parsers trip its deprecation warnings.
                warnings.simplefilter("ignore", DeprecationWarning)
                graph.parse(data=text, format=rdf_format, publicID=base)
        except Exception as error:  # rdflib parsers raise many unrelated types on bad input
            return _parse_error(path, text, rdf_format, error)
    lines = turtle_subject_lines(text, base) if rdf_format in ("turtle", "nt") else {}
    return LoadedFile(path, graph, lines)


def _decoding_error(path: Path, raw: bytes, error: UnicodeDecodeError) -> SourceError:
    line_start = raw.rfind(b"\n", 0, error.start) + 1
    column = len(raw[line_start : error.start].decode("utf-8", errors="replace")) + 1
    line = raw.count(b"\n", 0, error.start) + 1
    byte = raw[error.start]
    return SourceError(path, line, column, f"invalid UTF-8: byte 0x{byte:02X} ({error.reason})")


def _parse_error(path: Path, text: str, rdf_format: str, error: Exception) -> SourceError:
    if isinstance(error, BadSyntax):
        line, column = error.lines + 1, None
        if 0 <= error._i <= len(text):  # the offset is -1 for some errors
            line, column = _line_and_column(text, error._i)
        prefix = re.fullmatch(r'Prefix "(.*)" not bound', error._why)
        why = f'undefined prefix "{prefix.group(1)}"' if prefix else error._why
        return SourceError(path, line, column, why)
    if isinstance(error, SAXParseException):
        column = error.getColumnNumber()
        return SourceError(
            path, error.getLineNumber(), None if column is None else column + 1, error.getMessage()
        )
    if isinstance(error, json.JSONDecodeError):
        return SourceError(path, error.lineno, error.colno, error.msg)
    if isinstance(error, ParserError) and rdf_format == "nt":
        return SourceError(path, _first_bad_ntriples_line(text), None, "invalid N-Triples line")
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return SourceError(path, None, None, f"cannot read as {rdf_format}: {first_line}")


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _first_bad_ntriples_line(text: str) -> int | None:
    # The N-Triples parser reports the rest of the bad line but not its number; one statement
    # per line lets us find it by parsing line by line.
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            rdflib.Graph().parse(data=line, format="nt")
        except Exception:
            return number
    return None


_TURTLE_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<comment>\#[^\n]*)
    |(?P<iri><[^<>"{}|^`\\\s]*(?:\\[uU][0-9A-Fa-f]+[^<>"{}|^`\\\s]*)*>)
    |(?P<string>\"\"\"(?:(?:"|"")?(?:[^"\\]|\\.))*\"\"\"|'''(?:(?:'|'')?(?:[^'\\]|\\.))*'''
        |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<open>[\[({])
    |(?P<close>[\])}])
    |(?P<dot>\.(?![0-9]))
    |(?P<word>(?:\\.|[^\s<>"'\#;,\[\](){}.\\]|\.(?=[^\s<>"'\#;,\[\](){}.]))+)
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})|\\(.)")


def turtle_subject_lines(text: str, base: str) -> dict[Node, int]:
    """Map each subject IRI of a Turtle (or N-Triples) document to the line first describing it.

    Meant for text rdflib has already parsed: a small tokenizer finds the subject that starts
    each top-level statement (strings, IRIs and comments cannot fool it), and resolves prefixed
    names and relative IRIs with the document's own @prefix/PREFIX and @base/BASE directives.
    Blank-node and collection subjects are skipped.
    """
    newlines = [match.start() for match in re.finditer("\n", text)]
    prefixes: dict[str, str] = {}
    lines: dict[Node, int] = {}
    depth = 0
    at_statement_start = True
    directive: list[str] = []  # keyword and arguments of the directive being read
    for match in _TURTLE_TOKEN.finditer(text):
        kind, token = match.lastgroup, match.group()
        if kind in ("space", "comment"):
            continue
        if directive:
            directive.append(token)
            keyword = directive[0].lower()
            if keyword.endswith("prefix") and len(directive) == 3:
                prefixes[directive[1].removesuffix(":")] = resolve_iri(base, _unescape(token[1:-1]))
            elif keyword.endswith("base") and len(directive) == 2:
                base = resolve_iri(base, _unescape(token[1:-1]))
            else:
                continue
            directive.clear()
            # "@prefix ... ." ends at its dot; SPARQL-style "PREFIX ..." has none.
            at_statement_start = not keyword.startswith("@")
            continue
        if at_statement_start and depth == 0:
            at_statement_start = False
            if kind == "word" and token.lower() in ("@prefix", "prefix", "@base", "base"):
                directive.append(token)
                continue
            subject = _subject_iri(kind, token, prefixes, base)
            if subject is not None:
                lines.setdefault(subject, bisect.bisect_left(newlines, match.start()) + 1)
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
        elif kind == "dot" and depth == 0:
            at_statement_start = True
    return lines


def _subject_iri(
    kind: str | None, token: str, prefixes: dict[str, str], base: str
) -> URIRef | None:
    if kind == "iri":
        return URIRef(resolve_iri(base, _unescape(token[1:-1])))
    if kind == "word" and ":" in token and not token.startswith("_:"):
        prefix, local = token.split(":", 1)
        if prefix in prefixes:
            return URIRef(prefixes[prefix] + _unescape(local))
    return None


def _unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2)
        return chr(int(code, 16)) if code else match.group(3)

    return _ESCAPE.sub(replace, text)
