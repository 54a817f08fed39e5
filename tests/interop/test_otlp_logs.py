"""OTLP log records (issue 19, "OTLP logs"): Claude Code's event stream becomes a session of turns, LLM calls and
tool calls, whatever pieces it arrives in; GenAI events are folded into the span they belong to, whichever comes
first; any other record is kept as a step. Records come from the real OpenTelemetry logs SDK, encoded by its
OTLP encoder (tests/coding_agent_logs.py emits them as Claude Code's own code does)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from coding_agent_logs import (
    CONVERSATION,
    SESSION,
    T0,
    Collected,
    Emitter,
    codex_emitted,
    codex_events,
    emitted,
    export_json,
    session_events,
)
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agenttrace_tui.interop import SourceFormat, convert_file, sniff
from agenttrace_tui.store import Store
from agenttrace_tui.store.write.ingest import expand_inputs, ingest
from interop_helpers import protobuf_dict

RECORDS = emitted(session_events())


def _records(data: bytes) -> list[dict[str, Any]]:
    converted = convert_file(sniff(data), data)
    assert converted.rejects == []
    return [orjson.loads(raw) for _, raw in converted.records]


def _ingest_pieces(tmp_path: Path, pieces: Sequence[bytes], name: str = "pieces") -> Store:
    db = tmp_path / f"{name}.duckdb"
    for index, piece in enumerate(pieces):
        path = tmp_path / f"{name}-{index}.json"
        path.write_bytes(piece + b"\n")
        result = ingest(db, expand_inputs([str(path)])[0])
        assert result.ok, result
    return Store(db)


def _session_view(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    _, sessions = store.sql("SELECT session_id, name, spans, llm_calls, tool_calls, errors, input_tokens, "
                            "output_tokens, round(cost_usd, 6) FROM sessions ORDER BY session_id")
    _, spans = store.sql("SELECT path, kind, name, status, start_time, end_time, model, input_tokens, "
                         "cache_read_tokens, round(cost_usd, 6), error->>'message', input::VARCHAR, properties::VARCHAR "
                         "FROM spans ORDER BY start_time, path, kind")
    return [tuple(row) for row in sessions], [tuple(row) for row in spans]


# -- Claude Code ------------------------------------------------------------------------------------------


def test_a_claude_code_session_is_turns_of_llm_and_tool_calls() -> None:
    data = export_json(RECORDS)
    assert sniff(data) is SourceFormat.OTLP
    records = _records(data)
    assert {r["session_id"] for r in records} == {SESSION}
    assert {r["session_name"] for r in records} == {"Fix the failing test in api"}  # the first prompt
    turns = [r for r in records if r["kind"] == "agent"]
    assert [t["name"] for t in turns] == ["Fix the failing test in api", "prompt"]  # the second one is redacted
    assert turns[0]["input"] == "Fix the failing test in api" and "input" not in turns[1]
    assert {t["path"] for t in turns} == {"/prompt"}
    calls = [r for r in records if r["kind"] == "llm"]
    assert [(c["path"], c.get("status", "ok"), c["parent_id"] == turns[0 if i < 3 else 1]["span_id"])
            for i, c in enumerate(calls)] == [
        ("/prompt/claude-sonnet-4-5", "ok", True), ("/prompt/claude-sonnet-4-5", "error", True),
        ("/prompt/claude-sonnet-4-5", "ok", True), ("/prompt/claude-haiku-4-5", "ok", True)]
    first = calls[0]
    # Anthropic counts cache reads and writes apart from input_tokens: the format's input includes them.
    assert first["usage"] == {"input_tokens": 15812, "output_tokens": 85, "cache_read_tokens": 14000,
                              "cache_write_tokens": 1800}
    assert first["cost_usd"] == 0.0121 and first["model"] == "claude-sonnet-4-5" and first["provider"] == "anthropic"
    assert first["end_time"] - first["start_time"] == 2_900_000_000  # ends at its event, lasted duration_ms
    assert first["properties"] == {"Query-Source": "repl_main_thread", "Speed": "normal", "Request-Id": "req_011"}
    failed = calls[1]
    assert failed["error"] == {"type": "api_error", "message": "Overloaded"} and failed["status_code"] == 529
    assert failed["properties"] == {"Attempt": "1"} and "usage" not in failed
    tools = [r for r in records if r["kind"] == "tool"]
    bash, write = tools
    assert bash["name"] == "Bash" and bash["path"] == "/prompt/Bash" and bash["status"] == "ok"
    assert bash["input"] == {"bash_command": "pytest", "full_command": "pytest -x api"}
    assert bash["properties"] == {"Decision": "accept", "Decision-Source": "config"}
    # The accepted decision joined its result: both records are kept on the one tool span.
    assert [r["event_name"] for r in bash["otel"]["log"]["records"]] == ["claude_code.tool_result",
                                                                         "claude_code.tool_decision"]
    assert write["status"] == "error" and write["error"]["message"] == "tool call reject (user_reject)"
    assert len(records) == 8  # 2 turns, 4 calls, 2 tools: every one of the 9 records is in one of them


def _claude_store(tmp_path: Path, pieces: Sequence[Sequence[ReadableLogRecord]], name: str) -> Any:
    return _session_view(_ingest_pieces(tmp_path, [export_json(list(p)) for p in pieces], name))


@pytest.fixture(scope="module")
def whole_claude(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return _claude_store(tmp_path_factory.mktemp("whole"), [RECORDS], "whole")


def test_the_stored_session_adds_up(whole_claude: Any) -> None:
    sessions, spans = whole_claude
    # 8 spans; 4 calls (one failed) and 2 tools (one rejected); tokens and the cost Claude Code reported.
    assert sessions == [(SESSION, "Fix the failing test in api", 8, 4, 2, 2, 15812 + 15820 + 300, 85 + 40 + 20,
                         round(0.0121 + 0.0062 + 0.0004, 6))]
    first_turn, second_turn = [row for row in spans if row[1] == "agent"]
    last_step = max(row[5] for row in spans if row[4] < second_turn[4] and row[1] != "agent")
    assert first_turn[5] == last_step  # the turn lasts until its last step ended, not the instant of its prompt
    assert (second_turn[5] - second_turn[4]).total_seconds() == 3.5  # until its rejected tool call


def _claude_splits() -> list[Any]:
    """One request per record (as SimpleLogRecordProcessor sends them), the reverse (steps before their
    prompt), and random groupings in random orders."""
    cases = [pytest.param([[r] for r in RECORDS], id="one-per-request"),
             pytest.param([[r] for r in reversed(RECORDS)], id="one-per-request-reversed")]
    for seed in range(3):
        rng = random.Random(seed)
        shuffled = rng.sample(RECORDS, len(RECORDS))
        cuts = sorted(rng.sample(range(1, len(RECORDS)), 2))
        cases.append(pytest.param([shuffled[:cuts[0]], shuffled[cuts[0]:cuts[1]], shuffled[cuts[1]:]],
                                  id=f"three-pieces-seed{seed}"))
    return cases


@pytest.mark.parametrize("pieces", _claude_splits())
def test_a_session_in_pieces_ends_as_the_whole_session(tmp_path: Path, whole_claude: Any,
                                                       pieces: list[list[ReadableLogRecord]]) -> None:
    # Steps before their prompt, a tool's decision apart from its result: the same session in the end.
    assert _claude_store(tmp_path, pieces, "pieces") == whole_claude


def test_claude_code_1_0_without_prompt_ids_groups_steps_by_their_prompt() -> None:
    """v1.0.100 writes no prompt.id (and `use_id`, not `tool_use_id`, on a failed tool): a step belongs to the
    latest prompt before it in the same request."""
    events = session_events(prompt_id=None, second_prompt=None)
    failed_tool = next(e for e in events if e.name == "tool_result")
    failed_tool.fields = {"tool_name": "Bash", "use_id": "toolu_01", "success": "false", "duration_ms": "12",
                          "error": "Exit code 1"}
    records = _records(export_json(emitted(events)))
    turn = next(r for r in records if r["kind"] == "agent")
    assert all(r["parent_id"] == turn["span_id"] for r in records if r is not turn)
    tool = next(r for r in records if r["kind"] == "tool")
    assert tool["status"] == "error" and tool["error"] == {"message": "Exit code 1"}


def test_two_sessions_in_one_request_stay_apart() -> None:
    collected = Collected()
    one, two = Emitter(collected, "session-a"), Emitter(collected, "session-b")
    for event in session_events(second_prompt=None)[:2]:
        one.emit(event)
        two.emit(event)
    one.close()
    two.close()
    records = _records(export_json(collected.records))
    by_session: dict[str, list[str]] = {}
    for record in records:
        by_session.setdefault(record["session_id"], []).append(record["kind"])
    assert by_session == {"session-a": ["agent", "llm"], "session-b": ["agent", "llm"]}
    assert len({r["span_id"] for r in records}) == 4  # the same request id in two sessions: two calls


# -- GenAI events -----------------------------------------------------------------------------------------


def _genai_run() -> tuple[list[ReadableSpan], list[ReadableLogRecord]]:
    """An agent span and a chat span whose messages are GenAI events (the openai-v2 instrumentation's default
    when content capture is on): the span has no content attribute; the events carry it in their bodies."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "weather"}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logs = Collected()
    logger_provider = LoggerProvider(resource=Resource.create({"service.name": "weather"}))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    tracer = tracer_provider.get_tracer("test")
    logger = logger_provider.get_logger("opentelemetry.instrumentation.openai_v2")
    with tracer.start_as_current_span("invoke_agent weather", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "weather", "session.id": "genai-1"}):
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.system": "openai", "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 9}):
            system = {"gen_ai.system": "openai"}
            logger.emit(event_name="gen_ai.system.message", body={"content": "You answer about weather."},
                        attributes=system)
            logger.emit(event_name="gen_ai.user.message", body={"content": "Weather in Paris?"}, attributes=system)
            logger.emit(event_name="gen_ai.choice", attributes=system, body={
                "index": 0, "finish_reason": "tool_calls",
                "message": {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {
                    "name": "get_weather", "arguments": '{"city": "Paris"}'}}]}})
    tracer_provider.shutdown()
    logger_provider.shutdown()
    return list(spans.get_finished_spans()), logs.records


GENAI_SPANS, GENAI_LOGS = _genai_run()


def _chat(store: Store) -> tuple[Any, Any, int, int]:
    _, rows = store.sql("SELECT input, output FROM spans WHERE kind = 'llm'")
    _, counts = store.sql("SELECT (SELECT count(*) FROM spans), (SELECT spans FROM sessions WHERE session_id = "
                          "'genai-1')")
    (span_input, span_output), = rows
    return orjson.loads(span_input), orjson.loads(span_output), counts[0][0], counts[0][1]


def _expected_chat() -> tuple[Any, Any]:
    messages = [{"role": "system", "content": "You answer about weather."},
                {"role": "user", "content": "Weather in Paris?"}]
    choices = [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city": "Paris"}'}}]}}]
    return messages, choices


@pytest.mark.parametrize("order", ["logs-first", "spans-first", "one-file"])
def test_genai_events_are_folded_into_their_span_whatever_comes_first(tmp_path: Path, order: str) -> None:
    spans = orjson.dumps(protobuf_dict(GENAI_SPANS))
    logs = export_json(GENAI_LOGS)
    pieces = {"logs-first": [logs, spans], "spans-first": [spans, logs], "one-file": [spans + b"\n" + logs]}[order]
    store = _ingest_pieces(tmp_path, pieces)
    span_input, span_output, stored, in_session = _chat(store)
    messages, choices = _expected_chat()
    assert span_input["messages"] == messages
    assert span_output == {"choices": choices}
    assert stored == in_session == 2  # the events are the chat's payloads now, not steps of their own


def test_a_span_with_its_own_content_keeps_it(tmp_path: Path) -> None:
    spans = protobuf_dict(GENAI_SPANS)
    chat = next(s for block in spans["resourceSpans"] for scope in block["scopeSpans"] for s in scope["spans"]
                if s["name"].startswith("chat"))
    chat["attributes"].append({"key": "gen_ai.input.messages", "value": {"stringValue": orjson.dumps(
        [{"role": "user", "parts": [{"type": "text", "content": "from the span"}]}]).decode()}})
    store = _ingest_pieces(tmp_path, [export_json(GENAI_LOGS), orjson.dumps(spans)])
    span_input, span_output, stored, _ = _chat(store)
    assert [m["content"] for m in span_input["messages"]] == ["from the span"]
    assert span_output == {"choices": _expected_chat()[1]}  # the span had no output: the events give it
    assert stored == 2


def test_events_whose_span_never_arrives_stay_as_steps(tmp_path: Path) -> None:
    store = _ingest_pieces(tmp_path, [export_json(GENAI_LOGS)])
    _, rows = store.sql("SELECT kind, name, parent_id IS NOT NULL FROM spans ORDER BY start_time, name")
    assert sorted(row[1] for row in rows) == ["gen_ai.choice", "gen_ai.system.message", "gen_ai.user.message"]
    assert all(row[0] == "other" and row[2] for row in rows)


# -- other records and bad ones ---------------------------------------------------------------------------


def _plain_logs() -> bytes:
    logs = Collected()
    provider = LoggerProvider(resource=Resource.create({"service.name": "billing"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    logger = provider.get_logger("billing.app")
    from opentelemetry._logs import SeverityNumber

    logger.emit(body="invoice 42 sent", severity_number=SeverityNumber.INFO, severity_text="INFO",
                timestamp=1_765_000_000_000_000_000)
    logger.emit(body="payment gateway timed out", severity_number=SeverityNumber.ERROR, severity_text="ERROR",
                timestamp=1_765_000_001_000_000_000, attributes={"session.id": "checkout-9"})
    provider.shutdown()
    return export_json(logs.records)


def test_any_other_record_is_kept_as_a_step() -> None:
    records = _records(_plain_logs())
    info, error = records
    assert (info["session_id"], info["name"], info["kind"], info["output"]) == \
        ("billing logs", "invoice 42 sent", "other", "invoice 42 sent")
    assert (error["session_id"], error["status"], error["error"]) == \
        ("checkout-9", "error", {"message": "payment gateway timed out"})
    assert info["otel"]["log"]["records"][0]["severity"] == "INFO"


def test_a_bad_record_is_one_line_naming_what_is_wrong_and_the_rest_is_kept() -> None:
    good, more = export_json(RECORDS[:2]), export_json(RECORDS[2:4])
    bad = orjson.loads(export_json(RECORDS[:1]))
    del bad["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"]
    del bad["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["observedTimeUnixNano"]
    converted = convert_file(SourceFormat.OTLP, good + b"\n" + orjson.dumps(bad) + b"\n" + more)
    assert [(line, reason) for line, reason, _ in converted.rejects] == [
        (2, "not an OTLP logs request: resourceLogs[0].scopeLogs[0].logRecords[0] has neither timeUnixNano nor "
            "observedTimeUnixNano")]
    assert sorted({line for line, _ in converted.records}) == [1, 3]


def test_a_file_of_traces_and_logs_is_one_ingest(tmp_path: Path) -> None:
    data = orjson.dumps(protobuf_dict(GENAI_SPANS)) + b"\n" + _plain_logs() + b"\n" + export_json(RECORDS)
    store = _ingest_pieces(tmp_path, [data])
    _, rows = store.sql("SELECT session_id, spans FROM sessions ORDER BY session_id")
    assert [tuple(r) for r in rows] == [(SESSION, 8), ("billing logs", 1), ("checkout-9", 1), ("genai-1", 2)]


def test_stable_ids_make_a_resent_request_one_copy(tmp_path: Path) -> None:
    data = export_json(RECORDS)
    store = _ingest_pieces(tmp_path, [data, data])
    _, rows = store.sql("SELECT count(*) FROM spans")
    assert rows[0][0] == 8



# -- Codex CLI --------------------------------------------------------------------------------------------

CODEX = codex_emitted(codex_events())


def test_a_codex_conversation_is_a_session_of_calls_and_tools() -> None:
    records = _records(export_json(CODEX))
    assert {r["session_id"] for r in records} == {CONVERSATION}
    assert {r["session_name"] for r in records} == {"add a test for the parser"}  # its first prompt
    root = next(r for r in records if r["kind"] == "agent")
    assert root["path"] == "/codex" and root["properties"]["Sandbox-Policy"] == "workspace-write"
    assert all(r["parent_id"] == root["span_id"] for r in records if r is not root)
    failed, call = [r for r in records if r["kind"] == "llm"]
    assert (failed["status"], failed["status_code"], failed["error"]["message"]) == ("error", 429, "rate limited")
    # The request and its response's usage are one call: from the request's start to the completion.
    assert call["start_time"] == T0 + 2_400_000_000 - 1_100_000_000 and call["end_time"] == T0 + 6_000_000_000
    assert call["usage"] == {"input_tokens": 5200, "output_tokens": 310, "cache_read_tokens": 4096,
                             "reasoning_tokens": 128}
    assert call["model"] == "gpt-5-codex" and call["properties"]["Stream-Events"] == 2
    shell, patch = [r for r in records if r["kind"] == "tool"]
    assert shell["input"] == {"command": ["pytest", "-q"]} and shell["output"] == "3 passed"
    assert shell["properties"] == {"Decision": "approved", "Decision-Source": "config"}
    assert (patch["status"], patch["error"]["message"], "input" in patch) == ("error", "patch did not apply", False)
    assert len(records) == 6  # every one of the 9 records is in one of them


def test_codex_in_one_request_per_record_counts_each_call_once(tmp_path: Path) -> None:
    """A response's usage sent apart from its request: the call is the usage (zero length, its duration unknown)
    and the request a step of its own, never two calls."""
    whole = _ingest_pieces(tmp_path, [export_json(CODEX)], "whole")
    pieces = _ingest_pieces(tmp_path, [export_json([r]) for r in CODEX], "pieces")
    query = "SELECT spans, llm_calls, tool_calls, errors, input_tokens, output_tokens, cost_usd FROM sessions"
    (whole_row,), (pieces_row,) = whole.sql(query)[1], pieces.sql(query)[1]
    assert pieces_row[1:] == whole_row[1:]
    assert pieces_row[0] > whole_row[0]  # the request, the stream's events and the decision are steps of their own


def test_times_out_of_range_reject_their_line_not_the_file() -> None:
    """A time past 9999 (or a number no duration can be) is the line's error: the lines around it are kept."""
    good, more = export_json(RECORDS[:2]), export_json(RECORDS[2:4])
    late = orjson.loads(export_json(RECORDS[:1]))
    late["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] = 1e308
    span_line = orjson.dumps(protobuf_dict(GENAI_SPANS[:1]))
    late_span = protobuf_dict(GENAI_SPANS[1:2])
    late_span["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"] = "9" * 40
    converted = convert_file(SourceFormat.OTLP, b"\n".join([good, orjson.dumps(late), more, span_line,
                                                              orjson.dumps(late_span)]) + b"\n")
    reasons = {line: reason for line, reason, _ in converted.rejects}
    assert set(reasons) == {2, 5}
    assert reasons[2].endswith("logRecords[0].timeUnixNano 10000000000000000109... (309 digits) is outside 1970..9999")
    assert reasons[5].endswith("spans[0].startTimeUnixNano 99999999999999999999... (40 digits) is outside 1970..9999")
    assert sorted({line for line, _ in converted.records}) == [1, 3, 4]


def test_impossible_numbers_are_read_as_absent() -> None:
    events = session_events(second_prompt=None)
    for event in events:
        if event.name == "api_request":
            event.fields.update(duration_ms="1e308", input_tokens="NaN", cost_usd="-1")
    calls = [r for r in _records(export_json(emitted(events))) if r["kind"] == "llm" and "error" not in r]
    assert calls and all(c["start_time"] == c["end_time"] for c in calls)  # no duration: a call of zero length
    assert all("cost_usd" not in c and "input_tokens" not in (c.get("usage") or {}) for c in calls)


def test_events_of_one_call_in_two_batches_are_all_kept(tmp_path: Path) -> None:
    """A logs batch that ends inside a call: its first messages, then the rest, then the span; the messages
    folded first are followed by the later ones, in the order they were emitted."""
    first, rest = export_json(GENAI_LOGS[:1]), export_json(GENAI_LOGS[1:])
    store = _ingest_pieces(tmp_path, [first, orjson.dumps(protobuf_dict(GENAI_SPANS)), rest])
    span_input, span_output, stored, in_session = _chat(store)
    messages, choices = _expected_chat()
    assert span_input["messages"] == messages and span_output == {"choices": choices}
    assert stored == in_session == 2


def test_logs_in_pieces_on_each_backend(new_store: Callable[[], Store], tmp_path: Path, whole_claude: Any) -> None:
    """A team store (DuckLake on PostgreSQL, in the slow run) settles turns, folded decisions and GenAI events as
    a file store does."""
    store = new_store()
    for index, record in enumerate(reversed(RECORDS)):  # steps before their prompt, one request each
        path = tmp_path / f"claude-{index}.json"
        path.write_bytes(export_json([record]) + b"\n")
        assert store.ingest([str(path)]).ok
    assert _session_view(store) == whole_claude
    store = new_store()
    for index, piece in enumerate([export_json(GENAI_LOGS[:1]), orjson.dumps(protobuf_dict(GENAI_SPANS)),
                                   export_json(GENAI_LOGS[1:])]):
        path = tmp_path / f"genai-{index}.json"
        path.write_bytes(piece + b"\n")
        assert store.ingest([str(path)]).ok
    span_input, span_output, stored, _ = _chat(store)
    assert (span_input["messages"], span_output["choices"], stored) == (*_expected_chat(), 2)
