"""Check RDF files against SHACL shapes and return a typed `Report`. Never prints.

Parse first, validate second: pySHACL reports a Turtle syntax error as non-conformance (exit 1)
and its results carry no file positions. So every file is parsed here first (`loading`); any
unreadable input stops the run before SHACL, with every file's problems listed. Otherwise the files
are merged into one graph and each result is traced back to the file and line that describe its
focus node, and to the line holding the offending value.

Context files (`context=`, and the psm ontology for profiles that want it) are loaded with the data
so that references resolve, but results whose focus node is described in them are dropped: that is
what makes incremental runs (only the changed files, the rest of the repository as context) report
only on what changed. With a ``cache_dir``, the parsed context is kept between runs (`parse_cache`):
a run whose context files are all unchanged parses only the data.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import rdflib
from rdflib.namespace import RDF, SH
from rdflib.term import BNode, Literal, Node, URIRef

from psm_kg import errors, parse_cache, profiles
from psm_kg.engines import Engine, run_shacl
from psm_kg.errors import ShapesError
from psm_kg.loading import InlineDocument, LoadedFile, SourceError, parse_files
from psm_kg.parse_cache import ContextFile, ParsedContext
from psm_kg.profiles import Profile
from psm_kg.source_paths import expand_paths, same_file_key

__all__ = ["Engine", "Report", "Result", "Severity", "validate_graph", "validate_paths"]


class Severity(enum.Enum):
    VIOLATION = "Violation"
    WARNING = "Warning"
    INFO = "Info"

    def at_least(self, threshold: Severity) -> bool:
        """True when this severity is as grave as ``threshold`` or graver (Info < Warning < ...)."""
        return _RANK[self] >= _RANK[threshold]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.VIOLATION: 2}


_SEVERITY_BY_IRI: dict[Node | None, Severity] = {
    SH.Violation: Severity.VIOLATION,
    SH.Warning: Severity.WARNING,
    SH.Info: Severity.INFO,
}


@dataclass(frozen=True)
class Result:
    """One SHACL validation result, located in the data files when possible.

    Nodes are written as text: an IRI as itself, a blank node as "_:id", a literal in its
    N-Triples form (e.g. '"Milano"@it') so that its language or datatype is not lost.
    """

    severity: Severity
    focus_node: str
    path: str | None  # the property path, when it is a single IRI
    value: str | None
    shape: str  # sh:sourceShape
    message: str
    file: Path | None  # the data file that describes the focus node (and holds the value)
    line: int | None  # where the focus node's description starts in `file`
    component: str | None = (
        None  # sh:sourceConstraintComponent, e.g. sh:MinCountConstraintComponent
    )
    value_line: int | None = None  # the line in `file` holding the offending value, when found


@dataclass(frozen=True)
class Report:
    results: tuple[Result, ...]
    errors: tuple[SourceError, ...]  # unreadable input; when present, SHACL did not run
    files_checked: int  # data files (shapes and context files not counted)
    triples: int  # distinct triples in the data files that parsed (context not counted)
    # The engine's own sh:ValidationReport, for the Turtle output; None when SHACL did not run.
    report_graph: rdflib.Graph | None = field(default=None, compare=False, repr=False)

    @property
    def conforms(self) -> bool:
        """True when all input was read and no result is a Violation (warnings do not block)."""
        return not self.errors and self.count(Severity.VIOLATION) == 0

    @property
    def exit_code(self) -> int:
        """2 for unreadable input, else 1 for any Violation, else 0 (as pySHACL's CLI)."""
        return self.exit_code_failing_on(Severity.VIOLATION)

    def exit_code_failing_on(self, threshold: Severity) -> int:
        """2 for unreadable input, else 1 for any result at ``threshold`` or graver, else 0."""
        if self.errors:
            return 2
        return 1 if any(r.severity.at_least(threshold) for r in self.results) else 0

    def count(self, severity: Severity) -> int:
        return sum(1 for result in self.results if result.severity is severity)


# A result path of one step: (predicate, inverse), or (None, False) for longer or no paths.
_Step = tuple[URIRef | None, bool]
# (focus node, path step, sh:value) -> (file, line of the focus node, line of the value)
_Location = tuple[Path | None, int | None, int | None]
_Locator = Callable[[Node, _Step, Node | None], _Location]


def validate_paths(
    data: Sequence[Path | InlineDocument],
    shapes: Sequence[Path] | None = None,
    *,
    profile: Profile | None = None,
    context: Sequence[Path] = (),
    engine: Engine = Engine.TURBO,
    jobs: int = 1,
    cache_dir: Path | None = None,
) -> Report:
    """Parse every data, context and shapes file (files or directories), then validate the data.

    ``shapes`` replaces the profile's shapes; without either, the `psm` profile is used. The
    profile's ontology (if it has one) joins ``context``. A file named both as data and as context
    is data. Bad input is reported in `Report.errors`, never raised. ``jobs`` > 1 parses files in
    that many processes. With ``cache_dir``, the parsed context files are read from and written to
    that cache (`parse_cache`); the results are the same.
    """
    if shapes is not None and not shapes:
        raise ValueError("validate_paths needs at least one shapes path")
    if profile is None and shapes is None:
        profile = profiles.get_profile(profiles.DEFAULT_PROFILE)
    if shapes:
        first_shapes_file = shapes[0]  # named when the engine cannot use the shapes
    else:
        assert profile is not None
        first_shapes_file = profile.shape_files[0]
    data_paths, problems = expand_paths([p for p in data if isinstance(p, Path)])
    data_files: list[Path | InlineDocument] = [*data_paths]
    data_files += [p for p in data if isinstance(p, InlineDocument)]
    context_paths = [
        *context,
        *([profiles.ONTOLOGY_FILE] if profile and profile.with_ontology else []),
    ]
    context_files, context_problems = expand_paths(context_paths)
    data_keys = {same_file_key(path) for path in data_paths}
    context_files = [path for path in context_files if same_file_key(path) not in data_keys]
    shape_files, shape_problems = expand_paths(shapes or [])

    # The key is taken before parsing: a file changed meanwhile is parsed again next time.
    cache_key = parse_cache.cache_key(context_files) if cache_dir and context_files else None
    cached = parse_cache.load(cache_dir, cache_key) if cache_dir and cache_key else None
    to_parse = [*data_files, *(context_files if cached is None else [])]
    outcomes = parse_files(to_parse, jobs=jobs)
    data_outcomes, context_outcomes = outcomes[: len(data_files)], outcomes[len(data_files) :]
    shape_outcomes = parse_files(shape_files)
    problems += [o for o in data_outcomes if isinstance(o, SourceError)]
    problems += context_problems + [o for o in context_outcomes if isinstance(o, SourceError)]
    problems += shape_problems + [o for o in shape_outcomes if isinstance(o, SourceError)]
    loaded_data = [o for o in data_outcomes if isinstance(o, LoadedFile)]
    parsed_context = [o for o in context_outcomes if isinstance(o, LoadedFile)]
    loaded_context: Sequence[LoadedFile] | ParsedContext = parsed_context
    if cached is not None:
        loaded_context = cached
    elif cache_dir and cache_key and len(parsed_context) == len(context_files):
        loaded_context = ParsedContext.of(parsed_context)  # every context file parsed
        parse_cache.store(cache_dir, cache_key, loaded_context)

    def report(*bad: SourceError) -> Report:
        return Report((), bad, len(data_files), len(_merge(loaded_data)))

    if problems:
        return report(*problems)
    if shapes is None:
        assert profile is not None
        try:
            shapes_graph = profiles.shapes_graph(profile)
        except errors.SourceError as error:
            return report(*error.problems)
    else:
        shapes_graph = _merge([o for o in shape_outcomes if isinstance(o, LoadedFile)])
        if len(shapes_graph) == 0:
            return report(SourceError(shapes[0], None, None, "the shapes files hold no triples"))
    try:
        return validate_loaded(loaded_data, shapes_graph, context=loaded_context, engine=engine)
    except ShapesError as error:
        return report(SourceError(first_shapes_file, None, None, str(error)))


def validate_loaded(
    data: Sequence[LoadedFile],
    shapes_graph: rdflib.Graph,
    *,
    context: Sequence[LoadedFile] | ParsedContext = (),
    engine: Engine = Engine.TURBO,
) -> Report:
    """Validate parsed files; results are located in them. Raises ShapesError for bad shapes.

    Results whose focus node is described in a ``context`` file (and in no data file) are
    dropped; the context's triples still count for the data's constraints. A `ParsedContext`
    receives the data's triples in its graph (merging them into a copy would cost as much as
    the merge it saves).
    """
    context_files: Sequence[LoadedFile | ContextFile]
    if isinstance(context, ParsedContext):
        data_graph = context.graph
        context_files = context.files
        triples = len(data[0].graph) if len(data) == 1 else len(_merge(data))
        for file in data:
            data_graph += file.graph
    elif len(data) == 1 and not context:
        data_graph = data[0].graph  # read only below; merging would copy every triple
        triples = len(data_graph)
        context_files = ()
    else:
        data_graph = _merge(data)
        triples = len(data_graph)
        for file in context:
            data_graph += file.graph
        context_files = context
    report_graph = run_shacl(data_graph, shapes_graph, engine)
    located = _read_results(report_graph, _locator([*data, *context_files], data_graph))
    context_paths = {file.path for file in context_files} - {file.path for file in data}
    kept = tuple(result for result in located if result.file not in context_paths)
    return Report(kept, (), len(data), triples, report_graph)


def validate_graph(
    graph: rdflib.Graph, shapes_graph: rdflib.Graph, *, engine: Engine = Engine.TURBO
) -> tuple[Result, ...]:
    """Validate an in-memory graph; results carry no file or line. Raises ShapesError."""
    return _read_results(run_shacl(graph, shapes_graph, engine), lambda *_: (None, None, None))


def _merge(files: Sequence[LoadedFile]) -> rdflib.Graph:
    merged = rdflib.Graph()
    for file in files:
        merged += file.graph
    return merged


def _locator(files: Sequence[LoadedFile | ContextFile], data_graph: rdflib.Graph) -> _Locator:
    """Find the file and lines of a result; among files describing a node, the first wins,
    unless a later one holds the offending value."""
    describing: dict[Node, list[LoadedFile | ContextFile]] = {}
    for file in files:
        subjects = file.subjects if isinstance(file, ContextFile) else file.graph.subjects()
        for subject in set(subjects):
            describing.setdefault(subject, []).append(file)

    def owner_of(node: Node) -> Node | None:
        # A blank node ([ ... ] in Turtle) has no position of its own; walk up to the nearest
        # described IRI that refers to it, which is where the reader will find it.
        queue, seen = deque([node]), {node}
        while queue:
            current = queue.popleft()
            if not isinstance(current, BNode):
                return current
            for parent in data_graph.subjects(None, current, unique=True):
                if parent not in seen:
                    seen.add(parent)
                    queue.append(parent)
        return None

    def locate(focus: Node, step: _Step, value: Node | None) -> _Location:
        owner = owner_of(focus)
        if owner is None or owner not in describing:
            return _mentioned(focus if owner is None else owner, files)
        nested = owner != focus
        candidates = describing[owner]
        if value is not None:
            predicate, inverse = step
            for file in candidates:
                positions = file.positions
                if inverse:
                    line = positions.value_line(value, predicate, focus) if not nested else None
                else:
                    line = positions.value_line(owner, predicate, value, nested=nested)
                if line is not None:
                    return file.path, file.subject_lines.get(owner), line
        first = candidates[0]
        return first.path, first.subject_lines.get(owner), None

    return locate


def _mentioned(node: Node, files: Sequence[LoadedFile | ContextFile]) -> _Location:
    """A node no file describes: the first line where it is used as an object, if any."""
    for file in files:
        line = file.positions.mention_lines.get(node)
        if line is not None:
            return file.path, line, None
    return None, None, None


def _path_step(report_graph: rdflib.Graph, path: Node | None) -> _Step:
    """A path of one predicate, or of one inverse predicate (^p), as (predicate, inverse)."""
    if isinstance(path, URIRef):
        return path, False
    inverse = report_graph.value(path, SH.inversePath) if path is not None else None
    if isinstance(inverse, URIRef):
        return inverse, True
    return None, False


def _read_results(report_graph: rdflib.Graph, locate: _Locator) -> tuple[Result, ...]:
    results = []
    for report in report_graph.subjects(RDF.type, SH.ValidationReport):
        for node in report_graph.objects(report, SH.result):
            focus = report_graph.value(node, SH.focusNode)
            path = report_graph.value(node, SH.resultPath)
            value = report_graph.value(node, SH.value)
            shape = report_graph.value(node, SH.sourceShape)
            severity = report_graph.value(node, SH.resultSeverity)
            component = report_graph.value(node, SH.sourceConstraintComponent)
            step = _path_step(report_graph, path)
            file, line, value_line = (
                locate(focus, step, value) if focus is not None else (None, None, None)
            )
            results.append(
                Result(
                    # SHACL allows custom severities; treat them as blocking to stay safe.
                    severity=_SEVERITY_BY_IRI.get(severity, Severity.VIOLATION),
                    focus_node=_text(focus) if focus is not None else "",
                    path=str(path) if isinstance(path, URIRef) else None,
                    value=_text(value) if value is not None else None,
                    shape=_text(shape) if shape is not None else "",
                    message=_message(report_graph, node),
                    file=file,
                    line=line,
                    component=str(component) if isinstance(component, URIRef) else None,
                    value_line=value_line,
                )
            )
    return tuple(sorted(results, key=_sort_key))


def _text(node: Node) -> str:
    if isinstance(node, BNode):
        return f"_:{node}"
    if isinstance(node, Literal):
        return node.n3()
    return str(node)


def _message(report_graph: rdflib.Graph, result: Node) -> str:
    """The English sh:resultMessage if any, else an untagged one, else any; always one line."""
    messages = sorted(
        (message for message in report_graph.objects(result, SH.resultMessage)),
        key=lambda message: (
            getattr(message, "language", None) != "en",
            getattr(message, "language", None) is not None,
            str(message),
        ),
    )
    if messages:
        return " ".join(str(messages[0]).split())
    component = report_graph.value(result, SH.sourceConstraintComponent)
    return f"fails {component}" if component is not None else "fails a constraint"


def _sort_key(result: Result) -> tuple[bool, str, int, int, str, str, str, str, str]:
    return (
        result.file is None,  # results that cannot be located come last
        str(result.file or ""),
        result.line or 0,
        result.value_line or 0,
        result.focus_node,
        result.shape,
        result.path or "",
        result.value or "",
        result.message,
    )
