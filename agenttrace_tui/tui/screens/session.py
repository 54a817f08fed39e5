"""One session: the path tree beside its timeline, the selected node's detail, and the session's panels.

Store work runs in workers: the root's figures and its first sub-folders load with the session, each folder's
sub-folders and spans when it is opened (a page at a time), and a span's payloads only when it is selected,
debounced so that holding j doesn't queue a query per line. Every read (pages, a span's detail, the breakdown,
matches, the export) and what has been asked for are the loader's (tui/loaders/session.py, no Textual): the
workers call it and post what it returns; their messages are in tui/messages.py and a store error becomes
LoadFailed through tui/workers.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Final

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane
from textual.widgets.tree import TreeNode
from textual.worker import get_current_worker

from agenttrace_tui import display
from agenttrace_tui.format import UNNAMED_SESSION, path_prefixes
from agenttrace_tui.store import FolderPage, SpanDetail, Store, StoreError
from agenttrace_tui.textsafe import sanitize
from agenttrace_tui.tui.clipboard import copy_as_shown
from agenttrace_tui.tui.loaders.session import FolderOpening, SessionLoader, SessionView
from agenttrace_tui.tui.messages import (
    AgentsLoaded,
    BreakdownLoaded,
    CriticalPathLoaded,
    DetailLoaded,
    FolderLoaded,
    FolderPageLoaded,
    FoldersRevealed,
    LoadFailed,
    MatchesFound,
    SessionLoaded,
    SpansLoaded,
)
from agenttrace_tui.tui.widgets.agent_tree import AgentTree
from agenttrace_tui.tui.widgets.detail import DetailPane
from agenttrace_tui.tui.widgets.panels import SessionPanels
from agenttrace_tui.tui.widgets.path_tree import (
    STALE_RUNNING_MS,
    FolderRef,
    MoreRef,
    NodeData,
    PathTree,
    SpanRef,
)
from agenttrace_tui.tui.widgets.timeline import Timeline, TimelineRow
from agenttrace_tui.tui.workers import failures_posted, store_errors

DETAIL_DEBOUNCE_SECONDS: Final = 0.1
"""Wait this long after the cursor stops before loading a span's payloads."""

FIRST_FRAME_WAIT_SECONDS: Final = 0.3
"""How long a new session screen waits for its first read before it draws a "Loading…" frame."""

BREAKDOWN_IDLE_SECONDS: Final = 1.0
"""The Breakdown and Agents tabs are read when one of them is shown, or once the tree's cursor has been still
this long: on 100k spans the breakdown takes over a second of a core and holds Python's lock in long stretches
(its rows become Python objects), so the keys pressed meanwhile waited (a j right after opening: ~250 ms)."""


class SessionScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="session.back"),
        Binding("q", "back", "Back", show=False, id="session.quit"),
        Binding("tab", "focus_next_pane", "Next pane", show=False, id="session.next_pane"),
        Binding("shift+tab", "focus_previous_pane", "Previous pane", show=False, id="session.previous_pane"),
        Binding("c", "toggle_causal", "Paths/parents", id="session.causal"),
        Binding("slash", "search", "Search", id="session.search"),
        Binding("n", "next_match", "Next match", show=False, id="session.next_match"),
        Binding("N", "previous_match", "Previous match", show=False, id="session.previous_match"),
        Binding("E", "next_error", "Next error", id="session.next_error"),
        Binding("b", "show_breakdown", "Breakdown", id="session.breakdown"),
        Binding("A", "show_agents", "Agents", id="session.agents"),
        Binding("d", "show_detail", "Detail", show=False, id="session.detail"),
        Binding("y", "copy_value", "Copy value", show=False, id="session.copy"),
        Binding("Y", "copy_id", "Copy id", show=False, id="session.copy_id"),
        Binding("ctrl+e", "export", "Export", id="session.export"),
    ]

    def __init__(self, store: Store, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id
        self.loader = SessionLoader(store, session_id)
        self.view: SessionView | None = None
        self.matches: list[tuple[str, str]] = []
        self.match_index = -1
        self.match_label = ""
        self._detail_timer: Timer | None = None
        self._selected_detail: SpanDetail | None = None
        self._lines: list[TreeNode[NodeData]] = []
        self._line_index: dict[int, int] = {}
        self._crumb_base = Text()
        self._crumb_has_tail = False
        self._shown_line: TreeNode[NodeData] | None = None  # the line the detail and crumb describe
        self._breakdown_requested = False
        self._breakdown_timer: Timer | None = None
        self._panels_focus_from: Widget | None = None
        self.loader.start()  # the first read, while the screen's widgets are built

    # Layout --------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Text(f"agenttrace › sessions › {sanitize(self.session_id)}"), id="crumb", classes="crumb")
        with Horizontal(id="upper"):
            with Vertical(id="tree-pane"):
                # One header line, level with the timeline's time axis, keeps tree line i beside bar i.
                yield Static(Text("path tree · c: by parent", style="dim"), id="tree-header")
                yield PathTree(id="tree")
            yield Timeline(id="timeline")
        with TabbedContent(id="lower"):
            with TabPane("Detail", id="detail-tab"):
                yield DetailPane(id="detail")
            with TabPane("Breakdown", id="breakdown-tab"):
                yield SessionPanels(id="panels")
            with TabPane("Agents", id="agents-tab"):
                yield AgentTree(id="agents")
        yield Input(placeholder="search names, paths, inputs, outputs, errors (enter: find, n/N: next/previous)",
                    id="search", classes="prompt hidden")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(DetailPane).show_message("Loading…")
        self.query_one(SessionPanels).show_message("Loading…")
        self.query_one(PathTree).focus()
        self.path_tree.cursor_moved = self._cursor_moved
        self.watch(self.path_tree, "scroll_y", self._tree_scrolled, init=False)
        self.set_interval(1.0, self._tick)
        # Nothing is drawn while this waits (the list stays on screen), so a session read in time is the first
        # frame, not a "Loading…" frame and then the session: a frame costs tens of ms, on the core the read needs.
        reading = asyncio.wrap_future(self.loader.first_view)
        done, _ = await asyncio.wait({reading}, timeout=FIRST_FRAME_WAIT_SECONDS)
        if done and reading.exception() is None and self.is_attached:
            self._session_loaded(SessionLoaded(reading.result()))
        else:
            self._load_session()  # it waits for the read; then the breakdown, once the tree is drawn

    def _tree_scrolled(self, scroll_y: float) -> None:
        timeline = self.query_one(Timeline)
        timeline.set_bottom_margin(self.path_tree.scrollbar_size_horizontal)
        timeline.scroll_to(y=scroll_y, animate=False)

    @property
    def path_tree(self) -> PathTree:
        return self.query_one(PathTree)

    # Session ------------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="session")
    def _load_session(self, live: bool = False, pages: dict[str, int] | None = None) -> None:
        with failures_posted(self):
            view = self.loader.read_view(pages) if live else self.loader.first_view.result()
            self.post_message(SessionLoaded(view, live))

    @work(thread=True, exclusive=True, group="critical-path")
    def _load_critical_path(self) -> None:
        with failures_posted(self):
            self.post_message(CriticalPathLoaded(self.loader.read_critical_path()))

    @on(CriticalPathLoaded)
    def _critical_path_loaded(self, message: CriticalPathLoaded) -> None:
        if self.view is not None and self.view.critical_path is None:  # a live load may have brought a newer one
            self.view = replace(self.view, critical_path=message.critical_path)
            self._sync_timeline()

    def refresh_from_store(self) -> None:
        """The store changed (follow mode): new figures and spans, keeping what is open and the cursor."""
        self._load_session(live=True, pages=self.path_tree.folders.pages())
        if self._breakdown_requested:  # else it is read when first wanted, from the store as it is then
            self._load_breakdown()

    def mark_stale(self) -> None:
        """Nothing: a session screen is read again only while it is on top (the next change after brings it up
        to date)."""

    @on(LoadFailed)
    def _failed(self, message: LoadFailed) -> None:
        self.query_one(DetailPane).show_message(message.error)

    @on(SessionLoaded)
    def _session_loaded(self, message: SessionLoaded) -> None:
        self._breakdown_when_idle()
        if message.view is None:
            if not message.live:
                self.query_one(DetailPane).show_message(f"No session {self.session_id} in the store.")
            return
        first_view = self.view is None
        if message.view.critical_path is None:
            self.call_after_refresh(self._load_critical_path)
        else:
            self.loader.critical_path_read.set()
        self.view = message.view
        self._update_crumb_base(message.view.summary)
        if message.live and not first_view:
            self._apply_live(message.view)
            return
        self.loader.forget()
        self.path_tree.show_paths(message.view.folders)
        if "/" in message.view.folders.stats:  # the cursor starts on the root: show its figures at once
            self._show_folder("/")
        self.path_tree.ensure_subfolders(self.path_tree.root)  # in this frame, not after the expand event
        self.path_tree.root.expand()
        self.path_tree.move_cursor(self.path_tree.root)
        self._sync_timeline()

    def _show_folder(self, path: str) -> None:
        folders = self.path_tree.folders
        self.query_one(DetailPane).show_node(folders.stats[path], folders.sub_folders.get(path))

    def _apply_live(self, view: SessionView) -> None:
        tree = self.path_tree
        tree.update_paths(view.folders)
        for node in list(tree.expanded_span_parents()):
            data = node.data
            shown = sum(isinstance(c.data, SpanRef) for c in node.children)
            if isinstance(data, FolderRef):
                if self.loader.sub_folders_wanted(data.path, tree.folders):
                    # an open folder that had no sub-folders has some now
                    self._open_folder(node, FolderOpening(data.path, True, None))
                spans = self.loader.spans_to_refresh(data.path, tree.folders, shown)
                if spans is not None:
                    self._load_spans(node, data.path, None, 0, spans, until=shown - 1, live=True)
            else:
                parent_id = data.row.span_id if isinstance(data, SpanRef) else None
                self._load_spans(node, None, parent_id, 0, None, until=shown - 1, live=True)
        cursor = tree.cursor_node
        if cursor is not None and isinstance(cursor.data, FolderRef) and cursor.data.path in tree.folders.stats:
            self._show_folder(cursor.data.path)
        elif cursor is not None and isinstance(cursor.data, SpanRef):
            self._load_detail(cursor.data.row.span_id)  # a running span may have ended
        if cursor is not None and isinstance(cursor.data, FolderRef):
            self._set_crumb_tail(cursor.data.path)
        elif cursor is not None and isinstance(cursor.data, SpanRef):
            self._set_crumb_tail(f"{cursor.data.row.path} › {cursor.data.row.label}")
        self._sync_timeline()

    def _update_crumb_base(self, summary: dict[str, Any]) -> None:
        crumb = Text(f"agenttrace › sessions › {sanitize(summary['name'] or UNNAMED_SESSION)}  ")
        crumb.append(
            f"{sanitize(self.session_id)} · {display.duration(summary['duration_ms'])} · {summary['spans']:,} spans · "
            f"{display.cost(summary['cost_usd'], summary['unpriced'])} · {summary['errors']:,} "
            f"{'error' if summary['errors'] == 1 else 'errors'}",
            style="dim",
        )
        if summary.get("name_conflict"):
            crumb.append(f" · also named {sanitize(', '.join(summary['names']))}", style="yellow")
        self._crumb_base = crumb
        self._crumb_has_tail = False
        self.query_one("#crumb", Static).update(crumb)

    # Tree: lazy children ------------------------------------------------------------------------------

    @on(PathTree.NodeExpanded)
    def _expanded(self, event: PathTree.NodeExpanded[NodeData]) -> None:
        node = event.node
        data = node.data
        if isinstance(data, FolderRef) and not self.path_tree.causal:
            self.path_tree.ensure_subfolders(node)  # those read already: at once
            opening = self.loader.opening(data.path, self.path_tree.folders)
            if opening is not None:
                self._open_folder(node, opening)
        elif self.path_tree.causal and (data is None or isinstance(data, SpanRef)) and not node.children:
            parent_id = data.row.span_id if isinstance(data, SpanRef) else None
            self._load_spans(node, None, parent_id, 0, None)
        self._sync_timeline()

    @on(PathTree.NodeCollapsed)
    def _collapsed(self) -> None:
        self._sync_timeline()

    @work(thread=True, group="spans")
    def _open_folder(self, node: TreeNode[NodeData], opening: FolderOpening) -> None:
        """A folder's first page of sub-folders and of its own spans (each if needed), posted together so the
        folder fills in one frame, sub-folders first."""
        with failures_posted(self):
            page, rows = self.loader.read_opening(opening)
            self.post_message(FolderLoaded(node, page, rows, opening.spans or 0))

    @on(FolderLoaded)
    def _folder_loaded(self, message: FolderLoaded) -> None:
        if message.page is not None:
            self._place_folder_page(message.page)
        if message.rows is not None and not self.path_tree.causal and self.path_tree.holds(message.node):
            self.path_tree.set_folder_spans(message.node, message.rows, message.total)
        self._sync_timeline()

    def _place_folder_page(self, page: FolderPage) -> None:
        """Read sub-folders become lines of their folder if it is open (its line may be new since the
        request: the view was switched meanwhile)."""
        tree = self.path_tree
        tree.folders.add(page)
        node = tree.folder_node(page.folder)
        if node is not None and (node.is_expanded or node.children):
            tree.ensure_subfolders(node)

    @work(thread=True, group="spans")
    def _load_folder_page(self, path: str, offset: int) -> None:
        with failures_posted(self):
            self.post_message(FolderPageLoaded(self.loader.read_folder_page(path, offset)))

    @on(FolderPageLoaded)
    def _folder_page_loaded(self, message: FolderPageLoaded) -> None:
        if message.page is not None:
            self._place_folder_page(message.page)  # its lines replace "… N more folders"
            self._sync_timeline()

    @work(thread=True, group="spans")
    def _load_spans(self, node: TreeNode[NodeData], path: str | None, parent_id: str | None, offset: int,
                    total: int | None, then_select: str | None = None, until: int = 0, live: bool = False) -> None:
        with failures_posted(self):
            rows, count = self.loader.read_spans(path, parent_id, offset, total, until)
            self.post_message(SpansLoaded(node, rows, count, offset, then_select, live))

    @on(SpansLoaded)
    def _spans_loaded(self, message: SpansLoaded) -> None:
        node = message.node
        if message.live:
            if node.tree is not None and node.is_expanded:  # still shown
                path = node.data.path if isinstance(node.data, FolderRef) and not self.path_tree.causal else None
                parent_id = node.data.row.span_id if isinstance(node.data, SpanRef) else None
                self.path_tree.merge_spans(node, message.rows, message.total, path, parent_id)
                self._sync_timeline()
            return
        if isinstance(node.data, MoreRef):
            self.path_tree.add_page(node, message.rows, message.total)
        elif isinstance(node.data, FolderRef) and not self.path_tree.causal:
            self.path_tree.set_folder_spans(node, message.rows, message.total)
        else:
            self.path_tree.fill_children(node, message.rows, message.total, message.offset,
                                    node.data.row.span_id if isinstance(node.data, SpanRef) else None)
        if message.then_select:
            target = self.path_tree.find(lambda d: isinstance(d, SpanRef) and d.row.span_id == message.then_select)
            if target is not None:
                self._select(target)
        self._sync_timeline()

    def _select(self, node: TreeNode[NodeData]) -> None:
        self.path_tree.select_line_of(node)

    def _sync_timeline(self) -> None:
        """The timeline mirrors the tree's lines one to one."""
        if self.view is None:
            return
        self._lines = list(self.path_tree.visible_nodes())
        self._line_index = {id(node): index for index, node in enumerate(self._lines)}
        rows = [self._timeline_row(node) for node in self._lines]
        wall = float(self.view.summary["duration_ms"] or 0)
        self.query_one(Timeline).set_rows(rows, wall, now_ms=self._now_ms())
        self._highlight_timeline()

    def _now_ms(self) -> float | None:
        """Now on the session's time axis, while it has a span still running (bars grow to it)."""
        root = self.path_tree.folders.stats.get("/")
        if self.view is None or root is None or not root.running:
            return None
        start = self.view.summary.get("start_time")
        if not isinstance(start, datetime):
            return None
        now_ms = (datetime.now(UTC).replace(tzinfo=None) - start).total_seconds() * 1000
        return now_ms if now_ms - float(self.view.summary["duration_ms"] or 0) <= STALE_RUNNING_MS else None

    def _tick(self) -> None:
        """Every second while spans run: their elapsed times and bars move on."""
        if self._now_ms() is not None:
            self.path_tree.tick_running()
            self._sync_timeline()

    def _timeline_row(self, node: TreeNode[NodeData]) -> TimelineRow:
        data = node.data
        depth = 0
        parent = node.parent
        while parent is not None:
            depth += 1
            parent = parent.parent
        if isinstance(data, FolderRef):
            stats = self.path_tree.folders.stats[data.path]
            return TimelineRow(key=f"path:{data.path}", label=stats.name, depth=depth, start_ms=stats.start_ms,
                               end_ms=stats.end_ms, kind="node", error=stats.errors > 0,
                               in_progress=stats.running > 0)
        if isinstance(data, SpanRef):
            row = data.row
            return TimelineRow(key=row.span_id, label=row.label, depth=depth, start_ms=row.start_ms,
                               end_ms=row.end_ms, kind=row.kind, error=row.status == "error",
                               in_progress=row.in_progress,
                               critical=self.view is not None and self.view.critical_path is not None
                               and row.span_id in self.view.critical_path)
        # "… N more" lines and the causal root: no interval of their own, so no bar.
        return TimelineRow(key=f"line:{node.id}", label="", depth=depth, start_ms=0, end_ms=0, kind="none",
                           error=False)

    def _highlight_timeline(self) -> None:
        cursor = self.path_tree.cursor_node
        self.query_one(Timeline).highlight(self._line_index.get(id(cursor)) if cursor is not None else None)

    @on(Timeline.RowClicked)
    def _timeline_clicked(self, message: Timeline.RowClicked) -> None:
        if 0 <= message.index < len(self._lines):
            self.path_tree.move_cursor(self._lines[message.index])
            self.path_tree.focus()

    # Selection → detail -------------------------------------------------------------------------------

    @on(PathTree.NodeHighlighted)
    def _highlighted(self, event: PathTree.NodeHighlighted[NodeData]) -> None:
        if event.node is not self._shown_line:  # PathTree.cursor_moved has shown it already
            self._cursor_moved(event.node)

    def _cursor_moved(self, node: TreeNode[NodeData]) -> None:
        """The cursor's line: its timeline row, its figures or detail, the crumb."""
        self._shown_line = node
        self._breakdown_when_idle()
        self._highlight_timeline()
        data = node.data
        detail = self.query_one(DetailPane)
        if self._detail_timer is not None:
            self._detail_timer.stop()
        if isinstance(data, FolderRef):
            self._selected_detail = None
            self._show_folder(data.path)
            self._set_crumb_tail(data.path)
        elif isinstance(data, SpanRef):
            span_id = data.row.span_id
            self._set_crumb_tail(f"{data.row.path} › {data.row.label}")
            self._detail_timer = self.set_timer(DETAIL_DEBOUNCE_SECONDS, lambda: self._load_detail(span_id))
        elif isinstance(data, MoreRef):
            what = "folders" if data.folders else "spans"
            detail.show_message(f"{data.remaining:,} more {what} here: press enter to load the next page.")

    def _set_crumb_tail(self, tail: str) -> None:
        """The breadcrumb: sessions › session › where the cursor is."""
        crumb = self._crumb_base.copy()
        crumb.append(f"\n  › {sanitize(tail)}", style="bold")
        # A layout pass of this screen costs more than a frame: only when the crumb gains its second line.
        self.query_one("#crumb", Static).update(crumb, layout=not self._crumb_has_tail)
        self._crumb_has_tail = True

    @on(PathTree.NodeSelected)
    def _selected(self, event: PathTree.NodeSelected[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, MoreRef) and data.folders and data.path is not None:
            self._load_folder_page(data.path, data.offset)
        elif isinstance(data, MoreRef):
            self._load_spans(event.node, data.path, data.parent_id, data.offset, data.offset + data.remaining)
        elif isinstance(data, FolderRef) or (self.path_tree.causal and event.node.allow_expand):
            event.node.toggle()
        elif isinstance(data, SpanRef):
            self.query_one(TabbedContent).active = "detail-tab"
            self.query_one(DetailPane).focus()

    @work(thread=True, exclusive=True, group="detail")
    def _load_detail(self, span_id: str) -> None:
        with failures_posted(self):
            detail, links = self.loader.read_detail(span_id)
            if not get_current_worker().is_cancelled:
                self.post_message(DetailLoaded(span_id, detail, links))

    @on(DetailLoaded)
    def _detail_loaded(self, message: DetailLoaded) -> None:
        cursor = self.path_tree.cursor_node
        if cursor is None or not isinstance(cursor.data, SpanRef) or cursor.data.row.span_id != message.span_id:
            return  # the cursor moved on
        pane = self.query_one(DetailPane)
        if message.detail is None:
            pane.show_message("This span is no longer in the store.")
            return
        self._selected_detail = message.detail
        pane.show_span(message.detail, message.tool_links)

    @on(DetailPane.ToolSpanRequested)
    def _jump_to_tool(self, message: DetailPane.ToolSpanRequested) -> None:
        self._reveal_by_id(message.span_id)

    # Breakdown ----------------------------------------------------------------------------------------

    def _breakdown_when_idle(self) -> None:
        """(Re)start the wait for a still cursor before the breakdown is read."""
        if self._breakdown_requested:
            return
        if self._breakdown_timer is not None:
            self._breakdown_timer.stop()
        self._breakdown_timer = self.set_timer(BREAKDOWN_IDLE_SECONDS, self._breakdown_now)

    def _breakdown_now(self) -> None:
        if self._breakdown_timer is not None:
            self._breakdown_timer.stop()
        if not self._breakdown_requested:
            self._breakdown_requested = True
            self._load_breakdown()

    @on(TabbedContent.TabActivated, "#lower")
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id in ("breakdown-tab", "agents-tab"):
            self._breakdown_now()

    @work(thread=True, exclusive=True, group="breakdown")
    def _load_breakdown(self) -> None:
        self.loader.critical_path_read.wait(timeout=30)
        with failures_posted(self):
            breakdown, agents = self.loader.read_breakdown()
            self.post_message(BreakdownLoaded(breakdown))
            self.post_message(AgentsLoaded(agents))

    @on(AgentsLoaded)
    def _agents_loaded(self, message: AgentsLoaded) -> None:
        self.query_one(AgentTree).show(message.roots)

    @on(AgentTree.AgentSelected)
    def _agent_selected(self, message: AgentTree.AgentSelected) -> None:
        self._agent_spans(message.name)

    @work(thread=True, exclusive=True, group="matches")
    def _agent_spans(self, name: str) -> None:
        with failures_posted(self):
            self.post_message(MatchesFound(f"agent {name}", self.loader.read_matches("agent", text=name)))

    @on(BreakdownLoaded)
    def _breakdown_loaded(self, message: BreakdownLoaded) -> None:
        panels = self.query_one(SessionPanels)
        if message.breakdown is None:
            panels.show_message("No spans in this session.")
        else:
            panels.show(message.breakdown)
            if (self._panels_focus_from is not None and self.focused is self._panels_focus_from
                    and self.query_one(TabbedContent).active == "breakdown-tab"):
                panels.focus()  # b was pressed before the breakdown was read, and nothing moved the focus since
        self._panels_focus_from = None

    @on(SessionPanels.JumpToSpans)
    def _jump_to_spans(self, message: SessionPanels.JumpToSpans) -> None:
        self._find_paths(message.title, list(message.span_ids))

    @work(thread=True, exclusive=True, group="matches")
    def _find_paths(self, label: str, span_ids: list[str]) -> None:
        with failures_posted(self):
            self.post_message(MatchesFound(label, self.loader.read_matches("paths", span_ids=span_ids)))

    # Search, errors, jumping --------------------------------------------------------------------------

    def action_search(self) -> None:
        prompt = self.query_one("#search", Input)
        prompt.remove_class("hidden")
        prompt.focus()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.input.add_class("hidden")
        self.path_tree.focus()
        if event.value.strip():
            self._search(event.value.strip())

    @work(thread=True, exclusive=True, group="matches")
    def _search(self, text: str) -> None:
        with failures_posted(self):
            self.post_message(MatchesFound(f"“{text}”", self.loader.read_matches("search", text=text)))

    def action_next_error(self) -> None:
        if self.match_label == "errors" and self.matches:
            self.action_next_match()
        else:
            self._errors()

    @work(thread=True, exclusive=True, group="matches")
    def _errors(self) -> None:
        with failures_posted(self):
            self.post_message(MatchesFound("errors", self.loader.read_matches("errors")))

    @on(MatchesFound)
    def _matches_found(self, message: MatchesFound) -> None:
        self.matches = message.matches
        self.match_label = message.label
        self.match_index = -1
        if not self.matches:
            self.notify(f"no spans match {sanitize(message.label)}", markup=False)
            return
        self.action_next_match()

    def action_next_match(self) -> None:
        self._step_match(1)

    def action_previous_match(self) -> None:
        self._step_match(-1)

    def _step_match(self, step: int) -> None:
        if not self.matches:
            return
        self.match_index = (self.match_index + step) % len(self.matches)
        span_id, path = self.matches[self.match_index]
        self.notify(f"{sanitize(self.match_label)}: {self.match_index + 1} of {len(self.matches)}",
                    timeout=2, markup=False)
        self._reveal(span_id, path)

    def _reveal_by_id(self, span_id: str) -> None:
        self._find_paths("linked span", [span_id])

    def _reveal(self, span_id: str, path: str, load_folders: bool = True) -> None:
        """Open the folders down to `path` and put the cursor on the span (loading its page, and the pages of
        sub-folders on the way that aren't read yet, if needed)."""
        if self.path_tree.causal:
            self.loader.forget_spans()
            self.path_tree.show_paths(self.path_tree.folders)
        folders = self.path_tree.folders
        prefixes = path_prefixes(path)
        if load_folders and any(child not in folders.loaded.get(parent, ())
                                for parent, child in zip(prefixes, prefixes[1:])):
            self._load_folders_to(span_id, path, folders.pages())
            return
        node = self.path_tree.root
        for prefix in prefixes[1:]:
            self.path_tree.ensure_subfolders(node)
            node.expand()
            child = next((c for c in node.children if isinstance(c.data, FolderRef) and c.data.path == prefix), None)
            if child is None:
                break
            node = child
        self.path_tree.ensure_subfolders(node)
        existing = next((c for c in node.children if isinstance(c.data, SpanRef) and c.data.row.span_id == span_id),
                        None)
        self.loader.spans_jumped_to(path)  # this load replaces the folder's first page
        node.expand()
        if existing is not None:
            self._select(existing)
            return
        self._load_position(node, span_id)

    @work(thread=True, exclusive=True, group="reveal")
    def _load_folders_to(self, span_id: str, path: str, shown: dict[str, int]) -> None:
        with failures_posted(self):
            self.post_message(FoldersRevealed(self.loader.read_folders_to(path, shown), span_id, path))

    @on(FoldersRevealed)
    def _folders_revealed(self, message: FoldersRevealed) -> None:
        for page in message.pages:
            self._place_folder_page(page)
        self.loader.pages_placed(message.pages)
        self._reveal(message.span_id, message.path, load_folders=False)

    @work(thread=True, group="spans")
    def _load_position(self, node: TreeNode[NodeData], span_id: str) -> None:
        with failures_posted(self):
            found = self.loader.read_position(span_id)
            if found is None:
                return
            path, rows = found
            stats = self.path_tree.folders.stats.get(path)
            total = stats.self_spans if stats is not None else len(rows)
            self.post_message(SpansLoaded(node, rows, total, 0, then_select=span_id))

    # Other actions -------------------------------------------------------------------------------------

    def action_back(self) -> None:
        prompt = self.query_one("#search", Input)
        if not prompt.has_class("hidden"):
            prompt.add_class("hidden")
            self.path_tree.focus()
            return
        self.app.pop_screen()

    def action_toggle_causal(self) -> None:
        if self.view is None:
            return
        if self.path_tree.causal:
            self.loader.forget_spans()
            self.path_tree.show_paths(self.path_tree.folders)
        else:
            if not self.view.has_parent_links:
                self.notify("no span in this session has a parent_id: the path view is the only view")
                return
            self.path_tree.show_causal(Text("spans by parent", style="bold"))
        self.path_tree.root.expand()
        self._select(self.path_tree.root)
        header = "spans by parent · c: path tree" if self.path_tree.causal else "path tree · c: by parent"
        self.query_one("#tree-header", Static).update(Text(header, style="dim"))
        self._sync_timeline()

    def action_show_breakdown(self) -> None:
        self.query_one(TabbedContent).active = "breakdown-tab"
        panels = self.query_one(SessionPanels)
        if panels.breakdown is None:  # still to read (it is read when first shown): focus it when it comes
            self._panels_focus_from = self.focused
        panels.focus()

    def action_show_agents(self) -> None:
        self.query_one(TabbedContent).active = "agents-tab"
        self.query_one(AgentTree).tree_view.focus()

    def action_show_detail(self) -> None:
        self.query_one(TabbedContent).active = "detail-tab"

    def action_focus_next_pane(self) -> None:
        self.focus_next()

    def action_focus_previous_pane(self) -> None:
        self.focus_previous()

    def action_copy_value(self) -> None:
        cursor = self.path_tree.cursor_node
        if cursor is None:
            return
        data = cursor.data
        single_line = True  # a name or path; an output keeps its lines, as the detail pane shows them
        if isinstance(data, FolderRef):
            value = data.path
        elif isinstance(data, SpanRef):
            detail = self._selected_detail
            if detail is not None and detail.row.span_id == data.row.span_id and detail.output is not None:
                import json

                value = detail.output if isinstance(detail.output, str) else json.dumps(detail.output, indent=2)
                single_line = False
            else:
                value = data.row.label
        else:
            return
        copy_as_shown(self, value, "copied", single_line=single_line, timeout=2)

    def action_copy_id(self) -> None:
        cursor = self.path_tree.cursor_node
        value = self.session_id
        if cursor is not None and isinstance(cursor.data, SpanRef):
            value = cursor.data.row.span_id
        copy_as_shown(self, value, f"copied {sanitize(value)}", timeout=2)

    def action_export(self, extension: str = ".jsonl") -> None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self._export(Path.cwd() / f"agenttrace-session-{stamp}{extension}")

    @work(thread=True, exclusive=True, group="export")
    def _export(self, target: Path) -> None:
        with store_errors(self._export_failed):
            rows = self.loader.export_spans(target)
            self.app.call_from_thread(self.notify, f"exported {rows:,} spans to {sanitize(str(target))}",
                                      markup=False)

    def _export_failed(self, error: StoreError) -> None:
        self.app.call_from_thread(self.notify, sanitize(str(error)), severity="error", markup=False)

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Session: next error", "Jump to the next span with an error", self.action_next_error)
        yield SystemCommand("Session: breakdown", "Cost, latency and errors of this session",
                            self.action_show_breakdown)
        yield SystemCommand("Session: paths / parents", "Toggle the path tree and the causal tree",
                            self.action_toggle_causal)
        for extension, label in ((".jsonl", "JSONL"), (".csv", "CSV"), (".parquet", "Parquet")):
            yield SystemCommand(f"Export: session spans as {label}", f"Write this session's spans to a {label} file",
                                lambda e=extension: self.action_export(e))

