"""`agenttrace copy`: a whole store into another, e.g. a local file into the team store and back.

Both stores are attached to one DuckDB instance; every table is copied row for row (INSERT BY NAME) in one
transaction of the target, so the copy is lossless and all-or-nothing. The target's schema is created first
by the target's own backend (ensure_schema), never taken from the source.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import duckdb

from agenttrace_tui.store.backend.connection import owner_only_files
from agenttrace_tui.store.backend.location import LakeLocation, mask_password
from agenttrace_tui.store.backend.schema import record_input_hash_probe
from agenttrace_tui.store.backend.session_groups import input_hash_sql
from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.write import merge_sql

if TYPE_CHECKING:
    from agenttrace_tui.store import Store

DATA_TABLES: Final = ("span_data", "session_records", "session_stats", "session_properties", "session_groups",
                      "rejects", "ingested_files")
"""Everything a store holds besides `meta` (and a team store's write token, which is not data)."""
CONTENT_TABLES: Final = ("span_data", "session_records", "rejects", "ingested_files")
"""A target with rows in any of these is not empty."""

COPIED_SPANS_SQL: Final = f"SELECT * REPLACE ({input_hash_sql('s.input')} AS input_hash) FROM src.span_data s"
"""The source's spans with their inputs hashed by this DuckDB: the source may hold another DuckDB's hashes."""

APPEND_SQL: Final[dict[str, str]] = {
    # Rows already in the target (same key) are kept as they are there; rollups are recomputed after.
    "span_data": f"INSERT INTO span_data BY NAME {COPIED_SPANS_SQL} "
                 "WHERE NOT EXISTS (SELECT 1 FROM span_data d WHERE d.span_id = s.span_id)",
    "session_records": "INSERT INTO session_records BY NAME SELECT * FROM src.session_records s "
                       "WHERE NOT EXISTS (SELECT 1 FROM session_records d WHERE d.session_id = s.session_id)",
    "rejects": "INSERT INTO rejects BY NAME (SELECT * FROM src.rejects EXCEPT ALL SELECT * FROM rejects)",
    "ingested_files": "INSERT INTO ingested_files BY NAME SELECT * FROM src.ingested_files s "
                      "WHERE NOT EXISTS (SELECT 1 FROM ingested_files d WHERE d.path = s.path)",
}


@dataclass
class CopyResult:
    rows: dict[str, int] = field(default_factory=dict)
    """Rows written per table."""
    elapsed_seconds: float = 0.0

    @property
    def spans(self) -> int:
        return self.rows.get("span_data", 0)


def copy_store(source: Store, target: Store, *, append: bool = False) -> CopyResult:
    """Copy `source` into `target` (created if need be). A non-empty target is refused unless `append`:
    then spans and session records whose id the target has already are kept as the target has them."""
    if _same(source.path, target.path):
        raise StoreError(f"copy: the source and the target are the same store ({source.display()})")
    started = time.perf_counter()
    with source.reader():  # the source exists, and is upgraded to this version's schema if older
        pass
    target._setup()
    result = CopyResult()
    with _both_attached(source, target) as con:

        def copy_all() -> None:
            if not append:
                _refuse_non_empty(con, target)
                con.execute("DELETE FROM meta")
                con.execute("INSERT INTO meta BY NAME SELECT * FROM src.meta")
                record_input_hash_probe(con)  # the spans below are hashed by this DuckDB
                for table in DATA_TABLES:
                    source = COPIED_SPANS_SQL if table == "span_data" else f"SELECT * FROM src.{table}"
                    result.rows[table] = _inserted(con, f"INSERT INTO {table} BY NAME {source}")
                return
            for table, sql in APPEND_SQL.items():
                result.rows[table] = _inserted(con, sql)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE touched_sessions AS SELECT DISTINCT session_id FROM src.span_data "
                "UNION SELECT session_id FROM src.session_records"
            )
            con.execute(merge_sql.ROLLUP_SQL)
            for table in ("session_stats", "session_properties", "session_groups"):
                row = con.execute(f"SELECT count(*) FROM {table} WHERE session_id IN "
                                  "(SELECT session_id FROM touched_sessions)").fetchone()
                result.rows[table] = int(row[0]) if row else 0

        try:
            target.backend.transaction(con, copy_all, target.wait_seconds)
        except duckdb.Error as exc:
            raise StoreError(f"copy to {target.display()} failed, nothing was written: {_first_line(exc)}") from None
    result.elapsed_seconds = time.perf_counter() - started
    return result


def _same(a: Path | LakeLocation, b: Path | LakeLocation) -> bool:
    if isinstance(a, Path) and isinstance(b, Path):
        return a.resolve() == b.resolve()
    return isinstance(a, LakeLocation) and isinstance(b, LakeLocation) and a.conninfo == b.conninfo


def _refuse_non_empty(con: duckdb.DuckDBPyConnection, target: Store) -> None:
    for table in CONTENT_TABLES:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        if row and row[0]:
            raise StoreError(
                f"copy: {target.display()} is not empty ({row[0]:,} rows in {table}); "
                "--append merges into it (rows with ids it has already are kept as they are)"
            )


def _inserted(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


@contextmanager
def _both_attached(source: Store, target: Store) -> Iterator[duckdb.DuckDBPyConnection]:
    """One DuckDB instance with the source attached read-only as `src` and the target as `dst`, in use."""
    lake_involved = isinstance(source.path, LakeLocation) or isinstance(target.path, LakeLocation)
    with owner_only_files() if isinstance(target.path, Path) else nullcontext():
        if lake_involved:
            from agenttrace_tui.store.backend.lake import new_database

            con = new_database()
        else:
            con = duckdb.connect()
        try:
            for store, alias, read_only in ((source, "src", True), (target, "dst", False)):
                try:
                    con.execute(store.backend.attach_sql(alias, read_only=read_only))
                except duckdb.Error as exc:
                    raise StoreError(f"copy: cannot open {store.display()}: {_first_line(exc)}") from None
            con.execute("USE dst")
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()


def _first_line(exc: BaseException) -> str:
    text = mask_password(str(exc).strip())
    return text.splitlines()[0] if text else type(exc).__name__
