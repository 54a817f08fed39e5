"""The store's schema: tables, the documented views, and versioned upgrades.

Base tables keep what records said (merged, later non-null wins); the `spans` view applies the format's
defaults (kind, status, path, end time) so that a later line can still change a derived value.
"""

from __future__ import annotations

import re
from typing import Final

import duckdb

from agenttrace_tui.store.backend.connection import rollback_quietly
from agenttrace_tui.store.backend.session_groups import (
    GROUPS_COLUMNS,
    GROUPS_ROLLUP_SQL,
    INPUT_HASH_PROBE,
    REHASH_INPUTS_SQL,
)
from agenttrace_tui.store.backend.session_stats import ROLLUP_SQL
from agenttrace_tui.store.errors import StoreError

SCHEMA_VERSION: Final = 5
"""Bump with an entry in MIGRATIONS; a store newer than this is refused, never guessed at."""

TABLES: Final = """
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
    ingested_at TIMESTAMP,
    input_hash UBIGINT,  -- session_groups.input_hash_sql of `input` (version 2 added it)
    trace_id VARCHAR  -- an OpenTelemetry span's trace, whose pieces are placed together (version 5 added it)
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

-- Per (session, model | provider | tool | path prefix | path) figures that `agenttrace stats` sums over the
-- sessions it selects (store/backend/session_groups.py), recomputed with session_stats.
CREATE TABLE IF NOT EXISTS session_groups ({groups_columns});

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

VIEWS: Final = """
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
    -- Within format.MAX_TIME however lines merged (each line's start + duration was checked on its own).
    -- (least and greatest skip NULLs in DuckDB: hence the CASE.)
    coalesce(end_time, CASE WHEN duration_ms IS NOT NULL
                            THEN least(start_time + to_microseconds(CAST(duration_ms * 1000 AS BIGINT)),
                                       make_timestamp(253402300799999999)) END) AS end_time,
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
         -- A call of a model is unpriced when its cost is unknown: no price for its tokens, or no tokens (a call
         -- that reported no usage is not free; one that failed, a 429 or a 500, is taken as unbilled: $0,
         -- merge_sql._cost_computed). Zeros reported are a cost of $0.
         WHEN model IS NOT NULL AND ((coalesce(input_tokens, 0) + coalesce(output_tokens, 0)) > 0
                                     OR (coalesce(kind, 'llm') = 'llm' AND input_tokens IS NULL
                                         AND output_tokens IS NULL AND cache_read_tokens IS NULL
                                         AND cache_write_tokens IS NULL
                                         AND coalesce(status, CASE WHEN error IS NOT NULL OR status_code >= 400
                                                                     OR status_code < 0 THEN 'error' END, 'ok') = 'ok'))
              THEN 'unpriced'
    END AS cost_source,
    properties,
    user_id,
    input,
    output,
    extra,
    source_file,
    source_line,
    input_hash,
    trace_id
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

VIEW_NAMES: Final = ("spans", "sessions", "rejects", "session_properties")
"""What `agenttrace sql` documents and users may query."""

MIGRATIONS: Final[dict[int, str]] = {
    # 2: every span's input hash (session_groups.input_hash_sql), and the session_groups table, filled by
    # REBUILT_ROLLUPS once the views are in place. Written out, not imported: a later version's changes to
    # those must not change what this step does.
    1: """
UPDATE span_data SET input_hash = md5_number_lower(CAST(input AS VARCHAR)) WHERE input IS NOT NULL;
CREATE TABLE session_groups (
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
);
""",
    # 3: input hashes are DuckDB's hash(), no longer md5: ensure_schema hashes every input again (the probe
    # in `meta` is missing). The version changes so that an agenttrace writing md5 refuses the store.
    2: "SELECT 1;",
    # 4: values beyond the ranges a store holds (format.py: times 1970..9999 UTC, durations, token counts),
    # stored by earlier versions, are brought within them so that every reader can read them back: times
    # clamped, durations and token counts capped. The rollups are clamped alike. Literals, not format.py's
    # names: a later change of the bounds must not change what this step does.
    3: """
UPDATE span_data SET
    start_time = least(greatest(start_time, TIMESTAMP '1970-01-01'), make_timestamp(253402300799999999)),
    end_time = CASE WHEN end_time IS NOT NULL
                    THEN least(greatest(end_time, TIMESTAMP '1970-01-01'), make_timestamp(253402300799999999)) END,
    duration_ms = CASE WHEN duration_ms IS NOT NULL THEN least(duration_ms, 253402300799999) END,
    first_token_ms = CASE WHEN first_token_ms IS NOT NULL THEN least(first_token_ms, 253402300799999) END,
    input_tokens = CASE WHEN input_tokens IS NOT NULL THEN least(input_tokens, 1000000000000) END,
    output_tokens = CASE WHEN output_tokens IS NOT NULL THEN least(output_tokens, 1000000000000) END,
    cache_read_tokens = CASE WHEN cache_read_tokens IS NOT NULL THEN least(cache_read_tokens, 1000000000000) END,
    cache_write_tokens = CASE WHEN cache_write_tokens IS NOT NULL THEN least(cache_write_tokens, 1000000000000) END,
    reasoning_tokens = CASE WHEN reasoning_tokens IS NOT NULL THEN least(reasoning_tokens, 1000000000000) END
WHERE start_time NOT BETWEEN TIMESTAMP '1970-01-01' AND make_timestamp(253402300799999999)
   OR end_time NOT BETWEEN TIMESTAMP '1970-01-01' AND make_timestamp(253402300799999999)
   OR duration_ms > 253402300799999 OR first_token_ms > 253402300799999
   OR input_tokens > 1000000000000 OR output_tokens > 1000000000000 OR cache_read_tokens > 1000000000000
   OR cache_write_tokens > 1000000000000 OR reasoning_tokens > 1000000000000;
UPDATE session_stats SET
    start_time = least(greatest(start_time, TIMESTAMP '1970-01-01'), make_timestamp(253402300799999999)),
    end_time = least(greatest(end_time, TIMESTAMP '1970-01-01'), make_timestamp(253402300799999999))
WHERE start_time NOT BETWEEN TIMESTAMP '1970-01-01' AND make_timestamp(253402300799999999)
   OR end_time NOT BETWEEN TIMESTAMP '1970-01-01' AND make_timestamp(253402300799999999);
UPDATE session_stats SET duration_ms = (epoch_us(end_time) - epoch_us(start_time)) / 1000.0
WHERE duration_ms > 253402300799999;
""",
    # 5: a call of a model with no token counts was costed $0; its cost is unknown (unpriced). Its sessions are
    # rolled up again (REBUILT_ROLLUPS) once the views count it so. And an OpenTelemetry span's trace id is a
    # column, so that the pieces of a trace are found when another arrives (store/write/trace_assembly.py).
    4: """
UPDATE span_data SET trace_id = extra->'$.otel'->>'trace_id'
WHERE extra IS NOT NULL AND json_exists(extra, '$.otel.trace_id');
CREATE OR REPLACE TEMP TABLE touched_sessions AS
SELECT DISTINCT session_id FROM span_data
WHERE cost_computed IS NOT NULL AND input_tokens IS NULL AND output_tokens IS NULL
  AND cache_read_tokens IS NULL AND cache_write_tokens IS NULL
  AND coalesce(status, CASE WHEN error IS NOT NULL OR status_code >= 400 OR status_code < 0 THEN 'error' END,
               'ok') = 'ok';
UPDATE span_data SET cost_computed = NULL
WHERE cost_computed IS NOT NULL AND input_tokens IS NULL AND output_tokens IS NULL
  AND cache_read_tokens IS NULL AND cache_write_tokens IS NULL
  AND coalesce(status, CASE WHEN error IS NOT NULL OR status_code >= 400 OR status_code < 0 THEN 'error' END,
               'ok') = 'ok';
""",
}
"""from_version → SQL that upgrades a store to from_version + 1: tables and columns only (the views of this
version are created after every step has run)."""

COLUMNS_ADDED: Final[dict[int, str]] = {
    1: "ALTER TABLE span_data ADD COLUMN input_hash UBIGINT;",
    # IF NOT EXISTS: a store a test aged (its version number lowered) has it.
    4: "ALTER TABLE span_data ADD COLUMN IF NOT EXISTS trace_id VARCHAR;",
}
"""from_version → the columns that step adds, all added before any step's MIGRATIONS run: DuckDB cannot commit
a transaction that alters a table after updating it ("another transaction has altered this table")."""

REBUILT_ROLLUPS: Final[dict[int, str]] = {
    2: "CREATE OR REPLACE TEMP TABLE touched_sessions AS SELECT DISTINCT session_id FROM span_data;\n"
       + GROUPS_ROLLUP_SQL,
    # The sessions step 4 touched (all of them, after step 2's rollup on an older store).
    5: ROLLUP_SQL,
}
"""version → the rollups that version added or changed, computed for every session when a store older than it is
upgraded (after the upgrade's views exist: rollups read the `spans` view)."""


def _payload_compression(con: duckdb.DuckDBPyConnection) -> str:
    """ZSTD for prompts and outputs where the store's format has it (a file store created by agenttrace):
    measured on 176 MB of payloads, the insert takes 0.8 s instead of 1.0 s (FSST) and the file is 47 MB
    instead of 63 MB. Elsewhere (an older file, a team store's Parquet) the backend's default."""
    row = con.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    version = str(row[0]) if row and row[0] else ""
    match = re.match(r"v(\d+)\.(\d+)", version)
    if match and (int(match[1]), int(match[2])) >= (1, 2):
        return " USING COMPRESSION zstd"
    return ""


def store_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version written in a store, or None for a new (empty) file."""
    has_meta = con.execute(
        # This database only: a DuckDB instance attached to a team store sees other catalogs too.
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta' "
        "AND table_catalog = current_database() AND table_schema = current_schema()"
    ).fetchone()
    if not has_meta or has_meta[0] == 0:
        return None
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def ensure_schema(con: duckdb.DuckDBPyConnection, backend_tables: str = "") -> None:
    """Create a new store, upgrade an older one in place, or refuse a newer one. `backend_tables`: a
    backend's own tables (the team store's write token), created with the rest."""
    version = store_version(con)
    if version is not None and version > SCHEMA_VERSION:
        raise StoreError(
            f"this store was written by a newer agenttrace (schema {version}, this version reads up to "
            f"{SCHEMA_VERSION}); upgrade agenttrace"
        )
    con.execute("BEGIN TRANSACTION")
    try:
        upgraded_from = version
        if version is None:
            con.execute(TABLES.replace("{payload_compression}", _payload_compression(con))
                        .replace("{groups_columns}", GROUPS_COLUMNS))
        else:
            for step in range(version, SCHEMA_VERSION):
                if step in COLUMNS_ADDED:
                    con.execute(COLUMNS_ADDED[step])
            while version < SCHEMA_VERSION:
                con.execute(MIGRATIONS[version])
                version += 1
        if backend_tables:
            con.execute(backend_tables)
        con.execute(VIEWS)
        if upgraded_from is not None:
            for changed in sorted(v for v in REBUILT_ROLLUPS if v > upgraded_from):
                con.execute(REBUILT_ROLLUPS[changed])
            if not input_hashes_current(con):
                # Equal inputs stay equal: the repeats already rolled up keep holding.
                con.execute(REHASH_INPUTS_SQL)
        record_input_hash_probe(con)
        # DELETE + INSERT rather than INSERT OR REPLACE: the same SQL on both backends (DuckLake has no keys).
        con.execute("DELETE FROM meta WHERE key = 'schema_version'")
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        con.execute("COMMIT")
    except BaseException:
        rollback_quietly(con)
        raise


def needs_setup(con: duckdb.DuckDBPyConnection) -> bool:
    """A writer must create, upgrade or rehash the store first (or be refused, for a newer store)."""
    return store_version(con) != SCHEMA_VERSION or not input_hashes_current(con)


def record_input_hash_probe(con: duckdb.DuckDBPyConnection) -> None:
    """Note in `meta` that the store's input hashes are this DuckDB's (DELETE + INSERT, as for the version)."""
    con.execute("DELETE FROM meta WHERE key = 'input_hash_probe'")
    con.execute(f"INSERT INTO meta SELECT 'input_hash_probe', {INPUT_HASH_PROBE}")


def input_hashes_current(con: duckdb.DuckDBPyConnection) -> bool:
    """The store's input hashes are this DuckDB's (session_groups.input_hash_sql)."""
    row = con.execute(
        f"SELECT count(*) FROM meta WHERE key = 'input_hash_probe' AND value = {INPUT_HASH_PROBE}"
    ).fetchone()
    return bool(row and row[0])
