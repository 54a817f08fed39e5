"""A scripted stand-in for the OpenAI API, served to the real `openai` client through an httpx mock transport.

Each scenario pushes the replies it wants (tool calls, a final answer, an HTTP error, a timeout); the mock
answers requests in that order with realistic bodies: dated model snapshots, tool-call ids, usage with cached
and reasoning tokens. Latency is simulated by advancing the demo's fake clock, so nothing waits and every
number comes from the seeded random generator.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx2
from openai import OpenAI

from agenttrace_tui.demo.clock import FakeClock

MOCK_BASE_URL: Final = "https://mock-llm.invalid/v1"
"""Never resolved: the mock transport answers before any connection (`.invalid` is reserved, RFC 2606)."""

SYSTEM_PROMPT_TOKENS: Final = 1400
"""The support agents' system prompt stands for a 1,400-token support policy; the trace keeps only a marker,
so sample files stay small while prompt sizes (and prompt caching, which starts at 1,024 tokens) stay real."""

ELIDED_POLICY_MARKER: Final = "[support policy v3: 1,400 tokens, elided in the demo]"
"""A prompt containing this marker is counted as SYSTEM_PROMPT_TOKENS longer."""

CACHE_BLOCK_TOKENS: Final = 128
"""OpenAI caches prompt prefixes in 128-token blocks, starting at 1,024 tokens."""

CACHE_MIN_TOKENS: Final = 1024
CACHE_TTL_S: Final = 600.0
"""A cached prefix is reused for a few minutes of inactivity (OpenAI says 5-10); the mock uses 10."""

CACHE_MISS_RATE: Final = 0.2
"""Caching is best effort: a share of eligible requests still miss."""

TIMEOUT_S: Final = 30.0
"""How long a timed-out request hangs before the client gives up (the demo client's read timeout)."""

MODEL_SNAPSHOTS: Final = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "o3-mini": "o3-mini-2025-01-31",
}
"""Request model → the dated snapshot the API reports back, as the real API does."""


@dataclass(frozen=True)
class ModelProfile:
    """Simulated speed of one model."""

    first_token_s: float
    """Mean time to first token."""
    tokens_per_s: float
    """Output speed after the first token."""
    reasoning: bool = False
    """Reasoning models spend hidden reasoning tokens before answering."""


PROFILES: Final = {
    "gpt-4o": ModelProfile(first_token_s=0.45, tokens_per_s=80.0),
    "gpt-4o-mini": ModelProfile(first_token_s=0.30, tokens_per_s=120.0),
    "o3-mini": ModelProfile(first_token_s=0.9, tokens_per_s=150.0, reasoning=True),
    "acme-llm-1": ModelProfile(first_token_s=0.6, tokens_per_s=60.0),
}
DEFAULT_PROFILE: Final = ModelProfile(first_token_s=0.5, tokens_per_s=90.0)


@dataclass(frozen=True)
class ToolCall:
    """A tool call the mock model asks for."""

    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build with `Reply.tools`, `Reply.answer`, `Reply.http_error` or `Reply.timeout`."""

    tool_calls: tuple[ToolCall, ...] = ()
    content: str | None = None
    status: int = 200
    error_type: str | None = None
    error_message: str | None = None
    hang: bool = False

    @classmethod
    def tools(cls, *calls: ToolCall) -> Reply:
        return cls(tool_calls=calls)

    @classmethod
    def answer(cls, text: str) -> Reply:
        return cls(content=text)

    @classmethod
    def http_error(cls, status: int) -> Reply:
        kinds = {
            429: ("rate_limit_exceeded", "Rate limit reached for requests per min (RPM): Limit 500, Used 500."),
            500: ("server_error", "The server had an error while processing your request. Sorry about that!"),
            503: ("server_error", "The engine is currently overloaded, please try again later."),
        }
        error_type, message = kinds.get(status, ("invalid_request_error", "Bad request."))
        return cls(status=status, error_type=error_type, error_message=message)

    @classmethod
    def timeout(cls) -> Reply:
        return cls(hang=True)


@dataclass
class _PrefixCache:
    """Prompt prefixes seen recently, by hash → simulated time last used."""

    last_used: dict[str, float] = field(default_factory=dict)


class ScriptExhausted(AssertionError):
    """A scenario made more LLM calls than it scripted: a bug in the demo, not a simulated failure."""


class MockLLM:
    """Answers chat-completion requests from a script, advancing the fake clock by simulated latency."""

    def __init__(self, clock: FakeClock, rng: random.Random) -> None:
        self.clock = clock
        self.rng = rng
        self.script: deque[Reply] = deque()
        self.requests_served = 0
        self._cache = _PrefixCache()

    def push(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def client(self, **kwargs: Any) -> OpenAI:
        """A real `openai.OpenAI` client wired to this mock. Retries are the agent's job, so max_retries=0."""
        transport = httpx2.MockTransport(self.handle)
        return OpenAI(
            api_key="sk-demo",
            base_url=MOCK_BASE_URL,
            http_client=httpx2.Client(transport=transport),
            max_retries=0,
            timeout=TIMEOUT_S,
            **kwargs,
        )

    # -- the transport handler ------------------------------------------------------------------

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        if not self.script:
            raise ScriptExhausted(f"unscripted LLM call #{self.requests_served + 1}")
        reply = self.script.popleft()
        self.requests_served += 1
        body: dict[str, Any] = json.loads(request.content)
        model = str(body.get("model", ""))
        if reply.hang:
            self.clock.advance(TIMEOUT_S)
            raise httpx2.ReadTimeout("The read operation timed out", request=request)
        if reply.status != 200:
            self.clock.advance(self._jitter(0.12 if reply.status == 429 else 0.8))
            error = {"message": reply.error_message, "type": reply.error_type, "param": None, "code": None}
            return httpx2.Response(reply.status, json={"error": error}, headers={"x-request-id": self._hex(16)})
        profile = PROFILES.get(model, DEFAULT_PROFILE)
        message = self._message(reply)
        usage = self._usage(body, model, message, profile)
        completion_id = f"chatcmpl-{self._alnum(29)}"
        created = int(self.clock.timestamp())
        if body.get("stream"):
            return self._stream(completion_id, created, model, message, usage, profile)
        self.clock.advance(self._latency(profile, usage["completion_tokens"]))
        payload = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_SNAPSHOTS.get(model, model),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                }
            ],
            "usage": usage,
            "system_fingerprint": "fp_demo",
        }
        return httpx2.Response(200, json=payload, headers={"x-request-id": self._hex(16)})

    # -- building answers -----------------------------------------------------------------------

    def _message(self, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{self._alnum(24)}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(dict(call.arguments))},
                }
                for call in reply.tool_calls
            ]
        return message

    def _usage(
        self, body: Mapping[str, Any], model: str, message: Mapping[str, Any], profile: ModelProfile
    ) -> dict[str, Any]:
        messages: Sequence[Any] = body.get("messages") or []
        tools: Sequence[Any] = body.get("tools") or []
        tools_tokens = _tokens(json.dumps(tools)) if tools else 0
        elided = SYSTEM_PROMPT_TOKENS if ELIDED_POLICY_MARKER in json.dumps(messages[:1]) else 0
        prompt_tokens = elided + tools_tokens + sum(4 + _tokens(json.dumps(m)) for m in messages)
        visible = _tokens(json.dumps(message.get("tool_calls") or message.get("content") or ""))
        reasoning = 64 * self.rng.randint(1, 10) if profile.reasoning else 0
        cached = self._cached_tokens(model + json.dumps(tools), messages, tools_tokens, elided)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": visible + reasoning,
            "total_tokens": prompt_tokens + visible + reasoning,
        }
        if model in MODEL_SNAPSHOTS:  # OpenAI's own models report details; the third-party one doesn't
            usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
            usage["completion_tokens_details"] = {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            }
        return usage

    def _cached_tokens(
        self, prompt_head: str, messages: Sequence[Any], head_tokens: int, elided_tokens: int
    ) -> int:
        """Tokens of the longest recently-seen prompt prefix, in whole cache blocks (0 on a miss).

        `prompt_head` (model and tool definitions, `head_tokens` long) starts every prompt; the messages
        follow (the first one `elided_tokens` longer than its text), and a prefix of them matches when the
        same messages were sent within the cache TTL.
        """
        now = self.clock.timestamp()
        prefix_tokens = 0
        matched_tokens = 0
        digest = hashlib.sha256(prompt_head.encode())
        for index in range(len(messages) + 1):
            if index:
                text = json.dumps(messages[index - 1], sort_keys=True)
                digest.update(text.encode())
                prefix_tokens += 4 + _tokens(text) + (elided_tokens if index == 1 else 0)
            key = digest.hexdigest()
            seen_at = self._cache.last_used.get(key)
            if seen_at is not None and now - seen_at <= CACHE_TTL_S:
                matched_tokens = head_tokens + prefix_tokens
            self._cache.last_used[key] = now
        if matched_tokens < CACHE_MIN_TOKENS or self.rng.random() < CACHE_MISS_RATE:
            return 0
        return matched_tokens // CACHE_BLOCK_TOKENS * CACHE_BLOCK_TOKENS

    def _stream(
        self,
        completion_id: str,
        created: int,
        model: str,
        message: Mapping[str, Any],
        usage: Mapping[str, Any],
        profile: ModelProfile,
    ) -> httpx2.Response:
        """A server-sent-event stream whose chunks arrive as the client reads them (the clock moves between)."""
        text = str(message.get("content") or "")
        words = text.split(" ")
        pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
        first_token_s = self._jitter(profile.first_token_s)
        per_piece_s = [max(1, _tokens(p)) / profile.tokens_per_s for p in pieces]
        snapshot = MODEL_SNAPSHOTS.get(model, model)
        clock = self.clock

        def chunk(delta: Mapping[str, Any], finish: str | None, with_usage: bool = False) -> bytes:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": snapshot,
                "choices": [] if with_usage else [{"index": 0, "delta": dict(delta), "finish_reason": finish}],
            }
            if with_usage:
                data["usage"] = dict(usage)
            return f"data: {json.dumps(data)}\n\n".encode()

        def events() -> Iterator[bytes]:
            clock.advance(first_token_s)
            yield chunk({"role": "assistant", "content": ""}, None)
            for piece, delay in zip(pieces, per_piece_s):
                clock.advance(delay)
                yield chunk({"content": piece}, None)
            yield chunk({}, "stop")
            yield chunk({}, None, with_usage=True)
            yield b"data: [DONE]\n\n"

        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=events())

    # -- randomness -----------------------------------------------------------------------------

    def _latency(self, profile: ModelProfile, completion_tokens: int) -> float:
        return self._jitter(profile.first_token_s) + completion_tokens / profile.tokens_per_s

    def _jitter(self, mean_s: float) -> float:
        """A latency around `mean_s`, skewed like real ones (log-normal, occasionally slow)."""
        return round(mean_s * self.rng.lognormvariate(0.0, 0.35), 6)

    def _alnum(self, length: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def _hex(self, length: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(length))


def _tokens(text: str) -> int:
    """A rough token count (about four characters per token), enough for realistic usage figures."""
    return max(1, (len(text) + 3) // 4)
