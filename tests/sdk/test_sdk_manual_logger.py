"""ManualLogger: Helicone's manual-logger call shape, written as local spans."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sdk_helpers import HELICONE_KEY, assert_no_secrets, merged_spans, read_lines, validate

from agenttrace_tui import ManualLogger, Tracer
from agenttrace_tui.sdk import ResultRecorder


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    return tmp_path / "manual.jsonl"


@pytest.fixture
def logger(trace_file: Path) -> ManualLogger:
    return ManualLogger(
        api_key=HELICONE_KEY,
        headers={"Helicone-Auth": f"Bearer {HELICONE_KEY}", "Helicone-Property-App": "support"},
        logging_endpoint="https://api.worker.helicone.ai",
        tracer=Tracer(trace_file),
    )


def spans_of(trace_file: Path) -> list[dict[str, Any]]:
    records = read_lines(trace_file)
    validate(records)
    assert_no_secrets(trace_file)
    return list(merged_spans(records).values())


def test_tool_request_becomes_a_tool_span(logger: ManualLogger, trace_file: Path) -> None:
    def operation(recorder: ResultRecorder) -> str:
        assert recorder.request["input"] == {"location": "SF"}
        recorder.append_results({"temp": 72})
        recorder.append_results({"condition": "sunny"})  # appended results merge, as in Helicone
        return "returned to caller"

    result = logger.log_request(
        request={"_type": "tool", "toolName": "fetch_weather", "input": {"location": "SF"}},
        operation=operation,
        additional_headers={
            "Helicone-Session-Id": "sess-1",
            "Helicone-Session-Name": "Weather",
            "Helicone-Session-Path": "/tools/fetch_weather",
            "Helicone-Property-App": "overridden",
            "Helicone-Property-Tool-Category": "external-api",
            "Helicone-User-Id": "u-1",
        },
    )
    assert result == "returned to caller"
    [span] = spans_of(trace_file)
    assert span["kind"] == "tool" and span["name"] == "fetch_weather"
    assert span["input"] == {"location": "SF"}
    assert span["output"] == {"temp": 72, "condition": "sunny"}
    assert span["session_id"] == "sess-1" and span["session_name"] == "Weather"
    assert span["path"] == "/tools/fetch_weather" and span["user_id"] == "u-1"
    assert span["properties"] == {"App": "overridden", "Tool-Category": "external-api"}
    assert span["status"] == "ok"


@pytest.mark.parametrize(
    ("request_body", "kind", "name"),
    [
        ({"_type": "vector_db", "operation": "search", "text": "q", "topK": 3, "databaseName": "pinecone"},
         "retrieval", "search"),
        ({"_type": "data", "name": "load_customer", "meta": {"id": 7}}, "other", "load_customer"),
        ({"model": "claude-sonnet-4", "messages": [{"role": "user", "content": "hi"}]}, "llm", "claude-sonnet-4"),
    ],
)
def test_request_types_map_to_kinds(
    logger: ManualLogger, trace_file: Path, request_body: dict[str, Any], kind: str, name: str
) -> None:
    logger.log_request(request_body, lambda recorder: recorder.append_results({"ok": True}),
                       {"Helicone-Session-Id": "s"})
    [span] = spans_of(trace_file)
    assert (span["kind"], span["name"]) == (kind, name)
    assert span["input"] == request_body
    assert span["output"] == {"ok": True}


def test_llm_results_carry_usage_and_reported_cost(logger: ManualLogger, trace_file: Path) -> None:
    def call_model(recorder: ResultRecorder) -> None:
        recorder.append_results({
            "model": "claude-sonnet-4-20250514",
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 5, "cost": 0.0012},
        })

    logger.log_request({"model": "claude-sonnet-4", "messages": []}, call_model, provider="anthropic")
    [span] = spans_of(trace_file)
    assert span["provider"] == "anthropic" and span["model"] == "claude-sonnet-4-20250514"
    assert span["usage"] == {"input_tokens": 100, "output_tokens": 5, "cache_read_tokens": 90}
    assert span["cost_usd"] == 0.0012


def test_exception_in_operation_is_recorded_and_reraised(logger: ManualLogger, trace_file: Path) -> None:
    def broken(recorder: ResultRecorder) -> None:
        recorder.append_results({"partial": 1})
        raise ConnectionError("database unreachable")

    with pytest.raises(ConnectionError):
        logger.log_request({"_type": "tool", "toolName": "search_database", "input": {}}, broken)
    [span] = spans_of(trace_file)
    assert span["status"] == "error"
    assert span["error"]["type"] == "ConnectionError" and span["error"]["message"] == "database unreachable"


def test_session_falls_back_to_current_then_new(logger: ManualLogger, trace_file: Path) -> None:
    tracer = logger.tracer
    request = {"_type": "tool", "toolName": "t", "input": {}}
    with tracer.session(name="current", properties={"Agent-Version": "v3"}) as session:
        with session.span("/agent", kind="agent") as agent:
            logger.log_request(request, lambda recorder: None)
    logger.log_request(request, lambda recorder: None)
    spans = spans_of(trace_file)
    tool_in_session, orphan = spans[1], spans[2]
    assert tool_in_session["session_id"] == session.session_id
    assert tool_in_session["parent_id"] == agent.span_id
    assert tool_in_session["properties"] == {"Agent-Version": "v3", "App": "support"}
    assert orphan["session_id"] not in (session.session_id, None)


async def test_async_operation_is_awaited_inside_the_span(logger: ManualLogger, trace_file: Path) -> None:
    async def slow_tool(recorder: ResultRecorder) -> int:
        await asyncio.sleep(0.05)
        recorder.append_results({"rows": 3})
        return 3

    result = await logger.log_request({"_type": "tool", "toolName": "slow", "input": {}}, slow_tool,
                                      {"Helicone-Session-Id": "a"})
    assert result == 3
    [span] = spans_of(trace_file)
    assert span["output"] == {"rows": 3} and span["duration_ms"] >= 45


def test_send_log_records_finished_work_with_its_times(logger: ManualLogger, trace_file: Path) -> None:
    logger.send_log(
        "openai",
        {"model": "gpt-4o", "messages": []},
        {"model": "gpt-4o-2024-08-06", "usage": {"prompt_tokens": 7, "completion_tokens": 3}},
        {"start_time": 1718000000.25, "end_time": 1718000001.5, "time_to_first_token_ms": 300,
         "additional_headers": {"Helicone-Session-Id": "direct"}},
    )
    [span] = spans_of(trace_file)
    assert span["start_time"] == "2024-06-10T06:13:20.250000Z"
    assert span["end_time"] == "2024-06-10T06:13:21.500000Z"
    assert span["duration_ms"] == 1250.0 and span["first_token_ms"] == 300
    assert span["usage"] == {"input_tokens": 7, "output_tokens": 3}
    assert span["session_id"] == "direct" and span["provider"] == "openai"


def test_default_tracer_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.jsonl"
    monkeypatch.setenv("AGENTTRACE_FILE", str(path))
    ManualLogger(api_key=HELICONE_KEY, headers={}).log_request(
        {"_type": "tool", "toolName": "x", "input": {}}, lambda recorder: None, {"Helicone-Session-Id": "e"}
    )
    assert [r["session_id"] for r in read_lines(path)] == ["e", "e"]
