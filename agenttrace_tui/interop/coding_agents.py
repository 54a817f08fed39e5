"""Coding agents' OpenTelemetry event streams (log records, no spans) → sessions of LLM and tool calls.

Claude Code (`CLAUDE_CODE_ENABLE_TELEMETRY=1`, `OTEL_LOGS_EXPORTER=otlp`) writes one record per event, the body
`claude_code.<event>`, every value a string: `user_prompt` (a turn, `prompt.id` groups its steps), `api_request`
(one LLM call: tokens, cost, duration), `api_error`, `tool_result`, `tool_decision`, ... with `session.id`.
docs/sources/coding-agent-otel-logs.md says what each version writes, read from Claude Code's own bundle.

A session's steps become spans of one trace (its id from the session id), each turn a span of kind `agent` whose
steps are its children; a call's start is its end (the record's time) less its `duration_ms`. The store extends a
turn's end to its last step's as more of them arrive (store/write/log_events.py).

Codex CLI (`[otel] exporter = { otlp-http = ... }` in ~/.codex/config.toml) names each record in its `event.name`
attribute (`codex.api_request`, `codex.sse_event`, `codex.tool_result`, ...; the body is empty) with the
conversation in `conversation.id`: a conversation is a session whose steps are children of its
`codex.conversation_starts`, an LLM call an API request and its `response.completed` usage (no cost: priced from
the model and tokens).
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


MAX_NUMBER: Final = 1e15
"""Larger counts, costs and durations (ms: 31,000 years) are not what the agent meant: read as absent."""


def _number(value: Any) -> float | None:
    """A non-negative number, written as a number or (as Claude Code and Codex write most) a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)) and 0 <= value <= MAX_NUMBER:  # NaN fails both comparisons
        return float(value)
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
    claude: dict[str, _ClaudeSession] = {}
    codex: dict[str, _CodexSession] = {}
    rest: list[OtelLog] = []
    for log in logs:
        if is_claude_code(log):
            session_id = _text(log.attributes.get("session.id")) or _text(log.resource.get("session.id")) \
                or "claude-code"
            session = claude.get(session_id)
            if session is None:
                session = claude[session_id] = _ClaudeSession(session_id)
            session.add(log)
        elif is_codex(log):
            conversation = _text(log.attributes.get("conversation.id")) or "codex"
            codex_session = codex.get(conversation)
            if codex_session is None:
                codex_session = codex[conversation] = _CodexSession(conversation)
            codex_session.add(log)
        else:
            rest.append(log)
    made: list[LogSpan] = []
    for session in claude.values():
        session.finish()
        made.extend(session.made)
    for codex_session in codex.values():
        codex_session.finish()
        made.extend(codex_session.made)
    return made, rest


# -- Codex CLI ------------------------------------------------------------------------------------------

CODEX_PREFIX: Final = "codex."
CODEX_PROVIDER: Final = "openai"
CODEX_ROOT: Final = "codex"
"""The conversation's span (from `codex.conversation_starts`): every step's parent, the id known from the
conversation id alone, so steps sent in later requests find it."""
CODEX_PROPERTIES: Final = (("provider_name", "Provider"), ("reasoning_effort", "Reasoning-Effort"),
                           ("approval_policy", "Approval-Policy"), ("sandbox_policy", "Sandbox-Policy"),
                           ("originator", "Originator"), ("slug", "Slug"))


class _CodexSession:
    """The records of one Codex conversation in one request. Codex logs an API request when its response starts
    (`codex.api_request`, one per HTTP attempt) and the response's usage when it completes (`codex.sse_event` of
    kind `response.completed`): in one request they are one LLM call; a completion whose request came in an
    earlier request is a call of zero length, and a request whose completion comes later a step of its own, so
    a call is never counted twice."""

    def __init__(self, conversation: str) -> None:
        self.conversation = conversation
        self.trace_id = stable_id("codex", conversation, size=32)
        self.root = stable_id("codex", conversation, "conversation")
        self.made: list[LogSpan] = []
        self.pending: list[OtelLog] = []  # successful API requests not yet completed
        self.stream_events: list[OtelLog] = []  # a response's events before its completion
        self.decisions: list[OtelLog] = []
        self.tools: dict[str, LogSpan] = {}

    def _id(self, *parts: object) -> str:
        return stable_id("codex", self.conversation, *parts)

    def _attributes(self, log: OtelLog) -> dict[str, Any]:
        return {**log.attributes, "session.id": self.conversation}

    def add(self, log: OtelLog) -> None:
        event = (log.event_name or "").removeprefix(CODEX_PREFIX)
        a = log.attributes
        if event == "conversation_starts":
            span = log_span(log, trace_id=self.trace_id, span_id=self.root, parent_id=None, name=CODEX_ROOT,
                            attributes=self._attributes(log))
            self.made.append(LogSpan(span, [log], {"kind": "agent", "name": "Codex", "input": None, "model": None,
                                                   "properties": _properties(a, CODEX_PROPERTIES)}, extends=True))
        elif event == "user_prompt":
            text = a.get("prompt")
            label = _label(text if isinstance(text, str) else None)
            attributes = self._attributes(log)
            if label is not None:
                attributes[SESSION_NAME_KEY] = label
            span = log_span(log, trace_id=self.trace_id, span_id=self._id("prompt", log.time_ns, log.index),
                            parent_id=self.root, name="prompt", attributes=attributes)
            self.made.append(LogSpan(span, [log], {"kind": "other", "name": label or "prompt",
                                                   "input": text if label is not None else None, "model": None,
                                                   "properties": _properties(a, (("prompt_length", "Prompt-Length"),))}))
        elif event == "api_request":
            self._api_request(log)
        elif event == "sse_event" and (a.get("event.kind") == "response.completed" or _text(a.get("error.message"))):
            self._response(log)
        elif event == "sse_event":  # one per server-sent event of a response: counted on its call, not steps
            self.stream_events.append(log)
        elif event == "tool_decision":
            self._tool_decision(log)
        elif event == "tool_result":
            self._tool_result(log)
        else:
            self._other(log, event)

    def _api_request(self, log: OtelLog) -> None:
        a = log.attributes
        status = _count(a.get("http.response.status_code"))
        message = _text(a.get("error.message"))
        if message is None and (status is None or status < 400):
            self.pending.append(log)
            return
        message = message or f"HTTP {status}"
        model = _text(a.get("model"))
        span = log_span(log, trace_id=self.trace_id, span_id=self._id("api", log.time_ns, log.index),
                        parent_id=self.root, name=model or "api_request", attributes=self._attributes(log),
                        start_ns=_start(log), status_code=2, status_message=message)
        self.made.append(LogSpan(span, [log], {
            "kind": "llm", "name": model or "api_request", "model": model, "provider": CODEX_PROVIDER,
            "status": "error", "status_code": status, "error": {"type": "api_error", "message": message},
            "usage": None, "input": None, "output": None,
            "properties": _properties(a, (("attempt", "Attempt"), ("endpoint", "Endpoint")))}))

    def _response(self, log: OtelLog) -> None:
        a = log.attributes
        model = _text(a.get("model"))
        request = self.pending.pop(0) if self.pending else None
        message = _text(a.get("error.message"))
        usage: dict[str, int] = {}
        for source, name in (("input_token_count", "input_tokens"), ("output_token_count", "output_tokens"),
                             ("cached_token_count", "cache_read_tokens"),
                             ("reasoning_token_count", "reasoning_tokens")):
            count = _count(a.get(source))
            if count is not None and (count or name in ("input_tokens", "output_tokens")):
                usage[name] = count  # OpenAI's input includes the cached tokens, its output the reasoning ones
        span = log_span(log, trace_id=self.trace_id, span_id=self._id("response", log.time_ns, log.index),
                        parent_id=self.root, name=model or "response",
                        attributes=self._attributes(log), start_ns=_start(request) if request else log.time_ns,
                        status_code=2 if message else 0, status_message=message)
        properties = _properties(request.attributes, (("attempt", "Attempt"), ("endpoint", "Endpoint"))) \
            if request else None
        if self.stream_events:
            properties = {**(properties or {}), "Stream-Events": len(self.stream_events) + 1}
        sources = ([request] if request else []) + self.stream_events + [log]
        self.stream_events = []
        self.made.append(LogSpan(span, sources, {
            "kind": "llm", "name": model or "response", "model": model, "provider": CODEX_PROVIDER,
            "usage": usage or None, "input": None, "output": None, "properties": properties,
            "status": "error" if message else None,
            "error": {"type": "stream_error", "message": message} if message else None}))

    def _tool_decision(self, log: OtelLog) -> None:
        """Approved (`approved`, `approved_for_session`, ...) joins its tool_result by call_id when the session's
        records are read; denied or aborted is a failed tool step."""
        a = log.attributes
        decision = str(a.get("decision", "")).lower()
        if decision.startswith("approved"):
            self.decisions.append(log)
            return
        tool = _text(a.get("tool_name")) or "tool"
        message = f"tool call {decision or 'not allowed'}" + (f" ({a['source']})" if _text(a.get("source")) else "")
        span = log_span(log, trace_id=self.trace_id,
                        span_id=self._id("decision", _text(a.get("call_id")) or (log.time_ns, log.index)),
                        parent_id=self.root, name=tool, attributes=self._attributes(log), status_code=2,
                        status_message=message)
        self.made.append(LogSpan(span, [log], {
            "kind": "tool", "name": tool, "model": None, "usage": None, "input": None, "output": None,
            "status": "error", "error": {"type": "rejected", "message": message},
            "properties": _properties(a, (("decision", "Decision"), ("source", "Decision-Source")))}))

    def _tool_result(self, log: OtelLog) -> None:
        a = log.attributes
        tool = _text(a.get("tool_name")) or "tool"
        failed = str(a.get("success", "true")).lower() == "false"
        output = a.get("output")
        arguments = _text(a.get("arguments"))
        span = log_span(log, trace_id=self.trace_id,
                        span_id=self._id("tool", _text(a.get("call_id")) or (log.time_ns, log.index)),
                        parent_id=self.root, name=tool, attributes=self._attributes(log), start_ns=_start(log),
                        status_code=2 if failed else 0)
        made = LogSpan(span, [log], {
            "kind": "tool", "name": tool, "model": None, "usage": None,
            "input": msg.maybe_json(arguments) if arguments else None, "output": output,
            "status": "error" if failed else "ok",
            "error": {"message": (output if isinstance(output, str) and output else "the tool failed")[:2000]}
            if failed else None,
            "properties": _properties(a, (("mcp_server", "MCP-Server"),))})
        self.made.append(made)
        if _text(a.get("call_id")):
            self.tools[a["call_id"]] = made

    def _other(self, log: OtelLog, event: str) -> None:
        name = event or "event"
        span = log_span(log, trace_id=self.trace_id, span_id=self._id("event", name, log.time_ns, log.index),
                        parent_id=self.root, name=name, attributes=self._attributes(log),
                        start_ns=_start(log) if name == "api_request" else None)
        message = _text(log.attributes.get("error.message"))
        self.made.append(LogSpan(span, [log], {"kind": "other", "name": name, "input": None, "output": None,
                                               "model": None, "usage": None, "status": "error" if message else None,
                                               "error": {"message": message} if message else None}))

    def finish(self) -> None:
        for request in self.pending:  # its response is in a later request
            self._other(request, "api_request")
        for decision in self.decisions:
            match = self.tools.get(str(decision.attributes.get("call_id")))
            if match is None:
                self._other(decision, "tool_decision")
                continue
            match.sources.append(decision)
            decided = _properties(decision.attributes, (("decision", "Decision"), ("source", "Decision-Source")))
            match.fields["properties"] = {**(decided or {}), **(match.fields.get("properties") or {})}
        if self.stream_events:  # a response still streaming when this request was sent
            last = self.stream_events[-1]
            span = log_span(last, trace_id=self.trace_id, span_id=self._id("stream", last.time_ns, last.index),
                            parent_id=self.root, name="sse_event", attributes=self._attributes(last),
                            start_ns=self.stream_events[0].time_ns)
            self.made.append(LogSpan(span, self.stream_events, {
                "kind": "other", "name": "sse_event", "input": None, "output": None, "model": None, "usage": None,
                "properties": {"Stream-Events": len(self.stream_events)}}))


def is_codex(log: OtelLog) -> bool:
    return (log.event_name or "").startswith(CODEX_PREFIX) and (
        "conversation.id" in log.attributes or str(log.scope.get("name", "")).startswith("codex_otel"))
