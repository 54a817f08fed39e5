"""The session waterfall: one bar per tree line, aligned to session start, drawn with the line API.

Only the lines on screen are rendered (`render_line`), so a session of 100k spans costs a list
assignment in `set_rows` and about a screenful of small strips per frame. Row `i` is tree line `i`:
line 0 of the widget is a pinned time axis and the rows scroll beneath it, so `scroll_offset.y` is
the index of the first visible row, the same number a tree scrolled to that line has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Final, Sequence

from rich.cells import cell_len, set_cell_size
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from agenttrace_tui import display
from agenttrace_tui.textsafe import sanitize

__all__ = ["Timeline", "TimelineRow"]

KINDS: Final = ("llm", "tool", "agent", "retrieval", "embedding", "other")
"""Span kinds with a color of their own; anything else is drawn as `other`."""

LABEL_WIDTH: Final = 20
"""Cells for the label column, so a bar-only view still says which line is which."""

MIN_BAR_WIDTH: Final = 20
"""Below label + this many cells the label column shrinks instead of the bars vanishing."""

MAX_INDENT: Final = 8
"""Deep trees would push labels out of a 20-cell column: the indent stops growing here."""

RIGHT_MARGIN: Final = 1
"""A cell kept free right of the bar area so a bar ending at the session end still gets its ✗."""

STRIP_CACHE_SIZE: Final = 1024
"""Rendered rows kept: several screens, so scrolling back and forth re-renders nothing."""

EIGHTHS: Final = " ▏▎▍▌▋▊▉█"
"""Left-aligned blocks by eighths filled: index n fills n/8 of a cell from its left edge."""

FULL: Final = "█"
PENDING: Final = "▒"  # in-progress body: visibly not a finished bar, even without color
ERROR_MARK: Final = "✗"
CRITICAL_MARK: Final = "◆"
PENDING_MARK: Final = "▸"
TICK: Final = "┊"

_NICE_STEPS_MS: Final = (
    *(m * 10**e for e in range(0, 4) for m in (1, 2, 5)),  # 1ms … 5s
    10_000, 15_000, 30_000,
    60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000,
)
"""Axis steps a person reads at a glance: 1-2-5 below ten seconds, clock-like units above."""

_DAY_MS: Final = 86_400_000


@dataclass(frozen=True)
class TimelineRow:
    """One tree line as the waterfall draws it."""

    key: str  # a tree line's id (span id or "path:/a/b"), opaque here
    label: str  # untrusted text (span name or folder name): sanitized before display
    depth: int  # tree depth, for a small indent of the label column
    start_ms: float  # from session start
    end_ms: float  # == start_ms for in-progress spans: drawn to `now_ms` instead
    kind: str  # llm tool agent retrieval embedding other | "node" for a folder (aggregate bar) | "none": no bar
    error: bool  # red bar (spans) or a red ✗ after the bar (spans and folders)
    in_progress: bool = False
    critical: bool = False  # on the session's critical path: a ◆ after the bar


@dataclass(frozen=True)
class _Palette:
    """Resolved Rich styles for one line state (plain or highlighted)."""

    line: Style
    label: Style
    axis: Style
    duration: Style
    pending: Style
    error_mark: Style
    critical_mark: Style
    bars: dict[str, Style]  # kind (and "node", "error") → bar style, fg = bar color


@dataclass(frozen=True)
class _Geometry:
    """Where the columns are for one widget width."""

    width: int
    label_width: int
    bar_width: int  # cells between the label column and the right margin


def _geometry(width: int) -> _Geometry:
    if width >= LABEL_WIDTH + MIN_BAR_WIDTH + RIGHT_MARGIN:
        label_width = LABEL_WIDTH
    else:
        label_width = max(0, width // 3)
    return _Geometry(width, label_width, max(0, width - label_width - RIGHT_MARGIN))


def _tick_label(value_ms: float, step_ms: float, domain_ms: float) -> str:
    """Tick text precise enough for the step and no more: 0, 200ms, 1.2s, 15s, 1m30s, 2h."""
    if value_ms == 0:
        return "0"
    if domain_ms < 1000:
        return f"{value_ms:.0f}ms"
    if value_ms < 60_000 or step_ms < 1000:
        decimals = max(0, math.ceil(-math.log10(step_ms / 1000) - 1e-9))
        return f"{value_ms / 1000:.{decimals}f}s"
    total_seconds = int(round(value_ms / 1000))
    hours, rest = divmod(total_seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    return f"{minutes}m{seconds:02d}s" if seconds else f"{minutes}m"


def _nice_steps() -> list[float]:
    steps: list[float] = [float(step) for step in _NICE_STEPS_MS]
    steps += [float(m * 10**e * _DAY_MS) for e in range(0, 4) for m in (1, 2, 5)]
    return steps


_STEPS: Final = _nice_steps()


def axis_ticks(domain_ms: float, bar_width: int) -> tuple[float, list[float]]:
    """The step and tick values (0, step, 2·step … ≤ domain) whose labels fit side by side."""
    if bar_width <= 0 or domain_ms <= 0:
        return (domain_ms, [0.0])
    for step in _STEPS:
        count = int(domain_ms // step)
        longest = max(len(_tick_label(step * k, step, domain_ms)) for k in (1, count or 1))
        # a tick is `┊label` plus one blank cell before the next tick
        if step * bar_width / domain_ms >= longest + 2:
            return (step, [step * k for k in range(count + 1)])
    return (domain_ms, [0.0])


class Timeline(ScrollView, can_focus=False):
    """A waterfall of the session's visible tree lines, kept line-for-line with the tree.

    The tree drives it: `set_rows` when the visible lines change (expand, collapse, view toggle),
    `highlight` when the cursor moves. A click posts `RowClicked` and leaves the highlight to the
    caller, so the tree stays the one owner of the selection.
    """

    ALLOW_SELECT = False  # bars are not text worth copying; a drag should not paint a selection

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline--axis",
        "timeline--label",
        "timeline--duration",
        "timeline--highlight",
        "timeline--in-progress",
        "timeline--error",
        "timeline--critical",
        "timeline--node",
        *(f"timeline--{kind}" for kind in KINDS),
    }

    # Fixed mid-luminance hues (after the Okabe-Ito color-blind-safe set) rather than $primary and
    # friends: several built-in themes give primary/secondary or accent/warning the same hue, and
    # solid blocks read on dark and light backgrounds alike at this lightness.
    DEFAULT_CSS = """
    Timeline {
        overflow-x: hidden;
        overflow-y: auto;
    }
    Timeline > .timeline--axis { color: $text-muted; }
    Timeline > .timeline--label { color: $text; }
    Timeline > .timeline--duration { color: $text-muted; }
    Timeline > .timeline--highlight { background: $block-cursor-blurred-background; text-style: bold; }
    Timeline > .timeline--in-progress { color: $text-warning; }
    Timeline > .timeline--error { color: $error; }
    Timeline > .timeline--critical { color: $text-accent; text-style: bold; }
    Timeline > .timeline--node { color: $foreground 35%; }
    Timeline > .timeline--llm { color: #4c9be8; }
    Timeline > .timeline--tool { color: #e69f00; }
    Timeline > .timeline--agent { color: #cc79a7; }
    Timeline > .timeline--retrieval { color: #009e73; }
    Timeline > .timeline--embedding { color: #c9b100; }
    Timeline > .timeline--other { color: #8a8f98; }
    """

    class RowClicked(Message):
        """A row was clicked: `index` is the tree line under the mouse."""

        def __init__(self, timeline: Timeline, index: int) -> None:
            super().__init__()
            self.timeline = timeline
            self.index = index

        @property
        def control(self) -> Timeline:
            return self.timeline

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._rows: Sequence[TimelineRow] = ()
        self._session_ms = 0.0
        self._now_ms: float | None = None
        self._domain_ms = 1.0
        self._highlighted: int | None = None
        self._bottom_margin = 0
        # keyed by (row index, width, highlighted): a row's strip changes with nothing else
        self._strips: LRUCache[tuple[int, int, bool], Strip] = LRUCache(STRIP_CACHE_SIZE)
        self._axis: tuple[int, Strip] | None = None
        self._palettes: dict[bool, _Palette] = {}

    # -- public API -------------------------------------------------------------------------------

    @property
    def rows(self) -> Sequence[TimelineRow]:
        return self._rows

    @property
    def highlighted(self) -> int | None:
        return self._highlighted

    @property
    def domain_ms(self) -> float:
        """The time the bar area spans: the session, stretched to `now_ms` while spans run."""
        return self._domain_ms

    def set_rows(
        self, rows: Sequence[TimelineRow], session_ms: float, now_ms: float | None = None
    ) -> None:
        """Show these lines (row i = tree line i), scaled to `session_ms` or to `now_ms` if later."""
        # a tuple copy is ~0.2 ms for 100k rows and spares the caller a no-mutation contract
        self._rows = rows if isinstance(rows, tuple) else tuple(rows)
        self._session_ms = session_ms
        self._now_ms = now_ms
        self._domain_ms = max(session_ms, now_ms or 0.0)
        if not self._domain_ms > 0:  # also catches NaN
            self._domain_ms = 1.0
        if self._highlighted is not None and self._highlighted >= len(rows):
            self._highlighted = None
        self._strips.clear()
        self._axis = None
        self.virtual_size = Size(0, len(rows) + 1 + self._bottom_margin)  # + the axis line
        self._scroll_highlight_into_view()
        self.refresh()

    def set_bottom_margin(self, lines: int) -> None:
        """Blank lines after the last row, so this can scroll as far as a tree whose horizontal scrollbar
        takes lines of its height (else at the bottom the bars sat one line above their tree lines)."""
        if lines != self._bottom_margin:
            self._bottom_margin = lines
            self.virtual_size = Size(0, len(self._rows) + 1 + lines)

    def highlight(self, index: int | None) -> None:
        """Draw line `index` highlighted and scroll it into view (None clears the highlight)."""
        if index is not None and not 0 <= index < len(self._rows):
            index = None
        previous, self._highlighted = self._highlighted, index
        for row_index in (previous, index):
            if row_index is not None:
                self.refresh_line(row_index + 1)
        self._scroll_highlight_into_view()

    def row_at(self, y: int) -> int | None:
        """The row index drawn at content line `y`, or None for the axis and blank space."""
        if y < 1:
            return None
        index = self.scroll_offset.y + y - 1
        return index if 0 <= index < len(self._rows) else None

    # -- Textual hooks ----------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        # theme or CSS changed: every resolved color is stale
        super().notify_style_update()
        self._palettes.clear()
        self._strips.clear()
        self._axis = None

    def on_resize(self, event: events.Resize) -> None:
        # strips are keyed by width, so only the view position needs care here
        self._scroll_highlight_into_view()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = self.row_at(offset.y)
        if index is not None:
            event.stop()
            self.post_message(self.RowClicked(self, index))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._axis_strip(width)
        index = self.scroll_offset.y + y - 1
        if not 0 <= index < len(self._rows):
            if index == 0 and not self._rows:
                return self._empty_strip(width)
            return Strip.blank(width, self._palette(False).line)
        highlighted = index == self._highlighted
        key = (index, width, highlighted)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._row_strip(self._rows[index], _geometry(width), self._palette(highlighted))
            self._strips[key] = strip
        return strip

    # -- drawing ----------------------------------------------------------------------------------

    def _scroll_highlight_into_view(self) -> None:
        index = self._highlighted
        visible_rows = self.scrollable_content_region.height - 1
        if index is None or visible_rows < 1:
            return  # not laid out yet: on_resize comes back here
        top = self.scroll_offset.y
        # force: right after set_rows the scrollbar isn't laid out yet, and without it Textual
        # ignores the scroll; the target is clamped to the new virtual size all the same
        if index < top:
            self.scroll_to(y=index, animate=False, force=True)
        elif index > top + visible_rows - 1:
            self.scroll_to(y=index - visible_rows + 1, animate=False, force=True)

    def _palette(self, highlighted: bool) -> _Palette:
        palette = self._palettes.get(highlighted)
        if palette is not None:
            return palette

        def component(name: str) -> Style:
            return self.get_component_rich_style(f"timeline--{name}")

        line = self.rich_style
        text_overlay = Style()
        bar_overlay = Style()
        if highlighted:
            cursor = component("highlight")
            line = line + Style(bgcolor=cursor.bgcolor, bold=cursor.bold)
            text_overlay = Style(bgcolor=cursor.bgcolor, bold=cursor.bold)
            bar_overlay = Style(bgcolor=cursor.bgcolor)
        bars = {name: component(name) + bar_overlay for name in (*KINDS, "node", "error")}
        palette = _Palette(
            line=line,
            label=component("label") + text_overlay,
            axis=component("axis"),
            duration=component("duration") + text_overlay,
            pending=component("in-progress") + text_overlay,
            error_mark=component("error") + text_overlay,
            critical_mark=component("critical") + text_overlay,
            bars=bars,
        )
        self._palettes[highlighted] = palette
        return palette

    def _label_segment(self, row: TimelineRow, label_width: int, style: Style) -> Segment:
        indent = min(max(row.depth, 0), MAX_INDENT, max(0, label_width - 4))
        room = label_width - indent - 1  # one blank cell between label and bars
        text = sanitize(row.label)
        if room <= 0:
            text = ""
        elif cell_len(text) > room:
            text = set_cell_size(text, room - 1) + "…"
        return Segment(set_cell_size(" " * indent + text, label_width), style)

    def _row_strip(self, row: TimelineRow, geometry: _Geometry, palette: _Palette) -> Strip:
        segments = [self._label_segment(row, geometry.label_width, palette.line + palette.label)]
        bar_width = geometry.bar_width
        if bar_width <= 0 or row.kind == "none":  # "none": a line with no interval ("… N more")
            return Strip(segments, geometry.label_width).adjust_cell_length(geometry.width, palette.line)

        in_progress = row.in_progress
        end_ms = row.end_ms
        if in_progress:
            end_ms = max(end_ms, self._now_ms if self._now_ms is not None else self._domain_ms)
        scale = bar_width * 8 / self._domain_ms  # eighths of a cell per millisecond
        last_eighth = bar_width * 8

        def eighth(ms: float) -> int:
            # one rounding for starts and ends, so back-to-back spans meet without a gap or overlap
            return min(max(int(round(ms * scale)), 0), last_eighth) if math.isfinite(ms) else 0

        start8 = min(eighth(row.start_ms), last_eighth - 1)
        end8 = max(eighth(end_ms), start8 + 1)  # never thinner than one eighth: always visible
        first_cell, last_cell = start8 // 8, (end8 - 1) // 8

        if row.kind == "node":
            bar = palette.bars["node"]
        elif row.error:
            bar = palette.bars["error"]
        else:
            bar = palette.bars.get(row.kind, palette.bars["other"])

        bar_segments = (
            [Segment(PENDING * (last_cell - first_cell + 1), bar)]
            if in_progress
            else self._bar_segments(start8, end8, bar, palette.line)
        )

        # after the bar: a marker, then the duration if it fits before the right edge
        after: list[Segment] = []
        if row.critical:
            after.append(Segment(CRITICAL_MARK, palette.critical_mark))
        if row.error:
            after.append(Segment(ERROR_MARK, palette.error_mark))
        elif in_progress:
            after.append(Segment(PENDING_MARK, palette.pending))
        duration = " " + display.duration(max(end_ms - row.start_ms, 0.0)) + ("…" if in_progress else "")
        after_cells = sum(segment.cell_length for segment in after)
        bar_left = geometry.label_width + first_cell
        bar_right = geometry.label_width + last_cell + 1
        before: list[Segment] = []
        if bar_right + after_cells + len(duration) <= geometry.width:
            after.append(Segment(duration, palette.duration))
        elif bar_left - geometry.label_width >= len(duration) + 1:
            # long bars that reach the right edge: the figure goes to their left
            before.append(Segment(duration.strip() + " ", palette.duration))

        before_cells = sum(segment.cell_length for segment in before)
        gap = bar_left - geometry.label_width - before_cells
        if gap > 0:
            segments.append(Segment(" " * gap, palette.line))
        segments += before
        segments += bar_segments
        segments += after
        return Strip(segments).adjust_cell_length(geometry.width, palette.line)

    @staticmethod
    def _bar_segments(start8: int, end8: int, bar: Style, line: Style) -> list[Segment]:
        """Cells for [start8, end8) in eighths: partial first and last cells, full ones between."""
        first_cell, last_cell = start8 // 8, (end8 - 1) // 8
        lead = start8 % 8  # empty eighths at the left of the first cell
        tail = end8 - last_cell * 8  # filled eighths of the last cell (1..8)
        if first_cell == last_cell:
            if lead == 0 or tail != 8:
                # no glyph fills the middle of a cell: keep the width, start at the cell's left edge
                return [Segment(EIGHTHS[max(end8 - start8, 1)], bar)]
            return [_right_aligned(lead, bar, line)]
        segments = [Segment(FULL, bar) if lead == 0 else _right_aligned(lead, bar, line)]
        if last_cell - first_cell > 1:
            segments.append(Segment(FULL * (last_cell - first_cell - 1), bar))
        segments.append(Segment(EIGHTHS[tail], bar))
        return segments

    def _axis_strip(self, width: int) -> Strip:
        if self._axis is not None and self._axis[0] == width:
            return self._axis[1]
        palette = self._palette(False)
        style = palette.line + palette.axis
        geometry = _geometry(width)
        title = f"total {display.duration(self._session_ms)}"
        cells = [" "] * width
        for column, char in enumerate(set_cell_size(title, max(0, geometry.label_width - 1))):
            cells[column] = char
        step, ticks = axis_ticks(self._domain_ms, geometry.bar_width)
        free_from = geometry.label_width
        for value in ticks:
            column = geometry.label_width + int(round(value * geometry.bar_width / self._domain_ms))
            text = TICK + _tick_label(value, step, self._domain_ms)
            if column < free_from or column + len(text) > width:
                continue
            cells[column : column + len(text)] = list(text)
            free_from = column + len(text) + 1
        strip = Strip([Segment("".join(cells), style)], width)
        self._axis = (width, strip)
        return strip

    def _empty_strip(self, width: int) -> Strip:
        palette = self._palette(False)
        text = set_cell_size("  no spans to show", width)
        return Strip([Segment(text, palette.line + palette.duration)], width)


def _right_aligned(lead: int, bar: Style, line: Style) -> Segment:
    """A cell filled from eighth `lead` to its right edge.

    Unicode has no right-aligned eighths, so draw the empty left part as a left-aligned block in
    the line's background color over a cell whose background is the bar color.
    """
    bar_color: RichColor | None = bar.color
    background: RichColor | None = bar.bgcolor or line.bgcolor
    if bar_color is None or background is None:
        # colors unknown (e.g. ANSI themes): the nearest right-aligned glyphs there are
        return Segment(FULL if lead <= 2 else "▐" if lead <= 5 else "▕", bar)
    return Segment(EIGHTHS[lead], Style(color=background, bgcolor=bar_color))
