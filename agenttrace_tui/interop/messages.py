"""Chat messages from OpenTelemetry attributes, in the shapes llm/payloads.py reads (the explorer's chat view).

Input becomes `{"messages": [OpenAI chat messages], "tools": [...], <request params>}`; output becomes
`{"choices": [{"message": ..., "finish_reason": ...}]}` (the Chat Completions response shape, so tool calls
link to their tool spans). Sources: GenAI `gen_ai.input.messages` / `gen_ai.output.messages` (role + parts),
the older `gen_ai.prompt` / `gen_ai.completion` (a JSON string, or OpenLLMetry's flattened
`gen_ai.prompt.0.role` keys), OpenInference's flattened `llm.input_messages.0.message.*`, and the older
GenAI message events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from agenttrace_tui.llm.payloads import function_call

Message = dict[str, Any]


def maybe_json(value: Any) -> Any:
    """Parse a string that looks like a JSON object or array; anything else is returned as is."""
    if isinstance(value, str):
        stripped = value.lstrip()
        if stripped[:1] in ("{", "["):
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                return value
    return value


def unflatten(attributes: Mapping[str, Any], prefix: str) -> Any:
    """Keys `prefix + "0.message.role"` ... rebuilt as nested objects, all-digit levels becoming lists.
    None when no key has the prefix."""
    root: dict[str, Any] = {}
    found = False
    for key, value in attributes.items():
        if not key.startswith(prefix):
            continue
        found = True
        node = root
        parts = key[len(prefix):].split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return _lists(root) if found else None


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def has_prefix(attributes: Mapping[str, Any], prefix: str) -> bool:
    if prefix.rstrip(".") in _families(attributes):
        return any(key.startswith(prefix) for key in attributes)
    return False


_FAMILY_CACHE: dict[int, tuple[Mapping[str, Any], frozenset[str]]] = {}


def _families(attributes: Mapping[str, Any]) -> frozenset[str]:
    """The two-segment families (`llm.input_messages`, `gen_ai.prompt`) of a span's keys, computed once per
    attribute dict: most spans have none of the flattened families, and most lookups end here."""
    cached = _FAMILY_CACHE.get(id(attributes))
    if cached is not None and cached[0] is attributes:
        return cached[1]
    families = frozenset(".".join(key.split(".", 2)[:2]) for key in attributes)
    if len(_FAMILY_CACHE) > 64:
        _FAMILY_CACHE.clear()
    _FAMILY_CACHE[id(attributes)] = (attributes, families)
    return families


# -- GenAI (role + parts) -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def genai_messages(value: Any) -> list[Message]:
    """GenAI messages (`[{"role", "parts": [...]}]`), OpenAI-shaped messages or plain text, as chat messages."""
    value = maybe_json(value)
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if isinstance(value, Mapping):
        inner = value.get("messages")
        value = inner if isinstance(inner, list) else [value]
    if not isinstance(value, list):
        return []
    messages: list[Message] = []
    for item in value:
        messages.extend(_genai_message(item))
    return messages


def _genai_message(item: Any) -> list[Message]:
    if isinstance(item, str):
        return [{"role": "user", "content": item}]
    if not isinstance(item, Mapping):
        return [{"role": "?", "content": _text(item)}]
    parts = item.get("parts")
    if not isinstance(parts, list):  # already a chat message (OpenAI shape, or OpenLLMetry's role/content)
        return [chat_message(item)]
    role = str(item.get("role") or "?")
    texts: list[str] = []
    others: list[Any] = []
    calls: list[dict[str, Any]] = []
    before: list[Message] = []
    after: list[Message] = []
    for part in parts:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if not isinstance(part, Mapping):
            texts.append(_text(part))
        elif kind == "text" or (kind is None and isinstance(part.get("content"), str)):
            texts.append(_text(part.get("content", part.get("text", ""))))
        elif kind == "tool_call":
            calls.append(function_call(part.get("id"), part.get("name"), part.get("arguments")))
        elif kind == "tool_call_response":
            response = part.get("response", part.get("result"))
            answer: Message = {"role": "tool", "content": _text(response)}
            if part.get("id") is not None:
                answer["tool_call_id"] = str(part["id"])
            after.append(answer)
        elif kind == "reasoning":
            before.append({"role": "reasoning", "content": _text(part.get("content", ""))})
        else:
            others.append(dict(part))
    if texts or calls or others or not after:
        content: Any = "\n".join(texts) if not others else [{"type": "text", "text": t} for t in texts] + others
        message: Message = {"role": role, "content": content if content != "" else None}
        if calls:
            message["tool_calls"] = calls
        if item.get("name") is not None:
            message["name"] = item["name"]
        before.append(message)
    return before + after


def chat_message(item: Mapping[str, Any]) -> Message:
    """An OpenAI-ish message; OpenLLMetry's flat tool calls (`{id, name, arguments}`) get the function shape."""
    message: Message = {str(key): value for key, value in item.items() if key != "finish_reason"}
    message.setdefault("role", "?")
    content = maybe_json(message.get("content"))
    if isinstance(content, list) and all(isinstance(p, Mapping) and "type" in p for p in content):
        message["content"] = content
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        message["tool_calls"] = [
            call if not isinstance(call, Mapping) or "function" in call
            else function_call(call.get("id"), call.get("name"), call.get("arguments"))
            for call in calls
        ]
    return message


def system_instructions(value: Any) -> list[Message]:
    value = maybe_json(value)
    if value is None:
        return []
    if isinstance(value, list):
        texts = [_text(p.get("content", p.get("text", p))) if isinstance(p, Mapping) else _text(p) for p in value]
        return [{"role": "system", "content": "\n".join(texts)}]
    return [{"role": "system", "content": _text(value)}]


def as_choices(messages: list[Message], finish_reasons: list[Any] | None = None) -> dict[str, Any]:
    """Assistant messages as a Chat Completions response body."""
    choices: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        choice: dict[str, Any] = {"index": index, "message": message}
        reason = message.pop("finish_reason", None)
        if reason is None and finish_reasons and index < len(finish_reasons):
            reason = finish_reasons[index]
        if reason is not None:
            choice["finish_reason"] = reason
        choices.append(choice)
    return {"choices": choices}


def genai_output(value: Any) -> list[Message]:
    """`gen_ai.output.messages` / `gen_ai.completion`: like input messages, a plain string is the assistant's."""
    value = maybe_json(value)
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    out: list[Message] = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        reason = item.get("finish_reason") if isinstance(item, Mapping) else None
        converted = _genai_message(item)
        for message in converted:
            if message.get("role") in ("?", None):
                message["role"] = "assistant"
        if converted and reason is not None:
            converted[-1]["finish_reason"] = reason
        out.extend(converted)
    return out


# -- OpenInference (flattened) --------------------------------------------------------------------------


def responses_output(value: Any) -> list[Message]:
    """A Responses API object (`{"object": "response", "output": [...]}`, what OpenInference's Agents SDK
    instrumentation keeps in `output.value` for a streamed call) as the assistant's message: its text, and its
    `function_call` items as Chat Completions tool calls."""
    if not isinstance(value, Mapping) or value.get("object") != "response" or not isinstance(value.get("output"), list):
        return []
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in value["output"]:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "message":
            texts += [str(part.get("text", "")) for part in item.get("content") or ()
                      if isinstance(part, Mapping) and part.get("type") == "output_text"]
        elif item.get("type") == "function_call":
            calls.append({"id": item.get("call_id") or item.get("id"), "type": "function",
                          "function": {"name": item.get("name"), "arguments": item.get("arguments")}})
    if not texts and not calls:
        return []
    message: Message = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def openinference_messages(attributes: Mapping[str, Any], prefix: str) -> list[Message]:
    items = unflatten(attributes, prefix)
    if not isinstance(items, list):
        return []
    messages: list[Message] = []
    for item in items:
        raw = item.get("message") if isinstance(item, Mapping) else None
        if isinstance(raw, Mapping):
            messages.append(_openinference_message(raw))
    return messages


def _openinference_message(raw: Mapping[str, Any]) -> Message:
    message: Message = {"role": str(raw.get("role") or "?")}
    content = raw.get("content")
    contents = raw.get("contents")
    if content is None and isinstance(contents, list):
        content = [_openinference_part(part) for part in contents]
    message["content"] = content
    calls = raw.get("tool_calls")
    if isinstance(calls, list):
        converted = []
        for call in calls:
            inner = call.get("tool_call") if isinstance(call, Mapping) else None
            if isinstance(inner, Mapping):
                raw_function = inner.get("function")
                function: Mapping[str, Any] = raw_function if isinstance(raw_function, Mapping) else {}
                converted.append(function_call(inner.get("id"), function.get("name"), function.get("arguments")))
        if converted:
            message["tool_calls"] = converted
    for key in ("tool_call_id", "name"):
        if raw.get(key) is not None:
            message[key] = raw[key]
    return message


def _openinference_part(part: Any) -> Any:
    content = part.get("message_content") if isinstance(part, Mapping) else None
    if not isinstance(content, Mapping):
        return part
    if content.get("type") == "image":
        image = content.get("image")
        url = image.get("image", {}).get("url") if isinstance(image, Mapping) else None
        return {"type": "image_url", "image_url": {"url": url}}
    return {"type": "text", "text": content.get("text")}


# -- older GenAI events ---------------------------------------------------------------------------------

EVENT_ROLES: Final = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}


def event_messages(events: list[dict[str, Any]]) -> tuple[list[Message], list[Message]]:
    """(input messages, output messages) from `gen_ai.*.message` and `gen_ai.choice` span events."""
    inputs: list[Message] = []
    outputs: list[Message] = []
    for event in events:
        name = event.get("name")
        attributes = event.get("attributes") or {}
        if name in EVENT_ROLES:
            message: Message = {"role": attributes.get("role") or EVENT_ROLES[str(name)],
                                "content": maybe_json(attributes.get("content"))}
            calls = maybe_json(attributes.get("tool_calls"))
            if isinstance(calls, list):
                message["tool_calls"] = calls
            if attributes.get("id") is not None and message["role"] == "tool":
                message["tool_call_id"] = attributes["id"]
            inputs.append(chat_message(message))
        elif name == "gen_ai.choice":
            raw = maybe_json(attributes.get("message"))
            message = dict(raw) if isinstance(raw, Mapping) else {"content": attributes.get("content", raw)}
            message.setdefault("role", "assistant")
            if attributes.get("finish_reason") is not None:
                message["finish_reason"] = attributes["finish_reason"]
            outputs.append(chat_message(message) | (
                {"finish_reason": message["finish_reason"]} if "finish_reason" in message else {}))
    return inputs, outputs
