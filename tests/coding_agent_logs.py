"""Claude Code's OpenTelemetry log events, emitted through the real OpenTelemetry logs SDK as Claude Code emits
them (its bundle's event function, read in v1.0.100's cli.js and 2.1's binary: docs/sources/
coding-agent-otel-logs.md): the body is `claude_code.<event>`, the attributes are the standard ones (`session.id`,
`user.id`, `prompt.id` ...) with `event.name` (no prefix) and `event.timestamp`, and every value is a string."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

SESSION = "5f0c3a9e-1b2d-4c8e-9a7f-claude000001"
SCOPE = "com.anthropic.claude_code.events"
VERSION = "2.1.0"
T0 = 1_765_000_000_000_000_000
"""The session's first event: 2025-12-06T05:46:40Z, in ns."""


@dataclass
class Event:
    name: str
    at_ms: int
    fields: dict[str, Any]
    prompt_id: str | None = "prompt-1"


def session_events(prompt_id: str | None = "prompt-1", second_prompt: str | None = "prompt-2") -> list[Event]:
    """A short session: a prompt; a call that asks for a tool; the tool; an overloaded call (529) and its retry;
    a second prompt whose tool call is rejected. Times in ms from T0; calls end at their event time."""
    first = [
        Event("user_prompt", 0, {"prompt_length": "27", "prompt": "Fix the failing test in api"}, prompt_id),
        Event("api_request", 3_000, {"model": "claude-sonnet-4-5", "input_tokens": "12", "output_tokens": "85",
                                     "cache_read_tokens": "14000", "cache_creation_tokens": "1800",
                                     "cost_usd": "0.0121", "duration_ms": "2900", "request_id": "req_011",
                                     "speed": "normal", "query_source": "repl_main_thread"}, prompt_id),
        Event("tool_decision", 3_050, {"tool_name": "Bash", "decision": "accept", "source": "config",
                                       "tool_use_id": "toolu_01"}, prompt_id),
        Event("tool_result", 3_600, {"tool_name": "Bash", "success": "true", "duration_ms": "480",
                                     "tool_use_id": "toolu_01", "decision_type": "accept",
                                     "decision_source": "config",
                                     "tool_parameters": '{"bash_command":"pytest","full_command":"pytest -x api"}',
                                     "tool_result_size_bytes": "2048"}, prompt_id),
        Event("api_error", 5_000, {"model": "claude-sonnet-4-5", "error": "Overloaded", "status_code": "529",
                                   "duration_ms": "1200", "attempt": "1"}, prompt_id),
        Event("api_request", 9_000, {"model": "claude-sonnet-4-5", "input_tokens": "20", "output_tokens": "40",
                                     "cache_read_tokens": "15800", "cache_creation_tokens": "0",
                                     "cost_usd": "0.0062", "duration_ms": "3500", "request_id": "req_012"},
              prompt_id),
    ]
    if second_prompt is None:
        return first
    return first + [
        Event("user_prompt", 60_000, {"prompt_length": "10", "prompt": "<REDACTED>"}, second_prompt),
        Event("api_request", 63_000, {"model": "claude-haiku-4-5", "input_tokens": "300", "output_tokens": "20",
                                      "cost_usd": "0.0004", "duration_ms": "900", "request_id": "req_021"},
              second_prompt),
        Event("tool_decision", 63_500, {"tool_name": "Write", "decision": "reject", "source": "user_reject",
                                        "tool_use_id": "toolu_02"}, second_prompt),
    ]


class Collected(LogRecordExporter):
    def __init__(self) -> None:
        self.records: list[ReadableLogRecord] = []

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self.records.extend(batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


@dataclass
class Emitter:
    """A logger provider as Claude Code sets one up (its resource and scope), over the given exporter."""

    exporter: LogRecordExporter
    session: str = SESSION
    provider: LoggerProvider = field(init=False)

    def __post_init__(self) -> None:
        self.provider = LoggerProvider(resource=Resource.create({"service.name": "claude-code",
                                                                 "service.version": VERSION}))
        self.provider.add_log_record_processor(SimpleLogRecordProcessor(self.exporter))  # one export per event

    def emit(self, event: Event) -> None:
        at = T0 + event.at_ms * 1_000_000
        stamp = datetime.datetime.fromtimestamp(at / 1e9, datetime.UTC).isoformat().replace("+00:00", "Z")
        attributes = {"user.id": "a1b2c3", "session.id": self.session, "terminal.type": "tmux",
                      "event.name": event.name, "event.timestamp": stamp, **event.fields}
        if event.prompt_id is not None:
            attributes["prompt.id"] = event.prompt_id
        self.provider.get_logger(SCOPE, VERSION).emit(timestamp=at, observed_timestamp=at,
                                                      body=f"claude_code.{event.name}", attributes=attributes)

    def close(self) -> None:
        self.provider.shutdown()


def emitted(events: list[Event], session: str = SESSION) -> list[ReadableLogRecord]:
    collected = Collected()
    emitter = Emitter(collected, session)
    for event in events:
        emitter.emit(event)
    emitter.close()
    return collected.records


def export_json(records: Sequence[ReadableLogRecord]) -> bytes:
    """The records as one OTLP/JSON ExportLogsServiceRequest, as the OTLP exporters encode them."""
    import orjson
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

    return orjson.dumps(MessageToDict(encode_logs(records)))


CONVERSATION = "0199a6c1-codex-conversation-01"
CODEX_SCOPE = "codex_otel.log_only"


def codex_events() -> list[Event]:
    """A Codex conversation as codex-rs/otel logs it (docs/sources/coding-agent-otel-logs.md §2): Display fields
    as strings, i64 fields as ints; an API request answered 429 then retried, its response's usage, a shell
    tool call, and a failing tool."""
    return [
        Event("codex.conversation_starts", 0, {"provider_name": "OpenAI", "reasoning_effort": "medium",
                                               "reasoning_summary": "auto", "context_window": 272000,
                                               "approval_policy": "on-request", "sandbox_policy": "workspace-write",
                                               "mcp_servers": ""}, None),
        Event("codex.user_prompt", 100, {"prompt_length": "24", "prompt": "add a test for the parser"}, None),
        Event("codex.api_request", 900, {"duration_ms": "780", "http.response.status_code": 429, "attempt": 1,
                                         "endpoint": "/responses", "error.message": "rate limited"}, None),
        Event("codex.api_request", 2_400, {"duration_ms": "1100", "http.response.status_code": 200, "attempt": 2,
                                           "endpoint": "/responses"}, None),
        Event("codex.sse_event", 2_500, {"event.kind": "response.output_item.done", "duration_ms": "3"}, None),
        Event("codex.sse_event", 6_000, {"event.kind": "response.completed", "input_token_count": "5200",
                                         "output_token_count": "310", "cached_token_count": 4096,
                                         "reasoning_token_count": 128, "tool_token_count": "5510"}, None),
        Event("codex.tool_decision", 6_100, {"tool_name": "shell", "call_id": "call_7", "decision": "approved",
                                             "source": "config"}, None),
        Event("codex.tool_result", 7_300, {"tool_name": "shell", "call_id": "call_7",
                                           "arguments": '{"command":["pytest","-q"]}', "duration_ms": "1150",
                                           "success": "true", "output": "3 passed", "mcp_server": "",
                                           "mcp_server_origin": ""}, None),
        Event("codex.tool_result", 7_400, {"tool_name": "apply_patch", "call_id": "", "arguments": "",
                                           "duration_ms": "0", "success": "false",
                                           "output": "patch did not apply", "mcp_server": "",
                                           "mcp_server_origin": ""}, None),
    ]


class CodexEmitter(Emitter):
    """Records as Codex's tracing bridge writes them: scope `codex_otel.log_only`, INFO, an empty body, the
    record's event name a source location, only the observed time set, the name in `event.name`."""

    def __post_init__(self) -> None:
        self.provider = LoggerProvider(resource=Resource.create({"service.name": "codex_cli_rs",
                                                                 "service.version": "0.58.0", "env": "dev"}))
        self.provider.add_log_record_processor(SimpleLogRecordProcessor(self.exporter))

    def emit(self, event: Event) -> None:
        from opentelemetry._logs import SeverityNumber

        at = T0 + event.at_ms * 1_000_000
        stamp = datetime.datetime.fromtimestamp(at / 1e9, datetime.UTC).isoformat(timespec="milliseconds")
        attributes = {"event.name": event.name, "event.timestamp": stamp.replace("+00:00", "Z"),
                      "conversation.id": self.session, "app.version": "0.58.0", "auth_mode": "ApiKey",
                      "originator": "codex_cli_rs", "terminal.type": "xterm-256color", "model": "gpt-5-codex",
                      "slug": "gpt-5-codex", **event.fields}
        self.provider.get_logger(CODEX_SCOPE).emit(
            observed_timestamp=at, severity_number=SeverityNumber.INFO, severity_text="INFO",
            event_name="event codex-rs/otel/src/events/session_telemetry.rs:412", attributes=attributes)


def codex_emitted(events: list[Event]) -> list[ReadableLogRecord]:
    collected = Collected()
    emitter = CodexEmitter(collected, CONVERSATION)
    for event in events:
        emitter.emit(event)
    emitter.close()
    return collected.records
