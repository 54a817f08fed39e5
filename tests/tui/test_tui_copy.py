"""Issue 18, finding 11, in the explorer: what it draws and what `y` / `Y` copy hold no control or invisible character.

A session whose name, id, path, span name, span id and output hold escape sequences (ESC [2J, an OSC 52 clipboard
write), newlines that would run a command if pasted into a shell, and invisible characters (zero-width joiner, word
joiner, soft hyphen, Hangul filler, tag characters, variation selectors) is ingested into a real store. Under Pilot:
the segments of each screen, as the compositor would write them to the terminal, hold none of these; and the text
the app hands Textual's `copy_to_clipboard` is the text as shown (stand-ins included), with a warning saying so.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from rich.segment import Segment

from agenttrace_tui.store import Store
from agenttrace_tui.textsafe import sanitize
from agenttrace_tui.tui.app import AgentTraceApp
from agenttrace_tui.tui.screens.sessions import SessionsScreen
from agenttrace_tui.tui.widgets.detail import DetailPane

from store_helpers import span, write_jsonl
from tui_helpers import SIZE, open_first_span, table, wait_for

INVISIBLE = "\u200d\u2060\u00ad\u3164\u115f\uffa0\U000e0041\U000e0100\ufe0f\u200b\u2066\u202e\u2028"
HOSTILE = "\x1b[2J\x1b]52;c;ZXZpbA==\x07" + INVISIBLE + "\n; touch /tmp/pwned\n"
"""Escape sequences, the issue's invisible characters, and a newline that would run a command in a shell."""

SESSION_ID = "SID" + HOSTILE
SPAN_ID = "SPAN-ID" + HOSTILE
NAME = "NAME" + HOSTILE
OUTPUT = "OUT first line\n\tsecond line" + HOSTILE


def forbidden(char: str, *, lines: bool = False) -> bool:
    """Controls, format characters, separators and invisible characters (newline and tab allowed with lines)."""
    if lines and char in "\n\t":
        return False
    code = ord(char)
    return (unicodedata.category(char) in {"Cc", "Cf", "Cs", "Zl", "Zp"}
            or code in (0x115F, 0x1160, 0x3164, 0xFFA0) or 0xFE00 <= code <= 0xFE0F or 0xE0000 <= code <= 0xE0FFF)


def bad(text: str, *, lines: bool = False) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text if forbidden(c, lines=lines)})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("copy")
    store = Store(folder / "s.duckdb")
    result = store.ingest([str(write_jsonl(folder / "t.jsonl", [
        span(SESSION_ID, span_id=SPAN_ID, session_name=NAME, name="STEP" + HOSTILE, path="/PATH" + INVISIBLE,
             kind="tool", duration_ms=5, output=OUTPUT, properties={"KEY" + INVISIBLE: "VAL" + INVISIBLE}),
    ]))])
    assert result.stored == 1, result
    return store


@pytest.fixture
def clipboard(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the app hands Textual's copy_to_clipboard (which still runs: it writes OSC 52 itself)."""
    copied: list[str] = []
    original = AgentTraceApp.copy_to_clipboard

    def copy(self: AgentTraceApp, text: str) -> None:
        copied.append(text)
        original(self, text)

    monkeypatch.setattr(AgentTraceApp, "copy_to_clipboard", copy)
    return copied


def notifications(app: AgentTraceApp) -> list[Any]:
    return list(app._notifications)


def screen_text(app: AgentTraceApp) -> str:
    """The text of a full repaint's segments (what the driver turns into bytes); a control segment fails."""
    def segments() -> Iterator[Segment]:
        update = app.screen._compositor.render_update(full=True)
        assert update is not None
        for line in update.strips:  # type: ignore[attr-defined]
            for strip in line:
                yield from strip

    texts = []
    for segment in segments():
        assert segment.control is None
        texts.append(segment.text)
    return "".join(texts)


async def test_copy_on_the_list_is_the_text_as_shown(store: Store, clipboard: list[str]) -> None:
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and table(app).row_count == 1)
        await pilot.press("y")
        await wait_for(pilot, lambda: len(clipboard) == 1)
        assert clipboard[-1] == sanitize(NAME) and bad(clipboard[-1]) == []
        assert "␛[2J" in clipboard[-1] and "\\u200d" in clipboard[-1] and "␊; touch" in clipboard[-1]
        warning = notifications(app)[-1]
        assert warning.severity == "warning" and "as shown" in warning.message and bad(warning.message) == []

        await pilot.press("Y")
        await wait_for(pilot, lambda: len(clipboard) == 2)
        assert clipboard[-1] == sanitize(SESSION_ID) and bad(clipboard[-1]) == []
        assert bad(notifications(app)[-1].message) == []


async def test_copy_on_the_session_screen_keeps_an_output_s_lines_only(store: Store, clipboard: list[str]) -> None:
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and table(app).row_count == 1)
        await open_first_span(app, pilot, "first line")
        await pilot.press("y")  # the span's output: its newlines and tabs are content, as the detail pane shows
        await wait_for(pilot, lambda: len(clipboard) == 1)
        assert clipboard[-1] == sanitize(OUTPUT, single_line=False)
        assert bad(clipboard[-1], lines=True) == [] and "first line\n\tsecond" in clipboard[-1]
        await pilot.press("Y")  # the span's id: one line
        await wait_for(pilot, lambda: len(clipboard) == 2)
        assert clipboard[-1] == sanitize(SPAN_ID) and bad(clipboard[-1]) == []


async def test_no_invisible_character_is_drawn(store: Store) -> None:
    """The list, then the session with a span's detail open: every segment of the screen is clean."""
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "NAME" in screen_text(app))
        shown = screen_text(app)
        assert bad(shown, lines=True) == [], shown
        assert "\\u200d" in shown  # a stand-in, not nothing
        screen = await open_first_span(app, pilot, "first line")
        await pilot.pause()
        shown = screen_text(app)
        assert "STEP" in shown and bad(shown, lines=True) == [], shown
        detail = screen.query_one(DetailPane).rendered_text()  # the whole pane, below the fold too
        assert "first line" in detail and bad(detail, lines=True) == [], detail
