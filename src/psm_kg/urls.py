"""The only place that joins the base IRI with paths.

Canonical IRIs (see docs/model.md): data things live under ``{base}milano/id/``, named graphs under
``{base}milano/graph/{part}``, the ontology terms under ``{base}ontology#``. Every other module asks
here instead of concatenating strings, so that changing the base (a test server, a mirror) is one
setting.
"""

from __future__ import annotations

import re

ONTOLOGY_PART = "ontology"
SHAPES_PART = "shapes"

# A part name becomes the last path segment of a graph IRI; keep it to characters that need no
# escaping so the IRI is the folder name, readable and stable.
_PART_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class InvalidPartName(ValueError):
    """A data folder name cannot become a graph IRI segment."""

    def __init__(self, part: str) -> None:
        self.part = part
        super().__init__(
            f"part name {part!r} cannot name a graph: use letters, digits, '.', '_' and '-' "
            "(kebab-case, as in data/psttm-2025-2027/)"
        )


def ontology_namespace(base_iri: str) -> str:
    """``https://w3id.org/psm/ontology#``: the namespace of the psm: terms."""
    return base_iri + "ontology#"


def data_base(base_iri: str) -> str:
    """``https://w3id.org/psm/milano/id/``: the prefix of every data IRI."""
    return base_iri + "milano/id/"


def graph_base(base_iri: str) -> str:
    """``https://w3id.org/psm/milano/graph/``: the prefix of every named graph IRI."""
    return base_iri + "milano/graph/"


def graph_iri(base_iri: str, part: str) -> str:
    """The named graph of one part: "ontology", "shapes", or a folder name under data/."""
    if not _PART_NAME.fullmatch(part):
        raise InvalidPartName(part)
    return graph_base(base_iri) + part


# --- the server's own URLs for the linked-data pages ---------------------------------------------
#
# On any host, /milano/id/{type}/{ref} denotes {base}milano/id/{type}/{ref} (the thing) and
# /milano/doc/{type}/{ref}[.ext] is the document describing it. /milano/doc/ lists the types and
# /milano/doc/{type}/ the things of one type; /milano/id/ and /milano/id/{type}/ answer 303 to them.
# The ontology ({base}ontology, terms {base}ontology#Term) is served at /ontology, the shapes at
# /shapes. Paths returned here start with "/"; the routers prefix the app's root path.

ID_PATH = "/milano/id/"
DOC_PATH = "/milano/doc/"
ONTOLOGY_PATH = "/ontology"
SHAPES_PATH = "/shapes"

# A reference: path segments of unreserved and sub-delimiter characters, no empty or dot segments.
# Anything else (spaces, quotes, angle brackets, "..") names nothing, so never reaches a query.
_REFERENCE = re.compile(r"[A-Za-z0-9_~!$&'()*+,;=:@-][A-Za-z0-9._~!$&'()*+,;=:@-]*")
MAX_REFERENCE_LENGTH = 512


def ontology_iri(base_iri: str) -> str:
    """``https://w3id.org/psm/ontology``: the ontology itself (its terms add ``#Term``)."""
    return base_iri + "ontology"


def shapes_graph_iri(base_iri: str) -> str:
    """The named graph holding the SHACL shapes."""
    return graph_iri(base_iri, SHAPES_PART)


def is_reference(path: str) -> bool:
    """Whether ``type/ref…`` (no leading slash) can be the tail of a data IRI."""
    if not path or len(path) > MAX_REFERENCE_LENGTH:
        return False
    return all(
        _REFERENCE.fullmatch(segment) and segment not in (".", "..") for segment in path.split("/")
    )


def data_iri(base_iri: str, path: str) -> str | None:
    """The thing ``/milano/id/{path}`` denotes, or None when ``path`` cannot be a reference."""
    return data_base(base_iri) + path if is_reference(path) else None


def reference_of(base_iri: str, iri: str) -> str | None:
    """``type/ref`` of a data IRI, or None for an IRI outside the data namespace."""
    prefix = data_base(base_iri)
    if not iri.startswith(prefix):
        return None
    tail = iri[len(prefix) :]
    return tail if is_reference(tail) else None


def type_of(reference: str) -> str:
    """The type segment of a reference: ``pillar`` for ``pillar/2025-2027/sostenibilita``."""
    return reference.split("/", 1)[0]


def with_extension(path: str, extension: str | None) -> str:
    return f"{path}.{extension}" if extension else path


def doc_path(reference: str, extension: str | None = None) -> str:
    """``/milano/doc/{reference}[.ext]``: the document describing a data thing."""
    return with_extension(DOC_PATH + reference, extension)


def id_path(reference: str) -> str:
    """``/milano/id/{reference}``: the server's URL of the thing itself."""
    return ID_PATH + reference


def type_index_path(type_name: str) -> str:
    """``/milano/doc/{type}/``: the list of the things of one type."""
    return f"{DOC_PATH}{type_name}/"


def page_path(base_iri: str, iri: str, extension: str | None = None) -> str | None:
    """This server's page for an IRI: a data thing's document, the ontology (a term as its
    fragment), the shapes page (a shape ``{base}shapes#Name`` as its fragment), or None for an
    IRI this server does not describe."""
    reference = reference_of(base_iri, iri)
    if reference is not None:
        return doc_path(reference, extension)
    ontology = ontology_iri(base_iri)
    if iri == ontology:
        return with_extension(ONTOLOGY_PATH, extension)
    if iri.startswith(ontology + "#") and len(iri) > len(ontology) + 1:
        return with_extension(ONTOLOGY_PATH, extension) + iri[len(ontology) :]
    shapes = base_iri + "shapes#"
    if iri.startswith(shapes) and len(iri) > len(shapes):
        return with_extension(SHAPES_PATH, extension) + iri[len(shapes) - 1 :]
    return None


def split_extension(path: str, extensions: tuple[str, ...]) -> tuple[str, str | None]:
    """``pillar/x.ttl`` -> (``pillar/x``, ``ttl``) for a known extension; else (path, None)."""
    stem, dot, extension = path.rpartition(".")
    if dot and "/" not in extension and extension in extensions:
        return stem, extension
    return path, None


# --- the catalogue, VoID, dumps, sitemap ----------------------------------------------------------
#
# The catalogue states canonical URLs: the server path /x is {base}x (as /milano/id/… is), so the
# dumps are {base}dumps/{name} and the SPARQL endpoint {base}sparql.

CATALOG_PATH = "/catalog"
VOID_PATH = "/.well-known/void"
DUMPS_PATH = "/dumps/"
SITEMAP_PATH = "/sitemap.xml"
ROBOTS_PATH = "/robots.txt"
SPARQL_PATH = "/sparql"


def site_url(base_iri: str, path: str) -> str:
    """The canonical URL of a server path: ``sparql`` -> ``https://w3id.org/psm/sparql``."""
    return base_iri + path.removeprefix("/")


def dump_url(base_iri: str, name: str) -> str:
    """``{base}dumps/{name}``: where a dump is downloaded."""
    return site_url(base_iri, DUMPS_PATH + name)
