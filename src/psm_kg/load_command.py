"""``psm-kg load --into URL``: put the built dataset into a remote SPARQL 1.1 store and check it.

A thin wrapper over :mod:`psm_kg.remote_load`; the group in cli.py adds it with
``main.add_command(load_command.load)``. Nothing here imports cli.py, which imports this module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from psm_kg.build import NQUADS_FILE, BuildError, build_dist
from psm_kg.config import SettingsError, load_settings
from psm_kg.remote_load import (
    DEFAULT_CHUNK,
    DEFAULT_TIMEOUT_S,
    GraphData,
    RemoteLoadError,
    Target,
    open_client,
    read_dist,
    verify,
)
from psm_kg.remote_load import load as load_graphs


class LoadFailed(click.ClickException):
    """The dataset could not be loaded or checked: one line on stderr, exit code 2."""

    exit_code = 2


@click.command(
    "load", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--into",
    "query_url",
    required=True,
    metavar="URL",
    help="The store's SPARQL query endpoint, where the counts are checked; SPARQL Update is sent "
    "there too unless --update or --graph-store is given.",
)
@click.option(
    "--graph-store",
    "graph_store_url",
    metavar="URL",
    help="The store's Graph Store HTTP Protocol endpoint: each graph is replaced with one PUT "
    "[default: SPARQL Update].",
)
@click.option(
    "--update",
    "update_url",
    metavar="URL",
    help="The store's SPARQL Update endpoint, when it is not --into (Oxigraph: /update).",
)
@click.option("--user", metavar="USER", help="User name for HTTP Digest authentication.")
@click.option(
    "--password",
    metavar="PASSWORD",
    help="Password for --user [default: asked for on the terminal].",
)
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK,
    show_default=True,
    metavar="N",
    help="SPARQL Update: at most N triples per request (triples sharing a blank node stay in "
    "one request).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    metavar="SECONDS",
    help="Bound on every HTTP request.",
)
@click.option(
    "--verify-only",
    is_flag=True,
    help="Write nothing: only compare the store's count of each graph with dist/.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path, resolve_path=True),
    help="Project root holding ontology/ and data/ [default: this checkout, else the current dir].",
)
def load(
    query_url: str,
    graph_store_url: str | None,
    update_url: str | None,
    user: str | None,
    password: str | None,
    chunk: int,
    timeout_s: float,
    verify_only: bool,
    root: Path | None,
) -> None:
    """Load ROOT's built dataset (dist/psm-kg.nq, built first when missing) into a SPARQL 1.1
    store, one named graph at a time, then check the triple count of every graph there.

    Each graph replaces the store's graph of the same name (Graph Store PUT, or DROP SILENT
    GRAPH and INSERT), so loading twice changes nothing; other graphs are left alone. Prints the
    count of each graph as the store gives it; progress goes to stderr on a terminal.

    \b
    Examples:
      psm-kg load --into http://127.0.0.1:7878/query --graph-store http://127.0.0.1:7878/store
      psm-kg load --into http://127.0.0.1:8890/sparql \\
        --graph-store http://127.0.0.1:8890/sparql-graph-crud-auth --user dba

    \b
    Exit codes:
      0  every graph is in the store with the triple count of dist/
      1  some graph's count differs (graph, expected and found are listed)
      2  dist/ cannot be built or read, a URL is not http(s), the store cannot be reached,
         answers an HTTP error (status shown) or not SPARQL results, or usage error
    """
    if update_url is not None and graph_store_url is not None:
        raise click.UsageError("give --update or --graph-store, not both")
    if password is not None and user is None:
        raise click.UsageError("--password needs --user")
    if user is not None and password is None:
        if not sys.stdin.isatty():
            raise click.UsageError("--user needs --password when not run on a terminal")
        password = click.prompt(f"Password for {user}", hide_input=True, err=True)
    target = Target(query_url, update_url, graph_store_url, user, password, timeout_s)
    try:
        target.check()
    except RemoteLoadError as error:
        raise LoadFailed(str(error)) from None
    graphs = _dataset(root)
    progress = sys.stderr.isatty()
    width = len(str(max((g.expected for g in graphs), default=0)))

    def loaded(graph: GraphData, seconds: float) -> None:
        if progress:
            click.echo(f"loaded {graph.expected:>{width}}  {graph.iri}  {seconds:.2f} s", err=True)

    try:
        with open_client(target) as client:
            if not verify_only:
                load_graphs(client, target, graphs, chunk=chunk, on_graph=loaded)
            found, mismatches = verify(client, target, graphs)
    except RemoteLoadError as error:
        raise LoadFailed(str(error)) from None
    if mismatches:
        for mismatch in mismatches:
            click.echo(f"mismatch: {mismatch}", err=True)
        click.echo(
            f"Error: {len(mismatches)} of {len(graphs)} graphs in {query_url} differ from dist/",
            err=True,
        )
        sys.exit(1)
    total = sum(count for _iri, count in found)
    width = len(str(total))
    for iri, count in found:
        click.echo(f"{count:>{width}}  {iri}")
    click.echo(f"{total:>{width}}  total in {query_url}")


def _dataset(root: Path | None) -> list[GraphData]:
    try:
        settings = load_settings(root=root)
    except SettingsError as error:
        raise LoadFailed(str(error)) from None
    if not (settings.dist_dir / NQUADS_FILE).is_file():
        click.echo(f"{settings.dist_dir / NQUADS_FILE} is missing: building it first", err=True)
        try:
            build_dist(settings)
        except BuildError as error:
            raise LoadFailed(f"dist/ cannot be built: {error}") from None
    try:
        return read_dist(settings.dist_dir)
    except RemoteLoadError as error:
        raise LoadFailed(str(error)) from None
