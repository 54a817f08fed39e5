"""The explorer under Pilot on a real store of the sample traces: list → session → node → span → back."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from agenttrace_tui.store import Store
from agenttrace_tui.tui.app import AgentTraceApp
from agenttrace_tui.tui.screens.session import SessionScreen
from agenttrace_tui.tui.screens.sessions import SessionsScreen, SessionTable
from agenttrace_tui.tui.widgets.detail import DetailPane
from agenttrace_tui.tui.widgets.path_tree import FolderRef, PathTree, SpanRef
from agenttrace_tui.tui.widgets.timeline import Timeline

from store_helpers import SAMPLES, span, write_jsonl
from tui_helpers import SIZE, open_first_span, table, wait_for

@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("tui") / "samples.duckdb")
    assert store.ingest([str(SAMPLES)]).ok
    return store


def table_ids(app: AgentTraceApp) -> list[str]:
    screen = app.screen
    assert isinstance(screen, SessionsScreen) and screen.listing is not None
    return [str(v) for v in screen.listing.raw["session_id"].to_pylist()]


@pytest.mark.slow
async def test_sessions_list_sort_filter_and_errors_only(sample_store: Store) -> None:
    app = AgentTraceApp(sample_store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        assert table(app).row_count == 58
        totals = str(app.screen.query_one("#totals", Static).render())
        assert "58 sessions" in totals and "unpriced" in totals and "p95 duration" in totals
        newest_first = [s["session_id"] for s in sample_store.sessions()]
        assert table_ids(app) == newest_first

        await pilot.press("s")  # started → duration, descending
        await wait_for(pilot, lambda: "sort: duration" in str(app.screen.query_one("#crumb", Static).render()))
        await wait_for(pilot, lambda: table_ids(app)[0] == sample_store.sessions(sort="duration", descending=True)[0]["session_id"])
        await pilot.press("S")
        await wait_for(pilot, lambda: table_ids(app) == [s["session_id"] for s in
                                                           sample_store.sessions(sort="duration", descending=False)])

        await pilot.press("/")
        await pilot.press(*"errors > 1 and model ~ mini", "enter")
        expected = {s["session_id"] for s in sample_store.sessions(["errors > 1", "model ~ mini"])}
        await wait_for(pilot, lambda: set(table_ids(app)) == expected)

        await pilot.press("/", "ctrl+u", *"cots > 1", "enter")
        error_line = app.screen.query_one("#filter-error", Static)
        await wait_for(pilot, lambda: not error_line.has_class("hidden"))
        assert "unknown field 'cots'" in str(error_line.render())
        assert set(table_ids(app)) == expected  # the list stays as it was

        await pilot.press("escape")  # clears the filter
        await wait_for(pilot, lambda: len(table_ids(app)) == 58)
        await pilot.press("e")
        with_errors = {s["session_id"] for s in sample_store.sessions(["errors > 0"])}
        await wait_for(pilot, lambda: set(table_ids(app)) == with_errors)
        assert "errors only" in str(app.screen.query_one("#crumb", Static).render())


@pytest.mark.slow
async def test_drilldown_list_session_node_span_and_back(sample_store: Store) -> None:
    target = sample_store.sessions(["tool = search_database", "errors = 0", "name ~ support"], sort="spans",
                                   descending=True)[0]
    app = AgentTraceApp(sample_store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        row = table_ids(app).index(target["session_id"])
        table(app).move_cursor(row=row)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.view is not None)
        screen = app.screen
        assert isinstance(screen, SessionScreen)
        tree = screen.query_one(PathTree)
        crumb = str(screen.query_one("#crumb", Static).render())
        assert target["session_id"] in crumb and f"{target['spans']:,} spans" in crumb
        # The root is open: its sub-folders are lines, nothing below them is built yet.
        await wait_for(pilot, lambda: bool(tree.root.children))
        folders = [n for n in tree.root.children if isinstance(n.data, FolderRef)]
        assert {f.data.path for f in folders} >= {"/tools"}  # type: ignore[union-attr]
        tools = next(f for f in folders if f.data.path == "/tools")  # type: ignore[union-attr]
        assert not tools.is_expanded and len(list(tree.visible_nodes())) == 1 + len(tree.root.children)

        tree.select_line_of(tools)
        await pilot.press("l")  # expand /tools
        await wait_for(pilot, lambda: any(isinstance(c.data, FolderRef) for c in tools.children))
        search = next(c for c in tools.children if c.data == FolderRef("/tools/search_database"))
        tree.select_line_of(search)
        await pilot.press("enter")  # enter toggles a folder
        await wait_for(pilot, lambda: any(isinstance(c.data, SpanRef) for c in search.children))
        detail_text = lambda: screen.query_one(DetailPane).rendered_text()  # noqa: E731
        assert "search_database" in detail_text() or "/tools/search_database" in detail_text()

        await pilot.press("j")  # onto the first span: its detail loads after a short debounce
        first = tree.cursor_node
        assert first is not None and isinstance(first.data, SpanRef)
        await wait_for(pilot, lambda: '"query"' in detail_text() or "query" in detail_text())
        # The timeline mirrors the tree line for line.
        timeline = screen.query_one(Timeline)
        lines = list(tree.visible_nodes())
        assert len(timeline.rows) == len(lines)
        start = lines.index(search) + 1
        assert [row.key for row in timeline.rows][start:start + len(search.children)] == [
            c.data.row.span_id for c in search.children if isinstance(c.data, SpanRef)]
        assert timeline.highlighted == lines.index(first)

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        # Back on the list, its rows are drawn again (they once came back blank).
        await wait_for(pilot, lambda: "Customer Support - " in _svg_text(app.export_screenshot()))


@pytest.mark.slow
async def test_search_and_next_error(sample_store: Store) -> None:
    target = sample_store.sessions(["errors > 1", "tool = fetch_weather"], sort="errors", descending=True)[0]
    errors = [row[0] for row in sample_store.sql(
        f"SELECT span_id FROM spans WHERE session_id = '{target['session_id']}' AND status = 'error' "
        "ORDER BY start_time, span_id")[1]]
    app = AgentTraceApp(sample_store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        table(app).move_cursor(row=table_ids(app).index(target["session_id"]))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.view is not None)
        screen = app.screen
        assert isinstance(screen, SessionScreen)
        tree = screen.query_one(PathTree)

        def cursor_span() -> str | None:
            node = tree.cursor_node
            return node.data.row.span_id if node is not None and isinstance(node.data, SpanRef) else None

        await pilot.press("E")
        await wait_for(pilot, lambda: cursor_span() == errors[0])
        await pilot.press("E")
        await wait_for(pilot, lambda: cursor_span() == errors[1])

        await pilot.press("/")
        assert isinstance(app.focused, Input)
        await pilot.press(*"fetch_weather", "enter")
        weather = [row[0] for row in sample_store.sql(
            f"SELECT span_id FROM spans WHERE session_id = '{target['session_id']}' AND (name ILIKE '%fetch_weather%' "
            "OR path ILIKE '%fetch_weather%' OR input::VARCHAR ILIKE '%fetch_weather%' "
            "OR output::VARCHAR ILIKE '%fetch_weather%') ORDER BY start_time, span_id")[1]]
        await wait_for(pilot, lambda: cursor_span() == weather[0])
        await pilot.press("n")
        await wait_for(pilot, lambda: cursor_span() == weather[1])
        await pilot.press("N")
        await wait_for(pilot, lambda: cursor_span() == weather[0])


@pytest.mark.slow
async def test_untrusted_names_are_shown_literally(tmp_path: Path) -> None:
    evil = "\x1b[2J[bold red]boom[/] \x1b]52;c;aGk=\x07 [link=http://x]click[/link]"
    store = Store(tmp_path / "evil.duckdb")
    store.ingest([str(write_jsonl(tmp_path / "e.jsonl", [
        span("evil-session", session_name=evil, name=evil, path="/[bold]x", kind="tool",
             error={"type": evil, "message": evil}, output={"text": evil}),
    ]))])
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "boom" in _svg_text(app.export_screenshot()))
        shown = _svg_text(app.export_screenshot())
        assert "[bold red]boom[/]" in shown and "␛[2J" in shown and "\x1b" not in shown
        await open_first_span(app, pilot, "boom")
        text = _svg_text(app.export_screenshot())
        assert "[bold]x" in text and "[bold red]boom[/]" in text and "\x1b" not in text


def _svg_text(svg: str) -> str:
    """The visible text of a Textual SVG screenshot (entities decoded, spans joined)."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


async def test_empty_store_says_how_to_get_data_in(tmp_path: Path) -> None:
    app = AgentTraceApp(Store(tmp_path / "missing.duckdb"), keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "agenttrace ingest" in _svg_text(app.export_screenshot()))
        assert "sample_traces" in _svg_text(app.export_screenshot())


async def test_export_writes_the_listed_sessions(sample_store: Store, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = AgentTraceApp(sample_store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        await pilot.press("e")
        await wait_for(pilot, lambda: len(table_ids(app)) < 58)
        shown = len(table_ids(app))
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: bool(list(tmp_path.glob("agenttrace-sessions-*.csv"))))
        exported = next(tmp_path.glob("agenttrace-sessions-*.csv")).read_text().splitlines()
        assert len(exported) == shown + 1  # header + the rows shown


async def test_keymap_from_config_remaps_a_binding(sample_store: Store) -> None:
    app = AgentTraceApp(sample_store, keymap={"sessions.errors": "x"})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        await pilot.press("x")
        await wait_for(pilot, lambda: len(table_ids(app)) == len(sample_store.sessions(["errors > 0"])))


def test_every_binding_has_an_id_and_is_documented() -> None:
    """Keys can be remapped only by id, so every binding needs one, listed in docs/explorer.md."""
    from textual.binding import Binding

    from agenttrace_tui.tui.screens.dashboard import DashboardScreen
    from agenttrace_tui.tui.screens.session import SessionScreen
    from agenttrace_tui.tui.widgets.agent_tree import AgentTreeView
    from agenttrace_tui.tui.widgets.panels import PanelTable, SessionPanels
    from agenttrace_tui.tui.widgets.timeline import Timeline

    docs = (Path(__file__).resolve().parents[2] / "docs" / "explorer.md").read_text()
    classes = [AgentTraceApp, SessionsScreen, SessionTable, SessionScreen, PathTree, DetailPane, SessionPanels,
               PanelTable, Timeline, DashboardScreen, AgentTreeView]
    ids = []
    for cls in classes:
        for binding in cls.__dict__.get("BINDINGS", []):
            assert isinstance(binding, Binding) and binding.id, f"{cls.__name__}: {binding}"
            ids.append(binding.id)
    missing = [binding_id for binding_id in ids if f"`{binding_id}`" not in docs]
    assert missing == []


@pytest.mark.slow
async def test_analytics_dashboard_describes_the_listed_sessions(sample_store: Store) -> None:
    from agenttrace_tui.tui.screens.dashboard import DashboardScreen

    with_errors = sample_store.stats(["errors > 0"])
    app = AgentTraceApp(sample_store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        await pilot.press("e")
        await wait_for(pilot, lambda: len(table_ids(app)) == with_errors.sessions)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        headline = f"{with_errors.sessions} sessions · {with_errors.spans} spans"
        await wait_for(pilot, lambda: headline in _svg_text(app.export_screenshot()))
        await pilot.press("G")
        await wait_for(pilot, lambda: "Compare by prop." in _svg_text(app.export_screenshot()))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))


@pytest.mark.slow
async def test_agent_tree_jumps_to_an_agents_spans(sample_store: Store) -> None:
    from agenttrace_tui.tui.widgets.agent_tree import AgentTree

    target = sample_store.sessions(["name ~ research"], sort="spans", descending=True)[0]
    agent_spans = {row[0] for row in sample_store.sql(
        f"SELECT span_id FROM spans WHERE session_id = '{target['session_id']}' "
        "AND json_extract_string(properties, '$.\"Agent-Name\"') = 'research-agent'")[1]}
    app = AgentTraceApp(sample_store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        app.push_screen(SessionScreen(app.store, target["session_id"]))
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.view is not None)
        screen = app.screen
        agents = screen.query_one(AgentTree)
        await wait_for(pilot, lambda: bool(agents.roots))
        assert [root.name for root in agents.roots] == ["coordinator"]
        assert [child.name for child in agents.roots[0].children] == ["research-agent"]
        await pilot.press("A")
        await pilot.press("j", "enter")  # the research-agent line
        tree = screen.query_one(PathTree)
        await wait_for(pilot, lambda: tree.cursor_node is not None and isinstance(tree.cursor_node.data, SpanRef)
                       and tree.cursor_node.data.row.span_id in agent_spans)



async def test_a_filter_value_out_of_range_is_shown_not_a_crash(tmp_path: Path) -> None:
    """Issue 18, finding 6: `/` then `started > 99999999999d` ended the explorer with a traceback."""
    store = Store(tmp_path / "s.duckdb")
    assert store.ingest([str(write_jsonl(tmp_path / "t.jsonl", [span("a", span_id="a"),
                                                                 span("b", span_id="b", status="error")]))]).ok
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)) and len(table_ids(app)) == 2)
        error_line = app.screen.query_one("#filter-error", Static)
        for expression in ("started > 99999999999d", "started < 9999-12-31T23:59-01:00", "errors > nan"):
            await pilot.press("/")
            app.screen.query_one("#filter", Input).value = expression  # as typed, without a press per key
            await pilot.press("enter")
            await wait_for(pilot, lambda: f"bad filter {expression!r}" in str(error_line.render())
                           and not error_line.has_class("hidden"))
            assert isinstance(app.screen, SessionsScreen) and len(table_ids(app)) == 2  # the list stays
        await pilot.press("/", "ctrl+u", *"errors > 0", "enter")
        await wait_for(pilot, lambda: table_ids(app) == ["b"])
    assert app.return_code in (None, 0)
