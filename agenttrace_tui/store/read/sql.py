"""Raw reads: SQL from the user or from outside (`agenttrace sql`, a restricted read for anything reachable by others:
store/backend/connection.py) and the rejected lines (`agenttrace rejects`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import duckdb
import orjson

from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.read.rows import dict_rows

NO_STATEMENT: Final = 'SQL error: no statement (e.g. "SELECT count(*) FROM spans")'


def list_rejects(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> list[dict[str, Any]]:
    sql = "SELECT file, line, reason, raw, rejected_at FROM rejects ORDER BY file, line"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return dict_rows(con.execute(sql))


def run_sql(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """User SQL, values as DuckDB's Python conversion gives them (tests and scripts; a TIMESTAMPTZ needs pytz,
    a date past 9999 comes back as text): column names and rows; errors become one-line StoreErrors."""
    try:
        cursor = con.execute(sql)
    except duckdb.Error as exc:
        raise StoreError(f"SQL error: {_first_line(exc)}") from None
    if cursor is None:  # DuckDB answers an empty statement ("", ";", a comment) with no cursor
        raise StoreError(NO_STATEMENT)
    if cursor.description is None:
        return [], []
    return [d[0] for d in cursor.description], cursor.fetchall()


@dataclass(frozen=True)
class SqlResult:
    """The answer to one SQL text (its last statement's rows)."""

    columns: list[str]
    types: list[str]
    """DuckDB's name of each column's type (`TIMESTAMP WITH TIME ZONE`, `HUGEINT`, `STRUCT(a INTEGER)`)."""
    rows: list[tuple[Any, ...]]
    """As text: each value as DuckDB prints it (`infinity`, `10000-01-01`, `1 year 2 months`, `[1, 2]`; a
    TIMESTAMPTZ in UTC with its `+00`), None for NULL. As JSON: each value as DuckDB's to_json gives it, parsed
    (integers of any size exact; nested values as lists and dicts; times, intervals, UUIDs, BLOBs as text;
    NaN and ±infinity as the strings "NaN", "Infinity", "-Infinity"), so that any JSON library can write it."""
    truncated: bool
    """True when the statement had more rows than the limit asked: `rows` holds the first `limit`."""


def query(con: duckdb.DuckDBPyConnection, sql: str, *, json_values: bool = False, limit: int | None = None,
          timeout_seconds: float | None = None) -> SqlResult:
    """Run `sql` and render every value in DuckDB itself (below), so that every type prints: Python's conversion
    fails on a TIMESTAMPTZ without pytz, and turns 'infinity' into 9999-12-31 and an interval's months into days.

    At most `limit` rows are read (a SELECT stops there). Past `timeout_seconds` the statement is interrupted
    (a StoreError): a guard for SQL from outside, not a measure of time."""
    if limit is not None and limit < 0:
        raise StoreError(f"the row limit must be 0 or more, not {limit}")
    try:
        if not duckdb.extract_statements(sql):  # "", ";", a comment
            raise StoreError(NO_STATEMENT)
    except duckdb.Error as exc:
        raise StoreError(f"SQL error: {_first_line(exc)}") from None
    timer = threading.Timer(timeout_seconds, con.interrupt) if timeout_seconds is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        relation = con.sql(sql)  # runs every statement but a last query, which runs below, limited
        if relation is None:  # SET, CREATE TEMP TABLE, ...: no rows
            return SqlResult([], [], [], False)
        rendered = relation.select(*_renderings(len(relation.columns), json_values))
        if limit is not None:
            rendered = rendered.limit(limit + 1)
        rows = rendered.fetchall()
    except duckdb.InterruptException:
        if timeout_seconds is None:
            raise StoreError("SQL error: interrupted") from None
        raise StoreError(f"SQL error: the statement ran past its {timeout_seconds:g} s limit and was stopped") from None
    except duckdb.PermissionException as exc:  # only a restricted connection refuses (an OS refusal is an IOException)
        raise StoreError(f"SQL refused: {_first_line(exc)} (restricted SQL reads the store and nothing else)") from None
    except duckdb.Error as exc:
        raise StoreError(f"SQL error: {_first_line(exc)}") from None
    finally:
        if timer is not None:
            timer.cancel()
    truncated = limit is not None and len(rows) > limit
    if truncated:
        rows = rows[:limit]
    types = [str(t) for t in relation.types]
    if json_values:
        parse = _json_parser(types)
        rows = [tuple(parse(text)) for (text,) in rows]
    return SqlResult(list(relation.columns), types, rows, truncated)


def _renderings(count: int, json_values: bool) -> list[duckdb.Expression]:
    # Columns by position (#1, #2, ...): names may repeat or need quoting.
    if json_values:  # one JSON array per row: one parse per row in Python, not one per value
        return [duckdb.SQLExpression(f"json_array({', '.join(f'#{i + 1}' for i in range(count))})::VARCHAR")]
    return [duckdb.SQLExpression(f"CAST(#{i + 1} AS VARCHAR)") for i in range(count)]


_WIDE_NUMBERS: Final = ("HUGEINT", "BIGNUM", "VARINT", "JSON")
"""Types whose JSON may hold an integer past 64 bits, which orjson would turn into a float."""


def _json_parser(types: list[str]) -> Callable[[str], Any]:
    """orjson where it parses exactly (4x the stdlib's speed on 300,000 rows of four values); else, and for NaN
    and ±Infinity (which orjson refuses), the stdlib, with those as strings."""

    def exact(text: str) -> Any:
        return json.loads(text, parse_constant=str)

    if any(word in kind for kind in types for word in _WIDE_NUMBERS):
        return exact

    def fast(text: str) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return exact(text)

    return fast


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
