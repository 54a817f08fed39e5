"""Coding agents' OpenTelemetry event streams (log records, no spans) → sessions of LLM and tool calls.

Claude Code (`CLAUDE_CODE_ENABLE_TELEMETRY=1`, `OTEL_LOGS_EXPORTER=otlp`) writes one record per event, the body
`claude_code.<event>`, every value a string: `user_prompt` (a turn, `prompt.id` groups its steps), `api_request`
(one LLM call: tokens, cost, duration), `api_error`, `tool_result`, `tool_decision`, ... with `session.id`.
docs/sources/coding-agent-otel-logs.md says what each version writes, read from Claude Code's own bundle.

A session's steps become spans of one trace (its id from the session id), each turn a span of kind `agent` whose
steps are its children; a call's start is its end (the record's time) less its `duration_ms`. The store extends a
turn's end to its last step's as more of them arrive (store/write/log_events.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from agenttrace_tui.interop import messages as msg
from agenttrace_tui.interop.otlp_logs import FOLD_PROPERTIES, LogSpan, OtelLog, log_span, stable_id

CLAUDE_PREFIX: Final = "claude_code."
CLAUDE_SCOPE: Final = "com.anthropic.claude_code"
CLAUDE_PROVIDER: Final = "anthropic"
REDACTED: Final = frozenset({"<REDACTED>", "[REDACTED]", ""})
TURN_SEGMENT: Final = "prompt"
"""The path part of every turn (`/prompt/claude-sonnet-4-5`): turns share a path, their prompt is their name."""
LABEL_CHARS: Final = 80
SESSION_NAME_KEY: Final = "helicone.session.name"
"""A session name key the trace importer reads (interop/otlp_attributes.SESSION_NAME_KEYS)."""
CLAUDE_PROPERTIES: Final = (("query_source", "Query-Source"), ("speed", "Speed"), ("effort", "Effort"),
                            ("agent.name", "Agent-Name"), ("skill.name", "Skill"), ("plugin.name", "Plugin"),
                            ("mcp_server.name", "MCP-Server"), ("attempt", "Attempt"),
                            ("request_id", "Request-Id"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value == value and value >= 0 else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if number == number and 0 <= number < float("inf") else None
    return None


def _count(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _label(prompt: str | None) -> str | None:
    if prompt is None or prompt in REDACTED:
        return None
    words = " ".join(prompt.split())
    return words if len(words) <= LABEL_CHARS else words[: LABEL_CHARS - 1] + "…"


def _properties(attributes: Mapping[str, Any], table: tuple[tuple[str, str], ...]) -> dict[str, Any] | None:
    found = {name: attributes[key] for key, name in table
             if isinstance(attributes.get(key), (str, int, float)) and attributes.get(key) != ""}
    return found or None


def _start(log: OtelLog, duration_key: str = "duration_ms") -> int:
    duration = _number(log.attributes.get(duration_key))
    return max(0, log.time_ns - int(duration * 1_000_000)) if duration is not None else log.time_ns


class _ClaudeSession:
    """The records of one Claude Code session in one request, in the order they were emitted."""

    def __init__(self, session: str) -> None:
        self.session = session
        self.trace_id = stable_id("claude_code", session, size=32)
        self.made: list[LogSpan] = []
        self.tools: dict[str, LogSpan] = {}
        self.calls: dict[str, LogSpan] = {}
        self.turn: str | None = None  # the latest turn without a prompt.id (versions before prompt.id)
        self.accepted: list[OtelLog] = []

    def _id(self, *parts: object) -> str:
        return stable_id("claude_code", self.session, *parts)

    def _parent(self, log: OtelLog) -> str | None:
        prompt = _text(log.attributes.get("prompt.id"))
        return self._id("turn", prompt) if prompt is not None else self.turn

    def _attributes(self, log: OtelLog) -> dict[str, Any]:
        return {**log.attributes, "session.id": self.session}

    def add(self, log: OtelLog) -> None:
        event = (log.event_name or "").removeprefix(CLAUDE_PREFIX)
        handler = getattr(self, f"_{event}", None)
        if handler is None or not callable(handler):
            self._other(log, event)
        else:
            handler(log)

    def _user_prompt(self, log: OtelLog) -> None:
        prompt = _text(log.attributes.get("prompt.id"))
        span_id = self._id("turn", prompt if prompt is not None else (log.time_ns, log.index))
        if prompt is None:
            self.turn = span_id
        text = log.attributes.get("prompt")
        label = _label(text if isinstance(text, str) else None)
        attributes = {**self._attributes(log), SESSION_NAME_KEY: label or "Claude Code"}
        span = log_span(log, trace_id=self.trace_id, span_id=span_id, parent_id=None, name=TURN_SEGMENT,
                         attributes=attributes)
        fields: dict[str, Any] = {"kind": "agent", "name": label or "prompt",
                                  "input": text if label is not None else None,
                                  "properties": _properties(log.attributes, (("prompt_length", "Prompt-Length"),
                                                                             ("command_name", "Command")))}
        self.made.append(LogSpan(span, [log], fields, extends=True))

    def _api_request(self, log: OtelLog) -> None:
        a = log.attributes
        model = _text(a.get("model"))
        counts = {key: _count(a.get(key)) for key in ("input_tokens", "output_tokens", "cache_read_tokens",
                                                       "cache_creation_tokens")}
        usage: dict[str, int] = {}
        if counts["input_tokens"] is not None:
            # Anthropic counts cache reads and writes apart from input_tokens; the format's input includes them.
            usage["input_tokens"] = counts["input_tokens"] + (counts["cache_read_tokens"] or 0) + \
                (counts["cache_creation_tokens"] or 0)
        if counts["output_tokens"] is not None:
            usage["output_tokens"] = counts["output_tokens"]
        if counts["cache_read_tokens"]:
            usage["cache_read_tokens"] = counts["cache_read_tokens"]
        if counts["cache_creation_tokens"]:
            usage["cache_write_tokens"] = counts["cache_creation_tokens"]
        cost = _number(a.get("cost_usd"))
        micros = _count(a.get("cost_usd_micros"))
        if micros is not None:
            cost = micros / 1_000_000
        key = _text(a.get("request_id")) or _text(a.get("client_request_id")) or (log.time_ns, log.index)
        span = log_span(log, trace_id=self.trace_id, span_id=self._id("api", key), parent_id=self._parent(log),
                         name=model or "api_request", attributes=self._attributes(log), start_ns=_start(log))
        first_token = _number(a.get("ttft_ms"))
        fields: dict[str, Any] = {"kind": "llm", "name": model or "api_request", "model": model,
                                  "provider": CLAUDE_PROVIDER, "usage": usage or None, "cost_usd": cost,
                                  "first_token_ms": first_token, "input": None, "output": None,
                                  "properties": _properties(a, CLAUDE_PROPERTIES)}
        made = LogSpan(span, [log], fields)
        self.made.append(made)
        for request_key in ("request_id", "client_request_id"):
            if _text(a.get(request_key)):
                self.calls[a[request_key]] = made

    def _api_error(self, log: OtelLog) -> None:
        a = log.attributes
        model = _text(a.get("model"))
        key = _text(a.get("client_request_id")) or _text(a.get("request_id")) or (log.time_ns, log.index)
        status = _count(a.get("status_code"))
        message = _text(a.get("error")) or "API error"
        span = log_span(log, trace_id=self.trace_id, span_id=self._id("api_error", key, a.get("attempt")),
                         parent_id=self._parent(log), name=model or "api_request", attributes=self._attributes(log),
                         start_ns=_start(log), status_code=2, status_message=message)
        fields: dict[str, Any] = {"kind": "llm", "name": model or "api_request", "model": model,
                                  "provider": CLAUDE_PROVIDER, "status": "error", "status_code": status,
                                  "error": {"type": "api_error", "message": message},
                                  "usage": None, "cost_usd": None, "input": None, "output": None,
                                  "properties": _properties(a, CLAUDE_PROPERTIES)}
        self.made.append(LogSpan(span, [log], fields))

    def _api_refusal(self, log: OtelLog) -> None:
        a = log.attributes
        model = _text(a.get("model"))
        category = _text(a.get("category"))
        message = "refused" + (f": {category}" if category else "")
        span = log_span(log, trace_id=self.trace_id, span_id=self._id("refusal", log.time_ns, log.index),
                         parent_id=self._parent(log), name=model or "api_request", attributes=self._attributes(log),
                         status_code=2, status_message=message)
        fields = {"kind": "llm", "name": model or "api_request", "model": model, "provider": CLAUDE_PROVIDER,
                  "status": "error", "error": {"type": "api_refusal", "message": message}, "usage": None,
                  "input": None, "output": None, "properties": _properties(a, CLAUDE_PROPERTIES)}
        self.made.append(LogSpan(span, [log], fields))

    def _tool_result(self, log: OtelLog) -> None:
        a = log.attributes
        tool = _text(a.get("tool_name")) or "tool"
        call_id = _text(a.get("tool_use_id")) or _text(a.get("use_id"))  # 1.0.x wrote `use_id` on failures
        failed = str(a.get("success", "true")).lower() == "false"
        message = (_text(a.get("error")) or _text(a.get("error_type")) or "the tool failed") if failed else None
        arguments = msg.maybe_json(a.get("tool_input")) if a.get("tool_input") is not None else \
            msg.maybe_json(a.get("tool_parameters"))
        span = log_span(log, trace_id=self.trace_id,
                         span_id=self._id("tool", call_id or (log.time_ns, log.index)), parent_id=self._parent(log),
                         name=tool, attributes=self._attributes(log), start_ns=_start(log),
                         status_code=2 if failed else 0, status_message=message)
        properties = _properties(a, (("decision_type", "Decision"), ("decision", "Decision"),
                                     ("decision_source", "Decision-Source"), ("source", "Decision-Source"),
                                     ("mcp_server_scope", "MCP-Scope")))
        fields: dict[str, Any] = {"kind": "tool", "name": tool, "input": arguments, "output": None,
                                  "model": None, "usage": None, "properties": properties,
                                  "status": "error" if failed else "ok",
                                  "error": {"message": message} if message else None}
        made = LogSpan(span, [log], fields)
        self.made.append(made)
        self.tools[call_id or f"{tool}@{log.time_ns}:{log.index}"] = made

    def _tool_decision(self, log: OtelLog) -> None:
        """A rejected tool call is a failed tool step; an accepted one joins its tool_result when the session's
        records are all read (`finish`)."""
        a = log.attributes
        decision = str(a.get("decision", "")).lower()
        tool = _text(a.get("tool_name")) or "tool"
        if decision == "accept":
            self.accepted.append(log)
            return
        message = f"tool call {decision or 'not allowed'}" + (f" ({a['source']})" if _text(a.get("source")) else "")
        call_id = _text(a.get("tool_use_id"))
        span = log_span(log, trace_id=self.trace_id, span_id=self._id("decision", call_id or (log.time_ns, log.index)),
                         parent_id=self._parent(log), name=tool, attributes=self._attributes(log),
                         status_code=2, status_message=message)
        fields = {"kind": "tool", "name": tool, "status": "error", "error": {"type": "rejected", "message": message},
                  "input": msg.maybe_json(a.get("tool_parameters")), "output": None, "model": None, "usage": None,
                  "properties": _properties(a, (("decision", "Decision"), ("source", "Decision-Source")))}
        self.made.append(LogSpan(span, [log], fields))

    def finish(self) -> None:
        """Accepted decisions joined to their tool_result: the same tool_use_id, else the first result of that
        tool after it. One whose result is not in this request is a child of its tool span (the span's id comes
        from the tool_use_id) that the store folds into it when both are there; without a tool_use_id (1.0.x)
        it stands alone."""
        matched: set[int] = set()
        for log in self.accepted:
            call_id = _text(log.attributes.get("tool_use_id"))
            tool = _text(log.attributes.get("tool_name")) or "tool"
            match = self.tools.get(call_id) if call_id else None
            if match is None:
                match = next((m for m in self.tools.values() if id(m) not in matched and m.fields["name"] == tool
                              and m.span.end_ns is not None and m.span.end_ns >= log.time_ns), None)
            decided = {"Decision": "accept"}
            if _text(log.attributes.get("source")):
                decided["Decision-Source"] = log.attributes["source"]
            if match is not None:
                matched.add(id(match))
                match.sources.append(log)
                match.fields["properties"] = {**decided, **(match.fields.get("properties") or {})}
            elif call_id is not None:
                span = log_span(log, trace_id=self.trace_id, span_id=self._id("decision", call_id),
                                parent_id=self._id("tool", call_id), name="tool_decision",
                                attributes=self._attributes(log))
                self.made.append(LogSpan(span, [log], {"kind": "other", "name": "tool_decision", "input": None,
                                                       "output": None, "properties": decided},
                                         {"fold": FOLD_PROPERTIES, "seq": log.index}))
            else:
                self._other(log, "tool_decision")

    def _assistant_response(self, log: OtelLog) -> None:
        a = log.attributes
        text = a.get("response")
        request = _text(a.get("request_id"))
        call = self.calls.get(request) if request else None
        if call is not None and isinstance(text, str) and text not in REDACTED:
            call.fields["output"] = msg.as_choices([{"role": "assistant", "content": text}])
            call.sources.append(log)
            return
        self._other(log, "assistant_response")

    def _other(self, log: OtelLog, event: str) -> None:
        name = event or "event"
        span = log_span(log, trace_id=self.trace_id, span_id=self._id("event", name, log.time_ns, log.index),
                         parent_id=self._parent(log), name=name, attributes=self._attributes(log))
        failed = name in ("internal_error",)
        fields: dict[str, Any] = {"kind": "other", "name": name, "input": None, "output": None, "model": None,
                                  "usage": None, "status": "error" if failed else None,
                                  "error": {"message": _text(log.attributes.get("error")) or name} if failed else None}
        self.made.append(LogSpan(span, [log], fields))


def is_claude_code(log: OtelLog) -> bool:
    return (log.event_name or "").startswith(CLAUDE_PREFIX) or \
        str(log.scope.get("name", "")).startswith(CLAUDE_SCOPE)


def coding_agent_spans(logs: list[OtelLog]) -> tuple[list[LogSpan], list[OtelLog]]:
    """(the spans made from coding agents' records, the records that are not theirs)."""
    sessions: dict[str, _ClaudeSession] = {}
    rest: list[OtelLog] = []
    for log in logs:
        if not is_claude_code(log):
            rest.append(log)
            continue
        session_id = _text(log.attributes.get("session.id")) or _text(log.resource.get("session.id")) \
            or "claude-code"
        session = sessions.get(session_id)
        if session is None:
            session = sessions[session_id] = _ClaudeSession(session_id)
        session.add(log)
    for session in sessions.values():
        session.finish()
    made = [span for session in sessions.values() for span in session.made]
    return made, rest
