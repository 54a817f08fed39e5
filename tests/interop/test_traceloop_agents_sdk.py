"""OpenLLMetry's OpenAI Agents SDK instrumentation (issue 19): traceloop-sdk 0.62.4 with both its OpenAI and its
OpenAI Agents instrumentations (opentelemetry-instrumentation-openai-agents 0.62.4), as a default Traceloop.init
enables them, around openai-agents 0.25.0's Responses model. Three runs of
tests/interop/traceloop_agents_sdk_agent.py: a tool run, a streamed tool run, a rate-limited run run again.
Found here: a non-streamed call is recorded twice, the Agents SDK's `openai.response` around the OpenAI
instrumentation's (same response id, both with usage): it was counted twice (tokens, cost, calls)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agent_runs import MODEL, RATE_LIMITED, RESPONSE_MODEL, converted, ingested, run_script, tool_links

AGENT = Path(__file__).with_name("traceloop_agents_sdk_agent.py")


@pytest.fixture(scope="module")
def otlp_lines() -> bytes:
    return run_script(AGENT)


@pytest.fixture(scope="module")
def traces(otlp_lines: bytes) -> list[dict[str, list[dict[str, Any]]]]:
    """Each run's spans by kind, in the order the runs started (no group_id is recorded: a trace, a session)."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for record in converted(otlp_lines):
        found.setdefault(record["session_id"], {}).setdefault(record["kind"], []).append(record)
    return sorted(found.values(), key=lambda t: min(r["start_time"] for r in t["agent"]))


def test_each_run_is_a_workflow_of_an_agent(traces: list[dict[str, Any]]) -> None:
    assert len(traces) == 4  # tool, stream, the failed run and its second run
    for trace in traces:
        workflow, agent = trace["agent"]  # by start time
        assert (workflow["name"], agent["name"]) == ("Agent Workflow", "weather-agent.agent")
        assert agent["parent_id"] == workflow["span_id"] and agent["path"] == "/Agent Workflow/weather-agent.agent"
        assert {r["session_name"] for kind in trace.values() for r in kind} == {"Agent Workflow"}
        for tool in trace.get("tool", []):
            assert tool["parent_id"] == agent["span_id"]
            assert (tool["properties"]["Agent-Name"], tool["properties"]["Parent-Agent"]) == ("weather-agent",
                                                                                              "Agent Workflow")


def test_a_call_recorded_by_both_instrumentations_counts_once(traces: list[dict[str, Any]]) -> None:
    run = traces[0]
    asks, answers = run["llm"]  # the OpenAI instrumentation's spans: the requests themselves
    wrappers = run["other"]  # the Agents SDK's spans around them: kept, not counted
    assert [w["name"] for w in wrappers] == ["openai.response"] * 2
    assert [asks["parent_id"], answers["parent_id"]] == [w["span_id"] for w in wrappers]
    assert all("usage" not in w and "cost_usd" not in w for w in wrappers)
    assert [w["otel"]["attributes"]["gen_ai.response.id"] for w in wrappers] == ["resp_1", "resp_2"]
    for call in (asks, answers):
        assert (call["model"], call["properties"]["Request-Model"], call["input"]["model"]) == \
            (RESPONSE_MODEL, MODEL, MODEL)
        assert call["input"]["messages"][0] == {"role": "system", "content": "Be brief."}
        assert call["input"]["tools"][0]["name"] == "get_weather"
    assert asks["usage"] == {"input_tokens": 50, "output_tokens": 10, "cache_read_tokens": 20, "reasoning_tokens": 0}
    (call,) = asks["output"]["choices"][0]["message"]["tool_calls"]
    # The OpenAI instrumentation names a function call by its item id (fc_1), the Agents SDK's by its call id.
    assert call == {"id": "fc_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    assert wrappers[0]["output"]["choices"][0]["message"]["tool_calls"][0]["id"] == "call_1"
    (tool,) = run["tool"]
    assert (tool["name"], tool["input"], tool["output"]) == ("get_weather", {"city": "Paris"}, "Sunny in Paris")
    assert answers["output"]["choices"][0]["message"] == {"role": "assistant", "content": "Sunny in Paris."}


def test_the_streamed_run_has_the_agents_sdk_spans_only(traces: list[dict[str, Any]]) -> None:
    run = traces[1]
    asks, answers = run["llm"]  # the OpenAI instrumentation writes no span for a streamed Responses call
    assert "other" not in run
    assert [c["otel"]["scope"]["name"] for c in (asks, answers)] == ["opentelemetry.instrumentation.openai_agents"] * 2
    assert asks["usage"]["input_tokens"] == 50 and answers["usage"]["input_tokens"] == 70
    assert asks["output"]["choices"][0]["message"]["tool_calls"][0]["id"] == "call_1"
    assert "first_token_ms" not in asks  # no chunk events on these spans
    assert run["tool"][0]["input"] == {"city": "Rome"}


def test_the_failed_run_counts_one_failed_call(traces: list[dict[str, Any]]) -> None:
    failed_run, second_run = traces[2], traces[3]
    (failed,) = failed_run["llm"]
    (wrapper,) = failed_run["other"]
    assert failed["status"] == wrapper["status"] == "error" and failed["parent_id"] == wrapper["span_id"]
    assert failed["error"]["type"] == "openai.RateLimitError"
    assert failed["error"]["message"] == f"Error code: 429 - {RATE_LIMITED}"
    assert failed["model"] == MODEL and "usage" not in failed
    assert "Error getting response" in wrapper["error"]["message"]  # str() of the SDK's error dict
    assert len(second_run["llm"]) == 2 and "status" not in second_run["llm"][0]


def test_the_store_counts_each_call_once(otlp_lines: bytes, tmp_path: Path) -> None:
    store = ingested(otlp_lines, tmp_path)
    _, rows = store.sql("SELECT llm_calls, tool_calls, errors, input_tokens, output_tokens, cost_usd FROM sessions "
                        "ORDER BY start_time")
    assert [row[:5] for row in rows] == [(2, 1, 0, 120, 18), (2, 1, 0, 120, 18), (1, 0, 3, 0, 0), (2, 1, 0, 120, 18)]
    assert [row[5] for row in rows] == pytest.approx([2.73e-05, 2.73e-05, 0.0, 2.73e-05])
    _, calls = store.sql("SELECT session_id, span_id FROM spans WHERE kind = 'llm' ORDER BY start_time LIMIT 1")
    _, tools = store.sql(f"SELECT span_id FROM spans WHERE kind = 'tool' AND session_id = '{calls[0][0]}'")
    # The tool span has no call id: the call (fc_1) links to it by name.
    assert tool_links(store, str(calls[0][0]), str(calls[0][1])) == {"fc_1": tools[0][0]}
