"""Content negotiation: (Accept header, formats the server can produce) -> the format to send.

Pure and table-tested. The rules (RFC 9110, section 12.5.1):

- each media range may carry a weight ``q`` from 0 to 1 (default 1); ``q=0`` means "not this";
- a format takes the weight of the most specific range that matches it: ``text/turtle`` beats
  ``text/*``, which beats ``*/*``; other parameters (``charset``) do not affect matching; a
  format's aliases (``application/json``) match only when named exactly;
- the highest weight wins; ties go to the server's order: the first allowed format is the default;
- no header, an empty header, or a header with no well-formed range means "anything";
- when every allowed format has weight 0, :class:`NotAcceptable` is raised (HTTP 406);
- a ``format`` parameter (:func:`choose`) that names a format replaces the Accept header: the
  first allowed format it names is sent, and NotAcceptable is raised when it names none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from psm_kg.formats import Format, by_name, essence


class NotAcceptable(Exception):
    """None of the formats the server can produce is acceptable to the client."""

    def __init__(self, accept: str | None, available: Sequence[Format]) -> None:
        self.accept = accept
        self.available = tuple(available)
        media_types = ", ".join(fmt.media_type for fmt in self.available) or "none"
        super().__init__(f"cannot answer Accept: {accept!r}; available: {media_types}")


@dataclass(frozen=True)
class MediaRange:
    type: str
    subtype: str
    q: float

    def specificity(self, media_type: str) -> int | None:
        """2 for an exact match, 1 for ``type/*``, 0 for ``*/*``, None when it does not match."""
        main, _, sub = media_type.partition("/")
        if self.type == "*":
            return 0
        if self.type != main:
            return None
        if self.subtype == "*":
            return 1
        return 2 if self.subtype == sub else None


def _parse_q(parameters: list[str]) -> float | None:
    """The weight among a range's parameters: 1.0 when absent, None when malformed."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return None
            return q if 0.0 <= q <= 1.0 else None
    return 1.0


def parse_accept(header: str) -> list[MediaRange]:
    """The well-formed media ranges of an Accept header; malformed ones are skipped."""
    ranges: list[MediaRange] = []
    for item in header.split(","):
        media, *parameters = item.split(";")
        main, slash, sub = essence(media).partition("/")
        if not slash or not main or not sub or (main == "*" and sub != "*"):
            continue
        q = _parse_q(parameters)
        if q is not None:
            ranges.append(MediaRange(main, sub, q))
    return ranges


def _weight(fmt: Format, ranges: Sequence[MediaRange]) -> float:
    """The weight of the most specific range matching the format (0 when none matches).

    Wildcards match the canonical media type only; an alias counts when named exactly, so that
    ``application/*`` does not pick Turtle through its alias ``application/x-turtle``.
    """
    matches: list[tuple[int, float]] = []
    for media_range in ranges:
        specificity = media_range.specificity(fmt.media_type)
        if specificity is None and any(media_range.specificity(a) == 2 for a in fmt.aliases):
            specificity = 2
        if specificity is not None:
            matches.append((specificity, media_range.q))
    # The most specific range decides; among equally specific ones, the kindest.
    return max(matches)[1] if matches else 0.0


def negotiate(accept_header: str | None, allowed: Sequence[Format]) -> Format:
    """The format to answer with, or NotAcceptable. ``allowed`` is in the server's order."""
    allowed = tuple(allowed)
    chosen = _negotiated(accept_header, allowed)
    if chosen is None:
        raise NotAcceptable(accept_header, allowed)
    return chosen


# Clients send few distinct Accept headers, and each request negotiates several times (once per
# kind of result): the answers are remembered.
@lru_cache(maxsize=512)
def _negotiated(accept_header: str | None, allowed: tuple[Format, ...]) -> Format | None:
    if not allowed:
        return None
    ranges = parse_accept(accept_header) if accept_header else []
    if not ranges:
        return allowed[0]
    best: Format | None = None
    best_weight = 0.0
    for fmt in allowed:
        weight = _weight(fmt, ranges)
        if weight > best_weight:  # strictly greater: ties keep the earlier, server-preferred one
            best, best_weight = fmt, weight
    return best


def choose(
    accept_header: str | None, format_names: Sequence[str], allowed: Sequence[Format]
) -> Format:
    """:func:`negotiate`, unless a ``format`` parameter names a format: then the first allowed
    format it names, or NotAcceptable when it names only formats of another kind.

    Several values, and comma-separated lists, are read in order. Values that name no format are
    ignored, as the protocol knows no such parameter: clients (SPARQLWrapper) send their own
    spellings beside a good Accept header, which then decides.
    """
    named = [fmt for value in format_names for part in value.split(",") for fmt in by_name(part)]
    if not named:
        return negotiate(accept_header, allowed)
    for fmt in named:
        if fmt in allowed:
            return fmt
    raise NotAcceptable("format=" + ",".join(format_names), allowed)
