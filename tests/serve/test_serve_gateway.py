"""The gateway: the real openai client → agenttrace serve → a mock OpenAI server on loopback, and back.

The seed's TrackedAgent works by changing its base_url alone; calls are recorded as llm spans placed by their
Helicone headers; those headers and our token never reach the upstream; the provider key reaches it and
nowhere else.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import string
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from serve_helpers import asgi_on_loopback, serving, spans_by_id, wait_for_count

PROVIDER_KEY = "sk-test-provider-key-0123456789abcdef"
HELICONE_KEY = "sk-helicone-test-key-abcdef"
TOKEN = "gateway-test-token-0123456789"
USAGE = {"prompt_tokens": 1850, "completion_tokens": 42, "total_tokens": 1892,
         "prompt_tokens_details": {"cached_tokens": 1536}}


class MockUpstream:
    """An OpenAI-compatible server: chat completions and responses, streamed or not; remembers what it got."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.first_chunk_received = threading.Event()  # set by the test once its client has the first chunk
        self.rest_sent_after_first_seen: bool | None = None
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/responses", self.responses, methods=["POST"]),
        ])

    async def _wait_for_client(self) -> None:
        for _ in range(1000):  # up to ~10 s; if the gateway buffered, the client never sees the first chunk
            if self.first_chunk_received.is_set():
                self.rest_sent_after_first_seen = True
                return
            await asyncio.sleep(0.01)
        self.rest_sent_after_first_seen = False

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append((request.url.path, dict(request.headers), body))
        if body["model"] == "overloaded":
            return JSONResponse({"error": {"message": "Rate limit reached", "type": "rate_limit_error",
                                           "code": "rate_limit_exceeded"}}, status_code=429)
        if not body.get("stream"):
            return JSONResponse({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1740830400, "model": "gpt-4o-2024-08-06",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "It is sunny in San Francisco."}}],
                "usage": USAGE,
            }, headers={"x-request-id": "req-upstream-1"})

        async def events() -> AsyncIterator[bytes]:
            base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1740830400,
                    "model": "gpt-4o-2024-08-06"}
            first = {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Sun"}}]}
            yield f"data: {json.dumps(first)}\n\n".encode()
            await self._wait_for_client()
            for piece in ("ny ", "today."):
                chunk = {**base, "choices": [{"index": 0, "delta": {"content": piece}}]}
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(last)}\n\n".encode()
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': USAGE})}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def responses(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append((request.url.path, dict(request.headers), body))
        response = {
            "id": "resp_1", "object": "response", "created_at": 1740830400, "status": "completed",
            "model": "o3-mini-2025-01-31", "output": [{
                "type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": "Forty-two.", "annotations": []}]}],
            "usage": {"input_tokens": 20, "output_tokens": 30, "total_tokens": 50,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 24}},
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        }
        if not body.get("stream"):
            return JSONResponse(response)

        async def events() -> AsyncIterator[bytes]:
            in_progress = {**response, "status": "in_progress", "output": [], "usage": None}
            sequence = [
                {"type": "response.created", "response": in_progress, "sequence_number": 0},
                {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0,
                 "delta": "Forty-two.", "sequence_number": 1, "logprobs": []},
                {"type": "response.completed", "response": response, "sequence_number": 2},
            ]
            for event in sequence:
                yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture()
def upstream() -> Any:
    mock = MockUpstream()
    with asgi_on_loopback(mock.app) as url:
        yield mock, url


class TrackedAgent:
    """The seed's TrackedAgent, verbatim but for base_url (and the mock key in place of the env var)."""

    def __init__(self, base_url: str):
        self.client = OpenAI(
            api_key=PROVIDER_KEY,
            base_url=base_url,
            default_headers={
                "Helicone-Auth": f"Bearer {HELICONE_KEY}"
            },
            max_retries=0,
        )
        random_id = ''.join(random.choices(string.ascii_lowercase + string.digits, k=9))
        self.session_id = f"agent-{int(time.time())}-{random_id}"

    def make_request(self, path: str, messages: list[Any]) -> Any:
        return self.client.chat.completions.create(
            model="gpt-4o",
            messages=messages,
            extra_headers={
                "Helicone-Session-Id": self.session_id,
                "Helicone-Session-Name": "AI Agent",
                "Helicone-Session-Path": path,
                "Helicone-Property-Agent-Version": "v1.0"
            }
        )


def _no_secrets_anywhere(server_db: Path, spool_dir: Path) -> None:
    blobs = [server_db.read_bytes(), *(p.read_bytes() for p in spool_dir.iterdir() if p.is_file())]
    wal = server_db.with_name(server_db.name + ".wal")
    if wal.exists():
        blobs.append(wal.read_bytes())
    for blob in blobs:
        for secret in (PROVIDER_KEY, HELICONE_KEY, TOKEN):
            assert secret.encode() not in blob


def test_the_seed_agent_works_by_changing_base_url_alone(tmp_path: Path, upstream: Any) -> None:
    mock, upstream_url = upstream
    with serving(tmp_path, upstream=upstream_url) as server:
        agent = TrackedAgent(base_url=f"{server.url}/v1")
        reply = agent.make_request("/initial-query", [{"role": "user", "content": "Weather in SF?"}])
        assert reply.choices[0].message.content == "It is sunny in San Francisco."
        assert reply.usage is not None and reply.usage.prompt_tokens == 1850
        assert wait_for_count(server.db, 1) == 1
    ((path, headers, body),) = mock.requests
    assert path == "/v1/chat/completions" and body["model"] == "gpt-4o"
    assert headers["authorization"] == f"Bearer {PROVIDER_KEY}"  # the provider key goes through
    assert [name for name in headers if name.startswith("helicone-") or name == "x-agenttrace-token"] == []
    (span,) = spans_by_id(server.db).values()
    assert span["session_id"] == agent.session_id and span["session_name"] == "AI Agent"
    assert span["path"] == "/initial-query" and span["kind"] == "llm" and span["status"] == "ok"
    # The openai client lowercases header names on the wire (seen with a raw socket): that is what arrives.
    assert json.loads(span["properties"]) == {"agent-version": "v1.0"}
    assert span["model"] == "gpt-4o-2024-08-06" and span["provider"] is None
    assert (span["input_tokens"], span["output_tokens"], span["cache_read_tokens"]) == (1850, 42, 1536)
    assert json.loads(span["input"])["messages"] == [{"role": "user", "content": "Weather in SF?"}]
    assert json.loads(span["output"])["choices"][0]["message"]["content"] == "It is sunny in San Francisco."
    assert span["status_code"] == 200 and span["duration_ms"] >= 0
    _no_secrets_anywhere(server.db, server.spool_dir)


def test_a_stream_passes_chunk_by_chunk_and_is_recorded_whole(tmp_path: Path, upstream: Any) -> None:
    mock, upstream_url = upstream
    with serving(tmp_path, upstream=upstream_url, token=TOKEN) as server:
        client = OpenAI(api_key=PROVIDER_KEY, base_url=f"{server.url}/v1", max_retries=0,
                        default_headers={"X-Agenttrace-Token": TOKEN})
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Weather?"}], stream=True,
            stream_options={"include_usage": True},
            extra_headers={"Helicone-Session-Id": "stream-1", "Helicone-Session-Path": "/iteration/0",
                           "Helicone-User-Id": "user-981", "Helicone-Request-Id": "req-stream-1"},
        )
        pieces = []
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
                mock.first_chunk_received.set()
        assert "".join(pieces) == "Sunny today."
        assert wait_for_count(server.db, 1) == 1
    assert mock.rest_sent_after_first_seen is True  # the client had chunk 1 before the upstream sent chunk 2
    assert "x-agenttrace-token" not in mock.requests[0][1]
    span = spans_by_id(server.db)["req-stream-1"]
    assert (span["session_id"], span["path"], span["user_id"]) == ("stream-1", "/iteration/0", "user-981")
    assert json.loads(span["output"])["choices"][0]["message"]["content"] == "Sunny today."
    assert span["first_token_ms"] is not None and span["input_tokens"] == 1850
    _no_secrets_anywhere(server.db, server.spool_dir)


@pytest.mark.parametrize("stream", [False, True])
def test_responses_api_streamed_and_not(tmp_path: Path, upstream: Any, stream: bool) -> None:
    _, upstream_url = upstream
    with serving(tmp_path, upstream=upstream_url + "/v1") as server:  # a /v1 upstream means the same
        client = OpenAI(api_key=PROVIDER_KEY, base_url=f"{server.url}/v1", max_retries=0)
        headers = {"Helicone-Session-Id": "resp-1", "Helicone-Property-Experiment": "canary"}
        if stream:
            events = list(client.responses.create(model="o3-mini", input="What is 6x7?", stream=True,
                                                  extra_headers=headers))
            assert events[-1].type == "response.completed"
        else:
            assert client.responses.create(model="o3-mini", input="What is 6x7?",
                                           extra_headers=headers).output_text == "Forty-two."
        assert wait_for_count(server.db, 1) == 1
    (span,) = spans_by_id(server.db).values()
    assert span["name"] == "responses o3-mini-2025-01-31" and span["session_id"] == "resp-1"
    assert (span["input_tokens"], span["output_tokens"], span["reasoning_tokens"]) == (20, 30, 24)
    assert json.loads(span["properties"]) == {"experiment": "canary"}
    assert (span["first_token_ms"] is not None) == stream


def test_upstream_errors_reach_the_client_and_the_store(tmp_path: Path, upstream: Any) -> None:
    _, upstream_url = upstream
    with serving(tmp_path, upstream=upstream_url) as server:
        client = OpenAI(api_key=PROVIDER_KEY, base_url=f"{server.url}/v1", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="overloaded", messages=[{"role": "user", "content": "hi"}],
                                           extra_headers={"Helicone-Session-Id": "err-1"})
        assert wait_for_count(server.db, 1) == 1
    (span,) = spans_by_id(server.db).values()
    assert (span["status"], span["status_code"], span["error_type"]) == ("error", 429, "rate_limit_error")
    assert span["error_message"] == "Rate limit reached"


def test_an_unreachable_upstream_is_a_502_and_a_recorded_error(tmp_path: Path) -> None:
    with asgi_on_loopback(Starlette()) as gone:
        pass  # the port is free again: nothing listens there
    with serving(tmp_path, upstream=gone) as server:
        response = httpx.post(f"{server.url}/v1/chat/completions", json={"model": "gpt-4o", "messages": []},
                              headers={"Authorization": f"Bearer {PROVIDER_KEY}", "Helicone-Session-Id": "down"})
        assert response.status_code == 502 and response.json()["error"]["type"] == "upstream_unreachable"
        assert wait_for_count(server.db, 1) == 1
    (span,) = spans_by_id(server.db).values()
    assert (span["session_id"], span["status"], span["status_code"]) == ("down", "error", 502)
    assert span["error_type"] == "upstream_unreachable"
    _no_secrets_anywhere(server.db, server.spool_dir)


def test_property_names_keep_the_case_the_client_wrote(tmp_path: Path, upstream: Any) -> None:
    """ASGI lowercases header names; the server's protocol keeps the written names of Helicone headers."""
    mock, upstream_url = upstream
    headers = {"Authorization": f"Bearer {PROVIDER_KEY}", "Helicone-Session-Id": "case-1",
               "Helicone-Property-Agent-Version": "v1.1", "helicone-property-tier": "gold",
               "X-Agenttrace-Helicone-Names": "Helicone-Property-TIER"}  # a forged copy is ignored
    with serving(tmp_path, upstream=upstream_url) as server:
        response = httpx.post(f"{server.url}/v1/chat/completions", headers=headers,
                              json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        assert response.status_code == 200
        assert wait_for_count(server.db, 1) == 1
    (span,) = spans_by_id(server.db).values()
    assert json.loads(span["properties"]) == {"Agent-Version": "v1.1", "tier": "gold"}
    assert [name for name in mock.requests[0][1] if name.startswith(("helicone-", "x-agenttrace"))] == []


def test_a_client_hanging_up_mid_stream_is_a_cancelled_span(tmp_path: Path, upstream: Any) -> None:
    mock, upstream_url = upstream
    with serving(tmp_path, upstream=upstream_url) as server:
        with httpx.stream("POST", f"{server.url}/v1/chat/completions",
                          json={"model": "gpt-4o", "messages": [], "stream": True},
                          headers={"Helicone-Session-Id": "gone-1"}) as response:
            first = next(response.iter_raw())
            assert b"Sun" in first
        mock.first_chunk_received.set()  # let the upstream finish; the client is gone
        assert wait_for_count(server.db, 1) == 1
    (span,) = spans_by_id(server.db).values()
    assert (span["session_id"], span["status"], span["status_code"]) == ("gone-1", "error", -3)
    assert json.loads(span["output"])["choices"][0]["message"]["content"].startswith("Sun")


def test_without_upstream_the_gateway_says_how_to_turn_it_on(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        response = httpx.post(f"{server.url}/v1/chat/completions", json={"model": "gpt-4o"})
    assert response.status_code == 404 and "--upstream" in response.json()["error"]["message"]


def test_seed_complete_agent_loop_with_env_base_url(tmp_path: Path, upstream: Any, monkeypatch: Any) -> None:
    """OPENAI_BASE_URL alone also points an unchanged agent at the gateway."""
    _, upstream_url = upstream
    with serving(tmp_path, upstream=upstream_url) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", PROVIDER_KEY)
        client = OpenAI(max_retries=0)
        for i in range(3):
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": f"step {i}"}],
                extra_headers={"Helicone-Session-Id": "loop-1", "Helicone-Session-Name": "Complete Agent",
                               "Helicone-Session-Path": f"/iteration/{i}", "Helicone-Property-Iteration": str(i)},
            )
        assert wait_for_count(server.db, 3) == 3
    paths = sorted(span["path"] for span in spans_by_id(server.db).values())
    assert paths == ["/iteration/0", "/iteration/1", "/iteration/2"]
    assert os.environ.get("OPENAI_BASE_URL", "").startswith("http://127.0.0.1")
