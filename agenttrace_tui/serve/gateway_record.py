"""One proxied LLM call → one trace-format `llm` span, placed by the Helicone headers the call carried.

The same fields the SDK's openai wrapper writes (sdk/openai_wrapper.py), from the same helpers: Helicone
headers (format.fields_from_headers), usage (llm.usage), streamed chunks joined (llm.openai_streams).
Credentials never get here: the caller passes only the request body and the Helicone headers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson

from agenttrace_tui.format import STATUS_CODE_CANCELLED, STATUS_CODE_TIMEOUT, fields_from_headers, format_time
from agenttrace_tui.llm.openai_streams import Accumulator, ChatAccumulator, ResponsesAccumulator
from agenttrace_tui.llm.usage import normalize_usage, reported_cost

MAX_RECORDED_BYTES: Final = 10 * 1024 * 1024
"""A non-streamed response bigger than this, or a streamed line longer, is passed on whole but recorded
without its output (a stream: from that line on)."""
SSE_DATA: Final = b"data:"


def new_accumulator(endpoint: str) -> Accumulator:
    return ChatAccumulator() if endpoint == "chat.completions" else ResponsesAccumulator()


@dataclass
class CallRecorder:
    """Watches a response go by, chunk by chunk, and keeps what the span needs."""

    endpoint: str  # "chat.completions" or "responses"
    streaming: bool
    started: float  # monotonic seconds
    first_token_ms: float | None = None
    accumulator: Accumulator = field(init=False)
    _buffer: bytearray = field(default_factory=bytearray)
    _overflow: bool = False

    def __post_init__(self) -> None:
        self.accumulator = new_accumulator(self.endpoint)

    def feed(self, chunk: bytes, now: float) -> None:
        if self._overflow:
            return
        self._buffer += chunk
        if not self.streaming:
            if len(self._buffer) > MAX_RECORDED_BYTES:
                self._overflow = True
                self._buffer.clear()
            return
        # Lines end in the new bytes only: search those, so a line that never ends costs each byte once.
        end = chunk.rfind(b"\n")
        if end < 0:
            if len(self._buffer) > MAX_RECORDED_BYTES:  # an event that never ends: stop watching
                self._overflow = True
                self._buffer.clear()
            return
        cut = len(self._buffer) - (len(chunk) - end - 1)
        complete = bytes(self._buffer[:cut]).split(b"\n")
        del self._buffer[:cut]
        for line in complete[:-1]:
            self._event_line(line.rstrip(b"\r"), now)

    def _event_line(self, line: bytes, now: float) -> None:
        if not line.startswith(SSE_DATA):
            return
        payload = line[len(SSE_DATA):].strip()
        if not payload or payload == b"[DONE]":
            return
        try:
            item = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if isinstance(item, Mapping) and self.accumulator.add(item) and self.first_token_ms is None:
            self.first_token_ms = round((now - self.started) * 1000, 3)

    def output(self) -> Any:
        if self.streaming:
            return self.accumulator.output()
        if self._overflow or not self._buffer:
            return None
        try:
            return orjson.loads(bytes(self._buffer))
        except orjson.JSONDecodeError:
            return bytes(self._buffer[:4096]).decode("utf-8", "replace")


def _error_from_output(output: Any, status_code: int) -> Any:
    failure = output.get("error") if isinstance(output, Mapping) else None
    if isinstance(failure, Mapping):
        kind = failure.get("type") or failure.get("code") or f"http_{status_code}"
        message = failure.get("message")
        return {"type": str(kind), "message": message if isinstance(message, str) else None}
    return {"type": f"http_{status_code}", "message": output if isinstance(output, str) else None}


def llm_span(
    *,
    endpoint: str,
    request: Any,
    helicone_headers: Mapping[str, str],
    provider: str | None,
    start: datetime,
    end: datetime,
    status_code: int | None,
    recorder: CallRecorder | None,
    failure: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The span of one call; `failure` is set when the upstream never answered (unreachable, timeout)."""
    placed = fields_from_headers(helicone_headers)
    request_map = request if isinstance(request, Mapping) else {}
    output = recorder.output() if recorder is not None else None
    usage = None
    model = request_map.get("model")
    if recorder is not None and recorder.streaming:
        usage = recorder.accumulator.usage()
        model = recorder.accumulator.model() or model
    elif isinstance(output, Mapping):
        usage = output.get("usage") if isinstance(output.get("usage"), Mapping) else None
        model = output.get("model") or model
    model = model if isinstance(model, str) else None
    record: dict[str, Any] = {
        "span_id": str(placed.pop("span_id", None) or uuid.uuid4().hex),
        "session_id": str(placed.pop("session_id", None) or f"gateway-{uuid.uuid4().hex[:12]}"),
        **placed,
        "kind": "llm",
        "name": f"{endpoint} {model}" if model else endpoint,
        "start_time": format_time(start),
        "end_time": format_time(end),
        "model": model,
        "provider": provider,
        "input": request,
        "output": output,
        "headers": dict(helicone_headers) or None,
    }
    if recorder is not None and recorder.first_token_ms is not None:
        record["first_token_ms"] = recorder.first_token_ms
    normalized = normalize_usage(usage)
    if normalized:
        record["usage"] = normalized
    cost = reported_cost(usage)
    if cost is not None:
        record["cost_usd"] = cost
    if failure is not None:
        record["error"] = dict(failure)
        record["status_code"] = {"timeout": STATUS_CODE_TIMEOUT, "cancelled": STATUS_CODE_CANCELLED}.get(
            str(failure.get("type")), status_code)
    else:
        record["status_code"] = status_code
        if status_code is not None and status_code >= 400:
            record["error"] = _error_from_output(output, status_code)
        elif recorder is not None and recorder.streaming and recorder.accumulator.error() is not None:
            record["error"] = recorder.accumulator.error()
        elif isinstance(output, Mapping) and output.get("object") == "response" and isinstance(output.get("error"), Mapping):
            record["error"] = _error_from_output(output, status_code or 200)
    return {key: value for key, value in record.items() if value is not None}
