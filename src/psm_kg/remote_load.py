"""Push the built dataset into a remote SPARQL 1.1 store, then check every graph arrived whole.

The dataset is dist/psm-kg.nq, one named graph per part, with the triple count of each graph in
dist/graphs.json (build.py). Each graph is written in one of two standard ways:

- **Graph Store HTTP Protocol** (when a Graph Store URL is given): one ``PUT ?graph=IRI`` with the
  graph as N-Triples, which replaces the graph; an empty graph is deleted instead.
- **SPARQL 1.1 Update** (otherwise): ``DROP SILENT GRAPH`` then inserts of at most ``chunk``
  triples each, sent as ``application/sparql-update``. Triples that share a blank node go in the
  same request (a blank node label names a fresh node in every request), in ``INSERT { } WHERE { }``
  since Virtuoso 7 refuses blank nodes in ``INSERT DATA``; the other chunks use ``INSERT DATA``.

Both replace what the store held in those graphs, so a second load changes nothing. Graphs of
the store that the dataset does not name are left alone. Then ``SELECT (COUNT(*) AS ?n)`` per
graph on the query endpoint gives the counts that :func:`verify` compares.

Credentials, when given, answer an HTTP Digest challenge (Virtuoso's ``-auth`` endpoints); they
are never sent before the server asks. Every request is bounded by the target's timeout.

Exceptions::

    RemoteLoadError        base: the load cannot go on; the message is for people (exit 2)
     ├── DistError         dist/ is missing, unreadable or inconsistent with graphs.json
     └── EndpointError     a request failed: unreachable, timed out, an HTTP error status, or an
                           answer that is not SPARQL results; names the method, URL and status
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from psm_kg.build import GRAPHS_FILE, NQUADS_FILE
from psm_kg.errors import PsmKgError

if TYPE_CHECKING:
    import httpx2

N_TRIPLES = "application/n-triples"
SPARQL_UPDATE = "application/sparql-update"
SPARQL_JSON = "application/sparql-results+json"
DEFAULT_CHUNK = 100
DEFAULT_TIMEOUT_S = 60.0
# How much of an error answer's body goes into the message.
DETAIL_CHARS = 300


class RemoteLoadError(PsmKgError):
    """The dataset cannot be loaded or checked; the message names what and where."""


class DistError(RemoteLoadError):
    """dist/ cannot be read, or psm-kg.nq and graphs.json disagree."""


class EndpointError(RemoteLoadError):
    """A request to the store failed; ``status`` is the HTTP status when there was an answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class Target:
    """Where the dataset goes. ``update_url`` defaults to ``query_url``; with ``graph_store_url``
    the graphs are written through the Graph Store HTTP Protocol instead of SPARQL Update."""

    query_url: str
    update_url: str | None = None
    graph_store_url: str | None = None
    user: str | None = None
    password: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S

    def check(self) -> None:
        """RemoteLoadError for a URL that is not http(s) or a timeout that is not positive."""
        for url in (self.query_url, self.update_url, self.graph_store_url):
            if url is not None and not url.startswith(("http://", "https://")):
                raise RemoteLoadError(f"{url!r} is not an http:// or https:// URL")
        if not self.timeout_s > 0:
            raise RemoteLoadError(f"the timeout must be positive, not {self.timeout_s}")


@dataclass(frozen=True)
class GraphData:
    """One named graph of the dataset: its triples and the count graphs.json records."""

    iri: str
    triples: tuple[ox.Triple, ...]

    @property
    def expected(self) -> int:
        return len(self.triples)


@dataclass(frozen=True)
class Mismatch:
    graph: str
    expected: int
    found: int

    def __str__(self) -> str:
        return f"{self.graph}: expected {self.expected} triples, found {self.found}"


# --- the dataset ---------------------------------------------------------------------------------


def read_dist(dist_dir: Path) -> list[GraphData]:
    """The named graphs of dist/, sorted by IRI, checked against the counts of graphs.json."""
    nquads, graphs_json = dist_dir / NQUADS_FILE, dist_dir / GRAPHS_FILE
    try:
        document = json.loads(graphs_json.read_text(encoding="utf-8"))
        counts = document["graphs"]
        if not isinstance(counts, dict):
            raise TypeError
    except OSError as error:
        raise DistError(f"{graphs_json}: {error.strerror or error}: run psm-kg build") from None
    except (ValueError, KeyError, TypeError):
        raise DistError(f"{graphs_json}: not the graphs.json psm-kg build writes") from None
    triples: dict[str, list[ox.Triple]] = {str(iri): [] for iri in counts}
    try:
        for quad in ox.parse(path=nquads, format=ox.RdfFormat.N_QUADS):
            if not isinstance(quad.graph_name, ox.NamedNode):
                raise DistError(f"{nquads}: a triple outside the named graphs: run psm-kg build")
            triples.setdefault(quad.graph_name.value, []).append(quad.triple)
    except OSError as error:
        raise DistError(f"{nquads}: {error.strerror or error}: run psm-kg build") from None
    except SyntaxError as error:
        raise DistError(f"{nquads}:{error.lineno}: {error.msg}") from None
    for iri, found in triples.items():
        if counts.get(iri) != len(found):
            raise DistError(
                f"{dist_dir} is inconsistent: {GRAPHS_FILE} gives {counts.get(iri)} triples for "
                f"{iri}, {NQUADS_FILE} holds {len(found)}: run psm-kg build"
            )
    return [GraphData(iri, tuple(found)) for iri, found in sorted(triples.items())]


def _blank_labels(triple: ox.Triple) -> list[str]:
    return [t.value for t in (triple.subject, triple.object) if isinstance(t, ox.BlankNode)]


def chunks(triples: Sequence[ox.Triple], size: int) -> Iterator[list[ox.Triple]]:
    """The triples in groups of at most ``size``, in their order, never splitting the triples
    connected through blank nodes (such a group larger than ``size`` is sent alone)."""
    parent: dict[str, str] = {}

    def root(label: str) -> str:
        while parent.setdefault(label, label) != label:
            parent[label] = parent[parent[label]]
            label = parent[label]
        return label

    for triple in triples:
        labels = _blank_labels(triple)
        for other in labels[1:]:
            parent[root(other)] = root(labels[0])
    units: dict[str, list[ox.Triple]] = {}
    ordered: list[list[ox.Triple]] = []
    for triple in triples:
        labels = _blank_labels(triple)
        if not labels:
            ordered.append([triple])
            continue
        unit = units.get(root(labels[0]))
        if unit is None:
            unit = units[root(labels[0])] = []
            ordered.append(unit)
        unit.append(triple)
    batch: list[ox.Triple] = []
    for unit in ordered:
        if batch and len(batch) + len(unit) > size:
            yield batch
            batch = []
        batch.extend(unit)
    if batch:
        yield batch


def insert_request(graph: str, triples: Sequence[ox.Triple]) -> str:
    """A SPARQL Update adding ``triples`` to ``graph``: INSERT DATA, or INSERT { } WHERE { } when
    a blank node occurs (one solution, so each label is one fresh node)."""
    body = "\n".join(f"    {t.subject} {t.predicate} {t.object} ." for t in triples)
    if any(_blank_labels(t) for t in triples):
        return f"INSERT {{ GRAPH <{graph}> {{\n{body}\n}} }} WHERE {{}}"
    return f"INSERT DATA {{ GRAPH <{graph}> {{\n{body}\n}} }}"


# --- HTTP ----------------------------------------------------------------------------------------


def open_client(target: Target) -> httpx2.Client:
    """A client for ``target``: its timeout on every request, Digest credentials if given."""
    # Imported here: the command line loads this module for every command, not only `load`.
    import httpx2

    target.check()
    auth = None
    if target.user is not None:
        auth = httpx2.DigestAuth(target.user, target.password or "")
    return httpx2.Client(auth=auth, timeout=target.timeout_s)


def _send(
    client: httpx2.Client,
    method: str,
    url: str,
    *,
    params: dict[str, str] | None = None,
    content: bytes | None = None,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    ok: Sequence[int] = (),
) -> httpx2.Response:
    """The answer to one request; EndpointError unless it is 2xx (or in ``ok``)."""
    import httpx2

    shown = url if not params else f"{url}?{'&'.join(f'{k}={v}' for k, v in params.items())}"
    try:
        response = client.request(
            method, url, params=params, content=content, data=data, headers=headers
        )
    except httpx2.TimeoutException:
        timeout = client.timeout.read
        within = f" within {timeout:g} s" if timeout is not None else ""
        raise EndpointError(f"{method} {shown}: no answer{within}") from None
    except httpx2.HTTPError as error:
        raise EndpointError(f"{method} {shown}: cannot reach the store ({error})") from None
    except httpx2.InvalidURL as error:
        raise EndpointError(f"{url!r} is not a usable URL: {error}") from None
    if not (200 <= response.status_code < 300 or response.status_code in ok):
        detail = " ".join(response.text.split())[:DETAIL_CHARS]
        hint = " (check --user and --password)" if response.status_code in (401, 403) else ""
        message = f"{method} {shown}: HTTP {response.status_code} {response.reason_phrase}{hint}"
        raise EndpointError(
            message + (f": {detail}" if detail else ""), status=response.status_code
        )
    return response


def put_graph(client: httpx2.Client, graph_store_url: str, graph: GraphData) -> None:
    """Replace ``graph`` in the store with one Graph Store PUT (DELETE when it is empty)."""
    params = {"graph": graph.iri}
    if not graph.triples:
        _send(client, "DELETE", graph_store_url, params=params, ok=(404,))
        return
    body = ox.serialize(graph.triples, format=ox.RdfFormat.N_TRIPLES)
    assert body is not None  # serialize returns bytes when no output is given
    _send(
        client,
        "PUT",
        graph_store_url,
        params=params,
        content=body,
        headers={"Content-Type": N_TRIPLES},
    )


def update_graph(client: httpx2.Client, update_url: str, graph: GraphData, chunk: int) -> None:
    """Replace ``graph`` with SPARQL Update: DROP SILENT GRAPH with the first insert, then the
    other inserts, each of at most ``chunk`` triples (blank-node groups kept whole)."""
    requests = [insert_request(graph.iri, batch) for batch in chunks(graph.triples, chunk)]
    first = f"DROP SILENT GRAPH <{graph.iri}>"
    requests = [f"{first} ;\n{requests[0]}", *requests[1:]] if requests else [first]
    for text in requests:
        _send(
            client,
            "POST",
            update_url,
            content=text.encode("utf-8"),
            headers={"Content-Type": f"{SPARQL_UPDATE}; charset=utf-8"},
        )


def count_triples(client: httpx2.Client, query_url: str, graph: str) -> int:
    """The number of triples the store holds in ``graph``, by a COUNT query."""
    query = f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    response = _send(
        client, "POST", query_url, data={"query": query}, headers={"Accept": SPARQL_JSON}
    )
    try:
        results: Any = response.json()
        return int(results["results"]["bindings"][0]["n"]["value"])
    except (ValueError, KeyError, IndexError, TypeError):
        kind = response.headers.get("content-type", "no content type")
        raise EndpointError(
            f"POST {query_url}: the count of {graph} is not in the answer ({kind}): "
            "is this the store's SPARQL query endpoint?",
            status=response.status_code,
        ) from None


# --- the steps -----------------------------------------------------------------------------------


def load(
    client: httpx2.Client,
    target: Target,
    graphs: Sequence[GraphData],
    *,
    chunk: int = DEFAULT_CHUNK,
    on_graph: Callable[[GraphData, float], None] | None = None,
) -> None:
    """Write every graph into the store; ``on_graph(graph, seconds)`` after each one."""
    if chunk < 1:
        raise RemoteLoadError(f"chunk must be at least 1 triple, not {chunk}")
    for graph in graphs:
        began = time.perf_counter()
        if target.graph_store_url is not None:
            put_graph(client, target.graph_store_url, graph)
        else:
            update_graph(client, target.update_url or target.query_url, graph, chunk)
        if on_graph is not None:
            on_graph(graph, time.perf_counter() - began)


def verify(
    client: httpx2.Client, target: Target, graphs: Sequence[GraphData]
) -> tuple[list[tuple[str, int]], list[Mismatch]]:
    """The count the store gives for each graph, and those that differ from the dataset's."""
    found = [(graph.iri, count_triples(client, target.query_url, graph.iri)) for graph in graphs]
    mismatches = [
        Mismatch(graph.iri, graph.expected, count)
        for graph, (_iri, count) in zip(graphs, found, strict=True)
        if count != graph.expected
    ]
    return found, mismatches
