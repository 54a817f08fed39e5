"""The session list, asked three ways (`agenttrace sessions`, the explorer's Arrow table, its export) through one
query builder, and what else is asked of sessions as a whole: totals, one session's summary and start, the
property keys worth a column."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import duckdb

from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.read.export import copy_to
from agenttrace_tui.store.read.filters import Compiled
from agenttrace_tui.store.read.rows import dict_rows

if TYPE_CHECKING:  # the explorer's table only: `agenttrace sessions` leaves pyarrow unloaded
    import pyarrow as pa

SESSION_COLUMNS: Final = (
    "session_id",
    "name",
    "start_time",
    "end_time",
    "duration_ms",
    "spans",
    "llm_calls",
    "tool_calls",
    "errors",
    "error_rate",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "unpriced",
    "properties",
    "in_progress",
    "cache_read_tokens",
    "reasoning_tokens",
    "models",
    "tools",
    "user_ids",
    "name_conflict",
    "names",
    "tags",
)
"""The keys of `agenttrace sessions --json`, in order (the first fifteen are the documented core)."""

LIST_COLUMNS: Final = (
    "session_id, name, start_time, duration_ms, spans, llm_calls, tool_calls, errors, error_rate, cost_usd, "
    "unpriced, input_tokens, output_tokens, in_progress, name_conflict, models"
)
"""The columns of the explorer's session table."""

SORT_FIELDS: Final = {
    "start": "start_time",
    "started": "start_time",
    "start_time": "start_time",
    "end": "end_time",
    "end_time": "end_time",
    "name": "name",
    "id": "session_id",
    "session_id": "session_id",
    "duration": "duration_ms",
    "duration_ms": "duration_ms",
    "spans": "spans",
    "llm_calls": "llm_calls",
    "tool_calls": "tool_calls",
    "errors": "errors",
    "error_rate": "error_rate",
    "cost": "cost_usd",
    "cost_usd": "cost_usd",
    "tokens": "input_tokens + output_tokens",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "unpriced": "unpriced",
}


def sort_expression(sort: str | None) -> str:
    """The session column (or expression over them) a sort field orders by."""
    key = (sort or "start").lower()
    if key not in SORT_FIELDS:
        raise StoreError(f"unknown sort field {sort!r}; choose from {', '.join(sorted(set(SORT_FIELDS)))}")
    return SORT_FIELDS[key]


def order_by(key: str, descending: bool) -> str:
    """The list's order on a sort key: missing values last, then by id."""
    return f"{key} {'DESC' if descending else 'ASC'} NULLS LAST, session_id"


def inline(where: Compiled) -> str:
    """Compiled filters use `?` placeholders; named ones let us mix in our own parameters."""
    parts = where.sql.split("?")
    return "".join(part + (f"$w{i}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))


def named(where: Compiled) -> dict[str, Any]:
    return {f"w{i}": value for i, value in enumerate(where.params)}


def session_list(
    columns: str, where: Compiled, *, sort: str | None, descending: bool, limit: int | None = None,
    offset: int = 0, sort_key: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The one session-list query: `columns` of the sessions `where` selects, in the order of `sort`, a page of
    them when `limit` is given; with `sort_key`, the sort expression is a column too (`list_sort_key`) and the
    order is on it. Returns the statement and its named parameters."""
    expression = sort_expression(sort)
    select = f"{columns}, {expression} AS list_sort_key" if sort_key else columns
    order = order_by("list_sort_key" if sort_key else expression, descending)
    sql = f"SELECT {select} FROM sessions s WHERE {inline(where)} ORDER BY {order}"
    params = named(where)
    if limit is not None:  # constants, not parameters: DuckDB's top-N takes a constant limit
        sql += f" LIMIT {int(limit)}" + (f" OFFSET {int(offset)}" if offset else "")
    return sql, params


def list_sessions(
    con: duckdb.DuckDBPyConnection,
    where: Compiled,
    *,
    sort: str | None = None,
    descending: bool = True,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """`agenttrace sessions`: SESSION_COLUMNS of each session, properties and tags parsed."""
    sql, params = session_list(", ".join(SESSION_COLUMNS), where, sort=sort, descending=descending, limit=limit,
                               offset=offset)
    return dict_rows(con.execute(sql, params), ("properties", "tags"))


def sessions_table(
    con: duckdb.DuckDBPyConnection,
    where: Compiled,
    *,
    sort: str | None,
    descending: bool,
    properties: tuple[str, ...] = (),
    limit: int | None = None,
) -> pa.Table:
    """The (filtered, sorted) session list as Arrow: a virtual table renders only what is visible.

    `limit`: only the first rows in this order (the explorer's first page, drawn before the whole list).
    Property columns come from one grouped pass over the listed sessions' properties, values distinct
    and sorted, joined with commas (a per-row subquery with an ordered string_agg cost 5x as much).
    """
    order = order_by("list_sort_key", descending)
    listed, params = session_list(LIST_COLUMNS, where, sort=sort, descending=descending, limit=limit,
                                  sort_key=True)
    if not properties:
        return con.execute(f"SELECT * EXCLUDE (list_sort_key) FROM ({listed}) ORDER BY {order}", params
                           ).to_arrow_table()
    params |= {f"p{i}": name for i, name in enumerate(properties)}
    # NULL values are left out of the list, so a session without the key gets NULL, as string_agg gave
    aggregates = "".join(
        f", array_to_string(list_sort(list_distinct(list(value) FILTER (WHERE key = $p{i} AND value IS NOT NULL))),"
        f" ',') AS \"prop_{i}\""
        for i in range(len(properties))
    )
    keys = ", ".join(f"$p{i}" for i in range(len(properties)))
    sql = f"""
        WITH listed AS MATERIALIZED ({listed}),
        listed_properties AS (
            SELECT session_id AS property_session{aggregates} FROM session_properties
            WHERE key IN ({keys}) AND session_id IN (SELECT session_id FROM listed)
            GROUP BY session_id
        )
        SELECT listed.* EXCLUDE (list_sort_key), {", ".join(f'"prop_{i}"' for i in range(len(properties)))}
        FROM listed LEFT JOIN listed_properties ON listed_properties.property_session = listed.session_id
        ORDER BY {order}
    """
    return con.execute(sql, params).to_arrow_table()


def export_sessions(
    con: duckdb.DuckDBPyConnection, where: Compiled, sort: str | None, descending: bool, target: Path
) -> int:
    """The session list as shown (filter and order), every column, to CSV, JSONL or Parquet."""
    select, params = session_list("*", where, sort=sort, descending=descending)
    return copy_to(con, select, params, target)


def count_sessions(con: duckdb.DuckDBPyConnection, where: Compiled) -> dict[str, Any]:
    """Totals over the sessions a filter selects: count, cost, unpriced, error rate, p95 duration."""
    cursor = con.execute(
        "SELECT count(*) AS sessions, coalesce(sum(cost_usd), 0) AS cost_usd, "
        "coalesce(sum(unpriced), 0) AS unpriced, coalesce(sum(spans), 0) AS spans, "
        "coalesce(sum(errors), 0) AS errors, "
        "coalesce(sum(errors) / nullif(sum(spans), 0), 0) AS error_rate, "
        "quantile_cont(duration_ms, 0.95) AS p95_duration_ms "
        f"FROM sessions s WHERE {where.sql}",
        where.params,
    )
    return dict_rows(cursor)[0]


def session_summary(con: duckdb.DuckDBPyConnection, session_id: str) -> dict[str, Any] | None:
    """One session's row of `agenttrace sessions`, or None."""
    rows = dict_rows(
        con.execute(f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions WHERE session_id = ?", [session_id]),
        ("properties", "tags"),
    )
    return rows[0] if rows else None


def session_start(con: duckdb.DuckDBPyConnection, session_id: str) -> Any:
    """The session's first start (times inside a session count from it), or None."""
    row = con.execute("SELECT start_time FROM session_stats WHERE session_id = ?", [session_id]).fetchone()
    return row[0] if row else None


def informative_properties(con: duckdb.DuckDBPyConnection, limit: int = 2) -> tuple[str, ...]:
    """Property keys worth a column: set on many sessions, one value per session, a few values overall.

    A key with one value everywhere says nothing; one with a value per session is an id; one that
    changes within a session (an iteration counter) describes spans, not sessions.
    """
    rows = con.execute(
        """
        WITH per_session AS (
            SELECT key, session_id, count(*) AS values_in_session FROM session_properties GROUP BY ALL
        ), k AS (
            SELECT key, count(*) AS sessions, avg((values_in_session = 1)::INTEGER) AS constant_share
            FROM per_session GROUP BY key
        ), v AS (SELECT key, count(DISTINCT value) AS values_ FROM session_properties GROUP BY key),
        total AS (SELECT count(*) AS n FROM session_stats)
        SELECT key FROM k JOIN v USING (key), total
        WHERE values_ BETWEEN 2 AND 20 AND values_ < sessions AND constant_share >= 0.9
        ORDER BY sessions::DOUBLE / greatest(total.n, 1) * least(values_, 5) DESC, key
        LIMIT ?
        """,
        [limit],
    ).fetchall()
    return tuple(str(row[0]) for row in rows)
