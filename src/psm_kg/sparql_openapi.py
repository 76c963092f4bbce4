"""The OpenAPI description of /sparql, whose handlers read the protocol's parameters themselves.

Merged into the app's OpenAPI document by app.py. The media types come from the one format table,
so the document cannot list a format the endpoint does not write.
"""

from __future__ import annotations

from typing import Any

from psm_kg.formats import FORMAT_NAMES
from psm_kg.store import FORMATS_BY_KIND, QueryKind

_IRI_LIST = {"type": "array", "items": {"type": "string", "format": "iri"}}

_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "query",
        "in": "query",
        "description": "One SPARQL 1.1 query (SELECT, ASK, CONSTRUCT or DESCRIBE). Without it, GET "
        "answers the Service Description, or the query editor for a browser.",
        "schema": {"type": "string"},
        "example": "SELECT ?pillar WHERE { ?pillar a <https://w3id.org/psm/ontology#Pillar> }",
    },
    {
        "name": "default-graph-uri",
        "in": "query",
        "description": "A graph of the default graph (any number; they win over FROM).",
        "schema": _IRI_LIST,
        "style": "form",
        "explode": True,
    },
    {
        "name": "named-graph-uri",
        "in": "query",
        "description": "A named graph of the dataset (any number; they win over FROM NAMED).",
        "schema": _IRI_LIST,
        "style": "form",
        "explode": True,
    },
    {
        "name": "format",
        "in": "query",
        "description": "The answer's format, overriding Accept: a media type or a short name "
        "(`output` and `results` are aliases). Names that name no format are ignored.",
        "schema": {"type": "string", "examples": sorted(FORMAT_NAMES)},
    },
]

_ERROR = {
    "description": "",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _responses() -> dict[str, Any]:
    media_types = {
        fmt.media_type: {"schema": {"type": "string"}}
        for kind in (QueryKind.SOLUTIONS, QueryKind.BOOLEAN, QueryKind.GRAPH)
        for fmt in FORMATS_BY_KIND[kind]
    }
    return {
        "200": {
            "description": "SELECT and ASK results, or the graph of a CONSTRUCT or DESCRIBE, in "
            "the negotiated format; with a strong ETag",
            "content": media_types,
        },
        "304": {"description": "If-None-Match names the answer's ETag"},
        "400": {**_ERROR, "description": "malformed or refused query, or bad parameters"},
        "406": {**_ERROR, "description": "no acceptable format for the result's kind"},
        "413": {**_ERROR, "description": "the request body is too large"},
        "415": {**_ERROR, "description": "a POST body that is not a form or a query"},
        "422": {**_ERROR, "description": "the result is larger than the server sends"},
        "503": {**_ERROR, "description": "timed out, or no worker free; see Retry-After"},
    }


def paths() -> dict[str, Any]:
    """The ``paths`` entry of /sparql."""
    form_properties = {
        "query": {"type": "string"},
        "default-graph-uri": _IRI_LIST,
        "named-graph-uri": _IRI_LIST,
        "format": {"type": "string"},
    }
    return {
        "/sparql": {
            "get": {
                "summary": "SPARQL 1.1 query by GET",
                "operationId": "sparql_query_by_get",
                "tags": ["SPARQL"],
                "parameters": _PARAMETERS,
                "responses": _responses(),
            },
            "post": {
                "summary": "SPARQL 1.1 query by POST",
                "operationId": "sparql_query_by_post",
                "tags": ["SPARQL"],
                "parameters": _PARAMETERS[1:],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": form_properties,
                                "required": ["query"],
                            },
                        },
                        "application/sparql-query": {"schema": {"type": "string"}},
                    },
                },
                "responses": _responses(),
            },
        }
    }


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "The one error shape (RFC 9457 members), with context fields",
    "properties": {
        "status": {"type": "integer"},
        "title": {"type": "string"},
        "detail": {"type": "string"},
    },
    "required": ["status", "title", "detail"],
}
