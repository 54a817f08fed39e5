"""Plain records the store's read side returns (store/read/): what the CLI prints and the TUI widgets draw.

No DuckDB, pyarrow or Textual here, so the CLI, widgets and their tests type against them and build them by
hand. Times inside a session are milliseconds from the session's start (`start_ms`, `end_ms`), which is what a
waterfall and a latency table need; absolute times are kept where a person reads them (`start_time`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class NodeStats:
    """A folder of a session's path tree, with figures for its whole subtree: the one record of a folder's
    figures, for the explorer's tree (a page at a time: FolderPage) and `agenttrace show` (the whole tree: each
    TreeNode is a NodeStats)."""

    path: str
    name: str
    spans: int
    self_spans: int  # spans whose path is exactly this folder
    errors: int
    llm_calls: int
    tool_calls: int
    cost_usd: float
    unpriced: int
    input_tokens: int
    output_tokens: int
    busy_ms: float  # union of the spans' intervals: idle gaps excluded
    wall_ms: float  # first start → last end
    start_ms: float
    end_ms: float
    child_paths: tuple[str, ...] = ()  # the first sub-folders (store/read/tree.py: SUB_FOLDER_NAMES)
    running: int = 0  # spans with a start line and no end yet


@dataclass(frozen=True)
class FolderPage:
    """A page of one folder's sub-folders, with figures for each whole subtree.

    `children` are the sub-folders `offset`, `offset + 1` … in order of first start (then path); `total` counts
    them all. `stats` holds the folder itself too when it was asked for. Each folder's `child_paths` are its
    first SUB_FOLDER_NAMES sub-folders and `sub_folders` says how many it has in all."""

    folder: str
    offset: int
    children: tuple[str, ...]
    total: int
    stats: dict[str, NodeStats]
    sub_folders: dict[str, int]


@dataclass(frozen=True, kw_only=True)
class TreeNode(NodeStats):
    """A folder of a session's whole path tree (`agenttrace show`): its figures (a NodeStats), its sub-folders in
    order of first start (then path), and its own spans in start order (dicts: SPAN_LIST_COLUMNS of
    store/read/tree.py)."""

    session_start: datetime  # `start_ms` and `end_ms` count from it
    children: list[TreeNode] = field(default_factory=list)
    span_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def start_time(self) -> datetime:
        """The subtree's first start."""
        return self.session_start + timedelta(microseconds=round(self.start_ms * 1000))

    @property
    def end_time(self) -> datetime:
        """The subtree's last end (an unfinished span counts with its start)."""
        return self.session_start + timedelta(microseconds=round(self.end_ms * 1000))

    def to_json(self) -> dict[str, Any]:
        """`agenttrace show --json`'s node: the figures, then its spans and sub-folders."""
        return {
            "path": self.path,
            "name": self.name,
            "spans": self.spans,
            "self_spans": self.self_spans,
            "errors": self.errors,
            "llm_calls": self.llm_calls,
            "tool_calls": self.tool_calls,
            "cost_usd": self.cost_usd,
            "unpriced": self.unpriced,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "busy_ms": self.busy_ms,
            "wall_ms": self.wall_ms,
            "running": self.running,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "span_list": self.span_rows,
            "children": [child.to_json() for child in self.children],
        }


@dataclass(frozen=True)
class SpanRow:
    """One span as a tree line or list row: no payloads."""

    span_id: str
    session_id: str
    path: str
    parent_id: str | None
    kind: str
    name: str | None
    model: str | None
    status: str
    error_type: str | None
    error_message: str | None
    start_time: datetime
    start_ms: float
    end_ms: float  # = start_ms while in progress
    duration_ms: float | None
    in_progress: bool
    cost_usd: float | None
    cost_source: str | None  # reported | computed | unpriced | None
    input_tokens: int | None
    output_tokens: int | None
    child_count: int = 0  # spans whose parent_id is this span (causal view)
    orphan: bool = False  # parent_id names a span this session does not have

    @property
    def label(self) -> str:
        return self.name or self.model or self.kind


@dataclass(frozen=True)
class SpanDetail:
    """Everything about one span, payloads included: loaded only for the span being shown."""

    row: SpanRow
    provider: str | None
    status_code: int | None
    error: Any  # the recorded error: a string or {type, message, stack}
    first_token_ms: float | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    properties: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    input: Any = None
    output: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    source_file: str | None = None
    source_line: int | None = None


@dataclass(frozen=True)
class BreakdownRow:
    """One row of a session's cost, latency or error breakdown."""

    key: str  # the path, model or tool
    count: int
    errors: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    total_ms: float = 0.0
    share_of_wall: float | None = None  # busy time of this key / session wall time
    messages: tuple[str, ...] = ()  # distinct error messages, most frequent first
    span_ids: tuple[str, ...] = ()  # the spans behind the row, start order (capped)


@dataclass(frozen=True)
class SessionBreakdown:
    """Cost, latency and error panels of one session."""

    wall_ms: float
    cost_by_path: list[BreakdownRow]
    cost_by_model: list[BreakdownRow]
    cost_by_tool: list[BreakdownRow]
    latency_by_path: list[BreakdownRow]
    latency_by_tool: list[BreakdownRow]
    slowest_spans: list[SpanRow]
    errors_by_tool: list[BreakdownRow]
    errors_by_path: list[BreakdownRow]
    total_cost_usd: float = 0.0  # over all rows, also those cut from the lists
    total_unpriced: int = 0
    rows_cut: int = 0  # rows left out of the lists above (each keeps its top rows only)


@dataclass(frozen=True)
class AgentNode:
    """An agent of a session with its own figures and its sub-agents (store/read/agent_tree.py)."""

    name: str
    role: str | None
    parent: str | None  # the parent in this tree: None for roots (orphans and broken cycles included)
    spans: int
    llm_calls: int
    tool_calls: int
    errors: int
    cost_usd: float
    unpriced: int
    busy_ms: float  # union of the agent's span intervals: idle gaps excluded
    wall_ms: float  # the agent's first start → last end
    first_start_ms: float  # from the session's start
    children: tuple[AgentNode, ...] = ()

    @property
    def calls(self) -> int:
        return self.llm_calls + self.tool_calls
