"""The local DuckDB file backend: one writer at a time under DuckDB's file lock, waited for (connection.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import duckdb

from agenttrace_tui.store.backend.base import NO_STORE_HINT, Backend, T, WriteSession
from agenttrace_tui.store.backend.connection import DEFAULT_WAIT_SECONDS, connect, connection, rollback_quietly
from agenttrace_tui.store.backend.schema import ensure_schema, needs_setup
from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.sql_parts import sql_literal


class FileBackend(Backend):
    def __init__(self, path: Path) -> None:
        self.location: Path = path

    def exists(self) -> bool:
        return self.location.exists()

    def change_stamp(self) -> tuple[tuple[int, int], ...]:
        """Size and modification time of the store file and its WAL: any commit by any process moves them, and
        reading them costs a stat, not a query."""
        stamps = []
        for file in (self.location, self.location.with_name(self.location.name + ".wal")):
            try:
                stat = file.stat()
                stamps.append((stat.st_size, stat.st_mtime_ns))
            except OSError:
                stamps.append((0, 0))
        return tuple(stamps)

    @contextmanager
    def reader(self, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.location.exists():
            raise StoreError(f"no store at {self.location} yet: {NO_STORE_HINT}")
        with connection(self.location, read_only=True, wait_seconds=wait_seconds) as con:
            yield con

    @contextmanager
    def writer(self, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
        with connection(self.location, read_only=False, wait_seconds=wait_seconds) as con:
            yield con

    def write_session(self, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> WriteSession:
        return FileWriteSession(self, wait_seconds)

    def transaction(self, con: duckdb.DuckDBPyConnection, body: Callable[[], T],
                    wait_seconds: float = DEFAULT_WAIT_SECONDS) -> T:
        con.execute("BEGIN TRANSACTION")
        try:
            result = body()
            con.execute("COMMIT")
        except BaseException:
            rollback_quietly(con)
            raise
        return result

    def setup(self, con: duckdb.DuckDBPyConnection, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
        ensure_schema(con)

    def file_key(self, name: str) -> str:
        return name

    def attach_sql(self, alias: str, *, read_only: bool) -> str:
        return f"ATTACH {sql_literal(str(self.location))} AS {alias}{' (READ_ONLY)' if read_only else ''}"


INGEST_MEMORY_LIMIT: Final = "512MB"
"""DuckDB's buffer memory for an ingest of a file store (the rest of a file's transaction spills to disk)."""


INGEST_ROW_GROUP_SIZE: Final = 30_720
"""Rows per row group that ingest writes (DuckDB's default: 122,880). An insert writes each full row group
while it runs, on both threads, and leaves the rest to its commit, on one: with a quarter of the size,
a 250 MB file's insert and commit went from 1.46 to 0.93 s (commit 0.36 → 0.05 s). The store grows ~4%."""


class FileWriteSession:
    """Kept while files follow quickly, released regularly.

    Opening and closing the store costs ~60 ms a file (the close checkpoints), too much for a folder of
    small runs; holding it for a whole folder would lock out readers (an open TUI). So the connection is
    kept while files follow quickly, and released, with a short pause for a waiting reader to get in,
    once it has been held for HOLD_SECONDS. Each file is still its own transaction.
    """

    HOLD_SECONDS: Final = 0.5
    PAUSE_SECONDS: Final = 0.1

    def __init__(self, backend: FileBackend, wait_seconds: float) -> None:
        self.backend: Backend = backend
        self.path = backend.location
        self.wait_seconds = wait_seconds
        self.direct_insert = True
        self.con: duckdb.DuckDBPyConnection | None = None
        self.opened_at = 0.0
        self.memory_lifted = False

    def get(self) -> duckdb.DuckDBPyConnection:
        if self.con is None:
            self.con = connect(self.path, read_only=False, wait_seconds=self.wait_seconds,
                               row_group_size=INGEST_ROW_GROUP_SIZE)
            # A file is one transaction: its staged lines and new rows would otherwise sit in memory until
            # the commit, so memory would grow with the file (2.6 GB for a 1 GB file). Past this, DuckDB
            # spills them to its temp directory (DB.tmp): 750 MB for the same file, no slower. (256 MB is
            # too tight for the parse of some files; a file that still doesn't fit is read again uncapped.)
            self.con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
            self.memory_lifted = False
            self.opened_at = time.monotonic()
            if needs_setup(self.con):
                ensure_schema(self.con)
        return self.con

    def lift_memory_limit(self) -> bool:
        """DuckDB's own limit (most of the RAM) for the rest of this session; False when already lifted."""
        if self.con is None or self.memory_lifted:
            return False
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
        with self.con.cursor() as side:  # a query may be running on self.con: a long line met mid-file (ingest.py)
            side.execute(f"SET GLOBAL memory_limit = '{total_mb * 8 // 10}MB'")  # DuckDB's default: 80% of RAM
        self.memory_lifted = True
        return True

    def after_file(self, more_to_come: bool) -> None:
        if self.con is not None and time.monotonic() - self.opened_at > self.HOLD_SECONDS:
            self.close()
            if more_to_come:
                time.sleep(self.PAUSE_SECONDS)

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
