"""wrap_openai with the real openai client on httpx2's MockTransport: no network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from sdk_helpers import (
    API_KEY,
    HELICONE_KEY,
    FakeOpenAI,
    assert_no_secrets,
    chat_completion,
    error_response,
    merged_spans,
    read_lines,
    span_lines,
    tool_call,
    validate,
)

from agenttrace_tui import Tracer, wrap_openai

MESSAGES = [{"role": "user", "content": "What's the weather in SF?"}]


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    return tmp_path / "llm.jsonl"


@pytest.fixture
def tracer(trace_file: Path) -> Tracer:
    return Tracer(trace_file)


def sync_client(fake: FakeOpenAI, **options: Any) -> openai.OpenAI:
    options.setdefault("max_retries", 0)
    return openai.OpenAI(api_key=API_KEY, http_client=fake.sync_client(), **options)


def async_client(fake: FakeOpenAI, **options: Any) -> openai.AsyncOpenAI:
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(api_key=API_KEY, http_client=fake.async_client(), **options)


def only_span(trace_file: Path) -> dict[str, Any]:
    records = read_lines(trace_file)
    validate(records)
    assert_no_secrets(trace_file)
    spans = merged_spans(records)
    assert len(spans) == 1, spans
    return next(iter(spans.values()))


# -- chat.completions -----------------------------------------------------------------------------------


def test_chat_sync_records_model_usage_tool_calls(tracer: Tracer, trace_file: Path) -> None:
    fake = FakeOpenAI().reply(
        chat_completion(content=None, tool_calls=[tool_call("call_1", "search_database", {"query": "shoes"})])
    )
    client = wrap_openai(sync_client(fake), tracer)
    tools = [{"type": "function", "function": {"name": "search_database", "parameters": {"type": "object"}}}]
    with tracer.session(name="chat") as session:
        response = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=tools, temperature=0.2)
    assert response.choices[0].message.tool_calls[0].function.name == "search_database"  # type: ignore[index]

    span = only_span(trace_file)
    assert span["session_id"] == session.session_id and span["session_name"] == "chat"
    assert span["kind"] == "llm" and span["provider"] == "openai"
    assert span["name"] == "chat.completions gpt-4o"
    assert span["model"] == "gpt-4o-2024-08-06"  # the response's model wins over the requested alias
    assert span["usage"] == {"input_tokens": 120, "output_tokens": 45, "cache_read_tokens": 64, "reasoning_tokens": 16}
    assert span["input"] == {"model": "gpt-4o", "messages": MESSAGES, "tools": tools, "temperature": 0.2}
    calls = span["output"]["choices"][0]["message"]["tool_calls"]
    assert calls[0]["function"] == {"name": "search_database", "arguments": '{"query": "shoes"}'}
    assert span["status"] == "ok" and span["status_code"] == 200
    assert span["duration_ms"] >= 0 and "cost_usd" not in span
    assert client.chat.completions.create is client.chat.completions.create  # patched on the instance


async def test_chat_async(tracer: Tracer, trace_file: Path) -> None:
    fake = FakeOpenAI()
    client = wrap_openai(async_client(fake), tracer)
    with tracer.session(name="async"):
        response = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert response.choices[0].message.content == "Hello!"
    span = only_span(trace_file)
    assert span["name"] == "chat.completions gpt-4o-mini"
    assert span["output"]["choices"][0]["message"]["content"] == "Hello!"
    assert span["usage"]["cache_read_tokens"] == 64


def test_chat_stream_sync_records_first_token_and_rebuilds_output(tracer: Tracer, trace_file: Path) -> None:
    fake = FakeOpenAI(stream_delay=0.03)
    client = wrap_openai(sync_client(fake), tracer)
    with tracer.session(name="stream"):
        stream = client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        assert len(read_lines(trace_file)) == 2  # session + the span's start line: still open
        pieces = [chunk.choices[0].delta.content for chunk in stream if chunk.choices]

    assert "".join(p or "" for p in pieces) == "Checking the weather."
    span = only_span(trace_file)
    assert span["first_token_ms"] >= 30  # the first content chunk arrives after one delay (the role chunk is empty)
    assert span["first_token_ms"] < span["duration_ms"]
    message = span["output"]["choices"][0]["message"]
    assert message["content"] == "Checking the weather."
    assert message["tool_calls"] == [
        {"id": "call_w", "type": "function", "function": {"name": "fetch_weather", "arguments": '{"location": "SF"}'}}
    ]
    assert span["output"]["choices"][0]["finish_reason"] == "tool_calls"
    assert span["usage"] == {"input_tokens": 80, "output_tokens": 30, "cache_read_tokens": 32, "reasoning_tokens": 8}
    assert span["status"] == "ok" and span["status_code"] == 200
    assert span["input"]["stream"] is True


async def test_chat_stream_async(tracer: Tracer, trace_file: Path) -> None:
    fake = FakeOpenAI(stream_delay=0.02)
    client = wrap_openai(async_client(fake), tracer)
    with tracer.session(name="astream"):
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        async with stream:
            chunks = [chunk async for chunk in stream]
    assert len(chunks) == 6
    span = only_span(trace_file)
    assert span["first_token_ms"] >= 20
    assert span["output"]["choices"][0]["message"]["content"] == "Checking the weather."
    assert span["usage"]["input_tokens"] == 80


def test_stream_closed_early_still_ends_the_span(tracer: Tracer, trace_file: Path) -> None:
    client = wrap_openai(sync_client(FakeOpenAI()), tracer)
    with tracer.session(name="early"):
        with client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as stream:
            next(stream)
            next(stream)
    span = only_span(trace_file)
    assert "end_time" in span and span["status"] == "ok"
    assert span["output"]["choices"][0]["message"]["content"] == "Checking "
    assert "usage" not in span


# -- responses ------------------------------------------------------------------------------------------


def test_responses_sync(tracer: Tracer, trace_file: Path) -> None:
    client = wrap_openai(sync_client(FakeOpenAI()), tracer)
    with tracer.session(name="responses"):
        response = client.responses.create(model="gpt-4.1", input="find laptops", instructions="be brief")
    assert response.output_text == "Here you go."
    span = only_span(trace_file)
    assert span["name"] == "responses gpt-4.1" and span["model"] == "gpt-4.1-2025-04-14"
    assert span["usage"] == {
        "input_tokens": 200, "output_tokens": 60, "cache_read_tokens": 150, "cache_write_tokens": 10,
        "reasoning_tokens": 25,
    }
    assert span["input"] == {"model": "gpt-4.1", "input": "find laptops", "instructions": "be brief"}
    assert span["output"]["output"][0]["name"] == "search_database"  # the function call item
    assert span["status_code"] == 200


async def test_responses_async(tracer: Tracer, trace_file: Path) -> None:
    client = wrap_openai(async_client(FakeOpenAI()), tracer)
    with tracer.session(name="aresponses"):
        await client.responses.create(model="gpt-4.1", input="hi")
    assert only_span(trace_file)["usage"]["reasoning_tokens"] == 25


def test_responses_stream_sync(tracer: Tracer, trace_file: Path) -> None:
    client = wrap_openai(sync_client(FakeOpenAI(stream_delay=0.02)), tracer)
    with tracer.session(name="rstream"):
        events = [event.type for event in client.responses.create(model="gpt-4.1", input="hi", stream=True)]
    assert events[-1] == "response.completed"
    span = only_span(trace_file)
    assert span["first_token_ms"] >= 40  # created (no token) then the first text delta
    assert span["usage"]["cache_read_tokens"] == 150
    assert span["output"]["status"] == "completed" and span["model"] == "gpt-4.1-2025-04-14"


async def test_responses_stream_async(tracer: Tracer, trace_file: Path) -> None:
    client = wrap_openai(async_client(FakeOpenAI()), tracer)
    with tracer.session(name="arstream"):
        stream = await client.responses.create(model="gpt-4.1", input="hi", stream=True)
        types = [event.type async for event in stream]
    assert types[0] == "response.created"
    span = only_span(trace_file)
    assert span["usage"]["output_tokens"] == 60 and "first_token_ms" in span


def test_responses_failed_event_marks_error(tracer: Tracer, trace_file: Path) -> None:
    failed = {
        "id": "resp_f", "object": "response", "created_at": 1, "model": "gpt-4.1", "status": "failed",
        "output": [], "error": {"code": "server_error", "message": "The model crashed"},
    }
    fake = FakeOpenAI().reply([{"type": "response.failed", "sequence_number": 0, "response": failed}])
    client = wrap_openai(sync_client(fake), tracer)
    with tracer.session(name="failed"):
        list(client.responses.create(model="gpt-4.1", input="hi", stream=True))
    span = only_span(trace_file)
    assert span["status"] == "error"
    assert span["error"] == {"type": "server_error", "message": "The model crashed"}


# -- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"), [(429, "RateLimitError"), (500, "InternalServerError"), (400, "BadRequestError")]
)
def test_http_errors_are_recorded_and_reraised(
    tracer: Tracer, trace_file: Path, status: int, error_type: str
) -> None:
    client = wrap_openai(sync_client(FakeOpenAI().reply(error_response(status, "Slow down"))), tracer)
    with tracer.session(name="errors"), pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert type(raised.value).__name__ == error_type
    span = only_span(trace_file)
    assert span["status"] == "error" and span["status_code"] == status
    assert span["error"]["type"] == error_type
    assert "Slow down" in span["error"]["message"]
    assert "output" not in span


async def test_async_http_error(tracer: Tracer, trace_file: Path) -> None:
    client = wrap_openai(async_client(FakeOpenAI().reply(error_response(503, "overloaded"))), tracer)
    with tracer.session(name="aerrors"), pytest.raises(openai.InternalServerError):
        await client.responses.create(model="gpt-4.1", input="hi")
    span = only_span(trace_file)
    assert span["status_code"] == 503 and span["error"]["type"] == "InternalServerError"


def test_timeout_is_status_code_minus_1(tracer: Tracer, trace_file: Path) -> None:
    def time_out(request: httpx2.Request, body: Any) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    client = wrap_openai(sync_client(FakeOpenAI().reply(time_out)), tracer)
    with tracer.session(name="timeout"), pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    span = only_span(trace_file)
    assert span["status_code"] == -1 and span["status"] == "error"
    assert span["error"]["type"] == "APITimeoutError"


def test_retries_are_one_span(tracer: Tracer, trace_file: Path) -> None:
    fake = FakeOpenAI().reply(error_response(500, "flaky"), None)
    client = wrap_openai(sync_client(fake, max_retries=1), tracer)
    with tracer.session(name="retry"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(fake.requests) == 2
    assert only_span(trace_file)["status"] == "ok"


# -- headers and sessions -------------------------------------------------------------------------------


def test_helicone_headers_map_call_over_client(tracer: Tracer, trace_file: Path) -> None:
    fake = FakeOpenAI()
    client = wrap_openai(
        sync_client(
            fake,
            default_headers={
                "Helicone-Auth": f"Bearer {HELICONE_KEY}",
                "Helicone-Session-Id": "client-session",
                "Helicone-Session-Name": "Client Name",
                "Helicone-Property-Env": "prod",
                "Helicone-Property-Team": "search",
            },
        ),
        tracer,
    )
    client.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        extra_headers={
            "helicone-session-id": "call-session",  # header names are case-insensitive
            "Helicone-Session-Path": "classify//intent/",
            "HELICONE-PROPERTY-Env": "staging",
            "Helicone-User-Id": "user-7",
            "Helicone-Request-Id": "req-123",
        },
    )
    span = only_span(trace_file)
    assert span["span_id"] == "req-123"
    assert span["session_id"] == "call-session"
    assert span["session_name"] == "Client Name"
    assert span["path"] == "/classify/intent"
    assert span["properties"] == {"Env": "staging", "Team": "search"}
    assert span["user_id"] == "user-7"
    assert span["headers"]["helicone-session-id"] == "call-session"
    assert span["headers"]["Helicone-Property-Team"] == "search"
    assert not any(name.lower() == "helicone-auth" for name in span["headers"])
    assert "extra_headers" not in span["input"]
    # the headers still reach the HTTP request, exactly as through Helicone's proxy
    assert fake.requests[0].headers["helicone-session-path"] == "classify//intent/"


def test_session_argument_is_used_without_session_header(tracer: Tracer, trace_file: Path) -> None:
    with tracer.session(name="bound", properties={"Agent-Version": "v2"}, user_id="u") as bound:
        pass
    client = wrap_openai(sync_client(FakeOpenAI()), bound)
    with bound.span("/plan", kind="agent") as plan:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    spans = merged_spans(read_lines(trace_file))
    llm = next(s for s in spans.values() if s["kind"] == "llm")
    assert llm["session_id"] == bound.session_id and llm["session_name"] == "bound"
    assert llm["properties"] == {"Agent-Version": "v2"} and llm["user_id"] == "u"
    assert llm["parent_id"] == plan.span_id and llm["path"] == "/plan"


def test_tracer_argument_uses_current_session_else_a_new_one(tracer: Tracer, trace_file: Path) -> None:
    client = wrap_openai(sync_client(FakeOpenAI()), tracer)
    with tracer.session(name="current") as current:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    spans = list(merged_spans(read_lines(trace_file)).values())
    assert spans[0]["session_id"] == current.session_id
    assert spans[1]["session_id"] not in (current.session_id, spans[2]["session_id"])
    assert all(s["path"] == "/" for s in spans)


def test_wrapping_twice_does_not_double_record(tracer: Tracer, trace_file: Path) -> None:
    client = wrap_openai(wrap_openai(sync_client(FakeOpenAI()), tracer), tracer)
    with tracer.session(name="twice"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(span_lines(read_lines(trace_file), only_span(trace_file)["span_id"])) == 2


def test_api_key_and_headers_never_written(tracer: Tracer, trace_file: Path) -> None:
    fake = FakeOpenAI()
    client = wrap_openai(sync_client(fake, default_headers={"Helicone-Auth": f"Bearer {HELICONE_KEY}"}), tracer)
    with tracer.session(name="secrets"):
        client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, extra_headers={"Authorization": f"Bearer {API_KEY}"},
            extra_query={"api-key": API_KEY},
        )
        client.responses.create(model="gpt-4.1", input="hi", extra_headers={"X-Api-Key": API_KEY})
    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"  # the key was really in play
    assert_no_secrets(trace_file)


def test_raw_response_calls_are_traced_without_breaking(tracer: Tracer, trace_file: Path) -> None:
    client = wrap_openai(sync_client(FakeOpenAI()), tracer)
    with tracer.session(name="raw"):
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "Hello!"
    span = only_span(trace_file)
    assert span["status_code"] == 200 and span["status"] == "ok"


def test_input_holds_pydantic_messages_as_json(tracer: Tracer, trace_file: Path) -> None:
    fake = FakeOpenAI().reply(chat_completion(content="first"), chat_completion(content="second"))
    client = wrap_openai(sync_client(fake), tracer)
    history: list[Any] = [{"role": "user", "content": "hi"}]
    with tracer.session(name="history"):
        first = client.chat.completions.create(model="gpt-4o", messages=history)
        history.append(first.choices[0].message)  # as CompleteAgent does: a pydantic object
        client.chat.completions.create(model="gpt-4o", messages=history)
    spans = list(merged_spans(read_lines(trace_file)).values())
    assert spans[1]["input"]["messages"][1] == {"role": "assistant", "content": "first"}
    assert json.loads(fake.requests[1].content)["messages"][1]["content"] == "first"


def test_parse_and_stream_helpers_are_traced_once(tracer: Tracer, trace_file: Path) -> None:
    fake = FakeOpenAI().reply(chat_completion(content='{"city": "SF"}'))
    client = wrap_openai(sync_client(fake), tracer)
    with tracer.session(name="helpers"):
        parsed = client.chat.completions.parse(
            model="gpt-4o", messages=MESSAGES, response_format={"type": "json_object"}
        )
        with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
            for _event in stream:
                pass
            final = stream.get_final_completion()
    assert parsed.choices[0].message.content == '{"city": "SF"}'
    assert final.choices[0].message.content == "Checking the weather."
    records = read_lines(trace_file)
    validate(records)
    spans = list(merged_spans(records).values())
    assert len(spans) == len(fake.requests) == 2
    assert spans[0]["output"]["choices"][0]["message"]["content"] == '{"city": "SF"}'
    assert spans[1]["output"]["choices"][0]["message"]["content"] == "Checking the weather."
    assert all(s["status"] == "ok" for s in spans)


def test_with_options_copy_is_traced_too(tracer: Tracer, trace_file: Path) -> None:
    client = wrap_openai(sync_client(FakeOpenAI()), tracer)
    with tracer.session(name="copy"):
        client.with_options(timeout=5.0).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    span = only_span(trace_file)
    assert span["status"] == "ok" and "timeout" not in span["input"]
