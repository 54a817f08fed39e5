"""The session screen reads a session's folders a page at a time: a folder of many sub-folders shows the first
page and a "… N more folders" line, and jumps and the cursor still land where they should."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from store_helpers import SAMPLES, span, write_jsonl
from textual.widgets import Static
from tui_helpers import SIZE, wait_for

from agenttrace_tui.store import Store
from agenttrace_tui.store.read.tree import (
    folder_count,
    folder_page,
    folder_rank,
)
from agenttrace_tui.tui.app import AgentTraceApp
from agenttrace_tui.tui.loaders.folders import PAGE_SIZE
from agenttrace_tui.tui.screens.session import SessionScreen
from agenttrace_tui.tui.screens.sessions import SessionTable
from agenttrace_tui.tui.widgets.detail import DetailPane
from agenttrace_tui.tui.widgets.path_tree import FolderRef, MoreRef, PathTree, SpanRef
from agenttrace_tui.tui.widgets.timeline import Timeline

WIDE = 450  # sub-folders of /iteration: more than two pages
START = datetime(2025, 1, 1, 10, 0, 0)


def _at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def wide_records() -> list[dict[str, Any]]:
    """An agent span at /, then WIDE iterations: an llm call at /iteration/i (some overlapping the next one,
    some failing, one still running) and a tool call at /tools/<name>/v<i % 3>; two spans at /iteration/7."""
    records: list[dict[str, Any]] = [span("wide", span_id="root", path="/", kind="agent", name="agent",
                                          start_time=_at(0), end_time=_at(WIDE * 3))]
    for i in range(WIDE):
        llm: dict[str, Any] = dict(span_id=f"llm-{i}", path=f"/iteration/{i}", kind="llm", model="gpt-4o-mini",
                                   name=f"call {i}", start_time=_at(i * 3 + 0.5),
                                   usage={"input_tokens": 100 + i, "output_tokens": 10})
        if i != WIDE - 1:  # the last one has no end yet
            llm["end_time"] = _at(i * 3 + (4.0 if i % 5 == 0 else 1.5))
        if i % 17 == 0:
            llm["status"] = "error"
            llm["error"] = {"type": "RateLimitError", "message": "slow down"}
        records.append(span("wide", **llm))
        records.append(span("wide", span_id=f"tool-{i}", path=f"/tools/{('search', 'fetch')[i % 2]}/v{i % 3}",
                            kind="tool", name=("search", "fetch")[i % 2], start_time=_at(i * 3 + 2),
                            end_time=_at(i * 3 + 2.5)))
    records.append(span("wide", span_id="llm-7b", path="/iteration/7", kind="llm", model="gpt-4o-mini",
                        start_time=_at(7 * 3 + 1), end_time=_at(7 * 3 + 1.2), input={"needle": "haystack-7b"}))
    return records


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("folders")
    db = Store(folder / "store.duckdb")
    assert db.ingest([str(SAMPLES), str(write_jsonl(folder / "wide.jsonl", wide_records()))]).ok
    return db


def test_rank_and_count_of_sub_folders(store: Store) -> None:
    with store.reader() as con:
        assert folder_count(con, "wide", "/") == 2
        assert folder_count(con, "wide", "/iteration") == WIDE
        assert folder_count(con, "wide", "/iteration/3") == 0
        assert folder_rank(con, "wide", "/iteration", "/iteration/0") == 0
        assert folder_rank(con, "wide", "/iteration", f"/iteration/{WIDE - 1}") == WIDE - 1
        assert folder_rank(con, "wide", "/", "/tools") == 1
        assert folder_rank(con, "wide", "/iteration", "/tools/search") is None
        past = folder_page(con, "wide", "/iteration", offset=WIDE, limit=10)
        assert past is not None and past.children == () and past.total == WIDE
        assert folder_page(con, "nope", "/", with_folder=True) is None


async def open_wide(app: AgentTraceApp, pilot: Any) -> SessionScreen:
    await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
    app.push_screen(SessionScreen(app.store, "wide"))
    await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and bool(
        app.screen.query_one(PathTree).root.children))
    screen = app.screen
    assert isinstance(screen, SessionScreen)
    return screen


def line_key(data: Any, node_id: int) -> str:
    if isinstance(data, FolderRef):
        return f"path:{data.path}"
    return data.row.span_id if isinstance(data, SpanRef) else f"line:{node_id}"


def lines(tree: PathTree, folder: Any) -> list[Any]:
    return [child.data for child in folder.children]


@pytest.mark.slow
async def test_a_wide_folder_shows_a_page_of_sub_folders_and_loads_the_next(store: Store) -> None:
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wide(app, pilot)
        tree = screen.query_one(PathTree)
        assert lines(tree, tree.root)[:2] == [FolderRef("/iteration"), FolderRef("/tools")]
        iteration = tree.root.children[0]
        tree.select_line_of(iteration)
        await pilot.press("l")
        await wait_for(pilot, lambda: len(iteration.children) > 0)
        shown = lines(tree, iteration)
        assert shown[:PAGE_SIZE] == [FolderRef(f"/iteration/{i}") for i in range(PAGE_SIZE)]
        assert shown[PAGE_SIZE:] == [MoreRef("/iteration", None, PAGE_SIZE, WIDE - PAGE_SIZE, folders=True)]
        more = iteration.children[PAGE_SIZE]
        assert str(more.label) == f"… {WIDE - PAGE_SIZE} more folders (enter loads {PAGE_SIZE})"
        tree.select_line_of(more)
        await pilot.pause()
        assert f"{WIDE - PAGE_SIZE} more folders here" in screen.query_one(DetailPane).rendered_text()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(iteration.children) > PAGE_SIZE + 1)
        shown = lines(tree, iteration)
        assert shown[:2 * PAGE_SIZE] == [FolderRef(f"/iteration/{i}") for i in range(2 * PAGE_SIZE)]
        assert shown[2 * PAGE_SIZE:] == [MoreRef("/iteration", None, 2 * PAGE_SIZE, WIDE - 2 * PAGE_SIZE, folders=True)]
        # the cursor stays at that line, now the first folder of the new page
        assert tree.cursor_node is iteration.children[PAGE_SIZE]
        # the timeline mirrors the tree line for line
        timeline = screen.query_one(Timeline)
        assert [row.key for row in timeline.rows] == [line_key(n.data, n.id) for n in tree.visible_nodes()]
        # a folder's detail counts all its sub-folders, though only the first ones are named
        tree.select_line_of(iteration)
        await pilot.pause()
        detail = screen.query_one(DetailPane).rendered_text()
        assert f"… {WIDE - 20} more" in detail and "/iteration/19" in detail and "/iteration/20," not in detail


@pytest.mark.slow
async def test_a_folder_of_sub_folders_and_spans_lists_folders_first(store: Store) -> None:
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wide(app, pilot)
        tree = screen.query_one(PathTree)
        # the root: sub-folders, then its own span
        await wait_for(pilot, lambda: any(isinstance(c.data, SpanRef) for c in tree.root.children))
        assert [type(d).__name__ for d in lines(tree, tree.root)] == ["FolderRef", "FolderRef", "SpanRef"]
        tools = tree.root.children[1]
        tree.select_line_of(tools)
        await pilot.press("l")
        await wait_for(pilot, lambda: len(tools.children) == 2)
        assert lines(tree, tools) == [FolderRef("/tools/search"), FolderRef("/tools/fetch")]
        search = tools.children[0]
        tree.select_line_of(search)
        await pilot.press("l")
        await wait_for(pilot, lambda: len(search.children) == 3)
        assert lines(tree, search) == [FolderRef(f"/tools/search/v{i}") for i in (0, 2, 1)]  # first start order


@pytest.mark.slow
async def test_a_search_jumps_into_a_folder_past_the_first_page(store: Store) -> None:
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wide(app, pilot)
        tree = screen.query_one(PathTree)
        target = f"call {WIDE - 20}"

        def cursor_span() -> str | None:
            node = tree.cursor_node
            return node.data.row.span_id if node is not None and isinstance(node.data, SpanRef) else None

        await pilot.press("/")
        await pilot.press(*target, "enter")
        await wait_for(pilot, lambda: cursor_span() == f"llm-{WIDE - 20}")
        iteration = tree.root.children[0]
        assert iteration.is_expanded
        folders = [c.data.path for c in iteration.children if isinstance(c.data, FolderRef)]
        assert folders == [f"/iteration/{i}" for i in range(len(folders))] and len(folders) >= WIDE - 19
        await pilot.press("/")
        await pilot.press("ctrl+u", *"haystack-7b", "enter")
        await wait_for(pilot, lambda: cursor_span() == "llm-7b")


@pytest.mark.slow
async def test_the_detail_follows_the_cursor_in_the_same_turn(store: Store) -> None:
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wide(app, pilot)
        tree = screen.query_one(PathTree)
        tools = tree.root.children[1]
        tree.move_cursor(tools)  # no await: nothing else runs in between
        assert screen.query_one(DetailPane).rendered_text().startswith("FOLDER  /tools")
        assert "› /tools" in str(screen.query_one("#crumb", Static).render())
        lines_ = list(tree.visible_nodes())
        assert screen.query_one(Timeline).highlighted == lines_.index(tools)



@pytest.mark.slow
async def test_a_refresh_brings_new_sub_folders_of_open_folders(tmp_path: Path) -> None:
    """Follow mode: an open folder that had no sub-folders gets some; a folder read a page of gets more."""
    first = write_jsonl(tmp_path / "first.jsonl", [
        span("live", span_id="a", path="/tools/search", kind="tool", start_time=_at(0), end_time=_at(1)),
        span("live", span_id="b", path="/iteration/0", kind="llm", start_time=_at(1), end_time=_at(2)),
    ])
    db = Store(tmp_path / "store.duckdb")
    assert db.ingest([str(first)]).stored == 2
    app = AgentTraceApp(db, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        app.push_screen(SessionScreen(app.store, "live"))
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and len(
            app.screen.query_one(PathTree).root.children) == 2)
        screen = app.screen
        assert isinstance(screen, SessionScreen)
        tree = screen.query_one(PathTree)
        tools, iteration = tree.root.children
        tools.expand()
        await wait_for(pilot, lambda: len(tools.children) == 1)
        search = tools.children[0]
        search.expand()  # a folder of spans only
        iteration.expand()
        await wait_for(pilot, lambda: any(isinstance(c.data, SpanRef) for c in search.children)
                       and len(iteration.children) == 1)
        later = write_jsonl(tmp_path / "later.jsonl", [
            span("live", span_id="c", path="/tools/search/deep", kind="tool", start_time=_at(3), end_time=_at(4)),
            span("live", span_id="d", path="/iteration/1", kind="llm", start_time=_at(4), end_time=_at(5)),
        ])
        assert db.ingest([str(later)]).stored == 2
        screen.refresh_from_store()
        await wait_for(pilot, lambda: FolderRef("/tools/search/deep") in lines(tree, search)
                       and lines(tree, iteration) == [FolderRef("/iteration/0"), FolderRef("/iteration/1")])
        assert lines(tree, search)[0] == FolderRef("/tools/search/deep")  # sub-folders before the spans
        assert "2 spans" in str(search.label) and "4 spans" in str(tree.root.label)


@pytest.mark.slow
async def test_the_timeline_follows_the_tree_to_its_last_line(store: Store) -> None:
    """A tree whose labels overflow has a horizontal scrollbar, a line shorter than the timeline beside it:
    scrolled to the bottom, every bar must still sit beside its tree line."""
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wide(app, pilot)
        tree = screen.query_one(PathTree)
        timeline = screen.query_one(Timeline)
        iteration = tree.root.children[0]
        tree.select_line_of(iteration)
        await pilot.press("l")
        await wait_for(pilot, lambda: len(iteration.children) > 0)
        await pilot.press("G")
        await wait_for(pilot, lambda: tree.scroll_offset.y > 0)
        await pilot.pause()
        assert tree.scrollbar_size_horizontal == 1  # the case this is about
        assert timeline.scroll_offset.y == tree.scroll_offset.y
        assert timeline.highlighted == len(list(tree.visible_nodes())) - 1
