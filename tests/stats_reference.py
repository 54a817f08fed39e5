"""The query path of `agenttrace stats` before the session_groups rollup (agenttrace_tui/store/read/analytics.py at
commit e9b7176), kept verbatim as the reference the rollup-based figures are compared with: every span of the
selected sessions read into a temp table with an md5 of its input, busy time as islands per session.
Only the records and rules are imported from the current module (they did not change)."""

from __future__ import annotations

from typing import Any, Final

import duckdb

from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.read.analytics import (
    COMPARED,
    HISTOGRAM_BINS,
    NOT_SET,
    CompareRow,
    CostRow,
    ErrorGroup,
    FlaggedSession,
    HistogramBin,
    LatencyRow,
    RecoveryRow,
    RepeatRow,
    Stats,
    StatsRules,
    check_rules,
)
from agenttrace_tui.store.read.filters import Compiled

UNNAMED_TOOL: Final = "(unnamed tool)"
NO_MODEL: Final = "(no model)"
NO_PROVIDER: Final = "(no provider)"
UNNAMED_SESSION: Final = "(unnamed)"
NO_MESSAGE: Final = "(no message)"


def busy_time_ctes(source: str, partition: str, total_by: str | None = None) -> str:
    """The islands busy time of agenttrace_tui/store/sql_parts.py as it was (two windows, an aggregate)."""
    total = total_by or partition
    return f"""islands AS (
    SELECT {partition}, start_time, end_time,
           sum(CASE WHEN previous_end IS NULL OR start_time > previous_end THEN 1 ELSE 0 END)
               OVER (PARTITION BY {partition} ORDER BY start_time, span_id) AS island
    FROM (SELECT *, max(end_time) OVER (PARTITION BY {partition} ORDER BY start_time, span_id
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_end
          FROM {source})
), busy AS (
    SELECT {total}, sum(island_ms) AS busy_ms FROM (
        SELECT {partition}, island, (epoch_us(max(end_time)) - epoch_us(min(start_time))) / 1000.0 AS island_ms
        FROM islands GROUP BY {partition}, island
    ) GROUP BY {total}
)"""


# SQL ---------------------------------------------------------------------------------------------

SELECTED_SESSIONS_SQL: Final = """
CREATE OR REPLACE TEMP TABLE stats_sessions AS
SELECT s.session_id, s.name, s.start_time, s.duration_ms, s.spans, s.errors, s.llm_calls,
       coalesce(s.cost_usd, 0) AS cost_usd, s.unpriced, s.user_ids, s.properties
FROM sessions s WHERE {where}
"""
"""The sessions a filter selects, whole; every figure is over these."""

SELECTED_PROPERTIES_SQL: Final = """
CREATE OR REPLACE TEMP TABLE stats_properties AS
SELECT DISTINCT session_id, key, value FROM (
    SELECT s.session_id, j.key,
           unnest(CASE WHEN j.type = 'ARRAY' THEN from_json(j.value, '["VARCHAR"]')
                       ELSE [j.value ->> '$'] END) AS value
    FROM stats_sessions s, json_each(s.properties) j
)
"""
"""(session, key, value) from the sessions' properties: the spans' and the session record's (the
`session_properties` view holds the spans' only); a key with several values gives a row per value."""

SELECTED_SPANS_SQL: Final = """
CREATE OR REPLACE TEMP TABLE stats_spans AS
SELECT sp.span_id, sp.session_id, coalesce(sp.path, '/') AS path, sp.kind, sp.name, sp.model, sp.provider,
       sp.status, coalesce(sp.error_message, sp.error_type) AS message, sp.cost_usd, sp.cost_source,
       sp.duration_ms, sp.start_time, coalesce(sp.end_time, sp.start_time) AS end_time,
       CASE WHEN sp.input IS NOT NULL THEN md5(CAST(sp.input AS VARCHAR)) END AS input_hash
FROM spans sp WHERE sp.session_id IN (SELECT session_id FROM stats_sessions)
"""
"""Their spans, read from the view once, with only the columns the figures need (the input as a hash)."""

OVERVIEW_SQL: Final = """
SELECT count(*) AS sessions,
       coalesce(sum(spans), 0) AS spans,
       coalesce(sum(errors), 0) AS errors,
       coalesce(sum(duration_ms), 0) AS wall_ms,
       coalesce(sum(cost_usd), 0) AS cost_usd,
       coalesce(sum(unpriced), 0) AS unpriced,
       count(*) FILTER (WHERE unpriced > 0) AS sessions_with_unpriced,
       count(*) FILTER (WHERE errors > 0) AS sessions_with_errors,
       quantile_cont(cost_usd, 0.5) AS p50_usd,
       quantile_cont(cost_usd, 0.95) AS p95_usd,
       avg(cost_usd) AS mean_usd,
       min(cost_usd) AS min_usd,
       max(cost_usd) AS max_usd
FROM stats_sessions
"""

HISTOGRAM_SQL: Final = """
WITH bounds AS (SELECT min(cost_usd) AS low, max(cost_usd) AS high FROM stats_sessions)
SELECT coalesce(least(CAST(floor((cost_usd - low) / nullif(high - low, 0) * $bins) AS INTEGER), $bins - 1), 0)
           AS bin,
       count(*) AS sessions
FROM stats_sessions, bounds GROUP BY bin
"""
"""Equal-width bins from the cheapest to the dearest session; the dearest falls in the last bin."""

PATH_PREFIX_SQL: Final = "CASE WHEN path = '/' THEN '/' ELSE '/' || split_part(ltrim(path, '/'), '/', 1) END"

COST_SQL: Final = f"""
WITH keyed AS (
    SELECT 'model' AS dim, coalesce(model, '{NO_MODEL}') AS key, * FROM stats_spans WHERE kind = 'llm'
    UNION ALL
    SELECT 'provider', coalesce(provider, '{NO_PROVIDER}'), * FROM stats_spans WHERE kind = 'llm'
    UNION ALL
    SELECT 'tool', coalesce(name, '{UNNAMED_TOOL}'), * FROM stats_spans WHERE kind = 'tool'
    UNION ALL
    SELECT 'path_prefix', {PATH_PREFIX_SQL}, * FROM stats_spans
    UNION ALL
    SELECT 'path', path, * FROM stats_spans
)
SELECT dim, key, count(DISTINCT session_id) AS sessions, count(*) AS spans,
       sum(cost_usd) AS cost_usd, count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced
FROM keyed GROUP BY dim, key
UNION ALL
SELECT 'session_name', coalesce(name, '{UNNAMED_SESSION}'), count(*), sum(spans), sum(cost_usd), sum(unpriced)
FROM stats_sessions GROUP BY 2
"""
"""Cost per key; a key none of whose spans has a price (tools, usually) has a NULL cost, not $0."""

_BUSY_LATENCY_SQL: Final = busy_time_ctes('keyed', 'dim, key, session_id', 'dim, key')

LATENCY_SQL: Final = f"""
WITH keyed AS (
    SELECT 'tool' AS dim, coalesce(name, '{UNNAMED_TOOL}') AS key, * FROM stats_spans WHERE kind = 'tool'
    UNION ALL
    SELECT 'path', path, * FROM stats_spans
), {_BUSY_LATENCY_SQL}
SELECT k.dim, k.key, count(*) AS count, count(DISTINCT k.session_id) AS sessions,
       count(*) FILTER (WHERE k.status = 'error') AS errors,
       quantile_cont(k.duration_ms, 0.5) AS p50_ms,
       quantile_cont(k.duration_ms, 0.95) AS p95_ms,
       quantile_cont(k.duration_ms, 0.99) AS p99_ms,
       max(k.duration_ms) AS max_ms,
       coalesce(any_value(b.busy_ms), 0) AS busy_ms
FROM keyed k LEFT JOIN busy b ON b.dim = k.dim AND b.key = k.key
GROUP BY k.dim, k.key
"""
"""Per tool and per path: percentiles over finished spans; busy time as a union of intervals per session."""

FINGERPRINT_SQL: Final = r"""
regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
    coalesce(message, '(no message)'),
    '"[^"]*"', '"…"', 'g'),
    '(^|[^\w])''[^'']*''', '\1''…''', 'g'),
    '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '<id>', 'g'),
    '\b(0x)?[0-9a-fA-F]{8,}\b', '<id>', 'g'),
    '\d+(\.\d+)?', 'N', 'g')
"""
"""An error message with its variable parts masked: quoted values, then uuid and hex ids, then numbers."""

TOP_ERRORS_SQL: Final = f"""
SELECT fingerprint, count(*) AS errors, count(DISTINCT session_id) AS sessions,
       min_by(coalesce(message, '{NO_MESSAGE}'), {{'t': start_time, 'id': span_id}}) AS example
FROM (SELECT *, {FINGERPRINT_SQL} AS fingerprint FROM stats_spans WHERE status = 'error')
GROUP BY fingerprint
ORDER BY errors DESC, sessions DESC, fingerprint
LIMIT $top
"""

RECOVERY_SQL: Final = f"""
WITH with_errors AS (SELECT DISTINCT session_id FROM stats_spans WHERE status = 'error'
), ok_at AS (  -- the latest start of a successful span at each path of a session that had errors
    SELECT session_id, path, max(start_time) AS latest FROM stats_spans
    WHERE status <> 'error' AND session_id IN (SELECT session_id FROM with_errors) GROUP BY ALL
), ok_below AS (  -- ... at each path P or below it (paths starting with P || '/'): each path's latest
    -- counts for itself and for every prefix that ends where a '/' follows
    SELECT session_id, node AS path, max(latest) AS latest FROM (
        SELECT session_id, latest, unnest(list_concat([path], list_transform(
                   list_filter(range(0, length(path)), i -> substr(path, i + 1, 1) = '/'), i -> left(path, i))))
                   AS node
        FROM ok_at)
    GROUP BY ALL
), ok_tool AS (
    SELECT session_id, name, max(start_time) AS latest FROM stats_spans
    WHERE status <> 'error' AND kind = 'tool' AND session_id IN (SELECT session_id FROM with_errors) GROUP BY ALL
), failed AS (
    SELECT e.session_id, e.span_id,
           coalesce(b.latest > e.start_time, false)
               OR coalesce(e.kind = 'tool' AND t.latest > e.start_time, false) AS recovered
    FROM stats_spans e
    LEFT JOIN ok_below b ON b.session_id = e.session_id AND b.path = e.path
    LEFT JOIN ok_tool t ON t.session_id = e.session_id AND t.name = e.name
    WHERE e.status = 'error'
), per_session AS (
    SELECT session_id, count(*) AS errors, count(*) FILTER (WHERE recovered) AS recovered FROM failed
    GROUP BY session_id
), strategies AS (
    SELECT session_id, value AS strategy FROM stats_properties
    WHERE key = 'Recovery-Strategy' AND session_id IN (SELECT session_id FROM per_session)
), tagged AS (
    SELECT '*' AS strategy, * FROM per_session
    UNION ALL
    SELECT coalesce(st.strategy, '{NOT_SET}'), p.*
    FROM per_session p LEFT JOIN strategies st USING (session_id)
)
SELECT strategy, count(*) AS sessions, sum(errors) AS errors, sum(recovered) AS recovered,
       count(*) FILTER (WHERE recovered = errors) AS sessions_recovered
FROM tagged GROUP BY strategy
"""
"""Linear in spans (the latest successful start per path, rolled up to its prefixes, and per tool, joined to
each error), where a per-error EXISTS was quadratic in a session's size (100k spans: 7.4 s).
An error is recovered when a later span of the same session succeeds at its path (or below it: a
fallback at /iteration/0/fallback recovers /iteration/0) or, for a tool, with the same tool. Strategy '*' is
the total; a session with several strategy values counts under each."""

REPEATS_SQL: Final = """
WITH ranked AS (
    SELECT session_id, path, cost_usd, cost_source,
           row_number() OVER (PARTITION BY session_id, path, input_hash ORDER BY start_time, span_id) AS n
    FROM stats_spans WHERE input_hash IS NOT NULL
)
SELECT path, count(*) AS repeats, count(DISTINCT session_id) AS sessions,
       sum(cost_usd) AS wasted_cost_usd, count(*) FILTER (WHERE cost_source = 'unpriced') AS wasted_unpriced
FROM ranked WHERE n > 1 GROUP BY path
"""
"""Spans after the first with the same path and the same input in one session, and what they cost."""

ITERATION_LIMIT_SQL: Final = """
WITH iterations AS (
    SELECT session_id, max(TRY_CAST(nullif(regexp_extract(path, $pattern, 1), '') AS BIGINT)) + 1 AS iterations
    FROM stats_spans WHERE $pattern <> '' GROUP BY session_id
), flagged_property AS (
    SELECT DISTINCT session_id FROM stats_properties WHERE key = $prop_key AND value = $prop_value
), flagged AS (
    SELECT s.session_id, s.name, i.iterations,
           coalesce(i.iterations >= $limit, false) AS by_count, p.session_id IS NOT NULL AS by_property
    FROM stats_sessions s LEFT JOIN iterations i USING (session_id) LEFT JOIN flagged_property p USING (session_id)
)
SELECT session_id, name, iterations, by_count, by_property, count(*) OVER () AS total
FROM flagged WHERE by_count OR by_property
ORDER BY iterations DESC NULLS LAST, session_id
LIMIT $top
"""

HUMAN_SQL: Final = """
WITH by_span AS (
    SELECT session_id,
           min_by(CASE WHEN regexp_matches(path, $pattern, 'i') THEN 'path ' || path ELSE 'tool ' || name END,
                  {'t': start_time, 'id': span_id}) AS reason
    FROM stats_spans
    WHERE $pattern <> '' AND (regexp_matches(path, $pattern, 'i')
                              OR (kind = 'tool' AND regexp_matches(coalesce(name, ''), $pattern, 'i')))
    GROUP BY session_id
), by_property AS (
    SELECT DISTINCT session_id FROM stats_properties WHERE key = $prop_key AND value = $prop_value
), flagged AS (
    SELECT s.session_id, s.name, s.start_time,
           coalesce(b.reason, 'property ' || $prop_key || '=' || $prop_value) AS reason
    FROM stats_sessions s LEFT JOIN by_span b USING (session_id) LEFT JOIN by_property p USING (session_id)
    WHERE b.session_id IS NOT NULL OR p.session_id IS NOT NULL
)
SELECT session_id, name, reason, count(*) OVER () AS total FROM flagged
ORDER BY start_time, session_id
LIMIT $top
"""

COMPARE_SQL: Final = """
SELECT value, count(*) AS sessions, sum(cost_usd) AS cost_usd, sum(unpriced) AS unpriced,
       avg(cost_usd) AS cost_per_session,
       quantile_cont(duration_ms, 0.5) AS p50_duration_ms,
       quantile_cont(duration_ms, 0.95) AS p95_duration_ms,
       sum(spans) AS spans, sum(errors) AS errors,
       coalesce(sum(errors) / nullif(sum(spans), 0), 0) AS error_rate,
       avg(llm_calls) AS iterations_per_session
FROM ({values}) GROUP BY value
ORDER BY value = '{not_set}', value
"""
"""Per value of the compared field; a session with several values counts under each."""

COMPARE_VALUES: Final = {
    "prop": f"""SELECT s.*, coalesce(p.value, '{NOT_SET}') AS value FROM stats_sessions s
               LEFT JOIN (SELECT session_id, value FROM stats_properties WHERE key = $key) p USING (session_id)""",
    "name": f"SELECT *, coalesce(name, '{UNNAMED_SESSION}') AS value FROM stats_sessions",
    "user": f"""SELECT s.*, coalesce(u.value, '{NOT_SET}') AS value FROM stats_sessions s
               LEFT JOIN (SELECT session_id, unnest(user_ids) AS value FROM stats_sessions) u USING (session_id)""",
}


# Assembly ----------------------------------------------------------------------------------------


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def parse_by(by: str | None) -> tuple[str, str] | None:
    """`prop.NAME`, `name` or `user` → (kind, property name)."""
    if by is None:
        return None
    text = by.strip()
    if text.startswith("prop.") and len(text) > len("prop."):
        return "prop", text[len("prop."):]
    if text in ("name", "user"):
        return text, ""
    raise StoreError(f"--by: unknown field {by!r}; use prop.NAME (e.g. prop.Agent-Version), name or user")


def session_stats(
    con: duckdb.DuckDBPyConnection,
    where: Compiled,
    *,
    by: str | None = None,
    top: int = 10,
    rules: StatsRules | None = None,
) -> Stats:
    """Every figure of `agenttrace stats` over the whole sessions `where` selects."""
    if top < 1:
        raise StoreError("--top must be at least 1")
    rules = rules or StatsRules()
    check_rules(rules)
    compare = parse_by(by)
    con.execute(SELECTED_SESSIONS_SQL.format(where=where.sql), where.params)
    con.execute(SELECTED_PROPERTIES_SQL)
    con.execute(SELECTED_SPANS_SQL)

    stats = Stats(rules=rules, compare_by=by.strip() if by else None)
    overview = _dicts(con.execute(OVERVIEW_SQL))[0]
    stats.sessions = int(overview["sessions"])
    stats.spans = int(overview["spans"])
    stats.errors = int(overview["errors"])
    stats.wall_ms = float(overview["wall_ms"])
    stats.cost_usd = float(overview["cost_usd"])
    stats.unpriced = int(overview["unpriced"])
    stats.sessions_with_unpriced = int(overview["sessions_with_unpriced"])
    stats.sessions_with_errors = int(overview["sessions_with_errors"])
    stats.cost_per_session = {key: _float(overview[key])
                              for key in ("p50_usd", "p95_usd", "mean_usd", "min_usd", "max_usd")}
    if stats.sessions == 0:
        return stats

    _histogram(con, stats, overview)
    _costs(con, stats, top)
    _latency(con, stats, top)
    _errors(con, stats, top)
    _repeats(con, stats, top)
    _flags(con, stats, rules, top)
    if compare is not None:
        _compare(con, stats, compare)
    return stats


def _histogram(con: duckdb.DuckDBPyConnection, stats: Stats, overview: dict[str, Any]) -> None:
    counts = dict(con.execute(HISTOGRAM_SQL, {"bins": HISTOGRAM_BINS}).fetchall())
    low, high = float(overview["min_usd"]), float(overview["max_usd"])
    bins = HISTOGRAM_BINS if high > low else 1
    width = (high - low) / bins
    stats.histogram = [
        HistogramBin(low_usd=low + i * width, high_usd=high if i == bins - 1 else low + (i + 1) * width,
                     sessions=int(counts.get(i, 0)))
        for i in range(bins)
    ]


def _costs(con: duckdb.DuckDBPyConnection, stats: Stats, top: int) -> None:
    grouped: dict[str, list[CostRow]] = {}
    for row in _dicts(con.execute(COST_SQL)):
        cost = _float(row["cost_usd"])
        grouped.setdefault(row["dim"], []).append(CostRow(
            key=row["key"], sessions=int(row["sessions"]), spans=int(row["spans"]), cost_usd=cost,
            unpriced=int(row["unpriced"] or 0),
            share=cost / stats.cost_usd if cost is not None and stats.cost_usd > 0 else None,
        ))

    def order(item: CostRow) -> tuple[bool, float, int, str]:
        return (item.cost_usd is None, -(item.cost_usd or 0.0), -item.unpriced, item.key)

    for dim in ("model", "provider", "tool", "path_prefix", "session_name"):
        stats.cost_by[dim] = sorted(grouped.get(dim, []), key=order)[:top]
    paths = [row for row in grouped.get("path", []) if row.cost_usd is not None or row.unpriced]
    stats.expensive_paths = sorted(paths, key=order)[:top]


def _latency(con: duckdb.DuckDBPyConnection, stats: Stats, top: int) -> None:
    grouped: dict[str, list[LatencyRow]] = {"tool": [], "path": []}
    for row in _dicts(con.execute(LATENCY_SQL)):
        busy = float(row["busy_ms"])
        grouped[row["dim"]].append(LatencyRow(
            key=row["key"], count=int(row["count"]), sessions=int(row["sessions"]), errors=int(row["errors"]),
            error_rate=int(row["errors"]) / int(row["count"]),
            p50_ms=_float(row["p50_ms"]), p95_ms=_float(row["p95_ms"]), p99_ms=_float(row["p99_ms"]),
            max_ms=_float(row["max_ms"]), busy_ms=busy,
            # Sessions of instantaneous spans have no wall time to take a share of.
            share_of_wall=busy / stats.wall_ms if stats.wall_ms > 0 else None,
        ))

    def by_busy(item: LatencyRow) -> tuple[float, str]:
        return (-item.busy_ms, item.key)

    def by_p95(item: LatencyRow) -> tuple[bool, float, str]:
        return (item.p95_ms is None, -(item.p95_ms or 0.0), item.key)

    def by_errors(item: LatencyRow) -> tuple[float, int, str]:
        return (-item.error_rate, -item.errors, item.key)

    stats.latency_by_tool = sorted(grouped["tool"], key=by_busy)[:top]
    stats.latency_by_path = sorted(grouped["path"], key=by_busy)[:top]
    stats.slowest_tools = sorted(grouped["tool"], key=by_p95)[:top]
    stats.errors_by_tool = sorted((r for r in grouped["tool"] if r.errors), key=by_errors)[:top]
    stats.errors_by_path = sorted((r for r in grouped["path"] if r.errors), key=by_errors)[:top]


def _errors(con: duckdb.DuckDBPyConnection, stats: Stats, top: int) -> None:
    stats.top_errors = [
        ErrorGroup(fingerprint=row["fingerprint"], errors=int(row["errors"]), sessions=int(row["sessions"]),
                   example=row["example"])
        for row in _dicts(con.execute(TOP_ERRORS_SQL, {"top": top}))
    ]
    rows = []
    for row in _dicts(con.execute(RECOVERY_SQL)):
        errors, recovered = int(row["errors"]), int(row["recovered"])
        rows.append(RecoveryRow(
            strategy=row["strategy"], sessions=int(row["sessions"]), errors=errors, recovered=recovered,
            recovery_rate=recovered / errors if errors else 0.0, sessions_recovered=int(row["sessions_recovered"]),
        ))
    total = [row for row in rows if row.strategy == "*"]
    stats.recovery = total[0] if total else RecoveryRow("*", 0, 0, 0, 0.0, 0)
    stats.recovery_by_strategy = sorted(
        (row for row in rows if row.strategy != "*"), key=lambda row: (row.strategy == NOT_SET, row.strategy)
    )


def _repeats(con: duckdb.DuckDBPyConnection, stats: Stats, top: int) -> None:
    rows = [
        RepeatRow(path=row["path"], repeats=int(row["repeats"]), sessions=int(row["sessions"]),
                  wasted_cost_usd=_float(row["wasted_cost_usd"]), wasted_unpriced=int(row["wasted_unpriced"]))
        for row in _dicts(con.execute(REPEATS_SQL))
    ]
    stats.repeats = sum(row.repeats for row in rows)
    costs = [row.wasted_cost_usd for row in rows if row.wasted_cost_usd is not None]
    stats.repeats_wasted_cost_usd = sum(costs) if costs else None
    stats.repeats_wasted_unpriced = sum(row.wasted_unpriced for row in rows)
    stats.repeats_by_path = sorted(
        rows, key=lambda row: (-(row.wasted_cost_usd or 0.0), -row.repeats, row.path)
    )[:top]


def _flags(con: duckdb.DuckDBPyConnection, stats: Stats, rules: StatsRules, top: int) -> None:
    limit_pair = rules.limit_property_pair() or ("", "")
    # A property rule that is off matches nothing: no property has an empty key.
    rows = _dicts(con.execute(ITERATION_LIMIT_SQL, {
        "pattern": rules.iteration_path, "limit": rules.iteration_limit,
        "prop_key": limit_pair[0], "prop_value": limit_pair[1], "top": top,
    }))
    stats.iteration_limit_sessions = int(rows[0]["total"]) if rows else 0
    for row in rows:
        reasons = []
        if row["by_count"]:
            reasons.append(f"{row['iterations']} iterations (limit {rules.iteration_limit})")
        if row["by_property"]:
            reasons.append(f"property {rules.limit_property}")
        stats.iteration_limit.append(FlaggedSession(
            session_id=row["session_id"], name=row["name"], reason="; ".join(reasons),
            iterations=None if row["iterations"] is None else int(row["iterations"]),
        ))
    human_pair = rules.human_property_pair() or ("", "")
    rows = _dicts(con.execute(HUMAN_SQL, {
        "pattern": rules.human_pattern, "prop_key": human_pair[0], "prop_value": human_pair[1], "top": top,
    }))
    stats.human_sessions = int(rows[0]["total"]) if rows else 0
    stats.human = [FlaggedSession(session_id=row["session_id"], name=row["name"], reason=row["reason"])
                   for row in rows]


def _compare(con: duckdb.DuckDBPyConnection, stats: Stats, compare: tuple[str, str]) -> None:
    kind, key = compare
    sql = COMPARE_SQL.format(values=COMPARE_VALUES[kind], not_set=NOT_SET)
    params = {"key": key} if kind == "prop" else {}
    rows = _dicts(con.execute(sql, params))
    first: dict[str, Any] | None = rows[0] if rows else None
    for row in rows:
        diff: dict[str, float | None] = {}
        diff_pct: dict[str, float | None] = {}
        for figure in COMPARED:
            value, base = row[figure], first[figure] if first else None
            if value is None or base is None:
                diff[figure], diff_pct[figure] = None, None
                continue
            diff[figure] = float(value) - float(base)
            diff_pct[figure] = (float(value) - float(base)) / float(base) if base else None
        stats.compare.append(CompareRow(
            value=row["value"], sessions=int(row["sessions"]), cost_usd=float(row["cost_usd"]),
            unpriced=int(row["unpriced"]), cost_per_session=float(row["cost_per_session"]),
            p50_duration_ms=_float(row["p50_duration_ms"]), p95_duration_ms=_float(row["p95_duration_ms"]),
            spans=int(row["spans"]), errors=int(row["errors"]), error_rate=float(row["error_rate"]),
            iterations_per_session=float(row["iterations_per_session"]), diff=diff, diff_pct=diff_pct,
        ))
