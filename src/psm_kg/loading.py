"""Read RDF files into rdflib graphs, safely, keeping what rdflib forgets: where things are.

Every problem with an input becomes a `SourceError` value (path, line, column, one-line message)
instead of an exception, so that a caller can try every file and report all problems at once.

Turtle and N-Triples are parsed by pyoxigraph (`strict_turtle`: fast, strict about IRIs and
language tags); when it refuses a document, rdflib parses it again to explain, in the messages
rdflib users know, and pyoxigraph's position is used when rdflib has none. Other formats go
through rdflib, with `source_checks` before and after. For Turtle and N-Triples,
`LoadedFile.positions` (`turtle_index`) gives the line of each subject IRI and of each object
written in its statements; validation reports use them.

Nothing an input names is fetched or opened: JSON-LD contexts by reference, `@import` and XML
external entities are refused before parsing (`source_checks`), and `owl:imports` are plain
triples here. `[ ]` and `( )` nested deeper than `turtle_index.MAX_NESTING`, and JSON nested past
Python's recursion limit, are a `SourceError`, never a `RecursionError`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote
from xml.sax import SAXParseException

import rdflib
from rdflib.exceptions import ParserError
from rdflib.plugins.parsers.notation3 import BadSyntax
from rdflib.term import Node

from psm_kg.source_checks import (
    dropped_json_content,
    invalid_terms,
    non_inline_json_ld_context,
    unsafe_xml_entities,
)
from psm_kg.source_paths import RDF_SUFFIXES, SourceError, expand_paths, os_message
from psm_kg.strict_turtle import parse_strictly, strict_reason
from psm_kg.turtle_index import TurtlePositions, index_turtle

__all__ = [
    "RDF_SUFFIXES",
    "InlineDocument",
    "LoadedFile",
    "SourceError",
    "expand_paths",
    "load_bytes",
    "load_files",
    "parse_files",
]

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
assert frozenset(_FORMAT_BY_SUFFIX) == RDF_SUFFIXES, "one parser per accepted suffix"

# Below this many files a process pool costs more to start than it saves (bench: --jobs).
MIN_FILES_PER_PROCESS_POOL = 8
_CANNOT_READ = "cannot read as"
_INVALID_BASE = "https://psm-kg.invalid/"  # .invalid never resolves (RFC 2606)
_NESTED_TOO_DEEPLY = "nested too deeply (collections, [ ] or JSON): cannot be read safely"


@dataclass(frozen=True)
class LoadedFile:
    """One parsed file: its graph and, for Turtle and N-Triples, where things are written."""

    path: Path
    graph: rdflib.Graph
    positions: TurtlePositions = field(default_factory=TurtlePositions)

    @property
    def subject_lines(self) -> Mapping[Node, int]:
        """The first line describing each subject IRI (Turtle and N-Triples only)."""
        return self.positions.subject_lines


def load_files(
    paths: Sequence[Path], *, jobs: int = 1
) -> tuple[list[LoadedFile], list[SourceError]]:
    """Parse every file (directories are expanded as by `expand_paths`); never raise for bad input.

    A bad file does not stop the others from being read, so one run reports every problem.
    ``jobs`` as for `parse_files`.
    """
    files, errors = expand_paths(paths)
    loaded: list[LoadedFile] = []
    for outcome in parse_files(files, jobs=jobs):
        if isinstance(outcome, SourceError):
            errors.append(outcome)
        else:
            loaded.append(outcome)
    return loaded, errors


@dataclass(frozen=True)
class InlineDocument:
    """A document that is not a file, such as standard input: parsed as `load_bytes` does."""

    name: str  # stands for the path in messages, e.g. "<stdin>"
    data: bytes
    suffix: str = ".ttl"
    base: str | None = None


def parse_files(
    files: Sequence[Path | InlineDocument], *, jobs: int = 1
) -> list[LoadedFile | SourceError]:
    """Parse each file as its suffix says: one outcome per file, in order; never raises.

    With ``jobs`` > 1 and at least MIN_FILES_PER_PROCESS_POOL files, ``jobs`` worker processes
    parse them; the outcomes are the same.
    """
    if jobs > 1 and len(files) >= MIN_FILES_PER_PROCESS_POOL:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            # Graphs do not pickle cheaply; plain triples do, and rebuilding is fast.
            return [_from_worker(o) for o in pool.map(_load_in_worker, files, chunksize=4)]
    return [_load_one(file) for file in files]


def _load_one(file: Path | InlineDocument) -> LoadedFile | SourceError:
    if isinstance(file, Path):
        return _load_file(file)
    loaded, errors = load_bytes(file.data, suffix=file.suffix, name=file.name, base=file.base)
    return loaded if loaded is not None else errors[0]


def load_bytes(
    data: bytes, *, suffix: str, name: str, base: str | None = None
) -> tuple[LoadedFile | None, list[SourceError]]:
    """Parse an in-memory document (a request body, standard input) with the same safety rules.

    ``suffix`` picks the parser as a file's would (".ttl", ".jsonld", ...); ``name`` stands for
    the path in messages and in `LoadedFile.path` (e.g. "<stdin>"). Relative IRIs resolve
    against ``base``, by default https://psm-kg.invalid/<name, %-encoded>, so that no local
    path leaks into the IRIs.
    """
    path = Path(name)
    rdf_format = _FORMAT_BY_SUFFIX.get(suffix.lower())
    if rdf_format is None:
        expected = "expected one of " + ", ".join(_FORMAT_BY_SUFFIX)
        return None, [SourceError(path, None, None, f"not an RDF format ({expected})")]
    outcome = _parse(path, data, rdf_format, base or _INVALID_BASE + quote(name, safe=""))
    if isinstance(outcome, SourceError):
        return None, [outcome]
    return outcome, []


def _load_file(path: Path) -> LoadedFile | SourceError:
    rdf_format = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if rdf_format is None:
        return SourceError(path, None, None, "not an RDF file")
    try:
        raw = path.read_bytes()
    except OSError as error:
        return SourceError(path, None, None, os_message(error))
    return _parse(path, raw, rdf_format, path.resolve().as_uri())  # rdflib's own base for files


_WorkerResult = tuple[Path, list[tuple[Node, Node, Node]], TurtlePositions] | SourceError


def _load_in_worker(file: Path | InlineDocument) -> _WorkerResult:
    outcome = _load_one(file)
    if isinstance(outcome, SourceError):
        return outcome
    return outcome.path, list(outcome.graph), outcome.positions


def _from_worker(result: _WorkerResult) -> LoadedFile | SourceError:
    if isinstance(result, SourceError):
        return result
    path, triples, positions = result
    graph = rdflib.Graph()
    graph.addN((s, p, o, graph) for s, p, o in triples)
    return LoadedFile(path, graph, positions)


def _parse(path: Path, raw: bytes, rdf_format: str, base: str) -> LoadedFile | SourceError:
    with _rdflib_quiet():  # the parsers and the index both make rdflib terms, which log
        return _parse_quietly(path, raw, rdf_format, base)


def _parse_quietly(path: Path, raw: bytes, rdf_format: str, base: str) -> LoadedFile | SourceError:
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # a byte-order mark is harmless
    except UnicodeDecodeError as error:
        return _decoding_error(path, raw, error)
    if not text.strip():  # some parsers (RDF/XML, JSON-LD) reject an empty document
        return LoadedFile(path, rdflib.Graph())
    if rdf_format in ("turtle", "nt"):
        return _parse_turtle(path, text, rdf_format, base)
    refuse_first = {"json-ld": non_inline_json_ld_context, "xml": unsafe_xml_entities}.get(
        rdf_format
    )
    if refuse_first is not None and (problem := refuse_first(text)) is not None:
        return SourceError(path, *problem)
    graph = _parse_with_rdflib(path, text, rdf_format, base)
    if isinstance(graph, SourceError):
        return graph
    problem = invalid_terms(text, graph)
    if problem is None and rdf_format == "json-ld":
        problem = dropped_json_content(text, graph)
    return LoadedFile(path, graph) if problem is None else SourceError(path, *problem)


def _parse_turtle(path: Path, text: str, rdf_format: str, base: str) -> LoadedFile | SourceError:
    """Turtle and N-Triples: pyoxigraph parses (fast, and strict about IRIs and language tags),
    rdflib explains what pyoxigraph refuses, in the messages rdflib users know."""
    positions = index_turtle(text, base)
    if positions.too_deep_at is not None:
        line, column = positions.too_deep_at
        return SourceError(path, line, column, _NESTED_TOO_DEEPLY)
    try:
        return LoadedFile(path, parse_strictly(text, rdf_format, base), positions)
    except SyntaxError as strict:
        # rdflib's N-Triples messages have no column and say little: pyoxigraph's are better.
        explained = (
            _parse_with_rdflib(path, text, rdf_format, base) if rdf_format == "turtle" else None
        )
        if isinstance(explained, SourceError) and explained.line is not None:
            return explained
        if isinstance(explained, SourceError) and not explained.message.startswith(_CANNOT_READ):
            # rdflib said what is wrong (e.g. a language tag) but not where: pyoxigraph knows.
            return SourceError(path, strict.lineno, strict.offset, explained.message)
        return SourceError(path, strict.lineno, strict.offset, strict_reason(strict, text))


def _parse_with_rdflib(
    path: Path, text: str, rdf_format: str, base: str
) -> rdflib.Graph | SourceError:
    graph = rdflib.Graph()
    try:
        with warnings.catch_warnings():
            # rdflib's own JSON-LD and N3 parsers trip its deprecation warnings.
            warnings.simplefilter("ignore", DeprecationWarning)
            graph.parse(data=text, format=rdf_format, publicID=base)
    except RecursionError:
        return SourceError(path, None, None, _NESTED_TOO_DEEPLY)
    except Exception as error:  # rdflib parsers raise many unrelated types on bad input
        return _parse_error(path, text, rdf_format, error)
    return graph


class _WhileParsing(logging.Filter):
    """Drops rdflib's log records in a thread that is parsing: psm-kg reports those problems
    itself (invalid IRIs) or leaves them to SHACL (ill-typed literals), and rdflib logs them
    with tracebacks."""

    def __init__(self) -> None:
        super().__init__()
        self.parsing = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.parsing, "active", False)


_RDFLIB_FILTER = _WhileParsing()
logging.getLogger("rdflib").addFilter(_RDFLIB_FILTER)
logging.getLogger("rdflib.term").addFilter(_RDFLIB_FILTER)


@contextlib.contextmanager
def _rdflib_quiet() -> Iterator[None]:
    was_active = getattr(_RDFLIB_FILTER.parsing, "active", False)
    _RDFLIB_FILTER.parsing.active = True
    try:
        yield
    finally:
        _RDFLIB_FILTER.parsing.active = was_active


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
    if type(error) is ValueError and "language tag" in first_line:  # from rdflib.Literal
        return SourceError(path, None, None, "invalid language tag: " + first_line.rstrip("!"))
    return SourceError(path, None, None, f"{_CANNOT_READ} {rdf_format}: {first_line}")


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
