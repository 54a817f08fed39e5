"""Issue 18, finding 2: the explorer's list and session screens read a store holding times and durations
beyond the ranges (written before they were checked) without an exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from agenttrace_tui.store import Store
from agenttrace_tui.tui.app import AgentTraceApp
from agenttrace_tui.tui.screens.session import SessionScreen
from agenttrace_tui.tui.screens.sessions import SessionsScreen, SessionTable

from store_helpers import old_store
from tui_helpers import SIZE, table, wait_for


@pytest.mark.slow
async def test_the_explorer_opens_every_session_of_anold_store(tmp_path: Path) -> None:
    store = Store(old_store(tmp_path))
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        screen = app.screen
        assert isinstance(screen, SessionsScreen) and screen.listing is not None
        ids = [str(v) for v in screen.listing.raw["session_id"].to_pylist()]
        assert set(ids) == {"good", "x", "year0", "year10000", "long"}
        for row in range(len(ids)):
            table(app).move_cursor(row=row)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.view is not None)
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
    assert app.return_code in (None, 0)
