"""OTLP logs (ExportLogsServiceRequest) → spans the trace importer (interop/otlp.py) places like any other.

A log record becomes one of:
- a step of a coding agent's session: Claude Code's `claude_code.*` and Codex CLI's `codex.*` events are LLM
  calls, tool calls and prompts (interop/coding_agents.py);
- a **GenAI event** of a span (`gen_ai.user.message`, `gen_ai.choice`, util-genai's
  `gen_ai.client.inference.operation.details`, ...): a zero-length child of that span carrying one message, which
  the store folds into the span's input and output once both are there, whatever order they arrive in
  (store/write/log_events.py);
- anything else: a zero-length span of kind `other` named by its event name (or its body), under the span it
  names, else in the session it names, else in one session per service: no record is dropped.

Every span made from a log keeps the record whole in `extra.otel.log`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field as dataclass_field
from typing import Any, Final

from agenttrace_tui.interop import messages as msg
from agenttrace_tui.interop import otlp_attributes as attrs
from agenttrace_tui.interop.errors import ShapeError
from agenttrace_tui.interop.otlp import OtelSpan, build_records
from agenttrace_tui.interop.otlp_values import (
    any_value,
    decode_id,
    field,
    key_values,
    scoped_items,
    time_ns,
)

FOLD_MESSAGE: Final = "message"
"""extra.otel.log.fold: the record is one input message of its parent span."""
FOLD_CHOICE: Final = "choice"
"""... one choice (output message) of its parent span."""
FOLD_WHOLE: Final = "whole"
"""... the parent's whole input and output (util-genai's operation details event)."""
FOLD_PROPERTIES: Final = "properties"
"""... properties of its parent (a coding agent's accepted tool call, sent apart from the tool's result)."""
OPERATION_DETAILS: Final = "gen_ai.client.inference.operation.details"
NAME_CHARS: Final = 120
"""A span named by a log's body keeps this much of it (the body itself is kept whole)."""
_SEVERITIES: Final = ("", "TRACE", "TRACE2", "TRACE3", "TRACE4", "DEBUG", "DEBUG2", "DEBUG3", "DEBUG4", "INFO",
                      "INFO2", "INFO3", "INFO4", "WARN", "WARN2", "WARN3", "WARN4", "ERROR", "ERROR2", "ERROR3",
                      "ERROR4", "FATAL", "FATAL2", "FATAL3", "FATAL4")
ERROR_SEVERITY: Final = 17
"""SEVERITY_NUMBER_ERROR: a log at this level or above is a failed step."""


@dataclass(slots=True)
class OtelLog:
    """One decoded log record; `index` is its place in its request (the order it was emitted in)."""

    time_ns: int
    severity_number: int
    severity_text: str | None
    body: Any
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: dict[str, Any]
    trace_id: str | None
    span_id: str | None
    event_name: str | None
    index: int
    line: int = 1

    @property
    def merged(self) -> dict[str, Any]:
        return {**self.resource, **self.attributes} if self.resource else self.attributes

    def extra(self) -> dict[str, Any]:
        """The record as it came (extra.otel.log), for the span detail."""
        log: dict[str, Any] = {"event_name": self.event_name, "time_unix_nano": self.time_ns, "body": self.body,
                               "attributes": self.attributes, "resource": self.resource, "scope": self.scope}
        if self.severity_number or self.severity_text:
            log["severity"] = self.severity_text or _severity_name(self.severity_number)
        if self.span_id is not None:
            log["span_id"] = self.span_id
        return {k: v for k, v in log.items() if v not in (None, {}, "")}


@dataclass(slots=True)
class LogSpan:
    """A span made from log records: what the trace importer places (`span`), and the record fields it cannot
    work out from attributes (`fields`, set over its mapping; None removes a field)."""

    span: OtelSpan
    sources: list[OtelLog]
    fields: dict[str, Any] = dataclass_field(default_factory=dict)
    log: dict[str, Any] = dataclass_field(default_factory=dict)
    extends: bool = False
    """A turn of a coding agent: its end follows its last step's, as more steps arrive."""


def _severity_name(number: int) -> str:
    return _SEVERITIES[number] if 0 < number < len(_SEVERITIES) else str(number)




def decode_logs(request: Any, line: int = 1) -> list[OtelLog]:
    """The log records of one ExportLogsServiceRequest (spec JSON or protobuf's MessageToDict); ShapeError names
    the first thing that is wrong."""
    if not isinstance(request, Mapping):
        raise ShapeError(f"an OTLP request is a JSON object, not {type(request).__name__}")
    blocks = field(request, "resourceLogs", "resource_logs")
    if blocks is None:
        raise ShapeError("no resourceLogs")
    return [_decode_log(raw, resource, scope, where, index, line) for index, (resource, scope, where, raw)
            in enumerate(scoped_items(blocks, "Logs", ("logRecords", "log_records")))]


def _decode_log(raw: Mapping[str, Any], resource: dict[str, Any], scope: dict[str, Any], where: str, index: int,
                line: int) -> OtelLog:
    at = time_ns(field(raw, "timeUnixNano", "time_unix_nano"), f"{where}.timeUnixNano")
    if not at:  # optional in the spec: the collector's receive time stands in
        at = time_ns(field(raw, "observedTimeUnixNano", "observed_time_unix_nano"), f"{where}.observedTimeUnixNano")
    if not at:
        raise ShapeError(f"{where} has neither timeUnixNano nor observedTimeUnixNano")
    attributes = key_values(raw.get("attributes"))
    body = any_value(raw.get("body"))
    severity = raw.get("severityNumber", raw.get("severity_number"))
    severity_number = severity if isinstance(severity, int) and not isinstance(severity, bool) else 0
    if isinstance(severity, str):  # MessageToDict writes the enum's name
        name = severity.removeprefix("SEVERITY_NUMBER_")
        severity_number = _SEVERITIES.index(name) if name in _SEVERITIES else 0
    severity_text = field(raw, "severityText", "severity_text")
    # `event.name` first: Codex's bridge fills the record's own event name with a source location.
    event_name = _event_name(body, attributes) or field(raw, "eventName", "event_name")
    if not isinstance(event_name, str) or not event_name:
        event_name = None
    return OtelLog(
        time_ns=at,
        severity_number=severity_number,
        severity_text=severity_text if isinstance(severity_text, str) and severity_text else None,
        body=body,
        attributes=attributes,
        resource=resource,
        scope=scope,
        trace_id=decode_id(field(raw, "traceId", "trace_id"), 16, f"{where}.traceId"),
        span_id=decode_id(field(raw, "spanId", "span_id"), 8, f"{where}.spanId"),
        event_name=event_name,
        index=index,
        line=line,
    )


def _event_name(body: Any, attributes: Mapping[str, Any]) -> str | None:
    """Before OTLP 1.5 gave log records an event name, events carried it in `event.name`. Claude Code writes
    the name there without its prefix, and the prefixed one as the body: the body is the full name."""
    name = attributes.get("event.name")
    if isinstance(body, str) and isinstance(name, str) and body.endswith("." + name):
        return body
    return name if isinstance(name, str) and name else None


def stable_id(*parts: object, size: int = 16) -> str:
    """A hex id from its parts: the same record sent twice (a retried export) is the same span."""
    return hashlib.md5("\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")).hexdigest()[:size]


def log_span(log: OtelLog, *, trace_id: str, span_id: str, parent_id: str | None, name: str,
              attributes: dict[str, Any] | None = None, start_ns: int | None = None,
              end_ns: int | None = None, status_code: int = 0, status_message: str | None = None) -> OtelSpan:
    return OtelSpan(trace_id=trace_id, span_id=span_id, parent_id=parent_id, name=name,
                    start_ns=log.time_ns if start_ns is None else start_ns,
                    end_ns=log.time_ns if end_ns is None else end_ns,
                    attributes=log.attributes if attributes is None else attributes, resource=log.resource,
                    scope=log.scope, kind=0, events=[], links=[], status_code=status_code,
                    status_message=status_message, line=log.line)


# -- GenAI events and other logs ------------------------------------------------------------------------


def _genai_event(log: OtelLog) -> LogSpan | None:
    """A GenAI event naming its span → one message (or the whole call) for the store to fold into that span."""
    name = log.event_name or ""
    if log.span_id is None or log.trace_id is None or not name.startswith("gen_ai."):
        return None
    content = {**log.attributes, **log.body} if isinstance(log.body, Mapping) else log.attributes
    fields: dict[str, Any] = {"kind": "other", "name": name, "model": None, "usage": None, "cost_usd": None,
                              "error": None, "status": None}
    if name == OPERATION_DETAILS:
        fold = FOLD_WHOLE
        fields["input"] = attrs.llm_input(content, [], None)
        fields["output"] = attrs.llm_output(content, [])
    else:
        inputs, outputs = msg.event_messages([{"name": name, "attributes": content}])
        if inputs:
            fold, fields["input"], fields["output"] = FOLD_MESSAGE, inputs[0], None
        elif outputs:
            choice = msg.as_choices(outputs)["choices"][0]
            if isinstance(content.get("index"), int):
                choice["index"] = content["index"]
            fold, fields["input"], fields["output"] = FOLD_CHOICE, None, choice
        else:
            return None
    span = log_span(log, trace_id=log.trace_id, span_id=stable_id("log", log.trace_id, log.span_id, log.time_ns,
                                                                     log.index, name),
                     parent_id=log.span_id, name=name, attributes={})
    return LogSpan(span, [log], fields, {"fold": fold, "seq": log.index})


def _generic(log: OtelLog) -> LogSpan:
    """Any other record: a zero-length step where it belongs, so nothing sent is lost."""
    body_text = log.body if isinstance(log.body, str) else None
    name = log.event_name or (" ".join(body_text.split())[:NAME_CHARS] if body_text else None) \
        or log.severity_text or "log"
    merged = log.merged
    session = attrs.first_str(merged, attrs.SESSION_KEYS)
    service = attrs.first_str(log.resource, ("service.name",)) or "unknown service"
    attributes = dict(log.attributes)
    if log.trace_id is not None:
        trace_id = log.trace_id
    else:  # no trace: its session's, else its service's log session
        if session is None:
            session = f"{service} logs"
            attributes["session.id"] = session
        trace_id = stable_id("logs", session, size=32)
    failed = log.severity_number >= ERROR_SEVERITY
    span = log_span(log, trace_id=trace_id, span_id=stable_id("log", trace_id, log.span_id, log.time_ns,
                                                               log.index, name, repr(log.body)),
                     parent_id=log.span_id, name=name, attributes=attributes,
                     status_code=2 if failed else 0, status_message=body_text if failed else None)
    fields: dict[str, Any] = {"kind": "other", "input": None, "output": None if log.body is None else log.body}
    if failed:
        fields["error"] = {"message": (body_text or name)[:2000]}
    return LogSpan(span, [log], fields)


# -- records --------------------------------------------------------------------------------------------


def log_spans(logs: list[OtelLog]) -> list[LogSpan]:
    from agenttrace_tui.interop.coding_agents import coding_agent_spans

    made, rest = coding_agent_spans(logs)
    for log in rest:
        made.append(_genai_event(log) or _generic(log))
    return made


def build_records_with_logs(spans: list[OtelSpan], logs: list[OtelLog]) -> list[tuple[int, dict[str, Any]]]:
    """(source line, record) for the spans and for the spans made from the log records, placed together."""
    if not logs:
        return build_records(spans)
    made = {(m.span.trace_id, m.span.span_id): m for m in log_spans(logs)}
    records = build_records([*spans, *(m.span for m in made.values())])
    for _, record in records:
        otel = record.get("otel") or {}
        made_span = made.get((str(otel.get("trace_id")), str(record.get("span_id"))))
        if made_span is None:
            continue
        for key, value in made_span.fields.items():
            if value is None:
                record.pop(key, None)
            else:
                record[key] = value
        log_extra = dict(made_span.log)
        log_extra["records"] = [source.extra() for source in made_span.sources]
        extra: dict[str, Any] = {"trace_id": otel.get("trace_id"), "name": otel.get("name"),
                                 "log": log_extra, "assembly": otel.get("assembly")}
        if made_span.extends:
            extra["assembly"] = {**(otel.get("assembly") or {}), "extends": True}
        record["otel"] = extra
    return records
