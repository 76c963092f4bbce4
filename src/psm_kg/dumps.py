"""The downloadable dumps: the built dataset in every RDF format, each also gzipped.

Written by build.py into ``dist/dumps/`` and served by catalog.py at ``/dumps/{name}``:

- ``psm-kg.nq``, ``psm-kg.trig``: the dataset, every triple in its named graph (N-Quads is the
  canonical file of the build, byte for byte);
- ``psm-kg.ttl``, ``psm-kg.nt``, ``psm-kg.jsonld``, ``psm-kg.rdf``: the union graph (the default
  graph of the SPARQL endpoint), triples without their graph;
- each of them again with ``.gz``: gzip with no file name and time 0 in its header, so the same
  input always gives the same bytes;
- ``{name}.ttl`` for every SKOS vocabulary the catalogue lists as a dataset (a
  ``skos:ConceptScheme`` typed ``dcatapit:Dataset``; ``{name}`` is the last segment of its IRI,
  e.g. ``pillars-2025-2027.ttl``): the scheme and its concepts (``skos:inScheme``), every triple
  of theirs in any graph, blank nodes followed; the file schema.gov.it's harvester downloads.

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
# A vocabulary dump: the last segment of the scheme's IRI (lower-case, digits, hyphens) + .ttl.
_VOCABULARY_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\.ttl")
VOCABULARY_FORMAT = formats.TURTLE

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
SKOS_CONCEPT_SCHEME = ox.NamedNode("http://www.w3.org/2004/02/skos/core#ConceptScheme")
SKOS_IN_SCHEME = ox.NamedNode("http://www.w3.org/2004/02/skos/core#inScheme")
DCATAPIT_DATASET = ox.NamedNode("http://dati.gov.it/onto/dcatapit#Dataset")


@dataclass(frozen=True)
class Dump:
    name: str
    format: Format
    gzipped: bool
    union: bool  # the union graph (triples) rather than the dataset (quads)
    scheme: str | None = None  # a vocabulary dump: the IRI of the SKOS scheme it holds

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


def find(name: str, vocabularies: Iterable[str] = ()) -> Dump | None:
    """The dump called ``name``, or None for any other string. ``vocabularies``: the names of the
    vocabulary dumps that exist (the ``.ttl`` files of dist/dumps/ other than the dataset's)."""
    if _NAME.fullmatch(name):
        return next((dump for dump in all_dumps() if dump.name == name), None)
    if is_vocabulary_name(name) and name in vocabularies:
        return Dump(name, VOCABULARY_FORMAT, False, False)
    return None


def is_vocabulary_name(name: str) -> bool:
    """True for a name a vocabulary dump may have: ``pnrr.ttl``, never ``psm-kg.ttl``."""
    return bool(_VOCABULARY_NAME.fullmatch(name)) and not _NAME.fullmatch(name)


def vocabulary_name(scheme: str) -> str | None:
    """``pnrr.ttl`` for ``…/id/scheme/pnrr``; None when the last segment cannot name a file."""
    name = re.split(r"[/#]", scheme.rstrip("/#"))[-1] + "." + VOCABULARY_FORMAT.extension
    return name if is_vocabulary_name(name) else None


def vocabulary_dumps(dataset: ox.Dataset) -> tuple[Dump, ...]:
    """One Turtle dump per SKOS scheme of ``dataset`` that is also typed ``dcatapit:Dataset`` (the
    catalogue lists it), sorted by name. A scheme whose IRI ends in no usable file name (see
    `vocabulary_name`) gets none."""
    typed = list(dataset.quads_for_predicate(RDF_TYPE))
    listed = {q.subject for q in typed if q.object == DCATAPIT_DATASET}
    schemes = {
        q.subject.value
        for q in typed
        if q.object == SKOS_CONCEPT_SCHEME
        and isinstance(q.subject, ox.NamedNode)
        and q.subject in listed
    }
    found: dict[str, Dump] = {}
    for scheme in sorted(schemes):
        name = vocabulary_name(scheme)
        if name is not None and name not in found:
            found[name] = Dump(name, VOCABULARY_FORMAT, False, False, scheme)
    return tuple(found[name] for name in sorted(found))


def vocabulary_triples(dataset: ox.Dataset, scheme: str) -> list[ox.Triple]:
    """The scheme and its concepts: every triple of theirs in any graph, following blank nodes;
    sorted, without duplicates."""
    node = ox.NamedNode(scheme)
    subjects: list[ox.NamedNode | ox.BlankNode] = [node]
    subjects += sorted(
        {
            q.subject
            for q in dataset.quads_for_object(node)
            if q.predicate == SKOS_IN_SCHEME and isinstance(q.subject, ox.NamedNode | ox.BlankNode)
        },
        key=str,
    )
    triples: set[ox.Triple] = set()
    seen: set[ox.NamedNode | ox.BlankNode] = set()
    while subjects:
        subject = subjects.pop()
        if subject in seen:
            continue
        seen.add(subject)
        for q in dataset.quads_for_subject(subject):
            triples.add(ox.Triple(q.subject, q.predicate, q.object))
            if isinstance(q.object, ox.BlankNode):
                subjects.append(q.object)
    return sorted(triples, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))


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
    """Every dump by name, the vocabularies' too. ``canonical`` has RDFC-1.0 blank node labels;
    ``nquads`` and ``trig`` are the build's own files, reused byte for byte."""
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
    for dump in vocabulary_dumps(canonical):
        assert dump.scheme is not None
        triples = vocabulary_triples(canonical, dump.scheme)
        files[dump.name] = _serialize(triples, dump.format, dict(sorted(prefixes.items())))
    return files
