"""A session's agent tree, on a real DuckDB file with figures worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from store_helpers import SAMPLES, span, write_jsonl

from agenttrace_tui.store import AgentNode, Store
from agenttrace_tui.store.read.agent_tree import agent_tree


def at(seconds: float) -> str:
    """A time `seconds` after 2025-01-01T10:00:00Z."""
    whole = int(seconds)
    return f"2025-01-01T10:00:{whole:02d}.{int(round((seconds - whole) * 1000)):03d}Z"


def agent(name: str, role: str | None = None, parent: str | None = None, **extra: str) -> dict[str, Any]:
    props: dict[str, str] = {"Agent-Name": name, **extra}
    if role is not None:
        props["Agent-Role"] = role
    if parent is not None:
        props["Parent-Agent"] = parent
    return {"properties": props}


# Session "m" (the session starts at 0 s, with a span that names no agent):
#   (none)          agent  0 → 1
#   (empty name)    llm    0 → 5      Agent-Name "" is no name: not counted
#   lonely  → ghost agent  0.5 → 0.75 "ghost" is never an agent: lonely is a root
#   coordinator     agent  1 → 3      role coordinator
#   coordinator     llm    2 → 2.5    reported $0.25, role coordinator
#   coordinator     llm    8 → 9      acme-llm-1 with tokens: unpriced; role planner (the minority)
#                                     busy 2 s + 1 s = 3 s (idle 3 → 8), wall 1 → 9 = 8 s
#   research-agent  tool   3 → 5      error; parent coordinator
#   research-agent  tool   4 → 6      reported $0.10, overlaps the one before; parent coordinator
#   research-agent  llm    6.5 → 7    reported $0.50, HTTP 500: error; parent "elsewhere" (the minority)
#                                     busy 3 → 6 + 6.5 → 7 = 3.5 s, wall 3 → 7 = 4 s
#   writer          llm    7 → 7.25   no role; parent research-agent
#   writer          tool   9 → …      unfinished: counts from its start; busy 0.25 s, wall 7 → 9 = 2 s
RECORDS = [
    span("m", span_id="none", path="/main", kind="agent", start_time=at(0), end_time=at(1)),
    span("m", span_id="empty", path="/x", model="gpt-4o", start_time=at(0), end_time=at(5), cost_usd=9.0,
         **agent("")),
    span("m", span_id="l1", path="/lonely", kind="agent", start_time=at(0.5), end_time=at(0.75),
         **agent("lonely", parent="ghost")),
    span("m", span_id="c1", path="/coordinator", kind="agent", start_time=at(1), end_time=at(3),
         **agent("coordinator", "coordinator")),
    span("m", span_id="c2", path="/coordinator/plan", model="gpt-4o", start_time=at(2), end_time=at(2.5),
         usage={"input_tokens": 100, "output_tokens": 10}, cost_usd=0.25, **agent("coordinator", "coordinator")),
    span("m", span_id="c3", path="/coordinator/answer", model="acme-llm-1", start_time=at(8), end_time=at(9),
         usage={"input_tokens": 50, "output_tokens": 5}, **agent("coordinator", "planner")),
    span("m", span_id="r1", path="/research/tools/search", kind="tool", name="search",
         start_time=at(3), end_time=at(5), error="db down", **agent("research-agent", "researcher", "coordinator")),
    span("m", span_id="r2", path="/research/tools/paid", kind="tool", name="paid",
         start_time=at(4), end_time=at(6), cost_usd=0.1, **agent("research-agent", "researcher", "coordinator")),
    span("m", span_id="r3", path="/research/llm", model="gpt-4o", start_time=at(6.5), end_time=at(7),
         usage={"input_tokens": 10, "output_tokens": 1}, cost_usd=0.5, status_code=500,
         **agent("research-agent", "researcher", "elsewhere")),
    span("m", span_id="w1", path="/write", model="gpt-4o", start_time=at(7), end_time=at(7.25), cost_usd=0.0,
         **agent("writer", parent="research-agent")),
    span("m", span_id="w2", path="/write/tools/save", kind="tool", name="save", start_time=at(9),
         **agent("writer", parent="research-agent")),
    # Session "cyc": a names b as parent and b names a; b starts first, so b is the root. "self" is its own parent.
    span("cyc", span_id="y0", path="/a", kind="agent", start_time=at(2), end_time=at(3), **agent("a", parent="b")),
    span("cyc", span_id="y1", path="/b", kind="agent", start_time=at(1), end_time=at(4), **agent("b", parent="a")),
    span("cyc", span_id="y2", path="/self", kind="agent", start_time=at(5), end_time=at(6),
         **agent("self", parent="self")),
    # A 3-cycle p → q → r → p, entered from t hanging below q: broken at p (first start).
    span("cyc", span_id="y3", path="/p", kind="agent", start_time=at(7), end_time=at(8), **agent("p", parent="r")),
    span("cyc", span_id="y4", path="/q", kind="agent", start_time=at(8), end_time=at(9), **agent("q", parent="p")),
    span("cyc", span_id="y5", path="/r", kind="agent", start_time=at(9), end_time=at(10), **agent("r", parent="q")),
    span("cyc", span_id="y6", path="/t", kind="agent", start_time=at(6.5), end_time=at(7), **agent("t", parent="q")),
    # No Agent-Name anywhere.
    span("plain", span_id="p1", path="/a", kind="agent", start_time=at(0), end_time=at(1),
         properties={"Agent-Role": "lonely role", "Parent-Agent": "nobody"}),
    # Another session with the same agent names must not leak into "m".
    span("other", span_id="o1", path="/coordinator", kind="tool", start_time=at(0), end_time=at(30),
         error="elsewhere", **agent("coordinator", "coordinator")),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], Store]) -> Store:
    """Once per backend (file, lake: tests/conftest.py)."""
    tmp_path = tmp_path_factory.mktemp("agents")
    db = new_store()
    assert db.ingest([str(write_jsonl(tmp_path / "a.jsonl", RECORDS))]).ok
    return db


def tree(store: Store, session_id: str) -> list[AgentNode]:
    with store.reader() as con:
        return agent_tree(con, session_id)


def shape(nodes: tuple[AgentNode, ...] | list[AgentNode]) -> list[Any]:
    """Names and nesting only: [name, [children...]]."""
    return [[node.name, shape(node.children)] for node in nodes]


@pytest.fixture(scope="module")
def roots(store: Store) -> list[AgentNode]:
    return tree(store, "m")


def test_roots_by_first_start_with_an_orphan_parent(roots: list[AgentNode]) -> None:
    assert shape(roots) == [
        ["lonely", []],
        ["coordinator", [["research-agent", [["writer", []]]]]],
    ]
    lonely, coordinator = roots
    assert lonely.parent is None  # "ghost" never appears as an agent
    assert coordinator.parent is None
    research = coordinator.children[0]
    assert research.parent == "coordinator"  # 2 spans of 3 say so; "elsewhere" is the minority
    assert research.children[0].parent == "research-agent"


def test_coordinator_figures(roots: list[AgentNode]) -> None:
    coordinator = roots[1]
    assert coordinator.role == "coordinator"  # 2 of 3 spans; "planner" is the minority
    assert (coordinator.spans, coordinator.llm_calls, coordinator.tool_calls, coordinator.errors) == (3, 2, 0, 0)
    assert coordinator.calls == 2
    assert coordinator.cost_usd == pytest.approx(0.25) and coordinator.unpriced == 1
    # Busy 1 → 3 (the llm span inside it adds nothing) + 8 → 9; the idle 3 → 8 gap is left out of busy only.
    assert coordinator.busy_ms == pytest.approx(3000)
    assert coordinator.wall_ms == pytest.approx(8000)
    assert coordinator.first_start_ms == pytest.approx(1000)


def test_sub_agent_figures(roots: list[AgentNode]) -> None:
    research = roots[1].children[0]
    assert research.role == "researcher"
    assert (research.spans, research.llm_calls, research.tool_calls, research.errors) == (3, 1, 2, 2)
    assert research.cost_usd == pytest.approx(0.6) and research.unpriced == 0
    assert research.busy_ms == pytest.approx(3500)  # 3 → 6 (overlap merged) + 6.5 → 7
    assert research.wall_ms == pytest.approx(4000)
    assert research.first_start_ms == pytest.approx(3000)

    writer = research.children[0]
    assert writer.role is None
    assert (writer.spans, writer.llm_calls, writer.tool_calls, writer.errors) == (2, 1, 1, 0)
    assert writer.cost_usd == 0.0 and writer.unpriced == 0
    assert writer.busy_ms == pytest.approx(250)  # the unfinished span counts from its start: nothing yet
    assert writer.wall_ms == pytest.approx(2000)
    assert writer.first_start_ms == pytest.approx(7000)

    lonely = roots[0]
    assert (lonely.spans, lonely.busy_ms, lonely.wall_ms, lonely.first_start_ms) == (1, 250, 250, 500)


def test_spans_without_an_agent_name_are_not_counted(roots: list[AgentNode]) -> None:
    def walk(nodes: tuple[AgentNode, ...] | list[AgentNode]) -> list[AgentNode]:
        return [n for node in nodes for n in (node, *walk(node.children))]

    everyone = walk(roots)
    assert sorted(node.name for node in everyone) == ["coordinator", "lonely", "research-agent", "writer"]
    assert sum(node.spans for node in everyone) == 9  # 11 spans, of which "none" and "empty" name no agent
    assert sum(node.cost_usd for node in everyone) == pytest.approx(0.85)  # the $9 unnamed span left out


def test_cycles_are_broken_at_the_first_starter(store: Store) -> None:
    roots = tree(store, "cyc")
    assert shape(roots) == [
        ["b", [["a", []]]],
        ["self", []],
        ["p", [["q", [["t", []], ["r", []]]]]],  # children by first start: t (6.5 s) before r (9 s)
    ]
    b, own, p = roots
    assert (b.parent, b.children[0].parent, own.parent, p.parent) == (None, "b", None, None)
    assert b.first_start_ms == pytest.approx(0) and b.children[0].first_start_ms == pytest.approx(1000)


def test_a_session_without_agent_names_has_no_tree(store: Store) -> None:
    assert tree(store, "plain") == []
    assert tree(store, "no such session") == []


def test_sample_multi_agent_session(new_store: Callable[[], Store]) -> None:
    db = new_store()
    assert db.ingest([str(SAMPLES / "multi_agent.jsonl")]).ok
    columns, rows = db.sql(
        "SELECT DISTINCT session_id FROM spans WHERE properties->>'$.\"Agent-Name\"' IS NOT NULL ORDER BY 1"
    )
    assert rows
    for (session_id,) in rows:
        roots = tree(db, session_id)
        coordinator = next(node for node in roots if node.name == "coordinator")
        assert coordinator.parent is None and coordinator.role == "coordinator"
        assert "research-agent" in [child.name for child in coordinator.children]
        research = next(child for child in coordinator.children if child.name == "research-agent")
        assert research.role == "researcher" and research.llm_calls > 0 and research.tool_calls > 0
        assert research.first_start_ms >= coordinator.first_start_ms
        assert 0 < research.busy_ms <= research.wall_ms
