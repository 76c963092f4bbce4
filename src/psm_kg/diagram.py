"""The structure of a plan edition as a picture: an inline SVG drawn on the server.

Columns for what the edition has (pillars, missions, Drivers, objectives; the 2016-2018 strategies
through dct:hasPart), one box per member linking to its page, and a line for each link the data
states between members (a Driver selecting an objective or serving a mission). Only what the data
holds is drawn: an edition without objectives has no objectives column. The SVG carries a title
and a description; the page lists the same members as text beside it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from psm_kg import urls
from psm_kg.page_data import DCT, Link, Reader

COLUMN_WIDTH = 230
COLUMN_GAP = 50
MARGIN = 16
HEADER = 44
LINE_HEIGHT = 17
BOX_PADDING = 9
BOX_GAP = 10
WRAP_AT = 28
MAX_LINES = 3


@dataclass(frozen=True)
class Column:
    key: str  # the CSS class of its boxes
    relation: str  # the property from the edition
    titles: dict[str, str]
    members: tuple[Link, ...] = ()


@dataclass(frozen=True)
class Structure:
    columns: tuple[Column, ...]
    edges: tuple[tuple[str, str], ...]  # (from IRI, to IRI), both members

    @property
    def empty(self) -> bool:
        return not self.columns


def _column_specs(base_iri: str) -> list[Column]:
    psm = urls.ontology_namespace(base_iri)
    return [
        Column("strategy", DCT + "hasPart", {"it": "Strategie", "en": "Strategies"}),
        Column("pillar", psm + "hasPillar", {"it": "Pilastri", "en": "Pillars"}),
        Column("mission", psm + "hasMission", {"it": "Missioni", "en": "Missions"}),
        Column("driver", psm + "hasDriver", {"it": "Driver", "en": "Drivers"}),
        Column("objective", psm + "hasObjective", {"it": "Obiettivi", "en": "Objectives"}),
    ]


def edition_structure(reader: Reader, edition: str) -> Structure:
    """The members of an edition by relation, and the links among them."""
    psm = urls.ontology_namespace(reader.base_iri)
    specs = _column_specs(reader.base_iri)
    relations = " ".join(f"<{column.relation}>" for column in specs)
    rows = reader.select(
        f"SELECT DISTINCT ?r ?m WHERE {{ VALUES ?r {{ {relations} }} <{edition}> ?r ?m "
        "FILTER(isIRI(?m)) }"
    )
    edges = reader.select(
        f"SELECT DISTINCT ?a ?b WHERE {{ VALUES ?r {{ {relations} }} <{edition}> ?r ?a . "
        f"?a <{psm}selectsObjective>|<{psm}servesMission> ?b }}"
    )
    reader.load_labels(row["m"].value for row in rows)
    columns = []
    for spec in specs:
        members = sorted(
            (reader.link(row["m"].value) for row in rows if row["r"].value == spec.relation),
            key=lambda link: link.label.casefold(),
        )
        if members:
            columns.append(Column(spec.key, spec.relation, spec.titles, tuple(members)))
    shown = {link.iri for column in columns for link in column.members}
    pairs = tuple(
        sorted(
            (row["a"].value, row["b"].value)
            for row in edges
            if row["a"].value in shown and row["b"].value in shown
        )
    )
    return Structure(tuple(_follow(columns, pairs)), pairs)


def _follow(columns: list[Column], pairs: tuple[tuple[str, str], ...]) -> list[Column]:
    """Each column after the first in the order of the boxes that link to it, so that lines
    cross as little as they can; unlinked members keep their alphabetical place at the end."""
    ordered = columns[:1]
    for column in columns[1:]:
        before = {link.iri: i for i, link in enumerate(ordered[-1].members)}
        first: dict[str, int] = {}
        for start, end in pairs:
            if start in before:
                first[end] = min(first.get(end, len(before)), before[start])
        members = sorted(column.members, key=lambda link: first.get(link.iri, len(before)))
        ordered.append(Column(column.key, column.relation, column.titles, tuple(members)))
    return ordered


@dataclass(frozen=True)
class Layout:
    """How the columns are placed: all side by side (wide), or two per row (narrow screens)."""

    name: str
    per_row: int
    column_width: int
    column_gap: int
    wrap_at: int
    font_class: str


WIDE = Layout("wide", 5, COLUMN_WIDTH, COLUMN_GAP, WRAP_AT, "label")
NARROW = Layout("narrow", 2, 170, 22, 19, "label small")


def _lines(label: str, wrap_at: int) -> list[str]:
    lines = textwrap.wrap(label, wrap_at) or [label]
    if len(lines) > MAX_LINES:
        lines = [
            *lines[: MAX_LINES - 1],
            textwrap.shorten(" ".join(lines[MAX_LINES - 1 :]), wrap_at, placeholder="…"),
        ]
    return lines


def render(
    structure: Structure,
    lang: str,
    title: str,
    description: str,
    href: Callable[[str], str],
    layout: Layout = WIDE,
) -> str:
    """The SVG element, ready to inline (every text escaped)."""
    boxes: dict[str, tuple[int, float, float, float]] = {}  # iri -> (row, x, top, bottom)
    parts: list[str] = []
    top = 0.0
    width_ = layout.column_width
    rows = [
        structure.columns[i : i + layout.per_row]
        for i in range(0, len(structure.columns), layout.per_row)
    ]
    for row_index, row in enumerate(rows):
        bottom = top
        for index, column in enumerate(row):
            x = MARGIN + index * (width_ + layout.column_gap)
            parts.append(
                f'<text class="col-title" x="{x}" y="{top + MARGIN + 14}">'
                f"{escape(column.titles[lang])} ({len(column.members)})</text>"
            )
            y = top + HEADER
            for link in column.members:
                lines = _lines(link.label, layout.wrap_at)
                box_height = len(lines) * LINE_HEIGHT + 2 * BOX_PADDING
                text = "".join(
                    f'<tspan x="{x + BOX_PADDING}" y="{y + BOX_PADDING + 13 + i * LINE_HEIGHT}">'
                    f"{escape(line)}</tspan>"
                    for i, line in enumerate(lines)
                )
                box = (
                    f'<rect class="box {column.key}" x="{x}" y="{y}" width="{width_}" '
                    f'height="{box_height}" rx="6"/><text class="{layout.font_class}">{text}</text>'
                )
                if link.href is not None:
                    box = f'<a href="{escape(href(link.href))}">{box}</a>'
                parts.append(box)
                boxes[link.iri] = (row_index, x, y, y + box_height)
                y += box_height + BOX_GAP
            bottom = max(bottom, y)
        top = bottom + (BOX_GAP if row_index < len(rows) - 1 else 0)
    edges = []
    for start, end in structure.edges:
        row1, x1, top1, bottom1 = boxes[start]
        row2, x2, top2, bottom2 = boxes[end]
        if row1 != row2 or x1 == x2:
            continue  # only lines between columns side by side
        if x2 < x1:
            (x1, top1, bottom1), (x2, top2, bottom2) = (x2, top2, bottom2), (x1, top1, bottom1)
        y1, y2 = (top1 + bottom1) / 2, (top2 + bottom2) / 2
        x1 += width_
        middle = (x1 + x2) / 2
        edges.append(f'<path class="edge" d="M{x1} {y1} C{middle} {y1} {middle} {y2} {x2} {y2}"/>')
    per_row = min(layout.per_row, len(structure.columns))
    width = MARGIN * 2 + per_row * (width_ + layout.column_gap) - layout.column_gap
    ids = f"structure-{layout.name}"
    return (
        f'<svg class="structure {layout.name}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {top + MARGIN}" width="{width}" height="{top + MARGIN}" '
        f'role="group" aria-labelledby="{ids}-title {ids}-desc">'
        f'<title id="{ids}-title">{escape(title)}</title>'
        f'<desc id="{ids}-desc">{escape(description)}</desc>'
        f"{''.join(edges)}{''.join(parts)}</svg>"
    )
