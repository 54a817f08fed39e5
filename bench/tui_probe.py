"""One headless run of `agenttrace tui`, timed frame by frame; prints one JSON object. Used by bench/run.py.

    python bench/tui_probe.py --db STORE --t0 EPOCH [--list-keys N] [--session ID [--tree-keys N]] [--dashboard]

Frames: the app's `_display` (called once per screen update, with the compositor's update even when headless)
is wrapped to note the time and to turn the update into the bytes a terminal would receive, so a "frame"
here costs what it costs on a real terminal except the write itself.

- first_screen_s: from `--t0` (the parent's clock just before it started this process, so interpreter start
  and imports count) to the first frame after the session list has loaded (rows drawn, or the empty-store
  message).
- key latencies: the key is sent with Pilot.press; the latency is from just before the press to the first
  frame after it (Textual paints at most 60 frames/s, so up to ~17 ms of it is the frame clock).
- session_open_s: from pushing the session screen to the first frame after its tree (the root open, its
  folders listed) and the timeline beside it are filled.
- dashboard_s: from pushing the analytics screen to the first frame showing its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
from textual._compositor import CompositorUpdate

from agenttrace_tui.store import Store
from agenttrace_tui.tui.app import READER_MEMORY_LIMIT, AgentTraceApp
from agenttrace_tui.tui.screens.sessions import SessionsScreen

SIZE = (160, 48)
TIMEOUT_S = 600.0


class FrameClock:
    def __init__(self, app: AgentTraceApp) -> None:
        self.last = 0.0
        self.count = 0
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)  # what a real terminal would be sent
            if renderable is not None:
                self.last = time.perf_counter()
                self.count += 1
            original(screen, renderable)

        app._display = display  # type: ignore[method-assign]

    async def after(self, moment: float, timeout: float = TIMEOUT_S) -> float:
        """Wait for the first frame after `moment`; its time."""
        deadline = time.perf_counter() + timeout
        while self.last <= moment:
            if time.perf_counter() > deadline:
                raise TimeoutError("no frame")
            await asyncio.sleep(0.0005)
        return self.last


async def until(condition: Callable[[], bool]) -> float:
    deadline = time.perf_counter() + TIMEOUT_S
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition never met")
        await asyncio.sleep(0.001)
    return time.perf_counter()


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]

    return {"p50": at(0.5), "p95": at(0.95), "max": ordered[-1], "n": float(len(ordered))}


async def press_timed(pilot: Any, clock: FrameClock, keys: list[str]) -> list[float]:
    """Latency of each key that changed the screen (a key at the end of a list changes nothing: skipped)."""
    latencies = []
    for key in keys:
        await asyncio.sleep(0.03)  # a person's key repeat is ~30/s: let the previous frame settle
        started = time.perf_counter()
        await pilot.press(key)
        try:
            latencies.append(await clock.after(started, timeout=0.5) - started)
        except TimeoutError:
            pass
    return latencies


async def probe(args: argparse.Namespace) -> dict[str, Any]:
    # The store as `agenttrace tui` opens it (tui.app.run): reads capped at the explorer's memory limit.
    app = AgentTraceApp(Store(args.db, wait_seconds=5, reader_memory_limit=READER_MEMORY_LIMIT), keymap={})
    clock = FrameClock(app)
    result: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        listed = await until(lambda: isinstance(app.screen, SessionsScreen) and app.screen.listing is not None)
        first = await clock.after(listed)
        result["first_screen_s"] = time.time() - (time.perf_counter() - first) - args.t0
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        result["sessions"] = int(screen.listing.totals["sessions"]) if screen.listing is not None else 0
        if args.list_keys:
            keys = ["j"] * (args.list_keys - args.list_keys // 5) + ["k"] * (args.list_keys // 5)
            result["list_keys_ms"] = percentiles([1000 * s for s in await press_timed(pilot, clock, keys)])
        # imported here, as the app does, so the first screen's time doesn't pay for them
        from agenttrace_tui.tui.screens.dashboard import DashboardScreen
        from agenttrace_tui.tui.screens.session import SessionScreen
        from agenttrace_tui.tui.widgets.timeline import Timeline
        from textual.widgets import Static

        if args.session:
            pushed = time.perf_counter()
            session = SessionScreen(app.data, args.session)
            app.push_screen(session)
            filled = await until(lambda: session.view is not None and len(session._lines) > 1
                                 and bool(session.query_one(Timeline).rows))
            result["session_open_s"] = await clock.after(filled) - pushed
            result["tree_lines"] = len(session._lines)
            if args.tree_keys:
                # open the first folder (its first page of spans loads), down through it, and back up
                half = args.tree_keys // 2
                keys = ["j", "l"] + ["j"] * (half - 2) + ["k"] * (args.tree_keys - half)
                result["tree_keys_ms"] = percentiles([1000 * s for s in await press_timed(pilot, clock, keys)])
            app.pop_screen()
            await pilot.pause()
        if args.dashboard:
            pushed = time.perf_counter()
            dashboard = DashboardScreen(app.data, [], screen.listing.properties if screen.listing else ())
            app.push_screen(dashboard)
            shown = await until(lambda: bool(dashboard.query("#dashboard"))
                                and "Computing" not in str(dashboard.query_one("#dashboard", Static).content))
            result["dashboard_s"] = await clock.after(shown) - pushed
        result["frames"] = clock.count
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--t0", type=float, default=None, help="epoch seconds when the parent started us")
    parser.add_argument("--list-keys", type=int, default=0)
    parser.add_argument("--session")
    parser.add_argument("--tree-keys", type=int, default=0)
    parser.add_argument("--dashboard", action="store_true")
    args = parser.parse_args()
    if args.t0 is None:
        args.t0 = time.time()
    print(orjson.dumps(asyncio.run(probe(args))).decode())


if __name__ == "__main__":
    main()
