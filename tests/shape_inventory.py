"""Which nodes of a shapes graph are shapes, and which of them need a counter-example.

Shared by the tests that pin each shape file with one invalid example per shape
(test_shapes.py for ontology/shapes, test_dcat_ap_it.py for the DCAT-AP_IT profile).
A shape needs a counter-example when it can be the sh:sourceShape of a result: a property shape
(the object of sh:property), or a node shape with a target and a constraint of its own. Value
shapes (used only through sh:node, sh:qualifiedValueShape, sh:or, ...) have no target and never
report on their own.
"""

from __future__ import annotations

from rdflib import RDF, Graph
from rdflib.collection import Collection
from rdflib.namespace import SH
from rdflib.term import Node

TARGETS = {SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target}
NOT_CONSTRAINTS = TARGETS | {
    SH.property,
    SH.name,
    SH.description,
    SH.message,
    SH.severity,
    SH.deactivated,
    SH.order,
    SH.group,
}
SHAPE_VALUED = (SH.property, SH.node, SH.qualifiedValueShape, SH["not"])
SHAPE_LISTS = (SH["or"], SH["and"], SH.xone)


def declared_shapes(g: Graph) -> set[Node]:
    return set(g.subjects(RDF.type, SH.NodeShape)) | set(g.subjects(RDF.type, SH.PropertyShape))


def shapes_in(g: Graph) -> set[Node]:
    """Every node used as a shape: declared, targeted, with a path, or referenced as a shape."""
    found: set[Node] = declared_shapes(g)
    found |= set(g.subjects(SH.path, None))
    for p in TARGETS:
        found |= set(g.subjects(p, None))
    for p in SHAPE_VALUED:
        found |= set(g.objects(None, p))
    for p in SHAPE_LISTS:
        for head in g.objects(None, p):
            found |= set(Collection(g, head))
    return found


def checked_shapes(g: Graph) -> set[Node]:
    """The shapes that can be the sh:sourceShape of a result, and so need a counter-example."""
    checked: set[Node] = set(g.objects(None, SH.property))
    for shape in shapes_in(g):
        predicates = set(g.predicates(shape, None))
        own = {p for p in predicates if str(p).startswith(str(SH)) and p not in NOT_CONSTRAINTS}
        if predicates & TARGETS and own:
            checked.add(shape)
    return checked
