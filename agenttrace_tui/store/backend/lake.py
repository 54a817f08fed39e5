"""The team store backend: a DuckLake (PostgreSQL catalog, Parquet data) behind the same SQL as the file.

DuckDB cannot download extensions here, so the ducklake and postgres extensions come from their registry
packages (duckdb-extension-ducklake, duckdb-extension-postgres) and are loaded by path, with autoloading off.
Loading them costs 0.3-0.6 s, so a process keeps one DuckDB instance per store (one read-write, one read-only)
and hands out cursors.

Concurrency: DuckLake commits optimistically, and appends never conflict, so two ingests of overlapping files
would both insert the same spans. Every write transaction therefore also bumps the one row of `write_token`:
two concurrent writers then always conflict, the later commit fails, and it runs again (on the newer snapshot,
where its merge sees the other's spans). Readers take one snapshot per `reader()`.
"""

from __future__ import annotations

import importlib.util
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, TypeVar

import duckdb

from agenttrace_tui.store.backend.base import NO_STORE_HINT, Backend, WriteSession
from agenttrace_tui.store.backend.connection import DEFAULT_WAIT_SECONDS, rollback_quietly
from agenttrace_tui.store.backend.location import LakeLocation, mask_password
from agenttrace_tui.store.backend.schema import ensure_schema, needs_setup
from agenttrace_tui.store.errors import StoreBusyError, StoreError
from agenttrace_tui.store.sql_parts import sql_literal

T = TypeVar("T")

ALIAS: Final = "lake"
HOST_ENV: Final = "AGENTTRACE_HOST"
"""Overrides the host name that qualifies file keys on a team store (containers with random host names)."""

WRITE_TOKEN_TABLE: Final = """
-- Team store only: every write transaction updates this one row, so concurrent writers conflict and retry.
CREATE TABLE IF NOT EXISTS write_token (n BIGINT);
INSERT INTO write_token SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM write_token);
"""
BUMP_WRITE_TOKEN: Final = "UPDATE write_token SET n = n + 1"

ATTACH_ATTEMPTS: Final = 6
"""Two processes creating a new DuckLake at once race on its catalog tables; the loser attaches again."""
BACKOFF_FIRST_SECONDS: Final = 0.02
BACKOFF_MAX_SECONDS: Final = 1.0


# Extensions --------------------------------------------------------------------------------------

def _package_extension(package: str, filename: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise StoreError(f"the team store needs the {package.replace('_', '-')} package (pip install "
                         f"{package.replace('_', '-')}=={duckdb.__version__})")
    path = Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}" / filename
    if not path.is_file():
        raise StoreError(f"{package.replace('_', '-')} has no extension for duckdb {duckdb.__version__} ({path})")
    return path


def _postgres_extension() -> Path:
    """The package's file is postgres.duckdb_extension, but DuckDB takes the init symbol from the file name
    and this build's is postgres_scanner: load it through a link of that name, in a directory of ours."""
    from platformdirs import user_cache_path

    target = _package_extension("duckdb_extension_postgres", "postgres.duckdb_extension")
    folder = user_cache_path("agenttrace", appauthor=False) / "extensions" / f"v{duckdb.__version__}"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    link = folder / "postgres_scanner.duckdb_extension"
    try:
        if link.is_symlink() and os.readlink(link) == str(target):
            return link
    except OSError:
        pass
    staging = folder / f".link-{os.getpid()}-{threading.get_ident()}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(target)
    os.replace(staging, link)  # atomic: concurrent processes each put the same link
    return link


def new_database() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the ducklake and postgres extensions loaded (and nothing fetched)."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        con.execute(f"LOAD {sql_literal(str(_postgres_extension()))}")  # before ducklake: it needs postgres
        con.execute(f"LOAD {sql_literal(str(_package_extension('duckdb_extension_ducklake', 'ducklake.duckdb_extension')))}")
    except BaseException:
        con.close()
        raise
    return con


def attach_sql(location: LakeLocation, alias: str, *, read_only: bool) -> str:
    options = []
    if read_only:
        options.append("READ_ONLY")
    elif location.data_path is not None:
        options.append(f"DATA_PATH {sql_literal(location.data_path)}")
    suffix = f" ({', '.join(options)})" if options else ""
    return f"ATTACH {sql_literal(location.catalog)} AS {alias}{suffix}"


# One instance per process and store ---------------------------------------------------------------

_instances: dict[tuple[LakeLocation, bool], duckdb.DuckDBPyConnection] = {}
_instances_pid = os.getpid()
_instances_lock = threading.Lock()


def _instance(location: LakeLocation, read_only: bool) -> duckdb.DuckDBPyConnection:
    global _instances_pid
    with _instances_lock:
        if _instances_pid != os.getpid():  # a forked child must not share its parent's connections
            _instances.clear()
            _instances_pid = os.getpid()
        key = (location, read_only)
        if key not in _instances:
            _instances[key] = _attached(location, read_only)
        return _instances[key]


def _attached(location: LakeLocation, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = new_database()
    try:
        for attempt in range(ATTACH_ATTEMPTS):
            try:
                con.execute(attach_sql(location, ALIAS, read_only=read_only))
                return con
            except duckdb.Error as exc:
                text = str(exc)
                if "does not exist" in text and "creating a new DuckLake is explicitly disabled" in text:
                    raise StoreError(f"no store at {location.display()} yet: {NO_STORE_HINT}") from None
                if "data_path is not set" in text:
                    raise StoreError(
                        f"team store {location.display()} is not set up yet: give its data path once "
                        "(data_path=DIR in the URL, or $AGENTTRACE_DATA_PATH) to create it"
                    ) from None
                if attempt == ATTACH_ATTEMPTS - 1 or not _may_be_a_race(text):
                    raise StoreError(f"cannot open team store {location.display()}: {_first_line(text)}") from None
                time.sleep(_backoff(attempt))
    except BaseException:
        con.close()
        raise
    raise AssertionError("unreachable")


def _may_be_a_race(text: str) -> bool:
    """Errors of two processes creating the catalog at once, as opposed to a wrong URL or a server down."""
    lowered = text.lower()
    if 'database "' in lowered and "does not exist" in lowered:  # libpq: a wrong dbname
        return False
    return not any(word in lowered for word in ("connection to server", "could not connect", "password",
                                                 "authentication", "could not translate", "role \""))


def _cursor(location: LakeLocation, read_only: bool) -> duckdb.DuckDBPyConnection:
    cursor = _instance(location, read_only).cursor()  # each cursor is its own DuckDB connection
    cursor.execute(f"USE {ALIAS}")  # settings are per connection: a cursor inherits neither
    cursor.execute("SET TimeZone = 'UTC'")
    cursor.execute("SET enable_progress_bar = false")  # as store.backend.connection: never drawn over our output
    return cursor


def _backoff(attempt: int, lost_seconds: float = 0.0) -> float:
    """Full jitter, growing with the attempts and with the time the lost attempt took."""
    base = max(BACKOFF_FIRST_SECONDS, lost_seconds)
    return random.uniform(0, min(max(BACKOFF_MAX_SECONDS, 2 * lost_seconds), base * 2 ** attempt))


def is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.TransactionException) or (
        isinstance(exc, duckdb.Error) and "conflict" in str(exc).lower()
    )


def host_name() -> str:
    return os.environ.get(HOST_ENV) or socket.gethostname()


# The backend -------------------------------------------------------------------------------------

class LakeBackend(Backend):
    def __init__(self, location: LakeLocation) -> None:
        self.location: LakeLocation = location

    def display(self) -> str:
        return self.location.display()

    def exists(self) -> bool:
        return True  # a server may hold it: reader() tells

    @contextmanager
    def reader(self, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = _cursor(self.location, read_only=True)
        try:
            cursor.execute("BEGIN TRANSACTION")  # one snapshot for everything read inside
            try:
                yield cursor
            finally:
                rollback_quietly(cursor)
        except duckdb.IOException as exc:
            raise StoreError(f"cannot read team store {self.display()}: {_first_line(str(exc))}") from None
        finally:
            cursor.close()

    @contextmanager
    def writer(self, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = _cursor(self.location, read_only=False)
        try:
            yield cursor
        finally:
            cursor.close()

    def write_session(self, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> WriteSession:
        return LakeWriteSession(self, wait_seconds)

    def transaction(self, con: duckdb.DuckDBPyConnection, body: Callable[[], T],
                    wait_seconds: float = DEFAULT_WAIT_SECONDS) -> T:
        """BEGIN, bump the write token, `body`, COMMIT; on a conflict with another writer, all of it again
        (on the newer snapshot) until `wait_seconds` have passed."""
        deadline = time.monotonic() + wait_seconds
        attempt = 0
        while True:
            began = time.monotonic()
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(BUMP_WRITE_TOKEN)
                result = body()
                con.execute("COMMIT")
                return result
            except BaseException as exc:
                rollback_quietly(con)
                if not is_conflict(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusyError(
                        f"team store {self.display()} is busy: other writers kept committing first "
                        f"(gave up after {wait_seconds:g} s; see --wait)"
                    ) from None
            # A lost attempt wasted a whole transaction: wait in proportion to its length, so that the
            # writers that lost together spread out instead of colliding again at once.
            time.sleep(_backoff(attempt, time.monotonic() - began))
            attempt += 1

    def setup(self, con: duckdb.DuckDBPyConnection, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
        """Two processes setting up a new store at once conflict; the later one finds it done."""
        deadline = time.monotonic() + wait_seconds
        attempt = 0
        while needs_setup(con):
            try:
                ensure_schema(con, WRITE_TOKEN_TABLE)
            except duckdb.Error as exc:
                if not is_conflict(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(_backoff(attempt))
                attempt += 1

    def file_key(self, name: str) -> str:
        """`host:path`: a path names a file on one machine only, and the team store is shared by many."""
        return f"{host_name()}:{name}"

    def attach_sql(self, alias: str, *, read_only: bool) -> str:
        return attach_sql(self.location, alias, read_only=read_only)


class LakeWriteSession:
    """No file lock to give up: one cursor for the whole ingest; each file is still its own transaction."""

    def __init__(self, backend: LakeBackend, wait_seconds: float) -> None:
        self.backend: Backend = backend
        self.lake = backend
        self.wait_seconds = wait_seconds
        # A team store's writes may conflict and run again, and a stream cannot be read again: the parse
        # stays outside the transaction, in a temp table.
        self.direct_insert = False
        self.con: duckdb.DuckDBPyConnection | None = None

    def get(self) -> duckdb.DuckDBPyConnection:
        if self.con is None:
            self.con = _cursor(self.lake.location, read_only=False)
            if needs_setup(self.con):
                self.lake.setup(self.con, self.wait_seconds)
        return self.con

    def after_file(self, more_to_come: bool) -> None:
        pass

    def lift_memory_limit(self) -> bool:
        return False  # the process's one DuckDB instance is not capped

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None


def _first_line(text: str) -> str:
    stripped = mask_password(text.strip())
    return stripped.splitlines()[0] if stripped else "unknown error"
