"""Shared fixtures: a copy of the tiny project tree in tests/data/app/tree/, built once per session.

Tests never build into tests/data/: every tree is copied to a temporary directory first. Settings
are loaded with an empty environment, so PSM_KG_* variables of the developer's shell cannot leak in.

The HTTP suite runs on every backend: in a module marked ``every_backend``, each test that takes
``client`` runs three times, on the embedded store and on the Oxigraph server and Virtuoso
(`serve --store`), both started once per session and loaded with the built fixture tree
(tests/engines.py, tests/remote_backends.py). A test about the embedded store alone is marked
``embedded_only`` with the reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from engines import EngineServer, oxigraph_server, virtuoso_server
from psm_kg.app import create_app
from psm_kg.build import build_dist
from psm_kg.config import Settings, load_settings
from psm_kg.query_workers import WorkerPool
from psm_kg.remote_store import RemoteStore
from psm_kg.store import Store
from remote_backends import BACKENDS, load_dist, remote_store, started

APP_DATA = Path(__file__).parent / "data" / "app"
FIXTURE_TREE = APP_DATA / "tree"


@pytest.fixture(autouse=True, scope="session")
def private_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep every run of the CLI in the tests (in process or a child) out of ~/.cache/psm-kg.

    XDG_CACHE_HOME rather than PSM_KG_CACHE_DIR: several tests strip PSM_KG_* variables to run
    with defaults, and the default cache directory follows XDG_CACHE_HOME.
    """
    cache = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        yield


def copy_tree(destination: Path) -> Path:
    """A fresh, writable copy of the fixture tree at ``destination``."""
    shutil.copytree(FIXTURE_TREE, destination)
    return destination


@pytest.fixture(scope="session")
def app_data() -> Path:
    """tests/data/app/: the fixture tree (tree/) and single files to drop into a copy of it."""
    return APP_DATA


@pytest.fixture
def app_tree(tmp_path: Path) -> Path:
    """A copy of the fixture tree this test may change (add files, build into it)."""
    return copy_tree(tmp_path / "tree")


@pytest.fixture
def settings(app_tree: Path) -> Settings:
    return load_settings(env={}, root=app_tree)


@pytest.fixture(scope="session")
def built_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for a copy of the fixture tree whose dist/ has been built. Do not modify."""
    root = copy_tree(tmp_path_factory.mktemp("built") / "tree")
    settings = load_settings(env={}, root=root)
    build_dist(settings)
    return settings


@pytest.fixture(scope="session")
def store(built_settings: Settings) -> Store:
    return Store.from_dist(built_settings.dist_dir)


@pytest.fixture(scope="session")
def query_pool(store: Store) -> Iterator[WorkerPool]:
    """Query worker processes over the built fixture tree, shared by the in-process apps."""
    pool = WorkerPool.for_store(store, 2)
    pool.start()
    yield pool
    pool.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if (
        "client" in metafunc.fixturenames
        and metafunc.definition.get_closest_marker("every_backend") is not None
        and metafunc.definition.get_closest_marker("embedded_only") is None
    ):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The store behind ``client``: embedded, unless the module runs on every backend."""
    return str(getattr(request, "param", "embedded"))


@pytest.fixture(scope="session")
def oxigraph_engine(built_settings: Settings) -> Iterator[EngineServer]:
    for server in started("the HTTP suite on the Oxigraph server", oxigraph_server):
        load_dist(server, built_settings.dist_dir)
        yield server


@pytest.fixture(scope="session")
def virtuoso_engine(built_settings: Settings) -> Iterator[EngineServer]:
    for server in started("the HTTP suite on Virtuoso", virtuoso_server):
        load_dist(server, built_settings.dist_dir)
        yield server


@pytest.fixture(scope="session")
def oxigraph_store(built_settings: Settings, oxigraph_engine: EngineServer) -> RemoteStore:
    """The fixture tree in the Oxigraph server; each app's evaluator closes only its connections."""
    dist = built_settings.dist_dir
    return remote_store(oxigraph_engine, dist, built_settings.max_result_bytes)


@pytest.fixture(scope="session")
def virtuoso_store(built_settings: Settings, virtuoso_engine: EngineServer) -> RemoteStore:
    dist = built_settings.dist_dir
    return remote_store(virtuoso_engine, dist, built_settings.max_result_bytes)


@pytest.fixture
def client(
    backend: str, built_settings: Settings, request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    """The real app over the built fixture tree; server errors come back as responses."""
    if backend == "embedded":
        store = request.getfixturevalue("store")
        app = create_app(built_settings, store, request.getfixturevalue("query_pool"))
    else:
        app = create_app(built_settings, request.getfixturevalue(f"{backend}_store"))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
