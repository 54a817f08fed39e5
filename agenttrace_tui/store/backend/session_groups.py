"""The `session_groups` rollup: each session's figures per model, provider, tool, path prefix and path.

`agenttrace stats` (and the explorer's dashboard) sum these rows over the sessions a filter selects instead of
reading every span: a session is selected whole, so what a session contributes to a key never depends on the
filter and can be computed once, when an ingest touches the session (merge_sql.ROLLUP_SQL), as `session_stats`
is. Per (session, dim, key), with the keys of docs/analytics.md:

- every dim: `spans`, `errors`, `cost_usd` (NULL when nothing of the group has a price), `unpriced`;
- `tool` and `path`: `max_ms` (longest finished span) and `busy_us`, the union of the group's span intervals in
  whole microseconds (overlapping calls count once, idle gaps not at all);
- `path`: `recovered` (errors a later span of the session recovered, see GROUPS_ROLLUP_SQL), and `repeats`,
  `wasted_cost_usd`, `wasted_unpriced` (spans whose input equals an earlier span's at the same path).

Percentiles are not additive: the stats read them from the spans' durations (narrow columns, one pass).
"""

from __future__ import annotations

from typing import Final

from agenttrace_tui.format import NO_MODEL, NO_PROVIDER, UNNAMED_TOOL
from agenttrace_tui.store.sql_parts import BUSY_US, covered_until

PATH_PREFIX_SQL: Final = "'/' || split_part(ltrim(path, '/'), '/', 1)"
"""The first path segment: /iteration/3 → /iteration; / stays /."""

GROUPS_COLUMNS: Final = """
    session_id VARCHAR NOT NULL,
    dim VARCHAR,
    key VARCHAR,
    spans BIGINT,
    errors BIGINT,
    cost_usd DOUBLE,
    unpriced BIGINT,
    max_ms DOUBLE,
    busy_us BIGINT,
    recovered BIGINT,
    repeats BIGINT,
    wasted_cost_usd DOUBLE,
    wasted_unpriced BIGINT
"""
"""The table's columns (schema.TABLES and the version-2 upgrade create it from this)."""


def input_hash_sql(column: str) -> str:
    """A 64-bit fingerprint of an input's JSON text, stored with each span so repeats compare integers.

    DuckDB's hash(): a quarter of md5's cost (~0.15 s of a 250 MB file's ingest). It is not stable across DuckDB
    releases (duckdb#17596), and a store outlives them: the store records INPUT_HASH_PROBE, and a writer that
    computes it differently hashes every input again first (schema.ensure_schema), so a later ingest into the
    same session fingerprints inputs the same way. 64 bits: two different inputs at one path of one session
    collide with odds ~ k²/2⁶⁵ for k such spans. NULL without an input (hash() of NULL is a number)."""
    return f"CASE WHEN {column} IS NOT NULL THEN hash(CAST({column} AS VARCHAR)) END"


INPUT_HASH_PROBE: Final = f"CAST({input_hash_sql(chr(39) + 'agenttrace input hash probe' + chr(39))} AS VARCHAR)"
"""An SQL expression: the fingerprint of a fixed text, as this DuckDB computes it (kept in `meta`)."""

REHASH_INPUTS_SQL: Final = f"UPDATE span_data SET input_hash = {input_hash_sql('input')} WHERE input IS NOT NULL"


GROUPS_ROLLUP_SQL: Final = f"""
DELETE FROM session_groups WHERE session_id IN (SELECT session_id FROM touched_sessions);
INSERT INTO session_groups BY NAME
WITH s AS (
    SELECT span_id, session_id, path, kind, name, model, provider, status, cost_usd, cost_source, duration_ms,
           input_hash, epoch_us(start_time) AS start_us, epoch_us(coalesce(end_time, start_time)) AS end_us
    FROM spans WHERE session_id IN (SELECT session_id FROM touched_sessions)
), timed AS (
    SELECT session_id, 'path' AS dim, path AS key, status, cost_usd, cost_source, duration_ms, start_us, end_us
    FROM s
    UNION ALL
    SELECT session_id, 'tool', coalesce(name, '{UNNAMED_TOOL}'), status, cost_usd, cost_source, duration_ms,
           start_us, end_us
    FROM s WHERE kind = 'tool'
), covered AS (
    -- Busy time in one pass: in start order, each span adds the part of it that ends after every earlier span
    -- of its group (the order of spans that start together doesn't change the sum).
    SELECT *, {covered_until("session_id, dim, key", "start_us")}
    FROM timed
), failed AS (
    SELECT session_id, path, kind, name, start_us FROM s WHERE status = 'error'
), ok_at AS (  -- the latest start of a successful span at each path of a session that had errors
    SELECT session_id, path, max(start_us) AS latest FROM s
    WHERE status <> 'error' AND session_id IN (SELECT session_id FROM failed) GROUP BY ALL
), below AS (  -- each successful path → itself and those of its prefixes (up to a '/') where something failed
    SELECT path, node FROM (
        SELECT path, unnest(list_concat([path], list_transform(
                   list_filter(range(0, length(path)), i -> substr(path, i + 1, 1) = '/'), i -> left(path, i))))
                   AS node
        FROM (SELECT DISTINCT path FROM ok_at))
    WHERE node IN (SELECT path FROM failed)
), ok_below AS (  -- the latest successful start at or below each failing path
    SELECT o.session_id, b.node AS path, max(o.latest) AS latest FROM ok_at o JOIN below b USING (path) GROUP BY ALL
), ok_tool AS (
    SELECT session_id, name, max(start_us) AS latest FROM s
    WHERE status <> 'error' AND kind = 'tool' AND session_id IN (SELECT session_id FROM failed) GROUP BY ALL
), recovered AS (
    SELECT e.session_id, 'path' AS dim, e.path AS key,
           count(*) FILTER (WHERE coalesce(b.latest > e.start_us, false)
                                  OR coalesce(e.kind = 'tool' AND t.latest > e.start_us, false)) AS recovered
    FROM failed e
    LEFT JOIN ok_below b ON b.session_id = e.session_id AND b.path = e.path
    LEFT JOIN ok_tool t ON t.session_id = e.session_id AND t.name = e.name
    GROUP BY ALL
), same_input AS (  -- inputs seen more than once at a path of a session: usually none, so no window over all
    SELECT session_id, path, input_hash FROM s WHERE input_hash IS NOT NULL GROUP BY ALL HAVING count(*) > 1
), repeated AS (
    SELECT session_id, 'path' AS dim, path AS key, count(*) AS repeats, sum(cost_usd) AS wasted_cost_usd,
           count(*) FILTER (WHERE cost_source = 'unpriced') AS wasted_unpriced
    FROM (SELECT s.session_id, s.path, s.cost_usd, s.cost_source,
                 row_number() OVER (PARTITION BY s.session_id, s.path, s.input_hash ORDER BY s.start_us, s.span_id)
                     AS n
          FROM s JOIN same_input USING (session_id, path, input_hash))
    WHERE n > 1 GROUP BY ALL
), timed_groups AS (
    SELECT session_id, dim, key, count(*) AS spans, count(*) FILTER (WHERE status = 'error') AS errors,
           sum(cost_usd) AS cost_usd, count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced,
           max(duration_ms) AS max_ms,
           {BUSY_US} AS busy_us
    FROM covered GROUP BY ALL
), cost_groups AS (
    SELECT session_id, dim, key, count(*) AS spans, count(*) FILTER (WHERE status = 'error') AS errors,
           sum(cost_usd) AS cost_usd, count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced
    FROM (SELECT session_id, 'model' AS dim, coalesce(model, '{NO_MODEL}') AS key, status, cost_usd, cost_source
          FROM s WHERE kind = 'llm'
          UNION ALL
          SELECT session_id, 'provider', coalesce(provider, '{NO_PROVIDER}'), status, cost_usd, cost_source
          FROM s WHERE kind = 'llm'
          UNION ALL
          SELECT session_id, 'path_prefix', {PATH_PREFIX_SQL}, status, cost_usd, cost_source FROM s)
    GROUP BY ALL
)
SELECT g.*, CAST(coalesce(r.recovered, 0) AS BIGINT) AS recovered, CAST(coalesce(p.repeats, 0) AS BIGINT) AS repeats,
       p.wasted_cost_usd, CAST(coalesce(p.wasted_unpriced, 0) AS BIGINT) AS wasted_unpriced
FROM timed_groups g
LEFT JOIN recovered r ON r.session_id = g.session_id AND r.dim = g.dim AND r.key = g.key
LEFT JOIN repeated p ON p.session_id = g.session_id AND p.dim = g.dim AND p.key = g.key
UNION ALL BY NAME
SELECT * FROM cost_groups;
"""
"""Recompute the groups of every session in `touched_sessions`.

Recovery: an error is recovered when a later span (a later start) of the same session succeeds at
the same path or below it (a fallback at /iteration/0/fallback recovers /iteration/0) or, for a tool call, is a
successful call of the same tool; linear in spans (the latest successful start per path, rolled up to its
prefixes, and per tool, joined to each error)."""
