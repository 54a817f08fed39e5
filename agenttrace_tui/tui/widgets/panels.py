"""The session's cost, latency and error panels: three tabs over a `SessionBreakdown`, one table each.

Each tab groups its table one way at a time (`b` cycles: cost by model, tool or path; latency by path,
tool or the slowest spans; errors by tool or path), so a small pane still shows a whole table. Enter on a
row, or one click, posts `SessionPanels.JumpToSpans` with the spans behind the row.

Keys (ids `panels.*`): `$` cost, `t` latency, `e` errors, `[` `]` previous/next tab, `b` `B` next/previous
grouping; in a table j/k, g/G, enter.

Keys, paths, names and error messages come from agents: each cell is `Text(sanitize(value))`, so markup
stays text and control characters become visible stand-ins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, Self

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static, TabbedContent, TabPane, Tabs

from agenttrace_tui import display
from agenttrace_tui.store import BreakdownRow, SessionBreakdown, SpanRow
from agenttrace_tui.textsafe import sanitize

BAR_WIDTH: Final = 8
"""Cells of a share bar: eighth-blocks give 64 steps, finer than the percentage beside it."""

_EIGHTHS: Final = " ▏▎▍▌▋▊▉"

MESSAGE_WIDTH: Final = 120
"""Characters of an error message shown in a cell; the detail pane shows it whole."""


def share_bar(share: float | None, width: int = BAR_WIDTH) -> str:
    """`████▌    56%`: a bar of eighth-blocks and the percentage; empty when there is no share."""
    if share is None:
        return ""
    share = min(max(share, 0.0), 1.0)
    eighths = round(share * width * 8)
    if share > 0 and eighths == 0:
        eighths = 1  # a sliver is not nothing: keep it visible
    full, rest = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[rest] if rest else "")
    return f"{bar:<{width}} {display.rate(share):>4}"


def _safe(value: object) -> Text:
    return Text(sanitize(value))


def _number(value: str) -> Text:
    return Text(value, justify="right")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True)
class _Row:
    cells: tuple[Text, ...]
    span_ids: tuple[str, ...]
    title: str  # for the jump's breadcrumb: already sanitized
    height: int = 1


@dataclass(frozen=True)
class _View:
    """One way of grouping a tab's table."""

    label: str  # in the "by" bar
    columns: tuple[str, ...]  # labels; those starting with ">" are right-aligned numbers
    empty: str  # shown instead of an empty table
    rows: Callable[[SessionBreakdown], list[_Row]]


def _cost_share(row: BreakdownRow, total: float) -> float | None:
    # Calls with no price have an unknown share, not 0%.
    if total <= 0 or (row.cost_usd == 0 and row.unpriced):
        return None
    return row.cost_usd / total


def _cost_rows(pick: Callable[[SessionBreakdown], list[BreakdownRow]], what: str) -> Callable[
    [SessionBreakdown], list[_Row]
]:
    def rows(breakdown: SessionBreakdown) -> list[_Row]:
        # Every priced span has one path, so the path rows add up to the session's cost.
        total = breakdown.total_cost_usd
        return [
            _Row(
                cells=(
                    _safe(row.key),
                    _number(display.count(row.count)),
                    _number(display.cost_or_unpriced(row.cost_usd, row.unpriced)),
                    Text(share_bar(_cost_share(row, total))),
                ),
                span_ids=row.span_ids,
                title=f"Cost by {what}: {sanitize(row.key)}",
            )
            for row in pick(breakdown)
        ]

    return rows


def _latency_rows(pick: Callable[[SessionBreakdown], list[BreakdownRow]], what: str) -> Callable[
    [SessionBreakdown], list[_Row]
]:
    def rows(breakdown: SessionBreakdown) -> list[_Row]:
        return [
            _Row(
                cells=(
                    _safe(row.key),
                    _number(display.count(row.count)),
                    _number(display.duration(row.p50_ms)),
                    _number(display.duration(row.p95_ms)),
                    _number(display.duration(row.max_ms)),
                    Text(share_bar(row.share_of_wall)),
                ),
                span_ids=row.span_ids,
                title=f"Latency by {what}: {sanitize(row.key)}",
            )
            for row in pick(breakdown)
        ]

    return rows


def _span_status(span: SpanRow) -> str:
    if span.status == "error":
        return span.error_type or "error"
    return "running" if span.in_progress else span.status


def _slowest_rows(breakdown: SessionBreakdown) -> list[_Row]:
    return [
        _Row(
            cells=(
                _safe(span.label),
                _safe(span.path),
                _number("+" + display.duration(span.start_ms)),
                _number(display.duration(span.duration_ms)),
                _safe(_span_status(span)),
            ),
            span_ids=(span.span_id,),
            title=f"Slowest: {sanitize(span.label)}",
        )
        for span in breakdown.slowest_spans
    ]


def _error_rows(pick: Callable[[SessionBreakdown], list[BreakdownRow]], what: str) -> Callable[
    [SessionBreakdown], list[_Row]
]:
    def rows(breakdown: SessionBreakdown) -> list[_Row]:
        result = []
        for row in pick(breakdown):
            # One message a line: our newlines between sanitized (single-line) messages.
            messages = Text("\n".join(_clip(sanitize(m), MESSAGE_WIDTH) for m in row.messages) or "—")
            result.append(
                _Row(
                    cells=(
                        _safe(row.key),
                        _number(display.count(row.errors)),
                        _number(display.count(row.count)),
                        _number(display.rate(row.errors / row.count if row.count else None)),
                        messages,
                    ),
                    span_ids=row.span_ids,
                    title=f"Errors by {what}: {sanitize(row.key)}",
                    height=max(1, len(row.messages)),
                )
            )
        return result

    return rows


@dataclass(frozen=True)
class _Tab:
    id: str
    title: str
    views: tuple[_View, ...]
    summary: Callable[[SessionBreakdown], str]


def _cost_summary(breakdown: SessionBreakdown) -> str:
    total = breakdown.total_cost_usd
    unpriced = breakdown.total_unpriced
    return f"session {display.cost_or_unpriced(total, unpriced)}"


def _latency_summary(breakdown: SessionBreakdown) -> str:
    return f"wall {display.duration(breakdown.wall_ms)}"


def _error_summary(breakdown: SessionBreakdown) -> str:
    spans = sum(row.count for row in breakdown.latency_by_path)
    errors = sum(row.errors for row in breakdown.latency_by_path)
    return f"{display.count(errors)} errors in {display.count(spans)} spans"


_COST_COLUMNS: Final = (">Calls", ">Cost", "Share of cost")
_LATENCY_COLUMNS: Final = (">Spans", ">p50", ">p95", ">Max", "Share of wall")
_ERROR_COLUMNS: Final = (">Errors", ">Spans", ">Rate", "Messages")

TABS: Final = (
    _Tab("cost", "Cost", (
        _View("model", ("Model", *_COST_COLUMNS), "No LLM call has a cost or tokens to price.",
              _cost_rows(lambda b: b.cost_by_model, "model")),
        _View("tool", ("Tool", *_COST_COLUMNS), "No tool call has a cost.",
              _cost_rows(lambda b: b.cost_by_tool, "tool")),
        _View("path", ("Path", *_COST_COLUMNS), "Nothing in this session has a cost.",
              _cost_rows(lambda b: b.cost_by_path, "path")),
    ), _cost_summary),
    _Tab("latency", "Latency", (
        _View("path", ("Path", *_LATENCY_COLUMNS), "No spans.",
              _latency_rows(lambda b: b.latency_by_path, "path")),
        _View("tool", ("Tool", *_LATENCY_COLUMNS), "No tool calls in this session.",
              _latency_rows(lambda b: b.latency_by_tool, "tool")),
        _View("slowest", ("Span", "Path", ">Start", ">Duration", "Status"), "No finished spans yet.",
              _slowest_rows),
    ), _latency_summary),
    _Tab("errors", "Errors", (
        _View("tool", ("Tool", *_ERROR_COLUMNS), "No tool call failed.",
              _error_rows(lambda b: b.errors_by_tool, "tool")),
        _View("path", ("Path", *_ERROR_COLUMNS), "No errors in this session.",
              _error_rows(lambda b: b.errors_by_path, "path")),
    ), _error_summary),
)
"""The tabs, in order, each with its groupings (the first is shown first)."""


class PanelTable(DataTable[Text]):
    """A panel's table: row cursor, vim keys, and a single click jumps like enter."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Jump to spans", id="panels.jump"),
        Binding("j", "cursor_down", "Down", show=False, id="panels.down"),
        Binding("k", "cursor_up", "Up", show=False, id="panels.up"),
        Binding("g", "scroll_top", "First row", show=False, id="panels.first"),
        Binding("G", "scroll_bottom", "Last row", show=False, id="panels.last"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    async def _on_click(self, event: events.Click) -> None:
        meta = event.style.meta
        row, column = meta.get("row"), meta.get("column")
        if not isinstance(row, int) or not isinstance(column, int) or row < 0 or column < 0:
            return  # header and label clicks: DataTable's own handling
        # DataTable selects only on a second click; here one click on a row jumps.
        event.prevent_default()
        event.stop()
        self.move_cursor(row=row)
        self.action_select_cursor()


class _ByBar(Static):
    """`by  model  tool  path      session $0.42`: the tab's groupings, clickable, and a summary."""

    class Chosen(Message):
        def __init__(self, tab_id: str, index: int) -> None:
            super().__init__()
            self.tab_id = tab_id
            self.index = index

    def __init__(self, tab_id: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="panel-by")
        self.tab_id = tab_id

    def show_views(self, labels: Sequence[str], current: int, summary: str) -> None:
        parts: list[Content] = [Content("by ")]
        for index, label in enumerate(labels):
            # Labels are ours (constants), so markup is safe here; the summary is plain Content.
            style = "reverse bold" if index == current else "underline"
            parts.append(Content.from_markup(f"[{style} @click=choose({index})] {label} [/] "))
        parts.append(Content.styled(f"  {summary}", "dim"))
        self.update(Content.assemble(*parts))

    def action_choose(self, index: int) -> None:
        self.post_message(self.Chosen(self.tab_id, index))


class SessionPanels(Widget):
    """Cost, latency and error breakdowns of one session, in three tabs."""

    DEFAULT_CSS = """
    SessionPanels {
        height: 1fr;
    }
    SessionPanels > #panels-message {
        padding: 1 2;
        color: $text-muted;
    }
    SessionPanels > #panels-tabs {
        height: 1fr;
    }
    SessionPanels TabPane {
        padding: 0;
    }
    SessionPanels .panel-by {
        height: 1;
        padding: 0 1;
    }
    SessionPanels PanelTable {
        height: 1fr;
    }
    SessionPanels .panel-empty {
        padding: 1 2;
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # `$` not `c`: the session screen's `c` toggles the tree's causal view.
        Binding("dollar_sign", "show_tab('cost')", "Cost", key_display="$", id="panels.cost"),
        Binding("t", "show_tab('latency')", "Latency", id="panels.latency"),
        Binding("e", "show_tab('errors')", "Errors", id="panels.errors"),
        Binding("b", "cycle_view(1)", "Group by", id="panels.group_next"),
        Binding("B", "cycle_view(-1)", "Group by (back)", show=False, id="panels.group_previous"),
        Binding("]", "cycle_tab(1)", "Next panel", show=False, id="panels.tab_next"),
        Binding("[", "cycle_tab(-1)", "Previous panel", show=False, id="panels.tab_previous"),
    ]

    class JumpToSpans(Message):
        """The user chose a row: show these spans (start order, capped) under this title."""

        def __init__(self, span_ids: tuple[str, ...], title: str) -> None:
            super().__init__()
            self.span_ids = span_ids
            self.title = title

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._breakdown: SessionBreakdown | None = None
        self._message = "No session loaded."
        self._view_index: dict[str, int] = {tab.id: 0 for tab in TABS}
        self._rows: dict[str, list[_Row]] = {tab.id: [] for tab in TABS}
        self._mounted = False  # until then, show() and show_message() only remember what to draw

    def compose(self) -> ComposeResult:
        yield Static(id="panels-message")
        with TabbedContent(id="panels-tabs"):
            for tab in TABS:
                with TabPane(tab.title, id=f"panels-{tab.id}"):
                    yield _ByBar(tab.id, id=f"panels-{tab.id}-by")
                    yield PanelTable(id=f"panels-{tab.id}-table")
                    yield Static(id=f"panels-{tab.id}-empty", classes="panel-empty")

    def on_mount(self) -> None:
        self._mounted = True
        if self._breakdown is None:
            self.show_message(self._message)
        else:
            self.show(self._breakdown)

    # API -----------------------------------------------------------------------------------

    def show(self, breakdown: SessionBreakdown) -> None:
        """Draw a session's breakdown; each table starts at its first row."""
        self._breakdown = breakdown
        if not self._mounted:
            return  # drawn on mount
        self.query_one("#panels-message", Static).display = False
        self.query_one("#panels-tabs", TabbedContent).display = True
        for tab in TABS:
            self._draw(tab)

    def show_message(self, text: str) -> None:
        """A loading, empty or error state in place of the tabs."""
        self._message = text
        self._breakdown = None
        if not self._mounted:
            return
        message = self.query_one("#panels-message", Static)
        message.update(Text(sanitize(text, single_line=False)))  # store errors may quote user input
        message.display = True
        self.query_one("#panels-tabs", TabbedContent).display = False

    @property
    def breakdown(self) -> SessionBreakdown | None:
        return self._breakdown

    # Drawing -------------------------------------------------------------------------------

    def _draw(self, tab: _Tab) -> None:
        breakdown = self._breakdown
        if breakdown is None:
            return
        current = self._view_index[tab.id]
        view = tab.views[current]
        self.query_one(f"#panels-{tab.id}-by", _ByBar).show_views(
            [v.label for v in tab.views], current, tab.summary(breakdown)
        )
        rows = view.rows(breakdown)
        self._rows[tab.id] = rows
        table = self.query_one(f"#panels-{tab.id}-table", PanelTable)
        table.clear(columns=True)
        for label in view.columns:
            if label.startswith(">"):
                table.add_column(Text(label[1:], justify="right"), key=label[1:])
            else:
                table.add_column(Text(label), key=label)
        for index, row in enumerate(rows):
            table.add_row(*row.cells, key=str(index), height=row.height)
        empty = self.query_one(f"#panels-{tab.id}-empty", Static)
        empty.update(Text(view.empty))
        table.display = bool(rows)
        empty.display = not rows

    def _active_tab(self) -> _Tab:
        active = self.query_one("#panels-tabs", TabbedContent).active
        for tab in TABS:
            if f"panels-{tab.id}" == active:
                return tab
        return TABS[0]

    def _focus_table(self, tab: _Tab, scroll_visible: bool = True) -> None:
        table = self.query_one(f"#panels-{tab.id}-table", PanelTable)
        if table.display:
            table.focus(scroll_visible)
        else:
            # An empty table can't take focus: the tab bar keeps the panels' keys working.
            self.query_one("#panels-tabs", TabbedContent).query_one(Tabs).focus(scroll_visible)

    def focus(self, scroll_visible: bool = True) -> Self:
        """Focus the active tab's table: the panels themselves take no keys."""
        if self._mounted and self._breakdown is not None:
            self._focus_table(self._active_tab(), scroll_visible)
        return self

    # Actions -------------------------------------------------------------------------------

    def action_show_tab(self, tab_id: str) -> None:
        self.query_one("#panels-tabs", TabbedContent).active = f"panels-{tab_id}"
        for tab in TABS:
            if tab.id == tab_id:
                self._focus_table(tab)

    def action_cycle_tab(self, step: int) -> None:
        index = TABS.index(self._active_tab())
        self.action_show_tab(TABS[(index + step) % len(TABS)].id)

    def action_cycle_view(self, step: int) -> None:
        tab = self._active_tab()
        self._choose_view(tab, (self._view_index[tab.id] + step) % len(tab.views))

    def _choose_view(self, tab: _Tab, index: int) -> None:
        self._view_index[tab.id] = index
        self._draw(tab)
        self._focus_table(tab)

    # Events --------------------------------------------------------------------------------

    @on(_ByBar.Chosen)
    def _view_chosen(self, event: _ByBar.Chosen) -> None:
        event.stop()
        for tab in TABS:
            if tab.id == event.tab_id:
                self._choose_view(tab, event.index)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # our tables' messages are ours; JumpToSpans is what leaves this widget
        tab_id = (event.data_table.id or "").removeprefix("panels-").removesuffix("-table")
        rows = self._rows.get(tab_id, [])
        index = int(event.row_key.value or -1)
        if 0 <= index < len(rows) and rows[index].span_ids:
            self.post_message(self.JumpToSpans(rows[index].span_ids, rows[index].title))

    @on(DataTable.RowHighlighted)
    @on(DataTable.CellHighlighted)
    @on(DataTable.CellSelected)
    def _keep_table_messages(self, event: Message) -> None:
        event.stop()
