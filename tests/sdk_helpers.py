"""Shared helpers for the SDK tests: reading trace files, and a fake OpenAI API behind httpx2's MockTransport."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx2
import jsonschema

from agenttrace_tui.format import json_schema

API_KEY = "sk-test-DO-NOT-WRITE-0123456789"
"""The fake OpenAI key: must never appear in a trace file."""

HELICONE_KEY = "sk-helicone-DO-NOT-WRITE-9876543210"


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a trace file, parsed; fails the test on a line that isn't one complete JSON object."""
    records = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        record = json.loads(line)
        assert isinstance(record, dict), f"line {number} is not an object"
        records.append(record)
    return records


def merged_spans(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Span lines merged by span_id, later non-null wins (the ingest rule), in first-seen order."""
    spans: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.get("type", "span") != "span":
            continue
        merged = spans.setdefault(record["span_id"], {})
        merged.update({k: v for k, v in record.items() if v is not None})
    return spans


def span_lines(records: list[dict[str, Any]], span_id: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("type") == "span" and r.get("span_id") == span_id]


def validate(records: list[dict[str, Any]]) -> None:
    """Each line alone against the shipped JSON Schema: the SDK must only ever write valid lines."""
    validator = jsonschema.Draft202012Validator(json_schema())
    for record in records:
        validator.validate(record)


def assert_no_secrets(path: Path) -> None:
    text = path.read_text("utf-8")
    assert API_KEY not in text
    assert HELICONE_KEY not in text
    assert "authorization" not in text.lower()


# -- a fake OpenAI API ---------------------------------------------------------------------------------


def chat_completion(
    *,
    content: str | None = "Hello!",
    tool_calls: list[dict[str, Any]] | None = None,
    model: str = "gpt-4o-2024-08-06",
    usage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1718000000,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}
        ],
        "usage": dict(
            usage
            or {
                "prompt_tokens": 120,
                "completion_tokens": 45,
                "total_tokens": 165,
                "prompt_tokens_details": {"cached_tokens": 64},
                "completion_tokens_details": {"reasoning_tokens": 16},
            }
        ),
    }


def tool_call(call_id: str, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def chat_chunks(model: str = "gpt-4o-2024-08-06") -> list[dict[str, Any]]:
    """A streamed answer: two text pieces, a tool call split over two chunks, then usage."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-s",
            "object": "chat.completion.chunk",
            "created": 1718000000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    return [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Checking "}),
        chunk({"content": "the weather."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_w", "type": "function",
                               "function": {"name": "fetch_weather", "arguments": '{"loca'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'tion": "SF"}'}}]}, "tool_calls"),
        {
            "id": "chatcmpl-s",
            "object": "chat.completion.chunk",
            "created": 1718000000,
            "model": model,
            "choices": [],
            "usage": {
                "prompt_tokens": 80,
                "completion_tokens": 30,
                "total_tokens": 110,
                "prompt_tokens_details": {"cached_tokens": 32},
                "completion_tokens_details": {"reasoning_tokens": 8},
            },
        },
    ]


def response_object(model: str = "gpt-4.1-2025-04-14", status: str = "completed") -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1718000000,
        "model": model,
        "status": status,
        "output": [
            {"type": "function_call", "id": "fc_1", "call_id": "call_s", "name": "search_database",
             "arguments": '{"query": "laptops"}', "status": "completed"},
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Here you go.", "annotations": []}]},
        ],
        "usage": {
            "input_tokens": 200,
            "input_tokens_details": {"cached_tokens": 150, "cache_write_tokens": 10},
            "output_tokens": 60,
            "output_tokens_details": {"reasoning_tokens": 25},
            "total_tokens": 260,
        },
    }


def response_events(model: str = "gpt-4.1-2025-04-14") -> list[dict[str, Any]]:
    final = response_object(model)
    started = {**final, "status": "in_progress", "output": [], "usage": None}
    return [
        {"type": "response.created", "sequence_number": 0, "response": started},
        {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1", "output_index": 1,
         "content_index": 0, "delta": "Here you ", "logprobs": []},
        {"type": "response.output_text.delta", "sequence_number": 2, "item_id": "msg_1", "output_index": 1,
         "content_index": 0, "delta": "go.", "logprobs": []},
        {"type": "response.completed", "sequence_number": 3, "response": final},
    ]


def sse(events: list[dict[str, Any]], *, delay: float = 0.0, named: bool = False, done: bool = True) -> Iterator[bytes]:
    """A Server-Sent Events body, each event `delay` seconds after the previous (so first_token_ms is real)."""
    for event in events:
        if delay:
            time.sleep(delay)
        prefix = f"event: {event['type']}\n" if named else ""
        yield f"{prefix}data: {json.dumps(event)}\n\n".encode()
    if done:
        yield b"data: [DONE]\n\n"


class FakeOpenAI:
    """The OpenAI HTTP API, in process. Queue answers with `reply(...)`; every request is kept in `requests`.

    An answer is a JSON body, an httpx2.Response, an exception to raise (a timeout), or a callable.
    Streaming requests get an SSE body built from `chat_chunks()` / `response_events()` unless queued.
    """

    def __init__(self, *, stream_delay: float = 0.0) -> None:
        self.requests: list[httpx2.Request] = []
        self.bodies: list[dict[str, Any]] = []
        self._queue: list[Any] = []
        self.stream_delay = stream_delay

    def reply(self, *answers: Any) -> FakeOpenAI:
        self._queue.extend(answers)
        return self

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        return self.respond(request, asynchronous=False)

    def respond(self, request: httpx2.Request, *, asynchronous: bool) -> httpx2.Response:
        self.requests.append(request)
        body = json.loads(request.content or b"{}")
        self.bodies.append(body)
        answer = self._queue.pop(0) if self._queue else None
        if callable(answer) and not isinstance(answer, httpx2.Response):
            answer = answer(request, body)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, httpx2.Response):
            return answer
        is_responses = request.url.path.endswith("/responses")
        if body.get("stream"):
            if is_responses:
                events = answer or response_events()
                stream = sse(events, delay=self.stream_delay, named=True, done=False)
            else:
                stream = sse(answer or chat_chunks(), delay=self.stream_delay)
            content: Any = _async_iter(stream) if asynchronous else stream  # an AsyncClient needs async bytes
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=content)
        default = response_object() if is_responses else chat_completion()
        return httpx2.Response(200, json=answer if answer is not None else default)

    def sync_client(self, **options: Any) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self), **options)

    def async_client(self, **options: Any) -> httpx2.AsyncClient:
        async def handler(request: httpx2.Request) -> httpx2.Response:
            return self.respond(request, asynchronous=True)

        return httpx2.AsyncClient(transport=httpx2.MockTransport(handler), **options)


async def _async_iter(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:  # the sync sleeps in `sse` stand in for network waits; fine for a test
        yield chunk
        await asyncio.sleep(0)


def error_response(status: int, message: str = "Rate limit reached", code: str = "api_error") -> httpx2.Response:
    return httpx2.Response(status, json={"error": {"message": message, "type": "requests", "code": code}})


# -- the multiprocess writer ---------------------------------------------------------------------------


def write_many_spans(path: str, worker: int, count: int) -> None:
    """Process body for the concurrency test: `count` spans, with payloads big enough to cross page sizes."""
    from agenttrace_tui import Tracer

    tracer = Tracer(path)
    with tracer.session(name=f"worker-{worker}", session_id=f"w{worker}") as session:
        for index in range(count):
            payload = f"{worker}:{index}:" + "x" * (index * 7 % 9000)
            with session.span(f"/w/{worker}", name=f"s{index}", kind="tool", input={"payload": payload}) as span:
                span.set_output({"n": index})
    tracer.close()
