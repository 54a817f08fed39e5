"""OpenLLMetry (issue 19): traceloop-sdk 0.62.4 with its OpenAI instrumentation (opentelemetry-instrumentation-openai
0.62.4), `@workflow` and `@tool`, the session an association property. Three runs of
tests/interop/traceloop_agent.py: a tool run, a streamed call, a rate-limited call the app retries. Found here:
the decorators write their input and output as JSON text even for a string (`"\\"Sunny in Paris\\""`), which was
kept quoted; and a workflow span is `weather.workflow`, whose agent (and session name) is its entity, `weather`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from agent_runs import (
    MODEL,
    RATE_LIMITED,
    RESPONSE_MODEL,
    collected,
    converted,
    ingested,
    run_script,
    sessions_of,
    tool_links,
)

AGENT = Path(__file__).with_name("traceloop_agent.py")


@pytest.fixture(scope="module")
def otlp_lines() -> bytes:
    return run_script(AGENT)


@pytest.fixture(scope="module")
def sessions(otlp_lines: bytes) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return sessions_of(converted(otlp_lines))


def test_three_runs_are_three_sessions_of_a_workflow(sessions: dict[str, Any]) -> None:
    # traceloop.association.properties.session_id: set inside the workflow, so on the spans started after it
    # (the workflow span gets it too: set on the current span as well).
    assert set(sessions) == {"sess-tool", "sess-stream", "sess-retry"}
    for run, session in sessions.items():
        (workflow,) = session["agent"]  # traceloop.span.kind workflow
        assert (workflow["name"], workflow["path"], workflow["session_name"]) == ("weather.workflow",
                                                                                   "/weather.workflow", "weather")
        assert workflow["input"] == {"args": [{"tool": "Weather in Paris?", "stream": "Weather in Rome?",
                                               "retry": "Weather in Oslo?"}[run.removeprefix("sess-")]], "kwargs": {}}
        for record in session["llm"] + session.get("tool", []):
            assert record["parent_id"] == workflow["span_id"] and record["properties"]["Agent-Name"] == "weather"
            assert record["path"] in ("/weather.workflow/openai.chat", "/weather.workflow/get_weather.tool")


def test_the_tool_run(sessions: dict[str, Any]) -> None:
    run = sessions["sess-tool"]
    asks, answers = run["llm"]
    (tool,) = run["tool"]
    (workflow,) = run["agent"]
    assert workflow["output"] == "Sunny in Paris."  # traceloop.entity.output is JSON text: "\"Sunny in Paris.\""
    assert {r["user_id"] for r in (asks, answers, tool, workflow)} == {"user-7"}
    for call in (asks, answers):
        assert (call["name"], call["model"], call["provider"]) == ("openai.chat", RESPONSE_MODEL, "openai")
        assert call["properties"]["Request-Model"] == MODEL and call["input"]["model"] == MODEL
        assert call["input"]["tools"][0]["name"] == "get_weather"  # gen_ai.tool.definitions
    assert asks["usage"] == {"input_tokens": 50, "output_tokens": 10, "cache_read_tokens": 20, "reasoning_tokens": 0}
    assert answers["usage"] == {"input_tokens": 70, "output_tokens": 8}
    (choice,) = asks["output"]["choices"]
    assert choice["finish_reason"] == "tool_call"  # OpenLLMetry maps tool_calls to tool_call
    # The arguments arrive as an object (GenAI parts): JSON text in the tool call, as Chat Completions sends it.
    assert choice["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]
    # @tool records {"args": [], "kwargs": {...}} and the JSON text of the result: the arguments and the result.
    assert (tool["name"], tool["input"], tool["output"]) == ("get_weather", {"city": "Paris"}, "Sunny in Paris")
    assert answers["input"]["messages"][2:] == [
        {"role": "assistant", "content": None, "tool_calls": choice["message"]["tool_calls"]},
        {"role": "tool", "content": "Sunny in Paris", "tool_call_id": "call_1"}]
    assert answers["output"]["choices"][0]["message"] == {"role": "assistant", "content": "Sunny in Paris."}


def test_the_streamed_run(sessions: dict[str, Any]) -> None:
    (call,) = sessions["sess-stream"]["llm"]
    assert call["usage"] == {"input_tokens": 21, "output_tokens": 4}
    assert call["output"]["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Sunny, 18 C"},
                                          "finish_reason": "stop"}]
    chunks = [e["time"] for e in call["otel"]["events"] if e["name"] == "gen_ai.content.completion.chunk"]
    assert len(chunks) == 4  # one event per chunk (the role, two pieces, the usage): the first is the first token
    assert call["first_token_ms"] == pytest.approx((min(chunks) - call["start_time"]) / 1e6)


def test_the_retried_run(sessions: dict[str, Any]) -> None:
    failed, retried = sessions["sess-retry"]["llm"]
    assert failed["status"] == "error"
    assert failed["error"]["type"] == "openai.RateLimitError"  # the exception event's, over error.type RateLimitError
    assert failed["error"]["message"] == f"Error code: 429 - {RATE_LIMITED}"
    assert failed["model"] == MODEL and "usage" not in failed and "output" not in failed
    assert failed["input"]["messages"] == [{"role": "user", "content": "Weather in Oslo?"}]
    assert "status" not in retried and retried["usage"] == {"input_tokens": 30, "output_tokens": 5}


def test_the_store_counts_calls_tools_errors_tokens_and_cost(otlp_lines: bytes, tmp_path: Path) -> None:
    store = ingested(otlp_lines, tmp_path)
    _, rows = store.sql("SELECT session_id, name, llm_calls, tool_calls, errors, input_tokens, output_tokens, "
                        "cache_read_tokens, cost_usd, unpriced FROM sessions ORDER BY session_id")
    assert [row[:8] for row in rows] == [("sess-retry", "weather", 2, 0, 1, 30, 5, 0),
                                         ("sess-stream", "weather", 1, 0, 0, 21, 4, 0),
                                         ("sess-tool", "weather", 2, 1, 0, 120, 18, 20)]
    assert [row[8] for row in rows] == pytest.approx([7.5e-06, 5.55e-06, 2.73e-05])
    assert {row[9] for row in rows} == {0}
    _, outputs = store.sql("SELECT output FROM spans WHERE kind = 'tool'")
    assert orjson.loads(outputs[0][0]) == "Sunny in Paris"
    _, calls = store.sql("SELECT span_id FROM spans WHERE session_id = 'sess-tool' AND kind = 'llm' ORDER BY start_time")
    _, tools = store.sql("SELECT span_id FROM spans WHERE kind = 'tool'")
    # The @tool span has no call id: the call links to it by name.
    assert tool_links(store, "sess-tool", str(calls[0][0])) == {"call_1": tools[0][0]}


@pytest.mark.slow  # a subprocess posting to a collector in a thread: 5-13 s here
def test_the_tool_run_over_the_collector(tmp_path: Path) -> None:
    spans = collected(AGENT, tmp_path, 4, "tool")
    assert {(s["session_id"], s["session_name"]) for s in spans.values()} == {("sess-tool", "weather")}
    (tool,) = [s for s in spans.values() if s["kind"] == "tool"]
    assert (orjson.loads(tool["input"]), orjson.loads(tool["output"])) == ({"city": "Paris"}, "Sunny in Paris")
    assert sum(s["input_tokens"] or 0 for s in spans.values()) == 120
