"""A streamed and a plain chat call through Logfire's instrument_openai (the real logfire and openai packages, the
client on a mock transport: no network) inside a Logfire span; prints the finished spans as OTLP JSON requests
(what the protobuf encoder writes), one span a line, in the order they ended. Run as a script: logfire.configure
is process-wide."""
from __future__ import annotations

import json
from typing import Any

import httpx
from agent_runs import print_otlp
import logfire
import openai
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
logfire.configure(send_to_logfire=False, console=False, additional_span_processors=[SimpleSpanProcessor(exporter)])


def chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, int] | None = None) -> str:
    body: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini-2024-07-18",
            "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        body["usage"] = usage
    return "data: " + json.dumps(body) + "\n\n"


def handler(request: httpx.Request) -> httpx.Response:
    data = json.loads(request.content)
    if data.get("stream"):
        sse = chunk({"role": "assistant", "content": ""}) + chunk({"content": "Sunny"}) + chunk({"content": ", 18 C"}, "stop") \
            + chunk(None, usage={"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25}) + "data: [DONE]\n\n"
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse.encode())
    return httpx.Response(200, json={"id": "c2", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}})


client = openai.OpenAI(api_key="sk-test", base_url="http://mock/v1", http_client=httpx.Client(transport=httpx.MockTransport(handler)))
logfire.instrument_openai(client)
with logfire.span("agent run {name}", name="weather"):
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather?"}],
                                            stream=True, stream_options={"include_usage": True})
    for _ in stream:
        pass
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
logfire.force_flush()
print_otlp(exporter.get_finished_spans())
