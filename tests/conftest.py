"""Shared fixtures: a throwaway PostgreSQL server for the team store, and stores of either backend.

Test modules that take `new_store` run once per backend (`[file]` and `[lake]`): the same tests, the same
SQL, on a local DuckDB file and on a DuckLake team store (PostgreSQL catalog, Parquet data). The `[lake]` runs
are marked `slow` (each starts from a new catalog database): the fast loop, `pytest -m "not slow"`, runs `[file]`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import pytest
from pg_cluster import PgCluster, find_bindir, pg_cluster

from agenttrace_tui.store import Store
from agenttrace_tui.store.backend.location import LakeLocation

REQUIRE_POSTGRES_ENV = "AGENTTRACE_REQUIRE_POSTGRES"
"""Set by .ci/run: there, missing PostgreSQL binaries fail the team store tests instead of skipping them."""


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgCluster]:
    if find_bindir() is None:
        reason = "PostgreSQL server binaries not found (apt-get install postgresql): team store tests need a real server"
        if os.environ.get(REQUIRE_POSTGRES_ENV):
            pytest.fail(reason)
        pytest.skip(reason)
    with pg_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def new_lake(pg_server: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> Callable[[], LakeLocation]:
    """A new, empty team store each call: its own catalog database and data directory."""
    numbers = itertools.count()

    def make() -> LakeLocation:
        name = f"lake_{next(numbers)}"
        return LakeLocation(pg_server.createdb(name), f"{tmp_path_factory.mktemp(name)}/")

    return make


@pytest.fixture(scope="module", params=["file", pytest.param("lake", marks=pytest.mark.slow)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def new_store(store_kind: str, request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Store]:
    """A new, empty store of this run's backend each call."""

    def make() -> Store:
        if store_kind == "file":
            return Store(tmp_path_factory.mktemp("store") / "s.duckdb")
        lake: Callable[[], LakeLocation] = request.getfixturevalue("new_lake")
        return Store(lake())

    return make
