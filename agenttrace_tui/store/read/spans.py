"""One session's spans: rows by folder or by parent (the causal view), one span's detail with its payloads, and
the spans a search, an error list, a property or a list of ids picks; a session's spans exported."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import duckdb

from agenttrace_tui.store.read.export import copy_to
from agenttrace_tui.store.read.rows import loads
from agenttrace_tui.store.read.sessions import session_start
from agenttrace_tui.store.records import SpanDetail, SpanRow

SPAN_ROW_SQL: Final = """
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
"""SpanRow's columns; times are ms from `$t0`, the session's start."""


def _span_rows(con: duckdb.DuckDBPyConnection, where: str, params: dict[str, Any], tail: str) -> list[SpanRow]:
    cursor = con.execute(f"{SPAN_ROW_SQL} WHERE {where} {tail}", params)
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
    """How many rows span_children has in all."""
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
        error=loads(extra[2]),
        first_token_ms=extra[3],
        cache_read_tokens=extra[4],
        cache_write_tokens=extra[5],
        reasoning_tokens=extra[6],
        properties=loads(extra[7]) or {},
        user_id=extra[8],
        input=loads(extra[9]),
        output=loads(extra[10]),
        extra=loads(extra[11]) or {},
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
    """(span_id, path) of the session's failed spans, start order."""
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


def export_spans(con: duckdb.DuckDBPyConnection, session_id: str, target: Path) -> int:
    """Every span of one session, payloads included, in start order."""
    return copy_to(con, "SELECT * FROM spans WHERE session_id = $sid ORDER BY start_time, span_id",
                   {"sid": session_id}, target)
