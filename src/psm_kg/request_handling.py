"""What the routers share about requests: the one error exception, capped bodies, ETag matching.

Every router raises :class:`Problem`; app.py turns it into the one error shape
``{"status", "title", "detail", ...context}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException


class Problem(HTTPException):
    """An HTTP error with a title and context fields: {"status", "title", "detail", ...}."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.title = title
        self.context = context


async def read_capped_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    too_large = Problem(
        413, "Request too large", f"the request body exceeds {limit} bytes", max_body_bytes=limit
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:  # checked while reading: Content-Length may be absent or wrong
            raise too_large
    return bytes(body)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names ``etag`` (weak tags and * included)."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
