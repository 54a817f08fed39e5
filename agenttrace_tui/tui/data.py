"""The explorer's access to the store: each call opens a short read-only connection and closes it.

Called from worker threads only, never from the event loop, so a slow query never blocks a key press;
short connections let an `agenttrace ingest` in another process take the write lock in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from agenttrace_tui.store import Store, compile_filters
from agenttrace_tui.store.read import analytics, explorer, queries
from agenttrace_tui.store.read.agents import AgentNode, agent_tree
from agenttrace_tui.store.read.breakdown import session_breakdown
from agenttrace_tui.store.records import SessionBreakdown, SpanDetail, SpanRow
from agenttrace_tui.tui.folders import PAGE_SIZE, Folders, path_prefixes


@dataclass(frozen=True)
class SessionList:
    raw: pa.Table  # the store's columns, for ids and exports
    properties: tuple[str, ...]
    totals: dict[str, Any]  # over every session the filter selects, even when `raw` is a first page
    complete: bool = True  # False: `raw` is the first page only, the whole list is still to come


@dataclass(frozen=True)
class SessionView:
    summary: dict[str, Any]
    folders: Folders  # the root, its first sub-folders and, on a live refresh, every page read before
    has_parent_links: bool
    critical_path: frozenset[str] | None  # span ids of the chain that set the session's end; None: not read yet


class ExplorerData:
    def __init__(self, store: Store) -> None:
        self.store = store

    def stats(self, filters: Sequence[str], by: str | None) -> analytics.Stats:
        """What `agenttrace stats` shows (Store.stats), on a connection of the explorer's kind."""
        where = compile_filters(filters)
        with self.store.reader() as con:
            return analytics.session_stats(con, where, by=by, rules=analytics.load_rules())

    def session_list(
        self, filters: Sequence[str], sort: str | None, descending: bool,
        properties: tuple[str, ...] | None = None, limit: int | None = None,
    ) -> SessionList:
        """`properties`: the property columns of an earlier load, so a re-sort doesn't choose them again.
        `limit`: only the first rows (a first page, quick to draw); `complete` says whether that was all."""
        where = compile_filters(filters)
        with self.store.reader() as con:
            if properties is None:
                properties = explorer.informative_properties(con)
            raw = explorer.sessions_table(con, where, sort=sort, descending=descending, properties=properties,
                                          limit=limit)
            totals = queries.count_sessions(con, where)
        return SessionList(raw, properties, totals, complete=limit is None or raw.num_rows < limit)

    def session(self, session_id: str, with_critical_path: bool = True,
                pages: dict[str, int] | None = None) -> SessionView | None:
        """The root folder and its first page of sub-folders; with `pages` (folder → sub-folders shown, from
        Folders.pages) those pages again, for a live refresh. `with_critical_path=False`: leave it for
        `critical_path` (a tenth of a second on 100k spans, and the first screen shows folders only, which
        carry no critical-path mark)."""
        with self.store.reader() as con:
            summary = queries.session_summary(con, session_id)
            if summary is None:
                return None
            pages = pages or {}
            folders = Folders()
            # parents first, so each folder's page lands under a folder already read
            for folder in sorted(set(pages) | {"/"}, key=lambda path: (path.count("/"), path != "/", path)):
                page = explorer.folder_page(con, session_id, folder, limit=max(PAGE_SIZE, pages.get(folder, 0)),
                                            with_folder=folder == "/")
                if page is not None:
                    folders.add(page)
            return SessionView(
                summary=summary,
                folders=folders,
                critical_path=frozenset(explorer.critical_path(con, session_id)) if with_critical_path else None,
                has_parent_links=explorer.has_parent_links(con, session_id),
            )

    def folder_page(self, session_id: str, folder: str, offset: int, limit: int) -> explorer.FolderPage | None:
        with self.store.reader() as con:
            return explorer.folder_page(con, session_id, folder, offset=offset, limit=limit)

    def folder_pages_to(self, session_id: str, path: str, shown: dict[str, int]) -> list[explorer.FolderPage]:
        """The pages that bring every folder on the way to `path` into its parent's sub-folders read so far
        (`shown`: folder → how many of its sub-folders are read)."""
        prefixes = path_prefixes(path)
        pages = []
        with self.store.reader() as con:
            for parent, child in zip(prefixes, prefixes[1:]):
                rank = explorer.folder_rank(con, session_id, parent, child)
                if rank is None:
                    break
                have = shown.get(parent, 0)
                if rank < have:
                    continue
                page = explorer.folder_page(con, session_id, parent, offset=have,
                                            limit=max(PAGE_SIZE, rank + 1 - have))
                if page is None:
                    break
                pages.append(page)
        return pages

    def critical_path(self, session_id: str) -> frozenset[str]:
        with self.store.reader() as con:
            return frozenset(explorer.critical_path(con, session_id))

    def spans_at_path(self, session_id: str, path: str, offset: int, limit: int) -> list[SpanRow]:
        with self.store.reader() as con:
            return explorer.spans_at_path(con, session_id, path, offset=offset, limit=limit)

    def span_children(self, session_id: str, parent_id: str | None, offset: int, limit: int) -> tuple[list[SpanRow], int]:
        with self.store.reader() as con:
            rows = explorer.span_children(con, session_id, parent_id, offset=offset, limit=limit)
            return rows, explorer.count_span_children(con, session_id, parent_id)

    def span_detail(self, span_id: str) -> SpanDetail | None:
        with self.store.reader() as con:
            return explorer.span_detail(con, span_id)

    def tool_spans_after(self, session_id: str, start_time: Any, names: list[str]) -> list[SpanRow]:
        with self.store.reader() as con:
            return explorer.tool_spans_after(con, session_id, start_time, names)

    def breakdown(self, session_id: str) -> SessionBreakdown | None:
        with self.store.reader() as con:
            return session_breakdown(con, session_id)

    def agents(self, session_id: str) -> list[AgentNode]:
        with self.store.reader() as con:
            return agent_tree(con, session_id)

    def agent_spans(self, session_id: str, agent: str) -> list[tuple[str, str]]:
        with self.store.reader() as con:
            return explorer.spans_with_property(con, session_id, "Agent-Name", agent)

    def search(self, session_id: str, text: str) -> list[tuple[str, str]]:
        with self.store.reader() as con:
            return explorer.search_spans(con, session_id, text)

    def errors(self, session_id: str) -> list[tuple[str, str]]:
        with self.store.reader() as con:
            return explorer.error_spans(con, session_id)

    def position(self, session_id: str, span_id: str) -> tuple[str, int] | None:
        with self.store.reader() as con:
            return explorer.span_position(con, session_id, span_id)

    def paths_of(self, session_id: str, span_ids: Sequence[str]) -> list[tuple[str, str]]:
        with self.store.reader() as con:
            return [(row.span_id, row.path) for row in explorer.spans_by_id(con, session_id, list(span_ids))]

    def export_sessions(self, filters: Sequence[str], sort: str | None, descending: bool, target: Path) -> int:
        with self.store.reader() as con:
            return explorer.export_sessions(con, compile_filters(filters), sort, descending, target)

    def export_session_spans(self, session_id: str, target: Path) -> int:
        with self.store.reader() as con:
            return explorer.export_spans(con, session_id, target)
