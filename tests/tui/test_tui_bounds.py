"""One giant payload cannot make the explorer hang: a 20 MB prompt, a 20 MB output string and 100k-element arrays
are shown clipped, with a line saying how much is hidden and how to see more.

Timeouts below only bound a hang (wait_for gives up after them); nothing asserts how fast a step is.
"""

from __future__ import annotations

import re

import pytest

from agenttrace_tui.store import Store
from agenttrace_tui.tui.app import AgentTraceApp
from agenttrace_tui.tui.screens.session import SessionScreen
from agenttrace_tui.tui.screens.sessions import SessionTable
from agenttrace_tui.tui.widgets.detail import RAW_MAX_CHARS, DetailPane
from agenttrace_tui.tui.widgets.path_tree import FolderRef, PathTree, SpanRef

from store_helpers import span, write_jsonl
from tui_helpers import wait_for

pytestmark = pytest.mark.slow  # giant payloads through every view: over ~5 s (the fast loop, `pytest -m "not slow"`, skips it)

GIANT = 20 * 1024 * 1024


def hidden_count(text: str) -> int:
    counts = [int(n.replace(",", "")) for n in re.findall(r"… ([\d,]+) more characters", text)]
    assert counts, text[-300:]
    return max(counts)


@pytest.fixture(scope="module")
def giant_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("giant")
    records = [
        span("giant", span_id="llm", kind="llm", model="gpt-4o", path="/",
             input={"messages": [{"role": "user", "content": "Q" * GIANT}]},
             output={"role": "assistant", "content": "A" * 1000}),
        span("giant", span_id="tool", kind="tool", name="dump", path="/",
             input={"rows": list(range(100_000))}, output="O" * GIANT),
        span("giant", span_id="wide", kind="tool", name="wide", path="/",
             input={f"k{i}": i for i in range(100_000)}, output=[{"v": "x" * 10}] * 100_000),
    ]
    store = Store(folder / "s.duckdb")
    assert store.ingest([str(write_jsonl(folder / "t.jsonl", records))]).stored == 3
    return store


async def test_giant_payloads_are_clipped_in_every_view(giant_store: Store) -> None:
    app = AgentTraceApp(giant_store, keymap={})
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.view is not None)
        screen = app.screen
        assert isinstance(screen, SessionScreen)
        tree = screen.query_one(PathTree)
        detail = screen.query_one(DetailPane)
        await wait_for(pilot, lambda: sum(isinstance(n.data, SpanRef) for n in tree.visible_nodes()) == 3)
        for node in [n for n in tree.visible_nodes() if isinstance(n.data, SpanRef)]:
            assert isinstance(node.data, SpanRef)
            span_id = node.data.row.span_id
            tree.select_line_of(node)
            await wait_for(pilot, lambda: detail.detail is not None and detail.detail.row.span_id == span_id)
            await pilot.pause()
            shown = detail.rendered_text()
            assert len(shown) < 1_000_000, f"{span_id}: {len(shown):,} characters drawn"
            assert "more characters" in shown, span_id
            detail.toggle_raw()
            await pilot.pause()
            raw = detail.rendered_text()
            assert len(raw) < 2 * RAW_MAX_CHARS + 100_000, f"{span_id} raw: {len(raw):,} characters drawn"
            assert "more characters" in raw and "m shows" in raw, span_id
            if span_id == "tool":  # `m` shows the 20 MB string a bounded step at a time
                hidden = [hidden_count(raw)]
                for _ in range(2):
                    detail.action_show_more()
                    await pilot.pause()
                    hidden.append(hidden_count(detail.rendered_text()))
                assert hidden[0] > hidden[1] > hidden[2] > 0, hidden
                assert len(detail.rendered_text()) < 2 * 3 * RAW_MAX_CHARS + 10_000  # two sections, three pages
            detail.toggle_raw()
            detail.scroll_end(animate=False)  # drawing the last page of the clipped text
            await pilot.pause()
        folder = next(n for n in tree.visible_nodes() if isinstance(n.data, FolderRef))
        tree.select_line_of(folder)
        await pilot.press("b")  # the breakdown over the same spans
        await pilot.pause()
