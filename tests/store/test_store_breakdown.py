"""A session's cost, latency and error breakdowns, on a real DuckDB file with figures worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from store_helpers import span, write_jsonl

from agenttrace_tui.store import Store
from agenttrace_tui.store.read.breakdown import session_breakdown
from agenttrace_tui.store.records import BreakdownRow, SessionBreakdown


def at(seconds: float) -> str:
    """A time `seconds` after the session's start, 2025-01-01T10:00:00Z."""
    whole = int(seconds)
    return f"2025-01-01T10:00:{whole:02d}.{int(round((seconds - whole) * 1000)):03d}Z"


# Session "b", 16 s of wall time (0 s → 16 s):
#   /plan          llm  gpt-4o-mini    0 → 1      priced
#   /iteration/0   llm  acme-llm-1     1 → 3      unpriced (unknown model)
#   /iteration/0   llm  gpt-4o-mini   10 → 11     priced          (idle gap 3 → 10 for this path)
#   /iteration/1   llm  gpt-4o        11 → 11.5   reported $0.50
#   /iteration/1   llm  gpt-4o        11.5 → 12   HTTP 429, no tokens: computed $0
#   /tools/search  tool search         3 → 4.5    ok              (overlaps the next one)
#   /tools/search  tool search         4 → 6      error "db down"
#   /tools/search  tool search         6 → 7      error "bad query"
#   /tools/search  tool search        12 → 16     error "bad query"
#   /tools/paid    tool paid_api       7 → 8      reported $0.20
#   /tools/slow    tool slow_tool      8 → …      still running
# Span ids run against start order (search-d starts first) so that start order is not id order.
RECORDS = [
    span("b", span_id="plan", path="/plan", model="gpt-4o-mini", provider="openai",
         start_time=at(0), end_time=at(1), usage={"input_tokens": 1000, "output_tokens": 100}),
    span("b", span_id="it0-a", path="/iteration/0", model="acme-llm-1",
         start_time=at(1), end_time=at(3), usage={"input_tokens": 50, "output_tokens": 5}),
    span("b", span_id="it0-b", path="/iteration/0", model="gpt-4o-mini", provider="openai",
         start_time=at(10), end_time=at(11), usage={"input_tokens": 2000, "output_tokens": 200}),
    span("b", span_id="it1-a", path="/iteration/1", model="gpt-4o", start_time=at(11), end_time=at(11.5),
         usage={"input_tokens": 100, "output_tokens": 10}, cost_usd=0.5),
    span("b", span_id="it1-b", path="/iteration/1", model="gpt-4o", start_time=at(11.5), end_time=at(12),
         status_code=429),
    span("b", span_id="search-d", path="/tools/search", kind="tool", name="search",
         start_time=at(3), end_time=at(4.5)),
    span("b", span_id="search-c", path="/tools/search", kind="tool", name="search",
         start_time=at(4), end_time=at(6), error={"type": "DBError", "message": "db down"}),
    span("b", span_id="search-b", path="/tools/search", kind="tool", name="search",
         start_time=at(6), end_time=at(7), error="bad query"),
    span("b", span_id="search-a", path="/tools/search", kind="tool", name="search",
         start_time=at(12), end_time=at(16), error={"type": "ValueError", "message": "bad query"}),
    span("b", span_id="paid", path="/tools/paid", kind="tool", name="paid_api",
         start_time=at(7), end_time=at(8), cost_usd=0.2),
    span("b", span_id="slow", path="/tools/slow", kind="tool", name="slow_tool", start_time=at(8)),
    # Another session in the same store must not leak into "b".
    span("other", span_id="o1", path="/tools/search", kind="tool", name="search",
         start_time=at(0), end_time=at(30), error="elsewhere"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], Store]) -> Store:
    """Once per backend (file, lake: tests/conftest.py)."""
    tmp_path = tmp_path_factory.mktemp("breakdown")
    db = new_store()
    assert db.ingest([str(write_jsonl(tmp_path / "b.jsonl", RECORDS))]).ok
    return db


@pytest.fixture(scope="module")
def breakdown(store: Store) -> SessionBreakdown:
    with store.reader() as con:
        result = session_breakdown(con, "b")
    assert result is not None
    return result


@pytest.fixture(scope="module")
def costs(store: Store) -> dict[str, float | None]:
    return dict(store.sql("SELECT span_id, cost_usd FROM spans")[1])


def by_key(rows: list[BreakdownRow]) -> dict[str, BreakdownRow]:
    return {row.key: row for row in rows}


def test_wall_time_runs_from_first_start_to_last_end(breakdown: SessionBreakdown) -> None:
    assert breakdown.wall_ms == 16_000


def test_cost_by_model_counts_unpriced_apart(breakdown: SessionBreakdown, costs: dict[str, float | None]) -> None:
    rows = breakdown.cost_by_model
    assert [row.key for row in rows] == ["gpt-4o", "gpt-4o-mini", "acme-llm-1"]  # cost, highest first
    gpt4o, mini, acme = rows
    assert (gpt4o.count, gpt4o.errors, gpt4o.cost_usd, gpt4o.unpriced) == (2, 1, 0.5, 0)
    assert gpt4o.span_ids == ("it1-a", "it1-b")
    mini_cost = (costs["plan"] or 0) + (costs["it0-b"] or 0)
    assert mini_cost > 0
    assert (mini.count, mini.unpriced) == (2, 0) and mini.cost_usd == pytest.approx(mini_cost)
    assert (acme.count, acme.cost_usd, acme.unpriced) == (1, 0.0, 1)
    assert acme.span_ids == ("it0-a",)


def test_cost_by_tool_only_lists_tools_with_something_to_price(breakdown: SessionBreakdown) -> None:
    assert [(row.key, row.count, row.cost_usd, row.span_ids) for row in breakdown.cost_by_tool] == [
        ("paid_api", 1, 0.2, ("paid",))
    ]


def test_cost_by_path(breakdown: SessionBreakdown, costs: dict[str, float | None]) -> None:
    rows = breakdown.cost_by_path
    assert [row.key for row in rows] == ["/iteration/1", "/tools/paid", "/iteration/0", "/plan"]
    paths = by_key(rows)
    iteration0 = paths["/iteration/0"]
    assert (iteration0.count, iteration0.unpriced) == (2, 1)
    assert iteration0.cost_usd == pytest.approx(costs["it0-b"])
    assert iteration0.span_ids == ("it0-a", "it0-b")
    assert paths["/plan"].cost_usd == pytest.approx(costs["plan"])
    # Every priced span has exactly one path, so the path rows add up to the session's cost.
    total = sum(cost for cost in costs.values() if cost is not None)
    assert sum(row.cost_usd for row in rows) == pytest.approx(total)


def test_latency_by_tool_percentiles_and_share_with_an_idle_gap(breakdown: SessionBreakdown) -> None:
    rows = breakdown.latency_by_tool
    assert [row.key for row in rows] == ["search", "paid_api", "slow_tool"]  # p95 desc, unfinished last
    search = rows[0]
    # Durations 1500, 2000, 1000, 4000 ms → sorted 1000, 1500, 2000, 4000; quantile_cont interpolates.
    assert search.count == 4 and search.errors == 3
    assert search.p50_ms == pytest.approx(1750)
    assert search.p95_ms == pytest.approx(2000 + 0.85 * 2000)
    assert search.max_ms == 4000 and search.total_ms == pytest.approx(8500)
    # Busy time: 3 → 7 s (overlaps merged) + 12 → 16 s = 8 s of 16 s; the idle 7 → 12 s gap is left out.
    assert search.share_of_wall == pytest.approx(0.5)
    assert search.span_ids == ("search-d", "search-c", "search-b", "search-a")  # start order
    slow = rows[2]
    assert (slow.count, slow.p50_ms, slow.p95_ms, slow.max_ms) == (1, None, None, None)
    assert slow.share_of_wall == 0.0 and slow.span_ids == ("slow",)


def test_latency_by_path(breakdown: SessionBreakdown) -> None:
    rows = breakdown.latency_by_path
    assert [row.key for row in rows] == [
        "/tools/search", "/iteration/0", "/plan", "/tools/paid", "/iteration/1", "/tools/slow"
    ]
    iteration0 = by_key(rows)["/iteration/0"]
    assert iteration0.p50_ms == pytest.approx(1500) and iteration0.p95_ms == pytest.approx(1950)
    assert iteration0.max_ms == 2000
    # 1 → 3 s and 10 → 11 s: 3 s busy, not the 10 s from first start to last end.
    assert iteration0.share_of_wall == pytest.approx(3 / 16)
    assert by_key(rows)["/iteration/1"].share_of_wall == pytest.approx(1 / 16)


def test_slowest_spans(store: Store) -> None:
    with store.reader() as con:
        result = session_breakdown(con, "b", slowest=3)
    assert result is not None
    slowest = result.slowest_spans
    # 4 s, then two 2 s spans in start order; the running span has no duration yet.
    assert [row.span_id for row in slowest] == ["search-a", "it0-a", "search-c"]
    first = slowest[0]
    assert (first.start_ms, first.end_ms, first.duration_ms) == (12_000, 16_000, 4000)
    assert first.kind == "tool" and first.name == "search" and first.error_message == "bad query"


def test_errors_by_tool_and_path_group_messages(breakdown: SessionBreakdown) -> None:
    assert len(breakdown.errors_by_tool) == 1
    search = breakdown.errors_by_tool[0]
    assert (search.key, search.count, search.errors) == ("search", 4, 3)
    assert search.messages == ("bad query", "db down")  # most frequent first
    assert search.span_ids == ("search-c", "search-b", "search-a")  # the failures, in start order
    assert [(row.key, row.errors, row.count) for row in breakdown.errors_by_path] == [
        ("/tools/search", 3, 4), ("/iteration/1", 1, 2)
    ]
    # An error with no message is named by its type.
    assert breakdown.errors_by_path[1].messages == ("http_429",)
    assert breakdown.errors_by_path[1].span_ids == ("it1-b",)


def test_span_ids_are_capped_in_start_order(store: Store) -> None:
    with store.reader() as con:
        result = session_breakdown(con, "b", span_ids_per_row=2)
    assert result is not None
    assert by_key(result.latency_by_tool)["search"].span_ids == ("search-d", "search-c")
    assert by_key(result.latency_by_tool)["search"].count == 4  # the figures are not capped
    assert result.errors_by_tool[0].span_ids == ("search-c", "search-b")


def test_unknown_session_is_none(store: Store) -> None:
    with store.reader() as con:
        assert session_breakdown(con, "nope") is None


def test_instantaneous_session_has_no_share(tmp_path: Path, new_store: Callable[[], Store]) -> None:
    db = new_store()
    db.ingest([str(write_jsonl(tmp_path / "i.jsonl", [span("i", span_id="x", path="/p", duration_ms=0)]))])
    with db.reader() as con:
        result = session_breakdown(con, "i")
    assert result is not None and result.wall_ms == 0
    assert result.latency_by_path[0].share_of_wall is None and result.latency_by_path[0].p95_ms == 0


def test_wide_sessions_keep_the_top_rows_and_true_totals(tmp_path: Path, new_store: Callable[[], Store]) -> None:
    records = [span("wide", span_id=f"w{i}", path=f"/step/{i}", model="gpt-4o-mini", duration_ms=i + 1,
                    usage={"input_tokens": 1000, "output_tokens": 10}) for i in range(30)]
    db = new_store()
    db.ingest([str(write_jsonl(tmp_path / "w.jsonl", records))])
    with db.reader() as con:
        full = session_breakdown(con, "wide")
        cut = session_breakdown(con, "wide", rows_per_list=5)
    assert full is not None and cut is not None
    assert len(full.latency_by_path) == 30 and len(cut.latency_by_path) == 5
    assert [r.key for r in cut.latency_by_path] == [r.key for r in full.latency_by_path[:5]]
    assert cut.total_cost_usd == pytest.approx(sum(r.cost_usd for r in full.cost_by_path))
    assert cut.rows_cut > 0 and full.rows_cut == 0
