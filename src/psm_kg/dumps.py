"""The downloadable dumps: the built dataset in every RDF format, each also gzipped.

Written by build.py into ``dist/dumps/`` and served by catalog.py at ``/dumps/{name}``:

- ``psm-kg.nq``, ``psm-kg.trig``: the dataset, every triple in its named graph (N-Quads is the
  canonical file of the build, byte for byte);
- ``psm-kg.ttl``, ``psm-kg.nt``, ``psm-kg.jsonld``, ``psm-kg.rdf``: the union graph (the default
  graph of the SPARQL endpoint), triples without their graph;
- each of them again with ``.gz``: gzip with no file name and time 0 in its header, so the same
  input always gives the same bytes.

Every file is deterministic: triples are sorted and blank nodes carry their RDFC-1.0 labels, so
two builds of the same inputs give the same bytes and the same SHA-256 (the ETag of the dump).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

import pyoxigraph as ox

from psm_kg import formats
from psm_kg.formats import Format

DUMPS_DIR = "dumps"
STEM = "psm-kg"
GZIP_MEDIA_TYPE = "application/gzip"

# The EU file-type authority's code for each format (dct:format in the catalogue).
FILE_TYPES: dict[Format, str] = {
    formats.N_QUADS: "RDF_N_QUADS",
    formats.TRIG: "RDF_TRIG",
    formats.TURTLE: "RDF_TURTLE",
    formats.N_TRIPLES: "RDF_N_TRIPLES",
    formats.JSON_LD: "JSON_LD",
    formats.RDF_XML: "RDF_XML",
}
DATASET_FORMATS = (formats.N_QUADS, formats.TRIG)
GRAPH_FORMATS = (formats.TURTLE, formats.N_TRIPLES, formats.JSON_LD, formats.RDF_XML)

# A dump name: the stem, one extension of the table, optionally .gz. Anything else is unknown,
# which also keeps "..", slashes and other path tricks away from the file system.
_NAME = re.compile(r"psm-kg\.(nq|trig|ttl|nt|jsonld|rdf)(\.gz)?")


@dataclass(frozen=True)
class Dump:
    name: str
    format: Format
    gzipped: bool
    union: bool  # the union graph (triples) rather than the dataset (quads)

    @property
    def media_type(self) -> str:
        """What the file is sent as: application/gzip for .gz, so clients keep the bytes as-is."""
        return GZIP_MEDIA_TYPE if self.gzipped else self.format.media_type


def all_dumps() -> tuple[Dump, ...]:
    """Every dump, in catalogue order: dataset formats first, each followed by its .gz."""
    dumps: list[Dump] = []
    for fmt in (*DATASET_FORMATS, *GRAPH_FORMATS):
        union = fmt in GRAPH_FORMATS
        name = f"{STEM}.{fmt.extension}"
        dumps += [Dump(name, fmt, False, union), Dump(name + ".gz", fmt, True, union)]
    return tuple(dumps)


def find(name: str) -> Dump | None:
    """The dump called ``name``, or None for any other string."""
    if not _NAME.fullmatch(name):
        return None
    return next((dump for dump in all_dumps() if dump.name == name), None)


def gzip_bytes(data: bytes) -> bytes:
    """Reproducible gzip: no file name, modification time 0, fixed compression level."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _union_triples(canonical: ox.Dataset) -> list[ox.Triple]:
    triples = {ox.Triple(q.subject, q.predicate, q.object) for q in canonical}
    return sorted(triples, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))


def _serialize(items: Iterable[ox.Triple], fmt: Format, prefixes: dict[str, str]) -> bytes:
    rdf_format = ox.RdfFormat.from_media_type(fmt.media_type)
    assert rdf_format is not None
    keep_prefixes = fmt in (formats.TURTLE, formats.RDF_XML, formats.JSON_LD)
    body = ox.serialize(items, format=rdf_format, prefixes=prefixes if keep_prefixes else None)
    assert body is not None
    return body


def render(
    canonical: ox.Dataset, nquads: bytes, trig: bytes, prefixes: dict[str, str]
) -> dict[str, bytes]:
    """Every dump by name. ``canonical`` has RDFC-1.0 blank node labels; ``nquads`` and ``trig``
    are the build's own files, reused byte for byte."""
    triples = _union_triples(canonical)
    plain: dict[Format, bytes] = {formats.N_QUADS: nquads, formats.TRIG: trig}
    for fmt in GRAPH_FORMATS:
        body = _serialize(triples, fmt, dict(sorted(prefixes.items())))
        if fmt is formats.N_TRIPLES:
            body = b"".join(sorted(body.splitlines(keepends=True)))
        plain[fmt] = body
    files: dict[str, bytes] = {}
    for dump in all_dumps():
        data = plain[dump.format]
        files[dump.name] = gzip_bytes(data) if dump.gzipped else data
    return files
