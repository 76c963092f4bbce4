"""The words of the linked-data pages in Italian (the default) and English.

Only the pages' own wording lives here: everything about the plan comes from the data.
"""

from __future__ import annotations

UI: dict[str, dict[str, str]] = {
    "it": {
        "site": "Piano strategico metropolitano di Milano",
        "skip": "Vai al contenuto",
        "home": "Home",
        "all_types": "Tutte le entità",
        "ontology": "Ontologia",
        "shapes": "Forme SHACL",
        "sparql": "Interrogazione SPARQL",
        "switch": "English",
        "switch_lang": "en",
        "formats": "Altri formati",
        "formats_note": "Questa descrizione, leggibile dalle macchine:",
        "types": "Tipo",
        "relations": "Proprietà e collegamenti",
        "incoming": "Collegamenti in entrata",
        "incoming_note": "Entità che rimandano a questa.",
        "sources": "Fonti",
        "derived": "ricavato",
        "derived_by": "Collegamento non affermato dalle fonti ma ricavato",
        "method": "metodo",
        "from_sources": "fonti",
        "structure": "Struttura del piano",
        "structure_note": (
            "Ogni riquadro porta alla sua pagina; le linee sono i collegamenti che i dati "
            "affermano tra gli elementi (un Driver seleziona un obiettivo)."
        ),
        "structure_desc": (
            "{counts}. Le linee collegano un Driver agli obiettivi che seleziona ({edges} "
            "collegamenti)."
        ),
        "iri": "IRI",
        "external": "esterno",
        "entities": "entità",
        "index_title": "Entità del dataset",
        "index_intro": "Ogni tipo di entità del dataset, con il numero di entità descritte.",
        "type_intro": "Tutte le entità di questo tipo, in ordine alfabetico.",
        "home_intro": (
            "Il Piano strategico triennale del territorio metropolitano (PSTTM) della Città "
            "metropolitana di Milano come grafo di conoscenza: ogni fatto cita la sua fonte, "
            "ogni collegamento ricavato è segnato come tale."
        ),
        "plans": "Il piano e le sue edizioni",
        "explore": "Esplora",
        "explore_types": "Elenco delle entità per tipo",
        "explore_ontology": "L'ontologia PSM: classi e proprietà, con esempi",
        "explore_shapes": "Le forme SHACL che validano i dati",
        "explore_sparql": "L'editor di query SPARQL (endpoint /sparql)",
        "explore_catalog": "Il catalogo dei dati (DCAT-AP_IT)",
        "classes": "Classi",
        "properties": "Proprietà",
        "domain": "dominio",
        "range": "codominio",
        "subclass_of": "sottoclasse di",
        "subproperty_of": "sottoproprietà di",
        "comment_it": "commento (it)",
        "comment_en": "commento (en)",
        "examples": "esempi d'uso dai dati",
        "label_it": "etichetta (it)",
        "label_en": "etichetta (en)",
        "shape_kind_NodeShape": "Forme di nodo",
        "shape_kind_PropertyShape": "Forme di proprietà",
        "severity": "gravità",
        "target": "obiettivo",
        "path": "percorso",
        "message": "messaggio",
        "in_shape": "in",
        "not_found": "Non trovato",
        "not_found_text": "Il dataset non descrive questo IRI:",
        "not_found_next": "Vedi l'elenco delle entità per tipo.",
    },
    "en": {
        "site": "Metropolitan strategic plan of Milan",
        "skip": "Skip to content",
        "home": "Home",
        "all_types": "All entities",
        "ontology": "Ontology",
        "shapes": "SHACL shapes",
        "sparql": "SPARQL query",
        "switch": "Italiano",
        "switch_lang": "it",
        "formats": "Other formats",
        "formats_note": "This description, machine-readable:",
        "types": "Type",
        "relations": "Properties and links",
        "incoming": "Incoming links",
        "incoming_note": "Entities that link here.",
        "sources": "Sources",
        "derived": "derived",
        "derived_by": "A link no source states, derived",
        "method": "method",
        "from_sources": "sources",
        "structure": "Plan structure",
        "structure_note": (
            "Each box leads to its page; lines are the links the data states between members "
            "(a Driver selects an objective)."
        ),
        "structure_desc": (
            "{counts}. Lines link a Driver to the objectives it selects ({edges} links)."
        ),
        "iri": "IRI",
        "external": "external",
        "entities": "entities",
        "index_title": "Entities of the dataset",
        "index_intro": "Every type of entity in the dataset, with how many it describes.",
        "type_intro": "Every entity of this type, in alphabetical order.",
        "home_intro": (
            "The three-year strategic plan (PSTTM) of the Città metropolitana di Milano as a "
            "knowledge graph: every fact cites its source, every derived link is marked as "
            "such."
        ),
        "plans": "The plan and its editions",
        "explore": "Explore",
        "explore_types": "Entities by type",
        "explore_ontology": "The PSM ontology: classes and properties, with examples",
        "explore_shapes": "The SHACL shapes that validate the data",
        "explore_sparql": "The SPARQL query editor (endpoint /sparql)",
        "explore_catalog": "The data catalogue (DCAT-AP_IT)",
        "classes": "Classes",
        "properties": "Properties",
        "domain": "domain",
        "range": "range",
        "subclass_of": "subclass of",
        "subproperty_of": "subproperty of",
        "comment_it": "comment (it)",
        "comment_en": "comment (en)",
        "examples": "examples of use from the data",
        "label_it": "label (it)",
        "label_en": "label (en)",
        "shape_kind_NodeShape": "Node shapes",
        "shape_kind_PropertyShape": "Property shapes",
        "severity": "severity",
        "target": "target",
        "path": "path",
        "message": "message",
        "in_shape": "in",
        "not_found": "Not found",
        "not_found_text": "The dataset does not describe this IRI:",
        "not_found_next": "See the list of entities by type.",
    },
}

# The type segment of a data IRI (docs/model.md, "IRIs") -> its name on the index pages.
TYPE_LABELS: dict[str, dict[str, str]] = {
    "plan": {"it": "Piani ed edizioni", "en": "Plans and editions"},
    "pillar": {"it": "Pilastri", "en": "Pillars"},
    "mission": {"it": "Missioni", "en": "Missions"},
    "driver": {"it": "Driver", "en": "Drivers"},
    "objective": {"it": "Obiettivi strategici", "en": "Strategic objectives"},
    "strategy": {"it": "Strategie", "en": "Strategies"},
    "scheme": {"it": "Schemi di concetti", "en": "Concept schemes"},
    "approval-step": {"it": "Passaggi di approvazione", "en": "Approval steps"},
    "pnrr-mission": {"it": "Missioni del PNRR", "en": "PNRR missions"},
    "pnrr-component": {"it": "Componenti del PNRR", "en": "PNRR components"},
    "organization": {"it": "Organizzazioni", "en": "Organisations"},
    "territory": {"it": "Territori", "en": "Territories"},
    "comune": {"it": "Comuni", "en": "Municipalities (comuni)"},
    "zona-omogenea": {"it": "Zone omogenee", "en": "Homogeneous zones"},
    "person": {"it": "Persone", "en": "People"},
    "role": {"it": "Ruoli", "en": "Roles"},
    "membership": {"it": "Incarichi", "en": "Memberships"},
    "source": {"it": "Documenti fonte", "en": "Source documents"},
    "derived": {"it": "Affermazioni ricavate", "en": "Derived statements"},
    "catalog": {"it": "Cataloghi", "en": "Catalogues"},
    "dataset": {"it": "Dataset", "en": "Datasets"},
    "distribution": {"it": "Distribuzioni", "en": "Distributions"},
    "data-service": {"it": "Servizi di dati", "en": "Data services"},
}


def type_label(type_name: str, lang: str) -> str:
    return TYPE_LABELS.get(type_name, {}).get(lang, type_name)
