"""Terminal safety: trace content never acts on the terminal and is never read as markup.

Every displayed field of a crafted session (names, ids, paths, property keys and values, errors, inputs,
outputs, model, tool and agent names, user ids, tags, rejected lines) holds markup-like text and terminal control
sequences: CSI (ESC [2J), OSC 52 (clipboard write), OSC 8 (hyperlink), BEL, backspaces, bidi overrides. It is
ingested into a real store, then:

(a) every explorer screen and pane is rendered under Pilot, and the segments Textual's compositor would
    write to the terminal are checked: no control or bidi character in any text, no hyperlink from the
    data, and each field's markup visible literally;
(b) every CLI command with rich output runs in a real subprocess with a terminal forced on and a real width,
    and its output is checked the same way (escape sequences Rich writes for its own styles are allowed,
    nothing else).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.segment import Segment
from textual.pilot import Pilot

from agenttrace_tui.store import Store
from agenttrace_tui.tui.app import AgentTraceApp
from agenttrace_tui.tui.screens.dashboard import DashboardScreen
from agenttrace_tui.tui.screens.session import SessionScreen
from agenttrace_tui.tui.screens.sessions import SessionsScreen, SessionTable
from agenttrace_tui.tui.widgets.detail import DetailPane
from agenttrace_tui.tui.widgets.panels import SessionPanels
from agenttrace_tui.tui.widgets.path_tree import FolderRef, PathTree, SpanRef

from store_helpers import run_cli, write_jsonl
from tui_helpers import wait_for

HOSTILE = (
    "[bold red]x[/][link=https://evil.example]click[/link]"
    "\x1b[2J\x1b]52;c;ZXZpbA==\x07\x1b]8;;https://evil.example\x07L\x1b]8;;\x07\x07\x08\x08\u202eRTL\u2066i\u2069"
)
"""Markup, CSI clear-screen, OSC 52 clipboard write, OSC 8 link, BEL, backspaces, bidi override and isolate."""


def evil(tag: str) -> str:
    """A hostile value led by a tag naming its field, so truncation keeps the tag and the first markup."""
    return f"{tag}{HOSTILE}"


FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""What must never reach the terminal from data (newlines and tabs are the renderer's own business)."""

SESSION_ID = evil("SID")
TOOL_CALL_ID = "call_1"


def hostile_records() -> list[dict[str, Any]]:
    base = {"session_id": SESSION_ID, "session_name": evil("NAME"), "user_id": evil("USER")}
    agent_props = {"Agent-Name": evil("AGENT"), "Agent-Role": evil("ROLE"), evil("PKEY"): evil("PVAL")}
    return [
        {"type": "session", "session_id": SESSION_ID, "name": evil("NAME"), "tags": [evil("TAG")],
         "properties": {evil("PKEY"): evil("PVAL")}, "user_id": evil("USER")},
        {**base, "span_id": "agent-1", "path": "/" + evil("PATH"), "kind": "agent", "name": evil("AGENT"),
         "start_time": "2025-03-01T12:00:00Z", "end_time": "2025-03-01T12:00:09Z", "properties": agent_props},
        {**base, "span_id": "llm-1", "parent_id": "agent-1", "path": "/" + evil("PATH") + "/llm",
         "kind": "llm", "name": evil("LLMNAME"), "model": evil("MODEL"), "provider": evil("PROV"),
         "start_time": "2025-03-01T12:00:01Z", "end_time": "2025-03-01T12:00:02Z",
         "usage": {"input_tokens": 10, "output_tokens": 5}, "properties": agent_props,
         "input": {"messages": [{"role": "system", "content": evil("SYS")},
                                {"role": "user", "content": evil("IN")}],
                   "tools": [{"type": "function", "function": {"name": evil("TOOL")}}]},
         "output": {"role": "assistant", "content": evil("OUT"),
                    "tool_calls": [{"id": TOOL_CALL_ID, "type": "function",
                                    "function": {"name": evil("TOOL"), "arguments": json.dumps({"q": evil("ARG")})}}]}},
        {**base, "span_id": "tool-1", "parent_id": "agent-1", "path": "/tools/" + evil("TOOLPATH"), "kind": "tool",
         "name": evil("TOOL"), "start_time": "2025-03-01T12:00:03Z", "duration_ms": 1500,
         "input": {"q": evil("TIN")}, "output": evil("TOUT"), "properties": agent_props,
         "error": {"type": evil("ETYPE"), "message": evil("EMSG"), "stack": evil("STACK") + "\n  at x\n" * 12}},
        {**base, "span_id": "llm-2", "path": "/" + evil("PATH") + "/llm", "model": evil("MODEL"),
         "start_time": "2025-03-01T12:00:05Z", "duration_ms": 100, "status_code": 500, "error": evil("ESTR"),
         "input": evil("RAWIN"), "output": {"weird": evil("RAWOUT")}, "properties": agent_props,
         "extra_field": evil("EXTRA")},
    ]


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("hostile")
    traces = folder / "traces"
    traces.mkdir()
    # A file name with markup and an escape (given as its folder: a name with [] is a glob pattern otherwise).
    write_jsonl(traces / (evil("FILE").replace("/", "_")[:40] + "\x1b[2J.jsonl"), hostile_records())
    bad = traces / "bad.jsonl"
    bad.write_text(json.dumps({"session_id": evil("REJ"), "start_time": evil("BADTIME")}) + "\n")
    store = Store(folder / "s.duckdb")
    result = store.ingest([str(traces)])
    assert result.stored == len(hostile_records()) and result.rejected == 1
    return store


# -- (a) the explorer ---------------------------------------------------------------------------------------


def screen_segments(app: AgentTraceApp) -> Iterator[Segment]:
    """The segments of a full repaint: exactly what the driver turns into bytes for the terminal."""
    update = app.screen._compositor.render_update(full=True)
    assert update is not None
    for line in update.strips:  # type: ignore[attr-defined]
        for strip in line:
            yield from strip


def check_screen(app: AgentTraceApp, shown: list[str], where: str) -> None:
    lines: list[str] = []
    for segment in screen_segments(app):
        assert segment.control is None, f"{where}: a control segment"
        bad = FORBIDDEN.search(segment.text)
        assert bad is None, f"{where}: {bad.group()!r} reaches the terminal in {segment.text!r}"
        link = segment.style.link if segment.style is not None else None
        assert not (link and "evil" in link), f"{where}: a hyperlink from the data: {link}"
        lines.append(segment.text)
    shown.append("".join(lines))


async def settle(pilot: Pilot[None]) -> None:
    for _ in range(4):
        await pilot.pause(0.05)


async def check_all_pages(app: AgentTraceApp, pilot: Pilot[None], detail: DetailPane, shown: list[str],
                          where: str) -> None:
    """The detail pane page by page, top to bottom: what is below the fold is checked too."""
    detail.scroll_home(animate=False)
    for page in range(40):
        await settle(pilot)
        check_screen(app, shown, f"{where}, page {page}")
        if detail.scroll_y >= detail.max_scroll_y:
            return
        detail.scroll_page_down(animate=False)
    raise AssertionError(f"{where}: more than 40 pages")


async def expand_everything(pilot: Pilot[None], tree: PathTree, spans: int) -> None:
    """Open every folder until `spans` span lines show. A folder's sub-folders arrive from a worker after it
    opens, so expanding is part of the poll: a fixed number of rounds missed those that came late."""

    def all_open() -> bool:
        closed = [n for n in tree.visible_nodes() if isinstance(n.data, FolderRef) and not n.is_expanded]
        for node in closed:
            node.expand()
        return not closed and sum(isinstance(n.data, SpanRef) for n in tree.visible_nodes()) == spans

    await wait_for(pilot, all_open)


@pytest.mark.slow
async def test_every_screen_shows_hostile_fields_as_plain_text(hostile_store: Store) -> None:
    shown: list[str] = []
    app = AgentTraceApp(hostile_store, keymap={})
    async with app.run_test(size=(200, 80)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(SessionTable)))
        await settle(pilot)
        check_screen(app, shown, "session list")

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.view is not None)
        screen = app.screen
        assert isinstance(screen, SessionScreen)
        tree = screen.query_one(PathTree)
        await settle(pilot)
        check_screen(app, shown, "session tree (root)")
        await expand_everything(pilot, tree, spans=4)
        check_screen(app, shown, "session tree expanded + timeline")

        detail = screen.query_one(DetailPane)
        span_nodes = [n for n in tree.visible_nodes() if isinstance(n.data, SpanRef)]
        for node in span_nodes:
            assert isinstance(node.data, SpanRef)
            span_id = node.data.row.span_id
            tree.select_line_of(node)
            await wait_for(pilot, lambda: detail.detail is not None and detail.detail.row.span_id == span_id)
            await settle(pilot)
            await check_all_pages(app, pilot, detail, shown, f"detail of {span_id}")
            detail.action_toggle_stack()
            await check_all_pages(app, pilot, detail, shown, f"detail of {span_id}, full stack")
            detail.toggle_raw()
            await check_all_pages(app, pilot, detail, shown, f"raw detail of {span_id}")
            detail.toggle_raw()
        folder = next(n for n in tree.visible_nodes() if isinstance(n.data, FolderRef) and n.data.path != "/")
        tree.select_line_of(folder)
        await settle(pilot)
        check_screen(app, shown, "folder detail")

        await pilot.press("c")  # the causal (parent) view
        await settle(pilot)
        check_screen(app, shown, "parent view")
        await pilot.press("c")

        await pilot.press("b")
        panels = screen.query_one(SessionPanels)
        await settle(pilot)
        for key in ("$", "t", "e"):
            panels.action_show_tab({"$": "cost", "t": "latency", "e": "errors"}[key])
            for _ in range(4):
                await settle(pilot)
                check_screen(app, shown, f"breakdown {key}")
                panels.action_cycle_view(1)

        await pilot.press("A")
        await settle(pilot)
        await wait_for(pilot, lambda: "AGENT" in "".join(s.text for s in screen_segments(app)))
        check_screen(app, shown, "agents")

        await pilot.press("slash", *"IN", "enter")  # search: the match list and crumb
        await settle(pilot)
        check_screen(app, shown, "search")

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await wait_for(pilot, lambda: "Computing" not in "".join(s.text for s in screen_segments(app)))
        await settle(pilot)
        check_screen(app, shown, "dashboard")
        await pilot.press("p")
        await settle(pilot)
        await wait_for(pilot, lambda: "Computing" not in "".join(s.text for s in screen_segments(app)))
        check_screen(app, shown, "dashboard compared")

    everything = "\n".join(shown)
    for tag in ("SID", "NAME", "PATH", "PKEY", "PVAL", "MODEL", "TOOL", "AGENT", "ROLE", "USER", "IN", "OUT", "SYS",
                "ETYPE", "EMSG", "STACK", "ESTR", "RAWIN", "RAWOUT", "TIN", "TOUT", "LLMNAME", "PROV", "ARG", "EXTRA"):
        # "[bold" (a line may wrap after it): had the markup been parsed, "[bold red]" would have vanished.
        assert f"{tag}[bold" in everything, f"{tag}: not shown, or its markup was interpreted"
    assert "␛[2J" in everything and "␛]52;c;" in everything  # the sequences are visible, defused
    assert "[link=https://evil.example]click[/link]" in everything


def test_the_forbidden_pattern_catches_what_it_must() -> None:
    for char in "\x1b\x07\x08\x00\x9b\u202e\u2066\u2069\u200f":
        assert FORBIDDEN.search(f"a{char}b"), repr(char)
    assert not FORBIDDEN.search("[bold]␛[2J ␇ plain é 😀")


# -- (b) the command line -------------------------------------------------------------------------------------

RICH_SGR = re.compile(r"\x1b\[[0-9;]*m")
"""Rich's own styling (colors, bold, dim): the only escape sequences a command may write."""


def terminal_env(width: int = 200) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"COLUMNS": str(width), "LINES": "50", "FORCE_COLOR": "1", "TERM": "xterm-256color",
                "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"})
    env.pop("NO_COLOR", None)
    return env


def check_cli_output(text: str, where: str) -> str:
    without_styles = RICH_SGR.sub("", text)
    bad = FORBIDDEN.search(without_styles)
    assert bad is None, f"{where}: {bad.group()!r} in {without_styles[max(0, bad.start() - 40):bad.end() + 40]!r}"
    assert "\x1b]8;" not in text and "evil.example\x1b" not in text, f"{where}: a hyperlink"
    return without_styles


def cli(args: list[str], store: Store, where: str) -> str:
    result = run_cli([*args, "--db", str(store.path)], env=terminal_env())
    assert result.returncode in (0, 1), f"{where}: {result.stderr}"
    assert "\x1b[" in result.stdout + result.stderr or not result.stdout.strip() or where in ("sql",), (
        f"{where}: the terminal was not forced on, so this proves nothing")
    return check_cli_output(result.stdout, where) + check_cli_output(result.stderr, where)


@pytest.mark.slow
def test_cli_rich_output_is_escaped(hostile_store: Store, tmp_path: Path) -> None:
    outputs = {
        "sessions": cli(["sessions"], hostile_store, "sessions"),
        "show": cli(["show", SESSION_ID, "--spans", "-1"], hostile_store, "show"),
        "stats": cli(["stats"], hostile_store, "stats"),
        "stats by": cli(["stats", "--by", "prop.Agent-Name"], hostile_store, "stats by"),
        "rejects": cli(["rejects"], hostile_store, "rejects"),
        "sql": cli(["sql", "SELECT session_id, name, path, model, user_id, error, input, properties FROM spans"],
                   hostile_store, "sql"),
    }
    assert "NAME[bold" in outputs["sessions"]
    assert "SID[bold" in outputs["show"] and "PATH[bold" in outputs["show"]
    assert "EMSG[bold" in outputs["show"] or "ESTR[bold" in outputs["show"]
    assert "[bold" in outputs["stats"]
    assert "AGENT[bold" in outputs["stats by"]
    assert "REJ[bold" in outputs["rejects"] and "BADTIME[bold" in outputs["rejects"]
    assert "MODEL[bold" in outputs["sql"] and "USER[bold" in outputs["sql"]
    assert "␛[2J" in outputs["show"] and "[link=https://evil.example]" in outputs["show"]

    # Errors quote user input: one line, defused.
    missing = run_cli(["show", evil("NOPE"), "--db", str(hostile_store.path)], env=terminal_env())
    assert missing.returncode == 2
    text = check_cli_output(missing.stderr, "show missing")
    assert "NOPE[bold" in text and text.strip().count("\n") == 0
    bad_filter = run_cli(["sessions", "--filter", "nmae = " + HOSTILE, "--db", str(hostile_store.path)], env=terminal_env())
    assert bad_filter.returncode == 2
    assert "[bold red]x[/]" in check_cli_output(bad_filter.stderr, "bad filter")
    bad_sql = run_cli(["sql", "SELECT '" + HOSTILE.replace("'", "''") + "' FROM nowhere", "--db",
                       str(hostile_store.path)], env=terminal_env())
    assert bad_sql.returncode == 2
    check_cli_output(bad_sql.stderr, "bad sql")

    # Ingest's own report: file names and rejected lines from the data.
    trace = tmp_path / "t.jsonl"
    trace.write_text(json.dumps({"session_id": evil("ING"), "start_time": evil("BADT")}) + "\n"
                     + HOSTILE + "\n")
    ingest = run_cli(["ingest", str(trace), "--db", str(tmp_path / "x.duckdb")], env=terminal_env())
    assert ingest.returncode == 1
    text = check_cli_output(ingest.stderr, "ingest report")
    assert "BADT[bold" in text
