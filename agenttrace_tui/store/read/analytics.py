"""Analytics across sessions: cost, latency, errors, bottlenecks and a compare by property.

`session_stats(con, where, ...)` takes the WHERE clause of `compile_filters` over `sessions s`, so a filter
or a time range selects **whole sessions**, and every figure below is computed over all the spans of the
sessions it selects. What a session contributes whole (costs, counts, busy time, recovery, repeats) is read
from the `session_groups` rollup written at ingest (store/backend/session_groups.py) and summed; the rest from narrow
span columns (docs/analytics.md#how-it-is-computed). All the arithmetic runs in SQL (grouped rows come back,
never one row per span); the result is a plain `Stats` record whose `to_json()` is what
`agenttrace stats --json` prints (keys documented in docs/analytics.md).

Rules that decide which sessions "hit the iteration limit" or "needed a human" have defaults below and can be
overridden in the config file's `[stats]` table (`load_rules`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import duckdb

from agenttrace_tui import config as config_file
from agenttrace_tui.format import UNNAMED_SESSION, UNNAMED_TOOL
from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.read.filters import Compiled

HISTOGRAM_BINS: Final = 10
"""Bins of the per-session cost histogram: enough to see a shape, few enough for one terminal line each."""

NOT_SET: Final = "(not set)"
"""Compare/strategy value of sessions that do not carry the property: shown, never dropped."""

NO_MESSAGE: Final = "(no message)"
RECOVERY_PROPERTY: Final = "Recovery-Strategy"

BY_FIELDS: Final = ("prop.NAME", "name", "user")
"""What `--by` compares on: a property, the session name, or the user."""


# Rules -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsRules:
    """How sessions that hit the iteration limit or needed a human are recognized.

    - iteration limit: the largest N captured by `iteration_path` (a regular expression with one group)
      in any span path of the session, plus one, is at least `iteration_limit`; or the session has the
      property `limit_property` (`NAME=VALUE`).
    - needed a human: a span path, or the name of a tool span, matches `human_pattern` (case-insensitive);
      or the session has the property `human_property` (`NAME=VALUE`).
    An empty string switches a rule off.
    """

    iteration_path: str = r"/iteration/(\d+)"
    iteration_limit: int = 5
    limit_property: str = "Outcome=max-iterations"
    human_pattern: str = "human|escalat|handoff"
    human_property: str = ""
    origin: str = "defaults"

    def limit_property_pair(self) -> tuple[str, str] | None:
        return _property_pair(self.limit_property, "limit_property", self.origin)

    def human_property_pair(self) -> tuple[str, str] | None:
        return _property_pair(self.human_property, "human_property", self.origin)


RULE_KEYS: Final = ("iteration_path", "iteration_limit", "limit_property", "human_pattern", "human_property")


def _property_pair(text: str, key: str, origin: str) -> tuple[str, str] | None:
    if not text:
        return None
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise StoreError(f"{origin}: {key} must look like NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def load_rules(path: Path | None = None) -> StatsRules:
    """The `[stats]` table of the config file (`$AGENTTRACE_CONFIG`, else ~/.config/agenttrace/config.toml)."""
    config = path or config_file.config_path()
    try:
        table = config_file.table("stats", config)
    except config_file.ConfigError as exc:
        raise StoreError(str(exc)) from None
    if not table:
        return StatsRules()
    origin = f"{config} [stats]"
    unknown = sorted(set(table) - set(RULE_KEYS))
    if unknown:
        raise StoreError(f"{origin}: unknown key {unknown[0]!r}; keys: {', '.join(RULE_KEYS)}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key == "iteration_limit":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise StoreError(f"{origin}: iteration_limit must be a whole number >= 1")
        elif not isinstance(value, str):
            raise StoreError(f"{origin}: {key} must be a string")
        values[key] = value
    rules = StatsRules(**values, origin=origin)
    check_rules(rules)
    return rules


def check_rules(rules: StatsRules) -> None:
    """Bad patterns and properties fail here with a one-line error, not inside a query."""
    for key in ("iteration_path", "human_pattern"):
        pattern = getattr(rules, key)
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise StoreError(f"{rules.origin}: {key} is not a regular expression: {exc}") from None
        if key == "iteration_path" and pattern and compiled.groups < 1:
            raise StoreError(f"{rules.origin}: iteration_path needs a group capturing the number, e.g. /iteration/(\\d+)")
    rules.limit_property_pair()
    rules.human_property_pair()


# Records -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostRow:
    """Cost of one key (model, provider, tool, path prefix, path, session name)."""

    key: str
    sessions: int
    spans: int  # all spans of the key (sessions, for session-level keys)
    cost_usd: float | None  # None: nothing of this key has a price (not $0)
    unpriced: int  # calls with tokens but no known price, counted apart
    share: float | None  # of the total cost


@dataclass(frozen=True)
class LatencyRow:
    """Latency and errors of one tool or path over the selected sessions."""

    key: str
    count: int
    sessions: int
    errors: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    busy_ms: float  # union of the key's span intervals, per session, summed
    share_of_wall: float | None  # busy_ms / the selected sessions' summed wall time


@dataclass(frozen=True)
class HistogramBin:
    low_usd: float
    high_usd: float
    sessions: int


@dataclass(frozen=True)
class ErrorGroup:
    fingerprint: str
    errors: int
    sessions: int
    example: str


@dataclass(frozen=True)
class RecoveryRow:
    strategy: str
    sessions: int  # sessions with errors carrying this strategy
    errors: int
    recovered: int
    recovery_rate: float
    sessions_recovered: int  # sessions whose every error was recovered


@dataclass(frozen=True)
class RepeatRow:
    path: str
    repeats: int  # spans after the first with the same input at this path in a session
    sessions: int
    wasted_cost_usd: float | None
    wasted_unpriced: int


@dataclass(frozen=True)
class FlaggedSession:
    session_id: str
    name: str | None
    reason: str
    iterations: int | None = None


@dataclass(frozen=True)
class CompareRow:
    value: str
    sessions: int
    cost_usd: float
    unpriced: int
    cost_per_session: float
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    spans: int
    errors: int
    error_rate: float
    iterations_per_session: float
    diff: dict[str, float | None] = field(default_factory=dict)  # value - first value's
    diff_pct: dict[str, float | None] = field(default_factory=dict)  # relative to the first value's


COMPARED: Final = (
    "sessions", "cost_per_session", "p50_duration_ms", "p95_duration_ms", "error_rate", "iterations_per_session",
)
"""The figures a compare row carries a difference for."""


@dataclass
class Stats:
    sessions: int = 0
    spans: int = 0
    errors: int = 0
    wall_ms: float = 0.0
    cost_usd: float = 0.0
    unpriced: int = 0
    sessions_with_unpriced: int = 0
    cost_per_session: dict[str, float | None] = field(default_factory=dict)
    histogram: list[HistogramBin] = field(default_factory=list)
    cost_by: dict[str, list[CostRow]] = field(default_factory=dict)
    latency_by_tool: list[LatencyRow] = field(default_factory=list)
    latency_by_path: list[LatencyRow] = field(default_factory=list)
    errors_by_tool: list[LatencyRow] = field(default_factory=list)
    errors_by_path: list[LatencyRow] = field(default_factory=list)
    top_errors: list[ErrorGroup] = field(default_factory=list)
    sessions_with_errors: int = 0
    recovery: RecoveryRow | None = None
    recovery_by_strategy: list[RecoveryRow] = field(default_factory=list)
    slowest_tools: list[LatencyRow] = field(default_factory=list)
    repeats: int = 0
    repeats_wasted_cost_usd: float | None = None
    repeats_wasted_unpriced: int = 0
    repeats_by_path: list[RepeatRow] = field(default_factory=list)
    expensive_paths: list[CostRow] = field(default_factory=list)
    iteration_limit_sessions: int = 0
    iteration_limit: list[FlaggedSession] = field(default_factory=list)
    human_sessions: int = 0
    human: list[FlaggedSession] = field(default_factory=list)
    compare_by: str | None = None
    compare: list[CompareRow] = field(default_factory=list)
    rules: StatsRules = field(default_factory=StatsRules)

    def to_json(self) -> dict[str, Any]:
        """The object `agenttrace stats --json` prints (docs/analytics.md)."""

        def rows(items: list[Any]) -> list[dict[str, Any]]:
            return [asdict(item) for item in items]

        rules = asdict(self.rules)
        rules.pop("origin")
        return {
            "sessions": self.sessions,
            "spans": self.spans,
            "wall_ms": self.wall_ms,
            "cost": {
                "total_usd": self.cost_usd,
                "unpriced": self.unpriced,
                "sessions_with_unpriced": self.sessions_with_unpriced,
                "per_session": {**self.cost_per_session, "histogram": rows(self.histogram)},
                **{f"by_{dim}": rows(items) for dim, items in self.cost_by.items()},
            },
            "latency": {"by_tool": rows(self.latency_by_tool), "by_path": rows(self.latency_by_path)},
            "errors": {
                "errors": self.errors,
                "error_rate": self.errors / self.spans if self.spans else 0.0,
                "sessions_with_errors": self.sessions_with_errors,
                "by_tool": rows(self.errors_by_tool),
                "by_path": rows(self.errors_by_path),
                "top_messages": rows(self.top_errors),
                "recovery": {
                    **(asdict(self.recovery) if self.recovery else {}),
                    "by_strategy": rows(self.recovery_by_strategy),
                },
            },
            "bottlenecks": {
                "slowest_tools": rows(self.slowest_tools),
                "repeated_inputs": {
                    "repeats": self.repeats,
                    "wasted_cost_usd": self.repeats_wasted_cost_usd,
                    "wasted_unpriced": self.repeats_wasted_unpriced,
                    "by_path": rows(self.repeats_by_path),
                },
                "expensive_paths": rows(self.expensive_paths),
                "iteration_limit": {"sessions": self.iteration_limit_sessions, "list": rows(self.iteration_limit)},
                "needed_human": {"sessions": self.human_sessions, "list": rows(self.human)},
                "rules": rules,
            },
            "compare": {"by": self.compare_by, "values": rows(self.compare)} if self.compare_by else None,
        }


# SQL ---------------------------------------------------------------------------------------------
# What a session contributes whole (cost, counts, busy time, recovery, repeats) is summed from the
# `session_groups` rollup written at ingest (store/backend/session_groups.py); percentiles, error messages and the
# rules' pattern matches are read from narrow span columns. `{scope}` (see _scoped) selects the rows of the
# selected sessions.

SELECTED_SESSIONS_SQL: Final = """
CREATE OR REPLACE TEMP TABLE stats_sessions AS
SELECT s.session_id, s.name, s.start_time, s.duration_ms, s.spans, s.errors, s.llm_calls,
       coalesce(s.cost_usd, 0) AS cost_usd, s.unpriced, s.user_ids, s.properties
FROM sessions s WHERE {where}
"""
"""The sessions a filter selects, whole; every figure is over these."""

ALL_SESSIONS_SQL: Final = "SELECT count(*) FROM session_stats"

IN_SELECTED: Final = "session_id IN (SELECT session_id FROM stats_sessions)"
"""The scope when a filter selects some sessions; with all of them selected the scope is TRUE (no join)."""

SELECTED_PROPERTIES_SQL: Final = """
CREATE OR REPLACE TEMP TABLE stats_properties AS
SELECT DISTINCT session_id, key, value FROM (
    SELECT session_id, key,
           unnest(CASE WHEN json_type(v) = 'ARRAY' THEN from_json(v, '["VARCHAR"]') ELSE [v ->> '$'] END) AS value
    FROM (SELECT s.session_id, k.key,
                 json_extract(s.properties, '/' || replace(replace(k.key, '~', '~0'), '/', '~1')) AS v
          FROM stats_sessions s, (SELECT unnest(CAST($keys AS VARCHAR[])) AS key) k)
    WHERE v IS NOT NULL
)
"""
"""(session, key, value) for the property keys the figures use (not every key: reading all of them cost more
than the rest of the stats), from the sessions' properties: the spans' and the session record's; a key with
several values (a JSON array) gives a row per value."""

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

GROUP_TOTALS_SQL: Final = f"""
CREATE OR REPLACE TEMP TABLE stats_groups AS
SELECT dim, key, count(*) AS sessions, sum(spans) AS spans, sum(errors) AS errors, sum(cost_usd) AS cost_usd,
       sum(unpriced) AS unpriced, max(max_ms) AS max_ms, sum(busy_us) AS busy_us,
       sum(repeats) AS repeats, count(*) FILTER (WHERE repeats > 0) AS repeat_sessions,
       sum(wasted_cost_usd) AS wasted_cost_usd, sum(wasted_unpriced) AS wasted_unpriced
FROM session_groups WHERE {{scope}}
GROUP BY dim, key
UNION ALL
SELECT 'session_name', coalesce(name, '{UNNAMED_SESSION}'), count(*), sum(spans), 0, sum(cost_usd), sum(unpriced),
       NULL, NULL, 0, 0, NULL, 0
FROM stats_sessions GROUP BY 2
"""
"""Per model, provider, tool, path prefix, path and session name: the rollup's figures summed over the selected
sessions (`sessions`: those with the key). A key none of whose spans has a price (tools, usually) has a NULL
cost, not $0."""

LISTED_GROUP_TOTALS_SQL: Final = """
WITH listed AS (  -- per dim, the keys first in each list's order (min_by keeps the n smallest: no sort)
    SELECT dim,
           min_by(key, {'unpriced_only': cost_usd IS NULL, 'cost': -coalesce(cost_usd, 0), 'unpriced': -unpriced,
                        'key': key}, $top) AS by_cost,
           min_by(key, {'busy': -busy_us, 'key': key}, $top) FILTER (WHERE dim = 'path') AS by_busy,
           min_by(key, {'rate': -(errors / spans), 'errors': -errors, 'key': key}, $top)
               FILTER (WHERE dim = 'path' AND errors > 0) AS by_errors,
           min_by(key, {'wasted': -coalesce(wasted_cost_usd, 0), 'repeats': -repeats, 'key': key}, $top)
               FILTER (WHERE dim = 'path' AND repeats > 0) AS by_waste
    FROM stats_groups GROUP BY dim
)
SELECT g.* FROM stats_groups g JOIN listed l USING (dim)
WHERE g.dim = 'tool' OR list_contains(l.by_cost, g.key) OR list_contains(l.by_busy, g.key)
   OR list_contains(l.by_errors, g.key) OR list_contains(l.by_waste, g.key)
"""
"""The groups that can make a list (each list's first `top` in its order, and every tool: the slowest tools are
ranked by p95), not all of them: a store can have 50,000 paths. Python orders each list the same way."""

REPEAT_TOTALS_SQL: Final = """
SELECT coalesce(sum(repeats), 0), sum(wasted_cost_usd), coalesce(sum(wasted_unpriced), 0)
FROM stats_groups WHERE dim = 'path' AND repeats > 0
"""

PERCENTILES_SQL: Final = f"""
SELECT 'path' AS dim, path AS key, quantile_cont(duration_ms, [0.5, 0.95, 0.99]) AS q
FROM spans WHERE {{scope}} AND path IN (SELECT unnest(CAST($paths AS VARCHAR[]))) GROUP BY path
UNION ALL
SELECT 'tool', coalesce(name, '{UNNAMED_TOOL}'), quantile_cont(duration_ms, [0.5, 0.95, 0.99])
FROM spans WHERE {{scope}} AND kind = 'tool' GROUP BY 2
"""
"""p50, p95, p99 over finished spans (an unfinished span has no duration) for every tool and the given paths:
the only paths whose percentiles are shown are those of the top rows."""

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
FROM (SELECT *, {FINGERPRINT_SQL} AS fingerprint
      FROM (SELECT session_id, span_id, start_time, coalesce(error_message, error_type) AS message
            FROM spans WHERE status = 'error' AND {{scope}}))
GROUP BY fingerprint
ORDER BY errors DESC, sessions DESC, fingerprint
LIMIT $top
"""

RECOVERY_SQL: Final = f"""
WITH per_session AS (
    SELECT session_id, sum(errors) AS errors, sum(recovered) AS recovered FROM session_groups
    WHERE dim = 'path' AND errors > 0 AND {{scope}} GROUP BY session_id
), strategies AS (
    SELECT session_id, value AS strategy FROM stats_properties
    WHERE key = '{RECOVERY_PROPERTY}' AND session_id IN (SELECT session_id FROM per_session)
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
"""Errors and recovered errors per session (the rollup's; recovery is defined in store/backend/session_groups.py), per
value of the session's Recovery-Strategy property. Strategy '*' is the total; a session with several values
counts under each."""

ITERATION_LIMIT_SQL: Final = """
WITH indexed AS (  -- each distinct path's iteration index, matched once rather than once per span
    SELECT key, TRY_CAST(nullif(regexp_extract(key, $pattern, 1), '') AS BIGINT) AS iteration
    FROM stats_groups WHERE dim = 'path' AND $pattern <> ''
), iterations AS (
    SELECT g.session_id, max(i.iteration) + 1 AS iterations
    FROM (SELECT session_id, key FROM session_groups WHERE dim = 'path' AND {scope}) g
    JOIN (SELECT * FROM indexed WHERE iteration IS NOT NULL) i USING (key)
    GROUP BY g.session_id
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

HUMAN_MATCHES_SQL: Final = """
SELECT dim, key FROM (
    SELECT dim, key FROM stats_groups WHERE dim IN ('path', 'tool')
    UNION ALL SELECT 'tool', ''  -- a tool with no name is matched as ''
)
WHERE $pattern <> '' AND regexp_matches(key, $pattern, 'i') AND NOT (dim = 'tool' AND key = $unnamed)
UNION ALL
SELECT 'tool', $unnamed WHERE $pattern <> '' AND regexp_matches($unnamed, $pattern, 'i')
"""
"""The distinct paths and tool names (as matched: a missing name is '') of the selected sessions that match the
human pattern, matched once each rather than once per span."""

HUMAN_BY_SPAN_SQL: Final = """
    SELECT session_id,
           min_by(CASE WHEN list_contains(CAST($paths AS VARCHAR[]), path) THEN 'path ' || path ELSE 'tool ' || name END,
                  {'t': start_time, 'id': span_id}) AS reason
    FROM spans
    WHERE (list_contains(CAST($paths AS VARCHAR[]), path) OR (kind = 'tool' AND list_contains(CAST($tools AS VARCHAR[]), coalesce(name, ''))))
      AND {scope}
    GROUP BY session_id
"""

NO_SPAN_SQL: Final = "SELECT NULL::VARCHAR AS session_id, NULL::VARCHAR AS reason WHERE false"

HUMAN_SQL: Final = """
WITH by_span AS ({by_span}
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
"""Sessions that needed a human: the earliest span whose path or tool name matched (HUMAN_MATCHES_SQL) gives the
reason, else the property."""

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


def _scoped(sql: str, scope: str) -> str:
    """`sql` with its `{scope}` condition: TRUE or IN_SELECTED (a literal placeholder, not str.format: the
    statements hold regular expressions and struct literals with braces)."""
    return sql.replace("{scope}", scope)


def _property_keys(rules: StatsRules, compare: tuple[str, str] | None) -> list[str]:
    """The property keys a figure looks at: the recovery strategy, the rules' properties, a compared one."""
    keys = [RECOVERY_PROPERTY]
    for pair in (rules.limit_property_pair(), rules.human_property_pair()):
        if pair is not None:
            keys.append(pair[0])
    if compare is not None and compare[0] == "prop":
        keys.append(compare[1])
    return sorted(set(keys))


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

    every = con.execute(ALL_SESSIONS_SQL).fetchone()
    scope = "TRUE" if every is not None and int(every[0]) == stats.sessions else IN_SELECTED
    con.execute(SELECTED_PROPERTIES_SQL, {"keys": _property_keys(rules, compare)})
    con.execute(_scoped(GROUP_TOTALS_SQL, scope))
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in _dicts(con.execute(LISTED_GROUP_TOTALS_SQL, {"top": top})):
        groups.setdefault(row["dim"], []).append(row)

    _histogram(con, stats, overview)
    _costs(stats, groups, top)
    _latency(con, stats, groups, scope, top)
    _errors(con, stats, scope, top)
    _repeats(con, stats, groups, top)
    _flags(con, stats, rules, scope, top)
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


def _costs(stats: Stats, groups: dict[str, list[dict[str, Any]]], top: int) -> None:
    grouped: dict[str, list[CostRow]] = {}
    for dim, rows in groups.items():
        for row in rows:
            cost = _float(row["cost_usd"])
            grouped.setdefault(dim, []).append(CostRow(
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


def _latency(con: duckdb.DuckDBPyConnection, stats: Stats, groups: dict[str, list[dict[str, Any]]], scope: str,
             top: int) -> None:
    grouped: dict[str, list[LatencyRow]] = {"tool": [], "path": []}
    for dim, rows in grouped.items():
        for row in groups.get(dim, []):
            busy = int(row["busy_us"] or 0) / 1000.0
            rows.append(LatencyRow(
                key=row["key"], count=int(row["spans"]), sessions=int(row["sessions"]), errors=int(row["errors"]),
                error_rate=int(row["errors"]) / int(row["spans"]),
                p50_ms=None, p95_ms=None, p99_ms=None, max_ms=_float(row["max_ms"]), busy_ms=busy,
                # Sessions of instantaneous spans have no wall time to take a share of.
                share_of_wall=busy / stats.wall_ms if stats.wall_ms > 0 else None,
            ))

    def by_busy(item: LatencyRow) -> tuple[float, str]:
        return (-item.busy_ms, item.key)

    def by_p95(item: LatencyRow) -> tuple[bool, float, str]:
        return (item.p95_ms is None, -(item.p95_ms or 0.0), item.key)

    def by_errors(item: LatencyRow) -> tuple[float, int, str]:
        return (-item.error_rate, -item.errors, item.key)

    by_path = sorted(grouped["path"], key=by_busy)[:top]
    errors_by_path = sorted((r for r in grouped["path"] if r.errors), key=by_errors)[:top]
    # Percentiles of every tool (the slowest are ranked by them) and of the paths listed, not of every path.
    shown = sorted({row.key for row in by_path + errors_by_path})
    percentiles = {
        (dim, key): q for dim, key, q in con.execute(_scoped(PERCENTILES_SQL, scope), {"paths": shown}).fetchall()
    }

    def with_percentiles(dim: str, row: LatencyRow) -> LatencyRow:
        q = percentiles.get((dim, row.key))
        if not q:
            return row
        return replace(row, p50_ms=_float(q[0]), p95_ms=_float(q[1]), p99_ms=_float(q[2]))

    tools = [with_percentiles("tool", row) for row in grouped["tool"]]
    paths = {row.key: with_percentiles("path", row) for row in by_path + errors_by_path}
    stats.latency_by_tool = sorted(tools, key=by_busy)[:top]
    stats.latency_by_path = [paths[row.key] for row in by_path]
    stats.slowest_tools = sorted(tools, key=by_p95)[:top]
    stats.errors_by_tool = sorted((r for r in tools if r.errors), key=by_errors)[:top]
    stats.errors_by_path = [paths[row.key] for row in errors_by_path]


def _errors(con: duckdb.DuckDBPyConnection, stats: Stats, scope: str, top: int) -> None:
    stats.top_errors = [
        ErrorGroup(fingerprint=row["fingerprint"], errors=int(row["errors"]), sessions=int(row["sessions"]),
                   example=row["example"])
        for row in _dicts(con.execute(_scoped(TOP_ERRORS_SQL, scope), {"top": top}))
    ]
    rows = []
    for row in _dicts(con.execute(_scoped(RECOVERY_SQL, scope))):
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


def _repeats(con: duckdb.DuckDBPyConnection, stats: Stats, groups: dict[str, list[dict[str, Any]]], top: int) -> None:
    totals = con.execute(REPEAT_TOTALS_SQL).fetchone()
    if totals is not None:
        stats.repeats, stats.repeats_wasted_cost_usd = int(totals[0]), _float(totals[1])
        stats.repeats_wasted_unpriced = int(totals[2])
    rows = [
        RepeatRow(path=row["key"], repeats=int(row["repeats"]), sessions=int(row["repeat_sessions"]),
                  wasted_cost_usd=_float(row["wasted_cost_usd"]), wasted_unpriced=int(row["wasted_unpriced"]))
        for row in groups.get("path", []) if row["repeats"]
    ]
    stats.repeats_by_path = sorted(
        rows, key=lambda row: (-(row.wasted_cost_usd or 0.0), -row.repeats, row.path)
    )[:top]


def _flags(con: duckdb.DuckDBPyConnection, stats: Stats, rules: StatsRules, scope: str, top: int) -> None:
    limit_pair = rules.limit_property_pair() or ("", "")
    # A property rule that is off matches nothing: no property has an empty key.
    rows = _dicts(con.execute(_scoped(ITERATION_LIMIT_SQL, scope), {
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
    matches: dict[str, list[str]] = {"path": [], "tool": []}
    for dim, key in con.execute(HUMAN_MATCHES_SQL, {"pattern": rules.human_pattern, "unnamed": UNNAMED_TOOL}).fetchall():
        matches[dim].append(key)
    params: dict[str, Any] = {"prop_key": human_pair[0], "prop_value": human_pair[1], "top": top}
    if matches["path"] or matches["tool"]:
        by_span = _scoped(HUMAN_BY_SPAN_SQL, scope)
        params |= {"paths": matches["path"], "tools": matches["tool"]}
    else:  # no path or tool name matches: no span to look for
        by_span = NO_SPAN_SQL
    rows = _dicts(con.execute(HUMAN_SQL.format(by_span=by_span), params))
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
