"""What every backend offers: a read connection on one state, a write connection and how a write commits."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from typing import Final, Protocol, TypeVar

import duckdb

from agenttrace_tui.store.backend.connection import DEFAULT_WAIT_SECONDS
from agenttrace_tui.store.backend.location import StoreLocation

T = TypeVar("T")

NO_STORE_HINT: Final = "load traces with `agenttrace ingest FILE` (try the bundled sample_traces/)"


class WriteSession(Protocol):
    """The write connection of one ingest, shared by its files."""

    backend: Backend
    wait_seconds: float
    con: duckdb.DuckDBPyConnection | None
    """The open connection, if any (Ctrl-C interrupts its query: store/write/interrupts.py)."""
    direct_insert: bool
    """Whether a large file may be inserted from its parse (ingest.py, `_ingest_directly`)."""

    def get(self) -> duckdb.DuckDBPyConnection: ...

    def after_file(self, more_to_come: bool) -> None: ...

    def lift_memory_limit(self) -> bool:
        """Drop a memory cap the session set (for a file that doesn't fit under it); False when there is none."""
        ...

    def close(self) -> None: ...


class Backend(ABC):
    location: StoreLocation

    def display(self) -> str:
        """The store, for messages."""
        return str(self.location)

    @abstractmethod
    def exists(self) -> bool:
        """False only when there is certainly no store yet (a missing file)."""

    def change_stamp(self) -> Hashable | None:
        """A cheap token that moves with every commit by any process (compare two for equality); None when this
        backend can't tell without a query (a team store: not watched)."""
        return None

    @abstractmethod
    def reader(self, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A read-only connection on one consistent state of the store; StoreError when there is none."""

    @abstractmethod
    def writer(self, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A read-write connection (the schema may still need setting up: see Store.writer)."""

    @abstractmethod
    def write_session(self, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> WriteSession: ...

    @abstractmethod
    def transaction(self, con: duckdb.DuckDBPyConnection, body: Callable[[], T],
                    wait_seconds: float = DEFAULT_WAIT_SECONDS) -> T:
        """`body` inside BEGIN … COMMIT; rolled back (and the error raised) when anything fails."""

    @abstractmethod
    def setup(self, con: duckdb.DuckDBPyConnection, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
        """Create or upgrade the schema."""

    @abstractmethod
    def file_key(self, name: str) -> str:
        """How `ingested_files`, `rejects` and `span_data.source_file` name a source file."""

    @abstractmethod
    def attach_sql(self, alias: str, *, read_only: bool) -> str:
        """An ATTACH statement for this store in a DuckDB instance with the lake extensions loaded (copy)."""
