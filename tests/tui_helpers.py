"""Helpers for the explorer under Pilot (no tests here): the terminal size, the wait for app state, the list.

`wait_for` has no wall-clock deadline. A loaded machine makes every step slower, so a deadline in seconds
fails good tests there; instead it polls the app's state once per round and gives up after a number of rounds,
and a round in which one of the app's workers is still running does not count against that number (the work
the test waits for is under way). A predicate that queries a screen being replaced (`query_one` raising
`NoMatches`, or finding a widget of another type) counts as "not yet", not as a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.css.query import QueryError
from textual.pilot import Pilot
from textual.worker import WorkerState

from agenttrace_tui.tui.app import AgentTraceApp
from agenttrace_tui.tui.screens.session import SessionScreen
from agenttrace_tui.tui.screens.sessions import SessionsScreen, SessionTable
from agenttrace_tui.tui.widgets.detail import DetailPane
from agenttrace_tui.tui.widgets.path_tree import PathTree, SpanRef

SIZE = (160, 48)

ROUND_SECONDS = 0.05
"""Each round yields this long to the app's threads (not a deadline: only the number of rounds is bounded)."""
IDLE_ROUNDS = 1200
"""Rounds with no worker running before `wait_for` gives up (at least a minute of the app's idle time)."""
BUSY_ROUNDS = 60_000
"""Rounds with a worker running before `wait_for` gives up: a backstop against a worker that never ends."""
LONG_LIVED_GROUPS = frozenset({"follow", "serve"})
"""Worker groups that run as long as the app (they watch a child process): they never mean "busy"."""


def busy(app: Any) -> bool:
    """Is one of the app's workers (short-lived ones: loading a list, a session, a detail) pending or running?"""
    return any(worker.group not in LONG_LIVED_GROUPS and worker.state in (WorkerState.PENDING, WorkerState.RUNNING)
               for worker in app.workers)


def _holds(predicate: Callable[[], object]) -> bool:
    try:
        return bool(predicate())
    except QueryError:  # NoMatches / WrongType: the screen is still being built or replaced
        return False


async def wait_for(pilot: Pilot[Any], predicate: object, *, rounds: int = IDLE_ROUNDS) -> None:
    """Let workers finish: poll until the predicate holds (tests never assert on timings).

    Bounded by `rounds` idle rounds (and BUSY_ROUNDS busy ones), never by the clock; on giving up, the predicate
    is called once more outside the guard, so a query that still fails says why."""
    assert callable(predicate)
    idle = busy_rounds = 0
    while idle < rounds and busy_rounds < BUSY_ROUNDS:
        await pilot.pause()
        if _holds(predicate):
            return
        if busy(pilot.app):
            busy_rounds += 1
        else:
            idle += 1
        await asyncio.sleep(ROUND_SECONDS)
    if predicate():
        return
    raise AssertionError(f"condition not reached after {idle} idle and {busy_rounds} busy rounds")


def table(app: AgentTraceApp) -> SessionTable:
    return app.screen.query_one(SessionTable)


async def open_every_session(app: AgentTraceApp, pilot: Pilot[Any]) -> list[str]:
    """Wait for the list, then open each listed session's screen and come back; the ids, in list order."""
    await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and app.screen.listing is not None
                   and bool(app.screen.query(SessionTable)))
    screen = app.screen
    assert isinstance(screen, SessionsScreen) and screen.listing is not None
    ids = [str(v) for v in screen.listing.raw["session_id"].to_pylist()]
    for row in range(len(ids)):
        table(app).move_cursor(row=row)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.view is not None)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
    return ids


async def open_first_span(app: AgentTraceApp, pilot: Pilot[Any], showing: str) -> SessionScreen:
    """From the list: open the selected session, its first folder, and its first span, whose detail shows
    `showing`; the session screen."""
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.view is not None)
    screen = app.screen
    assert isinstance(screen, SessionScreen)
    tree = screen.query_one(PathTree)
    await wait_for(pilot, lambda: bool(tree.root.children))
    folder = tree.root.children[0]
    tree.select_line_of(folder)
    await pilot.press("l")
    await wait_for(pilot, lambda: any(isinstance(c.data, SpanRef) for c in folder.children))
    await pilot.press("j")
    await wait_for(pilot, lambda: showing in screen.query_one(DetailPane).rendered_text())
    return screen
