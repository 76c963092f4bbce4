"""Every error leaves through one shape: {"status", "title", "detail"} plus context fields.

Walks each error route of the app and pins the shape, the media type and the absence of tracebacks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import httpx2
import pytest
from starlette.testclient import TestClient

from psm_kg.app import create_app
from psm_kg.config import Settings
from psm_kg.store import QueryOutcome, Store

pytestmark = pytest.mark.every_backend  # `client`: the embedded store and each engine

FORM = "application/x-www-form-urlencoded"
TURTLE = "text/turtle"
Send = Callable[[TestClient], httpx2.Response]

ERROR_ROUTES: list[tuple[str, Send, int]] = [
    ("malformed query", lambda c: c.get("/sparql", params={"query": "SELECT ?s {"}), 400),
    (
        "missing query",
        lambda c: c.get("/sparql", headers={"accept": "application/sparql-results+json"}),
        400,
    ),
    (
        "missing form query",
        lambda c: c.post("/sparql", content=b"", headers={"content-type": FORM}),
        400,
    ),
    ("unknown path", lambda c: c.get("/no/such/page"), 404),
    ("method not allowed", lambda c: c.put("/sparql", content=b"x"), 405),
    ("method not allowed on healthz", lambda c: c.delete("/healthz"), 405),
    (
        "not acceptable",
        lambda c: c.get("/sparql", params={"query": "ASK {}"}, headers={"accept": "image/png"}),
        406,
    ),
    (
        "unsupported content type",
        lambda c: c.post("/sparql", content=b"{}", headers={"content-type": "application/json"}),
        415,
    ),
    ("no content type", lambda c: c.post("/sparql", content=b"query=ASK{}"), 415),
    ("update refused", lambda c: c.post("/sparql", data={"update": "DROP ALL"}), 400),
    ("update as query", lambda c: c.get("/sparql", params={"query": "CLEAR ALL"}), 400),
    (
        "body not UTF-8",
        lambda c: c.post(
            "/sparql", content=b"ASK {\xff}", headers={"content-type": "application/sparql-query"}
        ),
        400,
    ),
    (
        "validate: syntax error",
        lambda c: c.post("/validate", content=b"<a> <b> .", headers={"content-type": TURTLE}),
        400,
    ),
    (
        "validate: remote JSON-LD context",
        lambda c: c.post(
            "/validate",
            content=b'{"@context": "http://127.0.0.1:9/c.jsonld", "@id": "http://e/a"}',
            headers={"content-type": "application/ld+json"},
        ),
        400,
    ),
    (
        "validate: empty body",
        lambda c: c.post("/validate", content=b"", headers={"content-type": TURTLE}),
        400,
    ),
    (
        "validate: unknown profile",
        lambda c: c.post(
            "/validate?profile=x", content=b"<a:s> <a:p> <a:o> .", headers={"content-type": TURTLE}
        ),
        400,
    ),
    ("validation: unknown profile", lambda c: c.get("/validation?profile=x"), 400),
    (
        "validate: not acceptable",
        lambda c: c.post(
            "/validate",
            content=b"<a:s> <a:p> <a:o> .",
            headers={"content-type": TURTLE, "accept": "image/png"},
        ),
        406,
    ),
    ("validation: not acceptable", lambda c: c.get("/validation", headers={"accept": "x/y"}), 406),
    (
        "validate: unsupported content type",
        lambda c: c.post("/validate", content=b"{}", headers={"content-type": "application/json"}),
        415,
    ),
    ("validate: method not allowed", lambda c: c.get("/validate"), 405),
    ("validation: method not allowed", lambda c: c.post("/validation"), 405),
]


def assert_problem_shape(response: httpx2.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = response.json()
    assert problem["status"] == status
    assert isinstance(problem["title"], str)
    assert problem["title"]
    assert isinstance(problem["detail"], str)
    assert problem["detail"]
    assert "Traceback" not in response.text
    return problem


@pytest.mark.parametrize(
    ("send", "status"),
    [route[1:] for route in ERROR_ROUTES],
    ids=[route[0] for route in ERROR_ROUTES],
)
def test_every_error_route_answers_the_one_error_shape(
    client: TestClient, send: Send, status: int
) -> None:
    assert_problem_shape(send(client), status)


def test_the_406_names_what_was_asked_and_what_is_available(client: TestClient) -> None:
    response = client.post("/sparql", data={"query": "ASK {}"}, headers={"accept": "text/csv"})
    problem = assert_problem_shape(response, 406)
    assert problem["accept"] == "text/csv"
    assert problem["available"] == [
        "application/sparql-results+json",
        "application/sparql-results+xml",
    ]


def test_the_405_lists_the_allowed_methods_in_the_body_and_the_allow_header(
    client: TestClient,
) -> None:
    response = client.put("/sparql", content=b"x")
    problem = assert_problem_shape(response, 405)
    allowed = {"GET", "HEAD", "POST", "OPTIONS"}
    assert set(problem["allowed"]) == allowed  # type: ignore[arg-type]
    assert set(response.headers["allow"].replace(" ", "").split(",")) == allowed


def test_the_415_lists_the_supported_content_types(client: TestClient) -> None:
    response = client.post("/sparql", content=b"{}", headers={"content-type": "application/json"})
    problem = assert_problem_shape(response, 415)
    assert problem["content_type"] == "application/json"
    assert "application/sparql-query" in problem["supported"]  # type: ignore[operator]


def test_the_404_names_the_path(client: TestClient) -> None:
    problem = assert_problem_shape(client.get("/no/such/page"), 404)
    assert problem["path"] == "/no/such/page"


def test_the_validate_413_and_503_answer_the_one_error_shape(
    built_settings: Settings, store: Store
) -> None:
    small = dataclasses.replace(built_settings, max_body_bytes=8)
    with TestClient(create_app(small, store), raise_server_exceptions=False) as client:
        too_large = client.post(
            "/validate", content=b"<a:s> <a:p> <a:o> .", headers={"content-type": TURTLE}
        )
    assert_problem_shape(too_large, 413)
    hurried = dataclasses.replace(built_settings, query_timeout_s=0.001)
    many = "".join(f"<a:s{n}> <a:p> <a:o> .\n" for n in range(20000)).encode()
    hurried = dataclasses.replace(hurried, max_body_bytes=len(many))
    with TestClient(create_app(hurried, store), raise_server_exceptions=False) as client:
        timed_out = client.post("/validate", content=many, headers={"content-type": TURTLE})
    assert_problem_shape(timed_out, 503)
    assert timed_out.headers["retry-after"] == "1"


class FailingStore(Store):
    """A store whose queries fail with an unexpected exception, as a bug would."""

    def query(self, sparql: str, **options: object) -> QueryOutcome:
        raise RuntimeError("secret internal detail")


def test_an_unexpected_error_is_a_500_in_the_same_shape_without_its_text(
    built_settings: Settings, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    failing = FailingStore(store._engine, store.content_hash)
    with TestClient(create_app(built_settings, failing), raise_server_exceptions=False) as client:
        response = client.get("/sparql", params={"query": "ASK {}"})
    assert_problem_shape(response, 500)
    assert "secret internal detail" not in response.text
    assert "secret internal detail" in caplog.text  # logged for the operator


def test_a_request_validation_error_is_a_400_in_the_same_shape(
    built_settings: Settings, store: Store
) -> None:
    app = create_app(built_settings, store)

    # No route of this version declares typed parameters; a later router will. This one does.
    @app.get("/typed")
    async def typed(limit: int) -> dict[str, int]:
        return {"limit": limit}

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/typed", params={"limit": "many"})
    problem = assert_problem_shape(response, 400)
    assert problem["errors"] == [{"loc": ["query", "limit"], "msg": problem["errors"][0]["msg"]}]  # type: ignore[index]
    assert "many" not in response.text  # the client's input is not echoed back
