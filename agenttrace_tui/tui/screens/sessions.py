"""The session list: every session in a virtual Arrow-backed table, sortable and filterable.

The whole filtered, sorted list is fetched as one Arrow table (a few MB for 100k sessions) and the
table widget renders only the visible rows; every reload runs in a worker, so typing never waits.
A new list (first load, sort, filter) is drawn from its first page as soon as that is read, and the
whole list replaces it, cursor kept, when it arrives: on a million spans that halves the first screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Final

import pyarrow.compute as pc
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker
from textual_fastdatatable import ArrowBackend
from textual_fastdatatable import DataTable as FastDataTable

from agenttrace_tui import display
from agenttrace_tui.store import Store, StoreError, compile_filters, split_conditions
from agenttrace_tui.textsafe import sanitize
from agenttrace_tui.tui.clipboard import copy_as_shown
from agenttrace_tui.tui.columns import BASE_COLUMNS, display_table
from agenttrace_tui.tui.loaders.session_list import SessionList, read_session_list
from agenttrace_tui.tui.messages import ListLoaded, LoadFailed
from agenttrace_tui.tui.workers import failures_posted, store_errors

ERRORS_ONLY = "errors > 0"
FIRST_PAGE_ROWS: Final = 200
"""Rows of a new list drawn before the whole list: several screens' worth, read in a few ms."""


class SessionTable(FastDataTable):
    """The virtual table, with the vim-style keys people expect."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("k", "cursor_up", "Up", show=False, id="list.up"),
        Binding("g", "scroll_home", "Top", show=False, id="list.top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="list.bottom"),
    ]


class SessionsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="sessions.open"),
        Binding("slash", "filter", "Filter", id="sessions.filter"),
        Binding("s", "sort_next", "Sort", id="sessions.sort"),
        Binding("S", "sort_reverse", "Reverse", id="sessions.reverse"),
        Binding("e", "errors_only", "Errors only", id="sessions.errors"),
        Binding("a", "analytics", "Analytics", id="sessions.analytics"),
        Binding("y", "copy_value", "Copy name", show=False, id="sessions.copy"),
        Binding("Y", "copy_id", "Copy id", show=False, id="sessions.copy_id"),
        Binding("ctrl+e", "export", "Export", id="sessions.export"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="sessions.reload"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="sessions.clear"),
        Binding("q", "app.quit", "Quit", id="sessions.quit"),
    ]

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.filter_text = ""
        self.errors_only = False
        self.sort_index = 1  # "started"
        self.descending = True
        self.listing: SessionList | None = None
        self.generation = 0
        self._restore_row = 0
        self._restore_session: str | None = None
        self._properties: tuple[str, ...] | None = None
        self._page_generation: int | None = None  # the load whose first page is on screen, whole list to come
        self._rest_waiting = False  # the whole list waits for this screen to be shown again
        self.stale = False  # the store changed while another screen was on top (follow mode)

    # Layout ----------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="crumb", classes="crumb")
        yield Container(Static("Loading sessions…", classes="message"), id="sessions-holder")
        yield Static("", id="filter-error", classes="error-line hidden")
        yield Input(placeholder="filter: errors > 0 and model ~ gpt and prop.Agent-Version = v1.0   (enter applies, esc cancels)",
                    id="filter", classes="prompt hidden")
        yield Static("", id="totals")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        if self._rest_waiting:
            self._rest_waiting = False
            self._load_rest(self.generation)
        if self.stale:
            self.stale = False
            self.refresh_from_store()
        # Back from a session: the virtual table keeps its rows but must be drawn again.
        table = self._table()
        if table is not None:
            table.refresh(layout=True)
            table.focus()

    # Loading ---------------------------------------------------------------------------------------

    @property
    def filters(self) -> list[str]:
        expressions = split_conditions(self.filter_text)
        return expressions + ([ERRORS_ONLY] if self.errors_only else [])

    @property
    def sort_key(self) -> str:
        return BASE_COLUMNS[self.sort_index].key

    def refresh_from_store(self) -> None:
        """The store changed (follow mode): load again, the cursor staying on its session."""
        self._restore_session = self.selected_session_id()
        self.reload(keep_row=True)

    def mark_stale(self) -> None:
        """The store changed under another screen: load again when this one is shown."""
        self.stale = True

    def reload(self, keep_row: bool = False) -> None:
        table = self._table()
        self._restore_row = table.cursor_row if (keep_row and table is not None) else 0
        self.generation += 1
        self._update_crumb()
        # A refresh of the list on screen (follow mode, ctrl+r) keeps showing it until the new one is read:
        # a first page would move the cursor's session out of reach for a moment.
        limit = None if keep_row and table is not None else FIRST_PAGE_ROWS
        self._load(self.filters, self.sort_key, self.descending, self.generation, self._properties, limit)

    def _load_rest(self, generation: int) -> None:
        """After the first page's frame: the whole list (started earlier, it delays that frame on 2 cores).
        Not while another screen is on top (a session opened from the first page): it would slow that
        screen's queries down; it loads when this screen is back."""
        if generation != self.generation or self._page_generation != generation:
            return
        if not self.is_current:
            self._rest_waiting = True
            return
        self._load(self.filters, self.sort_key, self.descending, generation, self._properties, None)

    @work(thread=True, exclusive=True, group="sessions-list")
    def _load(self, filters: list[str], sort: str, descending: bool, generation: int,
              properties: tuple[str, ...] | None, limit: int | None) -> None:
        with failures_posted(self, generation):
            # The property columns are chosen once per screen (a reload keeps them) and again on ctrl+r.
            listing = read_session_list(self.store, filters, sort, descending, properties, limit=limit)
            shown = display_table(listing.raw, listing.properties)
            if not get_current_worker().is_cancelled:
                self.post_message(ListLoaded(listing, shown, generation))

    @on(LoadFailed)
    async def _failed(self, message: LoadFailed) -> None:
        if message.generation != self.generation:
            return
        if message.filter_error and self.listing is not None:
            self._show_filter_error(message.error)  # the list stays as it was
            return
        self._page_generation = None
        holder = self.query_one("#sessions-holder", Container)
        await holder.remove_children()
        await holder.mount(Static(Text(sanitize(message.error)), classes="message"))
        self._show_filter_error(message.error if message.filter_error else None)

    @on(ListLoaded)
    async def _loaded(self, message: ListLoaded) -> None:
        if message.generation != self.generation:
            return  # a newer reload is on its way
        listing = message.listing
        previous = self._table()
        # The whole list replacing its first page: the cursor stays where the user has moved it since.
        completing = previous is not None and self._page_generation == message.generation
        kept_row = previous.cursor_row if previous is not None else 0
        focus_elsewhere = self.focused is not None and self.focused is not previous  # e.g. the filter prompt
        self._page_generation = None if listing.complete else message.generation
        self._properties = listing.properties
        self._show_filter_error(None)
        holder = self.query_one("#sessions-holder", Container)
        raw = listing.raw
        # No frame until the new table is mounted: the first frame after `listing` is set shows it.
        with self.app.batch_update():
            self.listing = listing
            await holder.remove_children()
            if raw.num_rows == 0:
                text = ("No sessions match this filter (esc clears it)." if self.filters else
                        "No sessions yet. Load traces with `agenttrace ingest FILE`, "
                        "e.g. agenttrace ingest sample_traces/")
                await holder.mount(Static(text, classes="message"))
            else:
                table = SessionTable(backend=ArrowBackend(message.shown), cursor_type="row", render_markup=False,
                                     show_row_labels=False, max_column_content_width=48, id="sessions")
                await holder.mount(table)
                if completing:
                    row = min(kept_row, raw.num_rows - 1)
                    focus = not focus_elsewhere
                else:
                    row = min(self._restore_row, raw.num_rows - 1)
                    focus = True
                if self._restore_session is not None:  # new sessions may have come in above it
                    found = pc.index(raw.column("session_id"), self._restore_session).as_py()
                    row = found if found >= 0 else row
                    self._restore_session = None
                if row:
                    table.move_cursor(row=row)
                    # a new table has no size until its first layout, so that move can't scroll: again after it
                    table.call_after_refresh(lambda: table.move_cursor(row=table.cursor_row))
                if focus:
                    table.focus()
            self._update_totals()
        if not listing.complete:
            self.call_after_refresh(self._load_rest, message.generation)

    # Display ---------------------------------------------------------------------------------------

    def _table(self) -> SessionTable | None:
        tables = self.query(SessionTable)
        return tables.first() if tables else None

    def _update_crumb(self) -> None:
        parts = ["agenttrace › sessions"]
        if self.filter_text.strip():
            parts.append(f"filter: {self.filter_text.strip()}")
        if self.errors_only:
            parts.append("errors only")
        arrow = "↓" if self.descending else "↑"
        parts.append(f"sort: {BASE_COLUMNS[self.sort_index].label} {arrow}")
        self.query_one("#crumb", Static).update(Text(sanitize("  ·  ".join(parts))))

    def _update_totals(self) -> None:
        if self.listing is None:
            return
        totals = self.listing.totals
        text = (
            f"{totals['sessions']:,} session{'' if totals['sessions'] == 1 else 's'} · "
            f"{display.cost(totals['cost_usd'], totals['unpriced'])} · "
            f"error rate {display.rate(totals['error_rate'])} · p95 duration {display.duration(totals['p95_duration_ms'])}"
        )
        self.query_one("#totals", Static).update(Text(text))

    def _show_filter_error(self, error: str | None) -> None:
        line = self.query_one("#filter-error", Static)
        line.set_class(error is None, "hidden")
        line.update(Text(sanitize(error or "")))

    def selected_session_id(self) -> str | None:
        table = self._table()
        if table is None or self.listing is None or self.listing.raw.num_rows == 0:
            return None
        return str(self.listing.raw["session_id"][table.cursor_row].as_py())

    # Actions ---------------------------------------------------------------------------------------

    def action_open(self) -> None:
        session_id = self.selected_session_id()
        if session_id is not None:
            from agenttrace_tui.tui.screens.session import SessionScreen

            self.app.push_screen(SessionScreen(self.store, session_id))

    @on(FastDataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open()

    def action_analytics(self) -> None:
        """The dashboard for exactly the sessions listed (same filter, errors-only included)."""
        from agenttrace_tui.tui.screens.dashboard import DashboardScreen

        properties = self.listing.properties if self.listing is not None else ()
        self.app.push_screen(DashboardScreen(self.store, self.filters, properties))

    def action_filter(self) -> None:
        prompt = self.query_one("#filter", Input)
        prompt.value = self.filter_text
        prompt.remove_class("hidden")
        prompt.focus()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.filter_text = event.value
        event.input.add_class("hidden")
        self.reload()

    def action_clear_filter(self) -> None:
        prompt = self.query_one("#filter", Input)
        if not prompt.has_class("hidden"):
            prompt.add_class("hidden")  # cancel editing: the applied filter stays
            table = self._table()
            if table is not None:
                table.focus()
            return
        if self.filter_text or self.errors_only:
            self.filter_text = ""
            self.errors_only = False
            self.reload()

    def action_sort_next(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(BASE_COLUMNS)
        self.descending = BASE_COLUMNS[self.sort_index].key not in ("name", "id")
        self.reload()

    def action_sort_reverse(self) -> None:
        self.descending = not self.descending
        self.reload()

    def action_errors_only(self) -> None:
        self.errors_only = not self.errors_only
        self.reload()

    def action_reload(self) -> None:
        self._properties = None  # new data may make other properties informative
        self.reload(keep_row=True)

    def action_copy_value(self) -> None:
        table = self._table()
        if table is not None and self.listing is not None and self.listing.raw.num_rows:
            name = self.listing.raw["name"][table.cursor_row].as_py() or ""
            copy_as_shown(self, str(name), "copied the session name")

    def action_copy_id(self) -> None:
        session_id = self.selected_session_id()
        if session_id is not None:
            copy_as_shown(self, session_id, f"copied {sanitize(session_id)}")

    def action_export(self, extension: str = ".csv") -> None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self._export(Path.cwd() / f"agenttrace-sessions-{stamp}{extension}")

    @work(thread=True, exclusive=True, group="export")
    def _export(self, target: Path) -> None:
        with store_errors(self._export_failed):
            with self.store.read() as r:
                rows = r.export_sessions(compile_filters(self.filters), self.sort_key, self.descending, target)
            self.app.call_from_thread(self.notify, f"exported {rows:,} sessions to {sanitize(str(target))}",
                                      markup=False)

    def _export_failed(self, error: StoreError) -> None:
        self.app.call_from_thread(self.notify, sanitize(str(error)), severity="error", markup=False)

    def palette_commands(self) -> Iterable[SystemCommand]:
        for index, column in enumerate(BASE_COLUMNS):
            yield SystemCommand(f"Sort: by {column.label}", f"Sort the session list by {column.label}",
                                lambda i=index: self._sort_by(i))
        yield SystemCommand("Filter: errors only", "Toggle sessions with errors only", self.action_errors_only)
        for extension, label in ((".csv", "CSV"), (".jsonl", "JSONL"), (".parquet", "Parquet")):
            yield SystemCommand(f"Export: sessions as {label}", f"Write the listed sessions to a {label} file",
                                lambda e=extension: self.action_export(e))

    def _sort_by(self, index: int) -> None:
        self.sort_index = index
        self.reload()
