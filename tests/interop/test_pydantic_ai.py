"""Pydantic AI through Logfire (issue 19): pydantic-ai-slim 2.75.0 with logfire 5.6.0's instrument_pydantic_ai.
Three runs of tests/interop/pydantic_ai_agent.py, each naming its conversation: a tool run, a streamed run, a
run whose model request is rate limited and that the app runs again. Found here: the streamed chat span carries
its time to first chunk as `gen_ai.client.operation.time_to_first_chunk` (seconds), which was not read."""

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

AGENT = Path(__file__).with_name("pydantic_ai_agent.py")


@pytest.fixture(scope="module")
def otlp_lines() -> bytes:
    return run_script(AGENT)


@pytest.fixture(scope="module")
def sessions(otlp_lines: bytes) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return sessions_of(converted(otlp_lines))


def _tool_run(run: dict[str, list[dict[str, Any]]], city: str) -> None:
    """A call that asks for get_weather, the tool, a call that answers: under the agent run."""
    asks, answers = [c for c in run["llm"] if "status" not in c]
    (tool,) = run["tool"]
    agent = next(a for a in run["agent"] if "status" not in a)
    assert agent["output"] == f"Sunny in {city}."  # final_result
    for call in (asks, answers):
        assert call["parent_id"] == tool["parent_id"] == agent["span_id"]
        assert (call["name"], call["path"]) == ("chat gpt-4o-mini", "/invoke_agent weather-agent/chat gpt-4o-mini")
        assert (call["model"], call["properties"]["Request-Model"], call["input"]["model"]) == \
            (RESPONSE_MODEL, MODEL, MODEL)
        assert call["input"]["messages"][0] == {"role": "system", "content": "Be brief."}  # gen_ai.system_instructions
        assert call["input"]["tools"][0]["name"] == "get_weather"
    assert asks["usage"] == {"input_tokens": 50, "output_tokens": 10, "cache_read_tokens": 20, "reasoning_tokens": 0}
    assert answers["usage"] == {"input_tokens": 70, "output_tokens": 8}
    assert (asks["cost_usd"], answers["cost_usd"]) == (1.2e-05, 1.53e-05)  # operation.cost, as reported
    (choice,) = asks["output"]["choices"]
    assert choice["finish_reason"] == "tool_call"  # Pydantic AI's own finish reason
    # Pydantic AI passes the model's arguments text on (a JSON string): kept as it is.
    assert choice["message"]["tool_calls"] == [{"id": "call_1", "type": "function", "function": {
        "name": "get_weather", "arguments": f'{{"city": "{city}"}}'}}]
    assert (tool["name"], tool["path"]) == ("get_weather", "/invoke_agent weather-agent/execute_tool get_weather")
    assert (tool["input"], tool["output"]) == ({"city": city}, f"Sunny in {city}")
    # The tool's result comes back in a `user` message part `tool_call_response` with `result` (not `response`).
    assert answers["input"]["messages"][2:] == [
        {"role": "assistant", "content": None, "tool_calls": choice["message"]["tool_calls"]},
        {"role": "tool", "content": f"Sunny in {city}", "tool_call_id": "call_1"}]
    assert answers["output"]["choices"][0]["message"] == {"role": "assistant", "content": f"Sunny in {city}."}


def test_three_runs_are_three_sessions_named_by_their_agent(sessions: dict[str, Any]) -> None:
    assert set(sessions) == {"conv-tool", "conv-stream", "conv-retry"}  # gen_ai.conversation.id
    for session in sessions.values():
        for record in [r for kind in session.values() for r in kind]:
            assert record["session_name"] == "weather-agent"
            assert record["properties"]["Agent-Name"] == "weather-agent"
        for agent in session["agent"]:
            assert (agent["name"], agent["path"]) == ("weather-agent run", "/invoke_agent weather-agent")
            assert "usage" not in agent  # gen_ai.aggregated_usage.* repeats its calls': not counted twice


def test_the_tool_run(sessions: dict[str, Any]) -> None:
    _tool_run(sessions["conv-tool"], "Paris")


def test_the_streamed_run(sessions: dict[str, Any]) -> None:
    (call,) = sessions["conv-stream"]["llm"]
    assert call["usage"] == {"input_tokens": 21, "output_tokens": 4} and call["cost_usd"] == 5.55e-06
    assert call["output"]["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Sunny, 18 C"},
                                          "finish_reason": "stop"}]
    seconds = call["otel"]["attributes"]["gen_ai.client.operation.time_to_first_chunk"]
    assert call["first_token_ms"] == pytest.approx(seconds * 1000)
    assert 0 <= call["first_token_ms"] <= (call["end_time"] - call["start_time"]) / 1e6


def test_the_retried_run(sessions: dict[str, Any]) -> None:
    run = sessions["conv-retry"]
    failed_agent, agent = run["agent"]  # two agent runs, two traces, one conversation
    failed = run["llm"][0]
    assert failed["parent_id"] == failed_agent["span_id"] and failed_agent["span_id"] != agent["span_id"]
    for span in (failed, failed_agent):
        assert span["status"] == "error"
        assert span["error"]["type"] == "pydantic_ai.exceptions.ModelRateLimitError"
        assert span["error"]["message"].startswith("status_code: 429, model_name: gpt-4o-mini")
        assert RATE_LIMITED in span["error"]["message"]
    assert failed["model"] == MODEL and "usage" not in failed and "output" not in failed
    _tool_run(run, "Oslo")


def test_the_store_counts_calls_tools_errors_tokens_and_cost(otlp_lines: bytes, tmp_path: Path) -> None:
    store = ingested(otlp_lines, tmp_path)
    _, rows = store.sql("SELECT session_id, llm_calls, tool_calls, errors, input_tokens, output_tokens, "
                        "cache_read_tokens, cost_usd, unpriced FROM sessions ORDER BY session_id")
    assert [row[:7] for row in rows] == [("conv-retry", 3, 1, 2, 120, 18, 20), ("conv-stream", 1, 0, 0, 21, 4, 0),
                                         ("conv-tool", 2, 1, 0, 120, 18, 20)]
    assert [row[7] for row in rows] == pytest.approx([2.73e-05, 5.55e-06, 2.73e-05])
    assert {row[8] for row in rows} == {0}
    _, first_tokens = store.sql("SELECT first_token_ms FROM spans WHERE session_id = 'conv-stream' AND kind = 'llm'")
    assert first_tokens[0][0] is not None
    _, calls = store.sql("SELECT span_id FROM spans WHERE session_id = 'conv-tool' AND kind = 'llm' ORDER BY start_time")
    _, tools = store.sql("SELECT span_id FROM spans WHERE session_id = 'conv-tool' AND kind = 'tool'")
    assert tool_links(store, "conv-tool", str(calls[0][0])) == {"call_1": tools[0][0]}


@pytest.mark.slow  # a subprocess posting to a collector in a thread: 5-13 s here
def test_the_streamed_run_over_the_collector(tmp_path: Path) -> None:
    spans = collected(AGENT, tmp_path, 2, "stream")
    call, agent = sorted(spans.values(), key=lambda s: s["kind"] != "llm")
    assert {call["session_id"], agent["session_id"]} == {"conv-stream"}
    assert (call["parent_id"], call["input_tokens"], call["output_tokens"]) == (agent["span_id"], 21, 4)
    assert call["first_token_ms"] is not None and orjson.loads(call["properties"])["Request-Model"] == MODEL
