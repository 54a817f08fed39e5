"""Langfuse's own SDK (issue 19, findings 2 and 7): langfuse 5.2.0, `@observe` and `langfuse.openai`, the session
and user from `propagate_attributes`. Three runs of tests/interop/langfuse_agent.py: a tool run, a streamed call,
a rate-limited call the app retries. Found earlier: `langfuse.openai` writes OpenAI's usage object, read as such
(it was null: $0); its output is the assistant's message itself, read as a response so its tool call links to the
`@observe(as_type="tool")` span that answered it; the tool's input is its arguments, not `{args, kwargs}`. Found
here: a call without tools has a bare list of messages as its input, and a streamed call the reply's text as its
output, neither in the shapes the chat view reads; and metadata values (JSON text) kept their quotes."""

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

AGENT = Path(__file__).with_name("langfuse_agent.py")


@pytest.fixture(scope="module")
def otlp_lines() -> bytes:
    return run_script(AGENT)


@pytest.fixture(scope="module")
def sessions(otlp_lines: bytes) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return sessions_of(converted(otlp_lines))


def test_three_runs_are_three_sessions_of_an_agent(sessions: dict[str, Any]) -> None:
    assert set(sessions) == {"sess-tool", "sess-stream", "sess-retry"}  # session.id, from propagate_attributes
    for session in sessions.values():
        (agent,) = session["agent"]  # @observe(as_type="agent")
        assert (agent["name"], agent["path"], agent["session_name"]) == ("weather-agent", "/weather-agent",
                                                                         "weather-agent")
        for record in session["llm"] + session.get("tool", []) + [agent]:
            assert record["user_id"] == "user-7"
        for record in session["llm"] + session.get("tool", []):
            assert record["parent_id"] == agent["span_id"] and record["properties"]["Agent-Name"] == "weather-agent"
            assert record["path"] in ("/weather-agent/OpenAI-generation", "/weather-agent/get_weather")


def test_the_tool_run(sessions: dict[str, Any]) -> None:
    run = sessions["sess-tool"]
    asks, answers = run["llm"]
    (tool,) = run["tool"]
    (agent,) = run["agent"]
    assert agent["output"] == "Sunny in Paris."
    for call in (asks, answers):
        # Only the response's model: the integration overwrites the one asked for; no provider.
        assert (call["name"], call["model"]) == ("OpenAI-generation", RESPONSE_MODEL) and "provider" not in call
        assert call["input"]["tools"][0]["function"]["name"] == "get_weather"
    assert asks["usage"] == {"input_tokens": 50, "output_tokens": 10, "cache_read_tokens": 20, "reasoning_tokens": 0}
    assert answers["usage"] == {"input_tokens": 70, "output_tokens": 8}
    assert asks["input"]["messages"] == [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "Weather in Paris?"}]
    (choice,) = asks["output"]["choices"]
    assert "finish_reason" not in choice  # not recorded for a call that is not streamed
    assert choice["message"]["tool_calls"] == [
        {"id": "call_1", "function": {"arguments": '{"city": "Paris"}', "name": "get_weather"}, "type": "function"}]
    assert (tool["name"], tool["input"], tool["output"]) == ("get_weather", {"city": "Paris"}, "Sunny in Paris")
    assert answers["input"]["messages"][2:] == [
        {"role": "assistant", "tool_calls": choice["message"]["tool_calls"]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny in Paris"}]
    assert answers["output"]["choices"][0]["message"] == {"role": "assistant", "content": "Sunny in Paris."}


def test_the_streamed_run(sessions: dict[str, Any]) -> None:
    (call,) = sessions["sess-stream"]["llm"]
    assert call["usage"] == {"input_tokens": 21, "output_tokens": 4} and call["model"] == RESPONSE_MODEL
    assert call["input"] == {"messages": [{"role": "user", "content": "Weather in Rome?"}]}
    # The stream's text, as the assistant's reply; its finish reason is metadata (JSON text).
    assert call["output"] == {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Sunny, 18 C"}}]}
    assert call["properties"]["finish_reason"] == "stop"
    # langfuse.observation.completion_start_time: the first chunk's time, inside the call.
    assert 0 <= call["first_token_ms"] <= (call["end_time"] - call["start_time"]) / 1e6


def test_the_retried_run(sessions: dict[str, Any]) -> None:
    failed, retried = sessions["sess-retry"]["llm"]
    assert failed["status"] == "error"
    # Level ERROR and the status message; no exception event, so no type.
    assert failed["error"] == {"message": f"Error code: 429 - {RATE_LIMITED}"}
    assert failed["model"] == MODEL and "usage" not in failed and "output" not in failed  # the model asked for
    assert failed["cost_usd"] == 0  # cost_details {"total": 0}, as reported
    assert failed["input"] == {"messages": [{"role": "user", "content": "Weather in Oslo?"}]}
    assert "status" not in retried and retried["usage"] == {"input_tokens": 30, "output_tokens": 5}
    assert retried["output"]["choices"][0]["message"]["content"] == "Cloudy in Oslo."


def test_the_store_counts_calls_tools_errors_tokens_and_cost(otlp_lines: bytes, tmp_path: Path) -> None:
    store = ingested(otlp_lines, tmp_path)
    _, rows = store.sql("SELECT session_id, llm_calls, tool_calls, errors, input_tokens, output_tokens, "
                        "cache_read_tokens, cost_usd, unpriced FROM sessions ORDER BY session_id")
    assert [row[:7] for row in rows] == [("sess-retry", 2, 0, 1, 30, 5, 0), ("sess-stream", 1, 0, 0, 21, 4, 0),
                                         ("sess-tool", 2, 1, 0, 120, 18, 20)]
    assert [row[7] for row in rows] == pytest.approx([7.5e-06, 5.55e-06, 2.73e-05])
    assert {row[8] for row in rows} == {0}
    _, calls = store.sql("SELECT span_id FROM spans WHERE session_id = 'sess-tool' AND kind = 'llm' ORDER BY start_time")
    _, tools = store.sql("SELECT span_id, input FROM spans WHERE kind = 'tool'")
    assert tools[0][1] == '{"city":"Paris"}'
    # The tool span has no call id: the call links to it by name.
    assert tool_links(store, "sess-tool", str(calls[0][0])) == {"call_1": tools[0][0]}


@pytest.mark.slow  # a subprocess exporting to a collector in a thread: 5-13 s here
def test_the_retried_run_over_the_collectors_grpc(tmp_path: Path) -> None:
    spans = collected(AGENT, tmp_path, 3, "retry", grpc=True)
    assert {(s["session_id"], s["user_id"]) for s in spans.values()} == {("sess-retry", "user-7")}
    failed, retried = sorted((s for s in spans.values() if s["kind"] == "llm"), key=lambda s: s["start_time"])
    assert (failed["status"], failed["error_message"], failed["model"]) == (
        "error", f"Error code: 429 - {RATE_LIMITED}", MODEL)
    assert (retried["status"], retried["input_tokens"], retried["model"]) == ("ok", 30, RESPONSE_MODEL)
    assert orjson.loads(retried["output"])["choices"][0]["message"]["content"] == "Cloudy in Oslo."


@pytest.mark.slow  # a subprocess posting to a collector in a thread: 5-13 s here
def test_the_streamed_run_over_the_collector(tmp_path: Path) -> None:
    spans = collected(AGENT, tmp_path, 2, "stream")
    call, agent = sorted(spans.values(), key=lambda s: s["kind"] != "llm")
    assert {call["session_id"], agent["session_id"]} == {"sess-stream"}
    assert (call["parent_id"], call["input_tokens"], call["output_tokens"]) == (agent["span_id"], 21, 4)
    assert call["first_token_ms"] is not None
