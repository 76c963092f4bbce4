"""The read-only query engine: the built dataset in an in-memory pyoxigraph store.

No HTTP here: the routers call :meth:`Store.query` in a worker thread and turn the exceptions below
into responses. The default graph of every query is the union of the named graphs (docs/model.md).

Exceptions::

    StoreError                  the dataset cannot be loaded (missing or corrupt dist/)
    QueryRejected               the request is not a query this endpoint runs
     ├── QuerySyntaxError       the text is not SPARQL 1.1 Query; carries the parser's message
     ├── SubstitutionRejected   a pre-bound variable (substitutions) is not in the SELECT projection
     ├── UpdateNotAllowed       the text is SPARQL Update; the served data is read-only
     ├── FederationNotAllowed   SERVICE names an endpoint that is not on the allow-list
     └── InvalidDataset         a default-graph-uri or named-graph-uri is not an absolute IRI
    QueryTimeout                evaluation ran past its deadline
    ResultTooLarge              the serialised result passed its byte cap
    BackendUnavailable          a remote SPARQL store (remote_store.py) is unreachable or failed

:class:`DatasetStore` is everything the routers use of a store; :class:`Store` (here) and
remote_store.RemoteStore implement it. The checks made before any engine sees a query (update
refusal, the SERVICE allow-list, substitutions) live here once: :func:`start_query` for the
embedded engine, :func:`check_query` for a store that evaluates elsewhere.

Timeouts here are cooperative: results are serialised through a writer that checks the deadline
each time the engine hands it bytes, which stops queries that produce many rows. A query that
computes long before its first row (a huge COUNT) cannot be interrupted inside pyoxigraph: the
worker processes of query_workers.py are there to end such a query by ending its process.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pyoxigraph as ox

from psm_kg import formats
from psm_kg.build import HASH_FILE, NQUADS_FILE
from psm_kg.errors import PsmKgError
from psm_kg.formats import Format
from psm_kg.sparql_text import (
    QueryForm,
    ask_as_select,
    has_dataset_clause,
    looks_like_update,
    query_form,
    service_targets,
    uses_service,
)

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


class StoreRefusedQuery(QueryRejected):
    """A remote store answered with an error about this query (a limit of its own, a construct
    it does not evaluate): asking again will not help, so not a 503."""

    title = "Query refused by the store"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class QuerySyntaxError(QueryRejected):
    title = "Malformed query"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        position = re.search(r"at (\d+):(\d+)", message)
        self.line = int(position.group(1)) if position else None
        self.column = int(position.group(2)) if position else None


class SubstitutionRejected(QueryRejected):
    title = "Variable cannot be bound"


class UpdateNotAllowed(QueryRejected):
    title = "SPARQL Update is not supported"


class FederationNotAllowed(QueryRejected):
    title = "SERVICE is not allowed"


class InvalidDataset(QueryRejected):
    title = "Invalid dataset"


class QueryTimeout(Exception):
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(f"the query ran longer than {timeout_s:g} s")


class ResultTooLarge(Exception):
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        super().__init__(f"the result is larger than {max_bytes} bytes")


class BackendUnavailable(Exception):
    """The SPARQL store the data are served from did not answer, or answered garbage."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"the SPARQL store at {url} is not answering: {reason}")


@dataclass(frozen=True)
class DatasetSpec:
    """The RDF dataset of a query, as the protocol's default-graph-uri and named-graph-uri set it.

    Given (even with one list empty), it replaces both the union default graph and the dataset
    of the query's own FROM and FROM NAMED clauses (SPARQL 1.1 Protocol, section 2.1.4).
    """

    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()

    @classmethod
    def checked(cls, default_graphs: Sequence[str], named_graphs: Sequence[str]) -> DatasetSpec:
        """A dataset whose graph names are absolute IRIs (InvalidDataset otherwise)."""
        for iri in (*default_graphs, *named_graphs):
            try:
                ox.NamedNode(iri)
            except ValueError:
                raise InvalidDataset(f"{iri!r} is not an absolute IRI") from None
        return cls(tuple(default_graphs), tuple(named_graphs))


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

# An RDF term a query variable can be pre-bound to (SEP-0007 substitutions).
Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
# What pyoxigraph answers a query with.
OxResult = ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples

# --- results -----------------------------------------------------------------------------------


class BoundedWriter(io.BytesIO):
    """Collects serialised bytes; raises QueryTimeout past the deadline, ResultTooLarge past
    ``max_bytes``."""

    def __init__(self, deadline: float, timeout_s: float, max_bytes: int | None) -> None:
        super().__init__()
        self._deadline = deadline
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes

    def write(self, data: ReadableBuffer, /) -> int:
        # pyoxigraph calls this for every buffered chunk while it pulls results from the engine,
        # and the exception propagates out of serialize(), which stops the evaluation.
        if time.monotonic() > self._deadline:
            raise QueryTimeout(self._timeout_s)
        written = super().write(data)
        if self._max_bytes is not None and self.tell() > self._max_bytes:
            raise ResultTooLarge(self._max_bytes)
        return written


class QueryOutcome:
    """The result of one query, evaluated lazily: :meth:`serialize` does the work, once.

    It wraps a pyoxigraph result, which must be used and freed on the thread that made it: create,
    serialise and drop an outcome in one worker thread (see sparql._evaluate_in_worker).
    """

    def __init__(
        self,
        result: OxResult,
        *,
        deadline: float,
        timeout_s: float,
    ) -> None:
        self._result = result
        self._deadline = deadline
        self._timeout_s = timeout_s
        self._consumed = False
        self.kind = kind_of(result)

    @property
    def formats(self) -> tuple[Format, ...]:
        """The formats this result can be written as, the default first."""
        return FORMATS_BY_KIND[self.kind]

    def serialize(self, fmt: Format, *, max_bytes: int | None = None) -> bytes:
        """The result in ``fmt``: QueryTimeout, ResultTooLarge past ``max_bytes``, or ValueError
        for a format of another kind."""
        if fmt not in self.formats:
            raise ValueError(f"a {self.kind} result cannot be written as {fmt.name}")
        if self._consumed:
            raise RuntimeError("results are streamed from the engine and can be serialised once")
        self._consumed = True
        writer = BoundedWriter(self._deadline, self._timeout_s, max_bytes)
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


class QueryResult(Protocol):
    """The result of one query: its kind, and its bytes in a format of that kind, once."""

    @property
    def kind(self) -> QueryKind: ...

    def serialize(self, fmt: Format, *, max_bytes: int | None = None) -> bytes: ...


class DatasetStore(Protocol):
    """Everything the routers and helpers use of a store: the built dataset, read-only."""

    @property
    def content_hash(self) -> str:
        """The sha256 of dist/psm-kg.nq: the seed of every ETag."""

    @property
    def source(self) -> Path | None:
        """The N-Quads file worker processes load, None when there is no local file."""

    def __len__(self) -> int: ...

    def graph_sizes(self) -> dict[str, int]: ...

    def union_size(self) -> int: ...

    def query(
        self,
        sparql: str,
        *,
        timeout_s: float,
        dataset: DatasetSpec | None = None,
        allowed_services: Sequence[str] = (),
        substitutions: Mapping[str, Term] | None = None,
    ) -> QueryResult: ...


# The size of the default graph (the union), as both stores count it.
UNION_SIZE_QUERY = "SELECT (COUNT(*) AS ?n) { SELECT DISTINCT ?s ?p ?o { ?s ?p ?o } }"


def count_in(result: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples) -> int:
    """The integer ?n of the one row of a counting query's result."""
    assert isinstance(result, ox.QuerySolutions)
    value = next(iter(result))["n"]
    assert isinstance(value, ox.Literal)
    return int(value.value)


class Store:
    """An immutable, in-memory dataset answering SPARQL 1.1 queries (a :class:`DatasetStore`)."""

    def __init__(self, engine: ox.Store, content_hash: str, source: Path | None = None) -> None:
        self._engine = engine
        self.content_hash = content_hash
        # The N-Quads file it was loaded from: worker processes load the same file.
        self.source = source
        self._size = len(engine)  # fixed: nothing writes after loading
        self._graph_sizes: dict[str, int] | None = None
        self._union_size: int | None = None

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
            # Parsed, then added: unlike Store.load, this keeps the canonical blank node labels of
            # the file, so every process that loads it (the query workers) writes the same answer
            # bytes for the same query, as a strong ETag promises.
            engine.extend(ox.parse(data, ox.RdfFormat.N_QUADS))
        except SyntaxError as error:
            raise StoreError(f"{path}:{error.lineno}: {error.msg}") from None
        return cls(engine, content_hash, path.absolute())

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

    def graph_sizes(self) -> dict[str, int]:
        """Triples per named graph, by graph IRI (computed once: the store never changes)."""
        if self._graph_sizes is None:
            sizes: dict[str, int] = {}
            for quad in self._engine:
                if isinstance(quad.graph_name, ox.NamedNode):
                    name = quad.graph_name.value
                    sizes[name] = sizes.get(name, 0) + 1
            self._graph_sizes = dict(sorted(sizes.items()))
        return self._graph_sizes

    def union_size(self) -> int:
        """Distinct triples in the default graph, the union of the named graphs."""
        if self._union_size is None:
            result = self._engine.query(UNION_SIZE_QUERY, use_default_graph_as_union=True)
            self._union_size = count_in(result)
        return self._union_size

    def query(
        self,
        sparql: str,
        *,
        timeout_s: float,
        dataset: DatasetSpec | None = None,
        allowed_services: Sequence[str] = (),
        substitutions: Mapping[str, Term] | None = None,
    ) -> QueryOutcome:
        """Parse and start evaluating a query over ``dataset``, by default the union of the
        named graphs as default graph, with every named graph.

        ``substitutions`` pre-binds variables (named without ``?``) to terms, as SEP-0007 defines:
        the values never become query text. A SELECT must project every substituted variable.

        Raises FederationNotAllowed, InvalidDataset, UpdateNotAllowed, QuerySyntaxError or
        SubstitutionRejected before any evaluation. Blocking: call it from a worker thread in
        async code.
        """
        deadline = time.monotonic() + timeout_s
        result = start_query(
            self._engine,
            sparql,
            dataset=dataset,
            allowed_services=allowed_services,
            substitutions=substitutions,
        )
        return QueryOutcome(result, deadline=deadline, timeout_s=timeout_s)


def start_query(
    engine: ox.Store,
    sparql: str,
    *,
    dataset: DatasetSpec | None = None,
    allowed_services: Sequence[str] = (),
    substitutions: Mapping[str, Term] | None = None,
) -> OxResult:
    """Check a query and start it on ``engine`` (see Store.query); the pyoxigraph result."""
    # Before the engine sees the text: pyoxigraph evaluates ASK at once and would contact a
    # SERVICE endpoint, which on a public server means fetching any URL a client names.
    if uses_service(sparql):
        check_services(sparql, allowed_services)
    bound = {ox.Variable(name): term for name, term in (substitutions or {}).items()} or None
    try:
        if dataset is None:
            # FROM and FROM NAMED set the dataset themselves; pyoxigraph would ignore them
            # under the union default graph.
            union = not has_dataset_clause(sparql)
            return engine.query(sparql, use_default_graph_as_union=union, substitutions=bound)
        default, named = _dataset_graphs(dataset)
        return engine.query(sparql, default_graph=default, named_graphs=named, substitutions=bound)
    except RuntimeError as error:
        # pyoxigraph: "The SPARQL query does not contains variable ?x in its SELECT projection"
        if bound is None or "projection" not in str(error):
            raise
        names = ", ".join(f"?{name}" for name in sorted(substitutions or {}))
        raise SubstitutionRejected(
            f"the query cannot bind {names}: a SELECT query must list every bound variable "
            "in its projection"
        ) from None
    except SyntaxError as error:
        if looks_like_update(sparql):
            raise UpdateNotAllowed(
                "this endpoint is read-only: SPARQL Update requests are refused"
            ) from None
        raise QuerySyntaxError(error.msg) from None


def kind_of(result: OxResult) -> QueryKind:
    if isinstance(result, ox.QuerySolutions):
        return QueryKind.SOLUTIONS
    if isinstance(result, ox.QueryBoolean):
        return QueryKind.BOOLEAN
    return QueryKind.GRAPH


def check_query(
    sparql: str,
    *,
    allowed_services: Sequence[str] = (),
    substitutions: Mapping[str, Term] | None = None,
) -> QueryKind:
    """The kind of result a query gives, after the checks :func:`start_query` makes (the same
    exceptions, the same messages), for a store that evaluates it elsewhere.

    The text is parsed by starting it on an empty engine and never reading the result. An ASK,
    which pyoxigraph would evaluate at once, is parsed as the equivalent SELECT; only when that
    fails is the ASK itself parsed again, for the parser's own message and position.
    """
    probe = sparql
    if query_form(sparql) is QueryForm.ASK:
        probe = ask_as_select(sparql)
    empty = ox.Store()
    try:
        result = start_query(
            empty,
            probe,
            allowed_services=allowed_services,
            substitutions=substitutions if probe is sparql else None,
        )
    except QuerySyntaxError:
        if probe is sparql:
            raise
        start_query(empty, sparql, allowed_services=allowed_services)
        raise
    if probe is not sparql:
        return QueryKind.BOOLEAN
    return kind_of(result)


def check_services(sparql: str, allowed: Sequence[str]) -> None:
    """FederationNotAllowed unless every SERVICE names an endpoint under an allowed prefix."""
    for target in service_targets(sparql):
        if target is None:
            raise FederationNotAllowed(
                "SERVICE must name its endpoint with an IRI: a variable could make this server "
                "fetch any URL"
            )
        if not any(target.startswith(prefix) for prefix in allowed):
            hint = (
                "this server fetches no other URL"
                if not allowed
                else "allowed endpoints start with: " + ", ".join(allowed)
            )
            raise FederationNotAllowed(f"SERVICE <{target}> is not allowed: {hint}")


_GraphName = ox.NamedNode | ox.BlankNode | ox.DefaultGraph


def _dataset_graphs(
    dataset: DatasetSpec,
) -> tuple[list[_GraphName] | ox.DefaultGraph, list[ox.NamedNode | ox.BlankNode]]:
    """pyoxigraph's default_graph and named_graphs for a protocol dataset."""
    try:
        default: list[_GraphName] = [ox.NamedNode(iri) for iri in dataset.default_graphs]
        named: list[ox.NamedNode | ox.BlankNode] = [
            ox.NamedNode(iri) for iri in dataset.named_graphs
        ]
    except ValueError as error:
        raise InvalidDataset(f"a graph IRI is not valid: {error}") from None
    # An empty default graph list would mean "the store's default graph" to pyoxigraph, which is
    # empty here (every triple is in a named graph): the protocol's empty default graph.
    return default or ox.DefaultGraph(), named
