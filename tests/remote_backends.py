"""The served dataset in real SPARQL engines (tests/engines.py), for the `serve --store` tests.

A module starts each engine once (:func:`engine_fixture`), loads a built dist/ into it with
remote_load (Graph Store PUTs, Digest credentials for Virtuoso), and connects a RemoteStore.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib.compare import isomorphic

from engines import EngineServer, EngineUnavailable, unavailable
from psm_kg import remote_load
from psm_kg.remote_store import RemoteStore, connect

ENGINES = ("oxigraph", "virtuoso")
BACKENDS = ("embedded", *ENGINES)


def started(
    test: str, starter: Callable[[], AbstractContextManager[EngineServer]]
) -> Iterator[EngineServer]:
    """The engine until the fixture ends; skipped (failed under CI) when it is not installed."""
    try:
        with starter() as server:
            yield server
    except EngineUnavailable as error:
        unavailable(test, str(error))


def load_dist(server: EngineServer, dist_dir: Path) -> None:
    """Put dist/ into the engine, as `psm-kg load --graph-store` does."""
    target = remote_load.Target(
        query_url=server.query_url,
        graph_store_url=server.graph_store_url,
        user=server.user,
        password=server.password,
    )
    graphs = remote_load.read_dist(dist_dir)
    with remote_load.open_client(target) as client:
        remote_load.load(client, target, graphs)
        _found, mismatches = remote_load.verify(client, target, graphs)
    assert not mismatches, mismatches


def remote_store(server: EngineServer, dist_dir: Path, max_result_bytes: int) -> RemoteStore:
    return connect(server.query_url, dist_dir, max_result_bytes=max_result_bytes, wait_s=5.0)


def rdf(data: bytes, media_type: str) -> rdflib.Graph:
    """Any RDF answer as an rdflib graph (through N-Triples: quads lose their graph)."""
    rdf_format = ox.RdfFormat.from_media_type(media_type.split(";")[0])
    assert rdf_format is not None, media_type
    triples = [q.triple if isinstance(q, ox.Quad) else q for q in ox.parse(data, rdf_format)]
    text = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
    assert text is not None
    return rdflib.Graph().parse(data=text.decode("utf-8"), format="nt")


def same_graph(a: bytes, b: bytes, media_type: str) -> bool:
    return isomorphic(rdf(a, media_type), rdf(b, media_type))
