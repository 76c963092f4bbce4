"""The psm-kg command: thin wrappers, each calling one typed function.

Settings come from the defaults, then PSM_KG_<SETTING> environment variables, then these options.
Bad input ends with one line on stderr naming the file or setting and exit code 2, not a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from psm_kg import __version__, load_command
from psm_kg.build import NQUADS_FILE, BuildError, build_dist
from psm_kg.config import Settings, SettingsError, load_settings
from psm_kg.store import DatasetStore, Store, StoreError

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
    PSM_KG_MAX_BODY_BYTES, PSM_KG_QUERY_WORKERS, PSM_KG_MAX_RESULT_BYTES,
    PSM_KG_RESULT_CACHE_BYTES, PSM_KG_CACHE_MAX_AGE_S, PSM_KG_SERVICE_ALLOWLIST,
    PSM_KG_CORS_ORIGINS, PSM_KG_ACCESS_LOG, PSM_KG_CACHE_DIR, PSM_KG_STORE_URL,
    PSM_KG_STORE_WAIT_S, PSM_KG_ROOT_PATH); command-line options win over
    the environment. Lists (PSM_KG_SERVICE_ALLOWLIST, PSM_KG_CORS_ORIGINS) are comma-separated.
    """


# Kept in step with psm_kg.reports.FORMATS, profiles.PROFILES and engines.Engine (tested), so
# that --help lists them without importing the validation stack.
REPORT_FORMATS = ("text", "json", "turtle", "junit", "github", "sarif")
PROFILE_NAMES = ("psm", "dcat-ap", "dcat-ap-it", "ndc")
ENGINE_NAMES = ("turbo", "pyshacl")
STDIN = Path("-")


def _one_of(choices: tuple[str, ...], what: str) -> Any:
    """A click callback: the value if it is one of ``choices``, else a one-line error, exit 2."""

    def check(ctx: click.Context, param: click.Parameter, value: str) -> str:
        if value not in choices:
            raise InputError(f"unknown {what} {value!r}: use one of {', '.join(choices)}")
        return value

    return check


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--shapes",
    "shapes",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="SHACL shapes to use instead of the profile's (repeatable; files or folders).",
)
@click.option(
    "--profile",
    default="psm",
    show_default=True,
    metavar="[" + "|".join(PROFILE_NAMES) + "]",
    callback=_one_of(PROFILE_NAMES, "profile"),
    help="Bundled shapes to validate against (docs/profiles.md).",
)
@click.option(
    "--format",
    "report_format",
    default="text",
    show_default=True,
    metavar="[" + "|".join(REPORT_FORMATS) + "]",
    callback=_one_of(REPORT_FORMATS, "format"),
    help="Report format, written to stdout.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["violation", "warning", "info"]),
    default="violation",
    show_default=True,
    help="Exit 1 when a result of this severity or a graver one is found.",
)
@click.option(
    "--context",
    "context",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Files or folders loaded with the data so that references resolve, whose own focus "
    "nodes are not reported (repeatable). Folders skip hidden entries, dist/, venv/, "
    "node_modules/.",
)
@click.option(
    "--engine",
    default="turbo",
    show_default=True,
    metavar="[" + "|".join(ENGINE_NAMES) + "]",
    callback=_one_of(ENGINE_NAMES, "engine"),
    help="SHACL engine: pyshacl-turbo (Rust) or the reference pySHACL; same results.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Parse files in N processes (from 8 files on). Measured on 2 cores: slower, not faster "
    "(510 files: 16.2 s with 2, 12.7 s with 1), as the parsed graphs must be rebuilt in the main "
    "process. More cores may change that (not measured).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Parse the --context files even when the cache (PSM_KG_CACHE_DIR) holds them parsed, "
    "and write nothing there. Without it, a run whose context files are all unchanged since an "
    "earlier run reads them from the cache.",
)
@click.option(
    "--queries",
    is_flag=True,
    help="Check ROOT/queries/*.rq instead of RDF: headers, parameters and SPARQL, and the "
    "declared examples against the built dist/ (built first when missing).",
)
@ROOT_OPTION
def validate(
    paths: tuple[Path, ...],
    shapes: tuple[Path, ...],
    profile: str,
    report_format: str,
    fail_on: str,
    context: tuple[Path, ...],
    engine: str,
    jobs: int,
    no_cache: bool,
    queries: bool,
    root: Path | None,
) -> None:
    """Check RDF files against SHACL shapes: parse everything first, then validate.

    PATHS are RDF files (.ttl .nt .n3 .jsonld .rdf .owl .xml), folders of them, or - for Turtle
    on standard input ("<stdin>" in messages) [default: ROOT's ontology/psm.ttl and data/]. Every
    file is parsed first and every syntax error is reported as file:line:column; SHACL runs only
    when all input parses. Each result names the file and line of its focus node and, when it
    has a value, the line of that value.

    With --queries, checks the named queries instead (ROOT/queries/*.rq, served at
    /api/queries/NAME) and prints one file:line: message per problem.

    \b
    Exit codes:
      0  no result at --fail-on severity or graver (warnings alone pass by default);
         with --queries, every query file loads and its examples give what they expect
      1  at least one result at --fail-on severity or graver (a Violation by default);
         with --queries, at least one problem in a query file
      2  an input cannot be read or parsed, or usage error (unknown profile, format or
         engine, missing --shapes file, PATHS given with --queries)
    """
    if queries:
        if paths:
            raise InputError("--queries checks ROOT/queries: give no PATHS with it")
        _validate_queries(_settings(root=root))
    # Imported here: the SHACL engines and rdflib's parsers are slow to import.
    from psm_kg import profiles
    from psm_kg.engines import Engine
    from psm_kg.loading import InlineDocument
    from psm_kg.reports import render
    from psm_kg.validation import Severity, validate_paths

    missing = [path for path in shapes if not path.exists()]
    if missing:
        raise InputError(f"shapes file {missing[0]}: no such file or directory")
    if paths.count(STDIN) > 1:
        raise InputError("- (standard input) can be given once")
    settings = _settings(root=root)
    default_paths: list[Path | InlineDocument] = [settings.ontology_path, settings.data_dir]
    data: list[Path | InlineDocument] = [p for p in paths if p != STDIN] if paths else default_paths
    if STDIN in paths:
        stdin = sys.stdin.buffer.read()
        data.append(InlineDocument("<stdin>", stdin, ".ttl", base=Path.cwd().as_uri() + "/"))
    report = validate_paths(
        data,
        list(shapes) or None,
        profile=profiles.get_profile(profile),
        context=context,
        engine=Engine(engine),
        jobs=jobs,
        cache_dir=None if no_cache else settings.cache_dir,
    )
    threshold = Severity[fail_on.upper()]
    text = render(report, report_format, color=sys.stdout.isatty(), fail_on=threshold)
    click.echo(text, nl=not text.endswith("\n"))
    sys.exit(report.exit_code_failing_on(threshold))


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


def _validate_queries(settings: Settings) -> None:
    """``validate --queries``: the problems of ROOT/queries/*.rq, one line each; exit 0 or 1."""
    from psm_kg.api import api_problems, queries_dir
    from psm_kg.named_queries import check_query_files, load_named_queries

    store = _store_building_if_missing(settings)
    directory = queries_dir(settings)
    loaded, _ = load_named_queries(directory)
    problems = sorted(
        {*check_query_files(directory, store), *api_problems(loaded)},
        key=lambda problem: (str(problem.path), problem.line, problem.message),
    )
    for problem in problems:
        click.echo(str(problem))
    files = len(list(directory.glob("*.rq"))) if directory.is_dir() else 0
    click.echo(f"{files} query files in {directory}: {len(problems)} problems", err=True)
    sys.exit(1 if problems else 0)


def _building_if_missing(settings: Settings) -> None:
    if not (settings.dist_dir / NQUADS_FILE).is_file():
        click.echo(f"{settings.dist_dir / NQUADS_FILE} is missing: building it first", err=True)
        try:
            build_dist(settings)
        except BuildError as error:
            raise InputError(str(error)) from None


def _store_building_if_missing(settings: Settings) -> Store:
    _building_if_missing(settings)
    try:
        return Store.from_dist(settings.dist_dir)
    except StoreError as error:
        raise InputError(str(error)) from None


def _served_store(settings: Settings) -> DatasetStore:
    """The store `serve` answers from: the --store (checked against dist/), else dist/ loaded."""
    if settings.store_url is None:
        return _store_building_if_missing(settings)
    from psm_kg.remote_store import open_store

    _building_if_missing(settings)
    try:
        return open_store(settings)
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
@click.option(
    "--access-log/--no-access-log",
    default=None,
    help="Print one JSON line per request on stderr [default: on].",
)
@click.option(
    "--query-timeout",
    "query_timeout_s",
    type=float,
    metavar="SECONDS",
    help="Stop a query after SECONDS and answer 503 [default: 10].",
)
@click.option(
    "--query-workers",
    type=int,
    metavar="N",
    help="Worker processes evaluating queries; 0 evaluates in threads, where a timeout cannot "
    "stop a long computation [default: 2].",
)
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="Serve from the SPARQL 1.1 query endpoint at URL, loaded with `psm-kg load`, instead "
    "of from memory [default: none].",
)
@click.option(
    "--root-path",
    metavar="PATH",
    help="The path prefix a reverse proxy serves the site under and strips (/psm for "
    "https://example.org/psm/); links and redirects carry it [default: none].",
)
def serve(
    host: str | None,
    port: int | None,
    root: Path | None,
    get_path: str | None,
    access_log: bool | None,
    query_timeout_s: float | None,
    query_workers: int | None,
    store_url: str | None,
    root_path: str | None,
) -> None:
    """Serve the SPARQL endpoint at http://HOST:PORT/sparql, building dist/ first if missing.

    With --store, every route answers from that SPARQL store instead; it must hold each graph
    of dist/graphs.json with the same triple count (`psm-kg load`), checked at start-up.

    \b
    Exit codes:
      0  stopped normally; with --get, the response was 2xx or 3xx
      1  with --get, the response was 4xx or 5xx
      2  dist/ cannot be built or loaded, the --store does not answer within
         store_wait_s or does not hold the built dataset, or usage error
    """
    settings = _settings(
        root=root,
        host=host,
        port=port,
        access_log=access_log,
        query_timeout_s=query_timeout_s,
        query_workers=query_workers,
        store_url=store_url,
        root_path=root_path,
    )
    store = _served_store(settings)
    early_workers = None
    if get_path is None and settings.store_url is None:
        from psm_kg.query_workers import pool_starting_in_background

        # Started before FastAPI is imported: the workers load the dataset meanwhile.
        early_workers = pool_starting_in_background(store, settings.query_workers)

    from psm_kg.app import create_app  # FastAPI is only needed from here on

    if get_path is not None:
        from starlette.testclient import TestClient

        from psm_kg.query_workers import InProcessEvaluator

        # One request: evaluated in this process rather than in workers started for it.
        one = None if settings.store_url is not None else InProcessEvaluator(store)
        app = create_app(settings, store, one)
        # The request as uvicorn hands it to the app: root_path in the scope and before the path.
        prefix = settings.root_path
        with TestClient(app, root_path=prefix, raise_server_exceptions=False) as client:
            response = client.get(prefix + get_path)
        click.echo(response.content, nl=not response.content.endswith(b"\n"))
        sys.exit(0 if response.status_code < 400 else 1)

    import uvicorn

    from psm_kg.access_log import log_to

    app = create_app(settings, store, early_workers)
    if settings.access_log:
        log_to(sys.stderr)
    listening = f"serving {len(store)} triples at http://{settings.host}:{settings.port}/sparql"
    if settings.root_path:
        listening += f", linked as {settings.root_path}/sparql behind the proxy"
    click.echo(listening, err=True)
    try:
        # psm-kg's access log replaces uvicorn's, which would add a second line per request.
        # uvicorn puts root_path in each request's scope and before its path (ASGI: the path is
        # the full path); the routers strip it to route and add it to what they write.
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            root_path=settings.root_path,
            log_level="info",
            access_log=False,
        )
    finally:
        if early_workers is not None:
            early_workers.close()


@main.command()
@click.argument("name")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter of the query (repeatable); IRIs without angle brackets.",
)
@click.option(
    "--format",
    "output_format",
    metavar="FORMAT",
    help="json (default for SELECT and ASK: a JSON array of rows), srj, csv, tsv; ttl (default "
    "for CONSTRUCT), nt, jsonld, rdfxml, nq, trig; or a media type.",
)
@click.option(
    "--endpoint",
    metavar="URL",
    help="A running psm-kg server's base URL (http://127.0.0.1:8000) to ask instead of the "
    "bundled data.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=1000),
    metavar="N",
    help="List queries: one page of N rows [default: every row, page by page].",
)
@click.option(
    "--offset",
    type=click.IntRange(min=0),
    metavar="M",
    help="List queries: skip M rows first [default: 0].",
)
@ROOT_OPTION
def query(
    name: str,
    params: tuple[str, ...],
    output_format: str | None,
    endpoint: str | None,
    limit: int | None,
    offset: int | None,
    root: Path | None,
) -> None:
    """Run the named query NAME (queries/NAME.rq) and write its answer to stdout.

    Runs against ROOT's built dist/ (built first when missing), or with --endpoint against a
    running psm-kg server's GET /api/queries/NAME. Answers are those of the API: the same
    parameters, formats and checks.

    \b
    Exit codes:
      0  the answer was written
      1  the query failed where it ran (timeout, result too large, server error, or the
         endpoint cannot be reached)
      2  unknown query, a parameter missing or of the wrong type, unknown format, dist/
         cannot be built or loaded, or usage error
    """
    from psm_kg.query_command import (
        QueryCommandError,
        QueryRequest,
        bundled_client,
        endpoint_client,
        parse_params,
    )
    from psm_kg.query_command import run as run_query

    try:
        request = QueryRequest(name, parse_params(params), output_format, limit, offset)
        if endpoint is not None:
            with endpoint_client(endpoint) as client:
                body = run_query(client, request)
        else:
            settings = _settings(root=root)
            with bundled_client(settings, _store_building_if_missing(settings)) as client:
                body = run_query(client, request)
    except QueryCommandError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(error.exit_code)
    click.echo(body, nl=not body.endswith(b"\n"))


@main.group(context_settings=CONTEXT)
def export() -> None:
    """Write the dataset for hosts other than this server (docs/cli.md).

    Each subcommand builds dist/ from ROOT first.
    """


def _built(root: Path | None) -> Settings:
    settings = _settings(root=root)
    try:
        build_dist(settings)
    except BuildError as error:
        raise InputError(f"dist/ cannot be built: {error}") from None
    return settings


EXPORT_DIR = click.argument(
    "directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path, resolve_path=True)
)


@export.command("ndc")
@EXPORT_DIR
@ROOT_OPTION
def export_ndc(directory: Path, root: Path | None) -> None:
    """Write the ontology and the SKOS vocabularies in the schema.gov.it (NDC) layout under DIR.

    DIR/assets/ontologies/<name>/latest/<name>.ttl (and <version>/) and
    DIR/assets/controlled-vocabularies/<name>/<name>.ttl, one per SKOS scheme the catalogue lists.
    Prints each file written, then each required metadata property the data do not state (left
    out, never made up).

    \b
    Exit codes:
      0  the files were written
      2  DIR cannot be written, dist/ cannot be built, or usage error
    """
    from psm_kg.export_ndc import NdcExportError
    from psm_kg.export_ndc import export_ndc as run

    settings = _built(root)
    try:
        result = run(settings, directory)
    except NdcExportError as error:
        raise InputError(str(error)) from None
    for asset in result.assets:
        for relative in asset.files:
            click.echo(f"{asset.triples:>5}  {relative}")
    for iri, prop in result.missing:
        click.echo(f"not in the data, left out: {iri} {prop}", err=True)


@export.command("site")
@EXPORT_DIR
@ROOT_OPTION
@click.option(
    "--site-url",
    metavar="URL",
    default="http://localhost",
    show_default=True,
    help="The origin the files will be served from, named in sitemap.xml and robots.txt.",
)
@click.option(
    "--sparql-endpoint",
    metavar="URL",
    help="A live psm-kg /sparql to redirect /sparql to [default: none; /sparql serves a note].",
)
def export_site(
    directory: Path, root: Path | None, site_url: str, sparql_endpoint: str | None
) -> None:
    """Write every page and representation the server serves as static files under DIR.

    Crawls the app in process from / and writes one file per URL, plus DIR/.htaccess (Apache)
    and DIR/_server/nginx-http.conf and nginx-server.conf (nginx), which redo the 303 redirects
    and the content negotiation. Prints the number of files written.

    \b
    Exit codes:
      0  the site was written
      2  DIR cannot be written, dist/ cannot be built or loaded, or usage error
    """
    from psm_kg.export_site import SiteExportError, site_origin
    from psm_kg.export_site import export_site as run

    try:
        site_origin(site_url)
    except SiteExportError as error:
        raise InputError(str(error)) from None
    if sparql_endpoint is not None and not sparql_endpoint.startswith(("http://", "https://")):
        raise InputError(f"--sparql-endpoint {sparql_endpoint!r}: use an http:// or https:// URL")
    settings = _built(root)
    try:
        store = Store.from_dist(settings.dist_dir)
        result = run(settings, store, directory, site_url=site_url, sparql_endpoint=sparql_endpoint)
    except (StoreError, SiteExportError) as error:
        raise InputError(str(error)) from None
    click.echo(f"{len(result.files)} files written to {result.directory}")


# Defined in its own module (it is longer than the others); registered here like every command.
main.add_command(load_command.load)
