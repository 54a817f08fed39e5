"""Raw reads: the user's own SQL (`agenttrace sql`) and the rejected lines (`agenttrace rejects`)."""

from __future__ import annotations

from typing import Any

import duckdb

from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.read.rows import dict_rows


def list_rejects(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> list[dict[str, Any]]:
    sql = "SELECT file, line, reason, raw, rejected_at FROM rejects ORDER BY file, line"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return dict_rows(con.execute(sql))


def run_sql(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """User SQL on a read-only connection: column names and rows; errors become one-line StoreErrors."""
    try:
        cursor = con.execute(sql)
    except duckdb.Error as exc:
        raise StoreError(f"SQL error: {str(exc).strip().splitlines()[0]}") from None
    if cursor is None:  # DuckDB answers an empty statement ("", ";", a comment) with no cursor
        raise StoreError('SQL error: no statement (e.g. "SELECT count(*) FROM spans")')
    if cursor.description is None:
        return [], []
    return [d[0] for d in cursor.description], cursor.fetchall()
