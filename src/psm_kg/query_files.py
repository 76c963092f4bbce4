"""The example queries of a project tree: ``queries/*.rq``, each with its header.

Every file opens with comment lines of the form ``# key: value``; a value may go on over the
comment lines that directly follow it, indented by two or more spaces::

    # summary: The pillars of a plan edition
    # description: The pillars on which the strategic vision rests,
    #   with their Italian and English labels.
    # parameter: edition (IRI of psm:PlanEdition) default <https://w3id.org/psm/milano/id/plan/psttm-2025-2027>
    #   The plan edition whose pillars to list.
    # tags: plan, pillars
    # example: edition=<https://w3id.org/psm/milano/id/plan/psttm-2025-2027>
    # expect: 5 rows
    PREFIX psm: <https://w3id.org/psm/ontology#>

The header ends at the first line that is not a comment. Keys may repeat (a query with two
parameters has two ``parameter`` lines), so the header keeps every field in file order, with the
line it starts on. What the values of ``parameter``, ``example`` and ``expect`` mean is
named_queries.py's business (and docs/queries.md's): here a header is only keys and text.

No HTTP here: the query editor offers these files as examples, and the named-query API
(named_queries.py) reads them through this module too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

SUFFIX = ".rq"

# "# key: value", one space after the hash; keys are lower-case words joined by hyphens.
_FIELD = re.compile(r"^# ([a-z][a-z0-9-]*):(.*)$")
# "#   more", a continuation of the previous field's value.
_CONTINUATION = re.compile(r"^#  +(\S.*)$")


@dataclass(frozen=True)
class HeaderField:
    """One ``# key: value`` field: its key, the value on its own line, the 1-based line number
    and the text of its continuation lines (each stripped), in order."""

    key: str
    value: str
    line: int
    continuation: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The value with its continuation lines, joined by single spaces."""
        return " ".join(part for part in (self.value, *self.continuation) if part)


@dataclass(frozen=True)
class QueryFile:
    """One ``queries/*.rq`` file: its name (the file name without ``.rq``), text and header."""

    name: str
    path: Path
    text: str
    header: tuple[tuple[str, str], ...] = ()
    fields: tuple[HeaderField, ...] = ()

    def get(self, key: str) -> str | None:
        """The first value of ``key`` in the header, or None."""
        return next((value for name, value in self.header if name == key), None)

    def get_all(self, key: str) -> tuple[str, ...]:
        """Every value of ``key``, in file order (``parameter`` may repeat)."""
        return tuple(value for name, value in self.header if name == key)

    @property
    def summary(self) -> str:
        return self.get("summary") or ""

    @property
    def description(self) -> str:
        return self.get("description") or ""

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(tag.strip() for tag in (self.get("tags") or "").split(",") if tag.strip())


def parse_header(text: str) -> tuple[tuple[str, str], ...]:
    """The ``# key: value`` fields at the top of a query, continuation lines joined by a space."""
    return tuple((field.key, field.text) for field in parse_header_fields(text))


def parse_header_fields(text: str) -> tuple[HeaderField, ...]:
    """The fields at the top of a query with their line numbers.

    A continuation line belongs to the field it directly follows; any other comment (a blank
    ``#``, free prose) is part of the header but not a field, and ends the field before it.
    """
    fields: list[HeaderField] = []
    more: list[str] = []
    open_field = False

    def close() -> None:
        if fields and more:
            last = fields[-1]
            fields[-1] = HeaderField(last.key, last.value, last.line, tuple(more))
        more.clear()

    for number, line in _header_lines(text):
        field = _FIELD.match(line)
        continuation = _CONTINUATION.match(line)
        if field:
            close()
            fields.append(HeaderField(field.group(1), field.group(2).strip(), number))
            open_field = True
        elif continuation and open_field:
            more.append(continuation.group(1).strip())
        else:
            close()
            open_field = False
    close()
    return tuple(fields)


def _header_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        if not line.startswith("#"):
            return
        yield number, line.rstrip()


def read_query_file(path: Path) -> QueryFile:
    """One query file; OSError or UnicodeDecodeError when it cannot be read as UTF-8."""
    text = path.read_text(encoding="utf-8")
    fields = parse_header_fields(text)
    return QueryFile(
        name=path.name.removesuffix(SUFFIX),
        path=path,
        text=text,
        header=tuple((field.key, field.text) for field in fields),
        fields=fields,
    )


def load_query_files(directory: Path) -> list[QueryFile]:
    """Every readable ``*.rq`` file directly in ``directory``, sorted by name.

    A missing directory gives no queries. A file that cannot be read or is not UTF-8 is left out
    with a logged warning: one bad file must not take the other examples (or a page) down.
    """
    if not directory.is_dir():
        return []
    queries: list[QueryFile] = []
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        if not path.is_file():
            continue
        try:
            queries.append(read_query_file(path))
        except (OSError, UnicodeDecodeError) as error:
            logger.warning("skipping the query file %s: %s", path, error)
    return queries
