"""Opening a session: its first frame is the whole session when the read is done in time, and a "Loading…"
frame first when it isn't."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from store_helpers import SAMPLES
from textual.widgets import Static
from tui_helpers import SIZE, wait_for

from agenttrace_tui.store import Store
from agenttrace_tui.tui.app import AgentTraceApp
from agenttrace_tui.tui.loaders.session import SessionLoader
from agenttrace_tui.tui.screens import session as session_screen
from agenttrace_tui.tui.screens.session import SessionScreen
from agenttrace_tui.tui.screens.sessions import SessionTable
from agenttrace_tui.tui.widgets.detail import DetailPane
from agenttrace_tui.tui.widgets.path_tree import PathTree

SESSION = "agent-1740992739-iunncptly"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    db = Store(tmp_path_factory.mktemp("open") / "samples.duckdb")
    assert db.ingest([str(SAMPLES)]).ok
    return db


def record_frames(app: AgentTraceApp, seen: list[tuple[bool, str]]) -> None:
    """For each frame drawn of a session screen: whether its tree had lines, and its detail's text."""
    original = app._display

    def display(screen: Any, renderable: Any) -> None:
        if isinstance(screen, SessionScreen) and renderable is not None:
            seen.append((bool(screen.query_one(PathTree).root.children),
                         screen.query_one(DetailPane).rendered_text()))
        original(screen, renderable)

    app._display = display  # type: ignore[method-assign]


@pytest.mark.slow
async def test_a_session_read_in_time_is_the_first_frame(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_screen, "FIRST_FRAME_WAIT_SECONDS", 60.0)  # however slow this machine is
    app = AgentTraceApp(store, keymap={})
    frames: list[tuple[bool, str]] = []
    record_frames(app, frames)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        app.push_screen(SessionScreen(app.store, SESSION))
        await wait_for(pilot, lambda: bool(frames))
        has_lines, detail = frames[0]
        assert has_lines and detail.startswith("FOLDER  /") and "Loading" not in detail


@pytest.mark.slow
async def test_a_slow_read_shows_loading_then_the_session(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    original = SessionLoader.read_view

    def slow_session(self: SessionLoader, *args: Any, **kwargs: Any) -> Any:
        release.wait(30)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SessionLoader, "read_view", slow_session)
    monkeypatch.setattr(session_screen, "FIRST_FRAME_WAIT_SECONDS", 0.05)
    app = AgentTraceApp(store, keymap={})
    frames: list[tuple[bool, str]] = []
    record_frames(app, frames)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        app.push_screen(SessionScreen(app.store, SESSION))
        await wait_for(pilot, lambda: bool(frames))
        assert frames[0] == (False, "Loading…")
        release.set()
        await wait_for(pilot, lambda: frames[-1][0] and frames[-1][1].startswith("FOLDER  /"))


@pytest.mark.slow
async def test_the_breakdown_is_read_when_its_tab_is_shown(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from agenttrace_tui.tui.widgets.panels import PanelTable, SessionPanels

    monkeypatch.setattr(session_screen, "BREAKDOWN_IDLE_SECONDS", 3600.0)  # never idle long enough here
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        app.push_screen(SessionScreen(app.store, SESSION))
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.view is not None)
        screen = app.screen
        panels = screen.query_one(SessionPanels)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert panels.breakdown is None  # nothing asked for it yet
        await pilot.press("b")
        await wait_for(pilot, lambda: panels.breakdown is not None)
        await wait_for(pilot, lambda: isinstance(app.focused, PanelTable))  # as if it had been there already


@pytest.mark.slow
async def test_the_breakdown_is_read_once_the_cursor_is_still(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from agenttrace_tui.tui.widgets.agent_tree import AgentTree
    from agenttrace_tui.tui.widgets.panels import SessionPanels

    monkeypatch.setattr(session_screen, "BREAKDOWN_IDLE_SECONDS", 0.05)
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        app.push_screen(SessionScreen(app.store, SESSION))
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.view is not None)
        screen = app.screen
        await wait_for(pilot, lambda: screen.query_one(SessionPanels).breakdown is not None)
        message = screen.query_one(AgentTree).query_one("#agents-message", Static)
        await wait_for(pilot, lambda: "No agents" in str(message.render()))  # read, and this session has none
