"""The exceptions psm-kg raises on purpose. Anything else escaping is a bug.

```
PsmKgError                 base: catch this to turn any expected failure into a message + exit 2
 ├── SourceError           input files missing, unreadable or not parsable RDF
 │                         (.problems: the located `loading.SourceError` values, one per file)
 └── ShapesError           the shapes are valid RDF but pySHACL cannot use them as SHACL
```

Validation itself does not raise for bad input: `validation.validate_paths` puts the same problems
into its `Report`. These exceptions are for callers that cannot go on without good input, such as
loading the store at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psm_kg import loading


class PsmKgError(Exception):
    """Base of every error psm-kg raises deliberately; its text is meant for people."""


class SourceError(PsmKgError):
    """One or more input files could not be read; `str()` gives one "path:line:col: why" a line."""

    def __init__(self, problems: Iterable[loading.SourceError]) -> None:
        self.problems: tuple[loading.SourceError, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("SourceError needs at least one problem")
        super().__init__("\n".join(str(problem) for problem in self.problems))


class ShapesError(PsmKgError):
    """The shapes graph parsed but is not usable SHACL (pySHACL refused to load it)."""
