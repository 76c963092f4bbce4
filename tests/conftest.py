"""Shared fixtures: a copy of the tiny project tree in tests/data/app/tree/, built once per session.

Tests never build into tests/data/: every tree is copied to a temporary directory first. Settings
are loaded with an empty environment, so PSM_KG_* variables of the developer's shell cannot leak in.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from psm_kg.app import create_app
from psm_kg.build import build_dist
from psm_kg.config import Settings, load_settings
from psm_kg.query_workers import WorkerPool
from psm_kg.store import Store

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


@pytest.fixture
def client(built_settings: Settings, store: Store, query_pool: WorkerPool) -> Iterator[TestClient]:
    """The real app over the built fixture tree; server errors come back as responses."""
    app = create_app(built_settings, store, query_pool)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
