"""Answers of a remote SPARQL store, written out as the embedded store writes them.

The store is asked for one interchange format (:data:`INTERCHANGE`); :class:`RemoteOutcome` parses
it with pyoxigraph and writes the negotiated format with pyoxigraph, so every format psm-kg offers
is offered and the bytes are the embedded store's for the same solutions in the same order. Two
engine habits are read here: Virtuoso's blank node labels in SPARQL XML (``nodeID://b10000``) and
its answer to ASK (solutions, not a boolean). An answer that is not the interchange format is the
store failing (store.BackendUnavailable).
"""

from __future__ import annotations

import re

import pyoxigraph as ox

from psm_kg import formats
from psm_kg.formats import Format
from psm_kg.store import FORMATS_BY_KIND, BackendUnavailable, BoundedWriter, QueryKind

# The interchange format asked of the store, by kind of result.
INTERCHANGE: dict[QueryKind, Format] = {
    QueryKind.SOLUTIONS: formats.SPARQL_XML,
    QueryKind.BOOLEAN: formats.SPARQL_XML,
    QueryKind.GRAPH: formats.N_TRIPLES,
}


class RemoteOutcome:
    """An answer fetched from the store, written out in a negotiated format on demand."""

    def __init__(
        self, kind: QueryKind, body: bytes, *, url: str, deadline: float, timeout_s: float
    ) -> None:
        self.kind = kind
        self._body = body
        self._url = url
        self._deadline = deadline
        self._timeout_s = timeout_s

    @property
    def formats(self) -> tuple[Format, ...]:
        return FORMATS_BY_KIND[self.kind]

    def serialize(self, fmt: Format, *, max_bytes: int | None = None) -> bytes:
        """The answer in ``fmt``, written by pyoxigraph as the embedded store writes it."""
        if fmt not in self.formats:
            raise ValueError(f"a {self.kind} result cannot be written as {fmt.name}")
        writer = BoundedWriter(self._deadline, self._timeout_s, max_bytes)
        try:
            self._write(fmt, writer)
        except (SyntaxError, ValueError) as error:
            raise BackendUnavailable(
                self._url, f"its answer is not {INTERCHANGE[self.kind].name}: {error}"
            ) from None
        except Exception as error:
            # The traceback's frames (_write's) hold pyoxigraph results, which must be freed on
            # this thread, while the exception may go on to another: it is dropped here.
            raise error.with_traceback(None) from None
        return writer.getvalue()

    def _write(self, fmt: Format, writer: BoundedWriter) -> None:
        if self.kind is QueryKind.GRAPH:
            rdf_format = ox.RdfFormat.from_media_type(fmt.media_type)
            assert rdf_format is not None, fmt
            triples = (quad.triple for quad in ox.parse(self._body, ox.RdfFormat.N_TRIPLES))
            ox.serialize(triples, writer, rdf_format)
        else:
            results = _parse_results(self.kind, self._body)
            results_format = ox.QueryResultsFormat.from_media_type(fmt.media_type)
            assert results_format is not None, fmt
            results.serialize(writer, results_format)


_XML_BNODE = re.compile(rb"<bnode>([^<]*)</bnode>")
_BNODE_LABEL = re.compile(rb"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?")
_XML_BOOLEAN = (
    b'<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#"><head/>'
    b"<boolean>%s</boolean></sparql>"
)


def _bnode_label(match: re.Match[bytes]) -> bytes:
    """A blank node label pyoxigraph accepts: Virtuoso writes ``nodeID://b10000`` in SPARQL XML
    (``_:b10000`` in N-Triples); anything else that is not a label is spelt in hex."""
    label = match.group(1).removeprefix(b"nodeID://")
    if not _BNODE_LABEL.fullmatch(label):
        label = b"x" + label.hex().encode()
    return b"<bnode>" + label + b"</bnode>"


def _parse_results(kind: QueryKind, body: bytes) -> ox.QuerySolutions | ox.QueryBoolean:
    """SPARQL XML results as pyoxigraph reads them; ValueError when not of ``kind``.

    Virtuoso 7 answers ASK with solutions (one row of ``__ASK_RETVAL`` for true, none for
    false): for an ASK, a row means true.
    """
    if b"<bnode>" in body:
        body = _XML_BNODE.sub(_bnode_label, body)
    results = ox.parse_query_results(body, ox.QueryResultsFormat.XML)
    if kind is QueryKind.BOOLEAN and isinstance(results, ox.QuerySolutions):
        answer = next(iter(results), None) is not None
        results = ox.parse_query_results(
            _XML_BOOLEAN % (b"true" if answer else b"false"), ox.QueryResultsFormat.XML
        )
    if (kind is QueryKind.BOOLEAN) != isinstance(results, ox.QueryBoolean):
        raise ValueError("the answer is not of the query's kind")
    return results
