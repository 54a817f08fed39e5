"""Golden screens: the main screens as plain text, compared line for line (reviewable in a diff).

Regenerate after a deliberate change with `AGENTTRACE_UPDATE_SNAPSHOTS=1 python -m pytest tests/tui/test_tui_snapshots.py`
and read the new files before committing them.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest

from agenttrace_tui.store import Store
from agenttrace_tui.tui.app import AgentTraceApp
from agenttrace_tui.tui.screens.session import SessionScreen
from agenttrace_tui.tui.screens.sessions import SessionTable
from agenttrace_tui.tui.widgets.detail import DetailPane
from agenttrace_tui.tui.widgets.path_tree import FolderRef, PathTree, SpanRef

from store_helpers import SAMPLES
from tui_helpers import wait_for

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
SIZE = (140, 40)
SESSION = "agent-1740992739-iunncptly"  # Customer Support - Gear Comparison: retries, a tool, 2 errors


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    db = Store(tmp_path_factory.mktemp("snap") / "samples.duckdb")
    assert db.ingest([str(SAMPLES)]).ok
    return db


CELL_WIDTH = 12.2  # px per column in Textual's SVG export


def screen_text(app: AgentTraceApp) -> str:
    """The screen as text: each SVG text run placed at its column (runs skip blank cells)."""
    svg = app.export_screenshot()
    runs = re.findall(r'<text[^>]*x="([\d.]+)"[^>]*clip-path="url\(#terminal-\d+-line-(\d+)\)"[^>]*>(.*?)</text>', svg)
    rows = [[" "] * SIZE[0] for _ in range(SIZE[1])]
    for x, line, fragment in runs:
        column = round(float(x) / CELL_WIDTH)
        for offset, char in enumerate(html.unescape(fragment).replace("\xa0", " ")):
            if column + offset < SIZE[0]:
                rows[int(line)][column + offset] = char
    text = "\n".join("".join(row).rstrip() for row in rows) + "\n"
    # The detail shows where a span came from: an absolute path that differs between checkouts.
    return text.replace(str(SAMPLES), "<repo>/sample_traces")


async def settled_text(app: AgentTraceApp, pilot: object) -> str:
    """The screen once two captures in a row agree: workers and repaints have finished."""
    import asyncio

    previous = ""
    for _ in range(100):
        await app.workers.wait_for_complete()
        await pilot.pause()  # type: ignore[attr-defined]
        text = screen_text(app)
        if text == previous:
            return text
        previous = text
        await asyncio.sleep(0.05)
    return previous


def check(name: str, text: str) -> None:
    golden = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("AGENTTRACE_UPDATE_SNAPSHOTS") or not golden.exists():  # pragma: no cover
        golden.write_text(text, encoding="utf-8")
        if not os.environ.get("AGENTTRACE_UPDATE_SNAPSHOTS"):
            pytest.fail(f"wrote a new snapshot {golden.name}: read it, then commit it")
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.slow
async def test_sessions_screen(store: Store) -> None:
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        await wait_for(pilot, lambda: "Customer Support - Trip Planning" in screen_text(app))
        check("sessions", await settled_text(app, pilot))


@pytest.mark.slow
async def test_session_screen_tree_timeline_and_detail(store: Store) -> None:
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        app.push_screen(SessionScreen(app.store, SESSION))
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and bool(
            app.screen.query_one(PathTree).root.children))
        screen = app.screen
        tree = screen.query_one(PathTree)
        iteration = next(c for c in tree.root.children if c.data == FolderRef("/iteration"))
        tree.select_line_of(iteration)
        await pilot.press("l")
        await wait_for(pilot, lambda: bool(iteration.children))
        first = iteration.children[0]
        tree.select_line_of(first)
        await pilot.press("l")
        await wait_for(pilot, lambda: any(isinstance(c.data, SpanRef) for c in first.children))
        await pilot.press("j")
        await wait_for(pilot, lambda: "RateLimitError" in screen.query_one(DetailPane).rendered_text())
        await wait_for(pilot, lambda: "ERROR  RateLimitError" in screen_text(app) and "answer  1 span" in screen_text(app))
        check("session", await settled_text(app, pilot))
        await pilot.press("b")
        await wait_for(pilot, lambda: "gpt-4o-2024-08-06" in screen_text(app))
        check("session-breakdown", await settled_text(app, pilot))
