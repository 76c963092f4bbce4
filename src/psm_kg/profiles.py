"""Validation profiles: which bundled SHACL shapes to use, and whether the psm ontology joins data.

The shapes ship inside the package (src/psm_kg/profiles/, listed with origin and licence in its
SOURCES.md), so an installed wheel validates without this repository:

```
psm         ontology/shapes/ of this project (profiles/psm is a link to it), with the ontology
dcat-ap     SEMIC DCAT-AP 3.0.1: core shapes, recommended (Warning), controlled vocabularies
dcat-ap-it  psm-kg's own DCAT-AP_IT 2.0 shapes (no official ones exist): mandatory + recommended
ndc         schema.gov.it (OntoPiA) metadata rules for ontologies and controlled vocabularies
```

Validation always runs with SHACL Advanced Features on: the NDC rules select their focus nodes
with sh:SPARQLTarget and would silently pass without them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from psm_kg.errors import PsmKgError, SourceError
from psm_kg.source_paths import SourceError as LocatedError
from psm_kg.source_paths import os_message

if TYPE_CHECKING:
    import rdflib

PROFILES_DIR = Path(__file__).parent / "profiles"
# A link to ontology/psm.ttl in a checkout, a copy of it in a wheel.
ONTOLOGY_FILE = PROFILES_DIR / "psm-ontology.ttl"
DEFAULT_PROFILE = "psm"


class ProfileError(PsmKgError, LookupError):
    """No profile has the requested name; the message lists the names there are."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown profile {name!r}: use one of {', '.join(PROFILES)}")


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    description: str
    shape_files: tuple[Path, ...]
    with_ontology: bool  # load the psm ontology with the data (its classes and terms)


def _files(folder: str, *names: str) -> tuple[Path, ...]:
    return tuple(PROFILES_DIR / folder / name for name in names)


PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "psm": Profile(
            name="psm",
            title="psm: the strategic-plan ontology and its data",
            description="This project's shapes (ontology/shapes/): the plan's data, the ontology "
            "header and terms. The psm ontology is loaded with the data, because the shapes rely "
            "on its class hierarchy and on the terms it defines.",
            # Every Turtle file there: a new shapes file joins the profile without a code change.
            shape_files=tuple(sorted((PROFILES_DIR / "psm").glob("*.ttl"))),
            with_ontology=True,
        ),
        "dcat-ap": Profile(
            name="dcat-ap",
            title="DCAT-AP 3.0.1 (SEMIC)",
            description="The EU application profile for data catalogues: mandatory and range "
            "constraints (Violation), recommended properties (Warning) and controlled "
            "vocabularies (skos:inScheme of EU authority tables). Not shapes/ranges.ttl, "
            "which neither engine can load.",
            shape_files=_files(
                "dcat-ap",
                "dcat-ap-SHACL.ttl",
                "shapes_recommended.ttl",
                "mdr-vocabularies.shape.ttl",
            ),
            with_ontology=False,
        ),
        "dcat-ap-it": Profile(
            name="dcat-ap-it",
            title="DCAT-AP_IT 2.0 (written by psm-kg from the AgID guidelines)",
            description="The Italian profile for dati.gov.it: mandatory elements (Violation) and "
            "recommended ones (Warning). No official SHACL shapes exist; these follow the AgID "
            "tables, so type every catalogue node twice (dcatapit: and dcat:).",
            shape_files=_files(
                "dcat-ap-it", "dcat-ap-it-shapes.ttl", "dcat-ap-it-shapes-recommended.ttl"
            ),
            with_ontology=False,
        ),
        "ndc": Profile(
            name="ndc",
            title="NDC / schema.gov.it metadata rules (OntoPiA)",
            description="The rules the schema.gov.it pre-commit hooks apply to the header of an "
            "ontology (owl:Ontology) and of a controlled vocabulary (skos:ConceptScheme that is "
            "a dcatapit:Dataset). They use SHACL-AF targets (sh:SPARQLTarget).",
            shape_files=(
                PROFILES_DIR / "ndc" / "Ontologie" / "rules.shacl",
                PROFILES_DIR / "ndc" / "VocabolariControllati" / "rules.shacl",
            ),
            with_ontology=False,
        ),
    }
)


def get_profile(name: str) -> Profile:
    """The profile called ``name``; ProfileError (listing the names) for any other."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(name) from None


@functools.cache
def shapes_graph(profile: Profile) -> rdflib.Graph:
    """The profile's shapes, parsed once per process. Raises errors.SourceError if unreadable.

    Callers must not modify the graph: it is shared.
    """
    # rdflib and its parsers load on first use: the server imports this module for the profile
    # names alone, and should not pay for rdflib at start-up.
    import rdflib

    from psm_kg.loading import load_bytes

    graph = rdflib.Graph()
    problems: list[LocatedError] = []
    for path in profile.shape_files:
        try:
            raw = path.read_bytes()
        except OSError as error:
            problems.append(LocatedError(path, None, None, os_message(error)))
            continue
        # Every bundled file is Turtle, whatever its suffix (the NDC rules end in .shacl).
        loaded, errors = load_bytes(raw, suffix=".ttl", name=str(path), base=path.as_uri())
        problems.extend(errors)
        if loaded is not None:
            graph += loaded.graph
    if problems:
        raise SourceError(problems)
    _drop_dangling_property_shapes(graph)
    return graph


@functools.cache
def ontology_graph() -> rdflib.Graph:
    """The psm ontology as bundled with the package, parsed once. Callers must not modify it."""
    import rdflib

    return rdflib.Graph().parse(ONTOLOGY_FILE, format="turtle")


def _drop_dangling_property_shapes(graph: rdflib.Graph) -> None:
    """Remove sh:property links to nodes that have no description at all.

    SEMIC's dcat-ap-SHACL.ttl links dcat:DataServiceShape to two property shapes it never
    defines. A shape with no triples constrains nothing and pySHACL ignores it, but pyshacl-turbo
    refuses the whole shapes graph; dropping the links gives both engines the same shapes and
    leaves pySHACL's results unchanged (tests/test_profiles.py checks both).
    """
    from rdflib.namespace import SH

    dangling = [
        (shape, target)
        for shape, target in graph.subject_objects(SH.property)
        if (target, None, None) not in graph
    ]
    for shape, target in dangling:
        graph.remove((shape, SH.property, target))
