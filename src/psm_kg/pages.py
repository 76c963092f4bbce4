"""Router: the linked-data pages. HTML for people, RDF for machines, from the same description.

- ``GET /``: the home page, linking to the plan, every entity type, the ontology, the shapes and
  the SPARQL editor.
- ``GET /milano/id/{type}/{ref}``: the thing; **303 See Other** to its document, the extension
  chosen by content negotiation (``/milano/id/`` and ``/milano/id/{type}/`` to the index pages).
- ``GET /milano/doc/{type}/{ref}[.html|.ttl|.jsonld|.rdf|.nt]``: the description of the thing
  (page_data.py says what it holds), by extension or by ``Accept`` without one.
- ``GET /milano/doc/`` and ``/milano/doc/{type}/``: the types, and the things of one type.
- ``GET /ontology[.ext]`` and ``GET /shapes[.ext]``: the ontology and the SHACL shapes.

Every description answers with ``Content-Location``, ``Link: rel="alternate"`` for every other
format, ``Vary``, a strong ETag (dataset hash, IRI, format, language), 304 on ``If-None-Match``
and ``Cache-Control``. HTML is Italian unless ``?lang=en`` or Accept-Language prefers English.
An IRI the dataset does not mention is 404: an HTML page for browsers, the one error shape else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from psm_kg import diagram, formats, page_data, page_templates, urls, vocabulary_data
from psm_kg.config import Settings
from psm_kg.formats import Format
from psm_kg.negotiation import NotAcceptable, negotiate
from psm_kg.page_text import UI, type_label
from psm_kg.query_ui import PAGE_HEADERS, asset_url
from psm_kg.request_handling import Problem, etag_matches
from psm_kg.store import DatasetStore

router = APIRouter()

# The representations of a description, the default (for */*) first.
DOC_FORMATS: tuple[Format, ...] = (
    formats.HTML,
    formats.TURTLE,
    formats.JSON_LD,
    formats.RDF_XML,
    formats.N_TRIPLES,
)
EXTENSIONS = tuple(fmt.extension for fmt in DOC_FORMATS)


# --- routes --------------------------------------------------------------------------------------


@router.head("/", include_in_schema=False)
@router.get("/", response_class=HTMLResponse, summary="Home page")
def home(request: Request) -> Response:
    """The home page: the plan and its editions, and where to go from here."""
    context = _Context(request)
    plans = context.reader.things("plan")
    catalog = any(getattr(route, "path", "").startswith("/catalog") for route in request.app.routes)
    text = UI[context.lang]
    schema = {"@type": "WebSite", "name": text["site"], "description": text["home_intro"]}
    return context.html("home.html", "/", schema=schema, plans=plans, catalog=catalog)


@router.head("/milano/id/{reference:path}", include_in_schema=False)
@router.get("/milano/id/{reference:path}", summary="A thing (303 to /doc)")
def thing(request: Request, reference: str) -> Response:
    """303 See Other to the document describing the thing, in the negotiated format."""
    context = _Context(request)
    path = reference
    if path == "" or (path.endswith("/") and urls.is_reference(path[:-1]) and "/" not in path[:-1]):
        target = urls.DOC_PATH + path
    else:
        iri = urls.data_iri(context.base_iri, path)
        if iri is None or not context.reader.known(iri):
            return context.not_found(urls.data_base(context.base_iri) + path)
        fmt = context.negotiated(None)
        target = urls.doc_path(path, fmt.extension)
    headers = {"Vary": "Accept", "Cache-Control": context.cache_control}
    return RedirectResponse(context.root + target, status_code=303, headers=headers)


@router.head("/milano/doc/{reference:path}", include_in_schema=False)
@router.get("/milano/doc/{reference:path}", summary="A description")
def document(request: Request, reference: str) -> Response:
    """The description of a thing, or an index page (``/milano/doc/``, ``/milano/doc/{type}/``)."""
    context = _Context(request)
    path = reference
    if path == "":
        schema = {"@type": "CollectionPage", "name": UI[context.lang]["index_title"]}
        types = sorted(
            context.reader.types().items(),
            key=lambda item: type_label(item[0], context.lang).casefold(),
        )
        return context.html("index.html", "/milano/doc/", schema=schema, types=types)
    if path.endswith("/") and urls.is_reference(path[:-1]) and "/" not in path[:-1]:
        things = context.reader.things(path[:-1])
        if not things:
            return context.not_found(urls.data_base(context.base_iri) + path)
        schema = {"@type": "CollectionPage", "name": type_label(path[:-1], context.lang)}
        return context.html(
            "index.html",
            urls.type_index_path(path[:-1]),
            schema=schema,
            things=things,
            type_name=path[:-1],
        )
    stem, extension = urls.split_extension(path, EXTENSIONS)
    iri = urls.data_iri(context.base_iri, stem)
    if iri is None or not context.reader.known(iri):
        return context.not_found(urls.data_base(context.base_iri) + stem)
    return context.represent(
        iri, urls.doc_path(stem), extension, describe_query(iri), lambda: _entity(context, iri)
    )


@router.head("/ontology", include_in_schema=False)
@router.get("/ontology", summary="The ontology")
@router.head("/ontology.{extension}", include_in_schema=False)
@router.get("/ontology.{extension}", summary="The ontology, one format")
def ontology(request: Request, extension: str | None = None) -> Response:
    """The psm ontology: HTML documentation of every term, or its RDF."""
    context = _Context(request)
    base = context.base_iri
    graph = urls.graph_iri(base, urls.ONTOLOGY_PART)

    def page() -> Response:
        classes, properties = vocabulary_data.ontology_terms(context.reader)
        header = context.reader.describe(urls.ontology_iri(base))
        return context.html(
            "ontology.html",
            urls.ONTOLOGY_PATH,
            schema={**schema_org(header), "@type": "DefinedTermSet"},
            classes=classes,
            properties=properties,
            header=header,
        )

    return context.represent(
        urls.ontology_iri(base),
        urls.ONTOLOGY_PATH,
        _checked(extension),
        vocabulary_data.graph_construct(graph),
        page,
    )


@router.head("/shapes", include_in_schema=False)
@router.get("/shapes", summary="The SHACL shapes")
@router.head("/shapes.{extension}", include_in_schema=False)
@router.get("/shapes.{extension}", summary="The shapes, one format")
def shapes(request: Request, extension: str | None = None) -> Response:
    """The SHACL shapes: an HTML listing of every shape, or their RDF."""
    context = _Context(request)
    graph = urls.shapes_graph_iri(context.base_iri)

    def page() -> Response:
        listing = vocabulary_data.shapes(context.reader)
        schema = {"@id": graph, "@type": "CreativeWork", "name": UI[context.lang]["shapes"]}
        return context.html("shapes.html", urls.SHAPES_PATH, schema=schema, shapes=listing)

    return context.represent(
        graph, urls.SHAPES_PATH, _checked(extension), vocabulary_data.graph_construct(graph), page
    )


def _checked(extension: str | None) -> str | None:
    if extension is not None and extension not in EXTENSIONS:
        raise Problem(
            404,
            "Not Found",
            f"there is no .{extension} format of this document",
            formats=list(EXTENSIONS),
        )
    return extension


# --- descriptions --------------------------------------------------------------------------------


def describe_query(iri: str) -> str:
    """The RDF of a description: a symmetric concise bounded description (the triples with the
    IRI as subject, the blank nodes they reach, two levels deep, and the triples with the IRI as
    object) plus the rdfs:label of every IRI it links to or from. CONSTRUCT answers a set: a
    triple stated in several graphs is written once."""
    label = page_data.RDFS + "label"
    return (
        f"CONSTRUCT {{ <{iri}> ?p ?o . ?o ?bp ?bo . ?s ?ip <{iri}> . ?o <{label}> ?ol . "
        f"?s <{label}> ?sl }} WHERE {{ {{ <{iri}> ?p ?o }} "
        f"UNION {{ <{iri}> ?p1 ?o FILTER(isBlank(?o)) ?o ?bp ?bo }} "
        f"UNION {{ <{iri}> ?p3 ?b FILTER(isBlank(?b)) ?b ?p4 ?o FILTER(isBlank(?o)) ?o ?bp ?bo }} "
        f"UNION {{ <{iri}> ?p2 ?o . ?o <{label}> ?ol }} "
        f"UNION {{ ?s ?ip <{iri}> }} UNION {{ ?s ?ip2 <{iri}> . ?s <{label}> ?sl }} }}"
    )


def _entity(context: _Context, iri: str) -> Response:
    described = context.reader.describe(iri)
    svg = ""
    if described.is_edition:
        structure = diagram.edition_structure(context.reader, iri)
        if not structure.empty:
            text = UI[context.lang]
            counts = ", ".join(
                f"{len(c.members)} {c.titles[context.lang].lower()}" for c in structure.columns
            )
            desc = text["structure_desc"].format(counts=counts, edges=len(structure.edges))
            title = f"{text['structure']}: {described.label}"
            svg = "".join(
                diagram.render(structure, context.lang, title, desc, context.href, layout)
                for layout in (diagram.WIDE, diagram.NARROW)
            )
    path = urls.page_path(context.base_iri, iri) or "/"
    return context.html(
        "entity.html", path, d=described, svg=Markup(svg), schema=schema_org(described)
    )


SCHEMA_TYPES = (
    ("#PlanEdition", "CreativeWork"),
    ("#StrategicPlan", "CreativeWork"),
    ("#SourceDocument", "CreativeWork"),
    ("PublicOrganization", "GovernmentOrganization"),
    ("/org#Organization", "Organization"),
    ("foaf/0.1/Person", "Person"),
    ("CLV/City", "AdministrativeArea"),
    ("CLV/Province", "AdministrativeArea"),
    ("#HomogeneousZone", "AdministrativeArea"),
    ("skos/core#Concept", "DefinedTerm"),
    ("#Pillar", "DefinedTerm"),
    ("#Mission", "DefinedTerm"),
    ("#Driver", "DefinedTerm"),
    ("#StrategicObjective", "DefinedTerm"),
    ("#PnrrMission", "DefinedTerm"),
    ("#PnrrComponent", "DefinedTerm"),
    ("skos/core#ConceptScheme", "DefinedTermSet"),
)


def schema_org(described: page_data.Description) -> dict[str, Any]:
    """The schema.org description of an entity's page."""
    kinds = [t.iri for t in described.types]
    schema_type = next(
        (name for suffix, name in SCHEMA_TYPES if any(k.endswith(suffix) for k in kinds)), "Thing"
    )
    data: dict[str, Any] = {
        "@id": described.iri,
        "@type": schema_type,
        "name": described.label,
        "url": described.iri,
        "inLanguage": described.lang,
    }
    if described.description:
        data["description"] = described.description
    if described.same_as:
        data["sameAs"] = described.same_as
    if described.urls and schema_type == "CreativeWork":
        data["url"] = described.urls[0]
    return data


def json_ld(data: dict[str, Any]) -> Markup:
    """schema.org JSON-LD (its vocabulary inline: nothing to fetch), safe in a <script>."""
    text = json.dumps(
        {"@context": {"@vocab": "https://schema.org/"}, **data}, ensure_ascii=False, indent=1
    )
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


# --- the request context -------------------------------------------------------------------------


class _Context:
    """What every page needs from a request: settings, store, language, root path."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.settings: Settings = request.app.state.settings
        self.store: DatasetStore = request.app.state.store
        self.base_iri = self.settings.base_iri
        self.root = str(request.scope.get("root_path", ""))
        asked = request.query_params.get("lang")
        self.lang = page_data.choose_language(asked, request.headers.get("accept-language"))
        # Links keep a language the visitor chose with the switch.
        self.suffix = f"?lang={self.lang}" if asked in page_data.LANGUAGES else ""
        self.reader = page_data.Reader(self.store, self.base_iri, self.lang)
        self.cache_control = f"public, max-age={self.settings.cache_max_age_s}"

    def negotiated(self, extension: str | None) -> Format:
        if extension is not None:
            fmt = formats.by_extension(extension)
            assert fmt is not None
            return fmt
        try:
            return negotiate(self.request.headers.get("accept"), DOC_FORMATS)
        except NotAcceptable:
            raise Problem(
                406,
                "Not Acceptable",
                "this document is available as " + ", ".join(fmt.media_type for fmt in DOC_FORMATS),
                available=[fmt.media_type for fmt in DOC_FORMATS],
            ) from None

    def href(self, path: str | None) -> str:
        """A link to a page of this server, keeping the chosen language."""
        if path is None:
            return ""
        stem, hash_, fragment = path.partition("#")
        return f"{self.root}{stem}{self.suffix}{hash_}{fragment}"

    def represent(
        self, iri: str, stem: str, extension: str | None, rdf: str, page: Callable[[], Response]
    ) -> Response:
        fmt = self.negotiated(extension)
        alternates = ", ".join(
            f'<{self.root}{urls.with_extension(stem, other.extension)}>; rel="alternate"; '
            f'type="{other.media_type}"'
            for other in DOC_FORMATS
            if other is not fmt
        )
        language = self.lang if fmt is formats.HTML else ""
        seed = "\n".join((self.store.content_hash, iri, fmt.media_type, language, self.suffix))
        etag = '"' + hashlib.sha256(seed.encode()).hexdigest()[:32] + '"'
        headers = {
            "Content-Location": self.root + urls.with_extension(stem, fmt.extension),
            "Link": alternates,
            "Vary": "Accept, Accept-Language",
            "ETag": etag,
            "Cache-Control": self.cache_control,
        }
        if etag_matches(self.request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        if fmt is formats.HTML:
            response = page()
            response.headers.update(headers)
            return response
        body = self.store.query(rdf, timeout_s=page_data.QUERY_TIMEOUT_S).serialize(fmt)
        return Response(body, media_type=fmt.media_type, headers=headers)

    def html(
        self,
        template: str,
        path: str,
        status: int = 200,
        schema: dict[str, Any] | None = None,
        **values: Any,
    ) -> Response:
        page = (
            page_templates.environment()
            .get_template(template)
            .render(
                schema=json_ld(schema) if schema is not None else "",
                lang=self.lang,
                t=UI[self.lang],
                href=self.href,
                path=path,
                root=self.root,
                switch=f"{self.root}{path}?lang={UI[self.lang]['switch_lang']}",
                css=asset_url(self.root, "pages.css"),
                type_label=type_label,
                alternates=[
                    (fmt, self.root + urls.with_extension(path, fmt.extension))
                    for fmt in DOC_FORMATS[1:]
                ]
                if path.startswith(("/milano/doc/", "/ontology", "/shapes"))
                and not path.endswith("/")
                else [],
                **values,
            )
        )
        headers = {**PAGE_HEADERS, "Vary": "Accept, Accept-Language", "Content-Language": self.lang}
        headers.pop("Cache-Control")
        headers["Cache-Control"] = self.cache_control
        return HTMLResponse(page, status_code=status, headers=headers)

    def not_found(self, iri: str) -> Response:
        try:
            wants_html = (
                negotiate(self.request.headers.get("accept"), (formats.JSON, formats.HTML))
                is formats.HTML
            )
        except NotAcceptable:
            wants_html = False
        if wants_html:
            return self.html("not-found.html", "/milano/doc/", status=404, iri=iri)
        raise Problem(404, "Not Found", "the dataset does not describe this IRI", iri=iri)
