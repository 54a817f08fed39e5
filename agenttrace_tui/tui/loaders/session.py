"""One session's reads for the session screen (its pages, a span's detail, the breakdown, matches, the export),
and the bookkeeping of what it has asked for.

The session opens with its root and first page of sub-folders (read on a thread of its own while the screen is
built); a folder opened reads its first page of sub-folders and of its own spans, each once; "… N more" lines
read the next page; a jump to a span reads the pages on its way. No Textual here: the reads block (the screen
calls them from its workers, each on one Reader so its answers agree) and the screen places what they return.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agenttrace_tui.llm.payloads import output_tool_calls
from agenttrace_tui.store import AgentNode, FolderPage, Reader, SessionBreakdown, SpanDetail, SpanRow, Store
from agenttrace_tui.tui.loaders.folders import PAGE_SIZE, Folders


@dataclass(frozen=True)
class SessionView:
    summary: dict[str, Any]
    folders: Folders  # the root, its first sub-folders and, on a live refresh, every page read before
    has_parent_links: bool
    critical_path: frozenset[str] | None  # span ids of the chain that set the session's end; None: not read yet


@dataclass(frozen=True)
class FolderOpening:
    """What opening a folder still has to read: its first page of sub-folders, of its own spans, or both."""

    path: str
    sub_folders: bool
    spans: int | None  # the folder's own spans in all, when their first page is to be read


class SessionLoader:
    def __init__(self, store: Store, session_id: str) -> None:
        self.store = store
        self.session_id = session_id
        self.spans_requested: set[str] = set()  # folders whose own spans were asked for (path view)
        self.folders_requested: set[str] = set()  # folders whose first page of sub-folders was asked for
        self.critical_path_read = threading.Event()  # the breakdown waits for it: their peaks don't add up
        self.first_view: Future[SessionView | None] = Future()

    def start(self) -> None:
        """The first read starts now, on a thread of its own (the screen builds its widgets meanwhile: a tenth
        of a second on 2 cores); `first_view` holds its answer or its error."""
        threading.Thread(target=self._read_first_view, name="session-first-view", daemon=True).start()

    def _read_first_view(self) -> None:
        try:
            # the first load leaves the critical path for after the tree's first frame
            self.first_view.set_result(self.read_view(with_critical_path=False))
        except BaseException as exc:  # handed to the worker that waits for it
            self.first_view.set_exception(exc)

    # What has been asked for ------------------------------------------------------------------------

    def forget(self) -> None:
        """A new tree: nothing of it has been asked for."""
        self.spans_requested.clear()
        self.folders_requested.clear()

    def forget_spans(self) -> None:
        """The path view is built again: its folders' spans are to be read again when opened."""
        self.spans_requested.clear()

    def sub_folders_wanted(self, path: str, folders: Folders) -> bool:
        """Whether `path`'s first page of sub-folders is still to be asked for (it counts as asked from now)."""
        if folders.needs_page(path) and path not in self.folders_requested:
            self.folders_requested.add(path)
            return True
        return False

    def opening(self, path: str, folders: Folders) -> FolderOpening | None:
        """What opening `path` has still to read (each part once); None: nothing."""
        stats = folders.stats.get(path)
        spans = stats is not None and stats.self_spans > 0 and path not in self.spans_requested
        sub_folders = self.sub_folders_wanted(path, folders)
        if spans:
            self.spans_requested.add(path)
        if not (spans or sub_folders):
            return None
        return FolderOpening(path, sub_folders, stats.self_spans if spans and stats else None)

    def spans_to_refresh(self, path: str, folders: Folders, shown: int) -> int | None:
        """A live refresh of an open folder: its own spans in all, when they were asked for or are shown (to be
        read again); None when there are none to read."""
        stats = folders.stats.get(path)
        if stats is None or not stats.self_spans or (path not in self.spans_requested and not shown):
            return None
        self.spans_requested.add(path)
        return stats.self_spans

    def spans_jumped_to(self, path: str) -> None:
        """A jump to a span in `path` reads (or has read) that folder's spans up to it: that load replaces the
        folder's first page, which opening it is no longer to ask for."""
        self.spans_requested.add(path)

    def pages_placed(self, pages: list[FolderPage]) -> None:
        """Sub-folder pages read on the way to a span: those folders need no first page any more."""
        self.folders_requested.update(page.folder for page in pages)

    # Reads (blocking: from workers) -----------------------------------------------------------------

    def read_view(self, pages: dict[str, int] | None = None, *, with_critical_path: bool = True) -> SessionView | None:
        """The root folder and its first page of sub-folders; with `pages` (folder → sub-folders shown, from
        Folders.pages) those pages again, for a live refresh. `with_critical_path=False`: leave it for
        `read_critical_path` (a tenth of a second on 100k spans, and the first screen shows folders only, which
        carry no critical-path mark)."""
        with self.store.read() as r:
            summary = r.session(self.session_id)
            if summary is None:
                return None
            pages = pages or {}
            folders = Folders()
            # parents first, so each folder's page lands under a folder already read
            for folder in sorted(set(pages) | {"/"}, key=lambda path: (path.count("/"), path != "/", path)):
                page = r.folder_page(self.session_id, folder, limit=max(PAGE_SIZE, pages.get(folder, 0)),
                                     with_folder=folder == "/")
                if page is not None:
                    folders.add(page)
            return SessionView(
                summary=summary,
                folders=folders,
                critical_path=r.critical_path(self.session_id) if with_critical_path else None,
                has_parent_links=r.has_parent_links(self.session_id),
            )

    def read_critical_path(self) -> frozenset[str]:
        try:
            with self.store.read() as r:
                return r.critical_path(self.session_id)
        finally:
            self.critical_path_read.set()

    def read_opening(self, opening: FolderOpening) -> tuple[FolderPage | None, list[SpanRow] | None]:
        """A folder's first page of sub-folders and of its own spans (each if needed)."""
        with self.store.read() as r:
            page = r.folder_page(self.session_id, opening.path, 0, limit=PAGE_SIZE) if opening.sub_folders else None
            rows = (r.spans_at_path(self.session_id, opening.path, 0, PAGE_SIZE)
                    if opening.spans is not None else None)
        return page, rows

    def read_folder_page(self, path: str, offset: int) -> FolderPage | None:
        """The next page of a folder's sub-folders (its "… N more folders" line)."""
        with self.store.read() as r:
            return r.folder_page(self.session_id, path, offset, limit=PAGE_SIZE)

    def read_spans(self, path: str | None, parent_id: str | None, offset: int, total: int | None,
                   until: int = 0) -> tuple[list[SpanRow], int]:
        """A page of a folder's own spans (`path`, whose count is `total`) or of a span's children (`parent_id`;
        None: the roots), from `offset` and at least up to index `until`; with how many there are in all."""
        limit = max(PAGE_SIZE, until - offset + 1)
        with self.store.read() as r:
            if path is not None:
                rows = r.spans_at_path(self.session_id, path, offset, limit)
                return rows, total if total is not None else len(rows)
            return r.span_children(self.session_id, parent_id, offset, limit)

    def read_folders_to(self, path: str, shown: dict[str, int]) -> list[FolderPage]:
        """The pages that bring every folder on the way to `path` into its parent's sub-folders read so far
        (`shown`: folder → how many of its sub-folders are read)."""
        with self.store.read() as r:
            return r.folder_pages_to(self.session_id, path, shown, PAGE_SIZE)

    def read_position(self, span_id: str) -> tuple[str, list[SpanRow]] | None:
        """A span's folder and the first page of that folder's spans that holds it; None: no such span."""
        with self.store.read() as r:
            position = r.position(self.session_id, span_id)
            if position is None:
                return None
            path, index = position
            return path, r.spans_at_path(self.session_id, path, 0, max(PAGE_SIZE, index + 1))

    def read_detail(self, span_id: str) -> tuple[SpanDetail | None, dict[str, SpanRow]]:
        """A span's payloads and the tool spans that answered its tool calls (tool_call id → tool span)."""
        with self.store.read() as r:
            detail = r.span_detail(span_id)
            return detail, self._tool_links(r, detail) if detail is not None else {}

    def _tool_links(self, r: Reader, detail: SpanDetail) -> dict[str, SpanRow]:
        """tool_call id → the tool span that answered it: the first later tool span of that name.

        It asks the store for the few candidates, never the whole session."""
        calls = output_tool_calls(detail.output)
        if not calls:
            return {}
        candidates = r.tool_spans_after(self.session_id, detail.row.start_time, sorted({name for _, name in calls}))
        links: dict[str, SpanRow] = {}
        taken: set[str] = set()
        for call_id, name in calls:
            for tool in candidates:
                if tool.span_id in taken or tool.name != name:
                    continue
                links[call_id] = tool
                taken.add(tool.span_id)
                break
        return links

    def read_breakdown(self) -> tuple[SessionBreakdown | None, list[AgentNode]]:
        """The session's breakdown (None: no spans) and its agent tree, from one state of the store."""
        with self.store.read() as r:
            return r.breakdown(self.session_id), r.agents(self.session_id)

    def read_matches(self, kind: Literal["agent", "search", "errors", "paths"], *,
                     text: str = "", span_ids: Sequence[str] = ()) -> list[tuple[str, str]]:
        """The `(span_id, path)` of the spans that match: of agent `text`, whose text holds `text`, with an
        error, or the spans `span_ids`."""
        with self.store.read() as r:
            if kind == "agent":
                return r.agent_spans(self.session_id, text)
            if kind == "search":
                return r.search(self.session_id, text)
            if kind == "errors":
                return r.errors(self.session_id)
            return r.paths_of(self.session_id, span_ids)

    def export_spans(self, target: Path) -> int:
        """Write the session's spans to `target` (format by its extension); how many were written."""
        with self.store.read() as r:
            return r.export_session_spans(self.session_id, target)
