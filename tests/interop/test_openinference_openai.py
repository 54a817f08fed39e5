"""OpenInference's OpenAI instrumentation (issue 19): openinference-instrumentation-openai 0.1.66 under
OpenInference's own tracer (`@tracer.agent`, `@tracer.tool`, `using_session`). Three runs of
tests/interop/openinference_openai_agent.py: a tool run, a streamed call, a rate-limited call the app retries.
Found here: the instrumentation writes only the response's model (`llm.model_name`), so the model asked for (in
`llm.invocation_parameters`) was lost: no Request-Model, a request body naming the dated model, and a failed call
(no response) without any model."""

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

AGENT = Path(__file__).with_name("openinference_openai_agent.py")


@pytest.fixture(scope="module")
def otlp_lines() -> bytes:
    return run_script(AGENT)


@pytest.fixture(scope="module")
def sessions(otlp_lines: bytes) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return sessions_of(converted(otlp_lines))


def test_three_runs_are_three_sessions_of_an_agent(sessions: dict[str, Any]) -> None:
    assert set(sessions) == {"sess-tool", "sess-stream", "sess-retry"}  # session.id from using_session
    for session in sessions.values():
        (agent,) = session["agent"]
        assert (agent["name"], agent["path"], agent["session_name"]) == ("weather-agent", "/weather-agent",
                                                                         "weather-agent")
        for record in session["llm"] + session.get("tool", []):
            assert record["parent_id"] == agent["span_id"] and record["properties"]["Agent-Name"] == "weather-agent"
            assert record["path"] in ("/weather-agent/ChatCompletion", "/weather-agent/get_weather")


def test_the_tool_run(sessions: dict[str, Any]) -> None:
    run = sessions["sess-tool"]
    asks, answers = run["llm"]
    (tool,) = run["tool"]
    (agent,) = run["agent"]
    assert (agent["input"], agent["output"]) == ("Weather in Paris?", "Sunny in Paris.")
    for call in (asks, answers):
        assert (call["name"], call["model"], call["provider"]) == ("ChatCompletion", RESPONSE_MODEL, "openai")
        # llm.model_name is the response's: the model asked for is read from llm.invocation_parameters.
        assert call["properties"]["Request-Model"] == MODEL and call["input"]["model"] == MODEL
        assert call["input"]["tools"][0]["function"]["name"] == "get_weather"  # llm.tools.N.tool.json_schema
    assert asks["usage"] == {"input_tokens": 50, "output_tokens": 10, "cache_read_tokens": 20, "reasoning_tokens": 0}
    assert answers["usage"] == {"input_tokens": 70, "output_tokens": 8}
    (choice,) = asks["output"]["choices"]
    assert choice["finish_reason"] == "tool_calls"  # llm.finish_reason
    # OpenInference keeps the model's own arguments text (a JSON string already): kept as it is.
    assert choice["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
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
    assert call["input"]["stream"] is True and call["input"]["model"] == MODEL
    # The `First Token Stream Event`, stamped when the first chunk arrived: inside the call.
    first_token = call["otel"]["events"][0]
    assert first_token["name"] == "First Token Stream Event"
    assert call["first_token_ms"] == pytest.approx((first_token["time"] - call["start_time"]) / 1e6)
    assert 0 <= call["first_token_ms"] <= (call["end_time"] - call["start_time"]) / 1e6


def test_the_retried_run(sessions: dict[str, Any]) -> None:
    failed, retried = sessions["sess-retry"]["llm"]
    assert failed["status"] == "error"
    assert failed["error"]["type"] == "openai.RateLimitError"  # from its exception event, with the stack
    assert failed["error"]["message"] == f"Error code: 429 - {RATE_LIMITED}"
    assert "openai.RateLimitError" in failed["error"]["stack"]
    assert failed["model"] == MODEL and "usage" not in failed and "output" not in failed  # no response: the model asked
    assert "status" not in retried and retried["usage"] == {"input_tokens": 30, "output_tokens": 5}
    assert retried["output"]["choices"][0]["message"]["content"] == "Cloudy in Oslo."


def test_the_store_counts_calls_tools_errors_tokens_and_cost(otlp_lines: bytes, tmp_path: Path) -> None:
    store = ingested(otlp_lines, tmp_path)
    _, rows = store.sql("SELECT session_id, llm_calls, tool_calls, errors, input_tokens, output_tokens, "
                        "cache_read_tokens, cost_usd, unpriced FROM sessions ORDER BY session_id")
    assert [row[:7] for row in rows] == [("sess-retry", 2, 0, 1, 30, 5, 0), ("sess-stream", 1, 0, 0, 21, 4, 0),
                                         ("sess-tool", 2, 1, 0, 120, 18, 20)]
    # gpt-4o-mini: $0.15 / $0.075 (cached) / $0.60 per million tokens.
    assert [row[7] for row in rows] == pytest.approx([7.5e-06, 5.55e-06, 2.73e-05])
    assert {row[8] for row in rows} == {0}
    _, first_tokens = store.sql("SELECT first_token_ms FROM spans WHERE session_id = 'sess-stream' AND kind = 'llm'")
    assert first_tokens[0][0] is not None
    _, calls = store.sql("SELECT span_id FROM spans WHERE session_id = 'sess-tool' AND kind = 'llm' ORDER BY start_time")
    _, tools = store.sql("SELECT span_id FROM spans WHERE kind = 'tool'")
    assert tool_links(store, "sess-tool", str(calls[0][0])) == {"call_1": tools[0][0]}


@pytest.mark.slow  # a subprocess posting to a collector in a thread: 5-13 s here
def test_the_retried_run_over_the_collector(tmp_path: Path) -> None:
    spans = collected(AGENT, tmp_path, 3, "retry")
    assert {s["session_id"] for s in spans.values()} == {"sess-retry"}
    failed, retried = sorted((s for s in spans.values() if s["kind"] == "llm"), key=lambda s: s["start_time"])
    assert (failed["status"], failed["error_type"], failed["model"]) == ("error", "openai.RateLimitError", MODEL)
    assert (retried["status"], retried["input_tokens"], retried["model"]) == ("ok", 30, RESPONSE_MODEL)
    assert orjson.loads(retried["properties"])["Request-Model"] == MODEL
