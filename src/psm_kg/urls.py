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
