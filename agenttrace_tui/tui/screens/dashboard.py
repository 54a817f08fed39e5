"""Analytics across the listed sessions: the same figures as `agenttrace stats`, in a scrollable screen.

Opened from the session list with its current filter, so the dashboard always describes the sessions
the user was looking at. The figures are computed in a worker; `p` cycles the property compared.
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from agenttrace_tui.stats_view import stats_renderables
from agenttrace_tui.store import Store, compile_filters
from agenttrace_tui.textsafe import sanitize
from agenttrace_tui.tui.messages import LoadFailed, StatsLoaded
from agenttrace_tui.tui.workers import failures_posted


class DashboardScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", id="dashboard.back"),
        Binding("p", "next_property", "Compare by", id="dashboard.compare"),
        Binding("j,down", "scroll_down", "Down", show=False, id="dashboard.down"),
        Binding("k,up", "scroll_up", "Up", show=False, id="dashboard.up"),
        Binding("g", "scroll_home", "Top", show=False, id="dashboard.top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="dashboard.bottom"),
    ]

    def __init__(self, store: Store, filters: list[str], properties: tuple[str, ...]) -> None:
        super().__init__()
        self.store = store
        self.filters = filters
        self.properties = properties
        self.property_index = 0
        self.generation = 0

    def compose(self) -> ComposeResult:
        where = " and ".join(self.filters) if self.filters else "all sessions"
        yield Static(Text(f"agenttrace › sessions › analytics · {sanitize(where)}"), id="crumb", classes="crumb")
        with VerticalScroll(id="dashboard-body"):
            yield Static(Text("Computing…", style="dim"), id="dashboard")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#dashboard-body", VerticalScroll).focus()
        self.reload()

    @property
    def compared(self) -> str | None:
        if not self.properties:
            return None
        return f"prop.{self.properties[self.property_index % len(self.properties)]}"

    def reload(self) -> None:
        self.generation += 1
        self._load(list(self.filters), self.compared, self.generation)

    @work(thread=True, exclusive=True, group="dashboard")
    def _load(self, filters: list[str], by: str | None, generation: int) -> None:
        with failures_posted(self, generation):
            where = compile_filters(filters)
            with self.store.read() as r:
                result = r.stats(where, by=by)
            self.post_message(StatsLoaded(result, generation))

    @on(StatsLoaded)
    def _loaded(self, message: StatsLoaded) -> None:
        if message.generation == self.generation:
            self.query_one("#dashboard", Static).update(Group(*stats_renderables(message.result)))

    @on(LoadFailed)
    def _failed(self, message: LoadFailed) -> None:
        if message.generation == self.generation:
            self.query_one("#dashboard", Static).update(Text(sanitize(message.error)))

    def action_next_property(self) -> None:
        if not self.properties:
            self.notify("no property takes a few values per session here: nothing to compare", markup=False)
            return
        self.property_index += 1
        self.query_one("#dashboard", Static).update(Text("Computing…", style="dim"))
        self.reload()

    def action_scroll_down(self) -> None:
        self.query_one("#dashboard-body", VerticalScroll).scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one("#dashboard-body", VerticalScroll).scroll_up()

    def action_scroll_home(self) -> None:
        self.query_one("#dashboard-body", VerticalScroll).scroll_home()

    def action_scroll_end(self) -> None:
        self.query_one("#dashboard-body", VerticalScroll).scroll_end()
