"""Spans made from OpenTelemetry log records (interop/otlp_logs.py), settled once their trace is assembled.

- **GenAI events** (`extra.otel.log.fold`): a record for one message of an LLM call, a child of its span. Once
  the span is in the store (before or after its events: an SDK exports logs and spans apart), its events are
  folded into it: input messages in the order they were emitted become its `input` (`{"messages": [...]}`),
  choices its `output` (`{"choices": [...]}`), util-genai's operation details its whole input and output. A span
  that has its own input or output keeps it (its events said the same); events that arrive after others of the
  same call (a logs batch that ended inside it) are appended to the ones folded before. A coding agent's decision to run a tool
  that arrived apart from the tool's result folds the same way, into the tool span's properties. The folded events are removed: they are
  the span's payloads now. Events whose span never arrives stay, as zero-length steps of the trace.
- **Turns** of a coding agent (`extra.otel.assembly.extends`): a prompt's span ends when its last step does,
  however many requests its steps came in.

Runs in trace_assembly.assemble_traces, on the traces the file touched (`trace_members`); sessions it changes
join `touched_sessions`.
"""

from __future__ import annotations

from typing import Final

import duckdb

from agenttrace_tui.store.backend.session_groups import input_hash_sql

_EVENTS: Final = """
CREATE OR REPLACE TEMP TABLE log_event_spans AS
SELECT d.span_id, d.trace_id, d.parent_id, d.session_id, d.start_time, d.input, d.output, d.properties,
       m.extra->'$.otel'->'log'->>'fold' AS fold, TRY_CAST(m.extra->'$.otel'->'log'->>'seq' AS BIGINT) AS seq
FROM trace_members m JOIN span_data d USING (span_id)
WHERE m.parent_id IS NOT NULL AND json_exists(m.extra, '$.otel.log.fold')
"""

_FOLDED: Final = """
CREATE OR REPLACE TEMP TABLE folded_spans AS
SELECT p.span_id, p.session_id,
       to_json(list(e.input ORDER BY e.start_time, e.seq) FILTER (WHERE e.fold = 'message' AND e.input IS NOT NULL))
           AS messages,
       to_json(list(e.output ORDER BY e.start_time, e.seq) FILTER (WHERE e.fold = 'choice' AND e.output IS NOT NULL))
           AS choices,
       arg_min(e.properties, e.start_time) FILTER (WHERE e.fold = 'properties' AND e.properties IS NOT NULL)
           AS properties,
       arg_min(e.input, e.start_time) FILTER (WHERE e.fold = 'whole' AND e.input IS NOT NULL) AS whole_input,
       arg_min(e.output, e.start_time) FILTER (WHERE e.fold = 'whole' AND e.output IS NOT NULL) AS whole_output,
       list(e.span_id) AS events, list(DISTINCT e.session_id) AS event_sessions
FROM log_event_spans e JOIN span_data p ON p.span_id = e.parent_id AND p.trace_id = e.trace_id
WHERE NOT json_exists(p.extra, '$.otel.log.fold')
GROUP BY p.span_id, p.session_id
"""

_FOLD: Final = f"""
INSERT INTO touched_sessions
SELECT session_id FROM folded_spans UNION SELECT unnest(event_sessions) FROM folded_spans
EXCEPT SELECT session_id FROM touched_sessions;
CREATE OR REPLACE TEMP TABLE folded_payloads AS
SELECT d.span_id,
       -- input: the span's own, else its events'; events of a span whose input came from earlier events (a logs
       -- batch that ended inside the call) are appended to them
       CASE WHEN d.input IS NULL
                 THEN coalesce(f.whole_input, CASE WHEN f.messages IS NOT NULL THEN json_object('messages', f.messages) END)
            WHEN d.folded_input AND f.messages IS NOT NULL
                 THEN json_object('messages', to_json(list_concat(from_json(d.input->'$.messages', '["JSON"]'),
                                                                  from_json(f.messages, '["JSON"]'))))
            ELSE d.input END AS input,
       CASE WHEN d.output IS NULL
                 THEN coalesce(f.whole_output, CASE WHEN f.choices IS NOT NULL THEN json_object('choices', f.choices) END)
            WHEN d.folded_output AND f.choices IS NOT NULL
                 THEN json_object('choices', to_json(list_concat(from_json(d.output->'$.choices', '["JSON"]'),
                                                                 from_json(f.choices, '["JSON"]'))))
            ELSE d.output END AS output,
       d.folded_input OR (d.input IS NULL AND (f.whole_input IS NOT NULL OR f.messages IS NOT NULL)) AS folded_input,
       d.folded_output OR (d.output IS NULL AND (f.whole_output IS NOT NULL OR f.choices IS NOT NULL)) AS folded_output,
       -- the span's own properties win over the ones its event adds
       CASE WHEN f.properties IS NULL THEN d.properties
            ELSE json_merge_patch(f.properties, coalesce(d.properties, '{{}}')) END AS properties
FROM (SELECT span_id, input, output, properties,
             coalesce(TRY_CAST(extra->'$.otel.folded'->>'input' AS BOOLEAN), false) AS folded_input,
             coalesce(TRY_CAST(extra->'$.otel.folded'->>'output' AS BOOLEAN), false) AS folded_output
      FROM span_data WHERE span_id IN (SELECT span_id FROM folded_spans)) d
JOIN folded_spans f USING (span_id);
UPDATE span_data AS d
SET input = p.input, output = p.output, properties = p.properties,
    input_hash = CASE WHEN p.folded_input THEN {input_hash_sql("p.input")} ELSE d.input_hash END,
    -- which payloads came from events: later events of the same call are appended to those, never to the span's own
    extra = CASE WHEN p.folded_input OR p.folded_output
                 THEN json_merge_patch(d.extra, json_object('otel', json_object('folded', json_object(
                          'input', p.folded_input, 'output', p.folded_output))))
                 ELSE d.extra END
FROM folded_payloads p
WHERE d.span_id = p.span_id;
DELETE FROM span_data WHERE span_id IN (SELECT unnest(events) FROM folded_spans);
"""

_EXTENDED: Final = """
CREATE OR REPLACE TEMP TABLE extended_spans AS
SELECT p.span_id, p.session_id, max(coalesce(c.end_time, c.start_time)) AS end_time
FROM span_data p JOIN span_data c ON c.trace_id = p.trace_id AND c.parent_id = p.span_id
WHERE p.span_id IN (SELECT span_id FROM trace_members
                    WHERE TRY_CAST(extra->'$.otel'->'assembly'->>'extends' AS BOOLEAN))
GROUP BY p.span_id, p.session_id, p.start_time, p.end_time
HAVING max(coalesce(c.end_time, c.start_time)) > coalesce(p.end_time, p.start_time)
"""

_EXTEND: Final = """
INSERT INTO touched_sessions
SELECT session_id FROM extended_spans EXCEPT SELECT session_id FROM touched_sessions;
UPDATE span_data AS d SET end_time = e.end_time, duration_ms = NULL
FROM extended_spans e WHERE d.span_id = e.span_id;
"""


def run_when_found(con: duckdb.DuckDBPyConnection, build: str, table: str, apply: str) -> bool:
    """Build `table`, then run `apply` only when it has rows: most ingests have nothing for it to change, and an
    UPDATE that matches nothing still costs a pass (on a DuckLake store, a commit's worth of work)."""
    con.execute(build)
    found = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    if not found or not found[0]:
        return False
    con.execute(apply)
    return True


def settle_log_spans(con: duckdb.DuckDBPyConnection) -> None:
    """Fold GenAI events into their spans and extend turns, in the traces of `assembled_traces`."""
    con.execute(_EVENTS)
    events = con.execute("SELECT count(*) FROM log_event_spans").fetchone()
    if events and events[0]:
        run_when_found(con, _FOLDED, "folded_spans", _FOLD)
    run_when_found(con, _EXTENDED, "extended_spans", _EXTEND)
