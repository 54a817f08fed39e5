"""Issue 18, finding 2: the explorer's list and session screens read a store holding times and durations
beyond the ranges (written before they were checked) without an exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from agenttrace_tui.store import Store
from agenttrace_tui.tui.app import AgentTraceApp

from store_helpers import old_store
from tui_helpers import SIZE, open_every_session


@pytest.mark.slow
async def test_the_explorer_opens_every_session_of_anold_store(tmp_path: Path) -> None:
    store = Store(old_store(tmp_path))
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        assert set(await open_every_session(app, pilot)) == {"good", "x", "year0", "year10000", "long"}
    assert app.return_code in (None, 0)
