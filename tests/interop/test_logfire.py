"""Logfire's OpenAI instrumentation (issue 19, findings 4 and 5): logfire 5.6.0's instrument_openai, in both of its
attribute formats (`version=1`: `request_data` / `response_data`; `version=2`, the default: GenAI messages). Three
runs of tests/interop/logfire_agent.py, each an app span naming its agent and conversation: a tool run, a streamed
call and a plain one, a rate-limited call the app retries. Found earlier: a streamed call is one LLM call, not two
(the request span and the log Logfire writes when the stream ends are merged), and spans are named by their
rendered message, not their template. Found here: in the first format the finish reasons (a list, which Logfire
sends as JSON text) were not read, and the response's message kept the SDK's unset fields as nulls.
(Logfire's Agents SDK integration: test_logfire_agents_sdk.py.)"""

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

AGENT = Path(__file__).with_name("logfire_agent.py")
NAME = "Chat Completion with 'gpt-4o-mini'"
TEMPLATE_PATH = "/agent run {name}/Chat Completion with {request_data[model]!r}"


@pytest.fixture(scope="module", params=[1, 2], ids=["semconv1", "semconv2"])
def otlp_lines(request: pytest.FixtureRequest) -> bytes:
    return run_script(AGENT, "--semconv", str(request.param))


@pytest.fixture(scope="module")
def sessions(otlp_lines: bytes) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return sessions_of(converted(otlp_lines))


def test_three_runs_are_three_sessions_named_by_their_agent(otlp_lines: bytes, sessions: dict[str, Any]) -> None:
    # 4 + 4 + 3 spans: the stream's log is merged into its call.
    assert len(otlp_lines.splitlines()) == 11 and len(converted(otlp_lines)) == 10
    assert set(sessions) == {"conv-tool", "conv-stream", "conv-retry"}  # gen_ai.conversation.id, set by the app
    for session in sessions.values():
        (agent,) = session["agent"]  # gen_ai.agent.name
        # Named by the rendered message; the path keeps the template (the runs of one step share a path).
        assert (agent["name"], agent["path"], agent["session_name"]) == ("agent run weather", "/agent run {name}",
                                                                         "weather-agent")
        for record in session["llm"] + session.get("tool", []):
            assert record["parent_id"] == agent["span_id"] and record["properties"]["Agent-Name"] == "weather-agent"
            assert record["session_name"] == "weather-agent"
        for call in session["llm"]:
            assert (call["name"], call["path"], call["provider"]) == (NAME, TEMPLATE_PATH, "openai")


def test_the_tool_run(sessions: dict[str, Any]) -> None:
    run = sessions["conv-tool"]
    asks, answers = run["llm"]
    (tool,) = run["tool"]
    for call in (asks, answers):
        assert (call["model"], call["properties"]["Request-Model"], call["input"]["model"]) == \
            (RESPONSE_MODEL, MODEL, MODEL)
        assert call["input"]["tools"][0]["function"]["name"] == "get_weather"
    assert asks["usage"] == {"input_tokens": 50, "output_tokens": 10, "cache_read_tokens": 20}  # no reasoning key
    assert answers["usage"] == {"input_tokens": 70, "output_tokens": 8}
    assert (asks["cost_usd"], answers["cost_usd"]) == (1.2e-05, 1.53e-05)  # operation.cost, as reported
    assert asks["input"]["messages"] == [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "Weather in Paris?"}]
    (choice,) = asks["output"]["choices"]
    # semconv 2: gen_ai.output.messages; 1: response_data.message with gen_ai.response.finish_reasons (JSON text).
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert (call["id"], call["type"], call["function"]["name"]) == ("call_1", "function", "get_weather")
    assert orjson.loads(call["function"]["arguments"]) == {"city": "Paris"}
    # The tool: a Logfire span with the GenAI tool keys, named by its tool.
    assert (tool["name"], tool["path"]) == ("get_weather", "/agent run {name}/execute_tool {gen_ai.tool.name}")
    assert (tool["input"], tool["output"]) == ({"city": "Paris"}, "Sunny in Paris")
    assistant, answer = answers["input"]["messages"][2:]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == "call_1"
    assert {k: answer[k] for k in ("role", "content", "tool_call_id")} == {
        "role": "tool", "content": "Sunny in Paris", "tool_call_id": "call_1"}
    assert answers["output"]["choices"] == [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Sunny in Paris."}}]  # no `refusal: null`, `audio: null`...


def test_a_streamed_call_is_one_call_with_the_streams_output_and_usage(otlp_lines: bytes,
                                                                       sessions: dict[str, Any]) -> None:
    streamed, plain = sessions["conv-stream"]["llm"]
    assert streamed["usage"] == {"input_tokens": 21, "output_tokens": 4} and streamed["cost_usd"] == 5.55e-06
    assert streamed["model"] == RESPONSE_MODEL  # the response's, from the log
    assert streamed["properties"]["Request-Model"] == plain["properties"]["Request-Model"] == MODEL
    assert streamed["output"]["choices"] == [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Sunny, 18 C"}}]
    assert streamed["input"]["messages"] == [{"role": "user", "content": "Weather in Rome?"}]
    assert "first_token_ms" not in streamed  # Logfire records no first-chunk time
    log = streamed["otel"]["stream_log"]
    assert log["attributes"]["logfire.span_type"] == "log"
    # The call lasted until the stream ended (the log's time), not until the stream opened (the request span's end).
    spans = [s for line in otlp_lines.splitlines() for s in orjson.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]]
    request = next(s for s in spans if s["spanId"] and int(s["startTimeUnixNano"]) == streamed["start_time"])
    stream_end = int(next(s for s in spans if s["name"].startswith("streaming response"))["startTimeUnixNano"])
    assert int(request["endTimeUnixNano"]) < stream_end and streamed["end_time"] == stream_end
    assert plain["usage"] == {"input_tokens": 30, "output_tokens": 5} and "stream_log" not in plain["otel"]
    assert plain["output"]["choices"][0]["message"]["content"] == "Cloudy in Rome."


def test_the_retried_run(sessions: dict[str, Any]) -> None:
    failed, retried = sessions["conv-retry"]["llm"]
    assert failed["status"] == "error"
    assert failed["error"]["type"] == "openai.RateLimitError"  # from its exception event, with the stack
    assert failed["error"]["message"] == f"Error code: 429 - {RATE_LIMITED}"
    assert "openai.RateLimitError" in failed["error"]["stack"]
    assert failed["model"] == MODEL and "usage" not in failed and "output" not in failed
    assert failed["input"]["messages"] == [{"role": "user", "content": "Weather in Oslo?"}]
    assert "status" not in retried and retried["usage"] == {"input_tokens": 30, "output_tokens": 5}
    assert retried["output"]["choices"][0]["message"]["content"] == "Cloudy in Oslo."
    (agent,) = sessions["conv-retry"]["agent"]
    assert "status" not in agent  # the app caught the error


def test_both_formats_read_the_same() -> None:
    def calls(version: str) -> list[tuple[Any, ...]]:
        records = [r for r in converted(run_script(AGENT, "--semconv", version)) if r["kind"] == "llm"]
        return [(r["session_id"], r["model"], r.get("usage"), r.get("cost_usd"), r.get("status"),
                 [(c.get("finish_reason"), c["message"].get("content"),
                   [(t["id"], orjson.loads(t["function"]["arguments"])) for t in c["message"].get("tool_calls", [])])
                  for c in (r.get("output") or {}).get("choices", [])],
                 [m.get("content") for m in r["input"]["messages"]]) for r in records]

    assert calls("1") == calls("2")


def test_the_store_counts_calls_tools_errors_tokens_and_cost(otlp_lines: bytes, tmp_path: Path) -> None:
    store = ingested(otlp_lines, tmp_path)
    _, rows = store.sql("SELECT session_id, name, llm_calls, tool_calls, errors, input_tokens, output_tokens, "
                        "cache_read_tokens, cost_usd, unpriced FROM sessions ORDER BY session_id")
    assert [row[:8] for row in rows] == [("conv-retry", "weather-agent", 2, 0, 1, 30, 5, 0),
                                         ("conv-stream", "weather-agent", 2, 0, 0, 51, 9, 0),
                                         ("conv-tool", "weather-agent", 2, 1, 0, 120, 18, 20)]
    # operation.cost, as Logfire reports it (genai-prices: the cached tokens at the cached price).
    assert [row[8] for row in rows] == pytest.approx([7.5e-06, 1.305e-05, 2.73e-05])
    assert {row[9] for row in rows} == {0}
    _, calls = store.sql("SELECT span_id FROM spans WHERE session_id = 'conv-tool' AND kind = 'llm' ORDER BY start_time")
    _, tools = store.sql("SELECT span_id FROM spans WHERE kind = 'tool'")
    assert tool_links(store, "conv-tool", str(calls[0][0])) == {"call_1": tools[0][0]}


@pytest.mark.slow  # a subprocess exporting to a collector in a thread: 5-13 s here
def test_the_tool_run_over_the_collectors_grpc(tmp_path: Path) -> None:
    # The streamed run is not sent this way: one request per span splits a stream's request span from its log,
    # which are merged only when they arrive together (docs/interop.md, Logfire).
    spans = collected(AGENT, tmp_path, 4, "tool", grpc=True)
    assert {(s["session_id"], s["session_name"]) for s in spans.values()} == {("conv-tool", "weather-agent")}
    assert sorted(s["kind"] for s in spans.values()) == ["agent", "llm", "llm", "tool"]
    (tool,) = [s for s in spans.values() if s["kind"] == "tool"]
    (agent,) = [s for s in spans.values() if s["kind"] == "agent"]
    assert orjson.loads(tool["input"]) == {"city": "Paris"} and tool["parent_id"] == agent["span_id"]
    assert sum(s["input_tokens"] or 0 for s in spans.values()) == 120
    assert sum(s["cost_usd"] or 0 for s in spans.values()) == pytest.approx(2.73e-05)


@pytest.mark.slow  # a subprocess posting to a collector in a thread: 5-13 s here
def test_the_retried_run_in_the_first_format_over_the_collector(tmp_path: Path) -> None:
    spans = collected(AGENT, tmp_path, 3, "retry", "--semconv", "1")
    assert {s["session_id"] for s in spans.values()} == {"conv-retry"}
    failed, retried = sorted((s for s in spans.values() if s["kind"] == "llm"), key=lambda s: s["start_time"])
    assert (failed["status"], failed["error_type"], failed["model"]) == ("error", "openai.RateLimitError", MODEL)
    assert (retried["status"], retried["input_tokens"], retried["model"]) == ("ok", 30, RESPONSE_MODEL)
    assert orjson.loads(retried["output"])["choices"][0]["finish_reason"] == "stop"
