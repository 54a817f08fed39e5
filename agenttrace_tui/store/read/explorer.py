"""Queries behind the explorer: the session list as Arrow, one session's tree piece by piece, span details.

Everything a screen shows is loaded when it is shown: a folder's sub-folders with their figures a page at a
time when it is opened, spans of one folder a page at a time, payloads of one span only when it is selected.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import duckdb
import orjson
import pyarrow as pa

from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.read.filters import Compiled
from agenttrace_tui.store.read.queries import FOLDER_PAGE_SQL, FOLDER_RANK_SQL, sort_clause, sort_expression
from agenttrace_tui.store.records import NodeStats, SpanDetail, SpanRow

LIST_COLUMNS: Final = (
    "session_id, name, start_time, duration_ms, spans, llm_calls, tool_calls, errors, error_rate, cost_usd, "
    "unpriced, input_tokens, output_tokens, in_progress, name_conflict, models"
)

_SPAN_ROW_SQL: Final = """
SELECT s.span_id, s.session_id, s.path, s.parent_id, s.kind, s.name, s.model, s.status, s.error_type,
       s.error_message, s.start_time,
       (epoch_us(s.start_time) - epoch_us($t0)) / 1000.0 AS start_ms,
       (epoch_us(coalesce(s.end_time, s.start_time)) - epoch_us($t0)) / 1000.0 AS end_ms,
       s.duration_ms, s.in_progress, s.cost_usd, s.cost_source, s.input_tokens, s.output_tokens,
       (SELECT count(*) FROM span_data c WHERE c.session_id = s.session_id AND c.parent_id = s.span_id)
           AS child_count,
       s.parent_id IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM span_data p WHERE p.session_id = s.session_id AND p.span_id = s.parent_id) AS orphan
FROM spans s
"""


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
    direction = "DESC" if descending else "ASC"
    order = f"list_sort_key {direction} NULLS LAST, session_id"
    listed = (
        f"SELECT {LIST_COLUMNS}, {sort_expression(sort)} AS list_sort_key FROM sessions s "
        f"WHERE {_inline(where)} ORDER BY {order}" + ("" if limit is None else f" LIMIT {int(limit)}")
    )
    params: dict[str, Any] = {f"p{i}": name for i, name in enumerate(properties)}
    if not properties:
        return con.execute(
            f"SELECT * EXCLUDE (list_sort_key) FROM ({listed}) ORDER BY {order}", _named(where)
        ).to_arrow_table()
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
    return con.execute(sql, {**params, **_named(where)}).to_arrow_table()


def _inline(where: Compiled) -> str:
    """Compiled filters use `?` placeholders; named ones let us mix in our own parameters."""
    parts = where.sql.split("?")
    return "".join(part + (f"$w{i}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))


def _named(where: Compiled) -> dict[str, Any]:
    return {f"w{i}": value for i, value in enumerate(where.params)}


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


def session_start(con: duckdb.DuckDBPyConnection, session_id: str) -> Any:
    row = con.execute("SELECT start_time FROM session_stats WHERE session_id = ?", [session_id]).fetchone()
    return row[0] if row else None


SUB_FOLDER_NAMES: Final = 20
"""Sub-folder paths a folder's figures carry (`NodeStats.child_paths`): the first ones, which the detail lists."""


@dataclass(frozen=True)
class FolderPage:
    """A page of one folder's sub-folders, with figures for each whole subtree.

    `children` are the sub-folders `offset`, `offset + 1` … in order of first start (then path); `total` counts
    them all. `stats` holds the folder itself too when it was asked for. Each folder's `child_paths` are its
    first SUB_FOLDER_NAMES sub-folders and `sub_folders` says how many it has in all."""

    folder: str
    offset: int
    children: tuple[str, ...]
    total: int
    stats: dict[str, NodeStats]
    sub_folders: dict[str, int]


def _folder_depth(folder: str) -> tuple[str, int]:
    """`$under` and `$depth` of FOLDER_PAGE_SQL for a normalised path."""
    return ("/" if folder == "/" else folder + "/"), len([part for part in folder.split("/") if part])


def folder_page(
    con: duckdb.DuckDBPyConnection, session_id: str, folder: str, *, offset: int = 0, limit: int = 200,
    with_folder: bool = False,
) -> FolderPage | None:
    """Sub-folders `offset` … `offset + limit - 1` of `folder` with their figures (and the folder's own with
    `with_folder`); None when the session has no spans at or under `folder`.

    A folder's figures cost a scan of its own subtree only, so the explorer reads the root and its first
    sub-folders when a session opens and each folder's when it is opened."""
    start = session_start(con, session_id)
    if start is None:
        return None
    under, depth = _folder_depth(folder)
    rows = con.execute(FOLDER_PAGE_SQL, {
        "session_id": session_id, "folder": folder, "under": under, "depth": depth, "offset": offset,
        "limit": limit, "with_folder": with_folder, "names": SUB_FOLDER_NAMES, "t0": start,
    }).fetchall()
    if not rows:
        if with_folder:
            return None
        total = folder_count(con, session_id, folder)
        return FolderPage(folder, offset, (), total, {}, {})
    stats: dict[str, NodeStats] = {}
    sub_folders: dict[str, int] = {}
    children: list[str] = []
    for (path, spans, self_spans, errors, llm_calls, tool_calls, cost_usd, unpriced, input_tokens, output_tokens,
         busy_ms, wall_ms, start_ms, end_ms, running, subs, sub_paths, _) in rows:
        stats[path] = NodeStats(path, "/" if path == "/" else path.rsplit("/", 1)[1], spans, self_spans, errors,
                                llm_calls, tool_calls, cost_usd, unpriced, input_tokens, output_tokens, busy_ms,
                                wall_ms, start_ms, end_ms, tuple(sub_paths), running)
        sub_folders[path] = subs
        if path != folder:
            children.append(path)
    return FolderPage(folder, offset, tuple(children), int(rows[0][-1]), stats, sub_folders)


def folder_count(con: duckdb.DuckDBPyConnection, session_id: str, folder: str) -> int:
    """How many sub-folders `folder` has."""
    under, depth = _folder_depth(folder)
    row = con.execute(
        "SELECT count(DISTINCT list_filter(string_split(path, '/'), p -> p <> '')[$depth + 1]) FROM spans "
        "WHERE session_id = $session_id AND starts_with(path, $under) AND path <> $folder",
        {"session_id": session_id, "folder": folder, "under": under, "depth": depth},
    ).fetchone()
    return int(row[0]) if row else 0


def folder_rank(con: duckdb.DuckDBPyConnection, session_id: str, folder: str, child: str) -> int | None:
    """The index of `child` among the sub-folders of `folder` (FolderPage order); None if it isn't one."""
    under, depth = _folder_depth(folder)
    row = con.execute(FOLDER_RANK_SQL, {
        "session_id": session_id, "folder": folder, "under": under, "depth": depth, "child": child,
    }).fetchone()
    return int(row[0]) if row else None


def _span_rows(con: duckdb.DuckDBPyConnection, where: str, params: dict[str, Any], tail: str) -> list[SpanRow]:
    cursor = con.execute(f"{_SPAN_ROW_SQL} WHERE {where} {tail}", params)
    names = [d[0] for d in cursor.description or []]
    return [SpanRow(**dict(zip(names, row))) for row in cursor.fetchall()]


def spans_at_path(
    con: duckdb.DuckDBPyConnection, session_id: str, path: str, *, offset: int = 0, limit: int = 200
) -> list[SpanRow]:
    """A page of the spans whose path is exactly `path`, in start order."""
    t0 = session_start(con, session_id)
    return _span_rows(
        con,
        "s.session_id = $session_id AND s.path = $path",
        {"session_id": session_id, "path": path, "t0": t0, "limit": limit, "offset": offset},
        "ORDER BY s.start_time, s.span_id LIMIT $limit OFFSET $offset",
    )


def span_children(
    con: duckdb.DuckDBPyConnection, session_id: str, parent_id: str | None, *, offset: int = 0, limit: int = 200
) -> list[SpanRow]:
    """The causal view: children of a span, or the roots (no parent, or a parent never seen) for None."""
    t0 = session_start(con, session_id)
    if parent_id is None:
        where = (
            "s.session_id = $session_id AND (s.parent_id IS NULL OR NOT EXISTS ("
            "SELECT 1 FROM span_data p WHERE p.session_id = s.session_id AND p.span_id = s.parent_id))"
        )
        params: dict[str, Any] = {"session_id": session_id}
    else:
        where = "s.session_id = $session_id AND s.parent_id = $parent_id"
        params = {"session_id": session_id, "parent_id": parent_id}
    return _span_rows(
        con, where, {**params, "t0": t0, "limit": limit, "offset": offset},
        "ORDER BY s.start_time, s.span_id LIMIT $limit OFFSET $offset",
    )


def count_span_children(con: duckdb.DuckDBPyConnection, session_id: str, parent_id: str | None) -> int:
    if parent_id is None:
        row = con.execute(
            "SELECT count(*) FROM span_data s WHERE s.session_id = ? AND (s.parent_id IS NULL OR NOT EXISTS ("
            "SELECT 1 FROM span_data p WHERE p.session_id = s.session_id AND p.span_id = s.parent_id))",
            [session_id],
        ).fetchone()
    else:
        row = con.execute(
            "SELECT count(*) FROM span_data WHERE session_id = ? AND parent_id = ?", [session_id, parent_id]
        ).fetchone()
    return int(row[0]) if row else 0


def has_parent_links(con: duckdb.DuckDBPyConnection, session_id: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM span_data WHERE session_id = ? AND parent_id IS NOT NULL", [session_id]
    ).fetchone()
    return bool(row and row[0])


def _loads(value: Any) -> Any:
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def span_detail(con: duckdb.DuckDBPyConnection, span_id: str) -> SpanDetail | None:
    """One span with its payloads: the only query that reads input and output."""
    found = con.execute("SELECT session_id FROM span_data WHERE span_id = ?", [span_id]).fetchone()
    if not found:
        return None
    session_id = str(found[0])
    rows = _span_rows(
        con, "s.span_id = $span_id", {"span_id": span_id, "t0": session_start(con, session_id)}, ""
    )
    extra = con.execute(
        "SELECT provider, status_code, error, first_token_ms, cache_read_tokens, cache_write_tokens, "
        "reasoning_tokens, properties, user_id, input, output, extra, source_file, source_line "
        "FROM spans WHERE span_id = ?",
        [span_id],
    ).fetchone()
    assert extra is not None
    return SpanDetail(
        row=rows[0],
        provider=extra[0],
        status_code=extra[1],
        error=_loads(extra[2]),
        first_token_ms=extra[3],
        cache_read_tokens=extra[4],
        cache_write_tokens=extra[5],
        reasoning_tokens=extra[6],
        properties=_loads(extra[7]) or {},
        user_id=extra[8],
        input=_loads(extra[9]),
        output=_loads(extra[10]),
        extra=_loads(extra[11]) or {},
        source_file=extra[12],
        source_line=extra[13],
    )


def spans_by_id(con: duckdb.DuckDBPyConnection, session_id: str, span_ids: list[str]) -> list[SpanRow]:
    if not span_ids:
        return []
    return _span_rows(
        con,
        "s.session_id = $session_id AND s.span_id IN (SELECT unnest($ids))",
        {"session_id": session_id, "ids": span_ids, "t0": session_start(con, session_id)},
        "ORDER BY s.start_time, s.span_id",
    )


def tool_spans_after(
    con: duckdb.DuckDBPyConnection, session_id: str, start_time: Any, names: list[str], limit: int = 100
) -> list[SpanRow]:
    """Tool spans named in `names` that started at or after `start_time`, in start order: the
    candidates for answering the tool calls of an LLM span that started then."""
    if not names:
        return []
    return _span_rows(
        con,
        "s.session_id = $session_id AND s.kind = 'tool' AND s.start_time >= $after AND s.name IN (SELECT unnest($names))",
        {"session_id": session_id, "after": start_time, "names": names, "t0": session_start(con, session_id),
         "limit": limit},
        "ORDER BY s.start_time, s.span_id LIMIT $limit",
    )


def search_spans(con: duckdb.DuckDBPyConnection, session_id: str, text: str) -> list[tuple[str, str]]:
    """(span_id, path) of spans whose name, path, model, error, input or output contains `text`, start order."""
    rows = con.execute(
        """
        SELECT span_id, path FROM spans
        WHERE session_id = ? AND (
            contains(lower(coalesce(name, '')), lower(?)) OR contains(lower(path), lower(?))
            OR contains(lower(coalesce(model, '')), lower(?))
            OR contains(lower(coalesce(error_message, '') || ' ' || coalesce(error_type, '')), lower(?))
            OR contains(lower(coalesce(input::VARCHAR, '')), lower(?))
            OR contains(lower(coalesce(output::VARCHAR, '')), lower(?)))
        ORDER BY start_time, span_id
        """,
        [session_id] + [text] * 6,
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def error_spans(con: duckdb.DuckDBPyConnection, session_id: str) -> list[tuple[str, str]]:
    rows = con.execute(
        "SELECT span_id, path FROM spans WHERE session_id = ? AND status = 'error' ORDER BY start_time, span_id",
        [session_id],
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def span_position(con: duckdb.DuckDBPyConnection, session_id: str, span_id: str) -> tuple[str, int] | None:
    """A span's path and its index among the spans at that path (start order): where the tree shows it."""
    row = con.execute(
        """
        SELECT path, n FROM (
            SELECT span_id, path, row_number() OVER (PARTITION BY path ORDER BY start_time, span_id) - 1 AS n
            FROM spans WHERE session_id = ?)
        WHERE span_id = ?
        """,
        [session_id, span_id],
    ).fetchone()
    return (str(row[0]), int(row[1])) if row else None


EXPORT_FORMATS: Final = {".csv": "(FORMAT csv, HEADER)", ".jsonl": "(FORMAT json)", ".parquet": "(FORMAT parquet)"}
"""What ctrl+e writes, chosen by the file's extension."""


def _copy(con: duckdb.DuckDBPyConnection, select: str, params: dict[str, Any], target: Path) -> int:
    options = EXPORT_FORMATS.get(target.suffix)
    if options is None:
        raise StoreError(f"cannot export to {target.name}: use .csv, .jsonl or .parquet")
    quoted = str(target).replace("'", "''")
    con.execute(f"COPY ({select}) TO '{quoted}' {options}", params)
    row = con.execute(f"SELECT count(*) FROM ({select})", params).fetchone()
    return int(row[0]) if row else 0


def export_sessions(
    con: duckdb.DuckDBPyConnection, where: Compiled, sort: str | None, descending: bool, target: Path
) -> int:
    """The session list as shown (filter and order), every column, to CSV, JSONL or Parquet."""
    select = f"SELECT * FROM sessions s WHERE {_inline(where)} ORDER BY {sort_clause(sort, descending)}"
    return _copy(con, select, _named(where), target)


def export_spans(con: duckdb.DuckDBPyConnection, session_id: str, target: Path) -> int:
    """Every span of one session, payloads included, in start order."""
    return _copy(con, "SELECT * FROM spans WHERE session_id = $sid ORDER BY start_time, span_id",
                 {"sid": session_id}, target)


def critical_path(con: duckdb.DuckDBPyConnection, session_id: str) -> list[str]:
    """The chain of spans that set the session's end time, first to last.

    From the span that ends last, step back to the span that ended latest at or before its start, and
    so on. Only leaf spans count (a span some other span names as parent is a container, whose own
    interval is explained by its children). A step is a binary search over the leaves sorted by end,
    so a 100k-span session costs one query and a few dozen steps, not a loop over its spans.
    """
    rows = con.execute(
        """
        SELECT span_id, epoch_us(start_time) AS start_us, epoch_us(coalesce(end_time, start_time)) AS end_us
        FROM spans s
        WHERE session_id = ? AND NOT EXISTS (
            SELECT 1 FROM span_data c WHERE c.session_id = s.session_id AND c.parent_id = s.span_id)
        ORDER BY end_us, start_us, span_id
        """,
        [session_id],
    ).fetchall()
    if not rows:
        return []
    ends = [row[2] for row in rows]
    chain: list[str] = []
    index = len(rows) - 1
    while True:
        span_id, start_us, _ = rows[index]
        chain.append(span_id)
        # the latest end at or before this start, among the spans before this one in end order
        before = bisect.bisect_right(ends, start_us, 0, index) - 1
        if before < 0:
            break
        index = before
    chain.reverse()
    return chain


def spans_with_property(
    con: duckdb.DuckDBPyConnection, session_id: str, key: str, value: str
) -> list[tuple[str, str]]:
    """(span_id, path) of a session's spans whose property `key` is `value`, in start order."""
    rows = con.execute(
        "SELECT span_id, path FROM spans WHERE session_id = ? AND json_extract_string(properties, ?) = ? "
        "ORDER BY start_time, span_id",
        [session_id, "$." + json_key(key), value],
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def json_key(key: str) -> str:
    """A property name as one JSON path step, quoted so dashes and dots stay part of the name."""
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
