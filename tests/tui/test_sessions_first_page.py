"""The session list draws a first page, then the whole list replaces it with the cursor where it was."""

from __future__ import annotations

import pytest
from store_helpers import SAMPLES
from tui_helpers import SIZE, wait_for

from agenttrace_tui.store import Store, compile_filters
from agenttrace_tui.store.read.sessions import informative_properties, sessions_table
from agenttrace_tui.tui.app import AgentTraceApp
from agenttrace_tui.tui.screens import sessions as sessions_screen
from agenttrace_tui.tui.screens.sessions import SessionsScreen, SessionTable


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("page") / "samples.duckdb")
    assert store.ingest([str(SAMPLES)]).ok
    return store


@pytest.mark.slow
def test_a_first_page_is_the_head_of_the_whole_list(sample_store: Store) -> None:
    with sample_store.reader() as con:
        properties = informative_properties(con)
        for filters in ([], ["errors > 0"]):
            for sort, descending in (("start", True), ("name", False), ("end", True), ("tokens", True)):
                where = compile_filters(filters)
                whole = sessions_table(con, where, sort=sort, descending=descending, properties=properties)
                page = sessions_table(con, where, sort=sort, descending=descending, properties=properties, limit=5)
                assert page.num_rows == 5 and page.equals(whole.slice(0, 5))


async def test_the_whole_list_replaces_the_first_page_keeping_the_cursor(
    sample_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions_screen, "FIRST_PAGE_ROWS", 5)
    seen: list[tuple[int, bool]] = []
    app = AgentTraceApp(sample_store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        original = screen._load_rest

        def rest(generation: int) -> None:
            # the page is on screen: move the cursor before the whole list is asked for
            assert screen.listing is not None
            seen.append((screen.listing.raw.num_rows, screen.listing.complete))
            screen.query_one(SessionTable).move_cursor(row=3)
            original(generation)

        monkeypatch.setattr(screen, "_load_rest", rest)
        screen.reload()
        await wait_for(pilot, lambda: screen.listing is not None and screen.listing.complete
                       and screen.query_one(SessionTable).row_count == 58)
        assert (5, False) in seen
        assert screen.query_one(SessionTable).cursor_row == 3
        assert screen.listing is not None and screen.listing.totals["sessions"] == 58
        with sample_store.reader() as con:
            whole = sessions_table(con, compile_filters([]), sort="start", descending=True,
                                   properties=screen.listing.properties)
        assert screen.listing.raw.equals(whole)
        assert screen.selected_session_id() == whole["session_id"][3].as_py()
