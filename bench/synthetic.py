"""Synthetic plan data for the benchmarks: the bundled data replicated under fresh IRIs.

Copy k is the plan of an imaginary metropolitan city: every part of data/ except the PNRR (one
national scheme that every plan refers to) and the catalogue (which describes this publication)
is rewritten with the same structure under new IRIs
of the canonical base, so that the copies follow the ontology and the shapes exactly as the
bundled data do (0 violations; the same warnings, once per copy):

    plan/psttm-2025-2027             -> plan/synthetic-{k}-2025-2027
    pillar/2025-2027/sostenibilita   -> pillar/synthetic-{k}-2025-2027/sostenibilita
    source/s0                        -> source/synthetic-{k}-s0
    comune/015146                    -> comune/{ISTAT-like code of province 300+k}

Each copy gets its own sources, derived statements, comuni (with matching psm:istatCode), bodies
and people. Text literals name the copy's imaginary city instead of Milano; owl:sameAs links to
real-world entities are dropped. A copy is written as several Turtle files, one per file of
data/, under OUT/synthetic-{k:03d}/{part}/. The output depends only on the seed and the copy
number: copy k is the same whatever the number of copies.

This is benchmark data, not data about any real plan: it is never written under data/.

Usage: .venv/bin/python bench/synthetic.py OUT --scale N [--seed S]
  --scale N   N times the bundled data together with data/: writes N-1 copies
  --copies C  write C copies (instead of --scale)
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

ROOT = Path(__file__).resolve().parents[1]
BASE = "https://w3id.org/psm/milano/id/"
SHARED_PARTS = frozenset({"pnrr"})  # folders of data/ that every plan shares, never copied
# Folders of data/ left out altogether: the catalogue describes this publication, not a plan.
OMITTED_PARTS = frozenset({"catalog"})
MAX_COPIES = 699  # the province part of the synthetic ISTAT codes, 300 + k, has three digits
COPY_DIR = re.compile(r"synthetic-\d{3}")

_OWL_SAME_AS = ox.NamedNode("http://www.w3.org/2002/07/owl#sameAs")
_XSD_STRING = ox.NamedNode("http://www.w3.org/2001/XMLSchema#string")
_RDF_LANG_STRING = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#langString")
_CITY_NAME = re.compile(r"\bMilan[o]?\b")
_NAME_HEADS = ("Borgo", "Castel", "Monte", "Porto", "Villa", "Rocca", "Pieve", "Torre", "Valle")
_NAME_TAILS = ("verde", "lago", "fiore", "alto", "sereno", "chiaro", "rosa", "bello", "mare")

Triple = ox.Triple
Term = ox.NamedNode | ox.BlankNode | ox.Literal


@dataclass(frozen=True)
class SourceFile:
    """One file of data/ to replicate: its path below data/, its triples and prefixes."""

    relative: Path
    triples: tuple[Triple, ...]
    prefixes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Generated:
    copies: int
    files: int
    triples: int  # triples written, summed over the files


def replicated_files(root: Path = ROOT) -> list[Path]:
    """The files of data/ that each copy replicates (all but the shared parts), sorted."""
    data = root / "data"
    return [
        path
        for path in sorted(data.rglob("*.ttl"))
        if path.relative_to(data).parts[0] not in SHARED_PARTS | OMITTED_PARTS
    ]


def shared_files(root: Path = ROOT) -> list[Path]:
    """The files of data/ that every copy refers to and none replicates, sorted."""
    data = root / "data"
    return [
        path
        for path in sorted(data.rglob("*.ttl"))
        if path.relative_to(data).parts[0] in SHARED_PARTS
    ]


def _parse(path: Path) -> tuple[list[Triple], dict[str, str]]:
    parser = ox.parse(path=path, format=ox.RdfFormat.TURTLE)
    triples = [quad.triple for quad in parser]
    return triples, dict(parser.prefixes)


def load_sources(root: Path = ROOT) -> tuple[list[SourceFile], frozenset[str]]:
    """The files to replicate, and the IRIs they must keep (those the shared parts describe)."""
    shared: set[str] = set()
    for path in shared_files(root):
        triples, _ = _parse(path)
        shared.update(t.subject.value for t in triples if isinstance(t.subject, ox.NamedNode))
    sources = []
    for path in replicated_files(root):
        triples, prefixes = _parse(path)
        sources.append(
            SourceFile(
                path.relative_to(root / "data"), tuple(triples), tuple(sorted(prefixes.items()))
            )
        )
    return sources, frozenset(shared)


class _Copy:
    """The renaming of one copy: IRIs, blank nodes, ISTAT codes and the city's name."""

    def __init__(self, k: int, seed: int, shared: frozenset[str], comune_codes: list[str]):
        if not 1 <= k <= MAX_COPIES:
            raise ValueError(f"copy number {k} is outside 1..{MAX_COPIES}")
        rng = random.Random(f"psm-kg synthetic {seed} {k}")
        self.k = k
        self.shared = shared
        self.city = rng.choice(_NAME_HEADS) + rng.choice(_NAME_TAILS)
        province = 300 + k
        suffixes = sorted(rng.sample(range(1, 1000), len(comune_codes)))
        self.codes = {
            old: f"{province:03d}{suffix:03d}"
            for old, suffix in zip(sorted(comune_codes), suffixes, strict=True)
        }
        self.codes["215"] = str(province)  # the ISTAT code of the metropolitan city itself
        self._blank: dict[str, ox.BlankNode] = {}

    def iri(self, node: ox.NamedNode) -> ox.NamedNode:
        value = node.value
        if not value.startswith(BASE) or value in self.shared:
            return node
        kind, _, reference = value[len(BASE) :].partition("/")
        if not reference:
            return node
        if kind == "comune" and reference in self.codes:
            reference = self.codes[reference]
        elif reference.startswith("psttm"):
            reference = f"synthetic-{self.k}{reference[len('psttm') :]}"
        else:
            reference = f"synthetic-{self.k}-{reference}"
        return ox.NamedNode(f"{BASE}{kind}/{reference}")

    def literal(self, literal: ox.Literal) -> ox.Literal:
        if literal.language is not None:
            return ox.Literal(_CITY_NAME.sub(self.city, literal.value), language=literal.language)
        if literal.datatype == _XSD_STRING:
            value = self.codes.get(literal.value, literal.value)
            return ox.Literal(_CITY_NAME.sub(self.city, value))
        return literal

    def term(self, term: Term) -> Term:
        if isinstance(term, ox.NamedNode):
            return self.iri(term)
        if isinstance(term, ox.BlankNode):
            if term.value not in self._blank:
                self._blank[term.value] = ox.BlankNode(f"s{self.k}b{len(self._blank)}")
            return self._blank[term.value]
        if isinstance(term, ox.Literal):
            return self.literal(term)
        raise TypeError(f"unexpected term {term!r}")

    def triples(self, triples: Iterable[Triple]) -> Iterator[Triple]:
        for triple in triples:
            if triple.predicate == _OWL_SAME_AS:
                continue  # the synthetic city is not the real-world entity
            subject = self.term(triple.subject)
            obj = self.term(triple.object)
            assert not isinstance(subject, ox.Literal)
            yield ox.Triple(subject, triple.predicate, obj)


def _turtle(triples: list[Triple], prefixes: tuple[tuple[str, str], ...]) -> bytes:
    """Turtle with the prefix lines sorted, so that the bytes never depend on hashing order."""
    lines = ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=dict(prefixes)).split(b"\n")
    head = 0
    while head < len(lines) and lines[head].startswith(b"@prefix "):
        head += 1
    return b"\n".join([*sorted(lines[:head]), b"", *lines[head:]])


def _comune_codes(sources: Iterable[SourceFile]) -> list[str]:
    prefix = BASE + "comune/"
    return sorted(
        {
            term.value[len(prefix) :]
            for source in sources
            for triple in source.triples
            for term in (triple.subject, triple.object)
            if isinstance(term, ox.NamedNode) and term.value.startswith(prefix)
        }
    )


def _check_output_dir(out: Path, root: Path) -> None:
    resolved = out.resolve()
    if resolved == (root / "data").resolve() or (root / "data").resolve() in resolved.parents:
        raise ValueError(f"{out}: synthetic data is never written under data/")
    if out.exists():
        strangers = [p.name for p in out.iterdir() if not COPY_DIR.fullmatch(p.name)]
        if strangers:
            raise ValueError(
                f"{out} holds other things ({', '.join(sorted(strangers)[:3])}): "
                "give an empty or new directory"
            )


def generate(out: Path, copies: int, *, seed: int = 0, root: Path = ROOT) -> Generated:
    """Write ``copies`` synthetic copies of the bundled data into ``out`` (replacing old ones)."""
    if not 0 <= copies <= MAX_COPIES:
        raise ValueError(f"copies must be within 0..{MAX_COPIES}, not {copies}")
    _check_output_dir(out, root)
    sources, shared = load_sources(root)
    codes = _comune_codes(sources)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        shutil.rmtree(old)
    files = triples = 0
    for k in range(1, copies + 1):
        renaming = _Copy(k, seed, shared, codes)
        for source in sources:
            rewritten = list(renaming.triples(source.triples))
            target = out / f"synthetic-{k:03d}" / source.relative
            target.parent.mkdir(parents=True, exist_ok=True)
            header = (
                f"# Synthetic benchmark data (bench/synthetic.py, seed {seed}, copy {k}: "
                f"{renaming.city}), replicated from data/{source.relative.as_posix()}.\n"
                "# Not a real plan: the facts and sources describe the bundled data.\n\n"
            )
            target.write_bytes(header.encode("utf-8") + _turtle(rewritten, source.prefixes))
            files += 1
            triples += len(rewritten)
    return Generated(copies, files, triples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="directory to write (never under data/)")
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--scale", type=int, help="N times the bundled data: writes N-1 copies")
    size.add_argument("--copies", type=int, help="number of copies to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    copies = args.copies if args.copies is not None else args.scale - 1
    try:
        generated = generate(args.out, copies, seed=args.seed)
    except ValueError as error:
        print(f"synthetic.py: {error}", file=sys.stderr)
        return 2
    print(f"{generated.copies} copies, {generated.files} files, {generated.triples} triples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
