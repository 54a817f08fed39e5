"""OpenAI chat/responses payloads read as a conversation: messages by role, tool calls and their results.

The one reader of these shapes: the explorer's chat view (tui/widgets/chat.py) renders what `read_input` and
`read_output` return, the session screen links tool calls to tool spans with `output_tool_calls`, and the
importers build tool calls with `function_call`. Pure functions over JSON values; text from the trace is kept
as is here (the explorer sanitizes it when it shows it), except the one-line image preview.

Shapes understood (anything else reads as None: not a conversation):
- OpenAI Chat Completions: a request `{"messages": [...], "tools": [...], ...}`, a bare list of messages, a
  response `{"choices": [{"message": ...}]}` or a bare assistant message `{"role": "assistant", ...}`.
- OpenAI Responses: a request `{"input": str | [items], "instructions": ...}`, a response `{"output": [items]}`
  with `message`, `function_call`, `function_call_output` and `reasoning` items.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from agenttrace_tui.textsafe import single_line

IMAGE_PREVIEW_CHARS: Final = 120
"""Longest image URL (or file id) shown in a message's text."""


def compact_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):
        return repr(value)


# -- tool calls ------------------------------------------------------------------------------------------


@dataclass
class ToolCall:
    call_id: str | None
    name: str
    arguments: Any  # usually a JSON string, as the API sends it


def tool_call(raw: Any) -> ToolCall | None:
    """A Chat Completions tool call (`{id, function: {name, arguments}}`) or a flat one (`{id|call_id, name,
    arguments|input}`); None when it isn't an object."""
    if not isinstance(raw, dict):
        return None
    nested = raw.get("function")
    function: dict[str, Any] = nested if isinstance(nested, dict) else raw
    name = function.get("name")
    call_id = raw.get("id") or raw.get("call_id")
    return ToolCall(
        call_id=str(call_id) if call_id is not None else None,
        name=str(name) if name is not None else "?",
        arguments=function.get("arguments", function.get("input")),
    )


def function_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """A tool call in the Chat Completions shape (what importers write, so calls link to their tool spans). Its
    arguments are JSON text, as Chat Completions sends them, whatever the source held (the GenAI conventions and
    some instrumentations write an object): one form for every importer. A tool span's input stays the value."""
    if arguments is not None and not isinstance(arguments, str):
        try:
            arguments = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            arguments = str(arguments)
    call: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if call_id is not None:
        call["id"] = str(call_id)
    return call


def output_tool_calls(output: Any) -> list[tuple[str, str]]:
    """(call id, function name) of the tool calls in an LLM output (Chat Completions or Responses) that a tool
    span can answer: those with a string id, in `choices[].message.tool_calls` (nested `function` shape) and in
    the Responses API's `function_call` output items (`call_id`)."""
    calls: list[tuple[str, str]] = []
    if not isinstance(output, dict):
        return calls
    for choice in output.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        for call in (message or {}).get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(call.get("id"), str):
                calls.append((call["id"], str(function.get("name"))))
    for item in output.get("output") or []:
        if isinstance(item, dict) and item.get("type") == "function_call" and isinstance(item.get("call_id"), str):
            calls.append((item["call_id"], str(item.get("name"))))
    return calls


# -- messages --------------------------------------------------------------------------------------------


@dataclass
class ChatMessage:
    role: str
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    answers: str | None = None  # the tool_call id a tool message answers
    name: str | None = None
    note: str | None = None  # e.g. finish_reason


def content_text(content: Any) -> str:
    """The readable text of a message's content: a string, or a list of typed parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_part_text(part) for part in content)
    return compact_json(content)


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return compact_json(part)
    kind = part.get("type")
    if isinstance(part.get("text"), str):  # text, input_text, output_text
        return str(part["text"])
    if kind == "refusal" or "refusal" in part:
        return f"(refusal) {part.get('refusal')}"
    if kind in ("image_url", "input_image"):
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return f"(image: {single_line(str(url or part.get('file_id') or ''), IMAGE_PREVIEW_CHARS)})"
    if kind in ("input_audio", "input_file", "file"):
        return f"({kind})"
    return compact_json(part)


def chat_message(raw: dict[str, Any]) -> ChatMessage:
    """A Chat Completions message: role, content text (with any refusal), tool calls (and the pre-tools
    `function_call`), the tool_call id a tool message answers, and its name."""
    role = str(raw.get("role") or "?")
    calls = [call for call in map(tool_call, raw.get("tool_calls") or []) if call is not None]
    legacy = raw.get("function_call")  # the pre-tools API
    if isinstance(legacy, dict):
        calls.append(ToolCall(None, str(legacy.get("name") or "?"), legacy.get("arguments")))
    text = content_text(raw.get("content"))
    if raw.get("refusal"):
        text = (text + "\n" if text else "") + f"(refusal) {raw['refusal']}"
    answers = raw.get("tool_call_id")
    name = raw.get("name")
    return ChatMessage(
        role=role,
        text=text,
        tool_calls=calls,
        answers=str(answers) if answers is not None else None,
        name=str(name) if name is not None else None,
    )


def response_items(items: Iterable[Any]) -> list[ChatMessage]:
    """Responses API input/output items (or chat messages) as messages; consecutive function calls share one
    assistant block."""
    messages: list[ChatMessage] = []
    for item in items:
        if isinstance(item, str):
            messages.append(ChatMessage("user", item))
            continue
        if not isinstance(item, dict):
            messages.append(ChatMessage("?", compact_json(item)))
            continue
        kind = item.get("type")
        if kind == "function_call":
            call = ToolCall(
                str(item.get("call_id") or item.get("id") or "") or None,
                str(item.get("name") or "?"),
                item.get("arguments"),
            )
            previous = messages[-1] if messages else None
            if previous is not None and previous.role == "assistant" and not previous.text and previous.tool_calls:
                previous.tool_calls.append(call)
            else:
                messages.append(ChatMessage("assistant", tool_calls=[call]))
        elif kind == "function_call_output":
            output = item.get("output")
            call_id = item.get("call_id")
            messages.append(ChatMessage(
                "tool",
                output if isinstance(output, str) else content_text(output),
                answers=str(call_id) if call_id is not None else None,
            ))
        elif kind == "reasoning":
            summary = item.get("summary") or item.get("content") or []
            messages.append(ChatMessage("reasoning", content_text(summary) or "(reasoning, no summary)"))
        elif kind == "message" or "role" in item:
            messages.append(chat_message(item))
        else:
            messages.append(ChatMessage(str(kind or "?"), compact_json(item)))
    return messages


def _is_message_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and ("role" in item or "type" in item) for item in value)
        and any(isinstance(item, dict) and "role" in item for item in value)
    )


# -- requests and responses ------------------------------------------------------------------------------

_REQUEST_CHAT_KEYS: Final = frozenset({"messages", "tools", "input", "instructions"})


@dataclass
class ChatView:
    """A payload read as a conversation, with the request's other parameters."""

    messages: list[ChatMessage]
    tools: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


def read_input(value: Any) -> ChatView | None:
    """A request payload as a conversation, or None when it isn't one."""
    if _is_message_list(value):
        return ChatView(response_items(value))
    if not isinstance(value, dict):
        return None
    messages: list[ChatMessage]
    if isinstance(value.get("messages"), list):
        messages = response_items(value["messages"])
    elif isinstance(value.get("input"), (str, list)) and ("model" in value or "instructions" in value):
        messages = []
        if value.get("instructions"):
            messages.append(ChatMessage("instructions", content_text(value["instructions"])))
        raw_input = value["input"]
        messages.extend(response_items([raw_input] if isinstance(raw_input, str) else raw_input))
    else:
        return None
    tools = [tool_name(tool) for tool in value.get("tools") or [] if tool is not None]
    params = {key: item for key, item in value.items() if key not in _REQUEST_CHAT_KEYS}
    return ChatView(messages, tools, params)


def tool_name(tool: Any) -> str:
    """The name of a tool a request offers (`{type: function, function: {name}}`, or a built-in's type)."""
    if isinstance(tool, dict):
        nested = tool.get("function")
        function: dict[str, Any] = nested if isinstance(nested, dict) else tool
        return str(function.get("name") or tool.get("type") or "?")
    return str(tool)


def read_output(value: Any) -> ChatView | None:
    """A response payload as the assistant's messages, or None when it isn't one."""
    if _is_message_list(value):
        return ChatView(response_items(value))
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("choices"), list):
        messages: list[ChatMessage] = []
        for choice in value["choices"]:
            if not isinstance(choice, dict):
                continue
            raw = choice.get("message") or choice.get("delta")
            if isinstance(raw, dict):
                message = chat_message(raw)
            else:  # the legacy completions API
                message = ChatMessage("assistant", content_text(choice.get("text")))
            if message.role == "?":
                message.role = "assistant"
            if choice.get("finish_reason"):
                message.note = f"finish_reason: {choice['finish_reason']}"
            messages.append(message)
        return ChatView(messages)
    if isinstance(value.get("output"), list) and (value.get("object") == "response" or "output_text" in value
                                                  or all(isinstance(item, dict) and "type" in item
                                                         for item in value["output"])):
        messages = response_items(value["output"])
        if not messages and isinstance(value.get("output_text"), str):
            messages = [ChatMessage("assistant", value["output_text"])]
        status = value.get("status")
        if messages and status not in (None, "completed"):
            messages[-1].note = f"status: {status}"
        return ChatView(messages)
    if "role" in value and ("content" in value or "tool_calls" in value):
        return ChatView([chat_message(value)])
    return None
