"""The read-only query engine: the built dataset in an in-memory pyoxigraph store.

No HTTP here: the routers call :meth:`Store.query` in a worker thread and turn the exceptions below
into responses. The default graph of every query is the union of the named graphs (docs/model.md).

Exceptions::

    StoreError                  the dataset cannot be loaded (missing or corrupt dist/)
    QueryRejected               the request is not a query this endpoint runs
     ├── QuerySyntaxError       the text is not SPARQL 1.1 Query; carries the parser's message
     ├── UpdateNotAllowed       the text is SPARQL Update; the served data is read-only
     └── FederationNotAllowed   the query uses SERVICE, which would make the server fetch URLs
    QueryTimeout                evaluation ran past its deadline

Timeouts are cooperative: results are serialised through a writer that checks the deadline each
time the engine hands it bytes, which stops queries that produce many rows. A query that computes
long before its first row (a huge COUNT) cannot be interrupted inside pyoxigraph; the router stops
waiting for it, and the worker thread finishes in the background.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from psm_kg import formats
from psm_kg.build import HASH_FILE, NQUADS_FILE
from psm_kg.errors import PsmKgError
from psm_kg.formats import Format

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


class StoreError(PsmKgError):
    """The dataset cannot be loaded."""


class QueryRejected(Exception):
    """The request text is not a query this endpoint will run."""

    title = "Query rejected"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class QuerySyntaxError(QueryRejected):
    title = "Malformed query"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        position = re.search(r"at (\d+):(\d+)", message)
        self.line = int(position.group(1)) if position else None
        self.column = int(position.group(2)) if position else None


class UpdateNotAllowed(QueryRejected):
    title = "SPARQL Update is not supported"


class FederationNotAllowed(QueryRejected):
    title = "SERVICE is not supported"


class QueryTimeout(Exception):
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(f"the query ran longer than {timeout_s:g} s")


class QueryKind(StrEnum):
    SOLUTIONS = "solutions"  # SELECT
    BOOLEAN = "boolean"  # ASK
    GRAPH = "graph"  # CONSTRUCT, DESCRIBE


# What each kind of result can be written as, in order of preference (the first is the default).
# What each kind of result can be written as, the default first. CSV and TSV are defined for
# SELECT results only (SPARQL 1.1 Query Results CSV and TSV Formats, section 1).
FORMATS_BY_KIND: dict[QueryKind, tuple[Format, ...]] = {
    QueryKind.SOLUTIONS: (
        formats.SPARQL_JSON,
        formats.SPARQL_XML,
        formats.SPARQL_CSV,
        formats.SPARQL_TSV,
    ),
    QueryKind.BOOLEAN: (formats.SPARQL_JSON, formats.SPARQL_XML),
    QueryKind.GRAPH: (
        formats.TURTLE,
        formats.N_TRIPLES,
        formats.JSON_LD,
        formats.RDF_XML,
        formats.N_QUADS,
        formats.TRIG,
    ),
}

# --- reading SPARQL text just enough to refuse what the engine would otherwise run --------------

# Strings, IRIs and comments are blanked out before looking for keywords, so that "SERVICE" in a
# literal or an IRI does not count. Order matters: long strings before short ones.
_NOT_KEYWORDS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r'|<[^<>"{}|^`\\\x00-\x20]*>'
    r"|#[^\n]*",
    re.DOTALL,
)
_PROLOGUE = re.compile(r"\s*(?:(?:PREFIX\s+[^\s:]*:\s*<>|BASE\s*<>)\s*)*", re.IGNORECASE)
_UPDATE_VERB = re.compile(
    r"(?:INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b", re.IGNORECASE
)
# A keyword, not part of a variable (?service), a prefixed name (ex:service) or a longer word.
_SERVICE = re.compile(r"(?<![\w?$:])SERVICE(?![\w:-])", re.IGNORECASE)


def _blank(match: re.Match[str]) -> str:
    token = match.group(0)
    if token.startswith("<"):
        return "<>"  # keeps "PREFIX ex: <>" recognisable as a prologue
    return " " if token.startswith("#") else '""'


def _keywords_only(sparql: str) -> str:
    return _NOT_KEYWORDS.sub(_blank, sparql)


def looks_like_update(sparql: str) -> bool:
    """True when the first word after the prologue is an update verb (INSERT, LOAD, CLEAR...)."""
    text = _keywords_only(sparql)
    prologue = _PROLOGUE.match(text)
    rest = text[prologue.end() if prologue else 0 :]
    return _UPDATE_VERB.match(rest) is not None


def uses_service(sparql: str) -> bool:
    """True when the query contains the SERVICE keyword (federation)."""
    return _SERVICE.search(_keywords_only(sparql)) is not None


# --- results -----------------------------------------------------------------------------------


class _DeadlineWriter(io.BytesIO):
    """Collects serialised bytes and raises QueryTimeout once the deadline has passed."""

    def __init__(self, deadline: float, timeout_s: float) -> None:
        super().__init__()
        self._deadline = deadline
        self._timeout_s = timeout_s

    def write(self, data: ReadableBuffer, /) -> int:
        # pyoxigraph calls this for every buffered chunk while it pulls results from the engine,
        # and the exception propagates out of serialize(), which stops the evaluation.
        if time.monotonic() > self._deadline:
            raise QueryTimeout(self._timeout_s)
        return super().write(data)


class QueryOutcome:
    """The result of one query, evaluated lazily: :meth:`serialize` does the work, once.

    It wraps a pyoxigraph result, which must be used and freed on the thread that made it: create,
    serialise and drop an outcome in one worker thread (see sparql._evaluate_in_worker).
    """

    def __init__(
        self,
        result: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples,
        *,
        deadline: float,
        timeout_s: float,
    ) -> None:
        self._result = result
        self._deadline = deadline
        self._timeout_s = timeout_s
        self._consumed = False
        if isinstance(result, ox.QuerySolutions):
            self.kind = QueryKind.SOLUTIONS
        elif isinstance(result, ox.QueryBoolean):
            self.kind = QueryKind.BOOLEAN
        else:
            self.kind = QueryKind.GRAPH

    @property
    def formats(self) -> tuple[Format, ...]:
        """The formats this result can be written as, the default first."""
        return FORMATS_BY_KIND[self.kind]

    def serialize(self, fmt: Format) -> bytes:
        """The result in ``fmt``; QueryTimeout, or ValueError for a format of another kind."""
        if fmt not in self.formats:
            raise ValueError(f"a {self.kind} result cannot be written as {fmt.name}")
        if self._consumed:
            raise RuntimeError("results are streamed from the engine and can be serialised once")
        self._consumed = True
        writer = _DeadlineWriter(self._deadline, self._timeout_s)
        result = self._result
        if isinstance(result, ox.QueryTriples):
            rdf_format = ox.RdfFormat.from_media_type(fmt.media_type)
            assert rdf_format is not None, fmt  # every GRAPH format in the table is an RDF format
            result.serialize(writer, rdf_format)
        else:
            results_format = ox.QueryResultsFormat.from_media_type(fmt.media_type)
            assert results_format is not None, fmt
            result.serialize(writer, results_format)
        return writer.getvalue()


class Store:
    """An immutable, in-memory dataset answering SPARQL 1.1 queries."""

    def __init__(self, engine: ox.Store, content_hash: str) -> None:
        self._engine = engine
        self.content_hash = content_hash
        self._size = len(engine)  # fixed: nothing writes after loading

    @classmethod
    def from_nquads(cls, path: Path, *, expected_hash: str | None = None) -> Store:
        """Load an N-Quads file; its sha256 is the content hash (checked when one is expected)."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise StoreError(f"{path}: {error.strerror or error}; run `psm-kg build`") from None
        content_hash = hashlib.sha256(data).hexdigest()
        if expected_hash is not None and expected_hash != content_hash:
            raise StoreError(f"{path} does not match its content hash; run `psm-kg build` again")
        engine = ox.Store()
        try:
            engine.load(data, ox.RdfFormat.N_QUADS)
        except SyntaxError as error:
            raise StoreError(f"{path}:{error.lineno}: {error.msg}") from None
        return cls(engine, content_hash)

    @classmethod
    def from_dist(cls, dist_dir: Path) -> Store:
        """Load what ``psm-kg build`` wrote to ``dist_dir``."""
        hash_path = dist_dir / HASH_FILE
        try:
            expected = hash_path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            raise StoreError(f"{hash_path} is missing or unreadable; run `psm-kg build`") from None
        return cls.from_nquads(dist_dir / NQUADS_FILE, expected_hash=expected)

    def __len__(self) -> int:
        """The number of quads (triples across all named graphs)."""
        return self._size

    def query(self, sparql: str, *, timeout_s: float) -> QueryOutcome:
        """Parse and start evaluating a query over the union of the named graphs.

        Raises FederationNotAllowed, UpdateNotAllowed or QuerySyntaxError before any evaluation.
        Blocking: call it from a worker thread in async code.
        """
        deadline = time.monotonic() + timeout_s
        # Before the engine sees the text: pyoxigraph evaluates ASK at once and would contact a
        # SERVICE endpoint, which on a public server means fetching any URL a client names.
        if uses_service(sparql):
            raise FederationNotAllowed(
                "federated queries (SERVICE) are not supported: this server fetches no other URL"
            )
        try:
            result = self._engine.query(sparql, use_default_graph_as_union=True)
        except SyntaxError as error:
            if looks_like_update(sparql):
                raise UpdateNotAllowed(
                    "this endpoint is read-only: SPARQL Update requests are refused"
                ) from None
            raise QuerySyntaxError(error.msg) from None
        return QueryOutcome(result, deadline=deadline, timeout_s=timeout_s)
