"""The waterfall widget under a real Textual app: geometry, markers, highlight, axis, safety, scale."""

from __future__ import annotations

import re

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.strip import Strip

from agenttrace_tui.tui.widgets.timeline import (
    LABEL_WIDTH,
    RIGHT_MARGIN,
    Timeline,
    TimelineRow,
    axis_ticks,
)

BAR_CELLS = 80
WIDTH = LABEL_WIDTH + BAR_CELLS + RIGHT_MARGIN
"""With few rows there is no scrollbar: 80 bar cells, so 8000 ms makes one cell 100 ms."""
SESSION_MS = 8000.0


class TimelineApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.clicked: list[int] = []

    def compose(self) -> ComposeResult:
        yield Timeline()

    def on_timeline_row_clicked(self, message: Timeline.RowClicked) -> None:
        self.clicked.append(message.index)


def row(start: float, end: float, *, label: str = "span", kind: str = "llm", error: bool = False,
        in_progress: bool = False, depth: int = 0) -> TimelineRow:
    return TimelineRow(key=label, label=label, depth=depth, start_ms=start, end_ms=end, kind=kind,
                       error=error, in_progress=in_progress)


def bar_column(x: int) -> int:
    return LABEL_WIDTH + x


def style_at(strip: Strip, x: int) -> Style:
    position = 0
    for segment in strip:
        if position <= x < position + segment.cell_length:
            assert segment.style is not None
            return segment.style
        position += segment.cell_length
    raise IndexError(x)


def component_color(timeline: Timeline, name: str) -> object:
    return timeline.get_component_rich_style(f"timeline--{name}").color


async def test_bars_land_at_the_columns_their_times_give() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 12)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([
            row(0, 8000),  # the whole session: every bar cell
            row(1000, 3000),  # cells 10..29 exactly
            row(1050, 2025, kind="tool"),  # starts half into cell 10, ends 2/8 into cell 20
        ], SESSION_MS)
        await pilot.pause()
        whole, aligned, partial = (timeline.render_line(y) for y in (1, 2, 3))

        assert whole.text[bar_column(0):bar_column(80)] == "█" * 80
        assert whole.cell_length == WIDTH

        assert aligned.text[bar_column(9)] == " "
        assert aligned.text[bar_column(10):bar_column(30)] == "█" * 20
        assert aligned.text[bar_column(30):].startswith(" 2.0s")  # the duration right after the bar

        # first cell filled from its middle: a left half block drawn in the background color
        # over a bar-colored cell; the last cell filled 2/8 from the left
        tool = component_color(timeline, "tool")
        first = style_at(partial, bar_column(10))
        assert partial.text[bar_column(10)] == "▌" and first.bgcolor == tool
        assert partial.text[bar_column(11):bar_column(20)] == "█" * 9
        assert partial.text[bar_column(20)] == "▎" and style_at(partial, bar_column(20)).color == tool
        assert partial.text[bar_column(21):].startswith(" 975ms")


async def test_short_and_zero_length_spans_still_get_a_visible_cell() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 12)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([row(4000, 4000.1), row(4000, 4000), row(8000, 8000), row(4030, 4031)],
                          SESSION_MS)
        await pilot.pause()
        for y, column in ((1, 40), (2, 40), (3, 79), (4, 40)):
            text = timeline.render_line(y).text
            bar = text[LABEL_WIDTH:LABEL_WIDTH + BAR_CELLS]
            assert bar.strip() != "", (y, text)
            assert bar[column].strip() != "" and bar[column] in "▏▎▍▌▋▊▉█", (y, text)


async def test_error_rows_are_red_and_marked_after_the_bar() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 12)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([row(0, 2000, kind="tool", error=True),
                           row(0, 2000, kind="node", error=True, label="/a"),
                           row(0, 2000, kind="tool")], SESSION_MS)
        await pilot.pause()
        failed, folder, fine = (timeline.render_line(y) for y in (1, 2, 3))
        error = component_color(timeline, "error")

        assert failed.text[bar_column(20)] == "✗"
        assert style_at(failed, bar_column(5)).color == error
        assert style_at(failed, bar_column(20)).color == error
        # a folder keeps its lighter aggregate bar, with the red marker
        assert folder.text[bar_column(20)] == "✗"
        assert style_at(folder, bar_column(5)).color == component_color(timeline, "node")
        assert style_at(folder, bar_column(20)).color == error
        assert "✗" not in fine.text
        assert style_at(fine, bar_column(5)).color == component_color(timeline, "tool")


async def test_in_progress_spans_extend_to_now_with_their_own_look() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 12)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([row(2000, 2000, in_progress=True), row(2000, 2000)], SESSION_MS, now_ms=6000)
        await pilot.pause()
        running = timeline.render_line(1).text
        assert running[bar_column(20):bar_column(60)] == "▒" * 40
        assert running[bar_column(19)] == " "
        assert running[bar_column(60):].startswith("▸ 4.0s…")
        assert "▒" not in timeline.render_line(2).text  # a finished zero-length span is not running

        # now past the recorded session end: the scale stretches to now
        timeline.set_rows([row(0, 0, in_progress=True)], 4000, now_ms=8000)
        await pilot.pause()
        assert timeline.domain_ms == 8000
        assert timeline.render_line(1).text[bar_column(0):bar_column(80)] == "▒" * 80


async def test_highlight_scrolls_a_row_far_down_into_view_and_moves() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 20)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([row(i, i + 100, label=f"row {i}") for i in range(10_000)], 10_100)
        await pilot.pause()
        highlight_bg = timeline.get_component_rich_style("timeline--highlight").bgcolor

        def screen_line(index: int) -> int:
            return index - timeline.scroll_offset.y + 1

        timeline.highlight(5000)
        await pilot.pause()
        visible_rows = timeline.scrollable_content_region.height - 1
        assert 1 <= screen_line(5000) <= visible_rows
        strip = timeline.render_line(screen_line(5000))
        assert strip.text.startswith("row 5000 ")
        assert style_at(strip, 0).bgcolor == highlight_bg
        assert style_at(strip, WIDTH - 5).bgcolor == highlight_bg  # the whole line, not just the label

        timeline.highlight(5001)
        await pilot.pause()
        assert style_at(timeline.render_line(screen_line(5000)), 0).bgcolor != highlight_bg
        assert style_at(timeline.render_line(screen_line(5001)), 0).bgcolor == highlight_bg

        timeline.highlight(0)
        await pilot.pause()
        assert timeline.scroll_offset.y == 0
        assert timeline.render_line(1).text.startswith("row 0 ")

        timeline.highlight(9999)  # the last row sits on the last line, under the pinned axis
        await pilot.pause()
        assert timeline.render_line(visible_rows).text.startswith("row 9999 ")
        assert timeline.render_line(0).text.startswith("total ")

        timeline.highlight(None)
        assert timeline.highlighted is None


async def test_axis_labels_are_present_and_increasing() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 12)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([row(0, 7300)], 7300)
        await pilot.pause()
        axis = timeline.render_line(0).text
        assert axis.startswith("total 7.3s")
        labels = [label.strip() for label in axis[LABEL_WIDTH:].split("┊") if label.strip()]
        assert len(labels) >= 4
        values = [0.0 if label == "0" else float(re.fullmatch(r"([\d.]+)s", label).group(1))  # type: ignore[union-attr]
                  for label in labels]
        assert values == sorted(values) and len(set(values)) == len(values)
        assert values[0] == 0 and values[-1] <= 7.3
        # each tick sits where its time falls on the bars
        for label, value in zip(labels, values):
            assert axis.index("┊" + label) == bar_column(round(value * 1000 * BAR_CELLS / 7300))


def test_axis_steps_are_round_and_fit_their_labels() -> None:
    step, ticks = axis_ticks(7300, 80)
    assert step in (500, 1000, 2000) and ticks[0] == 0 and ticks[-1] <= 7300
    assert axis_ticks(450, 80)[0] in (50, 100)
    assert axis_ticks(3_600_000 * 3, 80)[0] % 60_000 == 0  # hours of session: minute multiples
    for domain in (1, 37, 999, 1000, 61_000, 86_400_000 * 3):
        step, ticks = axis_ticks(domain, 60)
        assert step * 60 / domain >= 4  # room for the shortest label
        assert ticks == sorted(ticks)


async def test_markup_and_control_sequences_in_labels_render_literally() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH + 20, 12)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([row(0, 1000, label="[bold]x[/bold]"), row(0, 1000, label="\x1b[2J wipe"),
                           row(0, 1000, label="[link=https://e.vil]y\x1b]52;c;Zm9v\x07")], 1000)
        await pilot.pause()
        assert timeline.render_line(1).text.startswith("[bold]x[/bold] ")
        assert timeline.render_line(2).text.startswith("␛[2J wipe ")
        third = timeline.render_line(3).text
        assert third.startswith("[link=https://e.vi…")  # truncated to the label column, still literal
        for y in (1, 2, 3):
            strip = timeline.render_line(y)
            assert "\x1b" not in strip.text and "\x07" not in strip.text
            assert all(segment.style is None or not segment.style.link for segment in strip)
            assert all(segment.style is None or not segment.style.bold for segment in strip)


async def test_long_labels_are_cut_to_the_column_and_indented_by_depth() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 12)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([row(0, 1000, label="a" * 50, depth=2), row(0, 1000, label="漢字" * 20)], 1000)
        await pilot.pause()
        deep = timeline.render_line(1).text
        assert deep[:LABEL_WIDTH] == "  " + "a" * (LABEL_WIDTH - 4) + "… "
        wide = timeline.render_line(2)
        assert wide.cell_length == WIDTH and wide.text.endswith("█" * BAR_CELLS + " ")


async def test_bars_rescale_on_resize() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 12)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([row(0, 4000), row(4000, 8000)], SESSION_MS)
        await pilot.pause()
        assert timeline.render_line(1).text[bar_column(0):bar_column(40)] == "█" * 40

        await pilot.resize_terminal(LABEL_WIDTH + 40 + RIGHT_MARGIN, 12)
        await pilot.pause()
        first, second = timeline.render_line(1), timeline.render_line(2)
        assert first.cell_length == LABEL_WIDTH + 40 + RIGHT_MARGIN
        assert first.text[bar_column(0):bar_column(20)] == "█" * 20
        assert first.text[bar_column(20)] != "█"
        assert second.text[bar_column(20):bar_column(40)] == "█" * 20


async def test_clicking_a_row_posts_its_index() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 20)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([row(i, i + 10, label=f"row {i}") for i in range(1000)], 1010)
        timeline.highlight(500)
        await pilot.pause()
        top = timeline.scroll_offset.y
        await pilot.click(Timeline, offset=(5, 3))
        await pilot.click(Timeline, offset=(LABEL_WIDTH + 10, 1))
        await pilot.click(Timeline, offset=(5, 0))  # the axis is not a row
        await pilot.pause()
        assert app.clicked == [top + 2, top]
        assert timeline.highlighted == 500  # the tree owns the selection: a click only reports


@pytest.mark.slow
async def test_100k_rows_render_a_frame_without_building_widgets() -> None:
    app = TimelineApp()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        widgets_before = len(list(app.screen.walk_children()))
        kinds = ("llm", "tool", "agent", "retrieval", "embedding", "other", "node")
        rows = [row(i * 3.0, i * 3.0 + 250, label=f"span {i}", kind=kinds[i % 7], error=i % 13 == 0,
                    in_progress=i % 17 == 0, depth=i % 5) for i in range(100_000)]
        timeline.set_rows(rows, 300_250, now_ms=300_300)
        timeline.highlight(99_999)
        await pilot.pause()
        assert timeline.virtual_size.height == 100_001
        assert len(timeline.children) == 0
        assert len(list(app.screen.walk_children())) == widgets_before
        frame = [timeline.render_line(y).text for y in range(timeline.size.height)]
        assert frame[-1].startswith("    span 99999")
        assert all(len(line) == timeline.scrollable_content_region.width for line in frame)


async def test_empty_rows_show_the_axis_and_say_so() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 12)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([], 0)
        await pilot.pause()
        assert timeline.render_line(0).text.startswith("total 0ms")
        assert "no spans" in timeline.render_line(1).text
        timeline.highlight(3)  # nothing to highlight: ignored, no error
        assert timeline.highlighted is None


async def test_theme_change_recolors_the_bars() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 12)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([row(0, 8000)], SESSION_MS)
        await pilot.pause()
        dark = style_at(timeline.render_line(1), bar_column(0)).bgcolor
        app.theme = "textual-light"
        await pilot.pause()
        light = style_at(timeline.render_line(1), bar_column(0)).bgcolor
        assert dark != light
        assert style_at(timeline.render_line(1), bar_column(0)).color == component_color(timeline, "llm")


async def test_a_row_of_kind_none_draws_no_bar() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 6)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([row(0, 0, label="", kind="none"), row(0, 4000)], SESSION_MS)
        await pilot.pause()
        assert timeline.render_line(1).text[LABEL_WIDTH:].strip() == ""  # line 0 is the axis
        assert "█" in timeline.render_line(2).text


async def test_critical_rows_carry_a_marker() -> None:
    app = TimelineApp()
    async with app.run_test(size=(WIDTH, 6)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.set_rows([TimelineRow("on", "on", 0, 0, 2000, "llm", False, critical=True),
                           row(0, 1000, label="off")], SESSION_MS)
        await pilot.pause()
        assert "◆" in timeline.render_line(1).text
        assert "◆" not in timeline.render_line(2).text
