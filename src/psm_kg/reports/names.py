"""How reports name things: IRIs shortened with the project's prefixes, files relative to a base.

Every format takes its IRIs and paths from here, so that a shape or a file reads the same in the
text report, a GitHub annotation and a SARIF log.
"""

from __future__ import annotations

import os
from pathlib import Path

# None of these namespaces is a prefix of another, so the order does not matter.
PREFIXES: dict[str, str] = {
    "psm": "https://w3id.org/psm/ontology#",
    "psmsh": "https://w3id.org/psm/shapes#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "sh": "http://www.w3.org/ns/shacl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dct": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dcatapit": "http://dati.gov.it/onto/dcatapit#",
    "org": "http://www.w3.org/ns/org#",
    "prov": "http://www.w3.org/ns/prov#",
    "foaf": "http://xmlns.com/foaf/0.1/",
}
# Data IRIs under the plan's base read as "…/type/reference": long, and the same in every file.
DATA_BASE = "https://w3id.org/psm/milano/id/"


def shorten(iri: str) -> str:
    """An IRI with a known namespace as prefix:name, any other IRI as <iri>, other text as is."""
    if iri.startswith(DATA_BASE):
        return "…/" + iri[len(DATA_BASE) :]
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    if iri.startswith('"'):  # a literal: shorten its datatype, '"2"^^xsd:integer'
        lexical, marker, datatype = iri.rpartition('"^^<')
        if marker and datatype.endswith(">"):
            return f'{lexical}"^^{shorten(datatype[:-1])}'
        return iri
    if iri.startswith("_:") or ":" not in iri:
        return iri  # blank node, or not an IRI
    return f"<{iri}>"


def local_name(iri: str) -> str:
    """The part of an IRI after its last '#' or '/' (the whole text when there is none)."""
    name = iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
    return name or iri


def is_blank(node: str) -> bool:
    return node.startswith("_:")


def shape_label(shape: str, component: str | None, path: str | None = None) -> str:
    """A shape as people read it: 'psmsh:Pillar-label-en'; a blank-node shape, whose id changes
    from run to run, by its constraint and path: '[Datatype on dct:issued]'."""
    if not is_blank(shape):
        return shorten(shape)
    constraint = local_name(component or "").removesuffix("ConstraintComponent") or "shape"
    return f"[{constraint} on {shorten(path)}]" if path else f"[{constraint}]"


def absolute(path: Path) -> Path:
    """``path`` made absolute and normalised ('..' removed) without following symbolic links."""
    return Path(os.path.abspath(path))


def relative(path: Path, base: Path | None = None) -> Path:
    """``path`` relative to ``base`` (default: the working directory); absolute when outside it.

    Neither path is resolved through symbolic links: a file is named as the user named it.
    """
    full = absolute(path)
    try:
        return full.relative_to(absolute(base if base is not None else Path.cwd()))
    except ValueError:
        return full


def display_path(path: Path, base: Path | None = None) -> str:
    """A file as reports print it: relative to ``base`` when inside it, with '/' separators."""
    return relative(path, base).as_posix()
