"""The session panels under a real Textual app: rows, keys, jumps, and untrusted text shown literally."""

from __future__ import annotations

from datetime import datetime

import pytest
from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static, TabbedContent

from agenttrace_tui import display
from agenttrace_tui.store.records import BreakdownRow, SessionBreakdown, SpanRow
from agenttrace_tui.tui.widgets.panels import PanelTable, SessionPanels, share_bar

MARKUP = "[bold]x[/bold]"
CLEAR_SCREEN = "\x1b[2J"


def slow_span(span_id: str, name: str, start_ms: float, duration_ms: float) -> SpanRow:
    return SpanRow(
        span_id=span_id, session_id="s", path="/tools/" + name, parent_id=None, kind="tool", name=name,
        model=None, status="ok", error_type=None, error_message=None, start_time=datetime(2025, 1, 1, 10),
        start_ms=start_ms, end_ms=start_ms + duration_ms, duration_ms=duration_ms, in_progress=False,
        cost_usd=None, cost_source=None, input_tokens=None, output_tokens=None,
    )


BREAKDOWN = SessionBreakdown(
    wall_ms=20_000,
    cost_by_path=[
        BreakdownRow("/plan", 2, cost_usd=0.42, unpriced=3, span_ids=("p1", "p2")),
        BreakdownRow("/answer", 1, cost_usd=0.0, unpriced=2, span_ids=("a1",)),
    ],
    cost_by_model=[
        BreakdownRow("gpt-4o", 2, cost_usd=0.42, span_ids=("p1", "p2")),
        BreakdownRow("acme-llm-1", 5, unpriced=5, span_ids=("p3",)),
    ],
    cost_by_tool=[],
    latency_by_path=[
        BreakdownRow("/tools/" + MARKUP, 3, errors=2, p50_ms=1500, p95_ms=3700, max_ms=4000, total_ms=6000,
                     share_of_wall=0.5, span_ids=("t1", "t2", "t3")),
        BreakdownRow("/plan", 2, p50_ms=800, p95_ms=990, max_ms=1000, total_ms=1600, share_of_wall=0.08,
                     span_ids=("p1", "p2")),
    ],
    latency_by_tool=[
        BreakdownRow(MARKUP, 3, errors=2, p50_ms=1500, p95_ms=3700, max_ms=4000, total_ms=6000,
                     share_of_wall=0.5, span_ids=("t1", "t2", "t3")),
        BreakdownRow("fetch" + CLEAR_SCREEN, 1, p50_ms=100, p95_ms=100, max_ms=100, total_ms=100,
                     share_of_wall=0.005, span_ids=("f1",)),
    ],
    slowest_spans=[slow_span("t3", MARKUP, 12_000, 4000), slow_span("f1", "fetch", 1000, 100)],
    errors_by_tool=[
        BreakdownRow(MARKUP, 3, errors=2, messages=(f"boom {MARKUP}", f"wiped {CLEAR_SCREEN} screen"),
                     span_ids=("t2", "t3")),
    ],
    errors_by_path=[],
    total_cost_usd=0.42,
    total_unpriced=5,
)


class PanelsApp(App[None]):
    def __init__(self, breakdown: SessionBreakdown | None = BREAKDOWN) -> None:
        super().__init__()
        self.breakdown = breakdown
        self.jumps: list[tuple[tuple[str, ...], str]] = []

    def compose(self) -> ComposeResult:
        yield SessionPanels(id="panels")

    def on_mount(self) -> None:
        if self.breakdown is not None:
            self.query_one(SessionPanels).show(self.breakdown)
        self.query_one(SessionPanels).focus()

    @on(SessionPanels.JumpToSpans)
    def _record(self, message: SessionPanels.JumpToSpans) -> None:
        self.jumps.append((message.span_ids, message.title))


def table(app: App[None], tab: str) -> PanelTable:
    return app.query_one(f"#panels-{tab}-table", PanelTable)


def plain_rows(data_table: DataTable[Text]) -> list[list[str]]:
    return [[cell.plain for cell in data_table.get_row_at(i)] for i in range(data_table.row_count)]


def screen_text(data_table: DataTable[Text]) -> str:
    """What the table draws, line by line: the characters that would reach the terminal."""
    return "\n".join(data_table.render_line(y).text for y in range(data_table.size.height))


def test_share_bar_and_cost_or_unpriced() -> None:
    assert share_bar(0.5) == "████      50%"
    assert share_bar(0.42) == "███▍      42%"
    assert share_bar(1.0) == "████████ 100%"
    assert share_bar(0.001).startswith("▏")  # a sliver stays visible
    assert share_bar(None) == ""
    assert display.cost_or_unpriced(0.42, 3) == "$0.42 + 3 unpriced"
    assert display.cost_or_unpriced(0.0, 3) == "3 unpriced"  # never a bare $0 for calls with no price
    assert display.cost_or_unpriced(0.0, 0) == "$0"
    assert display.cost(0.0, 3) == "$0 + 3 unpriced"  # the CLI's and summaries' reading keeps the $0


async def test_cost_rows_with_unpriced_and_shares() -> None:
    app = PanelsApp()
    async with app.run_test(size=(110, 24)) as pilot:
        await pilot.pause()
        cost = table(app, "cost")
        assert cost.has_focus
        assert plain_rows(cost) == [
            ["gpt-4o", "2", "$0.42", "████████ 100%"],
            ["acme-llm-1", "5", "5 unpriced", ""],
        ]
        by_bar = str(app.query_one("#panels-cost-by", Static).render())
        assert "model" in by_bar and "session $0.42 + 5 unpriced" in by_bar
        await pilot.press("b", "b")  # by tool (none), then by path
        assert plain_rows(cost) == [
            ["/plan", "2", "$0.42 + 3 unpriced", "████████ 100%"],
            ["/answer", "1", "2 unpriced", ""],
        ]
        await pilot.press("B")  # back to by tool: nothing has a cost, said so
        assert not cost.display
        empty = app.query_one("#panels-cost-empty", Static)
        assert empty.display and "No tool call has a cost." in str(empty.render())


async def test_enter_on_a_row_jumps_to_its_spans() -> None:
    app = PanelsApp()
    async with app.run_test(size=(110, 24)) as pilot:
        await pilot.pause()
        await pilot.press("t")  # latency, by path
        assert app.query_one("#panels-tabs", TabbedContent).active == "panels-latency"
        latency = table(app, "latency")
        assert latency.has_focus
        assert plain_rows(latency)[0] == ["/tools/" + MARKUP, "3", "1.5s", "3.7s", "4.0s", "████      50%"]
        await pilot.press("j", "enter")
        assert app.jumps == [(("p1", "p2"), "Latency by path: /plan")]
        await pilot.press("k", "enter")
        assert app.jumps[-1] == (("t1", "t2", "t3"), "Latency by path: /tools/" + MARKUP)
        await pilot.press("b", "b", "G", "enter")  # slowest spans, last row
        assert app.jumps[-1] == (("f1",), "Slowest: fetch")
        assert plain_rows(latency)[0] == [MARKUP, "/tools/" + MARKUP, "+12.0s", "4.0s", "ok"]


async def test_a_click_on_a_row_jumps() -> None:
    app = PanelsApp()
    async with app.run_test(size=(110, 24)) as pilot:
        await pilot.pause()
        cost = table(app, "cost")
        assert await pilot.click(cost, offset=(3, 2))  # header on line 0: line 2 is the second row
        assert app.jumps == [(("p3",), "Cost by model: acme-llm-1")]
        assert cost.cursor_row == 1


async def test_grouping_is_clickable() -> None:
    app = PanelsApp()
    async with app.run_test(size=(110, 24)) as pilot:
        await pilot.pause()
        # "by  model   tool   path": padding 1, "by " 3, " model " 7, a space: " tool " starts at 12.
        assert await pilot.click("#panels-cost-by", offset=(13, 0))
        await pilot.pause()
        assert not table(app, "cost").display  # by tool: empty
        assert await pilot.click("#panels-cost-by", offset=(20, 0))
        await pilot.pause()
        assert plain_rows(table(app, "cost"))[0][0] == "/plan"


async def test_markup_and_control_sequences_are_shown_literally() -> None:
    app = PanelsApp()
    async with app.run_test(size=(140, 24)) as pilot:
        await pilot.pause()
        await pilot.press("t", "b")  # latency by tool
        drawn = screen_text(table(app, "latency"))
        assert MARKUP in drawn and "fetch␛[2J" in drawn
        assert "\x1b" not in drawn
        await pilot.press("e")  # errors by tool
        errors = table(app, "errors")
        assert errors.has_focus
        assert plain_rows(errors) == [[MARKUP, "2", "3", "67%", f"boom {MARKUP}\nwiped ␛[2J screen"]]
        drawn = screen_text(errors)
        assert f"boom {MARKUP}" in drawn and "wiped ␛[2J screen" in drawn  # one message a line
        assert "\x1b" not in drawn
        # No cell was parsed as markup: the key cell is plain, unstyled text.
        key_cell = errors.get_row_at(0)[0]
        assert key_cell.plain == MARKUP and not key_cell.spans
        await pilot.press("enter")
        assert app.jumps == [(("t2", "t3"), f"Errors by tool: {MARKUP}")]
        await pilot.press("b")
        empty = app.query_one("#panels-errors-empty", Static)
        assert empty.display and "No errors in this session." in str(empty.render())


@pytest.mark.slow
async def test_tabs_cycle_with_brackets_and_jump_with_keys() -> None:
    app = PanelsApp()
    async with app.run_test(size=(110, 24)) as pilot:
        await pilot.pause()
        tabs = app.query_one("#panels-tabs", TabbedContent)
        await pilot.press("right_square_bracket")
        assert tabs.active == "panels-latency"
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert tabs.active == "panels-cost"
        await pilot.press("left_square_bracket")
        assert tabs.active == "panels-errors"
        await pilot.press("dollar_sign")
        assert tabs.active == "panels-cost" and table(app, "cost").has_focus


async def test_message_replaces_the_tabs_and_is_literal() -> None:
    app = PanelsApp(breakdown=None)
    async with app.run_test(size=(110, 24)) as pilot:
        await pilot.pause()
        panels = app.query_one(SessionPanels)
        message = app.query_one("#panels-message", Static)
        assert message.display and "No session loaded." in str(message.render())
        assert not app.query_one("#panels-tabs").display
        panels.show_message(f"store error: {MARKUP} {CLEAR_SCREEN}")
        await pilot.pause()
        assert str(message.render()) == f"store error: {MARKUP} ␛[2J"
        panels.show(BREAKDOWN)
        await pilot.pause()
        assert not message.display and app.query_one("#panels-tabs").display
        assert panels.breakdown is BREAKDOWN


async def test_every_binding_has_an_id_and_a_description() -> None:
    from textual.binding import Binding

    for widget_class in (SessionPanels, PanelTable):
        own = [b for b in widget_class.BINDINGS if isinstance(b, Binding)]
        assert own and all(b.id and b.id.startswith("panels.") and b.description for b in own)
