"""Span payloads as readable text: chat messages by role, tool calls linked to their tool spans, JSON otherwise.

Pure functions from a payload to one `rich.text.Text`: no widget per message, so a span with hundreds of
messages renders as one Static update. Every string from the trace passes through `sanitize` and is appended
as plain text, never parsed as markup.

Shapes understood (anything else is shown as pretty JSON):
- OpenAI Chat Completions: a request `{"messages": [...], "tools": [...], ...}`, a bare list of messages, a
  response `{"choices": [{"message": ...}]}` or a bare assistant message `{"role": "assistant", ...}`.
- OpenAI Responses: a request `{"input": str | [items], "instructions": ...}`, a response `{"output": [items]}`
  with `message`, `function_call`, `function_call_output` and `reasoning` items.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from rich.highlighter import JSONHighlighter
from rich.style import Style
from rich.text import Text

from agenttrace_tui import display
from agenttrace_tui.store.records import SpanRow
from agenttrace_tui.textsafe import sanitize

MAX_VALUE_CHARS: Final = 20_000
"""Longest single string shown as is; beyond it a note says how much is left, so one giant payload can't stall
rendering (measured: Textual draws ~1 µs per character of a Static, ~30 µs per styled span)."""

SECTION_BUDGET_CHARS: Final = 60_000
"""Characters one section (input or output) may take before older messages are collapsed to a preview line:
keeps a 200-message span at a few tens of milliseconds per selection."""

PREVIEW_CHARS: Final = 160
"""Length of the one-line preview of a collapsed message."""

HIGHLIGHT_MAX_CHARS: Final = 12_000
"""JSON longer than this is shown without highlighting: each highlighted token is a styled span, which is what
makes large Statics slow."""

ROLE_STYLES: Final[Mapping[str, str]] = {
    "system": "bold magenta",
    "developer": "bold magenta",
    "instructions": "bold magenta",
    "user": "bold green",
    "assistant": "bold cyan",
    "tool": "bold yellow",
    "function": "bold yellow",
    "reasoning": "bold bright_black",
}
"""One colour per role, the same in input and output."""

OTHER_ROLE_STYLE: Final = "bold white"
LABEL_STYLE: Final = "dim"
NOTE_STYLE: Final = "dim italic"
CALL_NAME_STYLE: Final = "bold yellow"
ERROR_STYLE: Final = "bold red"
OK_STYLE: Final = "green"

_JSON_HIGHLIGHTER: Final = JSONHighlighter()


def link_action_style(span_id: str) -> Style:
    """The default style of an "answered by" link: underlined, with a click action naming the span."""
    return Style(underline=True, color="bright_blue", meta={"@click": ("open_tool_span", (span_id,))})


def expand_action_style(key: str) -> Style:
    """The default style of a collapsed message's "show" link."""
    return Style(underline=True, color="bright_blue", meta={"@click": ("expand_message", (key,))})


@dataclass
class RenderContext:
    """What rendering a section needs besides the payload."""

    tool_spans: Mapping[str, SpanRow] = field(default_factory=dict)
    """tool_call id → the tool span that answered it."""
    expanded: set[str] = field(default_factory=set)
    """Keys (`section:index`) of collapsed messages the user opened."""
    link_style: Callable[[str], Style] = link_action_style
    expand_style: Callable[[str], Style] = expand_action_style
    call_names: dict[str, str] = field(default_factory=dict)
    """tool_call id → function name, filled while reading assistant messages, used by tool messages."""


# -- values as text --------------------------------------------------------------------------------------


def clip(text: str, limit: int = MAX_VALUE_CHARS) -> tuple[str, int]:
    """The text cut to `limit` characters, and how many were cut."""
    if len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def more_note(hidden: int, how: str = "r for raw") -> str:
    return f"… {hidden:,} more characters ({how})"


def clip_strings(value: Any, limit: int = MAX_VALUE_CHARS, how: str = "r for raw") -> Any:
    """A copy of a JSON value with every string longer than `limit` cut, ending with a note of what was cut."""
    if isinstance(value, str):
        kept, hidden = clip(value, limit)
        return kept + " " + more_note(hidden, how) if hidden else value
    if isinstance(value, dict):
        return {str(key): clip_strings(item, limit, how) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clip_strings(item, limit, how) for item in value]
    return value


def pretty_json(value: Any, limit: int = MAX_VALUE_CHARS, how: str = "r for raw") -> str:
    """Indented JSON with long strings cut (not sanitized: callers do that)."""
    try:
        return json.dumps(clip_strings(value, limit, how), indent=2, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):  # absurdly deep, or a circular structure handed in by hand
        kept, hidden = clip(repr(value), limit)
        return kept + (" " + more_note(hidden, how) if hidden else "")


def compact_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):
        return repr(value)


def _parse_json_text(text: str) -> Any | None:
    """The dict or list a string holds as JSON, if it does (tool arguments and tool results usually do)."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{" or len(stripped) > 4 * MAX_VALUE_CHARS:
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    return parsed if isinstance(parsed, (dict, list)) else None


def append_block(out: Text, text: str, style: str = "", *, limit: int = MAX_VALUE_CHARS) -> int:
    """Append untrusted multi-line text, clipped, with a note when clipped; returns the characters appended."""
    kept, hidden = clip(text, limit)
    safe = sanitize(kept, single_line=False).expandtabs(4)
    out.append(safe, style)
    if hidden:
        out.append("\n" + more_note(hidden), NOTE_STYLE)
    return len(safe)


def append_json(out: Text, value: Any, *, limit: int = MAX_VALUE_CHARS, budget: int = SECTION_BUDGET_CHARS) -> int:
    """Append a JSON value pretty-printed (highlighted when small), long strings and the whole clipped."""
    text = pretty_json(value, limit)
    kept, hidden = clip(text, budget)
    safe = sanitize(kept, single_line=False)
    block = Text(safe)
    if len(safe) <= HIGHLIGHT_MAX_CHARS:
        _JSON_HIGHLIGHTER.highlight(block)
    out.append_text(block)
    if hidden:
        out.append("\n" + more_note(hidden), NOTE_STYLE)
    return len(safe)


def single_line(text: str, limit: int) -> str:
    """A sanitized one-line preview: newlines shown as spaces, cut with an ellipsis."""
    flat = " ".join(text[: limit * 2].split())
    if len(flat) > limit or len(text) > limit * 2:
        flat = flat[:limit].rstrip() + "…"
    return sanitize(flat)


# -- chat shapes -----------------------------------------------------------------------------------------


@dataclass
class ToolCall:
    call_id: str | None
    name: str
    arguments: Any  # usually a JSON string, as the API sends it


@dataclass
class ChatMessage:
    role: str
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    answers: str | None = None  # the tool_call id a tool message answers
    name: str | None = None
    note: str | None = None  # e.g. finish_reason

    def size(self) -> int:
        """Rough characters this message takes when shown in full."""
        calls = sum(len(call.name) + len(str(call.arguments)) + 40 for call in self.tool_calls)
        return min(len(self.text), MAX_VALUE_CHARS) + calls + 40


def _text_of(content: Any) -> str:
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
        return f"(image: {single_line(str(url or part.get('file_id') or ''), 120)})"
    if kind in ("input_audio", "input_file", "file"):
        return f"({kind})"
    return compact_json(part)


def _tool_call(raw: Any) -> ToolCall | None:
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


def _chat_message(raw: dict[str, Any]) -> ChatMessage:
    role = str(raw.get("role") or "?")
    calls = [call for call in map(_tool_call, raw.get("tool_calls") or []) if call is not None]
    legacy = raw.get("function_call")  # the pre-tools API
    if isinstance(legacy, dict):
        calls.append(ToolCall(None, str(legacy.get("name") or "?"), legacy.get("arguments")))
    text = _text_of(raw.get("content"))
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


def _response_items(items: Iterable[Any]) -> list[ChatMessage]:
    """Responses API input/output items as messages; consecutive function calls share one assistant block."""
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
                output if isinstance(output, str) else _text_of(output),
                answers=str(call_id) if call_id is not None else None,
            ))
        elif kind == "reasoning":
            summary = item.get("summary") or item.get("content") or []
            messages.append(ChatMessage("reasoning", _text_of(summary) or "(reasoning, no summary)"))
        elif kind == "message" or "role" in item:
            messages.append(_chat_message(item))
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
        return ChatView(_response_items(value))
    if not isinstance(value, dict):
        return None
    messages: list[ChatMessage]
    if isinstance(value.get("messages"), list):
        messages = _response_items(value["messages"])
    elif isinstance(value.get("input"), (str, list)) and ("model" in value or "instructions" in value):
        messages = []
        if value.get("instructions"):
            messages.append(ChatMessage("instructions", _text_of(value["instructions"])))
        raw_input = value["input"]
        messages.extend(_response_items([raw_input] if isinstance(raw_input, str) else raw_input))
    else:
        return None
    tools = [_tool_name(tool) for tool in value.get("tools") or [] if tool is not None]
    params = {key: item for key, item in value.items() if key not in _REQUEST_CHAT_KEYS}
    return ChatView(messages, tools, params)


def _tool_name(tool: Any) -> str:
    if isinstance(tool, dict):
        nested = tool.get("function")
        function: dict[str, Any] = nested if isinstance(nested, dict) else tool
        return str(function.get("name") or tool.get("type") or "?")
    return str(tool)


def read_output(value: Any) -> ChatView | None:
    """A response payload as the assistant's messages, or None when it isn't one."""
    if _is_message_list(value):
        return ChatView(_response_items(value))
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("choices"), list):
        messages: list[ChatMessage] = []
        for choice in value["choices"]:
            if not isinstance(choice, dict):
                continue
            raw = choice.get("message") or choice.get("delta")
            if isinstance(raw, dict):
                message = _chat_message(raw)
            else:  # the legacy completions API
                message = ChatMessage("assistant", _text_of(choice.get("text")))
            if message.role == "?":
                message.role = "assistant"
            if choice.get("finish_reason"):
                message.note = f"finish_reason: {choice['finish_reason']}"
            messages.append(message)
        return ChatView(messages)
    if isinstance(value.get("output"), list) and (value.get("object") == "response" or "output_text" in value
                                                  or all(isinstance(item, dict) and "type" in item
                                                         for item in value["output"])):
        messages = _response_items(value["output"])
        if not messages and isinstance(value.get("output_text"), str):
            messages = [ChatMessage("assistant", value["output_text"])]
        status = value.get("status")
        if messages and status not in (None, "completed"):
            messages[-1].note = f"status: {status}"
        return ChatView(messages)
    if "role" in value and ("content" in value or "tool_calls" in value):
        return ChatView([_chat_message(value)])
    return None


# -- rendering -------------------------------------------------------------------------------------------


def role_style(role: str) -> str:
    return ROLE_STYLES.get(role, OTHER_ROLE_STYLE)


def tool_span_summary(row: SpanRow) -> tuple[str, str]:
    """`(duration, ok)` or `(duration, error: Type)`, with the style the outcome reads in."""
    took = "running" if row.in_progress else display.duration(row.duration_ms)
    if row.status == "error":
        kind = f"error: {row.error_type}" if row.error_type else "error"
        return f"{took}, {sanitize(kind)}", ERROR_STYLE
    return f"{took}, {sanitize(row.status or 'ok')}", OK_STYLE


def _append_link(out: Text, row: SpanRow, ctx: RenderContext, prefix: str) -> None:
    outcome, outcome_style = tool_span_summary(row)
    out.append(prefix, LABEL_STYLE)
    out.append(f"answered by {sanitize(row.label)}", ctx.link_style(row.span_id))
    out.append(" (", LABEL_STYLE)
    out.append(outcome, outcome_style)
    out.append(")", LABEL_STYLE)


def _arguments_text(arguments: Any) -> str:
    if arguments is None:
        return ""
    if isinstance(arguments, str):
        parsed = _parse_json_text(arguments)
        return compact_json(parsed) if parsed is not None else arguments
    return compact_json(arguments)


def _append_calls(out: Text, message: ChatMessage, ctx: RenderContext, *, limit: int) -> None:
    for call in message.tool_calls:
        if call.call_id:
            ctx.call_names[call.call_id] = call.name
        out.append("\n→ ", CALL_NAME_STYLE)
        out.append(sanitize(call.name), CALL_NAME_STYLE)
        out.append("(")
        args, hidden = clip(_arguments_text(call.arguments), limit)
        out.append(sanitize(args))
        out.append(")")
        if hidden:
            out.append(" " + more_note(hidden), NOTE_STYLE)
        row = ctx.tool_spans.get(call.call_id) if call.call_id else None
        if row is not None:
            _append_link(out, row, ctx, "\n   ↳ ")
        elif call.call_id:
            out.append(f"  {sanitize(call.call_id)}", LABEL_STYLE)


def _append_header(out: Text, message: ChatMessage, index: int, ctx: RenderContext) -> None:
    out.append(f"▍{sanitize(message.role)}", role_style(message.role))
    out.append(f"  #{index + 1}", LABEL_STYLE)
    if message.name:
        out.append(f"  {sanitize(message.name)}", LABEL_STYLE)
    if message.answers is not None:
        called = ctx.call_names.get(message.answers)
        answered = f"answers {sanitize(called)} " if called else "answers "
        out.append(f"  {answered}({sanitize(message.answers)})", LABEL_STYLE)


def _append_message(out: Text, message: ChatMessage, index: int, ctx: RenderContext, key: str,
                    *, collapsed: bool) -> None:
    _append_header(out, message, index, ctx)
    if message.role in ("tool", "function") and message.answers is not None:
        row = ctx.tool_spans.get(message.answers)
        if row is not None:
            _append_link(out, row, ctx, "  ")
    text = message.text
    if collapsed:
        if text:
            out.append("\n")
            out.append(single_line(text, PREVIEW_CHARS), NOTE_STYLE)
            out.append("  ")
            out.append(f"▸ show all {len(text):,} characters", ctx.expand_style(key))
        _append_calls(out, message, ctx, limit=PREVIEW_CHARS)
    else:
        if text:
            out.append("\n")
            parsed = _parse_json_text(text) if message.role in ("tool", "function") else None
            if parsed is not None:
                append_json(out, parsed)
            else:
                append_block(out, text)
        elif not message.tool_calls:
            out.append("\n(empty)", NOTE_STYLE)
        _append_calls(out, message, ctx, limit=MAX_VALUE_CHARS)
    if message.note:
        out.append(f"\n{sanitize(message.note)}", LABEL_STYLE)


def _full_messages(messages: list[ChatMessage], budget: int, section: str, expanded: set[str]) -> set[int]:
    """Which messages are shown in full: the newest ones while they fit the budget, then the first (usually
    the system prompt) if it still fits, and any the user expanded; the rest collapse to a preview line."""
    full: set[int] = set()
    spent = 0
    for index in range(len(messages) - 1, -1, -1):
        size = messages[index].size()
        if spent + size > budget and full:
            break
        full.add(index)
        spent += size
    if messages and 0 not in full and spent + messages[0].size() <= budget:
        full.add(0)
    full.update(index for index in range(len(messages)) if f"{section}:{index}" in expanded)
    return full


def render_chat(out: Text, view: ChatView, ctx: RenderContext, section: str,
                *, budget: int = SECTION_BUDGET_CHARS) -> None:
    """A conversation: request parameters and tools on a line each, then one block per message."""
    if view.params:
        params = " · ".join(
            f"{key}={single_line(item if isinstance(item, str) else compact_json(item), 80)}"
            for key, item in view.params.items()
        )
        out.append("params  ", LABEL_STYLE)
        out.append(sanitize(params))
        out.append("\n")
    if view.tools:
        out.append("tools   ", LABEL_STYLE)
        out.append(sanitize(", ".join(view.tools)), CALL_NAME_STYLE)
        out.append("\n")
    full = _full_messages(view.messages, budget, section, ctx.expanded)
    collapsed = len(view.messages) - len(full)
    if collapsed:
        out.append(f"{collapsed} of {len(view.messages)} messages collapsed to fit (▸ to open one, r for raw)\n",
                   NOTE_STYLE)
    for index, message in enumerate(view.messages):
        if index:
            out.append("\n\n")
        _append_message(out, message, index, ctx, f"{section}:{index}", collapsed=index not in full)


def render_payload(out: Text, value: Any, ctx: RenderContext, section: str) -> None:
    """`section` is "input" or "output": a conversation when the payload is one, else text or pretty JSON."""
    view = read_input(value) if section == "input" else read_output(value)
    if view is None and section == "output":
        view = read_input(value)  # an agent step may output a whole conversation
    if view is not None and view.messages:
        render_chat(out, view, ctx, section)
    elif isinstance(value, str):
        append_block(out, value)
    else:
        append_json(out, value)
