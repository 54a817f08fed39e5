"""Shared interop inputs (no tests here): OTLP spans from the real OpenTelemetry SDK and their two JSON
encodings, and Helicone log bodies of each request type (tests/interop)."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Sequence
from typing import Any

import orjson
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode


# -- spans from the real SDK -------------------------------------------------------------------------------


def _provider(exporter: InMemorySpanExporter, **resource: Any) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot", **resource}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def make_spans() -> list[ReadableSpan]:
    """Four traces: GenAI nested agents (session id on a child only), OpenInference, Langfuse without a
    session, and one whose session sits on the resource."""
    exporter = InMemorySpanExporter()
    tracer = _provider(exporter).get_tracer("agent-app", "1.2.3")

    # 1. GenAI: coordinator → chat (current message shape) + tool + researcher agent → chat (older
    #    OpenLLMetry flattened prompt/completion) + failing tool.
    with tracer.start_as_current_span("invoke_agent coordinator", attributes={
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "coordinator",
        "traceloop.association.properties.Helicone-Property-Tier": "gold",
    }):
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.request.temperature": 0.2,
            "gen_ai.conversation.id": "conv-42",
            "gen_ai.usage.input_tokens": 1850, "gen_ai.usage.output_tokens": 42,
            "gen_ai.usage.cache_read.input_tokens": 1536,
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "You are support."}]),
            "gen_ai.input.messages": json.dumps([
                {"role": "user", "parts": [{"type": "text", "content": "Where is my order #1234?"}]}]),
            "gen_ai.output.messages": json.dumps([
                {"role": "assistant", "finish_reason": "tool_call", "parts": [
                    {"type": "tool_call", "id": "call_1", "name": "search_database",
                     "arguments": {"query": "order 1234"}}]}]),
            "gen_ai.tool.definitions": json.dumps([{"type": "function", "name": "search_database"}]),
        }):
            pass
        with tracer.start_as_current_span("execute_tool search_database", attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search_database",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.call.arguments": json.dumps({"query": "order 1234"}),
            "gen_ai.tool.call.result": json.dumps({"status": "shipped"}),
        }):
            pass
        with tracer.start_as_current_span("invoke_agent researcher", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "researcher",
        }):
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
                "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini", "llm.request.type": "chat",
                "gen_ai.usage.prompt_tokens": "300", "gen_ai.usage.completion_tokens": 25,
                "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "Find heat pumps",
                "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "Three found.",
                "gen_ai.completion.0.finish_reason": "stop",
            }):
                pass
            with tracer.start_as_current_span("execute_tool fetch_weather", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "fetch_weather",
                "error.type": "TimeoutError",
            }) as failing:
                try:
                    raise TimeoutError("weather API did not answer in 5 s")
                except TimeoutError as exc:
                    failing.record_exception(exc)
                    failing.set_status(StatusCode.ERROR, "weather API did not answer in 5 s")

    # 2. OpenInference: agent → LLM (flattened messages with a tool call) → tool.
    with tracer.start_as_current_span("Agent", attributes={
        "openinference.span.kind": "AGENT", "session.id": "oi-session", "user.id": "user-7",
        "input.value": "plan a trip", "output.value": json.dumps({"answer": "done"}),
        "output.mime_type": "application/json",
    }):
        with tracer.start_as_current_span("ChatCompletion", attributes={
            "openinference.span.kind": "LLM", "llm.model_name": "claude-sonnet-4", "llm.provider": "anthropic",
            "llm.token_count.prompt": 1200, "llm.token_count.completion": 80,
            "llm.token_count.prompt_details.cache_read": 1000,
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "Be brief.",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.contents.0.message_content.type": "text",
            "llm.input_messages.1.message.contents.0.message_content.text": "Weather in Paris?",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.id": "toolu_1",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"city": "Paris"}',
            "llm.invocation_parameters": json.dumps({"max_tokens": 256}),
        }):
            pass
        with tracer.start_as_current_span("get_weather", attributes={
            "openinference.span.kind": "TOOL", "tool.name": "get_weather",
            "input.value": '{"city": "Paris"}', "input.mime_type": "application/json",
            "output.value": "18 °C, cloudy", "output.mime_type": "text/plain",
        }):
            pass

    # 3. Langfuse: no session attribute, so the trace id is the session.
    with tracer.start_as_current_span("support-run", attributes={"langfuse.observation.type": "span"}):
        with tracer.start_as_current_span("generation", attributes={
            "langfuse.observation.type": "generation", "langfuse.observation.model.name": "gpt-4.1",
            "langfuse.observation.usage_details": json.dumps({"input": 100, "output": 10,
                                                              "cache_read_input_tokens": 50}),
            "langfuse.observation.cost_details": json.dumps({"total": 0.0123}),
            "langfuse.observation.input": json.dumps([{"role": "user", "content": "hello"}]),
            "langfuse.observation.level": "ERROR", "langfuse.observation.status_message": "content filter",
            "langfuse.trace.metadata.experiment": "b",
        }):
            pass

    # 4. The session id sits on the resource: it applies to every span of the block.
    resource_exporter = InMemorySpanExporter()
    other = _provider(resource_exporter, **{"session.id": "from-resource"}).get_tracer("other")
    with other.start_as_current_span("step", attributes={"big": 2**62 + 1, "ratio": 0.5, "flag": True,
                                                         "tags": ["a", "b"], "blob": b"\x00\x01"}):
        pass
    return list(exporter.get_finished_spans()) + list(resource_exporter.get_finished_spans())


# -- serialization: the real protobuf path, both id encodings -------------------------------------------------


def protobuf_dict(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """What Python protobuf writes: base64 ids, enum names, 64-bit integers as strings."""
    request: dict[str, Any] = MessageToDict(encode_spans(spans))
    return request


def _hex_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: (base64.b64decode(value).hex() if key in ("traceId", "spanId", "parentSpanId") and value
                      else _hex_ids(value)) for key, value in node.items()}
    if isinstance(node, list):
        return [_hex_ids(item) for item in node]
    return node


def spec_dict(spans: Sequence[ReadableSpan], *, numbers: bool = False) -> dict[str, Any]:
    """The OTLP/JSON spec's encoding: hex ids, integer enums; optionally 64-bit integers as JSON numbers."""
    request: dict[str, Any] = _hex_ids(MessageToDict(encode_spans(spans), use_integers_for_enums=True))
    if numbers:
        for block in request["resourceSpans"]:
            for scope in block["scopeSpans"]:
                for span in scope["spans"]:
                    for key in ("startTimeUnixNano", "endTimeUnixNano"):
                        span[key] = int(span[key])
    return request


def lines_of(spans: Sequence[ReadableSpan], encode: Any, *, per_line: int = 1, seed: int = 3) -> bytes:
    """One request per line, `per_line` spans each, lines shuffled so children often precede parents."""
    chunks = [list(spans[i:i + per_line]) for i in range(0, len(spans), per_line)]
    random.Random(seed).shuffle(chunks)
    return b"".join(orjson.dumps(encode(chunk)) + b"\n" for chunk in chunks)


# -- Helicone log bodies ------------------------------------------------------------------------------------

START = {"seconds": 1740830400, "milliseconds": 250}  # 2025-03-01T12:00:00.250Z
END = {"seconds": 1740830401, "milliseconds": 490}


def body(request: dict[str, Any], response: dict[str, Any] | None = None, *, status: int = 200,
         meta: dict[str, str] | None = None, cost: float | None = None, text: str | None = None,
         timing: dict[str, Any] | None = None) -> dict[str, Any]:
    provider_response: dict[str, Any] = {"status": status, "headers": {"x-request-id": "r1", "set-cookie": "s"}}
    if text is not None:
        provider_response["textBody"] = text
    else:
        provider_response["json"] = response if response is not None else {}
    if cost is not None:
        provider_response["cost"] = cost
    return {
        "providerRequest": {"url": "custom-model-nopath", "json": request,
                            "meta": meta if meta is not None else {"Helicone-Session-Id": "sess-1",
                                                                   "Helicone-Session-Path": "/tools/x"}},
        "providerResponse": provider_response,
        "timing": timing if timing is not None else {"startTime": START, "endTime": END, "timeToFirstToken": 120},
    }


TOOL = body({"_type": "tool", "toolName": "search_database", "input": {"query": "order 1234"}},
            {"results": [{"id": 1234}], "count": 1},
            meta={"Helicone-Session-Id": "sess-1", "Helicone-Session-Path": "tools//search_database/",
                  "Helicone-Property-Tool-Category": "data", "Helicone-User-Id": "user-9",
                  "Helicone-Session-Name": "Support", "Helicone-Auth": "Bearer sk-secret"})
VECTOR = body({"_type": "vector_db", "operation": "search", "text": "heat pumps", "topK": 3, "databaseName": "kb"},
              {"matches": [{"id": "d1", "score": 0.9}]})
DATA = body({"_type": "data", "name": "load_profile", "meta": {"user": 7}}, {"profile": {"tier": "gold"}})
LLM = body({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
           {"id": "c1", "model": "gpt-4o-mini-2024-07-18", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1300, "completion_tokens": 20,
                      "prompt_tokens_details": {"cached_tokens": 1024}, "cost": 0.0042}})
ANTHROPIC = body({"model": "claude-3-5-sonnet", "messages": [{"role": "user", "content": "hi"}]},
                 {"model": "claude-3-5-sonnet-20241022", "content": [{"type": "text", "text": "hello"}],
                  "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100}},
                 cost=0.5)
SERVER_ERROR = body({"model": "gpt-4o", "messages": []},
                    {"error": {"message": "The server had an error", "type": "server_error"}}, status=500)
RATE_LIMITED = body({"model": "gpt-4o", "messages": []}, text="Too Many Requests", status=429)
TIMEOUT = body({"_type": "tool", "toolName": "fetch_weather", "input": {"city": "Paris"}}, {}, status=-1)
CANCELLED = body({"_type": "tool", "toolName": "fetch_weather", "input": {"city": "Oslo"}}, {}, status=-3)
