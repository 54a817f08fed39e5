"""OpenInference's Agents SDK instrumentation, a streamed run (issue 19, findings 6 and 7): each response's reply
with its tool calls and `llm.finish_reason`, read from the flattened output messages, or, where those are absent,
from the Responses object kept in `output.value`. The spans come from the real openinference-instrumentation-
openai-agents and openai-agents packages (tests/interop/openinference_agents_sdk_agent.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from agenttrace_tui.interop import SourceFormat, convert_file

AGENT = Path(__file__).with_name("openinference_agents_sdk_agent.py")


@pytest.fixture(scope="module")
def otlp_lines() -> list[bytes]:
    run = subprocess.run([sys.executable, str(AGENT)], capture_output=True, check=False, timeout=300)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    return run.stdout.splitlines()


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
        ("call_1", "get_weather", '{"city":"Paris"}')
    assert choice["finish_reason"] == "stop"  # llm.finish_reason, as the instrumentation wrote it
    assert second["output"]["choices"][0]["message"]["content"] == "Sunny in Paris."
    assert first["usage"]["input_tokens"] == 40


def test_a_responses_object_in_output_value_reads_the_same(otlp_lines: list[bytes]) -> None:
    stripped = [_without_output_messages(line) for line in otlp_lines]
    assert any(b"llm.output_messages" in line for line in otlp_lines)
    assert not any(b"llm.output_messages" in line for line in stripped)
    expected = [c["output"] for c in _calls(otlp_lines)]
    got = [c["output"] for c in _calls(stripped)]
    for want, have in zip(expected, got, strict=True):  # same reply; key order may differ
        assert orjson.dumps(have, option=orjson.OPT_SORT_KEYS) == orjson.dumps(want, option=orjson.OPT_SORT_KEYS)
