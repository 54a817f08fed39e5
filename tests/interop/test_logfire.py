"""Logfire (issue 19, findings 4 and 5). instrument_openai: a streamed call is one LLM call, not two (the request
span and the log Logfire writes when the stream ends are merged), and spans are named by their rendered message,
not their template. instrument_openai_agents: tools are tools with their arguments and result, an LLM's tool
calls are its output, a failed tool says why, and the run's group_id is the session. The spans come from the real
logfire and openai-agents packages (tests/interop/logfire_agent.py, logfire_agents_sdk_agent.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from agenttrace_tui.interop import SourceFormat, convert_file
from agenttrace_tui.store import Store
from agenttrace_tui.store.write.ingest import expand_inputs, ingest

AGENT = Path(__file__).with_name("logfire_agent.py")


@pytest.fixture(scope="module")
def otlp_lines() -> bytes:
    run = subprocess.run([sys.executable, str(AGENT)], capture_output=True, check=False, timeout=300)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    return run.stdout


def _records(lines: bytes) -> list[dict[str, Any]]:
    converted = convert_file(SourceFormat.OTLP, lines)
    assert converted.rejects == []
    return [orjson.loads(raw) for _, raw in converted.records]


def test_a_streamed_call_is_one_call_with_the_streams_output_and_usage(otlp_lines: bytes) -> None:
    assert len(otlp_lines.splitlines()) == 4  # request, stream log, plain call, agent span
    records = _records(otlp_lines)
    calls = [r for r in records if r["kind"] == "llm"]
    assert [c["name"] for c in calls] == ["Chat Completion with 'gpt-4o-mini'"] * 2
    streamed, plain = sorted(calls, key=lambda c: c["start_time"])
    assert streamed["usage"] == {"input_tokens": 21, "output_tokens": 4}
    assert streamed["model"] == "gpt-4o-mini-2024-07-18"  # the response's, from the log
    assert streamed["properties"] == plain["properties"] == {"Request-Model": "gpt-4o-mini"}  # and the one asked for
    assert streamed["output"]["choices"][0]["message"]["content"] == "Sunny, 18 C"
    log = streamed["otel"]["stream_log"]
    assert log["attributes"]["logfire.span_type"] == "log"
    # The call lasted until the stream ended (the log's time), not until the stream opened (the request span's end).
    spans = [s for line in otlp_lines.splitlines() for s in orjson.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]]
    request = min((s for s in spans if s["name"].startswith("Chat Completion")), key=lambda s: int(s["startTimeUnixNano"]))
    request_end = int(request["endTimeUnixNano"])
    stream_end = int(next(s for s in spans if s["name"].startswith("streaming response"))["startTimeUnixNano"])
    assert request_end < stream_end and streamed["end_time"] == stream_end
    assert plain["usage"] == {"input_tokens": 5, "output_tokens": 1} and "stream_log" not in plain["otel"]
    agent = next(r for r in records if r["kind"] != "llm")
    assert agent["name"] == "agent run weather" and agent["path"] == "/agent run {name}"


def test_the_session_counts_two_calls(otlp_lines: bytes, tmp_path: Path) -> None:
    trace = tmp_path / "logfire.jsonl"
    trace.write_bytes(otlp_lines)
    assert ingest(tmp_path / "store.duckdb", expand_inputs([str(trace)])[0]).ok
    _, rows = Store(tmp_path / "store.duckdb").sql("SELECT llm_calls, input_tokens, output_tokens FROM sessions")
    assert rows == [(2, 26, 5)]


AGENTS_SDK = Path(__file__).with_name("logfire_agents_sdk_agent.py")


def _agents_sdk_records(*args: str) -> list[dict[str, Any]]:
    run = subprocess.run([sys.executable, str(AGENTS_SDK), *args], capture_output=True, check=False, timeout=300)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    return _records(run.stdout)


def test_the_agents_sdk_run_is_one_session_of_calls_and_tools() -> None:
    records = _agents_sdk_records()
    assert {r["session_id"] for r in records} == {"conv-42"}  # the RunConfig's group_id
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for record in sorted(records, key=lambda r: r["start_time"]):
        by_kind.setdefault(record["kind"], []).append(record)
    (tool,) = by_kind["tool"]
    assert (tool["name"], tool["input"], tool["output"]) == ("get_weather", {"city": "Paris"}, "Sunny in Paris")
    first, second = by_kind["llm"]
    (call,) = first["output"]["choices"][0]["message"]["tool_calls"]
    assert call["id"] == "call_1" and call["function"]["name"] == "get_weather"
    assert second["output"]["choices"][0]["message"]["content"] == "It is sunny in Paris."
    assert "Agent run: 'weather-agent'" in [a["name"] for a in by_kind["agent"]]
    assert first["properties"]["Agent-Name"] == tool["properties"]["Agent-Name"] == "weather-agent"
    assert any(r["name"] == "OpenAI Agents trace: Weather workflow" for r in records)


def test_a_failed_tool_says_why() -> None:
    (tool,) = [r for r in _agents_sdk_records("fail") if r["kind"] == "tool"]
    assert tool["status"] == "error" and tool["input"] == {"city": "Nowhere"}
    assert tool["error"]["message"].startswith("Error running tool (non-fatal): Tool execution failed")
