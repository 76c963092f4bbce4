"""The served dataset in a remote SPARQL 1.1 store (Oxigraph server, Virtuoso...): `serve --store`.

:class:`RemoteStore` is a store.DatasetStore whose queries are answered by a store the dataset
was loaded into with `psm-kg load`. What the routers see does not change:

- **the same dataset**: the content hash and the graph list come from the local build (dist/);
  :func:`connect` checks, at start-up, that the store holds each graph of graphs.json with the
  same triple count (remote_load.verify), and refuses to serve otherwise;
- **the same default graph**: the union of the dataset's named graphs. Engines differ (Virtuoso's
  default graph is everything it holds, the Oxigraph server's is its own empty default graph),
  so a request naming no dataset is sent with a ``default-graph-uri`` and a ``named-graph-uri``
  for each graph of graphs.json, unless the query has FROM or FROM NAMED. An engine whose own
  dataset is found to be the built one at start-up (:meth:`RemoteStore.use_own_dataset`: the
  Oxigraph server with ``--union-default-graph`` holding only the dataset) is sent such a
  request as it is, which it answers faster. A dataset the request names is passed on;
- **the same checks and errors**: every query is checked here first, as the embedded store
  checks it (store.check_query: parsed by pyoxigraph, update refusal, SERVICE allow-list,
  substitutions), so a malformed query gets the same 400 and an update never reaches the store;
- **the same bytes**: answers are fetched in one interchange format (SPARQL XML for SELECT and
  ASK, N-Triples for CONSTRUCT and DESCRIBE), parsed and written by pyoxigraph into the format
  the client negotiated, exactly as the embedded store writes it;
- **bindings**: the protocol has no pre-binding, so SEP-0007 substitution is done on the text
  (sparql_text.substitute) with terms pyoxigraph writes, never with client text.

Every request is bounded by the query's timeout and the download by a byte cap. Failures::

    QuerySyntaxError        the store answered 400 (its message is passed on)
    QueryTimeout            no complete answer within the timeout (or the store said it timed out)
    ResultTooLarge          the answer passed the download cap
    BackendUnavailable      unreachable, an HTTP error status, or an answer that is not results

Answers are parsed and written in remote_results.py; the evaluator for /sparql and the API is
remote_evaluation.RemoteEvaluator.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from psm_kg import formats
from psm_kg.build import GRAPHS_FILE, HASH_FILE
from psm_kg.config import Settings
from psm_kg.remote_results import INTERCHANGE, RemoteOutcome
from psm_kg.sparql_text import dataset_clauses, has_dataset_clause, substitute
from psm_kg.store import (
    UNION_SIZE_QUERY,
    BackendUnavailable,
    DatasetSpec,
    DatasetStore,
    QueryKind,
    QueryRejected,
    QuerySyntaxError,
    QueryTimeout,
    ResultTooLarge,
    Store,
    StoreError,
    StoreRefusedQuery,
    Term,
    check_query,
    count_in,
)

if TYPE_CHECKING:
    import httpx2

# The interchange formats are more verbose than the compact ones a client may ask for: the
# download may be this many times the result cap before it is refused.
DOWNLOAD_FACTOR = 4
# A dataset with an empty default graph (or no named graph) names this graph, which no store
# holds: an empty list would mean "the store's own choice" to some engines.
NO_GRAPH = "urn:psm-kg:no-graph"
# /healthz and the start-up retries: how long one probe of the store may take.
PROBE_TIMEOUT_S = 3.0
UNION_TIMEOUT_S = 60.0
DETAIL_CHARS = 300
# Asked of the store's own dataset (no dataset fields) by RemoteStore.use_own_dataset.
# Grouped counts rather than SELECT DISTINCT ?g: Virtuoso answers these in 0.2 s at 1M triples
# in 334 graphs, and took more than 60 s over the DISTINCT.
OWN_GRAPHS_QUERY = "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
TRIPLES_QUERY = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"

# Virtuoso answers an error of its own about a query with HTTP 500 and "Virtuoso SQLSTATE Error
# ...": 22023 for a limit it puts on sorting, say. Connection (08) and transaction (40) states
# are about the store, not the query.
_VIRTUOSO_ERROR = re.compile(r"Virtuoso (?P<state>[0-9A-Z]{5}) Error")
_TRANSIENT_STATES = ("08", "40")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteRequest:
    """One query as it is sent: the form fields, the Accept header, the kind of the answer."""

    kind: QueryKind
    fields: dict[str, str | list[str]]

    @property
    def accept(self) -> str:
        return INTERCHANGE[self.kind].media_type


class RemoteStore:
    """The built dataset as a remote SPARQL 1.1 query endpoint holds it (a DatasetStore)."""

    def __init__(
        self,
        url: str,
        content_hash: str,
        graphs: Mapping[str, int],
        *,
        max_download_bytes: int,
    ) -> None:
        self.url = url
        self.content_hash = content_hash
        self.source: Path | None = None  # no local file: nothing for worker processes
        self._graphs = dict(sorted(graphs.items()))
        self._size = sum(self._graphs.values())
        self.max_download_bytes = max_download_bytes
        self._union_size: int | None = None
        self._sends_dataset = True
        self._client: httpx2.Client | None = None
        self._lock = threading.Lock()

    # --- the dataset -------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._size

    @property
    def graphs(self) -> tuple[str, ...]:
        """Every graph of graphs.json, empty ones included."""
        return tuple(self._graphs)

    def graph_sizes(self) -> dict[str, int]:
        """Triples per named graph (as the embedded store counts them: non-empty graphs only)."""
        return {name: size for name, size in self._graphs.items() if size}

    def union_size(self) -> int:
        """Distinct triples in the default graph, counted by the store (once it has answered)."""
        if self._union_size is None:
            outcome = self.query(UNION_SIZE_QUERY, timeout_s=UNION_TIMEOUT_S)
            body = outcome.serialize(formats.SPARQL_JSON)
            self._union_size = count_in(ox.parse_query_results(body, ox.QueryResultsFormat.JSON))
        return self._union_size

    @property
    def sends_dataset(self) -> bool:
        """Whether a query that names no dataset is sent with the graphs of graphs.json (True)
        or as it is, to the store's own dataset (False: see :meth:`use_own_dataset`)."""
        return self._sends_dataset

    def use_own_dataset(self, timeout_s: float) -> str | None:
        """Send queries that name no dataset as they are from now on, if the store's own dataset
        is the built one: None then; else why not, and nothing changes. Each query it asks is
        bounded by ``timeout_s``; any failure keeps the graph lists.

        Asked with no dataset fields, the store must give: (1) as the named graphs holding
        triples and their counts, exactly the non-empty graphs of graphs.json and theirs; (2) as
        many distinct triples in its default graph as union_size() (the union of those graphs,
        named explicitly); (3) as many triples, duplicates included, as the same count asked
        with the graph lists.

        Why counts are enough: in an engine whose default graph is the union of all its graphs
        (the Oxigraph server with ``--union-default-graph``), (1) makes that union hold every
        triple of the dataset's union, and perhaps more (those of its own default graph). A
        finite set that contains another and has as many elements (2) is that set. (3) then
        rules out triples held twice (in its own default graph as well), which would repeat
        solutions; it is not compared with (2)'s number, since an engine may count a triple
        once per graph holding it (the Oxigraph server and pyoxigraph do) and the dataset's
        graphs share some triples.

        What it assumes: that the default graph is such a union; this is not checked. An engine
        whose default graph is its own (the Oxigraph server without the flag) passes (2) only
        if that graph holds as many distinct triples as the dataset's union: empty, as `psm-kg
        load` leaves it, it fails. Virtuoso fails (1) with its system graphs. Like
        remote_load.verify it reads counts, not contents, and it holds at start-up: a graph
        loaded into the store later is not seen, as the content hash already assumes.
        """
        try:
            found = self._plain_rows(OWN_GRAPHS_QUERY, timeout_s)
            counts = {_graph_name(row["g"]): _integer(row["n"]) for row in found}
            expected = self.graph_sizes()
            if counts.keys() != expected.keys():
                extra = len(counts.keys() - expected.keys())
                missing = len(expected.keys() - counts.keys())
                return f"its named graphs are not the dataset's ({extra} more, {missing} missing)"
            if counts != expected:
                return "its named graphs do not hold the dataset's triple counts"
            distinct = count_in(self._plain_rows(UNION_SIZE_QUERY, timeout_s))
            if distinct != self.union_size():
                return (
                    f"its default graph holds {distinct} distinct triples, "
                    f"not the {self.union_size()} of the dataset's union"
                )
            plain = count_in(self._plain_rows(TRIPLES_QUERY, timeout_s))
            listed = count_in(self._solutions(self.request(TRIPLES_QUERY), timeout_s))
            if plain != listed:
                return f"its default graph holds {plain} triples, not {listed}"
        except (QueryRejected, QueryTimeout, ResultTooLarge, BackendUnavailable) as error:
            return f"a query about its own dataset failed: {error}"
        self._sends_dataset = False
        return None

    def _plain_rows(self, sparql: str, timeout_s: float) -> ox.QuerySolutions:
        """The store's answer to ``sparql`` asked of its own dataset (no dataset fields)."""
        return self._solutions(RemoteRequest(QueryKind.SOLUTIONS, {"query": sparql}), timeout_s)

    def _solutions(self, request: RemoteRequest, timeout_s: float) -> ox.QuerySolutions:
        deadline = time.monotonic() + timeout_s
        body = self.fetch(request, deadline, timeout_s, self.max_download_bytes)
        json = self.outcome(request, body, deadline, timeout_s).serialize(formats.SPARQL_JSON)
        result = ox.parse_query_results(json, ox.QueryResultsFormat.JSON)
        assert isinstance(result, ox.QuerySolutions)
        return result

    # --- queries -----------------------------------------------------------------------------

    def request(
        self,
        sparql: str,
        *,
        dataset: DatasetSpec | None = None,
        allowed_services: Sequence[str] = (),
        substitutions: Mapping[str, Term] | None = None,
    ) -> RemoteRequest:
        """Check the query as the embedded store would, then write the request that asks it."""
        kind = check_query(sparql, allowed_services=allowed_services, substitutions=substitutions)
        text = substitute(sparql, {name: str(term) for name, term in (substitutions or {}).items()})
        fields: dict[str, str | list[str]] = {"query": text}
        has_clauses = has_dataset_clause(text)
        clauses = dataset_clauses(text) if has_clauses else None
        if dataset is not None:
            # The protocol's dataset wins over FROM (SPARQL 1.1 Protocol 2.1.4); Virtuoso lets
            # FROM win, so the clauses are taken out of the text it gets.
            if clauses is not None:
                fields["query"] = clauses.removed_from(text)
            fields["default-graph-uri"] = list(dataset.default_graphs) or [NO_GRAPH]
            fields["named-graph-uri"] = list(dataset.named_graphs) or [NO_GRAPH]
        elif clauses is not None:
            # FROM and FROM NAMED as protocol fields too: the Oxigraph server with
            # --union-default-graph keeps its union as the default graph despite FROM.
            fields["default-graph-uri"] = list(clauses.default_graphs) or [NO_GRAPH]
            fields["named-graph-uri"] = list(clauses.named_graphs) or [NO_GRAPH]
        elif self._sends_dataset and not has_clauses:  # FROM it cannot resolve: left as sent
            fields["default-graph-uri"] = list(self._graphs)
            fields["named-graph-uri"] = list(self._graphs)
        return RemoteRequest(kind, fields)

    def query(
        self,
        sparql: str,
        *,
        timeout_s: float,
        dataset: DatasetSpec | None = None,
        allowed_services: Sequence[str] = (),
        substitutions: Mapping[str, Term] | None = None,
    ) -> RemoteOutcome:
        """As store.Store.query, answered by the remote store. Blocking: call it from a thread
        in async code (the page handlers run in FastAPI's thread pool)."""
        deadline = time.monotonic() + timeout_s
        request = self.request(
            sparql,
            dataset=dataset,
            allowed_services=allowed_services,
            substitutions=substitutions,
        )
        body = self.fetch(request, deadline, timeout_s, self.max_download_bytes)
        return self.outcome(request, body, deadline, timeout_s)

    def outcome(
        self, request: RemoteRequest, body: bytes, deadline: float, timeout_s: float
    ) -> RemoteOutcome:
        return RemoteOutcome(
            request.kind, body, url=self.url, deadline=deadline, timeout_s=timeout_s
        )

    def _sync_client(self) -> httpx2.Client:
        import httpx2

        with self._lock:
            if self._client is None:
                self._client = httpx2.Client(timeout=UNION_TIMEOUT_S)
            return self._client

    def fetch(self, request: RemoteRequest, deadline: float, timeout_s: float, cap: int) -> bytes:
        """The store's answer to ``request``, read within ``deadline`` and ``cap`` bytes."""
        import httpx2

        client = self._sync_client()
        try:
            with client.stream(
                "POST",
                self.url,
                data=request.fields,
                headers={"Accept": request.accept},
                timeout=_remaining(deadline, timeout_s),
            ) as response:
                if response.status_code != 200:
                    response.read()
                    raise answer_error(self.url, response.status_code, response.text, timeout_s)
                return collect(response.iter_bytes(), deadline, timeout_s, cap)
        except httpx2.TimeoutException:
            raise QueryTimeout(timeout_s) from None
        except httpx2.HTTPError as error:
            raise BackendUnavailable(self.url, transport_reason(error)) from None

    def probe(self, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
        """None when the store answers ``ASK {}``; else why not (for /healthz). Blocking."""
        try:
            self.query("ASK {}", timeout_s=timeout_s).serialize(formats.SPARQL_JSON)
        except QueryTimeout:
            return f"no answer within {timeout_s:g} s"
        except BackendUnavailable as error:
            return error.reason
        return None

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


# --- shared by the synchronous and asynchronous requests ----------------------------------------


def _integer(term: object) -> int | None:
    """The value of an integer literal; None for anything else (never equal to a count)."""
    try:
        return int(term.value) if isinstance(term, ox.Literal) else None
    except ValueError:
        return None


def _graph_name(term: object) -> str:
    """A graph's IRI; any other term as written (never equal to an IRI of graphs.json)."""
    return term.value if isinstance(term, ox.NamedNode) else str(term)


def _remaining(deadline: float, timeout_s: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise QueryTimeout(timeout_s)
    return left


def collect(chunks: Iterable[bytes], deadline: float, timeout_s: float, cap: int) -> bytes:
    """The chunks joined; QueryTimeout past the deadline, ResultTooLarge past ``cap`` bytes."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        check_progress(len(body), deadline, timeout_s, cap)
    return bytes(body)


def check_progress(size: int, deadline: float, timeout_s: float, cap: int) -> None:
    if size > cap:
        raise ResultTooLarge(cap // DOWNLOAD_FACTOR)
    if time.monotonic() > deadline:
        raise QueryTimeout(timeout_s)


def answer_error(url: str, status: int, text: str, timeout_s: float) -> Exception:
    """The exception for an answer that is not 200."""
    detail = " ".join(text.split())[:DETAIL_CHARS]
    if status == 400:
        return QuerySyntaxError(f"the SPARQL store refused the query: {detail or 'HTTP 400'}")
    lowered = detail.lower()
    if status >= 500 and ("timeout" in lowered or "timed out" in lowered or "s1t00" in lowered):
        return QueryTimeout(timeout_s)
    engine_error = _VIRTUOSO_ERROR.match(detail)
    if status == 500 and engine_error and not engine_error["state"].startswith(_TRANSIENT_STATES):
        return StoreRefusedQuery(f"the SPARQL store could not evaluate the query: {detail}")
    return BackendUnavailable(url, f"HTTP {status}" + (f": {detail}" if detail else ""))


def transport_reason(error: Exception) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# --- start-up ------------------------------------------------------------------------------------


def connect(
    url: str, dist_dir: Path, *, max_result_bytes: int, wait_s: float, timeout_s: float = 60.0
) -> RemoteStore:
    """The store at ``url``, once it holds every graph of ``dist_dir`` with its triple count.

    Waits up to ``wait_s`` for the store to answer; StoreError (a message for people, with the
    command to run) when it does not, or when a graph is missing or differs.
    """
    from psm_kg import remote_load

    hash_path = dist_dir / HASH_FILE
    try:
        content_hash = hash_path.read_text(encoding="ascii").strip()
        graphs = remote_load.read_dist(dist_dir)
    except (OSError, UnicodeDecodeError):
        raise StoreError(f"{hash_path} is missing or unreadable; run `psm-kg build`") from None
    except remote_load.RemoteLoadError as error:
        raise StoreError(str(error)) from None
    target = remote_load.Target(query_url=url, timeout_s=min(timeout_s, max(wait_s, 1.0)))
    try:
        target.check()
    except remote_load.RemoteLoadError as error:
        raise StoreError(str(error)) from None
    load_hint = f"load the dataset with `psm-kg load --into {url}` (docs/deploy.md)"
    deadline = time.monotonic() + wait_s
    with remote_load.open_client(target) as client:
        while True:
            try:
                _found, mismatches = remote_load.verify(client, target, graphs)
                break
            except remote_load.EndpointError as error:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"the SPARQL store at {url} is not answering after {wait_s:g} s "
                        f"({error}); start it, then {load_hint}"
                    ) from None
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    if mismatches:
        listed = "; ".join(str(mismatch) for mismatch in mismatches)
        raise StoreError(
            f"the SPARQL store at {url} does not hold the built dataset ({GRAPHS_FILE}): "
            f"{listed}; {load_hint}"
        )
    store = RemoteStore(
        url,
        content_hash,
        {graph.iri: graph.expected for graph in graphs},
        max_download_bytes=max_result_bytes * DOWNLOAD_FACTOR,
    )
    try:
        store.union_size()  # now, so the Service Description never waits for the store
    except (BackendUnavailable, QueryTimeout) as error:
        raise StoreError(f"the SPARQL store at {url} failed a query: {error}") from None
    why_not = store.use_own_dataset(target.timeout_s)
    if why_not is None:
        logger.info(
            "the SPARQL store at %s holds only the built dataset, its default graph their union: "
            "queries that name no dataset are sent as they are",
            url,
        )
    else:
        logger.info(
            "queries that name no dataset are sent to the SPARQL store at %s with the %d graphs "
            "of %s: %s",
            url,
            len(graphs),
            GRAPHS_FILE,
            why_not,
        )
    return store


def open_store(settings: Settings) -> DatasetStore:
    """The store to serve: the remote one of settings.store_url (checked by :func:`connect`,
    waiting up to settings.store_wait_s), else dist/ loaded in memory. StoreError otherwise."""
    if settings.store_url is not None:
        return connect(
            settings.store_url,
            settings.dist_dir,
            max_result_bytes=settings.max_result_bytes,
            wait_s=settings.store_wait_s,
        )
    return Store.from_dist(settings.dist_dir)
