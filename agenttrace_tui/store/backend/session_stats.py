"""The rollups of a session, recomputed for the sessions in `touched_sessions` whenever something of theirs changes:
by an ingest (store/write), a reprice, a copy, or a schema upgrade that changed what they count (schema.py)."""

from __future__ import annotations

from typing import Final

from agenttrace_tui.store.backend.session_groups import GROUPS_ROLLUP_SQL

ROLLUP_SQL: Final = """
DELETE FROM session_properties WHERE session_id IN (SELECT session_id FROM touched_sessions);
INSERT INTO session_properties
SELECT DISTINCT session_id, key, properties->>('/' || replace(replace(key, '~', '~0'), '/', '~1')) AS value
FROM (
    SELECT session_id, properties, unnest(json_keys(properties)) AS key
    FROM (
        -- A session's spans mostly repeat one properties object: each distinct one is read once.
        SELECT DISTINCT session_id, properties::VARCHAR AS properties
        FROM (
            -- A property may sit on the spans, or only on the session record: both select the session.
            SELECT session_id, properties FROM span_data
            UNION ALL SELECT session_id, properties FROM session_records
        )
        WHERE session_id IN (SELECT session_id FROM touched_sessions) AND properties IS NOT NULL
    )
);

DELETE FROM session_stats WHERE session_id IN (SELECT session_id FROM touched_sessions);
INSERT INTO session_stats
WITH props AS (
    SELECT session_id,
           -- Keys in order, so equal stores print equal properties (json_group_object's order is arbitrary).
           to_json(map_from_entries(list({'k': key, 'v': CASE WHEN len(vals) = 1 THEN to_json(vals[1])
                                                              ELSE to_json(vals) END} ORDER BY key)))
               AS properties
    FROM (SELECT session_id, key, list_sort(list(DISTINCT value)) AS vals
          FROM session_properties
          WHERE session_id IN (SELECT session_id FROM touched_sessions)
          GROUP BY session_id, key)
    GROUP BY session_id
)
SELECT
    s.session_id,
    arg_min(s.session_name, s.start_time) FILTER (WHERE s.session_name IS NOT NULL) AS name,
    coalesce(list_sort(list(DISTINCT s.session_name) FILTER (WHERE s.session_name IS NOT NULL)), []) AS names,
    min(s.start_time) AS start_time,
    max(coalesce(s.end_time, s.start_time)) AS end_time,
    (epoch_us(max(coalesce(s.end_time, s.start_time))) - epoch_us(min(s.start_time))) / 1000.0 AS duration_ms,
    count(*) AS spans,
    count(*) FILTER (WHERE s.kind = 'llm') AS llm_calls,
    count(*) FILTER (WHERE s.kind = 'tool') AS tool_calls,
    count(*) FILTER (WHERE s.status = 'error') AS errors,
    count(*) FILTER (WHERE s.status = 'error') / count(*) AS error_rate,
    count(*) FILTER (WHERE s.in_progress) AS in_progress,
    -- Saturated at 2^63-1 (the BIGINT column) rather than failing: format.MAX_TOKENS keeps it out of reach.
    least(coalesce(sum(s.input_tokens), 0), 9223372036854775807) AS input_tokens,
    least(coalesce(sum(s.output_tokens), 0), 9223372036854775807) AS output_tokens,
    least(coalesce(sum(s.cache_read_tokens), 0), 9223372036854775807) AS cache_read_tokens,
    least(coalesce(sum(s.reasoning_tokens), 0), 9223372036854775807) AS reasoning_tokens,
    coalesce(sum(s.cost_usd), 0) AS cost_usd,
    count(*) FILTER (WHERE s.cost_source = 'unpriced') AS unpriced,
    coalesce(list_sort(list(DISTINCT s.model) FILTER (WHERE s.model IS NOT NULL)), []) AS models,
    coalesce(list_sort(list(DISTINCT s.name) FILTER (WHERE s.kind = 'tool' AND s.name IS NOT NULL)), [])
        AS tools,
    coalesce(list_sort(list(DISTINCT s.user_id) FILTER (WHERE s.user_id IS NOT NULL)), []) AS user_ids,
    any_value(p.properties) AS properties
FROM spans s
LEFT JOIN props p USING (session_id)
WHERE s.session_id IN (SELECT session_id FROM touched_sessions)
GROUP BY s.session_id;
""" + GROUPS_ROLLUP_SQL
"""Recompute the rollups of every session this ingest touched (and only those): session_properties,
session_stats and session_groups (store/backend/session_groups.py)."""
