"""A query's rows written to a file: CSV, JSONL or Parquet, chosen by the file's extension (the explorer's ctrl+e)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import duckdb

from agenttrace_tui.store.errors import StoreError

EXPORT_FORMATS: Final = {".csv": "(FORMAT csv, HEADER)", ".jsonl": "(FORMAT json)", ".parquet": "(FORMAT parquet)"}
"""What ctrl+e writes, chosen by the file's extension."""


def copy_to(con: duckdb.DuckDBPyConnection, select: str, params: dict[str, Any], target: Path) -> int:
    """Write the rows of `select` to `target`; returns how many."""
    options = EXPORT_FORMATS.get(target.suffix)
    if options is None:
        raise StoreError(f"cannot export to {target.name}: use .csv, .jsonl or .parquet")
    quoted = str(target).replace("'", "''")
    con.execute(f"COPY ({select}) TO '{quoted}' {options}", params)
    row = con.execute(f"SELECT count(*) FROM ({select})", params).fetchone()
    return int(row[0]) if row else 0
