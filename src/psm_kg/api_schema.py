"""The OpenAPI pieces of each named query's operation (api.py registers them with FastAPI).

Each typed parameter of a ``queries/*.rq`` header becomes a query parameter with a JSON Schema:

============  ===================================================================
type          schema
============  ===================================================================
``iri``       ``string``, format ``iri``; for an IRI of a class, an ``enum`` of the
              class's instances in the served data (a ``pattern`` past
              :data:`MAX_ENUM` instances)
``text``      ``string``
``integer``   ``integer``
``date``      ``string``, format ``date``
``enum``      ``string`` with an ``enum`` of the declared choices
============  ===================================================================

plus ``format`` on every operation and ``limit`` and ``offset`` on paginated ones. Defaults and
examples come from the header, typed as the schema says. Pure: no FastAPI here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from psm_kg.api_results import ASK_FORMATS, SELECT_FORMATS
from psm_kg.named_queries import NamedQuery, Parameter, ParameterType
from psm_kg.query_parameters import MAX_INTEGER, MAX_IRI_LENGTH, MAX_TEXT_LENGTH
from psm_kg.sparql_text import QueryForm
from psm_kg.store import FORMATS_BY_KIND, QueryKind

# Past this many instances, the schema of an IRI parameter gives a pattern instead of an enum.
MAX_ENUM = 200
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000
FORMAT_PARAMETER = "format"
LIMIT_PARAMETER = "limit"
OFFSET_PARAMETER = "offset"
PAGING_PARAMETERS = (LIMIT_PARAMETER, OFFSET_PARAMETER)

# What a caller may send, as JSON Schema patterns the API also enforces (api.py), so that the
# document describes exactly what is accepted. A subset of what named_queries.bind takes: an IRI
# is http(s) or urn, ASCII, percent-encoded beyond that, without angle brackets; a text has no
# control character and is not blank.
_PCHAR = r"(?:[A-Za-z0-9._~!$&()*+,;=:@-]|%[0-9A-Fa-f]{2})"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
IRI_PATTERN = (
    rf"^(?:https?://{_HOST}(?::[0-9]{{1,5}})?(?:/{_PCHAR}*)*"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
    rf"|urn:[A-Za-z0-9][A-Za-z0-9-]{{0,31}}:(?:{_PCHAR}|[/?])+)$"
)
_VISIBLE = r"[^\x00-\x1f\x7f-\x9f]"
TEXT_PATTERN = rf"^{_VISIBLE}*[^\s\x00-\x1f\x7f-\x9f]{_VISIBLE}*$"
_IRI = re.compile(IRI_PATTERN)
_TEXT = re.compile(TEXT_PATTERN)

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_ERROR_CONTENT = {"application/problem+json": {"schema": PROBLEM_REF}}


def reserved_names(query: NamedQuery) -> tuple[str, ...]:
    """Query-string names the API itself reads on this query's route."""
    paging = PAGING_PARAMETERS if query.paginated else ()
    return (FORMAT_PARAMETER, *paging)


def formats_of(query: NamedQuery) -> tuple[Any, ...]:
    """The formats this query's answers can be written in, the default first."""
    if query.form is QueryForm.SELECT:
        return SELECT_FORMATS
    if query.form is QueryForm.ASK:
        return ASK_FORMATS
    return FORMATS_BY_KIND[QueryKind.GRAPH]


def _typed(parameter: Parameter, value: str) -> Any:
    """A header value as the JSON type of the parameter's schema."""
    if parameter.type is ParameterType.INTEGER:
        try:
            return int(value)
        except ValueError:
            return value
    return value


def value_schema(parameter: Parameter, instances: Sequence[str] | None) -> dict[str, Any]:
    """The JSON Schema of one parameter's value."""
    schema: dict[str, Any]
    if parameter.type is ParameterType.INTEGER:
        schema = {"type": "integer", "minimum": -MAX_INTEGER, "maximum": MAX_INTEGER}
    elif parameter.type is ParameterType.DATE:
        schema = {"type": "string", "format": "date"}
    elif parameter.type is ParameterType.ENUM:
        schema = {"type": "string", "enum": list(parameter.choices)}
    elif parameter.type is ParameterType.IRI:
        schema = {"type": "string", "format": "iri", "maxLength": MAX_IRI_LENGTH}
        if instances is not None and len(instances) <= MAX_ENUM:
            schema = {"type": "string", "format": "iri", "enum": sorted(instances)}
        elif instances is not None:
            schema["pattern"] = instance_pattern(instances)
        else:
            schema["pattern"] = IRI_PATTERN
    else:
        schema = {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TEXT_LENGTH,
            "pattern": TEXT_PATTERN,
        }
    if parameter.default is not None:
        schema["default"] = _typed(parameter, parameter.default)
    return schema


def accepts(parameter: Parameter, raw: str) -> bool:
    """Whether a caller's non-empty value fits the lexical rules of the parameter's schema (its
    type and the class's instances are checked by binding)."""
    if parameter.type is ParameterType.TEXT:
        return len(raw) <= MAX_TEXT_LENGTH and _TEXT.fullmatch(raw) is not None
    if parameter.type is ParameterType.IRI:
        return len(raw) <= MAX_IRI_LENGTH and _IRI.fullmatch(raw) is not None
    return True


def instance_pattern(instances: Sequence[str]) -> str:
    """A regular expression all the IRIs match: their common prefix, up to its last slash or #."""
    first, last = min(instances, default=""), max(instances, default="")
    size = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), None)
    prefix = first[: min(len(first), len(last)) if size is None else size]
    cut = max(prefix.rfind("/"), prefix.rfind("#"))
    prefix = prefix[: cut + 1] if cut >= 0 else ""
    rest = IRI_PATTERN.removeprefix("^") if not prefix else rf"{_PCHAR}(?:{_PCHAR}|[/?#])*$"
    return "^" + re.escape(prefix) + rest


def _description(parameter: Parameter) -> str:
    text = parameter.description
    if parameter.type is ParameterType.IRI and parameter.iri_class:
        text += f" (an IRI of a <{parameter.iri_class}> in the data)"
    if parameter.type is ParameterType.TEXT and parameter.language:
        text += f" (compared as a literal tagged @{parameter.language})"
    return text.strip()


def operation_parameters(
    query: NamedQuery, instances: Mapping[str, Sequence[str]]
) -> list[dict[str, Any]]:
    """The OpenAPI parameter objects of a query's GET operation."""
    parameters: list[dict[str, Any]] = []
    for parameter in query.parameters:
        entry: dict[str, Any] = {
            "name": parameter.name,
            "in": "query",
            "required": parameter.required,
            "description": _description(parameter),
            "schema": value_schema(parameter, instances.get(parameter.name)),
        }
        if not parameter.required:
            # An empty value counts as not given: the default applies (named_queries.bind).
            entry["allowEmptyValue"] = True
        if parameter.example is not None:
            entry["example"] = _typed(parameter, parameter.example)
        parameters.append(entry)
    names = [fmt.media_type for fmt in formats_of(query)]
    parameters.append(
        {
            "name": FORMAT_PARAMETER,
            "in": "query",
            "required": False,
            "description": "The answer's format, overriding Accept: a media type or a short name "
            f"({'json, srj, csv, tsv' if query.form is QueryForm.SELECT else 'ttl, nt, jsonld'}"
            "...). Names that name no format are ignored.",
            "schema": {"type": "string", "examples": names},
        }
    )
    if query.paginated:
        parameters += [
            {
                "name": LIMIT_PARAMETER,
                "in": "query",
                "required": False,
                "description": f"Rows per page (at most {MAX_LIMIT}).",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT,
                },
            },
            {
                "name": OFFSET_PARAMETER,
                "in": "query",
                "required": False,
                "description": 'Rows to skip; follow the Link header\'s rel="next" instead of '
                "counting.",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
            },
        ]
    return parameters


def _select_row_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": {"type": ["string", "number", "integer", "boolean", "null"]},
    }


# JSON-LD is JSON: a document (object) or a list of nodes.
_GRAPH_SCHEMAS: dict[str, dict[str, Any]] = {"application/ld+json": {"type": ["object", "array"]}}


def responses(query: NamedQuery) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of a query's GET operation."""
    content: dict[str, Any]
    if query.form is QueryForm.SELECT:
        content = {
            "application/json": {"schema": {"type": "array", "items": _select_row_schema()}},
            "application/sparql-results+json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
            "text/tab-separated-values": {"schema": {"type": "string"}},
        }
        description = "one page of rows (plain JSON objects keyed by variable by default)"
    elif query.form is QueryForm.ASK:
        content = {
            "application/json": {"schema": {"type": "boolean"}},
            "application/sparql-results+json": {"schema": {"type": "object"}},
        }
        description = "the answer, true or false"
    else:
        content = {
            fmt.media_type: {"schema": _GRAPH_SCHEMAS.get(fmt.media_type, {"type": "string"})}
            for fmt in formats_of(query)
        }
        description = "the graph, in the negotiated RDF format"
    headers = {
        "ETag": {
            "description": "strong; send it back in If-None-Match",
            "schema": {"type": "string"},
        }
    }
    if query.paginated:
        headers["Link"] = {
            "description": 'rel="first", rel="prev" and rel="next" pages',
            "schema": {"type": "string"},
        }
    return {
        200: {"description": description, "content": content, "headers": headers},
        304: {"description": "If-None-Match names the answer's ETag"},
        400: {
            "description": "a parameter has the wrong type, is missing, unknown or repeated",
            "content": _ERROR_CONTENT,
        },
        406: {"description": "no acceptable format", "content": _ERROR_CONTENT},
        422: {
            "description": "the result is larger than the server sends",
            "content": _ERROR_CONTENT,
        },
        503: {
            "description": "timed out, or no worker free; see Retry-After",
            "content": _ERROR_CONTENT,
        },
    }


PARAMETER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "type": {"type": "string", "enum": [member.value for member in ParameterType]},
        "description": {"type": "string"},
        "required": {"type": "boolean"},
        "default": {"type": ["string", "null"]},
        "example": {"type": ["string", "null"]},
        "class": {"type": ["string", "null"]},
        "choices": {"type": "array", "items": {"type": "string"}},
        "language": {"type": ["string", "null"]},
    },
    "required": ["name", "type", "description", "required"],
}

LISTING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "queries": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "url": {"type": "string"},
                    "summary": {"type": "string"},
                    "description": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "form": {"type": "string", "enum": [form.value for form in QueryForm]},
                    "paginated": {"type": "boolean"},
                    "parameters": {"type": "array", "items": PARAMETER_SCHEMA},
                },
                "required": ["name", "url", "summary", "description", "tags", "parameters"],
            },
        }
    },
    "required": ["queries"],
}


def describe_parameter(parameter: Parameter) -> dict[str, Any]:
    """One parameter as GET /api/queries lists it."""
    return {
        "name": parameter.name,
        "type": parameter.type.value,
        "description": parameter.description,
        "required": parameter.required,
        "default": parameter.default,
        "example": parameter.example,
        "class": parameter.iri_class,
        "choices": list(parameter.choices),
        "language": parameter.language,
    }
