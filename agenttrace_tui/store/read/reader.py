"""The one read API: a Reader bound to one read connection, so every answer it gives comes from one state of
the store. The CLI and the explorer read through it, and so does any reader to come:

    with store.read() as r:
        page = r.folder_page(session_id, "/", offset=0, limit=200)

A Reader is short-lived (a file store's lock is free again once it is closed): open one per question, or per
group of questions that must agree, from a worker thread, never on an event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from agenttrace_tui.format import path_prefixes
from agenttrace_tui.store.read import sessions as session_reads
from agenttrace_tui.store.read import spans as span_reads
from agenttrace_tui.store.read import sql as raw_sql
from agenttrace_tui.store.read import tree as path_tree
from agenttrace_tui.store.read.agent_tree import agent_tree
from agenttrace_tui.store.read.breakdown import session_breakdown
from agenttrace_tui.store.read.filters import Compiled, compile_filters
from agenttrace_tui.store.records import AgentNode, FolderPage, SessionBreakdown, SpanDetail, SpanRow, TreeNode

if TYPE_CHECKING:  # the explorer's table only: `agenttrace sessions` leaves pyarrow unloaded
    import pyarrow as pa

    from agenttrace_tui.store.read.analytics import Stats, StatsRules


class Reader:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    # Sessions ------------------------------------------------------------------------------------

    def sessions(self, where: Compiled | None = None, *, sort: str | None = None, descending: bool = True,
                 limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """The sessions `where` selects (compile_filters; None: all), with `agenttrace sessions`'s columns."""
        return session_reads.list_sessions(self.con, where or compile_filters(()), sort=sort, descending=descending,
                                           limit=limit, offset=offset)

    def totals(self, where: Compiled | None = None) -> dict[str, Any]:
        """Count, cost, errors and p95 duration over the sessions `where` selects."""
        return session_reads.count_sessions(self.con, where or compile_filters(()))

    def sessions_table(self, where: Compiled, *, sort: str | None, descending: bool,
                       properties: tuple[str, ...], limit: int | None = None) -> pa.Table:
        """The session list as Arrow (the explorer's virtual table), with `properties` as columns."""
        return session_reads.sessions_table(self.con, where, sort=sort, descending=descending, properties=properties,
                                            limit=limit)

    def informative_properties(self, limit: int = 2) -> tuple[str, ...]:
        return session_reads.informative_properties(self.con, limit)

    def session(self, session_id: str) -> dict[str, Any] | None:
        return session_reads.session_summary(self.con, session_id)

    def export_sessions(self, where: Compiled, sort: str | None, descending: bool, target: Path) -> int:
        return session_reads.export_sessions(self.con, where, sort, descending, target)

    # One session ---------------------------------------------------------------------------------

    def tree(self, session_id: str, *, spans_per_node: int | None = None) -> TreeNode | None:
        return path_tree.session_tree(self.con, session_id, spans_per_node=spans_per_node)

    def folder_page(self, session_id: str, folder: str, offset: int = 0, *, limit: int,
                    with_folder: bool = False) -> FolderPage | None:
        """`folder`'s sub-folders from `offset`, `limit` of them (the caller's page size), with their figures;
        with_folder: the folder's own figures too. None: no such folder."""
        return path_tree.folder_page(self.con, session_id, folder, offset=offset, limit=limit,
                                    with_folder=with_folder)

    def folder_pages_to(self, session_id: str, path: str, shown: dict[str, int],
                        page_size: int) -> list[FolderPage]:
        """The pages that bring every folder on the way to `path` into its parent's sub-folders read so far
        (`shown`: folder → how many of its sub-folders are read)."""
        prefixes = path_prefixes(path)
        pages = []
        for parent, child in zip(prefixes, prefixes[1:]):
            rank = path_tree.folder_rank(self.con, session_id, parent, child)
            if rank is None:
                break
            have = shown.get(parent, 0)
            if rank < have:
                continue
            page = path_tree.folder_page(self.con, session_id, parent, offset=have,
                                        limit=max(page_size, rank + 1 - have))
            if page is None:
                break
            pages.append(page)
        return pages

    def critical_path(self, session_id: str) -> frozenset[str]:
        return frozenset(path_tree.critical_path(self.con, session_id))

    def has_parent_links(self, session_id: str) -> bool:
        return path_tree.has_parent_links(self.con, session_id)

    def spans_at_path(self, session_id: str, path: str, offset: int, limit: int) -> list[SpanRow]:
        return span_reads.spans_at_path(self.con, session_id, path, offset=offset, limit=limit)

    def span_children(self, session_id: str, parent_id: str | None, offset: int,
                      limit: int) -> tuple[list[SpanRow], int]:
        rows = span_reads.span_children(self.con, session_id, parent_id, offset=offset, limit=limit)
        return rows, span_reads.count_span_children(self.con, session_id, parent_id)

    def span_detail(self, span_id: str) -> SpanDetail | None:
        return span_reads.span_detail(self.con, span_id)

    def tool_spans_after(self, session_id: str, start_time: Any, names: list[str]) -> list[SpanRow]:
        return span_reads.tool_spans_after(self.con, session_id, start_time, names)

    def breakdown(self, session_id: str) -> SessionBreakdown | None:
        return session_breakdown(self.con, session_id)

    def agents(self, session_id: str) -> list[AgentNode]:
        return agent_tree(self.con, session_id)

    def agent_spans(self, session_id: str, agent: str) -> list[tuple[str, str]]:
        return span_reads.spans_with_property(self.con, session_id, "Agent-Name", agent)

    def search(self, session_id: str, text: str) -> list[tuple[str, str]]:
        return span_reads.search_spans(self.con, session_id, text)

    def errors(self, session_id: str) -> list[tuple[str, str]]:
        return span_reads.error_spans(self.con, session_id)

    def position(self, session_id: str, span_id: str) -> tuple[str, int] | None:
        return span_reads.span_position(self.con, session_id, span_id)

    def paths_of(self, session_id: str, span_ids: Sequence[str]) -> list[tuple[str, str]]:
        return [(row.span_id, row.path) for row in span_reads.spans_by_id(self.con, session_id, list(span_ids))]

    def export_session_spans(self, session_id: str, target: Path) -> int:
        return span_reads.export_spans(self.con, session_id, target)

    # Across sessions -----------------------------------------------------------------------------

    def stats(self, where: Compiled | None = None, *, by: str | None = None, top: int = 10,
              rules: StatsRules | None = None) -> Stats:
        """Cost, latency, errors, bottlenecks (and a compare by `by`) over the whole sessions selected;
        `rules` default to the config file's `[stats]` table (docs/analytics.md)."""
        from agenttrace_tui.store.read import analytics

        chosen = rules if rules is not None else analytics.load_rules()
        return analytics.session_stats(self.con, where or compile_filters(()), by=by, top=top, rules=chosen)

    def rejects(self, limit: int | None = None) -> list[dict[str, Any]]:
        return raw_sql.list_rejects(self.con, limit)

    def sql(self, statement: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        return raw_sql.run_sql(self.con, statement)

    def query(self, statement: str, *, json_values: bool = False, limit: int | None = None,
              timeout_seconds: float | None = None) -> raw_sql.SqlResult:
        """SQL text with every value rendered by DuckDB, as text or as JSON values, `limit` rows at most, stopped
        past `timeout_seconds`. On a Reader from `store.read(restricted=True)` it reads the store and nothing
        else: the one way to run SQL that comes from outside."""
        return raw_sql.query(self.con, statement, json_values=json_values, limit=limit,
                             timeout_seconds=timeout_seconds)
