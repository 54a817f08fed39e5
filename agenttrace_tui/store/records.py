"""Plain records the explorer's queries return: what the TUI widgets are drawn from.

No DuckDB and no Textual here, so widgets and their tests can build these by hand. Times inside a
session are milliseconds from the session's start (`start_ms`, `end_ms`), which is what a waterfall
and a latency table need; absolute times are kept where a person reads them (`start_time`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class NodeStats:
    """A folder of a session's path tree, with figures for its whole subtree."""

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
    child_paths: tuple[str, ...] = ()
    running: int = 0  # spans with a start line and no end yet


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
