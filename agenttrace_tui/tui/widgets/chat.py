"""Span payloads as readable text: chat messages by role, tool calls linked to their tool spans, JSON otherwise.

Pure functions from a payload to one `rich.text.Text`: no widget per message, so a span with hundreds of
messages renders as one Static update. Every string from the trace passes through `sanitize` and is appended
as plain text, never parsed as markup.

Payloads are read as conversations by llm/payloads.py (OpenAI Chat Completions and Responses requests and
responses); anything else is shown as text or pretty JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from rich.highlighter import JSONHighlighter
from rich.style import Style
from rich.text import Text

from agenttrace_tui import display
from agenttrace_tui.llm.payloads import ChatMessage, ChatView, compact_json, read_input, read_output
from agenttrace_tui.store import SpanRow
from agenttrace_tui.textsafe import sanitize, single_line

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
"""One color per role, the same in input and output."""

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


def message_size(message: ChatMessage) -> int:
    """Rough characters a message takes when shown in full."""
    calls = sum(len(call.name) + len(str(call.arguments)) + 40 for call in message.tool_calls)
    return min(len(message.text), MAX_VALUE_CHARS) + calls + 40


def _full_messages(messages: list[ChatMessage], budget: int, section: str, expanded: set[str]) -> set[int]:
    """Which messages are shown in full: the newest ones while they fit the budget, then the first (usually
    the system prompt) if it still fits, and any the user expanded; the rest collapse to a preview line."""
    full: set[int] = set()
    spent = 0
    for index in range(len(messages) - 1, -1, -1):
        size = message_size(messages[index])
        if spent + size > budget and full:
            break
        full.add(index)
        spent += size
    if messages and 0 not in full and spent + message_size(messages[0]) <= budget:
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
