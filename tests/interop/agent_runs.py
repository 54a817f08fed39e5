"""What the scripts that run a real instrumentation share (logfire_agent.py, logfire_agents_sdk_agent.py,
langfuse_agent.py, openinference_agents_sdk_agent.py): a mock Chat Completions server that asks for a tool then
answers, and the finished spans printed as OTLP JSON requests (what the protobuf encoder writes), one a line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan


def chat_completion(number: int, message: dict[str, Any], finish_reason: str, usage: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={
        "id": f"c{number}", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}], "usage": usage})


def tool_then_answer(arguments: dict[str, Any], answer: str,
                     usage: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
    """A handler for httpx.MockTransport: a `get_weather` tool call first (id call_1), then `answer`."""
    answers = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal answers
        answers += 1
        if answers == 1:
            call = {"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps(arguments)}}
            return chat_completion(answers, {"role": "assistant", "content": None, "tool_calls": [call]},
                                   "tool_calls", usage)
        return chat_completion(answers, {"role": "assistant", "content": answer}, "stop", usage)

    return handler


def print_otlp(spans: Iterable[ReadableSpan]) -> None:
    for span in spans:
        print(json.dumps(MessageToDict(encode_spans([span]))))
