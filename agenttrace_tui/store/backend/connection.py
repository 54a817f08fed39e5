"""Opening the DuckDB file under its one-writer lock, with bounded, honest waiting.

DuckDB lets one process hold a file read-write, or many hold it read-only, never both. So every
command uses short-lived connections and, when another process has the lock, retries until a
deadline instead of failing at once.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Final

import duckdb

from agenttrace_tui.store.errors import StoreBusyError, StoreError
from agenttrace_tui.store.sql_parts import sql_literal

DEFAULT_WAIT_SECONDS: Final = 30.0
"""How long a command waits for another agenttrace process to release the store."""

RETRY_INTERVAL_SECONDS: Final = 0.05


OWNER_ONLY_UMASK: Final = 0o077
"""Files DuckDB creates for a store (the file, its .wal, spill files) are the owner's only: traces hold
prompts and outputs. DuckDB takes no mode, so the process umask decides."""

_umask_lock = threading.Lock()
_umask_holders = 0
_umask_saved = 0


@contextmanager
def owner_only_files() -> Iterator[None]:
    """Files created meanwhile (by any thread) get no group or other permissions; nests, and restores the
    caller's umask when the last holder leaves."""
    global _umask_holders, _umask_saved
    with _umask_lock:
        if _umask_holders == 0:
            _umask_saved = os.umask(OWNER_ONLY_UMASK)
            os.umask(_umask_saved | OWNER_ONLY_UMASK)
        _umask_holders += 1
    try:
        yield
    finally:
        with _umask_lock:
            _umask_holders -= 1
            if _umask_holders == 0:
                os.umask(_umask_saved)


STORAGE_VERSION: Final = "v1.5.0"
"""The storage format of stores created by agenttrace; DuckDB 1.5 or later reads them."""


def _is_lock_error(exc: duckdb.Error) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Could not set lock" in text or "Conflicting lock" in text)


def _configure(con: duckdb.DuckDBPyConnection) -> None:
    # Timestamps are stored as UTC; the session zone makes TIMESTAMPTZ casts convert to UTC.
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB draws a progress bar on the terminal for queries over 2 s: over the explorer's screen, or into a
    # command's output. Our commands say what they do themselves.
    con.execute("SET enable_progress_bar = false")


RESTRICTIONS: Final = (
    # No file but the store's own (and its spill files) is read or written, no network: COPY ... TO, read_csv,
    # glob, ATTACH, EXPORT DATABASE, INSTALL and LOAD are refused. It takes the files already open, so a
    # connection is restricted after it opened the store, never before.
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    # A name in a query would otherwise find a Python variable of the calling frame (an Arrow table).
    "SET python_enable_replacements = false",
    # Last: nothing above (nor memory_limit, threads, TimeZone) can be changed back by the SQL that follows.
    "SET lock_configuration = true",
)
"""DuckDB's settings for SQL from outside ("Securing DuckDB" in its docs), in this order."""


def restrict(con: duckdb.DuckDBPyConnection) -> None:
    """Make an open connection to a file store safe for SQL from others: the store stays readable, nothing else
    is. Settings are the whole DuckDB instance's: only for a connection that is its own instance (a file
    store's reader), never for one shared by the process (a team store's)."""
    for statement in RESTRICTIONS:
        con.execute(statement)


ATTACHED_ALIAS: Final = "store"


def connect(
    path: Path,
    *,
    read_only: bool,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    row_group_size: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the store, retrying while another process holds a conflicting lock.

    `row_group_size` (a writer's): the rows per row group of what this connection writes. DuckDB takes it only
    when a file is attached, so the store is then attached (as `store`, made the default catalog) to an
    in-memory database, with its spill files where a file connection puts them (`<store>.tmp`)."""
    deadline = time.monotonic() + wait_seconds
    check_store_file(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            existed = path.exists()
            if read_only:
                con = duckdb.connect(str(path), read_only=True)
            else:
                with owner_only_files():  # created 0600 at once, not chmod-ed after a window
                    # A new store is written in the current storage format, which can compress payloads
                    # with ZSTD (schema.py); DuckDB's default stays readable by 0.10, without it.
                    if row_group_size is None:
                        con = duckdb.connect(str(path), read_only=False, config={} if existed else
                                             {"storage_compatibility_version": STORAGE_VERSION})
                    else:
                        con = _attached(path, row_group_size, new=not existed)
            if not existed and not read_only:
                os.chmod(path, 0o600)  # traces hold prompts and outputs: owner only
            _configure(con)
            return con
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise StoreError(f"cannot open store {path}: {_first_line(exc)}") from None
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"store {path} is busy: another process holds its lock "
                    f"(gave up after {wait_seconds:g} s; see --wait)"
                ) from None
            time.sleep(RETRY_INTERVAL_SECONDS)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open store {path}: {_first_line(exc)}") from None


DUCKDB_MAGIC: Final = b"DUCK"
"""A DuckDB database file has these bytes at offset 8 (after the header's checksum)."""


def check_store_file(path: Path) -> None:
    """A path that exists must be a DuckDB file: DuckDB itself opens another file (a trace file given as --db) as
    an empty in-memory database, so an ingest there would report its lines stored and keep none."""
    try:
        if path.is_dir():
            raise StoreError(f"{path} is a directory, not an agenttrace store (--db takes the store file)")
        with open(path, "rb") as handle:
            header = handle.read(12)
    except FileNotFoundError:
        return  # a new store
    except OSError as exc:
        raise StoreError(f"cannot open store {path}: {exc.strerror or exc}") from None
    if header[8:12] != DUCKDB_MAGIC:
        what = "an empty file" if not header else "not a DuckDB database file"
        raise StoreError(f"{path} is not an agenttrace store ({what}); --db takes the store file, "
                         "`agenttrace ingest` the traces")


def _attached(path: Path, row_group_size: int, *, new: bool) -> duckdb.DuckDBPyConnection:
    options = [f"ROW_GROUP_SIZE {row_group_size}"] + ([f"STORAGE_VERSION '{STORAGE_VERSION}'"] if new else [])
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {sql_literal(str(path))} AS {ATTACHED_ALIAS} ({', '.join(options)})")
        con.execute(f"USE {ATTACHED_ALIAS}")
        con.execute(f"SET temp_directory = {sql_literal(str(path) + '.tmp')}")
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def connection(
    path: Path, *, read_only: bool, wait_seconds: float = DEFAULT_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection closed on exit. A writer keeps new files owner-only while it lives (DuckDB creates the
    .wal on the first write); an I/O error inside (a damaged file: bad checksum, short read) becomes one line."""
    with owner_only_files() if not read_only else nullcontext():
        con = connect(path, read_only=read_only, wait_seconds=wait_seconds)
        try:
            yield con
        except duckdb.IOException as exc:
            raise StoreError(f"cannot read store {path} (damaged?): {_first_line(exc)}") from None
        finally:
            con.close()


def rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    """ROLLBACK after a failure. After a failed COMMIT there is no transaction left, and ROLLBACK's own error
    ("no transaction is active") would hide the real one, which the caller raises."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
