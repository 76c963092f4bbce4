"""What a linked-data page shows, read from the store: the view model of pages.py.

A page describes one IRI from the union of the named graphs (docs/model.md, "Pages"):

- its own triples (every graph, deduplicated), literals in the page's language where the data has
  them, every IRI shown by its label and linked to its page when this server describes it;
- the labels of everything it links to, and the incoming links (triples with the IRI as object);
- for each of its triples that a ``psm:DerivedStatement`` reifies, the derivation method and the
  sources, so that a derived link is never shown as if a source stated it.

Nothing here is invented: a label the data lacks is shown as the IRI's compact name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from psm_kg import formats, urls
from psm_kg.store import DatasetStore

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCT = "http://purl.org/dc/terms/"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SCHEMA = "https://schema.org/"

PREFIXES: dict[str, str] = {
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
    "skos": SKOS,
    "dct": DCT,
    "prov": "http://www.w3.org/ns/prov#",
    "org": "http://www.w3.org/ns/org#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "schema": SCHEMA,
    "sh": "http://www.w3.org/ns/shacl#",
    "time": "http://www.w3.org/2006/time#",
    "covapit": "https://w3id.org/italia/onto/COV/",
    "clvapit": "https://w3id.org/italia/onto/CLV/",
    "l0": "https://w3id.org/italia/onto/l0/",
}
LANGUAGES = ("it", "en")
LABEL_PROPERTIES = (RDFS + "label", SKOS + "prefLabel", DCT + "title")
DESCRIPTION_PROPERTIES = (DCT + "description", RDFS + "comment", SKOS + "definition")
QUERY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Term:
    """One RDF term of a SPARQL JSON result."""

    kind: str  # "uri", "literal" or "bnode"
    value: str
    lang: str = ""
    datatype: str = ""

    @property
    def is_iri(self) -> bool:
        return self.kind == "uri"


@dataclass(frozen=True)
class Link:
    """An IRI as a page shows it: its label, and its page on this server (None if external)."""

    iri: str
    label: str
    href: str | None
    external: bool = False


@dataclass(frozen=True)
class Derivation:
    """A psm:DerivedStatement reifying one shown triple."""

    statement: Link
    methods: tuple[Link, ...]
    sources: tuple[Link, ...]


@dataclass(frozen=True)
class Value:
    text: str  # the literal's lexical form, or the link's label
    link: Link | None = None
    lang: str = ""
    datatype: str = ""
    derivation: Derivation | None = None


@dataclass
class Row:
    predicate: Link
    values: list[Value] = field(default_factory=list)


@dataclass
class Description:
    iri: str
    lang: str
    label: str
    description: str
    types: list[Link]
    rows: list[Row]
    incoming: list[Row]  # each row: a predicate and the subjects linking here by it
    sources: list[Link]
    same_as: list[str]
    urls: list[str]  # schema:url values

    @property
    def is_edition(self) -> bool:
        return any(t.iri.endswith("#PlanEdition") for t in self.types)


class Reader:
    """Runs the page queries against a store and names IRIs in one language."""

    def __init__(self, store: DatasetStore, base_iri: str, lang: str) -> None:
        self.store = store
        self.base_iri = base_iri
        self.lang = lang
        self._labels: dict[str, dict[str, str]] = {}

    # --- queries ---------------------------------------------------------------------------------

    def select(self, sparql: str) -> list[dict[str, Term]]:
        outcome = self.store.query(sparql, timeout_s=QUERY_TIMEOUT_S)
        answer = json.loads(outcome.serialize(formats.SPARQL_JSON))
        return [
            {
                name: Term(
                    binding["type"] if binding["type"] != "typed-literal" else "literal",
                    binding["value"],
                    binding.get("xml:lang", ""),
                    binding.get("datatype", ""),
                )
                for name, binding in solution.items()
            }
            for solution in answer["results"]["bindings"]
        ]

    def known(self, iri: str) -> bool:
        """Whether the dataset mentions the IRI as a subject or an object."""
        outcome = self.store.query(
            f"ASK {{ {{ <{iri}> ?p ?o }} UNION {{ ?s ?p <{iri}> }} }}", timeout_s=QUERY_TIMEOUT_S
        )
        return bool(json.loads(outcome.serialize(formats.SPARQL_JSON))["boolean"])

    def load_labels(self, iris: Iterable[str]) -> None:
        wanted = sorted({iri for iri in iris if iri not in self._labels and _plain_iri(iri)})
        for iri in wanted:
            self._labels[iri] = {}
        for start in range(0, len(wanted), 200):
            values = " ".join(f"<{iri}>" for iri in wanted[start : start + 200])
            properties = " ".join(f"<{p}>" for p in LABEL_PROPERTIES)
            rows = self.select(
                f"SELECT ?s ?p ?l WHERE {{ VALUES ?s {{ {values} }} VALUES ?p {{ {properties} }} "
                "?s ?p ?l FILTER(isLiteral(?l)) }"
            )
            for row in rows:
                rank = LABEL_PROPERTIES.index(row["p"].value)
                key = f"{rank}:{row['l'].lang}"
                self._labels[row["s"].value].setdefault(key, row["l"].value)

    # --- naming ----------------------------------------------------------------------------------

    def label(self, iri: str) -> str:
        """The IRI's label in the page's language, then untagged, then any; else a short name."""
        if iri not in self._labels:
            self.load_labels([iri])
        found = self._labels.get(iri, {})
        for rank in range(len(LABEL_PROPERTIES)):
            for lang in (self.lang, ""):
                if f"{rank}:{lang}" in found:
                    return found[f"{rank}:{lang}"]
        if found:
            return found[sorted(found)[0]]
        return VOCABULARY_LABELS.get(iri, {}).get(self.lang) or compact(iri)

    def link(self, iri: str) -> Link:
        if not _plain_iri(iri):  # a blank node: no page of its own
            return Link(iri, "[…]", None)
        href = urls.page_path(self.base_iri, iri)
        external = href is None and iri.startswith(("http://", "https://"))
        return Link(iri, self.label(iri), href, external)

    # --- the description of one IRI --------------------------------------------------------------

    def describe(self, iri: str) -> Description:
        outgoing = self.select(f"SELECT DISTINCT ?p ?o WHERE {{ <{iri}> ?p ?o }}")
        incoming = self.select(f"SELECT DISTINCT ?s ?p WHERE {{ ?s ?p <{iri}> }}")
        derived = self._derived(f"<{RDF}subject> <{iri}> ; <{RDF}object> ?o")
        derived_in = self._derived(f"<{RDF}subject> ?o ; <{RDF}object> <{iri}>")
        mentioned = {iri}
        for row in outgoing:
            mentioned.add(row["p"].value)
            if row["o"].is_iri:
                mentioned.add(row["o"].value)
        for row in incoming:
            mentioned.update((row["s"].value, row["p"].value))
        for row in derived + derived_in:
            mentioned.update(t.value for t in row.values() if t.is_iri)
        self.load_labels(mentioned)
        derivations = self._derivations(derived)
        derivations_in = self._derivations(derived_in)
        blank_labels = self._blank_labels(iri)

        rows: dict[str, Row] = {}
        for row in outgoing:
            predicate, obj = row["p"].value, row["o"]
            shown = rows.setdefault(predicate, Row(self.link(predicate)))
            derivation = derivations.get((predicate, obj))
            if obj.is_iri:
                link = self.link(obj.value)
                shown.values.append(Value(link.label, link, derivation=derivation))
            elif obj.kind == "bnode":
                shown.values.append(
                    Value(blank_labels.get(obj.value, "[…]"), derivation=derivation)
                )
            else:
                shown.values.append(Value(obj.value, None, obj.lang, obj.datatype, derivation))
        for shown in rows.values():
            shown.values = self._in_language(shown.values)
            shown.values.sort(key=lambda v: v.text.casefold())
        types = [v.link for v in rows.pop(RDF + "type", Row(self.link(RDF + "type"))).values]
        ordered = sorted(rows.values(), key=lambda r: r.predicate.label.casefold())

        back: dict[str, Row] = {}
        for row in incoming:
            shown = back.setdefault(row["p"].value, Row(self.link(row["p"].value)))
            link = self.link(row["s"].value)
            derivation = derivations_in.get((row["p"].value, row["s"]))
            shown.values.append(Value(link.label, link, derivation=derivation))
        for shown in back.values():
            shown.values.sort(key=lambda v: v.text.casefold())

        def first_text(properties: Sequence[str]) -> str:
            for prop in properties:
                if prop in rows and rows[prop].values:
                    return rows[prop].values[0].text
            return ""

        return Description(
            iri=iri,
            lang=self.lang,
            label=self.label(iri),
            description=first_text(DESCRIPTION_PROPERTIES),
            types=[t for t in types if t is not None],
            rows=ordered,
            incoming=sorted(back.values(), key=lambda r: r.predicate.label.casefold()),
            sources=[
                v.link for v in rows.get(DCT + "source", Row(self.link(DCT))).values if v.link
            ],
            same_as=[v.text for v in rows.get(OWL + "sameAs", Row(self.link(OWL))).values],
            urls=[v.text for v in rows.get(SCHEMA + "url", Row(self.link(SCHEMA))).values],
        )

    def _derived(self, pattern: str) -> list[dict[str, Term]]:
        """The psm:DerivedStatements matching ``pattern`` (about ?d; ?o the other end), with
        their predicate ?p, methods ?m and sources ?src."""
        psm = urls.ontology_namespace(self.base_iri)
        return self.select(
            f"SELECT DISTINCT ?d ?p ?o ?m ?src WHERE {{ ?d a <{psm}DerivedStatement> ; {pattern} ; "
            f"<{RDF}predicate> ?p . OPTIONAL {{ ?d <{psm}derivationMethod> ?m }} "
            f"OPTIONAL {{ ?d <{DCT}source> ?src }} }}"
        )

    def _derivations(self, derived: list[dict[str, Term]]) -> dict[tuple[str, Term], Derivation]:
        methods: dict[tuple[str, str, Term], set[str]] = {}
        sources: dict[tuple[str, str, Term], set[str]] = {}
        for row in derived:
            key = (row["d"].value, row["p"].value, row["o"])
            methods.setdefault(key, set())
            sources.setdefault(key, set())
            if "m" in row:
                methods[key].add(row["m"].value)
            if "src" in row:
                sources[key].add(row["src"].value)
        return {
            (predicate, obj): Derivation(
                self.link(statement),
                tuple(self.link(m) for m in sorted(methods[(statement, predicate, obj)])),
                tuple(self.link(s) for s in sorted(sources[(statement, predicate, obj)])),
            )
            for statement, predicate, obj in methods
        }

    def _blank_labels(self, iri: str) -> dict[str, str]:
        """The labels of the blank nodes the IRI links to (a membership's period), by node."""
        rows = self.select(
            f"SELECT ?b ?l WHERE {{ <{iri}> ?p ?b FILTER(isBlank(?b)) ?b <{RDFS}label> ?l }}"
        )
        labels: dict[str, str] = {}
        for row in sorted(rows, key=lambda r: r["l"].lang != self.lang):
            labels.setdefault(row["b"].value, row["l"].value)
        return labels

    def _in_language(self, values: list[Value]) -> list[Value]:
        """Literals in the page's language and untagged ones, when the data has that language."""
        tagged = [v for v in values if v.lang]
        if not any(v.lang == self.lang for v in tagged):
            return values
        return [v for v in values if not v.lang or v.lang == self.lang]

    # --- lists -----------------------------------------------------------------------------------

    def types(self) -> dict[str, int]:
        """The type segments of the data IRIs that are subjects, with how many things each has."""
        prefix = urls.data_base(self.base_iri)
        rows = self.select(
            "SELECT DISTINCT ?s WHERE { ?s ?p ?o "
            f'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{prefix}")) }}'
        )
        counts: dict[str, int] = {}
        for row in rows:
            reference = urls.reference_of(self.base_iri, row["s"].value)
            if reference is not None:
                type_name = urls.type_of(reference)
                counts[type_name] = counts.get(type_name, 0) + 1
        return dict(sorted(counts.items()))

    def things(self, type_name: str) -> list[Link]:
        """Every subject IRI of one type segment, by label."""
        prefix = urls.data_base(self.base_iri) + type_name + "/"
        rows = self.select(
            "SELECT DISTINCT ?s WHERE { ?s ?p ?o "
            f'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{prefix}")) }}'
        )
        iris = [row["s"].value for row in rows if urls.reference_of(self.base_iri, row["s"].value)]
        self.load_labels(iris)
        return sorted((self.link(iri) for iri in iris), key=lambda link: link.label.casefold())


def _plain_iri(text: str) -> bool:
    """Whether ``text`` can stand between < and > in a query (no space, quote or bracket)."""
    return ":" in text and not any(c in text for c in ' <>"{}|\\^`') and text.isprintable()


def compact(iri: str) -> str:
    """``dct:source`` for a known namespace; else the IRI."""
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri


def choose_language(lang_parameter: str | None, accept_language: str | None) -> str:
    """``?lang=`` when it names a page language; else the best of Accept-Language; else Italian."""
    if lang_parameter in LANGUAGES:
        return lang_parameter
    best, best_q = LANGUAGES[0], 0.0
    for item in (accept_language or "").split(","):
        tag, *parameters = item.strip().split(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best


def _labels(it: str, en: str) -> dict[str, str]:
    return {"it": it, "en": en}


# Labels of the terms of other vocabularies the pages show (the psm: terms carry their own).
VOCABULARY_LABELS: dict[str, dict[str, str]] = {
    RDF + "type": _labels("tipo", "type"),
    RDF + "subject": _labels("soggetto", "subject"),
    RDF + "predicate": _labels("predicato", "predicate"),
    RDF + "object": _labels("oggetto", "object"),
    RDFS + "label": _labels("etichetta", "label"),
    RDFS + "comment": _labels("commento", "comment"),
    RDFS + "isDefinedBy": _labels("definito da", "defined by"),
    OWL + "sameAs": _labels("stessa entità di", "same as"),
    SKOS + "prefLabel": _labels("etichetta preferita", "preferred label"),
    SKOS + "altLabel": _labels("etichetta alternativa", "alternative label"),
    SKOS + "notation": _labels("notazione", "notation"),
    SKOS + "inScheme": _labels("nello schema", "in scheme"),
    SKOS + "topConceptOf": _labels("concetto principale di", "top concept of"),
    SKOS + "hasTopConcept": _labels("concetto principale", "top concept"),
    SKOS + "broader": _labels("più generale", "broader"),
    SKOS + "narrower": _labels("più specifico", "narrower"),
    SKOS + "editorialNote": _labels("nota redazionale", "editorial note"),
    SKOS + "definition": _labels("definizione", "definition"),
    SKOS + "ConceptScheme": _labels("schema di concetti", "concept scheme"),
    SKOS + "Concept": _labels("concetto", "concept"),
    DCT + "source": _labels("fonte", "source"),
    DCT + "title": _labels("titolo", "title"),
    DCT + "alternative": _labels("titolo alternativo", "alternative title"),
    DCT + "description": _labels("descrizione", "description"),
    DCT + "date": _labels("data", "date"),
    DCT + "publisher": _labels("editore", "publisher"),
    DCT + "isPartOf": _labels("parte di", "part of"),
    DCT + "hasPart": _labels("comprende", "has part"),
    DCT + "isVersionOf": _labels("versione di", "version of"),
    DCT + "contributor": _labels("contributore", "contributor"),
    SCHEMA + "url": _labels("indirizzo web", "web address"),
    PREFIXES["prov"] + "wasRevisionOf": _labels("revisione di", "revision of"),
    PREFIXES["prov"] + "wasAttributedTo": _labels("attribuito a", "attributed to"),
    PREFIXES["prov"] + "wasAssociatedWith": _labels("con la partecipazione di", "associated with"),
    PREFIXES["org"] + "member": _labels("membro", "member"),
    PREFIXES["org"] + "organization": _labels("organizzazione", "organization"),
    PREFIXES["org"] + "role": _labels("ruolo", "role"),
}
