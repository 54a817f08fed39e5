"""The store's version-1 schema, as agenttrace_tui/store/backend/schema.py had it at commit e9b7176 (the last version 1):
a version-1 store built with it is upgraded in place by the current code (tests/store/test_stats_rollups.py)."""

from __future__ import annotations

from typing import Final

V1_TABLES: Final = """
-- No PRIMARY KEY: DuckLake has no constraints; the one writer of a key deletes it first.
CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR);

-- One row per span: fields as recorded, merged across lines and files (later non-null wins).
CREATE TABLE IF NOT EXISTS span_data (
    span_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    session_name VARCHAR,
    path VARCHAR,
    parent_id VARCHAR,
    kind VARCHAR,
    name VARCHAR,
    start_time TIMESTAMP NOT NULL,
    end_time TIMESTAMP,
    duration_ms DOUBLE,
    first_token_ms DOUBLE,
    status VARCHAR,
    status_code INTEGER,
    error JSON,
    model VARCHAR,
    provider VARCHAR,
    input_tokens BIGINT,
    output_tokens BIGINT,
    cache_read_tokens BIGINT,
    cache_write_tokens BIGINT,
    reasoning_tokens BIGINT,
    cost_reported DOUBLE,
    cost_computed DOUBLE,
    properties JSON,
    user_id VARCHAR,
    input JSON{payload_compression},
    output JSON{payload_compression},
    extra JSON,
    source_file VARCHAR,
    source_line BIGINT,
    ingested_at TIMESTAMP
);

-- `type: "session"` records, merged the same way.
CREATE TABLE IF NOT EXISTS session_records (
    session_id VARCHAR NOT NULL,
    name VARCHAR,
    properties JSON,
    user_id VARCHAR,
    tags JSON,
    extra JSON,
    source_file VARCHAR,
    source_line BIGINT
);

-- Per-session rollups, recomputed for the sessions an ingest touches, so lists never scan spans.
CREATE TABLE IF NOT EXISTS session_stats (
    session_id VARCHAR NOT NULL,
    name VARCHAR,
    names VARCHAR[],
    start_time TIMESTAMP,
    end_time TIMESTAMP,
    duration_ms DOUBLE,
    spans BIGINT,
    llm_calls BIGINT,
    tool_calls BIGINT,
    errors BIGINT,
    error_rate DOUBLE,
    in_progress BIGINT,
    input_tokens BIGINT,
    output_tokens BIGINT,
    cache_read_tokens BIGINT,
    reasoning_tokens BIGINT,
    cost_usd DOUBLE,
    unpriced BIGINT,
    models VARCHAR[],
    tools VARCHAR[],
    user_ids VARCHAR[],
    properties JSON
);

-- Distinct (session, property, value) triples: property filters and A/B splits without JSON scans.
CREATE TABLE IF NOT EXISTS session_properties (session_id VARCHAR, key VARCHAR, value VARCHAR);

-- Lines that failed validation, kept verbatim with where they came from and why.
CREATE TABLE IF NOT EXISTS rejects (
    file VARCHAR,
    line BIGINT,
    reason VARCHAR,
    raw VARCHAR,
    rejected_at TIMESTAMP
);

-- Files already ingested: an unchanged file (same path, size and mtime) is skipped on re-ingest.
CREATE TABLE IF NOT EXISTS ingested_files (
    path VARCHAR,
    size BIGINT,
    mtime_ns BIGINT,
    lines BIGINT,
    stored BIGINT,
    rejected BIGINT,
    ingested_at TIMESTAMP
);
"""
"""`{payload_compression}` as in version 1: '' (the backend's default) or ' USING COMPRESSION zstd'."""

V1_VIEWS: Final = """
CREATE OR REPLACE VIEW spans AS
SELECT
    span_id,
    session_id,
    session_name,
    coalesce(path, '/') AS path,
    parent_id,
    coalesce(kind, CASE WHEN model IS NOT NULL THEN 'llm' ELSE 'other' END) AS kind,
    name,
    start_time,
    coalesce(end_time, start_time + to_microseconds(CAST(duration_ms * 1000 AS BIGINT))) AS end_time,
    coalesce((epoch_us(end_time) - epoch_us(start_time)) / 1000.0, duration_ms) AS duration_ms,  -- end_time wins
    end_time IS NULL AND duration_ms IS NULL AS in_progress,
    first_token_ms,
    coalesce(status, CASE WHEN error IS NOT NULL OR status_code >= 400 OR status_code < 0
                          THEN 'error' ELSE 'ok' END) AS status,
    status_code,
    error,
    coalesce(error->>'$.type', CASE WHEN status_code = -1 THEN 'timeout'
                                    WHEN status_code = -3 THEN 'cancelled'
                                    WHEN status_code >= 400 THEN 'http_' || status_code END) AS error_type,
    coalesce(CASE WHEN json_type(error) = 'VARCHAR' THEN error->>'$' END, error->>'$.message') AS error_message,
    model,
    provider,
    input_tokens,
    output_tokens,
    cache_read_tokens,
    cache_write_tokens,
    reasoning_tokens,
    coalesce(cost_reported, cost_computed) AS cost_usd,
    CASE WHEN cost_reported IS NOT NULL THEN 'reported'
         WHEN cost_computed IS NOT NULL THEN 'computed'
         WHEN model IS NOT NULL AND (coalesce(input_tokens, 0) + coalesce(output_tokens, 0)) > 0 THEN 'unpriced'
    END AS cost_source,
    properties,
    user_id,
    input,
    output,
    extra,
    source_file,
    source_line
FROM span_data;

CREATE OR REPLACE VIEW sessions AS
SELECT
    s.session_id,
    coalesce(r.name, s.name) AS name,
    len(list_distinct(list_concat(s.names, CASE WHEN r.name IS NULL THEN [] ELSE [r.name] END))) > 1
        AS name_conflict,
    list_distinct(list_concat(s.names, CASE WHEN r.name IS NULL THEN [] ELSE [r.name] END)) AS names,
    s.start_time,
    s.end_time,
    s.duration_ms,
    s.spans,
    s.llm_calls,
    s.tool_calls,
    s.errors,
    s.error_rate,
    s.in_progress,
    s.input_tokens,
    s.output_tokens,
    s.cache_read_tokens,
    s.reasoning_tokens,
    s.cost_usd,
    s.unpriced,
    s.models,
    s.tools,
    list_distinct(list_concat(s.user_ids, CASE WHEN r.user_id IS NULL THEN [] ELSE [r.user_id] END)) AS user_ids,
    CASE WHEN r.properties IS NULL THEN s.properties
         ELSE json_merge_patch(coalesce(s.properties, '{}'), r.properties) END AS properties,
    r.tags
FROM session_stats s
LEFT JOIN session_records r USING (session_id);
"""
