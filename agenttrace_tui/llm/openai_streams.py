"""Streamed OpenAI responses: rebuild the final result from Chat Completions chunks or Responses API events.

Shared by the SDK's openai wrapper (sdk/_traced_streams.py feeds it the client's chunks) and the collector's
gateway (serve/gateway_record.py feeds it SSE lines). Chunks are read as plain dicts (model dumps), so this
module never imports openai.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


def as_dict(value: Any) -> dict[str, Any] | None:
    """A pydantic model (openai's types) or a mapping as a plain JSON-able dict; None for anything else."""
    if isinstance(value, Mapping):
        return dict(value)
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        dumped = model_dump(mode="json", exclude_unset=True)
        return dumped if isinstance(dumped, dict) else None
    return None


class Accumulator(Protocol):
    def add(self, item: Mapping[str, Any]) -> bool:
        """Take one chunk/event; True when it carries generated content (the first one times first_token_ms)."""
        ...

    def output(self) -> Any: ...

    def model(self) -> str | None: ...

    def usage(self) -> Mapping[str, Any] | None: ...

    def error(self) -> Any: ...


class ChatAccumulator:
    """Chat Completions chunks → one `chat.completion`-shaped dict: text, refusal and tool calls joined."""

    META_KEYS = ("id", "model", "created", "system_fingerprint", "service_tier")

    def __init__(self) -> None:
        self._meta: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}
        self._tool_calls: dict[int, dict[int, dict[str, Any]]] = {}
        self._usage: Mapping[str, Any] | None = None

    def add(self, item: Mapping[str, Any]) -> bool:
        for key in self.META_KEYS:
            if item.get(key) is not None:
                self._meta[key] = item[key]
        if isinstance(item.get("usage"), Mapping):  # only the last chunk, with stream_options.include_usage
            self._usage = item["usage"]
        carries_token = False
        for choice in item.get("choices") or []:
            index = int(choice.get("index") or 0)
            state = self._choices.setdefault(
                index, {"index": index, "message": {"role": "assistant"}, "finish_reason": None}
            )
            message = state["message"]
            delta = choice.get("delta") or {}
            if delta.get("role"):
                message["role"] = delta["role"]
            for text_key in ("content", "refusal"):
                piece = delta.get(text_key)
                if piece:
                    message[text_key] = message.get(text_key, "") + piece
                    carries_token = True
            for call_delta in delta.get("tool_calls") or []:
                carries_token = True
                calls = self._tool_calls.setdefault(index, {})
                call = calls.setdefault(
                    int(call_delta.get("index") or 0),
                    {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
                )
                if call_delta.get("id"):
                    call["id"] = call_delta["id"]
                if call_delta.get("type"):
                    call["type"] = call_delta["type"]
                function = call_delta.get("function") or {}
                call["function"]["name"] += function.get("name") or ""
                call["function"]["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                state["finish_reason"] = choice["finish_reason"]
        return carries_token

    def output(self) -> Any:
        if not self._meta and not self._choices:
            return None
        choices = []
        for index in sorted(self._choices):
            choice = {**self._choices[index], "message": dict(self._choices[index]["message"])}
            calls = self._tool_calls.get(index)
            if calls:
                choice["message"]["tool_calls"] = [calls[i] for i in sorted(calls)]
            choices.append(choice)
        result: dict[str, Any] = {**self._meta, "object": "chat.completion", "choices": choices}
        if self._usage is not None:
            result["usage"] = dict(self._usage)
        return result

    def model(self) -> str | None:
        model = self._meta.get("model")
        return model if isinstance(model, str) else None

    def usage(self) -> Mapping[str, Any] | None:
        return self._usage

    def error(self) -> Any:
        return None


class ResponsesAccumulator:
    """Responses API events → the final `response` object (from response.completed/failed/incomplete)."""

    def __init__(self) -> None:
        self._response: Mapping[str, Any] | None = None
        self._text: list[str] = []
        self._error: Any = None

    def add(self, item: Mapping[str, Any]) -> bool:
        event_type = str(item.get("type") or "")
        response = item.get("response")
        if isinstance(response, Mapping):  # every lifecycle event carries the response so far
            self._response = response
            failure = response.get("error")
            if isinstance(failure, Mapping):
                self._error = {"type": failure.get("code") or "error", "message": failure.get("message")}
        if event_type == "error":
            self._error = {"type": item.get("code") or "error", "message": item.get("message")}
        if event_type == "response.output_text.delta":
            self._text.append(str(item.get("delta") or ""))
        return event_type.endswith(".delta")

    def output(self) -> Any:
        if self._response is not None and self._response.get("status") not in (None, "in_progress", "queued"):
            return dict(self._response)
        # Closed before the end: what was generated so far is still worth keeping.
        partial: dict[str, Any] = dict(self._response or {})
        if self._text:
            partial["output_text"] = "".join(self._text)
        return partial or None

    def model(self) -> str | None:
        model = (self._response or {}).get("model")
        return model if isinstance(model, str) else None

    def usage(self) -> Mapping[str, Any] | None:
        usage = (self._response or {}).get("usage")
        return usage if isinstance(usage, Mapping) else None

    def error(self) -> Any:
        return self._error
