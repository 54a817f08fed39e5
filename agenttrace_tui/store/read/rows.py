"""Cursor rows → plain Python: dicts by column name, JSON text columns parsed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import orjson


def json_value(value: Any) -> Any:
    """A JSON object or array stored as text, parsed; anything else as it is."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def loads(value: Any) -> Any:
    """A JSON text column parsed (None stays None; text that isn't JSON stays text)."""
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def dict_rows(cursor: duckdb.DuckDBPyConnection, json_columns: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every row of an executed statement as a dict, the `json_columns` parsed."""
    names = [d[0] for d in cursor.description or []]
    rows = []
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        for column in json_columns:
            if column in row:
                row[column] = json_value(row[column])
        rows.append(row)
    return rows
