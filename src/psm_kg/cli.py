"""The psm-kg command: thin wrappers, each calling one typed function.

Settings come from the defaults, then PSM_KG_<SETTING> environment variables, then these options.
Bad input ends with one line on stderr naming the file or setting and exit code 2, not a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from psm_kg import __version__
from psm_kg.build import NQUADS_FILE, BuildError, build_dist
from psm_kg.config import Settings, SettingsError, load_settings
from psm_kg.store import Store, StoreError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

ROOT_OPTION = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path, resolve_path=True),
    help="Project root holding ontology/ and data/ [default: this checkout, else the current dir].",
)


class InputError(click.ClickException):
    """Unreadable input or a bad setting: printed as one line, exit code 2."""

    exit_code = 2


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as error:
        raise InputError(str(error)) from None


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="psm-kg")
def main() -> None:
    """The strategic plan of the Città metropolitana di Milano as linked data.

    Every setting can also be given as an environment variable PSM_KG_<SETTING> (PSM_KG_ROOT,
    PSM_KG_DIST_DIR, PSM_KG_HOST, PSM_KG_PORT, PSM_KG_BASE_IRI, PSM_KG_QUERY_TIMEOUT_S,
    PSM_KG_MAX_BODY_BYTES); command-line options win over the environment.
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@ROOT_OPTION
@click.option(
    "--fail-on",
    type=click.Choice(["violation", "warning", "info"]),
    default="violation",
    show_default=True,
    help="Exit 1 when a result of this severity or a graver one is found.",
)
def validate(paths: tuple[Path, ...], root: Path | None, fail_on: str) -> None:
    """Check the ontology and the data against the SHACL shapes.

    PATHS are Turtle files or folders of them [default: ontology/psm.ttl and data/]. The shapes are
    every ontology/shapes/*.ttl. The psm ontology is always loaded with the data, because the shapes
    rely on its class hierarchy and on the terms it defines (e.g. the derivation methods).

    \b
    Exit codes:
      0  no result at --fail-on severity or graver (warnings alone pass by default)
      1  at least one result at --fail-on severity or graver (a Violation by default)
      2  an input cannot be read or parsed, or the command was used wrongly
    """
    # Imported here: pySHACL is slow to import and only this command needs it.
    from psm_kg.report import render_text
    from psm_kg.validation import Severity, validate_paths

    settings = _settings(root=root)
    data = [settings.ontology_path, *(paths or [settings.data_dir])]
    shapes = sorted(settings.shapes_dir.glob("*.ttl"))
    if not shapes:
        raise InputError(f"no shapes to validate against: {settings.shapes_dir} has no *.ttl files")
    report = validate_paths(data, shapes)
    text = render_text(report, color=sys.stdout.isatty())
    click.echo(text, nl=not text.endswith("\n"))
    sys.exit(report.exit_code_failing_on(Severity[fail_on.upper()]))


@main.command()
@ROOT_OPTION
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path, resolve_path=True),
    help="Directory to write [default: ROOT/dist].",
)
def build(root: Path | None, out: Path | None) -> None:
    """Merge ontology, shapes and data into named graphs and write dist/.

    Writes psm-kg.nq (canonical N-Quads), psm-kg.trig, content-hash.txt and graphs.json, then prints
    the triple count of each named graph, the total and the content hash.

    \b
    Exit codes:
      0  dist/ was written
      2  an input cannot be read or parsed (file:line:column is printed), or usage error
    """
    settings = _settings(root=root, dist_dir=out)
    try:
        result = build_dist(settings)
    except BuildError as error:
        raise InputError(str(error)) from None
    width = len(str(result.total_triples))
    for iri, triples in result.graph_triples:
        click.echo(f"{triples:>{width}}  {iri}")
    click.echo(f"{result.total_triples:>{width}}  total")
    click.echo(f"sha256 {result.content_hash}  {result.dist_dir}")


def _store_building_if_missing(settings: Settings) -> Store:
    if not (settings.dist_dir / NQUADS_FILE).is_file():
        click.echo(f"{settings.dist_dir / NQUADS_FILE} is missing: building it first", err=True)
        try:
            build_dist(settings)
        except BuildError as error:
            raise InputError(str(error)) from None
    try:
        return Store.from_dist(settings.dist_dir)
    except StoreError as error:
        raise InputError(str(error)) from None


def _check_get_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.startswith("/"):
        raise click.BadParameter("must be a path starting with /, e.g. /healthz")
    return value


@main.command()
@click.option("--host", help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, help="Port to listen on [default: 8000].")
@ROOT_OPTION
@click.option(
    "--get",
    "get_path",
    metavar="PATH",
    callback=_check_get_path,
    help="Send one GET request for PATH through the app, print the body and exit (no port opened).",
)
def serve(host: str | None, port: int | None, root: Path | None, get_path: str | None) -> None:
    """Serve the SPARQL endpoint at http://HOST:PORT/sparql, building dist/ first if missing.

    \b
    Exit codes:
      0  stopped normally; with --get, the response was 2xx or 3xx
      1  with --get, the response was 4xx or 5xx
      2  dist/ cannot be built or loaded, or usage error
    """
    settings = _settings(root=root, host=host, port=port)
    store = _store_building_if_missing(settings)

    from psm_kg.app import create_app  # FastAPI is only needed from here on

    app = create_app(settings, store)
    if get_path is not None:
        from starlette.testclient import TestClient

        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get(get_path)
        click.echo(response.content, nl=not response.content.endswith(b"\n"))
        sys.exit(0 if response.status_code < 400 else 1)

    import uvicorn

    click.echo(
        f"serving {len(store)} triples at http://{settings.host}:{settings.port}/sparql", err=True
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
