"""The pieces of an OpenTelemetry trace placed together, whatever the order they arrive in.

An exporter sends a trace in batches (every 5 s by default; one request per span with SimpleSpanProcessor), and
children end, so arrive, before their parents. The importer (interop/otlp.py) places a span from its batch alone:
a child without its parent is a top span of the trace-id session. So after every ingest, each trace the file
touched is placed again from everything the store holds of it, with what the importer noted per span
(`extra.otel.assembly`): the session is the one named nearest the root (by the attribute that ranks first, as
the importer picks it), else the trace id; its name is the one a span gives, else the agent nearest the root,
else the first top span's; a path is the span's own path attribute, else its parent's path and its name; the
agent a span works for is the nearest agent span above it (format.AGENT_PROPERTIES, as the importer sets them).
Sessions left empty, and the ones the spans moved to, are rolled up again (their ids join `touched_sessions`).

Then what the importer settles within one batch is settled across them: a call recorded twice (an LLM span around
an LLM span of the same call) counts once, a Logfire stream's request span and its log are one call, and spans
made from log records are settled (store/write/log_events.py).
"""

from __future__ import annotations

from typing import Final

import duckdb

from agenttrace_tui.format import AGENT_PROPERTIES, REQUEST_MODEL_PROPERTY
from agenttrace_tui.store.write.log_events import run_when_found, settle_log_spans

_TRACES: Final = """
CREATE OR REPLACE TEMP TABLE assembled_traces AS
SELECT DISTINCT trace_id FROM file_spans WHERE trace_id IS NOT NULL
"""

_MEMBERS: Final = """
CREATE OR REPLACE TEMP TABLE trace_members AS
WITH m AS (
    SELECT span_id, trace_id, parent_id, session_id, session_name, path, properties, extra, start_time,
           extra->'$.otel'->'assembly' AS a,
           -- the name a person reads: Logfire's rendered message before its template (as the importer names it)
           coalesce(json_extract_string(extra, '$.otel.attributes."logfire.msg"'), extra->'$.otel'->>'name') AS otel_name
    FROM span_data
    WHERE trace_id IN (SELECT trace_id FROM assembled_traces)
)
SELECT span_id, trace_id, parent_id, session_id, session_name, path, properties, extra, start_time, otel_name,
       a->>'path' AS own_path,
       -- A span stored before the importer noted these keeps the last part of the path it had.
       coalesce(a->>'segment', regexp_extract(path, '[^/]*$')) AS segment,
       a->>'agent' AS agent,
       coalesce(TRY_CAST(a->>'own_agent_properties' AS BOOLEAN), true) AS own_agent_properties,
       TRY_CAST(a->'session'->>0 AS INTEGER) AS session_rank, a->'session'->>1 AS session_value,
       TRY_CAST(a->'session_name'->>0 AS INTEGER) AS name_rank, a->'session_name'->>1 AS name_value
FROM m
"""

_TREE: Final = """
CREATE OR REPLACE TEMP TABLE trace_tree AS
WITH RECURSIVE tree(span_id, trace_id, depth, path, agent, parent_agent) AS (
    -- Top spans: roots, and spans whose parent has not arrived (yet).
    SELECT m.span_id, m.trace_id, 1, coalesce(m.own_path, '/' || m.segment), m.agent, NULL::VARCHAR
    FROM trace_members m
    WHERE m.parent_id IS NULL
       OR NOT EXISTS (SELECT 1 FROM trace_members p WHERE p.trace_id = m.trace_id AND p.span_id = m.parent_id)
    UNION ALL
    SELECT c.span_id, c.trace_id, t.depth + 1, coalesce(c.own_path, rtrim(t.path, '/') || '/' || c.segment),
           coalesce(c.agent, t.agent),
           CASE WHEN c.agent IS NULL OR c.agent = t.agent THEN t.parent_agent ELSE t.agent END
    FROM trace_members c JOIN tree t ON c.trace_id = t.trace_id AND c.parent_id = t.span_id
)
SELECT * FROM tree
"""
"""Spans in a parent cycle are not reached from a top span: they keep what they had."""

_SESSIONS: Final = """
CREATE OR REPLACE TEMP TABLE trace_sessions AS
SELECT m.trace_id,
       arg_min(m.session_value, [m.session_rank, coalesce(t.depth, 1000000000), epoch_us(m.start_time)])
           FILTER (WHERE m.session_value IS NOT NULL) AS named,
       arg_min(m.name_value, [m.name_rank, coalesce(t.depth, 1000000000), epoch_us(m.start_time)])
           FILTER (WHERE m.name_value IS NOT NULL) AS name,
       arg_min(m.agent, [coalesce(t.depth, 1000000000), epoch_us(m.start_time)]) FILTER (WHERE m.agent IS NOT NULL)
           AS top_agent,
       arg_min(m.otel_name, [coalesce(t.depth, 1000000000), epoch_us(m.start_time)]) AS first_top_name
FROM trace_members m LEFT JOIN trace_tree t USING (span_id)
GROUP BY m.trace_id
"""

_ASSEMBLED: Final = """
CREATE OR REPLACE TEMP TABLE assembled_spans AS
SELECT * FROM (
    SELECT m.span_id, m.session_id AS previous_session_id,
           coalesce(s.named, m.trace_id) AS session_id,
           coalesce(s.name, s.top_agent, nullif(s.first_top_name, '')) AS session_name,
           coalesce(t.path, m.path) AS path,
           CASE WHEN m.own_agent_properties OR t.span_id IS NULL THEN m.properties
                ELSE nullif(json_merge_patch(coalesce(m.properties, '{}'),
                                             json_object('{AGENT}', t.agent, '{PARENT_AGENT}', t.parent_agent)),
                            '{}') END AS properties,
           -- A parent that arrived: the span is no longer an orphan.
           CASE WHEN json_exists(m.extra, '$.orphan_of')
                     AND EXISTS (SELECT 1 FROM trace_members p WHERE p.trace_id = m.trace_id AND p.span_id = m.parent_id)
                THEN json_merge_patch(m.extra, '{"orphan_of": null}') ELSE m.extra END AS extra,
           m.session_name AS previous_session_name, m.path AS previous_path, m.properties AS previous_properties,
           m.extra AS previous_extra
    FROM trace_members m JOIN trace_sessions s USING (trace_id) LEFT JOIN trace_tree t USING (span_id)
)
WHERE session_id IS DISTINCT FROM previous_session_id OR session_name IS DISTINCT FROM previous_session_name
   OR path IS DISTINCT FROM previous_path OR properties::VARCHAR IS DISTINCT FROM previous_properties::VARCHAR
   OR extra::VARCHAR IS DISTINCT FROM previous_extra::VARCHAR
""".replace("{AGENT}", AGENT_PROPERTIES[0]).replace("{PARENT_AGENT}", AGENT_PROPERTIES[1])

_APPLY: Final = """
INSERT INTO touched_sessions
SELECT previous_session_id FROM assembled_spans UNION SELECT session_id FROM assembled_spans
EXCEPT SELECT session_id FROM touched_sessions;
UPDATE span_data AS d
SET session_id = a.session_id, session_name = a.session_name, path = a.path, properties = a.properties,
    extra = a.extra
FROM assembled_spans a
WHERE d.span_id = a.span_id;
"""


_NESTED_CALLS: Final = """
CREATE OR REPLACE TEMP TABLE nested_calls AS
WITH calls AS (
    SELECT span_id, trace_id, parent_id, session_id,
           json_extract_string(extra, '$.otel.attributes."gen_ai.response.id"') AS response_id
    FROM span_data
    WHERE trace_id IN (SELECT trace_id FROM assembled_traces) AND kind = 'llm'
)
SELECT DISTINCT p.span_id, p.session_id
FROM calls p JOIN calls c ON c.trace_id = p.trace_id AND c.parent_id = p.span_id
WHERE p.response_id IS NULL OR c.response_id IS NULL OR p.response_id = c.response_id
"""
"""LLM spans around an LLM span of the same call (the same `gen_ai.response.id`, or none on either): a framework's
span around the client library's, both instrumented (OpenLLMetry's Agents SDK and OpenAI instrumentations). The
importer counts such a call once when both spans come in one batch (interop/otlp.py, _count_nested_calls_once);
this does the same when they came apart: the wrapper is kept as `other`, without usage or cost."""

_UNCOUNT_NESTED: Final = """
INSERT INTO touched_sessions
SELECT session_id FROM nested_calls EXCEPT SELECT session_id FROM touched_sessions;
UPDATE span_data SET kind = 'other', input_tokens = NULL, output_tokens = NULL, cache_read_tokens = NULL,
                     cache_write_tokens = NULL, reasoning_tokens = NULL, cost_reported = NULL, cost_computed = NULL
WHERE span_id IN (SELECT span_id FROM nested_calls);
"""


_STREAM_LOGS: Final = """
CREATE OR REPLACE TEMP TABLE stream_logs AS
WITH calls AS (
    SELECT span_id, trace_id, parent_id, start_time, extra,
           json_extract_string(extra, '$.otel.attributes."logfire.span_type"') AS span_type,
           json_extract_string(extra, '$.otel.attributes."logfire.msg_template"') AS template,
           json_extract(extra, '$.otel.attributes.request_data')::VARCHAR AS request_data, input_tokens
    FROM span_data
    WHERE trace_id IN (SELECT trace_id FROM assembled_traces) AND kind = 'llm'
),
logs AS (SELECT * FROM calls WHERE span_type = 'log' AND starts_with(template, 'streaming response')),
requests AS (SELECT * FROM calls WHERE span_type = 'span' AND request_data IS NOT NULL AND input_tokens IS NULL
                                   AND NOT json_exists(extra, '$.otel.stream_log'))
SELECT l.span_id AS log_id, arg_max(r.span_id, r.start_time) AS request_id
FROM logs l JOIN requests r ON r.trace_id = l.trace_id AND r.parent_id IS NOT DISTINCT FROM l.parent_id
                           AND r.start_time <= l.start_time AND r.request_data = l.request_data
GROUP BY l.span_id
"""
"""Logfire's streamed calls whose two spans came apart (one request per span; a batch boundary between the
stream's start and its end): the request span (`Chat Completion with ...`, no usage) and the log written when
the stream ended (`streaming response from ... took ...`: output, usage). The importer merges them within a batch
(interop/otlp.py, _logfire_streams); this pairs a log with the latest request before it under the same parent
with the same request_data."""

_MERGE_STREAMS: Final = """
INSERT INTO touched_sessions
SELECT d.session_id FROM span_data d JOIN stream_logs s ON d.span_id IN (s.log_id, s.request_id)
EXCEPT SELECT session_id FROM touched_sessions;
UPDATE span_data AS r
SET output = coalesce(l.output, r.output), model = coalesce(l.model, r.model),
    provider = coalesce(l.provider, r.provider),
    input_tokens = l.input_tokens, output_tokens = l.output_tokens, cache_read_tokens = l.cache_read_tokens,
    cache_write_tokens = l.cache_write_tokens, reasoning_tokens = l.reasoning_tokens,
    cost_reported = l.cost_reported, cost_computed = l.cost_computed,
    end_time = CASE WHEN r.end_time IS NULL OR l.start_time > r.end_time THEN l.start_time ELSE r.end_time END,
    duration_ms = NULL,
    -- the model asked for stays beside the response's, as the importer keeps it
    properties = CASE WHEN l.model IS NOT NULL AND r.model IS NOT NULL AND l.model <> r.model
                      THEN json_merge_patch(coalesce(r.properties, '{}'), json_object('{REQUEST_MODEL}', r.model))
                      ELSE r.properties END,
    extra = json_merge_patch(r.extra, json_object('otel', json_object('stream_log', l.extra->'$.otel')))
FROM stream_logs s JOIN span_data l ON l.span_id = s.log_id
WHERE r.span_id = s.request_id;
DELETE FROM span_data WHERE span_id IN (SELECT log_id FROM stream_logs);
""".replace("{REQUEST_MODEL}", REQUEST_MODEL_PROPERTY)


def assemble_traces(con: duckdb.DuckDBPyConnection) -> None:
    """Place again every span of the traces this file's spans (`file_spans`) belong to. Runs inside the file's
    transaction, before its sessions are rolled up."""
    con.execute(_TRACES)
    traces = con.execute("SELECT count(*) FROM assembled_traces").fetchone()
    if not traces or not traces[0]:
        return  # no OpenTelemetry span in the file: nothing read of the store
    con.execute(_MEMBERS)
    con.execute(_TREE)
    con.execute(_SESSIONS)
    run_when_found(con, _ASSEMBLED, "assembled_spans", _APPLY)
    run_when_found(con, _NESTED_CALLS, "nested_calls", _UNCOUNT_NESTED)
    run_when_found(con, _STREAM_LOGS, "stream_logs", _MERGE_STREAMS)
    settle_log_spans(con)  # spans made from log records: GenAI events folded into their spans, turns extended
