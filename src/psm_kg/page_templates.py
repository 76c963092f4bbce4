"""The one Jinja environment for the HTML the server writes (src/psm_kg/templates/).

Autoescaped, since values on a page may come from the client (a query, a request body) or from
the data; undefined names fail loudly rather than print nothing. jinja2 is imported on the first
page rendered, not when the server starts: a server answering SPARQL queries need not pay for it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

TEMPLATES_DIR = Path(__file__).parent / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: object) -> str:
    """The template ``name`` filled with ``context``."""
    return environment().get_template(name).render(**context)
