"""Logfire's OpenAI Agents SDK integration (issue 19, findings 4 and 5): logfire 5.6.0's instrument_openai_agents
around openai-agents 0.25.0. Three runs of tests/interop/logfire_agents_sdk_agent.py on the SDK's default
Responses model, each naming its conversation (group_id): a tool run, a streamed tool run, a rate-limited run run
again; and a run whose tool fails, and a tool run on the Chat Completions model. Found earlier: tools are tools
with their arguments and result, an LLM's tool calls are its output, a failed tool says why, the run's group_id is
the session. Found here: a Responses API span (the SDK's default model) keeps its reply in `response` (a Responses
object) and its messages in `events` (a JSON list of GenAI message events, the reply's at the end): neither was
read, so its calls had no input or output; and a failed agent run said why only in `error`, which was not read."""

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

AGENT = Path(__file__).with_name("logfire_agents_sdk_agent.py")
TRACE = "OpenAI Agents trace: Weather workflow"


@pytest.fixture(scope="module")
def otlp_lines() -> bytes:
    return run_script(AGENT)


@pytest.fixture(scope="module")
def sessions(otlp_lines: bytes) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return sessions_of(converted(otlp_lines))


def _tool_run(run: dict[str, list[dict[str, Any]]], city: str) -> None:
    """A call that asks for get_weather, the tool, a call that answers: under the agent run's turns."""
    asks, answers = [c for c in run["llm"] if "status" not in c]
    (tool,) = [t for t in run["tool"] if "status" not in t]
    for call in (asks, answers):
        assert (call["name"], call["model"], call["provider"]) == ("Responses API with 'gpt-4o-mini'",
                                                                   RESPONSE_MODEL, "openai")
        assert call["properties"]["Request-Model"] == call["input"]["model"] == MODEL
        assert call["properties"]["Agent-Name"] == "weather-agent"
    assert asks["usage"] == {"input_tokens": 50, "output_tokens": 10, "cache_read_tokens": 20}
    assert answers["usage"] == {"input_tokens": 70, "output_tokens": 8}
    assert (asks["cost_usd"], answers["cost_usd"]) == (1.2e-05, 1.53e-05)  # operation.cost
    # The input from `events`, the reply from `response` (its function_call item as a Chat Completions call).
    assert asks["input"]["messages"] == [{"role": "user", "content": f"Weather in {city}?"}]
    (choice,) = asks["output"]["choices"]
    assert choice["finish_reason"] == "tool_calls"  # gen_ai.response.finish_reasons, JSON text
    assert choice["message"]["tool_calls"] == [{"id": "call_1", "type": "function", "function": {
        "name": "get_weather", "arguments": f'{{"city": "{city}"}}'}}]
    assert (tool["name"], tool["input"], tool["output"]) == ("get_weather", {"city": city}, f"Sunny in {city}")
    assert tool["path"].endswith("/Agent run: {name!r}/Turn {turn} for agent weather-agent/Function: {name}")
    assert answers["input"]["messages"][1:] == [
        {"role": "assistant", "content": None, "tool_calls": choice["message"]["tool_calls"]},
        {"role": "tool", "content": f"Sunny in {city}", "tool_call_id": "call_1"}]
    assert answers["output"]["choices"] == [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": f"Sunny in {city}."}}]


def test_three_runs_are_three_sessions_by_group_id(sessions: dict[str, Any]) -> None:
    assert set(sessions) == {"conv-tool", "conv-stream", "conv-retry"}  # the RunConfig's group_id
    for session in sessions.values():
        records = [r for kind in session.values() for r in kind]
        assert {r["session_name"] for r in records} == {"weather-agent"}
        assert TRACE in [r["name"] for r in session["other"]]
        runs = [a for a in session["agent"] if a["path"].endswith("/Agent run: {name!r}")]
        assert runs and all(a["name"].startswith("Agent run: 'weather-agent'") for a in runs)
        for record in session["llm"] + session["tool"]:
            assert record["properties"]["Agent-Name"] == "weather-agent"
            assert record["parent_id"] in {a["span_id"] for a in session["agent"]}  # under a turn of the run


def test_the_tool_run(sessions: dict[str, Any]) -> None:
    _tool_run(sessions["conv-tool"], "Paris")


def test_the_streamed_run(sessions: dict[str, Any]) -> None:
    _tool_run(sessions["conv-stream"], "Rome")
    assert all("first_token_ms" not in c for c in sessions["conv-stream"]["llm"])  # none recorded


def test_the_retried_run(sessions: dict[str, Any]) -> None:
    run = sessions["conv-retry"]
    failed = run["llm"][0]
    assert failed["status"] == "error" and failed["name"] == "Responses API with 'gpt-4o-mini' failed: " \
                                                             "Error getting response"
    assert failed["error"]["type"] == "openai.RateLimitError"  # the exception event's
    assert failed["error"]["message"] == f"Error code: 429 - {RATE_LIMITED}"
    assert failed["model"] == MODEL and "usage" not in failed and "output" not in failed
    assert "input" not in failed  # Logfire records no events for a call without a response
    (failed_run,) = [a for a in run["agent"] if a.get("status") == "error"]
    # No exception event, no status message: why is in Logfire's `error` attribute.
    assert failed_run["error"] == {"message": f"Error in agent run: Error code: 429 - {RATE_LIMITED}"}
    assert failed_run["span_id"] in {a["parent_id"] for a in run["agent"]}  # the failed call's turn is under it
    _tool_run(run, "Oslo")


def test_a_failed_tool_says_why() -> None:
    run = sessions_of(converted(run_script(AGENT, "fail")))["conv-fail"]
    (tool,) = run["tool"]
    assert tool["status"] == "error" and tool["input"] == {"city": "Paris"}
    assert tool["error"]["message"].startswith("Error running tool (non-fatal): Tool execution failed")
    assert tool["output"] == "An error occurred while running the tool."  # what the model was told
    assert run["llm"][1]["input"]["messages"][-1] == {"role": "tool", "tool_call_id": "call_1",
                                                      "content": "An error occurred while running the tool."}


def test_the_chat_completions_model() -> None:
    records = converted(run_script(AGENT, "tool", "--chat"))
    assert {r["session_id"] for r in records} == {"conv-tool"}
    by_kind = sessions_of(records)["conv-tool"]
    (tool,) = by_kind["tool"]
    assert (tool["name"], tool["input"], tool["output"]) == ("get_weather", {"city": "Paris"}, "Sunny in Paris")
    first, second = by_kind["llm"]
    (call,) = first["output"]["choices"][0]["message"]["tool_calls"]  # the Generation span's `output`
    assert call["id"] == "call_1" and call["function"]["name"] == "get_weather"
    assert second["output"]["choices"][0]["message"]["content"] == "Sunny in Paris."
    assert "Agent run: 'weather-agent'" in [a["name"] for a in by_kind["agent"]]
    assert first["properties"]["Agent-Name"] == tool["properties"]["Agent-Name"] == "weather-agent"
    assert any(r["name"] == TRACE for r in records)


def test_the_store_counts_calls_tools_errors_tokens_and_cost(otlp_lines: bytes, tmp_path: Path) -> None:
    store = ingested(otlp_lines, tmp_path)
    _, rows = store.sql("SELECT session_id, llm_calls, tool_calls, errors, input_tokens, output_tokens, "
                        "cache_read_tokens, cost_usd, unpriced FROM sessions ORDER BY session_id")
    # The retried run: the failed call and its agent run are two errors.
    assert [row[:7] for row in rows] == [("conv-retry", 3, 1, 2, 120, 18, 20), ("conv-stream", 2, 1, 0, 120, 18, 20),
                                         ("conv-tool", 2, 1, 0, 120, 18, 20)]
    assert [row[7] for row in rows] == pytest.approx([2.73e-05] * 3)
    assert {row[8] for row in rows} == {0}
    _, calls = store.sql("SELECT span_id FROM spans WHERE session_id = 'conv-tool' AND kind = 'llm' ORDER BY start_time")
    _, tools = store.sql("SELECT span_id FROM spans WHERE session_id = 'conv-tool' AND kind = 'tool'")
    assert tool_links(store, "conv-tool", str(calls[0][0])) == {"call_1": tools[0][0]}


@pytest.mark.slow  # a subprocess exporting to a collector in a thread: 5-13 s here
def test_the_streamed_run_over_the_collectors_grpc(tmp_path: Path) -> None:
    spans = collected(AGENT, tmp_path, 8, "stream", grpc=True)
    assert {(s["session_id"], s["session_name"]) for s in spans.values()} == {("conv-stream", "weather-agent")}
    (tool,) = [s for s in spans.values() if s["kind"] == "tool"]
    assert (orjson.loads(tool["input"]), orjson.loads(tool["output"])) == ({"city": "Rome"}, "Sunny in Rome")
    asks, answers = sorted((s for s in spans.values() if s["kind"] == "llm"), key=lambda s: s["start_time"])
    assert orjson.loads(asks["output"])["choices"][0]["message"]["tool_calls"][0]["id"] == "call_1"
    assert (asks["input_tokens"] + answers["input_tokens"], answers["model"]) == (120, RESPONSE_MODEL)
    # The trace span (with group_id) ends last: the session moves to it when it arrives.
    assert any(s["name"] == TRACE for s in spans.values())
