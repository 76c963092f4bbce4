"""The DCAT-AP_IT / DCAT-AP catalogue as served at /catalog, computed by build.py.

The catalogue is the ``catalog`` part of the data (``data/catalog/``, named graph
``{base}milano/graph/catalog``) plus what only the build knows:

- one ``dcatapit:Distribution`` per dump in ``dist/dumps/``, linked from the knowledge graph
  dataset (a vocabulary's Turtle file: from the vocabulary's dataset, its SKOS scheme), with
  download URL, EU file type, IANA media type, ``dcat:compressFormat`` for the gzipped ones,
  ``dcat:byteSize`` and an ``spdx:checksum`` (SHA-256) of the exact bytes served;
- ``dct:modified`` of the catalogue and of every dataset: the date of the newest build input (a
  dataset that states its own ``dct:modified`` in the data keeps it), so that a build of the same
  files gives the same catalogue;
- the description of every agent the catalogue names (type, name, identifier, editorial note) and
  the type and labels of every place it names, copied from the rest of the data, so that the
  catalogue is complete on its own, as harvesters read it.

The result is written as sorted N-Triples to ``dist/catalog.nt``. It is not in the dumps or in the
SPARQL store, which hold the data the dumps are made of: a file cannot contain its own checksum.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyoxigraph as ox

from psm_kg import dumps, urls
from psm_kg.dumps import Dump

CATALOG_PART = "catalog"
CATALOG_FILE = "catalog.nt"

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
DCT = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
DCATAPIT = "http://dati.gov.it/onto/dcatapit#"
FOAF = "http://xmlns.com/foaf/0.1/"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SPDX = "http://spdx.org/rdf/terms#"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
IANA = "http://www.iana.org/assignments/media-types/"
# The https form: DCAT-AP 3.0.1's vocabulary shapes require it (ChecksumAlgorithmRestriction).
SHA256 = "https://spdx.org/rdf/terms#checksumAlgorithm_sha256"
LICENCE = "https://w3id.org/italia/controlled-vocabulary/licences/A21_CCBY40"

PREFIXES = {
    "dcat": DCAT,
    "dcatapit": DCATAPIT,
    "dct": DCT,
    "foaf": FOAF,
    "rdfs": RDFS,
    "skos": SKOS,
    "spdx": SPDX,
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": XSD,
}

TYPE = ox.NamedNode(RDF + "type")
AGENT_LINKS = ("publisher", "rightsHolder", "creator")
AGENT_FACTS = (RDF + "type", FOAF + "name", DCT + "identifier", SKOS + "editorialNote")
PLACE_FACTS = (RDF + "type", RDFS + "label")

_LABELS = {
    "nq": ("N-Quads", "il dataset con i suoi grafi con nome", "the dataset with its named graphs"),
    "trig": ("TriG", "il dataset con i suoi grafi con nome", "the dataset with its named graphs"),
    "ttl": ("Turtle", "il grafo unione (grafo predefinito)", "the union graph (default graph)"),
    "nt": ("N-Triples", "il grafo unione (grafo predefinito)", "the union graph (default graph)"),
    "jsonld": ("JSON-LD", "il grafo unione (grafo predefinito)", "the union graph (default graph)"),
    "rdf": ("RDF/XML", "il grafo unione (grafo predefinito)", "the union graph (default graph)"),
}


def _iri(value: str) -> ox.NamedNode:
    return ox.NamedNode(value)


def _typed(value: str, datatype: str) -> ox.Literal:
    return ox.Literal(value, datatype=_iri(XSD + datatype))


def distribution_iri(base_iri: str, dump: Dump) -> str:
    """``{base}milano/id/distribution/psm-kg-nq-gz`` for the dump ``psm-kg.nq.gz``."""
    return urls.data_base(base_iri) + "distribution/" + dump.name.replace(".", "-")


def dataset_iri(base_iri: str) -> str:
    """The knowledge graph as a dataset: the DCAT dataset and the VoID dataset."""
    return urls.data_base(base_iri) + "dataset/psm-kg"


def _dump_triples(
    base_iri: str, dump: Dump, size: int, checksum: str, modified: str
) -> Iterator[ox.Triple]:
    node = _iri(distribution_iri(base_iri, dump))
    name, what_it, what_en = _LABELS[dump.format.extension]
    packed_it = " compresso con gzip" if dump.gzipped else ""
    packed_en = ", gzip-compressed" if dump.gzipped else ""
    url = _iri(urls.dump_url(base_iri, dump.name))
    if dump.scheme is None:
        dataset = dataset_iri(base_iri)
        titles = (f"Dump {name}{packed_it}", f"{name} dump{packed_en}")
        descriptions = (
            f"Tutto il grafo di conoscenza in {name}{packed_it}: {what_it}.",
            f"The whole knowledge graph as {name}{packed_en}: {what_en}.",
        )
    else:
        dataset = dump.scheme
        titles = (f"Vocabolario SKOS in {name}", f"SKOS vocabulary in {name}")
        descriptions = (
            f"Lo schema SKOS e i suoi concetti in un unico file {name}.",
            f"The SKOS scheme and its concepts as one {name} file.",
        )
    yield ox.Triple(_iri(dataset), _iri(DCAT + "distribution"), node)
    yield ox.Triple(node, TYPE, _iri(DCATAPIT + "Distribution"))
    yield ox.Triple(node, TYPE, _iri(DCAT + "Distribution"))
    for text, language in zip(titles, ("it", "en"), strict=True):
        yield ox.Triple(node, _iri(DCT + "title"), ox.Literal(text, language=language))
    for text, language in zip(descriptions, ("it", "en"), strict=True):
        yield ox.Triple(node, _iri(DCT + "description"), ox.Literal(text, language=language))
    yield ox.Triple(node, _iri(DCT + "format"), _iri(FILE_TYPE + dumps.FILE_TYPES[dump.format]))
    media_type = _iri(IANA + dump.format.media_type)
    yield ox.Triple(node, _iri(DCAT + "mediaType"), media_type)
    yield ox.Triple(media_type, TYPE, _iri(DCT + "MediaType"))
    if dump.gzipped:
        gzip_type = _iri(IANA + dumps.GZIP_MEDIA_TYPE)
        yield ox.Triple(node, _iri(DCAT + "compressFormat"), gzip_type)
        yield ox.Triple(gzip_type, TYPE, _iri(DCT + "MediaType"))
    yield ox.Triple(node, _iri(DCAT + "accessURL"), url)
    yield ox.Triple(node, _iri(DCAT + "downloadURL"), url)
    yield ox.Triple(node, _iri(DCAT + "byteSize"), _typed(str(size), "nonNegativeInteger"))
    digest = ox.BlankNode("checksum-" + dump.name.replace(".", "-"))
    yield ox.Triple(node, _iri(SPDX + "checksum"), digest)
    yield ox.Triple(digest, TYPE, _iri(SPDX + "Checksum"))
    yield ox.Triple(digest, _iri(SPDX + "algorithm"), _iri(SHA256))
    yield ox.Triple(digest, _iri(SPDX + "checksumValue"), _typed(checksum, "hexBinary"))
    yield ox.Triple(node, _iri(DCT + "license"), _iri(LICENCE))
    yield ox.Triple(node, _iri(DCT + "modified"), _typed(modified, "date"))
    yield ox.Triple(node, _iri(DCT + "source"), _iri(urls.data_base(base_iri) + "source/psm-kg"))


def _copied(
    dataset: ox.Dataset, subject: ox.NamedNode, predicates: tuple[str, ...]
) -> set[ox.Triple]:
    return {
        ox.Triple(q.subject, q.predicate, q.object)
        for q in dataset.quads_for_subject(subject)
        if q.predicate.value in predicates
    }


def catalog_triples(
    dataset: ox.Dataset, base_iri: str, dump_files: dict[str, bytes], modified: str
) -> list[ox.Triple]:
    """The whole catalogue: the catalog graph of ``dataset`` plus the computed triples, sorted."""
    graph = _iri(urls.graph_iri(base_iri, CATALOG_PART))
    triples = {
        ox.Triple(q.subject, q.predicate, q.object) for q in dataset.quads_for_graph_name(graph)
    }
    subjects = {t.subject for t in triples}
    # In DCAT-AP, dct:source of a dataset names the dataset it derives from (range dcat:Dataset);
    # the data's dct:source (the psm:SourceDocument cited) stays in the SPARQL store and dumps.
    dataset_class = _iri(DCAT + "Dataset")
    datasets = {t.subject for t in triples if t.predicate == TYPE and t.object == dataset_class}
    triples = {
        t for t in triples if not (t.subject in datasets and t.predicate.value == DCT + "source")
    }
    for link in AGENT_LINKS:
        for t in list(triples):
            if t.predicate.value == DCT + link and isinstance(t.object, ox.NamedNode):
                triples |= _copied(dataset, t.object, AGENT_FACTS)
    for t in list(triples):
        if t.predicate.value == DCT + "spatial" and isinstance(t.object, ox.NamedNode):
            triples |= _copied(dataset, t.object, PLACE_FACTS)
    dated_classes = (_iri(DCAT + "Catalog"), _iri(DCAT + "Dataset"))
    for subject in subjects:
        if not isinstance(subject, ox.NamedNode):
            continue
        if not any(ox.Triple(subject, TYPE, cls) in triples for cls in dated_classes):
            continue
        own = _copied(dataset, subject, (DCT + "modified",))
        if own:
            triples |= set(sorted(own, key=str)[-1:])  # one value: DCAT-AP allows at most one
        else:
            triples.add(ox.Triple(subject, _iri(DCT + "modified"), _typed(modified, "date")))
    for dump in (*dumps.all_dumps(), *dumps.vocabulary_dumps(dataset)):
        data = dump_files[dump.name]
        triples.update(_dump_triples(base_iri, dump, len(data), dumps.sha256(data), modified))
    return sorted(triples, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))


def catalog_ntriples(triples: list[ox.Triple]) -> bytes:
    """Sorted N-Triples: the bytes of dist/catalog.nt."""
    body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
    assert body is not None
    return b"".join(sorted(body.splitlines(keepends=True)))
