"""OpenTelemetry span attributes → trace-format fields.

Conventions read, in priority order where they overlap: OpenTelemetry GenAI (`gen_ai.*`, current and older
names), OpenInference (`openinference.span.kind`, `llm.*`, `tool.*`, `input.value`...), Langfuse
(`langfuse.*`), OpenLLMetry/Traceloop (`traceloop.*`) and Logfire (`logfire.*`, `request_data`...).
docs/interop.md has the table. Attributes arrive as a plain dict (resource attributes under span ones).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Final

import orjson

from agenttrace_tui.format import HELICONE_PROPERTY_PREFIX
from agenttrace_tui.interop import messages as msg
from agenttrace_tui.llm.usage import normalize_usage

ERROR_STATUS: Final = 2

OPENINFERENCE_KINDS: Final = {
    "LLM": "llm", "TOOL": "tool", "AGENT": "agent", "RETRIEVER": "retrieval", "RERANKER": "retrieval",
    "EMBEDDING": "embedding", "CHAIN": "other", "GUARDRAIL": "other", "EVALUATOR": "other",
    "PROMPT": "other", "UNKNOWN": "other",
}
GENAI_OPERATION_KINDS: Final = {
    "chat": "llm", "text_completion": "llm", "generate_content": "llm", "completion": "llm",
    "embeddings": "embedding", "embedding": "embedding", "execute_tool": "tool", "invoke_agent": "agent",
    "create_agent": "agent", "retrieval": "retrieval", "retrieve": "retrieval",
}
LANGFUSE_KINDS: Final = {
    "generation": "llm", "tool": "tool", "agent": "agent", "retriever": "retrieval", "embedding": "embedding",
    "chain": "other", "span": "other", "event": "other", "evaluator": "other", "guardrail": "other",
}
TRACELOOP_ENTITY_NAME: Final = "traceloop.entity.name"
TRACELOOP_KINDS: Final = {"workflow": "agent", "agent": "agent", "tool": "tool", "task": "other"}
TRACELOOP_REQUEST_KINDS: Final = {"chat": "llm", "completion": "llm", "embedding": "embedding",
                                  "rerank": "retrieval"}

LOGFIRE_GROUP_KEY: Final = "openai_agents.group_id"
"""A trace's `group_id` (the conversation, RunConfig.group_id) as Logfire's Agents SDK integration puts it on the
trace span, under a session key of ours (logfire_agents)."""
SESSION_KEYS: Final = (
    "session.id", "gen_ai.conversation.id", "langfuse.session.id",
    "traceloop.association.properties.Helicone-Session-Id", "traceloop.association.properties.session_id",
    "helicone.session.id", LOGFIRE_GROUP_KEY,
)
"""Where a span names its session, best first."""
SESSION_NAME_KEYS: Final = ("traceloop.association.properties.Helicone-Session-Name", "helicone.session.name")
PATH_KEYS: Final = ("traceloop.association.properties.Helicone-Session-Path", "helicone.session.path",
                    "agenttrace.path")
USER_KEYS: Final = ("user.id", "langfuse.user.id", "traceloop.association.properties.Helicone-User-Id",
                    "traceloop.association.properties.user_id", "enduser.id")
MODEL_KEYS: Final = ("gen_ai.response.model", "llm.model_name", "gen_ai.request.model",
                     "langfuse.observation.model.name", "embedding.model_name", "model_name")
REQUEST_MODEL_KEYS: Final = ("gen_ai.request.model", "llm.request.model_name")
PROVIDER_KEYS: Final = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
TOOL_NAME_KEYS: Final = ("gen_ai.tool.name", "tool.name")
AGENT_NAME_KEYS: Final = ("gen_ai.agent.name", "agent.name", "agent_name")
COST_KEYS: Final = ("gen_ai.usage.cost", "llm.cost.total", "operation.cost")
HTTP_STATUS_KEYS: Final = ("http.response.status_code", "http.status_code")

TOKEN_KEYS: Final = {
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                      "llm.token_count.completion"),
    "cache_read_tokens": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                          "llm.token_count.prompt_details.cache_read"),
    "cache_write_tokens": ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens",
                           "llm.token_count.prompt_details.cache_write"),
    "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
                         "gen_ai.usage.details.reasoning_tokens", "llm.token_count.completion_details.reasoning"),
}

GENERIC_INPUT_KEYS: Final = ("input.value", "langfuse.observation.input", "traceloop.entity.input",
                             "gen_ai.tool.call.arguments", "tool_arguments", "request_data")
GENERIC_OUTPUT_KEYS: Final = ("output.value", "langfuse.observation.output", "traceloop.entity.output",
                              "gen_ai.tool.call.result", "tool_response", "final_result", "response_data")
TOOL_INPUT_KEYS: Final = ("gen_ai.tool.call.arguments", "tool_arguments", "input.value",
                          "langfuse.observation.input", "traceloop.entity.input")
TOOL_OUTPUT_KEYS: Final = ("gen_ai.tool.call.result", "tool_response", "output.value",
                           "langfuse.observation.output", "traceloop.entity.output")

LOGFIRE_ERROR_LEVEL: Final = 17
"""Logfire's level numbers: 17 is `error`, 21 `fatal`."""

ASSOCIATION_PREFIX: Final = "traceloop.association.properties."
LANGFUSE_METADATA_PREFIXES: Final = ("langfuse.trace.metadata.", "langfuse.observation.metadata.")


def first(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return value
    return None


def first_str(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    value = first(attributes, keys)
    return None if value is None else str(value)


def request_model(attributes: Mapping[str, Any]) -> str | None:
    """The model a call asked for: `gen_ai.request.model` (GenAI), `llm.request.model_name` (OpenInference's
    conventions), else the `model` in OpenInference's `llm.invocation_parameters`: its OpenAI instrumentation
    (0.1.66) writes only the response's model (`llm.model_name`), and a call that failed has no response."""
    found = first_str(attributes, REQUEST_MODEL_KEYS)
    if found is None and attributes.get("llm.invocation_parameters") is not None:
        parameters = msg.maybe_json(attributes["llm.invocation_parameters"])
        asked = parameters.get("model") if isinstance(parameters, Mapping) else None
        found = asked if isinstance(asked, str) and asked else None
    return found


def span_kind(attributes: Mapping[str, Any], model: str | None, tool_name: str | None) -> str:
    for key, table in (("openinference.span.kind", OPENINFERENCE_KINDS),
                       ("gen_ai.operation.name", GENAI_OPERATION_KINDS),
                       ("langfuse.observation.type", LANGFUSE_KINDS),
                       ("traceloop.span.kind", TRACELOOP_KINDS),
                       ("llm.request.type", TRACELOOP_REQUEST_KINDS)):
        value = attributes.get(key)
        if isinstance(value, str):
            kind = table.get(value) or table.get(value.lower()) or table.get(value.upper())
            if kind is not None:
                return kind
    if tool_name is not None:
        return "tool"
    if model is not None:
        return "llm"
    if first(attributes, AGENT_NAME_KEYS) is not None and "gen_ai.operation.name" not in attributes:
        return "agent"
    return "other"


def _token(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def usage(attributes: Mapping[str, Any]) -> dict[str, int] | None:
    """Token counts; input includes cached tokens and output includes reasoning (the format's semantics)."""
    found: dict[str, int] = {}
    for field_name, keys in TOKEN_KEYS.items():
        for key in keys:
            value = attributes.get(key)
            if value is not None and (count := _token(value)) is not None:
                found[field_name] = count
                break
    if not found:
        found = _langfuse_usage(attributes.get("langfuse.observation.usage_details")) or {}
    if not found:
        found = _logfire_usage(attributes.get("response_data")) or {}
    cached = found.get("cache_read_tokens", 0) + found.get("cache_write_tokens", 0)
    if "input_tokens" in found and cached > found["input_tokens"]:
        # A writer that counts cache apart (Anthropic-style) can't have reported a total smaller than a part.
        found["input_tokens"] += cached
    return found or None


_PROVIDER_USAGE_KEYS: Final = frozenset({"prompt_tokens", "completion_tokens", "input_tokens", "output_tokens"})


def _langfuse_usage(value: Any) -> dict[str, int] | None:
    """Langfuse's own usage keys are additive (their total is the sum of all keys): cache keys add to input.
    Its OpenAI integration writes the provider's usage object as it came instead (`prompt_tokens`, nested
    `prompt_tokens_details`; langfuse/openai.py `_parse_usage`): read as the provider's."""
    details = msg.maybe_json(value)
    if not isinstance(details, Mapping):
        return None
    if _PROVIDER_USAGE_KEYS & details.keys():
        return normalize_usage(details)
    counts = {str(k): c for k, v in details.items() if (c := _token(v)) is not None}
    result: dict[str, int] = {}
    cache_read = sum(c for k, c in counts.items() if "cache" in k and "read" in k or k == "input_cached_tokens")
    cache_write = sum(c for k, c in counts.items() if "cache" in k and ("creation" in k or "write" in k))
    if "input" in counts or cache_read or cache_write:
        result["input_tokens"] = counts.get("input", 0) + cache_read + cache_write
    if "output" in counts:
        result["output_tokens"] = counts["output"]
    if cache_read:
        result["cache_read_tokens"] = cache_read
    if cache_write:
        result["cache_write_tokens"] = cache_write
    reasoning = sum(c for k, c in counts.items() if "reasoning" in k)
    if reasoning:
        result["reasoning_tokens"] = reasoning
    return result or None


def _logfire_usage(value: Any) -> dict[str, int] | None:
    data = msg.maybe_json(value)
    raw = data.get("usage") if isinstance(data, Mapping) else None
    return normalize_usage(raw) if isinstance(raw, Mapping) else None


def cost(attributes: Mapping[str, Any]) -> float | int | None:
    value = first(attributes, COST_KEYS)
    if value is None:
        details = msg.maybe_json(attributes.get("langfuse.observation.cost_details"))
        value = details.get("total") if isinstance(details, Mapping) else None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 and value == value:
        return value
    return None


def error(attributes: Mapping[str, Any], events: list[dict[str, Any]], status_code: int,
          status_message: str | None) -> dict[str, Any] | None:
    """The span's error, or None when it did not fail.

    A span failed when its status is ERROR, it has `error.type` (GenAI: set only on failure), Langfuse level
    ERROR or a Logfire level ≥ error. An exception event alone (recorded, then handled) is not a failure.
    """
    level = attributes.get("logfire.level_num")
    failed = (
        status_code == ERROR_STATUS
        or attributes.get("error.type") not in (None, "")
        or attributes.get("langfuse.observation.level") == "ERROR"
        or (isinstance(level, int) and not isinstance(level, bool) and level >= LOGFIRE_ERROR_LEVEL)
    )
    if not failed:
        return None
    found: dict[str, Any] = {}
    for event in events:  # the last exception event is the one that ended the span
        if event.get("name") == "exception":
            exception = event.get("attributes") or {}
            found = {key: str(exception[source]) for key, source in (
                ("type", "exception.type"), ("message", "exception.message"), ("stack", "exception.stacktrace"))
                if exception.get(source) is not None}
    if "type" not in found and attributes.get("error.type") not in (None, ""):
        found["type"] = _error_type(str(attributes["error.type"]))
    message = status_message or attributes.get("langfuse.observation.status_message")
    if "message" not in found and message:
        found["message"] = str(message)
    if "message" not in found and (described := _logfire_error(attributes.get("error"))):
        found["message"] = described  # Logfire's Agents SDK spans say why in `error` only (a failed agent run)
    return found


def _logfire_error(value: Any) -> str | None:
    """Logfire's Agents SDK `error` attribute, `{"message": ..., "data": {"error": ...}}` (JSON text), as one line."""
    failure = msg.maybe_json(value)
    if isinstance(failure, Mapping) and failure.get("message") not in (None, ""):
        detail = failure["data"].get("error") if isinstance(failure.get("data"), Mapping) else None
        return str(failure["message"]) + (f": {detail}" if detail else "")
    return None


_CLASS_REPR: Final = re.compile(r"<class '([^'<>]+)'>")


def _error_type(value: str) -> str:
    """`error.type` as a type name. util-genai 1.1b0 (under opentelemetry-instrumentation-openai-v2 2.4b0) sets it
    to the exception class itself, which the SDK writes as its str: `<class 'openai.RateLimitError'>`."""
    matched = _CLASS_REPR.fullmatch(value.strip())
    return matched.group(1) if matched else value


def properties(attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    """Helicone-Property-* and other association properties (OpenLLMetry), Langfuse metadata scalars."""
    found: dict[str, Any] = {}
    for key, value in attributes.items():
        if key.startswith(ASSOCIATION_PREFIX):
            name = key[len(ASSOCIATION_PREFIX):]
            lowered = name.lower()
            if lowered.startswith(HELICONE_PROPERTY_PREFIX):
                found[name[len(HELICONE_PROPERTY_PREFIX):]] = _scalar(value)
            elif not lowered.startswith("helicone-") and lowered not in ("session_id", "user_id"):
                found[name] = _scalar(value)
        elif key.startswith(LANGFUSE_METADATA_PREFIXES):
            # Langfuse writes a value as JSON text (a string too: `"\"stop\""`): read it as such.
            found[key.split(".", 3)[3]] = _scalar(_json_text(value))
    return found or None


def _scalar(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else orjson.dumps(value).decode()


def _json_value(value: Any, mime: Any = None) -> Any:
    if isinstance(value, str) and (mime is None or "json" in str(mime)):
        return msg.maybe_json(value)
    return value


JSON_TEXT_KEYS: Final = frozenset({"traceloop.entity.input", "traceloop.entity.output"})
"""Always JSON text (OpenLLMetry's decorators `json.dumps` the value, a string too, which arrives quoted), so any
JSON value is read, not only an object or an array; text that does not parse (truncated) stays text."""


def _json_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _generic(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if attributes.get(key) is not None:
            if key in JSON_TEXT_KEYS:
                return _json_text(attributes[key])
            mime = attributes.get(key.replace(".value", ".mime_type")) if key.endswith(".value") else None
            return _json_value(attributes[key], mime)
    return None


def llm_input(attributes: Mapping[str, Any], events: list[dict[str, Any]], model: str | None) -> Any:
    """Messages (and tools, request parameters) in Chat Completions request shape, or None."""
    messages = msg.system_instructions(attributes.get("gen_ai.system_instructions"))
    if attributes.get("gen_ai.input.messages") is not None:
        messages += msg.genai_messages(attributes["gen_ai.input.messages"])
    elif msg.has_prefix(attributes, "llm.input_messages."):
        messages += msg.openinference_messages(attributes, "llm.input_messages.")
    elif msg.has_prefix(attributes, "gen_ai.prompt."):
        messages += msg.genai_messages(msg.unflatten(attributes, "gen_ai.prompt."))
    elif attributes.get("gen_ai.prompt") is not None:
        messages += msg.genai_messages(attributes["gen_ai.prompt"])
    else:
        messages += msg.event_messages(events)[0] or _logfire_events_input(attributes)
    request = msg.maybe_json(attributes.get("request_data"))
    if not messages:
        return request if isinstance(request, Mapping) and "messages" in request else None
    body: dict[str, Any] = {"messages": messages}
    tools = _tools(attributes)
    if tools:
        body["tools"] = tools
    # The request names the model asked for, not the dated one the response names (`model` is the response's).
    asked = request_model(attributes) or model
    if asked is not None:
        body["model"] = asked
    for key, value in attributes.items():
        if key.startswith("gen_ai.request.") and key != "gen_ai.request.model":
            body[key[len("gen_ai.request."):]] = value
    parameters = msg.maybe_json(attributes.get("llm.invocation_parameters"))
    if isinstance(parameters, Mapping):
        for key, value in parameters.items():
            body.setdefault(str(key), value)
    return body


def _tools(attributes: Mapping[str, Any]) -> list[Any]:
    definitions = msg.maybe_json(attributes.get("gen_ai.tool.definitions"))
    if isinstance(definitions, list):
        return definitions
    listed = msg.unflatten(attributes, "llm.tools.")
    if isinstance(listed, list):
        tools = []
        for item in listed:
            schema = item.get("tool", {}).get("json_schema") if isinstance(item, Mapping) else None
            tools.append(msg.maybe_json(schema) if schema is not None else item)
        return tools
    return []


# Logfire's OpenAI Agents SDK integration (`logfire.instrument_openai_agents`) names spans by message templates
# and puts what matters in plain attributes (checked against logfire 5.6.0 with openai-agents 0.25.0).
LOGFIRE_AGENTS_TRACE: Final = "OpenAI Agents trace: {name}"
LOGFIRE_AGENT_RUN: Final = "Agent run: {name!r}"
LOGFIRE_FUNCTION: Final = "Function: {name}"


def logfire_agents(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """What a span of Logfire's Agents SDK integration says in our terms: {} for any other span."""
    template = attributes.get("logfire.msg_template")
    name = attributes.get("name")
    if template == LOGFIRE_FUNCTION and isinstance(name, str):
        found: dict[str, Any] = {"kind": "tool", "tool_name": name,
                                 "input": _json_value(attributes["input"]) if attributes.get("input") is not None else None,
                                 "output": _json_value(attributes["output"]) if attributes.get("output") is not None
                                 else None}
        failure = msg.maybe_json(attributes.get("error"))
        if described := _logfire_error(failure):
            # {"message": "Error running tool (non-fatal)", "data": {"tool_name", "error": "Tool execution failed..."}}
            found["error"] = {"message": described}
        elif isinstance(failure, str) and failure:
            found["error"] = {"message": failure}
        return found
    if template == LOGFIRE_AGENT_RUN and isinstance(name, str):
        return {"kind": "agent", "agent_name": name}
    if template == LOGFIRE_AGENTS_TRACE and attributes.get("group_id") not in (None, ""):
        return {"group_id": str(attributes["group_id"])}
    return {}


def _logfire_events_input(attributes: Mapping[str, Any]) -> list[msg.Message]:
    """A Logfire Responses API span's input messages: its `events` attribute, GenAI message events as a JSON list
    (`{"event.name": "gen_ai.user.message", "role", "content"}`), which ends with the response's own assistant
    messages (the output, read from `response`): those are left out."""
    listed = msg.maybe_json(attributes.get("events"))
    if not isinstance(listed, list) or not str(attributes.get("logfire.msg_template", "")).startswith("Responses API"):
        return []
    items = [e for e in listed if isinstance(e, Mapping)]
    while items and items[-1].get("event.name") == "gen_ai.assistant.message":
        items.pop()
    return msg.event_messages([{"name": e.get("event.name"), "attributes": e} for e in items])[0]


def _logfire_agents_output(attributes: Mapping[str, Any], reasons: list[Any] | None) -> Any:
    """The LLM span's `output`: the assistant messages of the response (tool calls included), as a list; a
    Responses API span's is the Responses object in `response`."""
    if not str(attributes.get("logfire.msg_template", "")).startswith(("Chat completion with", "Responses API")):
        return None
    # The Agents SDK's Responses API span (its default model) keeps the whole Response object, not `output`.
    if replied := msg.responses_output(msg.maybe_json(attributes.get("response"))):
        return msg.as_choices(replied, reasons)
    value = msg.maybe_json(attributes.get("output"))
    if isinstance(value, list) and value and all(isinstance(m, Mapping) and "role" in m for m in value):
        return msg.as_choices([{k: v for k, v in m.items() if v is not None} for m in value])
    return None


def llm_output(attributes: Mapping[str, Any], events: list[dict[str, Any]]) -> Any:
    # A list attribute may arrive as JSON text: Logfire sends every list value so (`"[\"stop\"]"`).
    finish = msg.maybe_json(attributes.get("gen_ai.response.finish_reasons"))
    reasons = finish if isinstance(finish, list) else None
    if reasons is None and isinstance(attributes.get("llm.finish_reason"), str):  # OpenInference
        reasons = [attributes["llm.finish_reason"]]
    if attributes.get("gen_ai.output.messages") is not None:
        return msg.as_choices(msg.genai_output(attributes["gen_ai.output.messages"]), reasons)
    if msg.has_prefix(attributes, "llm.output_messages."):
        return msg.as_choices(msg.openinference_messages(attributes, "llm.output_messages."), reasons)
    if msg.has_prefix(attributes, "gen_ai.completion."):
        return msg.as_choices(msg.genai_output(msg.unflatten(attributes, "gen_ai.completion.")), reasons)
    if attributes.get("gen_ai.completion") is not None:
        return msg.as_choices(msg.genai_output(attributes["gen_ai.completion"]), reasons)
    outputs = msg.event_messages(events)[1]
    if outputs:
        return msg.as_choices(outputs, reasons)
    if streamed := msg.responses_output(msg.maybe_json(attributes.get("output.value"))):
        return msg.as_choices(streamed, reasons)
    response = msg.maybe_json(attributes.get("response_data"))
    if isinstance(response, Mapping) and isinstance(response.get("message"), Mapping):
        # Logfire's first format dumps the SDK's message whole: its unset fields (`refusal`, `audio`...) are nulls.
        return msg.as_choices([{k: v for k, v in response["message"].items() if v is not None or k == "content"}],
                              reasons)
    return _logfire_agents_output(attributes, reasons)


def retrieval_output(attributes: Mapping[str, Any]) -> Any:
    documents = msg.unflatten(attributes, "retrieval.documents.")
    if isinstance(documents, list):
        return {"documents": [d.get("document", d) if isinstance(d, Mapping) else d for d in documents]}
    return None


def _as_response(output: Any) -> Any:
    """An LLM output that is the assistant's message itself (Langfuse's OpenAI integration writes
    `{"role": "assistant", "tool_calls": [...]}`) as a Chat Completions response, so its tool calls link to the
    tool spans that answered them; anything else as it is."""
    if isinstance(output, Mapping) and output.get("role") == "assistant":
        return msg.as_choices([msg.chat_message(output)])
    if isinstance(output, str):  # a streamed reply's text (Langfuse's OpenAI integration): the assistant's
        return msg.as_choices([{"role": "assistant", "content": output}])
    return output


def _as_request(value: Any) -> Any:
    """An LLM input that is a bare list of chat messages (Langfuse's OpenAI integration without tools) as a Chat
    Completions request, the shape the chat view reads; anything else as it is."""
    if isinstance(value, list) and value and all(isinstance(m, Mapping) and "role" in m for m in value):
        return {"messages": [msg.chat_message(m) for m in value]}
    return value


def _call_arguments(value: Any) -> Any:
    """A tool's input as its arguments: Langfuse's `@observe` records a function's `{"args": [], "kwargs": {...}}`,
    whose arguments are the keyword ones when there are no positional ones."""
    if isinstance(value, Mapping) and set(value) == {"args", "kwargs"} and value["args"] == [] \
            and isinstance(value["kwargs"], Mapping):
        return dict(value["kwargs"])
    return value


def payloads(attributes: Mapping[str, Any], events: list[dict[str, Any]], kind: str,
             model: str | None) -> tuple[Any, Any]:
    """(input, output) for the span's kind: messages for LLM calls, arguments and result for tools."""
    if kind == "llm":
        return (llm_input(attributes, events, model) or _as_request(_generic(attributes, GENERIC_INPUT_KEYS)),
                llm_output(attributes, events) or _as_response(_generic(attributes, GENERIC_OUTPUT_KEYS)))
    if kind == "tool":
        return _call_arguments(_generic(attributes, TOOL_INPUT_KEYS)), _generic(attributes, TOOL_OUTPUT_KEYS)
    span_input = _generic(attributes, GENERIC_INPUT_KEYS)
    span_output = _generic(attributes, GENERIC_OUTPUT_KEYS)
    if span_output is None and kind == "retrieval":
        span_output = retrieval_output(attributes)
    if span_input is None and (attributes.get("gen_ai.input.messages") is not None
                               or msg.has_prefix(attributes, "llm.input_messages.")):
        span_input = llm_input(attributes, events, None)
    if span_output is None and (attributes.get("gen_ai.output.messages") is not None
                                or msg.has_prefix(attributes, "llm.output_messages.")):
        span_output = llm_output(attributes, events)
    return span_input, span_output


FIRST_TOKEN_EVENTS: Final = frozenset({
    "First Token Stream Event",  # OpenInference: added at the first streamed chunk, stamped by the SDK
    "llm.content.completion.chunk",  # OpenLLMetry: one per chunk
    "gen_ai.content.completion.chunk",
})
TIME_TO_FIRST_CHUNK_KEYS: Final = (
    "gen_ai.response.time_to_first_chunk",  # GenAI semantic conventions, seconds
    # Pydantic AI (2.75) writes the metric's name on the streamed chat span itself, seconds too.
    "gen_ai.client.operation.time_to_first_chunk",
)
COMPLETION_START_KEYS: Final = ("langfuse.observation.completion_start_time",)  # Langfuse: a JSON-quoted ISO time


def first_token_ms(attributes: Mapping[str, Any], events: list[dict[str, Any]], start_ns: int,
                   end_ns: int | None) -> float | None:
    """Milliseconds from a call's start to its first streamed token, from whichever of an event, a duration or
    a time the instrumentation writes; None when none does, or when it falls outside the span."""
    found: float | None = None
    chunk_times = [e["time"] for e in events if e.get("name") in FIRST_TOKEN_EVENTS and e.get("time")]
    if chunk_times:
        found = (min(chunk_times) - start_ns) / 1e6
    if found is None and (seconds := first(attributes, TIME_TO_FIRST_CHUNK_KEYS)) is not None:
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            found = float(seconds) * 1000
    if found is None and (stamp := first(attributes, COMPLETION_START_KEYS)) is not None:
        found = _ms_after(stamp, start_ns)
    if found is None or found < 0 or (end_ns is not None and found > (end_ns - start_ns) / 1e6):
        return None
    return found


def _ms_after(stamp: Any, start_ns: int) -> float | None:
    if not isinstance(stamp, str):
        return None
    if stamp.startswith('"'):  # JSON-quoted, as Langfuse's SDK serializes it
        try:
            stamp = orjson.loads(stamp)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(stamp, str):
            return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # Langfuse writes UTC
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds() * 1000 - start_ns / 1e6


def http_status(attributes: Mapping[str, Any]) -> int | None:
    value = first(attributes, HTTP_STATUS_KEYS)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
