"""One session's cost, latency and error breakdowns: the figures behind the session screen's panels.

Three groupings of the same spans, computed in one pass:

- by **path**: the span's own path (not its ancestors: the tree already rolls subtrees up);
- by **tool**: the `name` of `kind = 'tool'` spans;
- by **model**: the `model` of `kind = 'llm'` spans.

Each panel keeps the spans that matter to it, and each row's `span_ids` are those spans in start order
(capped), so a row can jump to them:

- cost rows: spans with something to price (a reported or computed cost, or tokens with no known price).
  `count` is those spans; unpriced ones are counted apart, never as $0.
- latency rows: every span of the key. Percentiles and max are over finished spans; an unfinished span
  counts in `count` and, from its start, in busy time. `share_of_wall` is the union of the key's span
  intervals (idle gaps excluded) over the session's wall time, first start → last end.
- error rows: keys with at least one error; `count` is all spans of the key (so `errors / count` is the
  error rate) and `span_ids` are the failing spans. `messages` are distinct error messages (the error
  type when there is no message), most frequent first.

Times inside a session are milliseconds from its first span's start.
"""

from __future__ import annotations

from typing import Any, Final

import duckdb

from agenttrace_tui.format import NO_MODEL, UNNAMED_TOOL
from agenttrace_tui.store.records import BreakdownRow, SessionBreakdown, SpanRow
from agenttrace_tui.store.sql_parts import busy_time_ctes

MESSAGES_PER_ROW: Final = 5
"""Distinct error messages kept per error row: enough to see the pattern, few enough to read."""

BOUNDS_SQL: Final = """
SELECT count(*) AS spans,
       (epoch_us(max(coalesce(end_time, start_time))) - epoch_us(min(start_time))) / 1000.0 AS wall_ms
FROM spans WHERE session_id = $session_id
"""
"""Wall time as the sessions view defines duration: an unfinished span counts with its start."""

_BUSY_ROWS_SQL: Final = busy_time_ctes("keyed WHERE dim <> 'model'", 'dim, key')

BREAKDOWN_ROWS_SQL: Final = f"""
WITH s AS (
    SELECT span_id, path, kind, name, model, status,
           coalesce(error_message, error_type) AS message,
           cost_usd, cost_source, duration_ms, start_time,
           coalesce(end_time, start_time) AS end_time
    FROM spans WHERE session_id = $session_id
), keyed AS (
    SELECT 'path' AS dim, path AS key, * FROM s
    UNION ALL
    SELECT 'tool' AS dim, coalesce(name, '{UNNAMED_TOOL}') AS key, * FROM s WHERE kind = 'tool'
    UNION ALL
    SELECT 'model' AS dim, coalesce(model, '{NO_MODEL}') AS key, * FROM s WHERE kind = 'llm'
), {_BUSY_ROWS_SQL}, messages AS (
    SELECT dim, key, list(message ORDER BY times DESC, first_seen, message)[1:$messages] AS messages
    FROM (SELECT dim, key, message, count(*) AS times, min(start_time) AS first_seen
          FROM keyed WHERE status = 'error' AND message IS NOT NULL
          GROUP BY dim, key, message)
    GROUP BY dim, key
)
SELECT k.dim, k.key,
       count(*) AS spans,
       count(*) FILTER (WHERE k.status = 'error') AS errors,
       count(*) FILTER (WHERE k.cost_source IS NOT NULL) AS priced_spans,
       count(*) FILTER (WHERE k.cost_source IS NOT NULL AND k.status = 'error') AS priced_errors,
       coalesce(sum(k.cost_usd), 0) AS cost_usd,
       count(*) FILTER (WHERE k.cost_source = 'unpriced') AS unpriced,
       quantile_cont(k.duration_ms, 0.5) AS p50_ms,
       quantile_cont(k.duration_ms, 0.95) AS p95_ms,
       max(k.duration_ms) AS max_ms,
       coalesce(sum(k.duration_ms), 0) AS total_ms,
       any_value(b.busy_ms) AS busy_ms,
       any_value(m.messages) AS messages,
       -- min_by with n keeps the first n in order without collecting every id of a wide key.
       min_by(k.span_id, {{'t': k.start_time, 'id': k.span_id}}, $cap) AS span_ids,
       min_by(k.span_id, {{'t': k.start_time, 'id': k.span_id}}, $cap)
           FILTER (WHERE k.cost_source IS NOT NULL) AS priced_span_ids,
       min_by(k.span_id, {{'t': k.start_time, 'id': k.span_id}}, $cap)
           FILTER (WHERE k.status = 'error') AS error_span_ids
FROM keyed k
LEFT JOIN busy b ON b.dim = k.dim AND b.key = k.key
LEFT JOIN messages m ON m.dim = k.dim AND m.key = k.key
GROUP BY k.dim, k.key
"""
"""Per (grouping, key) of one session: every figure the three panels need."""

SLOWEST_SQL: Final = """
WITH s AS (
    SELECT * FROM spans WHERE session_id = $session_id
), t0 AS (
    SELECT min(start_time) AS t0 FROM s
), top AS (
    SELECT * FROM s WHERE duration_ms IS NOT NULL
    ORDER BY duration_ms DESC, start_time, span_id LIMIT $slowest
), children AS (
    SELECT parent_id, count(*) AS child_count FROM s
    WHERE parent_id IN (SELECT span_id FROM top) GROUP BY parent_id
)
SELECT top.span_id, top.session_id, top.path, top.parent_id, top.kind, top.name, top.model, top.status,
       top.error_type, top.error_message, top.start_time,
       (epoch_us(top.start_time) - epoch_us(t0.t0)) / 1000.0 AS start_ms,
       (epoch_us(coalesce(top.end_time, top.start_time)) - epoch_us(t0.t0)) / 1000.0 AS end_ms,
       top.duration_ms, top.in_progress, top.cost_usd, top.cost_source, top.input_tokens, top.output_tokens,
       coalesce(children.child_count, 0) AS child_count,
       top.parent_id IS NOT NULL AND top.parent_id NOT IN (SELECT span_id FROM s) AS orphan
FROM top CROSS JOIN t0 LEFT JOIN children ON children.parent_id = top.span_id
ORDER BY top.duration_ms DESC, top.start_time, top.span_id
"""
"""The longest finished spans: an unfinished span has no duration to rank by yet."""


def _ids(value: list[str] | None) -> tuple[str, ...]:
    return tuple(value) if value else ()


def _cost_row(group: dict[str, Any]) -> BreakdownRow:
    return BreakdownRow(
        key=group["key"],
        count=group["priced_spans"],
        errors=group["priced_errors"],
        cost_usd=float(group["cost_usd"]),
        unpriced=group["unpriced"],
        span_ids=_ids(group["priced_span_ids"]),
    )


def _latency_row(group: dict[str, Any], wall_ms: float) -> BreakdownRow:
    busy_ms = float(group["busy_ms"] or 0.0)
    return BreakdownRow(
        key=group["key"],
        count=group["spans"],
        errors=group["errors"],
        p50_ms=group["p50_ms"],
        p95_ms=group["p95_ms"],
        max_ms=group["max_ms"],
        total_ms=float(group["total_ms"]),
        # A session of instantaneous spans has no wall time to take a share of.
        share_of_wall=busy_ms / wall_ms if wall_ms > 0 else None,
        span_ids=_ids(group["span_ids"]),
    )


def _error_row(group: dict[str, Any]) -> BreakdownRow:
    return BreakdownRow(
        key=group["key"],
        count=group["spans"],
        errors=group["errors"],
        messages=tuple(group["messages"] or ()),
        span_ids=_ids(group["error_span_ids"]),
    )


def _by_cost(row: BreakdownRow) -> tuple[float, int, str]:
    return (-row.cost_usd, -row.unpriced, row.key)


def _by_p95(row: BreakdownRow) -> tuple[bool, float, float, str]:
    # Keys whose spans are all unfinished have no percentiles: last.
    return (row.p95_ms is None, -(row.p95_ms or 0.0), -(row.max_ms or 0.0), row.key)


def _by_errors(row: BreakdownRow) -> tuple[int, float, str]:
    return (-row.errors, -row.errors / row.count, row.key)


def session_breakdown(
    con: duckdb.DuckDBPyConnection,
    session_id: str,
    *,
    span_ids_per_row: int = 200,
    slowest: int = 10,
    rows_per_list: int = 100,
) -> SessionBreakdown | None:
    """The cost, latency and error breakdowns of one session; None when it has no spans."""
    if span_ids_per_row < 1:
        raise ValueError("span_ids_per_row must be at least 1")
    if slowest < 0:
        raise ValueError("slowest must not be negative")
    bounds = con.execute(BOUNDS_SQL, {"session_id": session_id}).fetchone()
    if bounds is None or bounds[0] == 0:
        return None
    wall_ms = float(bounds[1])

    cursor = con.execute(
        BREAKDOWN_ROWS_SQL, {"session_id": session_id, "cap": span_ids_per_row, "messages": MESSAGES_PER_ROW}
    )
    names = [d[0] for d in cursor.description or []]
    groups: dict[str, list[dict[str, Any]]] = {"path": [], "tool": [], "model": []}
    for values in cursor.fetchall():
        group = dict(zip(names, values))
        groups[group["dim"]].append(group)

    # A session with 50,000 distinct paths must not become 50,000 table rows: each list keeps its top
    # rows (by the figure it is sorted on); the cost totals still count every row.
    cut = 0

    def top(rows: list[BreakdownRow]) -> list[BreakdownRow]:
        nonlocal cut
        cut += max(0, len(rows) - rows_per_list)
        return rows[:rows_per_list]

    def cost(dim: str) -> list[BreakdownRow]:
        return top(sorted((_cost_row(g) for g in groups[dim] if g["priced_spans"]), key=_by_cost))

    def latency(dim: str) -> list[BreakdownRow]:
        return top(sorted((_latency_row(g, wall_ms) for g in groups[dim]), key=_by_p95))

    def errors(dim: str) -> list[BreakdownRow]:
        return top(sorted((_error_row(g) for g in groups[dim] if g["errors"]), key=_by_errors))

    all_path_costs = [_cost_row(g) for g in groups["path"] if g["priced_spans"]]

    cursor = con.execute(SLOWEST_SQL, {"session_id": session_id, "slowest": slowest})
    names = [d[0] for d in cursor.description or []]
    slowest_spans = [SpanRow(**dict(zip(names, values))) for values in cursor.fetchall()]

    return SessionBreakdown(
        wall_ms=wall_ms,
        cost_by_path=cost("path"),
        cost_by_model=cost("model"),
        cost_by_tool=cost("tool"),
        latency_by_path=latency("path"),
        latency_by_tool=latency("tool"),
        slowest_spans=slowest_spans,
        errors_by_tool=errors("tool"),
        errors_by_path=errors("path"),
        total_cost_usd=sum(row.cost_usd for row in all_path_costs),
        total_unpriced=sum(row.unpriced for row in all_path_costs),
        rows_cut=cut,
    )
