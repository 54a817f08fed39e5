"""The explorer's messages: what its workers post to their screen, and the store's changes to the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
from textual.message import Message
from textual.widgets.tree import TreeNode

from agenttrace_tui.store import (
    AgentNode,
    FolderPage,
    SessionBreakdown,
    SpanDetail,
    SpanRow,
)
from agenttrace_tui.tui.loaders.session import SessionView
from agenttrace_tui.tui.loaders.session_list import SessionList
from agenttrace_tui.tui.widgets.path_tree import NodeData

if TYPE_CHECKING:
    from agenttrace_tui.store import Stats

# Any screen ----------------------------------------------------------------------------------------------


@dataclass
class LoadFailed(Message):
    """A worker's read failed (a StoreError: tui/workers.py): the screen shows `error` where the answer would be."""

    error: str
    generation: int = 0  # which load of a screen that reloads (a newer load's answer is awaited: ignored)
    filter_error: bool = False  # the user's filter was at fault, not the store


# The app --------------------------------------------------------------------------------------------------


@dataclass
class StoreChanged(Message):
    """Another process committed (seen by the store's change stamp), or a round of the follower stored lines."""

    stored: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


# The session list and the dashboard ---------------------------------------------------------------------


@dataclass
class ListLoaded(Message):
    listing: SessionList
    shown: pa.Table  # what the table displays, built in the worker (pyarrow compute, off the event loop)
    generation: int


@dataclass
class StatsLoaded(Message):
    result: Stats
    generation: int


# One session --------------------------------------------------------------------------------------------


@dataclass
class SessionLoaded(Message):
    view: SessionView | None
    live: bool = False  # a refresh of an open screen (follow mode), not its first load


@dataclass
class CriticalPathLoaded(Message):
    critical_path: frozenset[str]


@dataclass
class SpansLoaded(Message):
    node: TreeNode[NodeData]
    rows: list[SpanRow]
    total: int
    offset: int
    then_select: str | None = None  # a span to move the cursor to once placed
    live: bool = False  # a refresh of spans already shown: merge, don't replace


@dataclass
class FolderLoaded(Message):
    """An opened folder's first page of sub-folders and/or of its own spans, placed in one go."""

    node: TreeNode[NodeData]
    page: FolderPage | None
    rows: list[SpanRow] | None
    total: int


@dataclass
class FolderPageLoaded(Message):
    """The next page of a folder's sub-folders, for its "… N more folders" line."""

    page: FolderPage | None


@dataclass
class FoldersRevealed(Message):
    """The sub-folder pages that put every folder on the way to a span in the tree: then go to the span."""

    pages: list[FolderPage]
    span_id: str
    path: str


@dataclass
class DetailLoaded(Message):
    span_id: str
    detail: SpanDetail | None
    tool_links: dict[str, SpanRow]


@dataclass
class BreakdownLoaded(Message):
    breakdown: SessionBreakdown | None


@dataclass
class AgentsLoaded(Message):
    roots: list[AgentNode]


@dataclass
class MatchesFound(Message):
    label: str
    matches: list[tuple[str, str]]  # (span_id, path) in start order
