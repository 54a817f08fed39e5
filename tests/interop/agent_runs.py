"""What the scripts that run a real instrumentation share (the three-run scripts: openai_v2_agent.py,
openinference_openai_agent.py, openinference_agents_sdk_agent.py, pydantic_ai_agent.py, traceloop_agent.py,
traceloop_agents_sdk_agent.py, logfire_agent.py, logfire_agents_sdk_agent.py, langfuse_agent.py): a mock Chat
Completions or Responses server, the finished spans printed as OTLP JSON requests (what the protobuf encoder
writes), one a line, or exported to a collector over OTLP/HTTP or gRPC; and what their tests share: running a
script, converting, ingesting, collecting."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import orjson
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agenttrace_tui.interop import SourceFormat, convert_file
from agenttrace_tui.store import Store
from agenttrace_tui.store.write.ingest import expand_inputs, ingest
from agenttrace_tui.tui.loaders.session import SessionLoader


def chat_completion(number: int, message: dict[str, Any], finish_reason: str, usage: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={
        "id": f"c{number}", "object": "chat.completion", "created": 1, "model": RESPONSE_MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}], "usage": usage})


def print_otlp(spans: Iterable[ReadableSpan]) -> None:
    for span in spans:
        print(json.dumps(MessageToDict(encode_spans([span]))))


# -- the scripted server of the three-run scripts (openai_v2_agent.py, openinference_openai_agent.py, ...) --------

MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
WEATHER_TOOL: dict[str, Any] = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TOOL_CALL_USAGE: dict[str, Any] = {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60,
                                   "prompt_tokens_details": {"cached_tokens": 20},
                                   "completion_tokens_details": {"reasoning_tokens": 0}}
ANSWER_USAGE: dict[str, Any] = {"prompt_tokens": 70, "completion_tokens": 8, "total_tokens": 78}
STREAM_USAGE: dict[str, Any] = {"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25}
RETRIED_USAGE: dict[str, Any] = {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35}
STREAM_PIECES = ("Sunny", ", 18 C")
RATE_LIMITED = "Rate limit reached for gpt-4o-mini"


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content)
    return ""


def _chunk(delta: dict[str, Any] | None, finish: str | None = None,
           usage: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"id": "c-stream", "object": "chat.completion.chunk", "created": 1, "model": RESPONSE_MODEL,
                            "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        body["usage"] = usage
    return "data: " + json.dumps(body) + "\n\n"


class ChatServer:
    """A mock Chat Completions server (an httpx.MockTransport handler: no network) whose reply depends on the
    request, so one script can drive several runs in any order:

    - a last user message containing a word of `rate_limited` is answered 429 (`retry-after-ms: 1`, so the
      client's own retry does not wait) as many times as that word's count, then as below;
    - `stream: true`: an SSE stream of STREAM_PIECES, finish `stop`, then a usage chunk (STREAM_USAGE) when
      `stream_options.include_usage` asks for it;
    - the last message a tool result: the answer, `Sunny in <city>.` (ANSWER_USAGE);
    - tools offered: a `get_weather` call (id call_1) for the city the user named (TOOL_CALL_USAGE);
    - else a plain answer (RETRIED_USAGE).
    Every reply names RESPONSE_MODEL; `requests` keeps the bodies received."""

    def __init__(self, rate_limited: dict[str, int] | None = None) -> None:
        self.rate_limited = dict(rate_limited or {})
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        messages = body.get("messages") or []
        asked = _last_user_text(messages)
        for word, left in self.rate_limited.items():
            if word in asked and left > 0:
                self.rate_limited[word] = left - 1
                return httpx.Response(429, headers={"retry-after-ms": "1"}, json={"error": {
                    "message": RATE_LIMITED, "type": "requests", "code": "rate_limit_exceeded", "param": None}})
        city = next((c for c in ("Paris", "Oslo", "Rome") if c in asked), "Paris")
        if body.get("stream"):
            sse = _chunk({"role": "assistant", "content": ""}) + "".join(
                _chunk({"content": piece}, "stop" if i == len(STREAM_PIECES) - 1 else None)
                for i, piece in enumerate(STREAM_PIECES))
            if (body.get("stream_options") or {}).get("include_usage"):
                sse += _chunk(None, usage=STREAM_USAGE)
            return httpx.Response(200, headers={"content-type": "text/event-stream"},
                                  content=(sse + "data: [DONE]\n\n").encode())
        number = len(self.requests)
        if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
            return chat_completion(number, {"role": "assistant", "content": f"Sunny in {city}."}, "stop", ANSWER_USAGE)
        if body.get("tools"):
            call = {"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}
            return chat_completion(number, {"role": "assistant", "content": None, "tool_calls": [call]},
                                   "tool_calls", TOOL_CALL_USAGE)
        return chat_completion(number, {"role": "assistant", "content": f"Cloudy in {city}."}, "stop", RETRIED_USAGE)


class SpanOutput:
    """Where a script's spans go: kept in memory and printed as OTLP JSON lines at the end (`finish`), or, when the
    script is given `--collector URL`, posted by the real OTLPSpanExporter (OTLP/HTTP, protobuf) to that
    collector as each span ends (SimpleSpanProcessor: one request per span, children first); with
    `--grpc HOST:PORT`, the same by the real gRPC OTLPSpanExporter (opentelemetry-exporter-otlp-proto-grpc)."""

    def __init__(self, argv: list[str]) -> None:
        self.memory: InMemorySpanExporter | None = None
        exporter: SpanExporter
        if "--collector" in argv:
            url = argv[argv.index("--collector") + 1]
            exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", timeout=30)
        elif "--grpc" in argv:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcSpanExporter,
            )

            exporter = GrpcSpanExporter(endpoint=argv[argv.index("--grpc") + 1], insecure=True, timeout=30)
        else:
            exporter = self.memory = InMemorySpanExporter()
        self.exporter = exporter  # for an SDK that takes an exporter, not a processor (Langfuse)
        self.processor = SimpleSpanProcessor(exporter)

    def finish(self) -> None:
        self.processor.force_flush()
        if self.memory is not None:
            print_otlp(self.memory.get_finished_spans())


# -- for the tests that run these scripts ------------------------------------------------------------------


def run_script(script: Path, *args: str) -> bytes:
    """The script's stdout (its spans as OTLP JSON lines); fails the test with its stderr when it fails."""
    run = subprocess.run([sys.executable, str(script), *args], capture_output=True, check=False, timeout=300)
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    return run.stdout


def converted(lines: bytes) -> list[dict[str, Any]]:
    """The records agenttrace makes of the lines, by start time."""
    result = convert_file(SourceFormat.OTLP, lines)
    assert result.rejects == []
    return sorted((orjson.loads(raw) for _, raw in result.records), key=lambda r: r["start_time"])


def sessions_of(records: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """session id → kind → records (by start time)."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for record in records:
        found.setdefault(record["session_id"], {}).setdefault(record["kind"], []).append(record)
    return found


def ingested(lines: bytes, directory: Path) -> Store:
    """A store that ingested the lines (a file, as `agenttrace ingest` reads it)."""
    trace = directory / "trace.jsonl"
    trace.write_bytes(lines)
    assert ingest(directory / "store.duckdb", expand_inputs([str(trace)])[0]).ok
    return Store(directory / "store.duckdb")


def collected(script: Path, directory: Path, expected_spans: int, *args: str,
              grpc: bool = False) -> dict[str, dict[str, Any]]:
    """The spans stored by `agenttrace serve` (in a thread, on a free loopback port) after the script posted its
    own with the real OTLPSpanExporter (`--collector URL`), or with `grpc` the real gRPC one to the collector's
    OTLP/gRPC port (`--grpc HOST:PORT`), by span id."""
    from serve_helpers import (  # the collector's helpers: tests only
        serving,
        spans_by_id,
        wait_for_count,
    )

    with serving(directory, **({"grpc_port": 0} if grpc else {})) as server:
        if grpc:
            assert server.grpc_port
            run_script(script, *args, "--grpc", f"localhost:{server.grpc_port}")
        else:
            run_script(script, *args, "--collector", server.url)
        assert wait_for_count(server.db, expected_spans) == expected_spans
    spans: dict[str, dict[str, Any]] = spans_by_id(server.db)
    return spans


def tool_links(store: Store, session_id: str, llm_span_id: str) -> dict[str, str]:
    """call id → the span id of the tool span that answered it, as the session screen links them."""
    detail, links = SessionLoader(store, session_id).read_detail(llm_span_id)
    assert detail is not None
    return {call_id: row.span_id for call_id, row in links.items()}


def _responses_user_text(items: Any) -> str:
    if isinstance(items, str):
        return items
    texts = [str(i.get("content")) for i in items or [] if isinstance(i, dict) and i.get("role") == "user"]
    return texts[-1] if texts else ""


class ResponsesServer:
    """A mock Responses API server (an httpx.MockTransport handler), the same script as ChatServer: a word of
    `rate_limited` in the user's input → 429 that many times; a last input item that is a function_call_output →
    the answer `Sunny in <city>.`; tools offered → a `get_weather` function_call (call_id call_1); `stream: true` →
    the same reply as SSE events (created, output item added and done, completed). Usage: TOOL_CALL_USAGE's and
    ANSWER_USAGE's counts in the Responses shape."""

    def __init__(self, rate_limited: dict[str, int] | None = None) -> None:
        self.rate_limited = dict(rate_limited or {})
        self.requests: list[dict[str, Any]] = []

    @staticmethod
    def _response(number: int, output: list[dict[str, Any]], usage: dict[str, Any], status: str) -> dict[str, Any]:
        return {"id": f"resp_{number}", "object": "response", "created_at": 1, "status": status,
                "model": RESPONSE_MODEL, "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
                "tools": [], "usage": {
                    "input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                    "total_tokens": usage["total_tokens"],
                    "input_tokens_details": {"cached_tokens": (usage.get("prompt_tokens_details") or {}).get(
                        "cached_tokens", 0)},
                    "output_tokens_details": {"reasoning_tokens": 0}}}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        items = body.get("input")
        asked = _responses_user_text(items)
        for word, left in self.rate_limited.items():
            if word in asked and left > 0:
                self.rate_limited[word] = left - 1
                return httpx.Response(429, headers={"retry-after-ms": "1"}, json={"error": {
                    "message": RATE_LIMITED, "type": "requests", "code": "rate_limit_exceeded", "param": None}})
        city = next((c for c in ("Paris", "Oslo", "Rome") if c in asked), "Paris")
        number = len(self.requests)
        last = items[-1] if isinstance(items, list) and items else None
        if isinstance(last, dict) and last.get("type") == "function_call_output" or not body.get("tools"):
            item: dict[str, Any] = {"type": "message", "id": f"msg_{number}", "role": "assistant",
                                    "status": "completed", "content": [
                                        {"type": "output_text", "text": f"Sunny in {city}.", "annotations": []}]}
            usage = ANSWER_USAGE
        else:
            item = {"type": "function_call", "id": f"fc_{number}", "call_id": "call_1", "name": "get_weather",
                    "arguments": json.dumps({"city": city}), "status": "completed"}
            usage = TOOL_CALL_USAGE
        final = self._response(number, [item], usage, "completed")
        if not body.get("stream"):
            return httpx.Response(200, json=final)
        created = {**self._response(number, [], usage, "in_progress"), "usage": None}
        events = [{"type": "response.created", "sequence_number": 0, "response": created},
                  {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": item},
                  {"type": "response.output_item.done", "sequence_number": 2, "output_index": 0, "item": item},
                  {"type": "response.completed", "sequence_number": 3, "response": final}]
        sse = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse.encode())
