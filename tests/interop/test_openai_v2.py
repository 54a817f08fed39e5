"""The official GenAI instrumentation (issue 19): opentelemetry-instrumentation-openai-v2 2.4b0 with
opentelemetry-util-genai 1.1b0, content on the spans. Three runs of tests/interop/openai_v2_agent.py, each an
util-genai `invoke_agent` naming its conversation: a tool run, a streamed call, a rate-limited call the app
retries. Found here: a failed call's `error.type` is the exception class's str (`<class 'openai.RateLimitError'>`),
and the request body showed the response's dated model as the one asked for."""

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

AGENT = Path(__file__).with_name("openai_v2_agent.py")


@pytest.fixture(scope="module")
def otlp_lines() -> bytes:
    return run_script(AGENT)


@pytest.fixture(scope="module")
def sessions(otlp_lines: bytes) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return sessions_of(converted(otlp_lines))


def test_three_runs_are_three_sessions_named_by_their_agent(sessions: dict[str, Any]) -> None:
    assert set(sessions) == {"conv-tool", "conv-stream", "conv-retry"}  # gen_ai.conversation.id, on the root only
    for session in sessions.values():
        (agent,) = session["agent"]
        assert agent["name"] == "invoke_agent weather-agent" and agent["session_name"] == "weather-agent"
        for record in session["llm"] + session.get("tool", []):
            assert record["session_name"] == "weather-agent"
            assert record["parent_id"] == agent["span_id"]
            assert record["properties"]["Agent-Name"] == "weather-agent"


def test_the_tool_run(sessions: dict[str, Any]) -> None:
    run = sessions["conv-tool"]
    asks, answers = run["llm"]
    (tool,) = run["tool"]
    assert [asks["path"], tool["path"], answers["path"]] == [
        "/invoke_agent weather-agent/chat gpt-4o-mini", "/invoke_agent weather-agent/execute_tool get_weather",
        "/invoke_agent weather-agent/chat gpt-4o-mini"]
    for call in (asks, answers):
        assert (call["model"], call["properties"]["Request-Model"]) == (RESPONSE_MODEL, MODEL)
        assert call["input"]["model"] == MODEL  # the request asked for gpt-4o-mini, not the dated model
        assert call["provider"] == "openai"
    assert asks["usage"] == {"input_tokens": 50, "output_tokens": 10}  # openai-v2 writes no cached tokens
    assert answers["usage"] == {"input_tokens": 70, "output_tokens": 8}
    assert asks["input"]["messages"] == [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "Weather in Paris?"}]
    (choice,) = asks["output"]["choices"]
    assert choice["finish_reason"] == "tool_calls"
    # The GenAI conventions write the arguments as an object: a tool call's are JSON text, as Chat Completions.
    assert choice["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]
    assert (tool["name"], tool["input"], tool["output"]) == ("get_weather", {"city": "Paris"}, "Sunny in Paris")
    assistant, answer = answers["input"]["messages"][2:]
    assert assistant["tool_calls"] == choice["message"]["tool_calls"]
    assert answer == {"role": "tool", "content": "Sunny in Paris", "tool_call_id": "call_1"}
    assert answers["output"]["choices"][0]["message"] == {"role": "assistant", "content": "Sunny in Paris."}


def test_the_streamed_run(sessions: dict[str, Any]) -> None:
    (call,) = sessions["conv-stream"]["llm"]
    assert call["usage"] == {"input_tokens": 21, "output_tokens": 4}
    assert call["output"]["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Sunny, 18 C"},
                                          "finish_reason": "stop"}]
    assert call["model"] == RESPONSE_MODEL
    assert "first_token_ms" not in call  # openai-v2's stream wrapper records no first chunk time


def test_the_retried_run(sessions: dict[str, Any]) -> None:
    failed, retried = sessions["conv-retry"]["llm"]
    assert failed["status"] == "error"
    # util-genai 1.1b0 is given the exception's class: the SDK writes `<class 'openai.RateLimitError'>`.
    assert failed["error"] == {"type": "openai.RateLimitError", "message": f"Error code: 429 - {RATE_LIMITED}"}
    assert "usage" not in failed and "output" not in failed and failed["model"] == MODEL
    assert failed["input"]["messages"] == [{"role": "user", "content": "Weather in Oslo?"}]
    assert "status" not in retried and retried["usage"] == {"input_tokens": 30, "output_tokens": 5}
    assert retried["output"]["choices"][0]["message"]["content"] == "Cloudy in Oslo."


def test_the_store_counts_calls_tools_errors_tokens_and_cost(otlp_lines: bytes, tmp_path: Path) -> None:
    store = ingested(otlp_lines, tmp_path)
    _, rows = store.sql("SELECT session_id, llm_calls, tool_calls, errors, input_tokens, output_tokens, cost_usd, "
                        "unpriced FROM sessions ORDER BY session_id")
    # gpt-4o-mini: $0.15 / $0.60 per million tokens in / out.
    assert [row[:6] for row in rows] == [("conv-retry", 2, 0, 1, 30, 5), ("conv-stream", 1, 0, 0, 21, 4),
                                         ("conv-tool", 2, 1, 0, 120, 18)]
    assert [row[6] for row in rows] == pytest.approx([7.5e-06, 5.55e-06, 2.88e-05])
    assert {row[7] for row in rows} == {0}
    _, errors = store.sql("SELECT error_type, error_message FROM spans WHERE status = 'error'")
    assert errors == [("openai.RateLimitError", f"Error code: 429 - {RATE_LIMITED}")]
    _, calls = store.sql("SELECT span_id FROM spans WHERE session_id = 'conv-tool' AND kind = 'llm' ORDER BY start_time")
    _, tools = store.sql("SELECT span_id, input FROM spans WHERE kind = 'tool'")
    assert tools[0][1] == '{"city":"Paris"}'
    assert tool_links(store, "conv-tool", str(calls[0][0])) == {"call_1": tools[0][0]}


@pytest.mark.slow  # a subprocess posting to a collector in a thread: 5-13 s here
def test_the_tool_run_over_the_collector(tmp_path: Path) -> None:
    spans = collected(AGENT, tmp_path, 4, "tool")
    assert {s["session_id"] for s in spans.values()} == {"conv-tool"}
    assert sorted(s["kind"] for s in spans.values()) == ["agent", "llm", "llm", "tool"]
    (tool,) = [s for s in spans.values() if s["kind"] == "tool"]
    (agent,) = [s for s in spans.values() if s["kind"] == "agent"]
    assert orjson.loads(tool["input"]) == {"city": "Paris"} and tool["parent_id"] == agent["span_id"]
    assert sum(s["input_tokens"] or 0 for s in spans.values()) == 120
