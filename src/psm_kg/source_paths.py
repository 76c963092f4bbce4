"""Which files a run reads: paths and directories turned into RDF files, every problem located.

A directory stands for the RDF files below it. Hidden entries (.git, .venv, ...) and build or
tool folders (`SKIPPED_DIRECTORIES`) are not entered, so that `--context .` at a repository root
reads the repository's own data and nothing else. Symbolic links to directories are followed,
but one that leads back to a directory being walked is reported as a loop and not entered, so a
walk always ends. Only regular files are read: a pipe or socket would block the run.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_SUFFIXES = (".ttl", ".nt", ".n3", ".jsonld", ".rdf", ".owl", ".xml")  # in messages, this order
RDF_SUFFIXES: frozenset[str] = frozenset(_SUFFIXES)
SKIPPED_DIRECTORIES: frozenset[str] = frozenset({"dist", "node_modules", "__pycache__", "venv"})
_EXPECTED = "expected one of " + ", ".join(_SUFFIXES)
# Opening a FIFO waits for a writer: a CI run would hang instead of failing.
_NOT_REGULAR = "not a regular file (a pipe, socket or device): use - for standard input"


@dataclass(frozen=True)
class SourceError:
    """An input that could not be read or parsed, located as precisely as the parser allows."""

    path: Path
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        location = [str(self.path)]
        if self.line is not None:
            location.append(str(self.line))
            if self.column is not None:
                location.append(str(self.column))
        return ":".join(location) + ": " + self.message


def expand_paths(paths: Sequence[Path]) -> tuple[list[Path], list[SourceError]]:
    """Turn files and directories into the RDF files to read, in a stable order.

    A directory stands for the RDF files below it (recursively, sorted, hidden entries and
    SKIPPED_DIRECTORIES left out); a file named explicitly must have an RDF suffix. Each file is
    listed once, however many paths lead to it.
    """
    files: list[Path] = []
    errors: list[SourceError] = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError as error:
            errors.append(SourceError(path, None, None, os_message(error)))
            continue
        if stat.S_ISDIR(mode):
            problems_before = len(errors)
            found = _rdf_files_below(path, errors)
            if not found and len(errors) == problems_before:  # an unreadable one is reported
                errors.append(SourceError(path, None, None, f"no RDF files here ({_EXPECTED})"))
            files.extend(found)
        elif not stat.S_ISREG(mode):
            errors.append(SourceError(path, None, None, _NOT_REGULAR))
        elif path.suffix.lower() in RDF_SUFFIXES:
            files.append(path)
        else:
            errors.append(SourceError(path, None, None, f"not an RDF file ({_EXPECTED})"))
    seen: set[str] = set()
    unique = []
    for file in files:
        # realpath, unlike Path.resolve, does not raise on a link loop (reported when read).
        if (key := os.path.realpath(file)) not in seen:
            seen.add(key)
            unique.append(file)
    return unique, errors


def same_file_key(path: Path) -> str:
    """A key equal for every path that leads to the same file (links, `..`, relative paths)."""
    return os.path.realpath(path)


def os_message(error: OSError) -> str:
    reason = error.strerror or type(error).__name__
    return reason[:1].lower() + reason[1:]


def _rdf_files_below(directory: Path, errors: list[SourceError]) -> list[Path]:
    found: list[Path] = []
    # Each entry carries the real paths of the directories above it: a link back to one of
    # them is a loop. Iterative, so that a deep tree cannot exhaust the recursion limit.
    stack: list[tuple[Path, tuple[str, ...]]] = [(directory, (os.path.realpath(directory),))]
    while stack:
        current, ancestors = stack.pop()
        try:
            with os.scandir(current) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as error:
            where = Path(error.filename) if error.filename else current
            errors.append(SourceError(where, None, None, os_message(error)))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                mode = os.stat(path).st_mode  # follows links
            except OSError as error:  # a broken or looping link
                if path.suffix.lower() in RDF_SUFFIXES:  # one the user expects to be read
                    errors.append(SourceError(path, None, None, os_message(error)))
                continue
            if stat.S_ISDIR(mode):
                if entry.name in SKIPPED_DIRECTORIES:
                    continue
                real = os.path.realpath(path)
                if real in ancestors:
                    message = f"symbolic link loop: leads back to {real}, not followed"
                    errors.append(SourceError(path, None, None, message))
                    continue
                stack.append((path, (*ancestors, real)))
            elif path.suffix.lower() in RDF_SUFFIXES:
                if stat.S_ISREG(mode):
                    found.append(path)
                else:
                    errors.append(SourceError(path, None, None, _NOT_REGULAR))
    return sorted(found)
