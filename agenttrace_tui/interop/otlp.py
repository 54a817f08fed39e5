"""OTLP JSON (ExportTraceServiceRequest) → trace-format span records.

Two steps, so a file's lines can be read first and the trees built after (children may come before their
parents, one trace spans many lines): `decode_request` turns one request into `OtelSpan`s, `build_records`
turns all the spans of a file into records (session per trace, parent links, paths, orphans).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field as dataclass_field
from typing import Any, Final

from agenttrace_tui.format import AGENT_PROPERTIES, REQUEST_MODEL_PROPERTY
from agenttrace_tui.interop import otlp_attributes as attrs
from agenttrace_tui.interop.errors import ShapeError
from agenttrace_tui.interop.otlp_values import (
    SPAN_KINDS,
    STATUS_CODES,
    as_list,
    as_object,
    decode_id,
    enum_index,
    enum_name,
    field,
    format_timestamp,
    key_values,
    scoped_items,
    time_ns,
    to_int,
)

PATH_SEPARATOR_STAND_IN: Final = "\u2215"
"""A `/` inside a span name would split the path; it becomes '∕' (division slash), which reads the same."""
UNNAMED: Final = "span"


@dataclass(slots=True)
class OtelSpan:
    """One decoded span with what the mapping needs; `line` is the source line it came from."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int | None
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: dict[str, Any]
    kind: int
    events: list[dict[str, Any]]
    links: list[dict[str, Any]]
    status_code: int
    status_message: str | None
    extras: dict[str, Any] = dataclass_field(default_factory=dict)
    line: int = 1

    @property
    def key(self) -> tuple[str, str]:
        return self.trace_id, self.span_id




def decode_request(request: Any, line: int = 1) -> list[OtelSpan]:
    """The spans of one ExportTraceServiceRequest (spec JSON or protobuf's MessageToDict); ShapeError names
    the first thing that is wrong."""
    if not isinstance(request, Mapping):
        raise ShapeError(f"an OTLP request is a JSON object, not {type(request).__name__}")
    blocks = field(request, "resourceSpans", "resource_spans")
    if blocks is None:
        others = [k for k in ("resourceLogs", "resourceMetrics", "resource_logs", "resource_metrics") if k in request]
        raise ShapeError("no resourceSpans" + (f" ({others[0]}: not a trace export)" if others else ""))
    return [_decode_span(raw, resource, scope, where, line)
            for resource, scope, where, raw in scoped_items(blocks, "Spans", ("spans", "spans"))]


def _event_name(value: Any) -> str | None:
    """An event's name is a string (the spec's); anything else is no name, as for a span (never a crash later:
    names are looked up in tables)."""
    return value if isinstance(value, str) else None


def _decode_span(raw: Mapping[str, Any], resource: dict[str, Any], scope: dict[str, Any], where: str,
                 line: int) -> OtelSpan:
    trace_id = decode_id(field(raw, "traceId", "trace_id"), 16, f"{where}.traceId")
    span_id = decode_id(field(raw, "spanId", "span_id"), 8, f"{where}.spanId")
    if trace_id is None or span_id is None:
        raise ShapeError(f"{where} has no {'traceId' if trace_id is None else 'spanId'}")
    start = time_ns(field(raw, "startTimeUnixNano", "start_time_unix_nano"), f"{where}.startTimeUnixNano")
    if start is None:
        raise ShapeError(f"{where} has no startTimeUnixNano")
    end = time_ns(field(raw, "endTimeUnixNano", "end_time_unix_nano"), f"{where}.endTimeUnixNano")
    status = as_object(raw.get("status"), f"{where}.status")
    events = []
    for i, event in enumerate(as_list(raw.get("events"), f"{where}.events")):
        event = as_object(event, f"{where}.events[{i}]")
        events.append({"time": to_int(field(event, "timeUnixNano", "time_unix_nano"), f"{where}.events[{i}].time"),
                       "name": _event_name(event.get("name")), "attributes": key_values(event.get("attributes"))})
    links = []
    for i, link in enumerate(as_list(raw.get("links"), f"{where}.links")):
        link = as_object(link, f"{where}.links[{i}]")
        links.append({"trace_id": decode_id(field(link, "traceId", "trace_id"), 16, f"{where}.links[{i}].traceId"),
                      "span_id": decode_id(field(link, "spanId", "span_id"), 8, f"{where}.links[{i}].spanId"),
                      "attributes": key_values(link.get("attributes"))})
    extras = {key: raw[key] for key in ("traceState", "flags", "droppedAttributesCount", "droppedEventsCount",
                                        "droppedLinksCount") if raw.get(key) not in (None, "", 0)}
    message = status.get("message")
    name = raw.get("name")
    return OtelSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=decode_id(field(raw, "parentSpanId", "parent_span_id"), 8, f"{where}.parentSpanId"),
        name=name if isinstance(name, str) else "",
        start_ns=start,
        end_ns=end if end else None,  # 0: never ended (a span exported while still open)
        attributes=key_values(raw.get("attributes")),
        resource=resource,
        scope=scope,
        kind=enum_index(raw.get("kind"), SPAN_KINDS, "SPAN_KIND_", f"{where}.kind"),
        events=events,
        links=links,
        status_code=enum_index(status.get("code"), STATUS_CODES, "STATUS_CODE_", f"{where}.status.code"),
        status_message=message if isinstance(message, str) and message else None,
        extras=extras,
        line=line,
    )


# -- records --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Mapped:
    """What a span's own attributes say, before the tree is known."""

    span: OtelSpan
    merged: dict[str, Any]
    fields: dict[str, Any]
    explicit_path: str | None
    agent_name: str | None




def _segment(name: str) -> str:
    cleaned = name.replace("/", PATH_SEPARATOR_STAND_IN).strip()
    return cleaned or UNNAMED


def _map_span(span: OtelSpan) -> _Mapped:
    merged = {**span.resource, **span.attributes} if span.resource else span.attributes
    logfire = attrs.logfire_agents(merged)
    if "group_id" in logfire:  # the conversation: a session key of the trace span
        merged = {**merged, attrs.LOGFIRE_GROUP_KEY: logfire["group_id"]}
    # A call without a response (it failed) is still a call to the model it asked for.
    model = attrs.first_str(merged, attrs.MODEL_KEYS) or attrs.request_model(merged)
    tool_name = logfire.get("tool_name") or attrs.first_str(merged, attrs.TOOL_NAME_KEYS)
    kind = logfire.get("kind") or attrs.span_kind(merged, model, tool_name)
    span_input, span_output = attrs.payloads(merged, span.events, kind, model)
    if kind == "tool" and "tool_name" in logfire:
        span_input, span_output = logfire["input"], logfire["output"]
    error = logfire.get("error") or attrs.error(merged, span.events, span.status_code, span.status_message)
    fields: dict[str, Any] = {
        "span_id": span.span_id,
        "kind": kind,
        # Logfire names a span by its message template (`Chat Completion with {request_data[model]!r}`) and
        # renders it in `logfire.msg`: the rendered one is the name; paths keep the template (one per step).
        "name": tool_name if kind == "tool" and tool_name else attrs.first_str(merged, ("logfire.msg",)) or span.name,
        "start_time": format_timestamp(span.start_ns),
        "end_time": format_timestamp(span.end_ns) if span.end_ns is not None else None,
        "first_token_ms": attrs.first_token_ms(merged, span.events, span.start_ns, span.end_ns),
        "status": "error" if error is not None else None,
        "status_code": attrs.http_status(merged),
        "error": error or None,
        "model": model,
        "provider": attrs.first_str(merged, attrs.PROVIDER_KEYS),
        "usage": attrs.usage(merged),
        "cost_usd": attrs.cost(merged),
        "input": span_input,
        "output": span_output,
        "properties": attrs.properties(merged),
        "user_id": attrs.first_str(merged, attrs.USER_KEYS),
    }
    agent_name = logfire.get("agent_name") or attrs.first_str(merged, attrs.AGENT_NAME_KEYS)
    if kind == "agent" and agent_name is None:
        # OpenLLMetry names a `@workflow(name="weather")` span `weather.workflow`; the entity is `weather`.
        agent_name = attrs.first_str(merged, (attrs.TRACELOOP_ENTITY_NAME,)) or span.name or None
    return _Mapped(span, merged, fields, attrs.first_str(merged, attrs.PATH_KEYS),
                   agent_name if kind == "agent" else None)


def _otel_extra(span: OtelSpan) -> dict[str, Any]:
    otel: dict[str, Any] = {
        "trace_id": span.trace_id,
        "span_kind": enum_name(span.kind, SPAN_KINDS),
        "name": span.name,
        "scope": span.scope,
        "resource": span.resource,
        "attributes": span.attributes,
        "events": span.events,
        "links": span.links,
        "status": {"code": enum_name(span.status_code, STATUS_CODES), "message": span.status_message},
    }
    otel.update(span.extras)
    return otel


def unique_spans(spans: Iterable[OtelSpan]) -> list[OtelSpan]:
    """One span per (trace id, span id): a span repeated across lines or rotated files keeps its first copy."""
    seen: dict[tuple[str, str], OtelSpan] = {}
    for span in spans:
        seen.setdefault(span.key, span)
    return list(seen.values())


def _logfire_streams(mapped: list[_Mapped]) -> dict[tuple[str, str], _Mapped]:
    """Logfire's streamed calls: the request span (`Chat Completion with ...`, ended when the stream opened) →
    the log it writes when the stream is done (`streaming response from ... took ...`, `logfire.span_type` log,
    zero duration, a sibling: output, usage, response model). Paired by parent and `request_data`, each log with
    the earliest request before it that has none yet."""
    logs = sorted((m for m in mapped if m.merged.get("logfire.span_type") == "log"
                   and str(m.merged.get("logfire.msg_template", "")).startswith("streaming response")),
                  key=lambda m: m.span.start_ns)
    if not logs:
        return {}
    requests = sorted((m for m in mapped if m.merged.get("logfire.span_type") == "span" and m.fields["kind"] == "llm"
                       and "request_data" in m.merged), key=lambda m: m.span.start_ns)
    pairs: dict[tuple[str, str], _Mapped] = {}
    for log in logs:
        request = next((r for r in requests if r.span.key not in pairs and r.span.start_ns <= log.span.start_ns
                        and r.span.parent_id == log.span.parent_id
                        and r.merged.get("request_data") == log.merged.get("request_data")
                        and (r.span.trace_id == log.span.trace_id or r.span.parent_id is None)), None)
        if request is not None:
            pairs[request.span.key] = log
    return pairs


def _with_stream(request: _Mapped, log: _Mapped) -> None:
    """One call from a request span and its stream's log: what the response said, and the end of the stream."""
    for name in ("output", "usage", "model", "cost_usd", "provider"):
        if log.fields.get(name) is not None:
            request.fields[name] = log.fields[name]
    if request.span.end_ns is None or log.span.start_ns > request.span.end_ns:
        request.fields["end_time"] = format_timestamp(log.span.start_ns)


RESPONSE_ID_KEY: Final = "gen_ai.response.id"


def _count_nested_calls_once(mapped: list[_Mapped], by_key: Mapping[tuple[str, str], _Mapped]) -> None:
    """An LLM span whose child is an LLM span of the same call (the same `gen_ai.response.id`, or none on either:
    a failed call) is that call recorded twice, a framework's span around the client library's: OpenLLMetry's
    Agents SDK `openai.response` around its OpenAI instrumentation's, both on in a default Traceloop.init. The
    child, the request itself (the model asked for, the system prompt, the tools, the exception), is the call; the
    wrapper is kept as `other` without usage or cost, so the call's tokens and cost count once. Both must be in
    this batch (as a Logfire stream's two spans)."""
    for m in mapped:
        parent = by_key.get((m.span.trace_id, m.span.parent_id)) if m.span.parent_id else None
        if m.fields["kind"] != "llm" or parent is None or parent.fields["kind"] != "llm":
            continue
        ids = {attrs.first_str(m.merged, (RESPONSE_ID_KEY,)), attrs.first_str(parent.merged, (RESPONSE_ID_KEY,))}
        if len(ids - {None}) <= 1:
            parent.fields.update(kind="other", usage=None, cost_usd=None)


def build_records(spans: Iterable[OtelSpan]) -> list[tuple[int, dict[str, Any]]]:
    """(source line, record) for every distinct span, in input order, with the whole trees known."""
    mapped = [_map_span(span) for span in unique_spans(spans)]
    streams = _logfire_streams(mapped)
    if streams:
        merged_away = {log.span.key for log in streams.values()}
        mapped = [m for m in mapped if m.span.key not in merged_away]
        for m in mapped:
            if m.span.key in streams:
                _with_stream(m, streams[m.span.key])
    by_key = {m.span.key: m for m in mapped}
    _count_nested_calls_once(mapped, by_key)
    traces: dict[str, list[_Mapped]] = {}
    for m in mapped:
        traces.setdefault(m.span.trace_id, []).append(m)
    sessions = {trace_id: _trace_session(members, by_key) for trace_id, members in traces.items()}
    paths: dict[tuple[str, str], str] = {}
    agents: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    records: list[tuple[int, dict[str, Any]]] = []
    for m in mapped:
        span = m.span
        session_id, session_name = sessions[span.trace_id]
        parent = by_key.get((span.trace_id, span.parent_id)) if span.parent_id else None
        record: dict[str, Any] = {"session_id": session_id, "session_name": session_name,
                  "path": _path(m, by_key, paths), "parent_id": span.parent_id}
        record.update((k, v) for k, v in m.fields.items() if v is not None)
        if span.parent_id is not None and parent is None:
            record["orphan_of"] = span.parent_id
        request_model = attrs.request_model(m.merged)
        if request_model is not None and m.fields.get("model") not in (None, request_model):
            # `model` is the response's (gpt-4o-mini-2024-07-18): the one asked for stays beside it.
            record["properties"] = {REQUEST_MODEL_PROPERTY: request_model, **(record.get("properties") or {})}
        agent, parent_agent = _agents(m, by_key, agents)
        if agent is not None:
            properties: dict[str, Any] = {AGENT_PROPERTIES[0]: agent}
            if parent_agent is not None:
                properties[AGENT_PROPERTIES[1]] = parent_agent
            properties.update(record.get("properties") or {})
            record["properties"] = properties
        record["otel"] = _otel_extra(span)
        if span.key in streams:  # the log merged into this call, kept whole
            record["otel"]["stream_log"] = _otel_extra(streams[span.key].span)
        record["otel"]["assembly"] = _assembly(m)
        records.append((span.line, {k: v for k, v in record.items() if v is not None}))
    return records


def _ranked(merged: Mapping[str, Any], keys: tuple[str, ...]) -> list[Any] | None:
    """[rank of the first of `keys` the span sets, its value]: a trace's value is the lowest rank's, nearest the
    root (as _trace_session picks it)."""
    for rank, key in enumerate(keys):
        if merged.get(key) not in (None, ""):
            return [rank, str(merged[key])]
    return None


def _assembly(m: _Mapped) -> dict[str, Any]:
    """What the store needs to place this span again when more of its trace arrives in another request, file or
    follow round (store/write/trace_assembly.py): build_records sees one batch only."""
    own = m.fields.get("properties") or {}
    return {
        "session": _ranked(m.merged, attrs.SESSION_KEYS),
        "session_name": _ranked(m.merged, attrs.SESSION_NAME_KEYS),
        "path": m.explicit_path,
        "segment": _segment(m.span.name),
        "agent": m.agent_name,
        # Agent-Name and Parent-Agent the span sets itself win over the ones worked out from its ancestors.
        "own_agent_properties": any(key in own for key in AGENT_PROPERTIES),
    }


def _ancestors(m: _Mapped, by_key: Mapping[tuple[str, str], _Mapped]) -> list[_Mapped]:
    """m and its known ancestors, nearest first; a parent cycle stops at the first repeat."""
    chain = [m]
    seen = {m.span.key}
    current = m
    while current.span.parent_id is not None:
        parent = by_key.get((current.span.trace_id, current.span.parent_id))
        if parent is None or parent.span.key in seen:
            break
        chain.append(parent)
        seen.add(parent.span.key)
        current = parent
    return chain


def _trace_session(members: list[_Mapped], by_key: Mapping[tuple[str, str], _Mapped]) -> tuple[str, str | None]:
    """(session id, session name) for a whole trace: the root-most span that names a session wins; without
    one the trace id is the session."""
    ordered = sorted(members, key=lambda m: (len(_ancestors(m, by_key)), m.span.start_ns))
    session_id = name = None
    for key in attrs.SESSION_KEYS:
        session_id = next((str(m.merged[key]) for m in ordered if m.merged.get(key) not in (None, "")), None)
        if session_id is not None:
            break
    for key in attrs.SESSION_NAME_KEYS:
        name = next((str(m.merged[key]) for m in ordered if m.merged.get(key) not in (None, "")), None)
        if name is not None:
            break
    # Unnamed: the agent nearest the root, else the first top span (store/write/trace_assembly.py does the same
    # when more of the trace arrives).
    # Logfire names spans by their template (`agent run {name}`): the rendered `logfire.msg` is what a person reads.
    name = name or next((m.agent_name for m in ordered if m.agent_name), None) \
        or attrs.first_str(ordered[0].merged, ("logfire.msg",)) or ordered[0].span.name or None
    return (members[0].span.trace_id if session_id is None else session_id), name


def _path(m: _Mapped, by_key: Mapping[tuple[str, str], _Mapped], memo: dict[tuple[str, str], str]) -> str:
    """An explicit path attribute, else the parent's path + this span's name; a top span (root or orphan)
    starts at the session root."""
    base = "/"
    pending: list[_Mapped] = []
    seen: set[tuple[str, str]] = set()
    node = m
    while True:  # walk up until a known path, an explicit one, or the top
        known = memo.get(node.span.key)
        if known is not None:
            base = known
            break
        if node.explicit_path is not None:
            base = node.explicit_path
            memo[node.span.key] = base
            break
        pending.append(node)
        seen.add(node.span.key)
        parent = by_key.get((node.span.trace_id, node.span.parent_id)) if node.span.parent_id else None
        if parent is None or parent.span.key in seen:
            break
        node = parent
    for node in reversed(pending):
        base = base.rstrip("/") + "/" + _segment(node.span.name)
        memo[node.span.key] = base
    return memo[m.span.key]


def _agents(m: _Mapped, by_key: Mapping[tuple[str, str], _Mapped],
            memo: dict[tuple[str, str], tuple[str | None, str | None]]) -> tuple[str | None, str | None]:
    """(the agent a span works for, that agent's parent agent): the nearest agent spans up the tree."""
    known = memo.get(m.span.key)
    if known is not None:
        return known
    names = [node.agent_name for node in _ancestors(m, by_key) if node.agent_name is not None]
    distinct = [name for i, name in enumerate(names) if i == 0 or name != names[i - 1]]
    result = (distinct[0] if distinct else None, distinct[1] if len(distinct) > 1 else None)
    memo[m.span.key] = result
    return result


def request_to_records(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [record for _, record in build_records(decode_request(request))]
