"""Build dist/: merge ontology, shapes and every data part into named graphs; canonicalise; hash.

Inputs (paths from Settings):

- ``ontology/psm.ttl``           -> graph ``{base}milano/graph/ontology``
- ``ontology/shapes/*.ttl``      -> graph ``{base}milano/graph/shapes``
- ``data/<part>/**/*.ttl``       -> graph ``{base}milano/graph/<part>``, one per folder

Outputs in ``dist/``:

- ``psm-kg.nq``         N-Quads, blank nodes canonicalised with RDFC-1.0, lines sorted: the same
                        input always gives the same bytes, so it can be diffed, hashed and cached;
- ``psm-kg.trig``       the same quads as TriG with the prefixes the inputs declare, for reading;
- ``content-hash.txt``  sha256 hex of ``psm-kg.nq``, the seed of every HTTP ETag;
- ``graphs.json``       graph IRI -> triple count, the total and the hash;
- ``dumps/``            the dataset in every RDF format, each also gzipped, and one Turtle file
                        per SKOS vocabulary the catalogue lists (dumps.py);
- ``catalog.nt``        the DCAT-AP_IT catalogue: the catalog part plus the dumps' sizes and
                        checksums and the modification dates (catalog_graph.py);
- ``void.nt``           the VoID description: counts, partitions, subsets (void.py).

Nothing depends on the clock: dates are the modification date of the newest input file, gzip
headers carry no time, so the same inputs give the same bytes in every file.

Every input is parsed before anything is written, and the files are written into a temporary
directory that replaces dist/ only when complete: a parse error leaves the previous dist/ untouched.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox

from psm_kg import dumps, urls
from psm_kg.catalog_graph import CATALOG_FILE, catalog_ntriples, catalog_triples
from psm_kg.config import Settings
from psm_kg.errors import PsmKgError
from psm_kg.void import VOID_FILE, void_ntriples

NQUADS_FILE = "psm-kg.nq"
TRIG_FILE = "psm-kg.trig"
HASH_FILE = "content-hash.txt"
GRAPHS_FILE = "graphs.json"
DIST_FILES = (
    NQUADS_FILE,
    TRIG_FILE,
    HASH_FILE,
    GRAPHS_FILE,
    CATALOG_FILE,
    VOID_FILE,
    dumps.DUMPS_DIR,
)


class BuildError(PsmKgError):
    """An input cannot be read or parsed, or dist/ cannot be written. Names file and position."""

    def __init__(
        self, path: Path, message: str, *, line: int | None = None, column: int | None = None
    ) -> None:
        self.path = path
        self.message = message
        self.line = line
        self.column = column
        position = "".join(f":{n}" for n in (line, column) if n is not None)
        super().__init__(f"{path}{position}: {message}")


@dataclass(frozen=True)
class SourceFile:
    """One Turtle file and the part (named graph) it belongs to."""

    part: str
    path: Path


@dataclass(frozen=True)
class BuildResult:
    dist_dir: Path
    graph_triples: tuple[tuple[str, int], ...]  # (graph IRI, triple count), sorted by IRI
    total_triples: int
    content_hash: str


def _visible(path: Path, under: Path) -> bool:
    """False for files inside hidden folders (.git, .ipynb_checkpoints) or hidden themselves."""
    return not any(part.startswith(".") for part in path.relative_to(under).parts)


def collect_sources(settings: Settings) -> list[SourceFile]:
    """The input files in build order: ontology, shapes, then each data folder; sorted by path."""
    if not settings.ontology_path.is_file():
        raise BuildError(settings.ontology_path, "the ontology file is missing")
    sources = [SourceFile(urls.ONTOLOGY_PART, settings.ontology_path)]
    if settings.shapes_dir.is_dir():
        sources += [
            SourceFile(urls.SHAPES_PART, path) for path in sorted(settings.shapes_dir.glob("*.ttl"))
        ]
    if settings.data_dir.is_dir():
        for entry in sorted(settings.data_dir.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_file() and entry.suffix == ".ttl":
                raise BuildError(
                    entry, "a data file must sit in a part folder: move it to data/<part>/"
                )
            if entry.is_dir():
                files = [p for p in sorted(entry.rglob("*.ttl")) if _visible(p, entry)]
                sources += [SourceFile(entry.name, path) for path in files]
    return sources


def _parse(source: SourceFile, graph: ox.NamedNode) -> tuple[list[ox.Quad], dict[str, str]]:
    """The triples of one file placed in ``graph``, and the prefixes the file declares."""
    try:
        # Blank node labels are only unique within one file; renaming keeps _:b1 in two files apart.
        # No base IRI: a relative IRI in the data is a mistake, reported with its position.
        parser = ox.parse(
            path=source.path, format=ox.RdfFormat.TURTLE, rename_blank_nodes=True, base_iri=None
        )
        quads = [ox.Quad(q.subject, q.predicate, q.object, graph) for q in parser]
    except SyntaxError as error:
        raise BuildError(source.path, error.msg, line=error.lineno, column=error.offset) from None
    except OSError as error:
        raise BuildError(source.path, error.strerror or str(error)) from None
    return quads, dict(parser.prefixes)


def load_dataset(
    sources: Iterable[SourceFile], base_iri: str
) -> tuple[ox.Dataset, dict[str, str], dict[str, int]]:
    """Parse every source into one dataset, with merged prefixes and the triple count per graph."""
    dataset = ox.Dataset()
    prefixes: dict[str, str] = {}
    graphs: dict[str, ox.NamedNode] = {}
    for source in sources:
        try:
            iri = urls.graph_iri(base_iri, source.part)
        except urls.InvalidPartName as error:
            raise BuildError(source.path.parent, str(error)) from None
        graph = graphs.setdefault(iri, ox.NamedNode(iri))
        quads, declared = _parse(source, graph)
        for quad in quads:
            dataset.add(quad)
        for name, namespace in declared.items():
            prefixes.setdefault(name, namespace)  # the first declaration wins; inputs are sorted
    counts = {iri: sum(1 for _ in dataset.quads_for_graph_name(g)) for iri, g in graphs.items()}
    return dataset, prefixes, dict(sorted(counts.items()))


def canonical_nquads(dataset: ox.Dataset) -> bytes:
    """RDFC-1.0 blank node labels and sorted lines: equal datasets give equal bytes."""
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    text = ox.serialize(dataset, format=ox.RdfFormat.N_QUADS)
    assert text is not None  # serialize returns bytes when no output is given
    return b"".join(sorted(text.splitlines(keepends=True)))


def _trig(dataset: ox.Dataset, prefixes: dict[str, str]) -> bytes:
    # Sorted by graph first so each graph is written as one block.
    quads = sorted(
        dataset, key=lambda q: (str(q.graph_name), str(q.subject), str(q.predicate), str(q.object))
    )
    text = ox.serialize(quads, format=ox.RdfFormat.TRIG, prefixes=dict(sorted(prefixes.items())))
    assert text is not None
    return text


def _graphs_json(counts: dict[str, int], total: int, content_hash: str) -> bytes:
    document = {"content_hash": content_hash, "graphs": counts, "total": total}
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def _replace_dir(target: Path, staged: Path) -> None:
    """Put ``staged`` where ``target`` is, refusing to delete a directory build did not write."""
    if target.exists():
        foreign = [p.name for p in target.iterdir() if p.name not in DIST_FILES]
        if foreign:
            raise BuildError(
                target,
                "refusing to replace a directory that holds files build did not write "
                f"({', '.join(sorted(foreign)[:3])}); choose another --out",
            )
        retired = Path(tempfile.mkdtemp(prefix=".psm-kg-old-", dir=target.parent))
        target.rename(retired / target.name)
        try:
            staged.rename(target)
        except OSError:
            (retired / target.name).rename(target)  # put the previous dist/ back
            raise
        finally:
            shutil.rmtree(retired, ignore_errors=True)
    else:
        staged.rename(target)


def inputs_date(sources: Iterable[SourceFile]) -> str:
    """The UTC date (``yyyy-mm-dd``) the newest input file was modified: the catalogue's
    ``dct:modified``, which changes only when an input does."""
    newest = max((source.path.stat().st_mtime for source in sources), default=0.0)
    return datetime.fromtimestamp(newest, UTC).date().isoformat()


def build_dist(settings: Settings) -> BuildResult:
    """Parse every input, then write the dist/ files all at once. Raises BuildError."""
    sources = collect_sources(settings)
    dataset, prefixes, counts = load_dataset(sources, settings.base_iri)
    total = len(dataset)
    nquads = canonical_nquads(dataset)  # canonicalises in place, so TriG below uses the same labels
    content_hash = hashlib.sha256(nquads).hexdigest()
    trig = _trig(dataset, prefixes)
    dump_files = dumps.render(dataset, nquads, trig, prefixes)
    catalog = catalog_triples(dataset, settings.base_iri, dump_files, inputs_date(sources))
    files = {
        NQUADS_FILE: nquads,
        TRIG_FILE: trig,
        HASH_FILE: (content_hash + "\n").encode(),
        GRAPHS_FILE: _graphs_json(counts, total, content_hash),
        CATALOG_FILE: catalog_ntriples(catalog),
        VOID_FILE: void_ntriples(dataset, settings.base_iri),
        **{f"{dumps.DUMPS_DIR}/{name}": data for name, data in dump_files.items()},
    }
    target = settings.dist_dir
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=".psm-kg-dist-", dir=target.parent))
    except OSError as error:
        raise BuildError(target, error.strerror or str(error)) from None
    try:
        (staged / dumps.DUMPS_DIR).mkdir()
        for name, content in files.items():
            (staged / name).write_bytes(content)
        staged.chmod(0o755)  # mkdtemp makes it private; dist/ is meant to be published
        _replace_dir(target, staged)
    except OSError as error:
        raise BuildError(target, error.strerror or str(error)) from None
    finally:
        if staged.exists():
            shutil.rmtree(staged)
    return BuildResult(target, tuple(counts.items()), total, content_hash)
