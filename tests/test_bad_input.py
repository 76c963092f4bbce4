"""Broken input against the real `psm-kg validate`: a clear message and the documented exit code.

The contract (docs/cli.md): every input is parsed first; unreadable input is reported as one line
per problem, `file:line:col: message` where the position is known, and exits 2; SHACL violations
exit 1; conforming input exits 0; usage errors exit 2. Never a traceback, never a hang.

Each case is one row of CASES; tests/data/bad/README.md has one line per case saying what is
broken, the expected exit code and message fragment, and why. Inputs that cannot be committed as
files (10 MB, 100000 levels of nesting, symlinks, a FIFO) are made in tmp_path. Most cases run
through click's CliRunner; the ones that could hang, recurse, blow up memory or print warnings
through logging run `python -m psm_kg validate` in a real process, killed after the time limit.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from psm_kg.cli import main

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"
README = BAD / "README.md"

TIME_LIMIT_S = 20.0  # every case, however hostile its input
MAX_RSS_BYTES = 512 * 2**20  # for the 10 MB inputs: about 50 times their size
CLOSED_PORT = "127.0.0.1:9"  # corpus URLs point here; tests point them at a live listener
PREFIX = "@prefix ex: <http://example.org/> .\n"
TEN_MB = 10 * 2**20
DEPTH = 100_000
GOOD = "{bad}/mixed-run/good.ttl"

Fragment = str | re.Pattern[str]


def _icase(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# --- inputs made in tmp_path ------------------------------------------------------------------


def _ten_megabyte_literal(tmp: Path) -> None:
    text = PREFIX + 'ex:milano ex:comment "' + "x" * TEN_MB + '" .\n'
    (tmp / "ten-megabyte-literal.ttl").write_text(text, encoding="utf-8")


def _ten_megabyte_long_string(tmp: Path) -> None:
    line = "y" * 79 + "\n"
    body = line * (TEN_MB // len(line))
    text = PREFIX + 'ex:milano ex:comment """' + body + '""" .\n'
    (tmp / "ten-megabyte-long-string.ttl").write_text(text, encoding="utf-8")


def _deep_collections(tmp: Path) -> None:
    text = PREFIX + "ex:milano ex:near " + "(" * DEPTH + ")" * DEPTH + " .\n"
    (tmp / "deep-collections.ttl").write_text(text, encoding="utf-8")


def _deep_blank_nodes(tmp: Path) -> None:
    text = PREFIX + "ex:milano ex:near " + "[ ex:near " * DEPTH + "ex:roma" + " ]" * DEPTH + " .\n"
    (tmp / "deep-blank-nodes.ttl").write_text(text, encoding="utf-8")


def _deep_json_ld(tmp: Path) -> None:
    inner = '{"http://example.org/near": ' * DEPTH + '"Roma"' + "}" * DEPTH
    text = '{"@id": "http://example.org/milano", "http://example.org/near": ' + inner + "}\n"
    (tmp / "deep-json-ld.jsonld").write_text(text, encoding="utf-8")


def _symlink_loop(tmp: Path) -> None:
    folder = tmp / "circular"
    folder.mkdir()
    (folder / "good.ttl").write_text(PREFIX + "ex:milano ex:near ex:monza .\n", encoding="utf-8")
    (folder / "a.ttl").symlink_to("b.ttl")  # a.ttl -> b.ttl -> a.ttl
    (folder / "b.ttl").symlink_to("a.ttl")
    (folder / "self").symlink_to(".", target_is_directory=True)  # a folder inside itself


def _dangling_symlink(tmp: Path) -> None:
    folder = tmp / "dangling-symlink"
    folder.mkdir()
    (folder / "good.ttl").write_text(PREFIX + "ex:milano ex:near ex:monza .\n", encoding="utf-8")
    (folder / "gone.ttl").symlink_to("deleted.ttl")


def _fifo(tmp: Path) -> None:
    folder = tmp / "fifo"
    folder.mkdir()
    (folder / "good.ttl").write_text(PREFIX + "ex:milano ex:near ex:monza .\n", encoding="utf-8")
    os.mkfifo(folder / "pipe.ttl")  # opening it for reading waits for a writer: forever


# --- the cases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One broken input. In args, {bad} is tests/data/bad and {tmp} the test's tmp_path."""

    name: str
    args: tuple[str, ...]
    exit_code: int
    expected: tuple[Fragment, ...]  # every one must appear in stdout + stderr
    absent: tuple[Fragment, ...] = ()  # none may appear
    make: Callable[[Path], None] | None = None  # writes the input into tmp_path
    stdin: str | None = None  # corpus file fed on standard input
    process: bool = False  # run `python -m psm_kg` in a real process, not CliRunner
    listener: bool = False  # {bad} files are copied with CLOSED_PORT pointed at a listener
    max_rss: int | None = None  # bytes; process cases only


CASES = [
    # -- encodings, line endings, empty documents
    Case("empty-file", ("{bad}/empty.ttl",), 0, ("conforms",)),
    Case("comments-only", ("{bad}/comments-only.ttl",), 0, ("conforms",)),
    Case(
        "png-named-ttl", ("{bad}/png-named-ttl.ttl",), 2, ("png-named-ttl.ttl:1:1: invalid UTF-8",)
    ),
    Case("invalid-utf8", ("{bad}/invalid-utf8.ttl",), 2, ("invalid-utf8.ttl:3:22: invalid UTF-8",)),
    Case("utf8-bom", ("{bad}/utf8-bom.ttl",), 0, ("conforms",)),
    Case("crlf", ("{bad}/crlf.ttl",), 0, ("conforms",)),
    Case(
        "crlf-syntax-error", ("{bad}/crlf-syntax-error.ttl",), 2, ("crlf-syntax-error.ttl:3:28:",)
    ),
    Case("utf-16", ("{bad}/utf-16.ttl",), 2, ("utf-16.ttl:1:1:", re.compile("UTF-(8|16)"))),
    # -- Turtle syntax
    Case(
        "truncated-mid-statement",
        ("{bad}/truncated-mid-statement.ttl",),
        2,
        ("truncated-mid-statement.ttl:3:",),
    ),
    Case(
        "truncated-in-string",
        ("{bad}/truncated-in-string.ttl",),
        2,
        ("truncated-in-string.ttl:3:", _icase(r"quote|unterminated|end of file|\bEOF\b")),
    ),
    Case(
        "unterminated-string",
        ("{bad}/unterminated-string.ttl",),
        2,
        ("unterminated-string.ttl:2:32:", _icase("newline|unterminated")),
    ),
    Case(
        "unterminated-iri",
        ("{bad}/unterminated-iri.ttl",),
        2,
        ("unterminated-iri.ttl:2:", re.compile("[IU]RI")),
    ),
    Case(
        "undefined-prefix",
        ("{bad}/undefined-prefix.ttl",),
        2,
        ('undefined-prefix.ttl:3:9: undefined prefix "foo:"',),
    ),
    Case(
        "iri-with-space",
        ("{bad}/iri-with-space.ttl",),
        2,
        ("iri-with-space.ttl:2:",),
        absent=("cannot use the shapes",),
        process=True,
    ),
    Case(
        "iri-with-illegal-character",
        ("{bad}/iri-with-illegal-character.ttl",),
        2,
        ("iri-with-illegal-character.ttl:2:",),
        absent=("cannot use the shapes",),
    ),
    Case(
        "language-tag-syntax",
        ("{bad}/language-tag-syntax.ttl",),
        2,
        ("language-tag-syntax.ttl:2:", "language tag"),
    ),
    Case(
        "language-tag-not-bcp47",
        ("{bad}/language-tag-not-bcp47.ttl",),
        2,
        ("language-tag-not-bcp47.ttl", "english-as-spoken-in-milan"),
        absent=("cannot use the shapes",),
    ),
    Case("base-and-relative-iris", ("{bad}/base-and-relative-iris.ttl",), 0, ("conforms",)),
    # -- literals
    Case(
        "ill-typed-literal-unconstrained",
        ("{bad}/ill-typed-literal-unconstrained.ttl",),
        0,
        ("conforms",),
        process=True,
    ),
    Case(
        "ill-typed-literal-constrained",
        ("{bad}/ill-typed-literal-constrained.ttl",),
        1,
        ("ill-typed-literal-constrained.ttl:29:", "psmsh:PlanEdition-start-year", "MMXXV"),
    ),
    Case(
        "ten-megabyte-literal",
        ("{tmp}/ten-megabyte-literal.ttl",),
        0,
        ("conforms",),
        make=_ten_megabyte_literal,
        process=True,
        max_rss=MAX_RSS_BYTES,
    ),
    Case(
        "ten-megabyte-long-string",
        ("{tmp}/ten-megabyte-long-string.ttl",),
        0,
        ("conforms",),
        make=_ten_megabyte_long_string,
        process=True,
        max_rss=MAX_RSS_BYTES,
    ),
    # -- nesting
    Case(
        "deep-collections",
        ("{tmp}/deep-collections.ttl",),
        2,
        ("deep-collections.ttl", _icase("nest|recursion")),
        make=_deep_collections,
        process=True,
    ),
    Case(
        "deep-blank-nodes",
        ("{tmp}/deep-blank-nodes.ttl",),
        2,
        ("deep-blank-nodes.ttl", _icase("nest|recursion")),
        make=_deep_blank_nodes,
        process=True,
    ),
    Case(
        "deep-json-ld",
        ("{tmp}/deep-json-ld.jsonld",),
        2,
        ("deep-json-ld.jsonld", _icase("nest|recursion")),
        make=_deep_json_ld,
        process=True,
    ),
    # -- N-Triples and RDF/XML
    Case(
        "turtle-construct-in-ntriples",
        ("{bad}/turtle-construct-in.nt",),
        2,
        ("turtle-construct-in.nt:2:",),
    ),
    Case(
        "rdfxml-not-well-formed",
        ("{bad}/not-well-formed.rdf",),
        2,
        ("not-well-formed.rdf:4:", "mismatched tag"),
    ),
    Case(
        "rdfxml-billion-laughs",
        ("{bad}/billion-laughs.rdf",),
        2,
        ("billion-laughs.rdf:", _icase("entit")),
        process=True,
    ),
    Case(
        "rdfxml-external-entity",
        ("{bad}/xxe.rdf",),
        2,
        ("xxe.rdf:", _icase("entit")),
        listener=True,
    ),
    Case("rdfxml-internal-entities", ("{bad}/internal-entities.owl",), 0, ("conforms",)),
    Case("turtle-saved-as-owl", ("{bad}/turtle-saved-as.owl",), 2, ("turtle-saved-as.owl:1:1:",)),
    # -- JSON and JSON-LD
    Case(
        "json-array-of-numbers",
        ("{bad}/numbers.jsonld",),
        2,
        ("numbers.jsonld", re.compile("JSON-LD")),
    ),
    Case(
        "json-without-context",
        ("{bad}/json-without-context.jsonld",),
        2,
        ("json-without-context.jsonld", re.compile("@context|JSON-LD")),
    ),
    Case(
        "json-not-well-formed",
        ("{bad}/json-not-well-formed.jsonld",),
        2,
        ("json-not-well-formed.jsonld:4:3:",),
    ),
    Case(
        "json-ld-remote-context",
        ("{bad}/json-ld-remote-context.jsonld",),
        2,
        ("json-ld-remote-context.jsonld:2:", _icase("fetch")),
        listener=True,
    ),
    Case(
        "json-ld-local-context-file",
        ("{bad}/json-ld-local-context-file.jsonld",),
        2,
        ("json-ld-local-context-file.jsonld:2:", _icase("fetch|open")),
    ),
    Case("owl-imports-remote", ("{bad}/owl-imports-remote.ttl",), 0, ("conforms",), listener=True),
    # -- paths and folders
    Case(
        "path-does-not-exist",
        ("{bad}/does-not-exist.ttl",),
        2,
        ("does-not-exist.ttl: no such file or directory",),
    ),
    Case(
        "unknown-suffix", ("{bad}/unknown-suffix.csv",), 2, ("unknown-suffix.csv: not an RDF file",)
    ),
    Case("directory-without-rdf", ("{bad}/no-rdf-files",), 2, ("no-rdf-files: no RDF files here",)),
    Case(
        "directory-with-only-a-broken-file",
        ("{bad}/only-a-broken-file",),
        2,
        ("only-a-broken-file/broken.ttl:2:",),
    ),
    Case(
        "symlink-loop-in-directory",
        ("{tmp}/circular",),
        2,
        ("circular/a.ttl:", _icase("symbolic link|symlink|loop")),
        make=_symlink_loop,
        process=True,
    ),
    Case(
        "dangling-symlink-in-directory",
        ("{tmp}/dangling-symlink",),
        2,
        ("dangling-symlink/gone.ttl: no such file or directory",),
        make=_dangling_symlink,
    ),
    Case("fifo-in-directory", ("{tmp}/fifo",), 2, ("fifo/pipe.ttl:",), make=_fifo, process=True),
    Case(
        "mixed-run",
        ("{bad}/mixed-run",),
        2,
        (
            "mixed-run/bad-syntax.ttl:3:",
            "mixed-run/bad-encoding.ttl:2:24: invalid UTF-8",
            "2 errors",
        ),
        absent=("good.ttl",),
        process=True,
    ),
    # -- shapes
    Case(
        "shapes-file-missing",
        ("--shapes", "{bad}/missing-shapes.ttl", GOOD),
        2,
        ("missing-shapes.ttl: no such file or directory",),
    ),
    Case(
        "shapes-file-invalid-turtle",
        ("--shapes", "{bad}/shapes-invalid-turtle.ttl", GOOD),
        2,
        ("shapes-invalid-turtle.ttl:6:52:",),
    ),
    Case(
        "shapes-file-not-shacl",
        ("--shapes", "{bad}/shapes-min-count-many.ttl", GOOD),
        2,
        ("shapes-min-count-many.ttl", "minCount"),
    ),
    Case(
        "shapes-file-empty",
        ("--shapes", "{bad}/shapes-empty.ttl", GOOD),
        2,
        ("shapes-empty.ttl", _icase("no triples|no shapes")),
    ),
    Case(
        "shapes-folder-without-rdf",
        ("--shapes", "{bad}/no-rdf-files", GOOD),
        2,
        ("no-rdf-files: no RDF files here",),
    ),
    # -- usage
    Case("unknown-profile", ("--profile", "nosuch", GOOD), 2, ("nosuch", "dcat-ap-it")),
    Case("unknown-format", ("--format", "pdf", GOOD), 2, ("pdf", "sarif")),
    Case("unknown-fail-on", ("--fail-on", "never", GOOD), 2, ("never", "violation")),
    # -- standard input
    Case(
        "stdin-syntax-error",
        ("-",),
        2,
        ("<stdin>:3:1:",),
        stdin="stdin-syntax-error.ttl",
        process=True,
    ),
    Case(
        "stdin-given-twice",
        ("-", "-"),
        2,
        (_icase("standard input|stdin"), _icase("once|twice")),
        absent=("<stdin>:3:",),
        stdin="stdin-syntax-error.ttl",
    ),
]


# --- running the CLI --------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    exit_code: int | None  # None: killed at the time limit
    stdout: str
    stderr: str
    seconds: float
    max_rss: int | None = None  # bytes, process runs only
    exception: BaseException | None = None  # escaped from the command, CliRunner runs only

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _command(args: list[str]) -> list[str]:
    return ["validate", "--root", str(ROOT), *args]


def _run_in_process(args: list[str], stdin: bytes | None) -> Outcome:
    start = time.monotonic()
    result = CliRunner().invoke(main, _command(args), input=stdin, env={})
    seconds = time.monotonic() - start
    escaped = result.exception if not isinstance(result.exception, SystemExit) else None
    return Outcome(result.exit_code, result.stdout, result.stderr, seconds, exception=escaped)


# Runs psm-kg and, as it exits, writes its own peak resident size (VmHWM, kB) to PEAK_RSS_FILE.
# wait4's ru_maxrss will not do: Linux starts a child's peak at its parent's resident size when it
# forks, and this test process grows as the suite runs.
_MEASURED_PSM_KG = """
import atexit, os, runpy, sys

def _write_peak():
    with open("/proc/self/status", encoding="ascii") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["PEAK_RSS_FILE"], "w", encoding="ascii") as out:
        out.write(peak)

atexit.register(_write_peak)
sys.argv[0] = "psm-kg"
runpy.run_module("psm_kg", run_name="__main__", alter_sys=True)
"""


def _run_process(args: list[str], stdin: Path | None, workdir: Path) -> Outcome:
    argv = [sys.executable, "-c", _MEASURED_PSM_KG, *_command(args)]
    peak_file = workdir / "peak-rss.txt"
    outcome = _run_argv(
        argv, stdin, workdir, kill_after=TIME_LIMIT_S + 5, env={"PEAK_RSS_FILE": str(peak_file)}
    )
    peak = peak_file.read_text(encoding="ascii") if peak_file.exists() else ""
    return dataclasses.replace(outcome, max_rss=int(peak) * 1024 if peak else None)


def _run_argv(
    argv: list[str],
    stdin: Path | None,
    workdir: Path,
    kill_after: float,
    env: dict[str, str] | None = None,
) -> Outcome:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PSM_KG_")} | (
        env or {}
    )
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    with (
        out.open("wb") as stdout,
        err.open("wb") as stderr,
        (stdin or Path(os.devnull)).open("rb") as stdin_file,
    ):
        start = time.monotonic()
        process = subprocess.Popen(
            argv, stdin=stdin_file, stdout=stdout, stderr=stderr, cwd=workdir, env=env
        )
        killer = threading.Timer(kill_after, process.kill)
        killer.start()
        try:
            process.wait()
        finally:
            killer.cancel()
        seconds = time.monotonic() - start
    killed = process.returncode == -signal.SIGKILL
    return Outcome(
        None if killed else process.returncode,
        out.read_text(encoding="utf-8", errors="replace"),
        err.read_text(encoding="utf-8", errors="replace"),
        seconds,
    )


class Listener:
    """A TCP server on 127.0.0.1 that counts the connections made to it and closes each at once.

    Used as a context manager; a client that connects gets an immediate end of stream, so a
    command that tries the network fails fast instead of waiting for a reply.
    """

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self.port: int = self._server.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _address = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()


def _arguments(case: Case, tmp_path: Path, listener: Listener) -> list[str]:
    args = []
    for arg in case.args:
        if case.listener and arg.startswith("{bad}/"):
            # A copy whose URLs point at the listener: any connection attempt is counted.
            source = BAD / arg.removeprefix("{bad}/")
            copy = tmp_path / source.name
            text = source.read_text(encoding="utf-8")
            copy.write_text(text.replace(CLOSED_PORT, f"127.0.0.1:{listener.port}"), "utf-8")
            arg = str(copy)
        args.append(arg.format(bad=BAD, tmp=tmp_path))
    return args


def _found(fragment: Fragment, text: str) -> bool:
    if isinstance(fragment, re.Pattern):
        return fragment.search(text) is not None
    return fragment in text


def _stray_stderr(stderr: str) -> list[str]:
    """Lines on stderr that are not click's usage-error lines: log records, warnings, tracebacks."""
    usage = ("Usage:", "Try ", "Error:")
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(usage)]


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_gives_its_documented_exit_code_and_a_clear_message_without_a_traceback(
    case: Case, tmp_path: Path
) -> None:
    if case.make is not None:
        case.make(tmp_path)
    with Listener() as listener:
        args = _arguments(case, tmp_path, listener)
        if case.process:
            stdin = BAD / case.stdin if case.stdin else None
            outcome = _run_process(args, stdin, tmp_path)
        else:
            stdin_bytes = (BAD / case.stdin).read_bytes() if case.stdin else None
            outcome = _run_in_process(args, stdin_bytes)
    shown = f"exit {outcome.exit_code}, {outcome.seconds:.1f} s\n{outcome.output[-3000:]}"

    assert outcome.exit_code is not None, f"killed: still running after {TIME_LIMIT_S + 5} s"
    assert outcome.seconds < TIME_LIMIT_S, f"took {outcome.seconds:.1f} s\n{shown}"
    assert outcome.exception is None, f"escaped: {outcome.exception!r}\n{shown}"
    assert "Traceback" not in outcome.output, shown
    assert outcome.exit_code == case.exit_code, shown
    missing = [fragment for fragment in case.expected if not _found(fragment, outcome.output)]
    assert not missing, f"missing {missing}\n{shown}"
    present = [fragment for fragment in case.absent if _found(fragment, outcome.output)]
    assert not present, f"should not appear: {present}\n{shown}"
    assert not _stray_stderr(outcome.stderr), f"stray stderr\n{outcome.stderr[-3000:]}"
    assert listener.connections == 0, "a network connection was attempted"
    if case.max_rss is not None:
        assert outcome.max_rss is not None
        assert outcome.max_rss < case.max_rss, f"peak memory {outcome.max_rss / 2**20:.0f} MiB"


def test_every_case_has_one_line_in_the_corpus_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    documented = re.findall(r"^\| `([a-z0-9-]+)` \|", readme, flags=re.MULTILINE)
    assert sorted(documented) == sorted(case.name for case in CASES)
    assert len(CASES) >= 30


def test_every_file_in_the_corpus_is_used_by_a_case() -> None:
    used = {arg.removeprefix("{bad}/") for case in CASES for arg in case.args}
    used |= {case.stdin for case in CASES if case.stdin}
    unused = []
    for path in sorted(BAD.rglob("*")):
        relative = path.relative_to(BAD).as_posix()
        if path.is_dir() or path.name.startswith(".") or path == README:
            continue
        if not any(relative == use or relative.startswith(use + "/") for use in used):
            unused.append(relative)
    assert unused == []


def test_the_listener_counts_a_connection_so_the_network_checks_can_fail() -> None:
    with Listener() as listener:
        socket.create_connection(("127.0.0.1", listener.port), timeout=5).close()
        deadline = time.monotonic() + 5
        while listener.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert listener.connections == 1


def test_the_process_runner_kills_a_command_that_hangs_so_a_hang_fails_instead_of_blocking(
    tmp_path: Path,
) -> None:
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    outcome = _run_argv(argv, None, tmp_path, kill_after=0.5)
    assert outcome.exit_code is None
    assert outcome.seconds < 10
