"""The detail pane: everything about the selected span (or path-tree folder), and its input and output.

Two blocks of text in one line-API scroll view: a header (timing, tokens, cost, status, error, properties) and
a body (input and output as a conversation or pretty JSON, or the raw JSON with `r`). Each selection replaces
the text; nothing is mounted per message and only the lines in view are drawn, so j/k through spans stays
cheap. Every value from the trace is sanitized (`textsafe.sanitize`) and appended to `rich.text.Text` as plain
text: markup in data is never parsed and control sequences never reach the terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Final

from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from agenttrace_tui import display
from agenttrace_tui.llm.payloads import compact_json
from agenttrace_tui.store import NodeStats, SpanDetail, SpanRow
from agenttrace_tui.textsafe import sanitize, single_line
from agenttrace_tui.tui.widgets import chat, otel_events

RAW_MAX_STRING_CHARS: Final = 100_000
"""Longest string the raw view shows whole: a long string is one JSON token, cheap to draw."""

RAW_MAX_CHARS: Final = 200_000
"""Characters of pretty JSON shown per raw section: highlighting and wrapping cost ~1 µs per character, so a
bigger payload is cut (with a note) rather than freezing the UI."""

RAW_CUT_NOTE: Final = "cut in the raw view"

STACK_PREVIEW_LINES: Final = 3
"""Lines of an error stack shown collapsed: the end of a Python traceback (the raising frame, its source line
and the exception)."""

LABEL_WIDTH: Final = 11
"""Width of the header's label column."""

PROPERTY_KEY_WIDTH: Final = 24
"""Longest property key padded into the key column; longer keys push their value along."""

SYNTAX_THEME: Final = "ansi_dark"
"""ANSI colors follow the terminal's palette (and Textual's ansi theme), and the theme paints no background
of its own over the pane's."""

KIND_STYLES: Final[Mapping[str, str]] = {
    "llm": "bold bright_blue",
    "tool": "bold yellow",
    "agent": "bold magenta",
    "retrieval": "bold green",
    "embedding": "bold cyan",
}

LABEL_STYLE: Final = "dim"
NOTE_STYLE: Final = "dim italic"
SECTION_STYLE: Final = "bold underline"
ERROR_STYLE: Final = "bold red"
OK_STYLE: Final = "bold green"
PROGRESS_STYLE: Final = "bold yellow"
STATUS_CODE_MEANINGS: Final[Mapping[int, str]] = {-1: "timeout", -3: "cancelled"}
"""Helicone's negative status codes."""


def _utc(moment: datetime) -> str:
    """`2025-03-03 09:00:00.726 UTC`; a naive datetime (as DuckDB returns TIMESTAMP) is taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _label(out: Text, label: str) -> None:
    out.append("\n" if out.plain else "")
    out.append(f"{label:<{LABEL_WIDTH}}", LABEL_STYLE)


def _sep(out: Text) -> None:
    out.append(" · ", LABEL_STYLE)


def _tokens(out: Text, label: str, value: int | None, parts: list[tuple[str, int | None]]) -> bool:
    if value is None and all(part is None for _, part in parts):
        return False
    out.append(f"{label} ", LABEL_STYLE)
    out.append(display.count(value))
    shown = [f"{name} {display.count(part)}" for name, part in parts if part is not None]
    if shown:
        out.append(f" ({', '.join(shown)})", LABEL_STYLE)
    return True


def _cost_style(row: SpanRow) -> str:
    """Unpriced stands out (bold yellow); no cost at all reads as a label; a cost is plain."""
    if row.cost_source == "unpriced":
        return "bold yellow"
    return LABEL_STYLE if row.cost_usd is None else ""


def _error_parts(detail: SpanDetail) -> tuple[str | None, str | None, str | None, dict[str, Any]]:
    """(type, message, stack, other keys) of the recorded error, falling back on the row's columns."""
    error = detail.error
    row = detail.row
    if isinstance(error, dict):
        others = {key: value for key, value in error.items() if key not in ("type", "message", "stack")}
        error_type = error.get("type")
        message = error.get("message")
        stack = error.get("stack")
        return (
            str(error_type) if error_type is not None else row.error_type,
            str(message) if message is not None else row.error_message,
            str(stack) if stack else None,
            others,
        )
    if isinstance(error, str) and error:
        return row.error_type, error, None, {}
    if error is not None:
        return row.error_type, compact_json(error), None, {}
    return row.error_type, row.error_message, None, {}


def _stack_toggle_style() -> Style:
    return Style(underline=True, color="bright_blue", meta={"@click": ("toggle_stack", ())})


class DetailPane(ScrollView, can_focus=True):
    """Detail of the selected span or folder. `show_span`, `show_node`, `show_message`; `r` toggles raw JSON.

    A line-API widget (like Textual's Log): the document is one `Text` per block (header, body), wrapped to the
    pane's width once per change, and only the lines in view become Strips. Drawing a 100k-character span this
    way costs its wrap (~40 ms), where a Static would turn every line into a Strip on each layout (~0.35 s).
    """

    DEFAULT_CSS = """
    DetailPane {
        height: 1fr;
        padding: 0 1;
        overflow-x: hidden;
        scrollbar-gutter: stable;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "toggle_raw", "Raw JSON", id="detail.raw"),
        Binding("x", "toggle_stack", "Full stack", id="detail.stack"),
        Binding("m", "show_more", "More", id="detail.more"),
        Binding("j", "scroll_down", "Down", show=False, id="detail.down"),
        Binding("k", "scroll_up", "Up", show=False, id="detail.up"),
        Binding("g", "scroll_home", "Top", show=False, id="detail.top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="detail.bottom"),
    ]

    class ToolSpanRequested(Message):
        """The user followed an "answered by" link: show the tool span `span_id`."""

        def __init__(self, span_id: str) -> None:
            super().__init__()
            self.span_id = span_id

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._detail: SpanDetail | None = None
        self._tool_spans: Mapping[str, SpanRow] = {}
        self._raw = False
        self._raw_pages = 1  # the raw view's budget, in RAW_MAX_CHARS: `m` adds one
        self._raw_cut = False  # whether the raw view cut something (so `m` has more to show)
        self._stack_open = False
        self._expanded: set[str] = set()
        self._blocks: list[Text] = [Text("No span selected", style=NOTE_STYLE)]
        self._lines: list[Text] = []
        self._wrapped_width = 0
        self._strips: dict[int, Strip] = {}
        self._bindings_state: tuple[bool, bool, bool] | None = None

    # -- public API --------------------------------------------------------------------------------------

    @property
    def raw(self) -> bool:
        """Whether spans show as raw JSON (persists across selections)."""
        return self._raw

    @property
    def detail(self) -> SpanDetail | None:
        """The span shown, if a span is shown."""
        return self._detail

    def show_span(self, detail: SpanDetail, tool_spans: Mapping[str, SpanRow] = {}) -> None:
        """Show one span; `tool_spans` maps a tool_call id to the tool span that answered it."""
        same_span = self._detail is not None and self._detail.row.span_id == detail.row.span_id
        if not same_span:
            self._stack_open = False
            self._raw_pages = 1
            self._expanded = set()
        self._detail = detail
        self._tool_spans = dict(tool_spans)
        self._render_span(keep_scroll=same_span)
        self._refresh_bindings_if_changed()

    def show_node(self, node: NodeStats, sub_folders: int | None = None) -> None:
        """Show a path-tree folder's figures for its whole subtree. `sub_folders`: how many it has, when
        `node.child_paths` names only the first ones."""
        self._detail = None
        self._set([self._node_text(node, len(node.child_paths) if sub_folders is None else sub_folders)])
        self._refresh_bindings_if_changed()

    def show_message(self, text: str) -> None:
        """An empty, loading or error state in place of a span: "Loading…", "No span selected"."""
        self._detail = None
        self._set([Text(sanitize(text, single_line=False), style=NOTE_STYLE)])
        self._refresh_bindings_if_changed()

    def toggle_raw(self) -> None:
        """Switch the span between the rendered view and the raw JSON of its input, output, extra and error."""
        if self._detail is None:
            return
        self._raw = not self._raw
        self._render_span()
        self._refresh_bindings_if_changed()  # `m` (more) shows only when the raw view cut something

    def rendered_text(self) -> str:
        """Plain text of what the pane shows, unwrapped: for tests, search and copying."""
        return "\n\n".join(block.plain for block in self._blocks)

    # -- actions (keys, and clicks on links in the text) -------------------------------------------------

    def action_toggle_raw(self) -> None:
        self.toggle_raw()

    def action_toggle_stack(self) -> None:
        if self._detail is None:
            return
        self._stack_open = not self._stack_open
        self._render_span(keep_scroll=True)

    def action_open_tool_span(self, span_id: str) -> None:
        self.post_message(self.ToolSpanRequested(span_id))

    def action_show_more(self) -> None:
        """The raw view shows another RAW_MAX_CHARS of each cut value: all of it, a bounded step at a time."""
        if self._detail is None or not self._raw or not self._raw_cut:
            return
        self._raw_pages += 1
        self._render_span(keep_scroll=True)
        self._refresh_bindings_if_changed()

    def action_expand_message(self, key: str) -> None:
        if self._detail is None:
            return
        self._expanded.add(key)
        self._render_span(keep_scroll=True)

    def _refresh_bindings_if_changed(self) -> None:
        """The footer rebuilds all its keys on a bindings refresh (~5-20 ms): only ask when an answer of
        check_action changed, not on every cursor move from folder to folder."""
        state = (self._detail is None, self._has_long_stack(), self._detail is not None and self._raw and self._raw_cut)
        if state != self._bindings_state:
            self._bindings_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_raw" and self._detail is None:
            return None  # shown disabled in the footer
        if action == "toggle_stack" and not self._has_long_stack():
            return False  # hidden: nothing to expand
        if action == "show_more" and not (self._detail is not None and self._raw and self._raw_cut):
            return False  # hidden: nothing cut
        return True

    def _has_long_stack(self) -> bool:
        if self._detail is None:
            return False
        stack = _error_parts(self._detail)[2]
        return stack is not None and stack.rstrip("\n").count("\n") >= STACK_PREVIEW_LINES

    # -- the line API ------------------------------------------------------------------------------------

    def _set(self, blocks: list[Text], *, keep_scroll: bool = False) -> None:
        self._blocks = blocks
        self._wrapped_width = 0
        self._strips.clear()
        self._wrap()
        if not keep_scroll:
            self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def _wrap(self) -> None:
        """Wrap the blocks to the pane's width (once per change of document or width)."""
        width = self.scrollable_content_region.width
        if width <= 0 or width == self._wrapped_width or not self.is_attached:
            return
        console = self.app.console
        lines: list[Text] = []
        for number, block in enumerate(self._blocks):
            if number:
                lines.append(Text())
            lines.extend(block.wrap(console, width, overflow="fold", tab_size=4))
        self._lines = lines
        self._wrapped_width = width
        self._strips.clear()
        self.virtual_size = Size(width, len(lines))

    def on_resize(self, event: events.Resize) -> None:
        self._wrap()
        self.refresh()

    def on_mount(self) -> None:
        self._wrap()

    def render_line(self, y: int) -> Strip:
        self._wrap()
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        rich_style = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, rich_style)
        strip = self._strips.get(index)
        if strip is None:
            segments = list(self._lines[index].render(self.app.console))
            strip = Strip(segments).crop_extend(0, width, rich_style).apply_offsets(0, index)
            self._strips[index] = strip
        return strip.apply_style(rich_style)

    # -- rendering ---------------------------------------------------------------------------------------

    def _render_span(self, *, keep_scroll: bool = False) -> None:
        detail = self._detail
        if detail is None:
            return
        header = self._span_header(detail)
        body = self._raw_body(detail) if self._raw else self._span_body(detail)
        self._set([header, body], keep_scroll=keep_scroll)

    def _span_header(self, detail: SpanDetail) -> Text:
        row = detail.row
        out = Text()
        out.append(f"{sanitize(row.kind).upper()}  ", KIND_STYLES.get(row.kind, "bold"))
        out.append(sanitize(row.label), "bold")
        if self._raw:
            out.append("   raw JSON (r: rendered view)", NOTE_STYLE)

        _label(out, "status")
        if row.in_progress:
            out.append("in progress", PROGRESS_STYLE)
        elif row.status == "error":
            out.append("✗ error", ERROR_STYLE)
        else:
            out.append(f"✓ {sanitize(row.status)}", OK_STYLE)
        if detail.status_code is not None:
            meaning = STATUS_CODE_MEANINGS.get(detail.status_code)
            out.append(f"  {detail.status_code}" + (f" ({meaning})" if meaning else ""))

        if row.model or detail.provider:
            _label(out, "model")
            out.append(sanitize(row.model or "—"))
            if detail.provider:
                _sep(out)
                out.append(sanitize(detail.provider), LABEL_STYLE)

        _label(out, "start")
        out.append(_utc(row.start_time))
        _label(out, "end")
        if row.in_progress:
            out.append("in progress", PROGRESS_STYLE)
        else:
            took = row.duration_ms if row.duration_ms is not None else row.end_ms - row.start_ms
            out.append(_utc(row.start_time + timedelta(milliseconds=took)))
            _sep(out)
            out.append(display.duration(took), "bold")
        if detail.first_token_ms is not None:
            _sep(out)
            out.append("first token ", LABEL_STYLE)
            out.append(display.duration(detail.first_token_ms))

        line = Text()
        shown = _tokens(line, "in", row.input_tokens, [("cached", detail.cache_read_tokens),
                                                        ("cache write", detail.cache_write_tokens)])
        if shown and (row.output_tokens is not None or detail.reasoning_tokens is not None):
            _sep(line)
        shown = _tokens(line, "out", row.output_tokens, [("reasoning", detail.reasoning_tokens)]) or shown
        if shown:
            _label(out, "tokens")
            out.append_text(line)

        if row.cost_source is not None or row.cost_usd is not None or row.kind == "llm":
            _label(out, "cost")
            reported = not (row.input_tokens is None and row.output_tokens is None
                            and detail.cache_read_tokens is None and detail.cache_write_tokens is None)
            out.append(display.cost_with_source(row.cost_usd, row.cost_source, reported), _cost_style(row))

        if detail.user_id:
            _label(out, "user")
            out.append(sanitize(detail.user_id))
        _label(out, "path")
        out.append(sanitize(row.path))
        _label(out, "span")
        out.append(sanitize(row.span_id), LABEL_STYLE)
        if row.parent_id:
            out.append("  parent ", LABEL_STYLE)
            out.append(sanitize(row.parent_id), LABEL_STYLE)
            if row.orphan:
                out.append(" (not in this session)", NOTE_STYLE)
        if detail.source_file:
            _label(out, "source")
            location = detail.source_file + (f":{detail.source_line}" if detail.source_line is not None else "")
            out.append(sanitize(location), LABEL_STYLE)

        self._append_error(out, detail)
        self._append_properties(out, detail.properties)
        return out

    def _append_error(self, out: Text, detail: SpanDetail) -> None:
        error_type, message, stack, others = _error_parts(detail)
        if not (error_type or message or stack or others or detail.row.status == "error"):
            return
        out.append("\n\n")
        out.append("ERROR", ERROR_STYLE)
        out.append("  ")
        out.append(sanitize(error_type or "error"), ERROR_STYLE)
        if message:
            out.append("\n")
            chat.append_block(out, message)
        elif detail.status_code is not None and detail.status_code >= 400:
            out.append(f"\nHTTP {detail.status_code}")
        for key, value in others.items():
            _label(out, sanitize(str(key)))
            out.append(single_line(value if isinstance(value, str) else compact_json(value), 500))
        if stack:
            lines = stack.rstrip("\n").split("\n")
            hidden = len(lines) - STACK_PREVIEW_LINES
            out.append("\n")
            if hidden > 0 and not self._stack_open:
                out.append(f"▸ stack: last {STACK_PREVIEW_LINES} of {len(lines)} lines (x: full)",
                           _stack_toggle_style())
                out.append("\n")
                chat.append_block(out, "\n".join(lines[-STACK_PREVIEW_LINES:]), LABEL_STYLE)
            else:
                if hidden > 0:
                    out.append(f"▾ stack: {len(lines)} lines (x: collapse)", _stack_toggle_style())
                else:
                    out.append("stack", LABEL_STYLE)
                out.append("\n")
                chat.append_block(out, "\n".join(lines), LABEL_STYLE)

    @staticmethod
    def _append_properties(out: Text, properties: Mapping[str, Any]) -> None:
        if not properties:
            return
        out.append("\n\n")
        out.append("PROPERTIES", SECTION_STYLE)
        keys = [sanitize(str(key)) for key in properties]
        width = min(max(len(key) for key in keys), PROPERTY_KEY_WIDTH)
        for key, value in zip(keys, properties.values()):
            out.append("\n  ")
            out.append(f"{key:<{width}}", LABEL_STYLE)
            out.append("  ")
            text = value if isinstance(value, str) else compact_json(value)
            kept, hidden = chat.clip(text, 2_000)
            out.append(sanitize(kept))
            if hidden:
                out.append(" " + chat.more_note(hidden), NOTE_STYLE)

    def _span_body(self, detail: SpanDetail) -> Text:
        context = chat.RenderContext(tool_spans=self._tool_spans, expanded=self._expanded)
        out = Text()
        out.append("INPUT", SECTION_STYLE)
        out.append("\n")
        if detail.input is None:
            out.append("(none)", NOTE_STYLE)
        else:
            chat.render_payload(out, detail.input, context, "input")
        out.append("\n\n")
        out.append("OUTPUT", SECTION_STYLE)
        out.append("\n")
        if detail.output is None:
            out.append("(in progress)" if detail.row.in_progress else "(none)", NOTE_STYLE)
        else:
            chat.render_payload(out, detail.output, context, "output")
        if detail.extra:
            otel_events.append_events(out, detail.extra, detail.row.start_time, SECTION_STYLE, LABEL_STYLE)
            out.append("\n\n")
            out.append("EXTRA", SECTION_STYLE)
            out.append("\n")
            chat.append_json(out, detail.extra)
        return out

    def _raw_body(self, detail: SpanDetail) -> Text:
        out = Text()
        string_budget, budget = RAW_MAX_STRING_CHARS * self._raw_pages, RAW_MAX_CHARS * self._raw_pages
        self._raw_cut = False
        for title, value in (("input", detail.input), ("output", detail.output),
                             ("extra", detail.extra or None), ("error", detail.error)):
            if value is None:
                continue
            if out:
                out.append("\n\n")
            out.append(title.upper(), SECTION_STYLE)
            out.append("\n")
            code = chat.pretty_json(value, string_budget, RAW_CUT_NOTE)
            self._raw_cut = self._raw_cut or f"({RAW_CUT_NOTE})" in code
            code, hidden = chat.clip(code, budget)
            self._raw_cut = self._raw_cut or hidden > 0
            safe = sanitize(code, single_line=False)
            out.append_text(Syntax(safe, "json", theme=SYNTAX_THEME, word_wrap=True).highlight(safe))
            out.rstrip()
            if hidden:
                out.append(f"\n… {hidden:,} more characters not shown", NOTE_STYLE)
        if not out:
            out.append("(no input, output or error recorded)", NOTE_STYLE)
        if self._raw_cut:
            out.append(f"\n\nm shows {RAW_MAX_CHARS:,} more characters of what is cut "
                       "(the whole value at once: agenttrace sql --json)", NOTE_STYLE)
        return out

    @staticmethod
    def _node_text(node: NodeStats, sub_folders: int) -> Text:
        out = Text()
        out.append("FOLDER  ", "bold")
        out.append(sanitize(node.path or "/"), "bold")
        _label(out, "spans")
        out.append(display.count(node.spans), "bold")
        out.append(" in subtree", LABEL_STYLE)
        _sep(out)
        out.append(display.count(node.self_spans))
        out.append(" here", LABEL_STYLE)
        _label(out, "calls")
        out.append(display.count(node.llm_calls))
        out.append(" llm", LABEL_STYLE)
        _sep(out)
        out.append(display.count(node.tool_calls))
        out.append(" tool", LABEL_STYLE)
        _label(out, "busy")
        out.append(display.duration(node.busy_ms), "bold")
        out.append(" of ", LABEL_STYLE)
        out.append(display.duration(node.wall_ms))
        out.append(" wall", LABEL_STYLE)
        if node.wall_ms > 0:
            out.append(f" ({display.rate(node.busy_ms / node.wall_ms)} busy)", LABEL_STYLE)
        _label(out, "window")
        out.append(f"+{display.duration(node.start_ms)} → +{display.duration(node.end_ms)}", LABEL_STYLE)
        out.append(" from session start", LABEL_STYLE)
        _label(out, "cost")
        if node.unpriced and not node.cost_usd:
            out.append(f"{node.unpriced} unpriced", "bold yellow")
        else:
            out.append(display.cost(node.cost_usd, node.unpriced))
        _label(out, "tokens")
        out.append("in ", LABEL_STYLE)
        out.append(display.count(node.input_tokens))
        _sep(out)
        out.append("out ", LABEL_STYLE)
        out.append(display.count(node.output_tokens))
        _label(out, "errors")
        if node.errors:
            out.append(display.count(node.errors), ERROR_STYLE)
            if node.spans:
                out.append(f" ({display.rate(node.errors / node.spans)} of spans)", LABEL_STYLE)
        else:
            out.append("0", OK_STYLE)
        if node.child_paths:
            _label(out, "children")
            shown = node.child_paths[:20]
            out.append(sanitize(", ".join(shown)))
            if sub_folders > len(shown):
                out.append(f" … {sub_folders - len(shown):,} more", NOTE_STYLE)
        return out

