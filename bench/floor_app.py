"""The HTTP floor of bench/bench_sparql.py: a FastAPI app that answers a fixed small JSON.

GET /sparql (any parameters, ignored) answers the same SPARQL JSON boolean result every time:
no query, no lookup, no serialisation. It runs on the uvicorn psm-kg runs on, with the options
``psm-kg serve`` passes to ``uvicorn.run`` (the bench reads them from psm-kg's source and hands
them over as JSON), so that the time of a cached psm-kg answer can be set against the cheapest
answer this HTTP stack can give.

Usage: .venv/bin/python bench/floor_app.py --port PORT [--uvicorn-options '{"log_level": "info"}']
"""

from __future__ import annotations

import argparse
import json

from fastapi import FastAPI, Response

BODY = b'{"head":{},"boolean":true}'
MEDIA_TYPE = "application/sparql-results+json"


def create_app() -> FastAPI:
    # Telemetry off, as psm-kg runs it: the cheapest answer of this stack.
    app = FastAPI(
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )

    @app.get("/sparql")
    async def fixed_answer() -> Response:
        return Response(BODY, media_type=MEDIA_TYPE)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--uvicorn-options", default="{}", help="JSON object of uvicorn.run kwargs")
    args = parser.parse_args()
    options = json.loads(args.uvicorn_options)

    import uvicorn

    uvicorn.run(create_app(), host=args.host, port=args.port, **options)


if __name__ == "__main__":
    main()
