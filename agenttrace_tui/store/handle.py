"""Store: the handle on one store (a DuckDB file, or a team store on DuckLake: store/backend/lake.py) that opens a
connection per call: readers (`read()` gives the Reader, store/read/reader.py), writers, and the write side's
entry points (ingest, reprice, clear rejects). Reached through the face, `agenttrace_tui.store`."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from agenttrace_tui.store.backend import Backend, open_backend
from agenttrace_tui.store.backend.connection import DEFAULT_WAIT_SECONDS, restrict
from agenttrace_tui.store.backend.location import LakeLocation, StoreLocation, resolve_store
from agenttrace_tui.store.backend.schema import SCHEMA_VERSION, needs_setup, store_version
from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.read.filters import compile_filters
from agenttrace_tui.store.read.reader import Reader
from agenttrace_tui.store.records import TreeNode

if TYPE_CHECKING:
    from agenttrace_tui.store.read.analytics import Stats, StatsRules
    from agenttrace_tui.store.read.sql import SqlResult
    from agenttrace_tui.store.write.ingest import IngestResult


class Store:
    """A store file or a team store URL (--db, $AGENTTRACE_DB, config; store/backend/location.py). Connections are
    opened per call and closed at once, so that other processes (an ingest next to an open TUI) can take a
    file's lock in between."""

    def __init__(self, db: str | os.PathLike[str] | StoreLocation | None = None, *,
                 wait_seconds: float = DEFAULT_WAIT_SECONDS, reader_memory_limit: str | None = None):
        self.path: StoreLocation = db if isinstance(db, (Path, LakeLocation)) else resolve_store(db)
        """A Path for a file store; str() of it is what --db takes."""
        self.backend: Backend = open_backend(self.path)
        self.wait_seconds = wait_seconds
        self.reader_memory_limit = reader_memory_limit
        """DuckDB's buffer memory for each read connection of a file store (e.g. "256MB"): a long-lived
        process (the explorer) stays small, big queries spill to disk and run slower. None: DuckDB's default."""

    def display(self) -> str:
        return self.backend.display()

    def exists(self) -> bool:
        return self.backend.exists()

    def change_stamp(self) -> Hashable | None:
        """A token that moves with every commit by any process, cheap enough to ask a few times a second (a file
        store: a stat of the file and its WAL); None when the store can't tell (a team store)."""
        return self.backend.change_stamp()

    @contextmanager
    def reader(self, *, restricted: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived read-only connection on one state of the store; a store from an older version is
        upgraded first. `restricted`: for SQL from outside, no file but the store's and no network
        (store/backend/connection.py, `restrict`); a file store only."""
        if restricted:
            self._check_restrictable()
        with self.backend.reader(self.wait_seconds) as con:
            self._limit_memory(con)
            version = store_version(con)
            if version == SCHEMA_VERSION:
                if restricted:
                    restrict(con)
                yield con
                return
        self._setup()
        with self.backend.reader(self.wait_seconds) as con:
            self._limit_memory(con)
            if restricted:
                restrict(con)
            yield con

    @contextmanager
    def read(self, *, restricted: bool = False) -> Iterator[Reader]:
        """The read API (store/read/reader.py) on one short-lived connection: one state of the store.
        `restricted=True` for any SQL that comes from someone else than the local user (an MCP client, a
        request): `Reader.query` can then read the store and nothing else (docs/reliability.md)."""
        with self.reader(restricted=restricted) as con:
            yield Reader(con)

    def _check_restrictable(self) -> None:
        if not isinstance(self.path, Path):
            # DuckDB's restriction is the instance's (a team store's is shared by the process) and would stop the
            # lake's own reads of its Parquet files; allowing its data directory would let a query write there.
            raise StoreError(f"restricted SQL is not available on a team store ({self.display()}): "
                             "only on a store file")

    def _limit_memory(self, con: duckdb.DuckDBPyConnection) -> None:
        # A file store's reader is its own DuckDB instance; a team store's is shared by the process: left alone.
        if self.reader_memory_limit is not None and isinstance(self.path, Path):
            con.execute(f"SET memory_limit = '{self.reader_memory_limit}'")

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.backend.writer(self.wait_seconds) as con:
            if needs_setup(con):
                self.backend.setup(con, self.wait_seconds)
            yield con

    def _setup(self) -> None:
        with self.writer():
            pass

    # Writing ---------------------------------------------------------------------------------

    def ingest(
        self,
        paths: Sequence[str],
        *,
        strict: bool = False,
        force: bool = False,
        prices_file: Path | None = None,
        on_bytes: Callable[[int], None] | None = None,
        redact: bool = True,
    ) -> IngestResult:
        """Ingest files, directories and globs; unreadable arguments raise StoreError."""
        from agenttrace_tui.store.write.ingest import expand_inputs, ingest

        sources, problems = expand_inputs(paths)
        if problems:
            raise StoreError(problems[0])
        return ingest(
            self.backend, sources, strict=strict, force=force, prices_file=prices_file,
            wait_seconds=self.wait_seconds, on_bytes=on_bytes, redact=redact,
        )

    def reprice(self, prices_file: Path | None = None) -> int:
        """Recompute every computed cost with the current overrides; returns the spans priced."""
        from agenttrace_tui.store.write import merge_sql
        from agenttrace_tui.store.write.ingest import price_models
        from agenttrace_tui.store.write.pricing import load_overrides

        overrides = load_overrides(prices_file)
        with self.writer() as con:

            def reprice_all() -> int:
                con.execute(merge_sql.REPRICE_RESET_SQL)
                price_models(con, overrides, merge_sql.ALL_SCOPE, merge_sql.ALL_DISTINCT_MODELS_SQL)
                con.execute(merge_sql.ALL_SESSIONS_TOUCHED_SQL)
                con.execute(merge_sql.ROLLUP_SQL)
                row = con.execute("SELECT count(*) FROM span_data WHERE cost_computed IS NOT NULL").fetchone()
                return int(row[0]) if row else 0

            return self.backend.transaction(con, reprice_all, self.wait_seconds)

    def clear_rejects(self) -> int:
        with self.writer() as con:

            def clear() -> int:
                row = con.execute("SELECT count(*) FROM rejects").fetchone()
                con.execute("DELETE FROM rejects")
                return int(row[0]) if row else 0

            return self.backend.transaction(con, clear, self.wait_seconds)

    # Reading: the Reader's answers, each on a connection of its own -------------------------------

    def sessions(
        self,
        filters: Sequence[str] = (),
        *,
        since: str | None = None,
        until: str | None = None,
        query: str | None = None,
        sort: str | None = None,
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        where = compile_filters(filters, since=since, until=until, query_json=query)  # fails before the store opens
        with self.read() as r:
            return r.sessions(where, sort=sort, descending=descending, limit=limit, offset=offset)

    def totals(
        self, filters: Sequence[str] = (), *, since: str | None = None, until: str | None = None
    ) -> dict[str, Any]:
        where = compile_filters(filters, since=since, until=until)
        with self.read() as r:
            return r.totals(where)

    def session(self, session_id: str) -> dict[str, Any] | None:
        with self.read() as r:
            return r.session(session_id)

    def tree(self, session_id: str, *, spans_per_node: int | None = None) -> TreeNode | None:
        with self.read() as r:
            return r.tree(session_id, spans_per_node=spans_per_node)

    def rejects(self, limit: int | None = None) -> list[dict[str, Any]]:
        with self.read() as r:
            return r.rejects(limit)

    def stats(
        self,
        filters: Sequence[str] = (),
        *,
        since: str | None = None,
        until: str | None = None,
        query: str | None = None,
        by: str | None = None,
        top: int = 10,
        rules: StatsRules | None = None,
    ) -> Stats:
        """Cost, latency, errors, bottlenecks (and a compare by `by`) over the whole sessions selected;
        `rules` default to the config file's `[stats]` table (docs/analytics.md)."""
        where = compile_filters(filters, since=since, until=until, query_json=query)
        if rules is None:
            from agenttrace_tui.store.read.analytics import load_rules

            rules = load_rules()  # a bad config fails before the store opens
        with self.read() as r:
            return r.stats(where, by=by, top=top, rules=rules)

    def sql(self, statement: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Unrestricted SQL, values as DuckDB's Python conversion gives them (tests, scripts): see `query`."""
        with self.read() as r:
            return r.sql(statement)

    def query(self, statement: str, *, restricted: bool, json_values: bool = False, limit: int | None = None,
              timeout_seconds: float | None = None) -> SqlResult:
        """SQL text, every value rendered by DuckDB (store/read/sql.py). `restricted` must be True for SQL from
        anyone but the local user (it reads the store and nothing else; a file store only); `limit` rows at
        most, `timeout_seconds` before it is stopped (StoreError)."""
        with self.read(restricted=restricted) as r:
            return r.query(statement, json_values=json_values, limit=limit, timeout_seconds=timeout_seconds)
