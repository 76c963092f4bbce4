"""A cache of parsed context files, so that repeated incremental runs skip parsing the context.

An incremental run (`validate --context DIR FILE`, the pre-commit hook) parses every context file
although they rarely change between runs; parsing and merging them is most of its time. This
module keeps what validation needs from the context, a `ParsedContext`: the merged graph of every
context file and, per file, its path, the positions of its Turtle (`turtle_index`) and the set of
subjects it describes, so that results are located exactly as without the cache.

An entry is one pickle file in the cache directory, named by a hash of every context file's
(resolved path, size, mtime_ns), in order, and of the psm-kg, rdflib and Python versions: any
change to a context file, or to the list of context files, is a different entry. Entries are
written atomically (a temporary file, then `os.replace`); an entry that cannot be read or
unpickled is ignored, never an error, and the context is parsed again. Only the newest
`KEEP_ENTRIES` entries are kept. Data files are never cached: only context.

The cache directory belongs to the user who runs psm-kg (it is created with mode 0700): a pickle
can run code when loaded, so it must not be shared with people you would not let run code.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import rdflib
from rdflib.term import Node

from psm_kg import __version__
from psm_kg.loading import LoadedFile
from psm_kg.turtle_index import TurtlePositions

__all__ = ["KEEP_ENTRIES", "ContextFile", "ParsedContext", "cache_key", "load", "store"]

KEEP_ENTRIES = 8  # the newest entries kept; older ones are deleted when one is written
_SUFFIX = ".pickle"
_FORMAT = 1  # bump when ParsedContext changes shape: older entries then never match


@dataclass(frozen=True)
class ContextFile:
    """What validation needs from one context file once its graph has been merged."""

    path: Path
    positions: TurtlePositions
    subjects: frozenset[Node]  # the subjects its graph describes

    @property
    def subject_lines(self) -> Mapping[Node, int]:
        return self.positions.subject_lines


@dataclass
class ParsedContext:
    """Every context file merged into one graph, and what locating results needs of each file.

    Validation adds the data's triples to ``graph``: a ParsedContext serves one validation.
    """

    graph: rdflib.Graph
    files: tuple[ContextFile, ...]

    @classmethod
    def of(cls, files: Sequence[LoadedFile]) -> ParsedContext:
        graph = rdflib.Graph()
        for file in files:
            graph += file.graph
        described = tuple(
            ContextFile(file.path, file.positions, frozenset(file.graph.subjects(unique=True)))
            for file in files
        )
        return cls(graph, described)


def cache_key(paths: Sequence[Path]) -> str | None:
    """The entry name for these context files as they are now; None when one cannot be read
    (parsing will report it)."""
    digest = hashlib.sha256()
    versions = (_FORMAT, __version__, rdflib.__version__, sys.version_info[:2])
    digest.update(repr(versions).encode())
    for path in paths:
        try:
            resolved = path.resolve()
            status = resolved.stat()
        except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop
            return None
        digest.update(repr((str(resolved), status.st_size, status.st_mtime_ns)).encode())
    return digest.hexdigest()


def load(cache_dir: Path, key: str) -> ParsedContext | None:
    """The cached context for ``key``, or None when there is none or it cannot be read."""
    entry = cache_dir / (key + _SUFFIX)
    try:
        with entry.open("rb") as stream:
            cached = pickle.load(stream)
    except Exception:  # a missing, truncated or foreign file: parse again, as without a cache
        return None
    if not isinstance(cached, ParsedContext):
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)  # recently used: pruned last
    return cached


def store(cache_dir: Path, key: str, context: ParsedContext) -> None:
    """Write the entry atomically and prune old ones; a cache that cannot be written is skipped."""
    try:
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=_SUFFIX)
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as stream:
            pickle.dump(context, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, cache_dir / (key + _SUFFIX))
    except Exception:  # a full disk, or a term that does not pickle: run without the cache
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return
    _prune(cache_dir)


def _prune(cache_dir: Path) -> None:
    entries = []
    for entry in cache_dir.glob("*" + _SUFFIX):
        if entry.name.startswith("."):
            continue  # another process's temporary file
        with contextlib.suppress(OSError):
            entries.append((entry.stat().st_mtime_ns, entry))
    entries.sort(reverse=True)
    for _mtime, entry in entries[KEEP_ENTRIES:]:
        with contextlib.suppress(OSError):
            entry.unlink()
