"""OpenInference's Agents SDK instrumentation (issue 19, findings 6 and 7): openinference-instrumentation-openai-
agents 2.6.0 around openai-agents 0.25.0's Responses model. Three runs of
tests/interop/openinference_agents_sdk_agent.py: a tool run, a streamed tool run, a rate-limited run run again.
Found earlier: each response's reply with its tool calls and `llm.finish_reason`, read from the flattened output
messages, or, where those are absent, from the Responses object kept in `output.value`. The instrumentation records
no group_id (each run is a session by its trace), only the response's model (from the Response object, in
`llm.model_name` and `llm.invocation_parameters`), and for a failed call no model at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from agent_runs import (
    RATE_LIMITED,
    RESPONSE_MODEL,
    collected,
    converted,
    ingested,
    run_script,
    tool_links,
)

from agenttrace_tui.interop import SourceFormat, convert_file

AGENT = Path(__file__).with_name("openinference_agents_sdk_agent.py")


@pytest.fixture(scope="module")
def otlp_lines() -> list[bytes]:
    return run_script(AGENT, "stream").splitlines()


@pytest.fixture(scope="module")
def all_lines() -> bytes:
    return run_script(AGENT)


@pytest.fixture(scope="module")
def traces(all_lines: bytes) -> list[dict[str, list[dict[str, Any]]]]:
    """Each run's spans by kind, in the order the runs started (no group_id is recorded: a trace, a session)."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for record in converted(all_lines):
        found.setdefault(record["session_id"], {}).setdefault(record["kind"], []).append(record)
    return sorted(found.values(), key=lambda t: min(r["start_time"] for r in t["agent"]))


def _calls(lines: list[bytes]) -> list[dict[str, Any]]:
    converted = convert_file(SourceFormat.OTLP, b"\n".join(lines))
    assert converted.rejects == []
    records = sorted((orjson.loads(raw) for _, raw in converted.records), key=lambda r: r["start_time"])
    return [r for r in records if r["kind"] == "llm"]


def _without_output_messages(line: bytes) -> bytes:
    """The span as an instrumentation that keeps only `output.value` for a stream writes it."""
    request = orjson.loads(line)
    for span in request["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        span["attributes"] = [a for a in span.get("attributes", []) if not a["key"].startswith("llm.output_messages.")]
    return orjson.dumps(request)


def test_each_response_is_its_reply_with_tool_calls_and_finish_reason(otlp_lines: list[bytes]) -> None:
    first, second = _calls(otlp_lines)
    choice = first["output"]["choices"][0]
    (call,) = choice["message"]["tool_calls"]
    assert (call["id"], call["function"]["name"], call["function"]["arguments"]) == \
        ("call_1", "get_weather", '{"city": "Rome"}')
    assert choice["finish_reason"] == "stop"  # llm.finish_reason, as the instrumentation wrote it
    assert second["output"]["choices"][0]["message"]["content"] == "Sunny in Rome."
    assert first["usage"]["input_tokens"] == 50


def test_a_responses_object_in_output_value_reads_the_same(otlp_lines: list[bytes]) -> None:
    stripped = [_without_output_messages(line) for line in otlp_lines]
    assert any(b"llm.output_messages" in line for line in otlp_lines)
    assert not any(b"llm.output_messages" in line for line in stripped)
    expected = [c["output"] for c in _calls(otlp_lines)]
    got = [c["output"] for c in _calls(stripped)]
    for want, have in zip(expected, got, strict=True):  # same reply; key order may differ
        assert orjson.dumps(have, option=orjson.OPT_SORT_KEYS) == orjson.dumps(want, option=orjson.OPT_SORT_KEYS)


def _tool_run(run: dict[str, list[dict[str, Any]]], city: str) -> None:
    workflow, agent = sorted(run["agent"], key=lambda a: a["start_time"])
    assert (workflow["name"], workflow["path"], agent["name"]) == ("Agent workflow", "/Agent workflow", "weather-agent")
    assert {r["session_name"] for kind in run.values() for r in kind} == {"Agent workflow"}
    asks, answers = [c for c in run["llm"] if "status" not in c]
    (tool,) = run["tool"]
    for record in (asks, answers, tool):
        assert record["properties"]["Agent-Name"] == "weather-agent"
        assert record["properties"]["Parent-Agent"] == "Agent workflow"
        assert record["path"] in ("/Agent workflow/Agent workflow/weather-agent/turn/response",
                                  "/Agent workflow/Agent workflow/weather-agent/turn/get_weather")
    for call in (asks, answers):
        # Only the response's model is recorded (llm.model_name, llm.invocation_parameters: the Response's).
        assert (call["name"], call["model"], call["provider"]) == ("response", RESPONSE_MODEL, "openai")
        assert call["input"]["model"] == RESPONSE_MODEL and "Request-Model" not in call["properties"]
    assert asks["usage"] == {"input_tokens": 50, "output_tokens": 10, "cache_read_tokens": 20, "reasoning_tokens": 0}
    assert answers["usage"] == {"input_tokens": 70, "output_tokens": 8, "cache_read_tokens": 0, "reasoning_tokens": 0}
    assert asks["input"]["messages"] == [{"role": "user", "content": f"Weather in {city}?"}]
    (choice,) = asks["output"]["choices"]
    assert choice["finish_reason"] == "stop"  # llm.finish_reason: the Response's status `completed`
    assert choice["message"]["tool_calls"] == [{"id": "call_1", "type": "function", "function": {
        "name": "get_weather", "arguments": f'{{"city": "{city}"}}'}}]
    assert (tool["input"], tool["output"]) == ({"city": city}, f"Sunny in {city}")
    assert answers["input"]["messages"][1:] == [
        {"role": "assistant", "content": None, "tool_calls": choice["message"]["tool_calls"]},
        {"role": "tool", "content": f"Sunny in {city}", "tool_call_id": "call_1"}]
    assert answers["output"]["choices"] == [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": f"Sunny in {city}."}}]


def test_each_run_is_a_session_of_its_trace(traces: list[dict[str, Any]]) -> None:
    assert len(traces) == 4  # tool, stream, the failed run and its second run: no group_id recorded
    for trace in traces:
        assert len({r["session_id"] for kind in trace.values() for r in kind}) == 1


def test_the_tool_run(traces: list[dict[str, Any]]) -> None:
    _tool_run(traces[0], "Paris")


def test_the_streamed_run(traces: list[dict[str, Any]]) -> None:
    _tool_run(traces[1], "Rome")
    assert all("first_token_ms" not in c for c in traces[1]["llm"])  # no first-token event from this instrumentation


def test_the_retried_run(traces: list[dict[str, Any]]) -> None:
    failed_run, second_run = traces[2], traces[3]
    (failed,) = failed_run["llm"]
    assert failed["status"] == "error" and "model" not in failed and "usage" not in failed
    # No exception event: the status description, `{message}: {data}` of the SDK's error.
    assert failed["error"] == {"message": f"Error getting response: {{'error': 'Error code: 429 - {RATE_LIMITED}'}}"}
    (agent,) = [a for a in failed_run["agent"] if a["name"] == "weather-agent"]
    assert agent["status"] == "error" and agent["error"]["message"].startswith("Error in agent run")
    _tool_run(second_run, "Oslo")


def test_the_store_counts_calls_tools_errors_tokens_and_cost(all_lines: bytes, tmp_path: Path) -> None:
    store = ingested(all_lines, tmp_path)
    _, rows = store.sql("SELECT llm_calls, tool_calls, errors, input_tokens, output_tokens, cache_read_tokens, "
                        "cost_usd, unpriced FROM sessions ORDER BY start_time")
    assert [row[:6] for row in rows] == [(2, 1, 0, 120, 18, 20), (2, 1, 0, 120, 18, 20), (1, 0, 2, 0, 0, 0),
                                         (2, 1, 0, 120, 18, 20)]
    # gpt-4o-mini-2024-07-18 priced as gpt-4o-mini; the failed call has no model and no tokens: unpriced, $0.
    assert [row[6] for row in rows] == pytest.approx([2.73e-05, 2.73e-05, 0.0, 2.73e-05])
    _, calls = store.sql("SELECT session_id, span_id FROM spans WHERE kind = 'llm' ORDER BY start_time LIMIT 1")
    _, tools = store.sql(f"SELECT span_id FROM spans WHERE kind = 'tool' AND session_id = '{calls[0][0]}'")
    assert tool_links(store, str(calls[0][0]), str(calls[0][1])) == {"call_1": tools[0][0]}


@pytest.mark.slow  # a subprocess posting to a collector in a thread: 5-13 s here
def test_the_tool_run_over_the_collector(tmp_path: Path) -> None:
    spans = collected(AGENT, tmp_path, 8, "tool")
    assert len({s["session_id"] for s in spans.values()}) == 1
    assert sorted(s["kind"] for s in spans.values()) == ["agent", "agent", "llm", "llm", "other", "other", "other",
                                                         "tool"]
    (tool,) = [s for s in spans.values() if s["kind"] == "tool"]
    assert (orjson.loads(tool["input"]), orjson.loads(tool["output"])) == ({"city": "Paris"}, "Sunny in Paris")
    assert sum(s["input_tokens"] or 0 for s in spans.values()) == 120
    assert {s["session_name"] for s in spans.values()} == {"Agent workflow"}
