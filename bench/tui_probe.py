"""One headless run of `agenttrace tui`, timed frame by frame; prints one JSON object. Used by bench/run.py.

    python bench/tui_probe.py --db STORE --t0 EPOCH [--list-keys N] [--session ID [--tree-keys N]] [--dashboard]

Frames: the app's `_display` (called once per screen update, with the compositor's update even when headless)
is wrapped to note the time and to turn the update into the bytes a terminal would receive, so a "frame"
here costs what it costs on a real terminal except the write itself.

- first_screen_s: from `--t0` (the parent's clock just before it started this process, so interpreter start
  and imports count) to the first frame after the session list has loaded (rows drawn, or the empty-store
  message).
- key latencies: the key is sent with Pilot.press; the latency is from just before the press to the first
  frame drawn after the last redraw that something the key caused asked for (its binding's action, the
  messages that posts, their handlers …: KeyChain), so a frame that shows only part of the key's work (the
  tree's cursor before the detail pane) doesn't count, nor does a later frame that a worker caused. Textual paints at most
  60 frames/s, so up to ~17 ms of a figure is the frame clock. (This probe first took the last frame before
  Pilot.press returned; press waits until the process is idle, so frames of workers finishing meanwhile counted
  as the key's.)
- session_open_s: from pushing the session screen (once the list is on screen, whole, with nothing left to
  read: pushed right after its first page, the open shared the event loop with that list's layout and reads)
  to the first frame after its tree (the root open, its folders listed) and the timeline beside it are filled. Before leaving the screen the probe waits until it has
  read everything it reads unasked (the breakdown and agents tabs, the critical path: session_reads_done_s), so
  their memory counts in the process's peak RSS.
- dashboard_s: from pushing the analytics screen to the first frame showing its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import functools
import inspect
import time
from collections.abc import Callable
from typing import Any

import orjson
from textual import events
from textual._compositor import CompositorUpdate
from textual.message import Message
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.widget import Widget

from agenttrace_tui.store import Store
from agenttrace_tui.tui.app import READER_MEMORY_LIMIT, AgentTraceApp
from agenttrace_tui.tui.screens.sessions import SessionsScreen

SIZE = (160, 48)
TIMEOUT_S = 600.0


class FrameClock:
    def __init__(self, app: AgentTraceApp) -> None:
        self.frames: list[float] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)  # what a real terminal would be sent
            if renderable is not None:
                self.frames.append(time.perf_counter())
            original(screen, renderable)

        app._display = display  # type: ignore[method-assign]

    @property
    def count(self) -> int:
        return len(self.frames)

    async def after(self, moment: float, timeout: float = TIMEOUT_S) -> float:
        """Wait for the first frame after `moment`; its time."""
        deadline = time.perf_counter() + timeout
        while not self.frames or self.frames[-1] <= moment:
            if time.perf_counter() > deadline:
                raise TimeoutError("no frame")
            await asyncio.sleep(0.0005)
        return self.frames[bisect.bisect_right(self.frames, moment)]


class KeyChain:
    """What a key caused: the key event, and every message the event loop posted while dispatching one of them
    (a binding's action, the events and messages it posts, their handlers' messages, the callbacks they defer to
    after a refresh or to the next turn …). `refreshed` is when the last of them asked a widget to redraw: the first frame after it is the first to show the whole of the key's
    work. Messages posted from worker threads, and by timers the key started, are not the key's."""

    def __init__(self) -> None:
        self.caused: dict[int, Message] = {}  # by id; held so an id can't be reused while we look
        self.refreshed = 0.0
        dispatching: dict[asyncio.Task[Any] | None, int] = {}
        chain = self
        original_post = MessagePump.post_message
        original_dispatch = MessagePump._dispatch_message
        original_refresh = Widget.refresh

        def current_task() -> asyncio.Task[Any] | None:
            try:
                return asyncio.current_task()
            except RuntimeError:  # a worker thread: no event loop
                return None

        def post_message(pump: MessagePump, message: Message) -> bool:
            if isinstance(message, events.Key) or dispatching.get(current_task(), 0) > 0:
                chain.caused[id(message)] = message
            return original_post(pump, message)

        async def dispatch_message(pump: MessagePump, message: Message) -> None:
            if id(message) not in chain.caused:
                return await original_dispatch(pump, message)
            task = current_task()
            dispatching[task] = dispatching.get(task, 0) + 1
            try:
                return await original_dispatch(pump, message)
            finally:
                dispatching[task] -= 1

        def refresh(widget: Widget, *args: Any, **kwargs: Any) -> Widget:
            if dispatching.get(current_task(), 0) > 0:
                chain.refreshed = time.perf_counter()
            return original_refresh(widget, *args, **kwargs)

        def the_keys(callback: Callable[[], Any]) -> Callable[[], Any]:
            """A callback deferred by the key's work (to after a refresh: a tree scrolling its cursor into
            view) is the key's work too."""
            if dispatching.get(current_task(), 0) == 0:
                return callback

            async def run() -> Any:
                task = current_task()
                dispatching[task] = dispatching.get(task, 0) + 1
                try:
                    result = callback()
                    return await result if inspect.isawaitable(result) else result
                finally:
                    dispatching[task] -= 1

            return run

        def invoke_later(screen: Screen[Any], callback: Callable[[], Any], sender: MessagePump) -> None:
            original_invoke_later(screen, the_keys(callback), sender)

        def call_next(pump: MessagePump, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
            original_call_next(pump, the_keys(functools.partial(callback, *args, **kwargs)))

        original_invoke_later = Screen._invoke_later
        original_call_next = MessagePump.call_next
        MessagePump.post_message = post_message  # type: ignore[method-assign,assignment]
        MessagePump._dispatch_message = dispatch_message  # type: ignore[method-assign,assignment]
        Widget.refresh = refresh  # type: ignore[method-assign,assignment]
        Screen._invoke_later = invoke_later  # type: ignore[method-assign,assignment]
        MessagePump.call_next = call_next  # type: ignore[method-assign,assignment]

    def start(self) -> None:
        self.caused.clear()
        self.refreshed = 0.0


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


async def press_timed(pilot: Any, clock: FrameClock, chain: KeyChain, keys: list[str]) -> list[float]:
    """Latency of each key that changed the screen (a key at the end of a list redraws nothing: skipped): from
    just before the press to the first frame after the last redraw the key asked for (KeyChain), which shows
    all of it. Frames that workers cause meanwhile are not the key's, unless the key's own work waited for them."""
    latencies = []
    for key in keys:
        await asyncio.sleep(0.03)  # a person's key repeat is ~30/s: let the previous frame settle
        chain.start()
        started = time.perf_counter()
        await pilot.press(key)  # returns once the process is idle again
        if not chain.refreshed:
            continue  # the key redrew nothing
        try:
            latencies.append(await clock.after(chain.refreshed, timeout=0.5) - started)
        except TimeoutError:
            pass
    return latencies


async def probe(args: argparse.Namespace) -> dict[str, Any]:
    # The store as `agenttrace tui` opens it (tui.app.run): reads capped at the explorer's memory limit.
    app = AgentTraceApp(Store(args.db, wait_seconds=5, reader_memory_limit=READER_MEMORY_LIMIT), keymap={})
    clock = FrameClock(app)
    chain = KeyChain()
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
            result["list_keys_ms"] = percentiles([1000 * s for s in await press_timed(pilot, clock, chain, keys)])
        # imported here, as the app does, so the first screen's time doesn't pay for them
        from agenttrace_tui.tui.screens.dashboard import DashboardScreen
        from agenttrace_tui.tui.screens.session import SessionScreen
        from agenttrace_tui.tui.widgets.timeline import Timeline
        from textual.widgets import Static

        if args.session:
            # a session is opened from a list on screen: the whole list read and drawn, nothing left running
            await until(lambda: screen.listing is not None and screen.listing.complete
                        and all(worker.is_finished for worker in app.workers))
            await pilot.pause()
            await asyncio.sleep(0.2)
            pushed = time.perf_counter()
            session = SessionScreen(app.store, args.session)
            app.push_screen(session)
            filled = await until(lambda: session.view is not None and len(session._lines) > 1
                                 and bool(session.query_one(Timeline).rows))
            result["session_open_s"] = await clock.after(filled) - pushed
            result["tree_lines"] = len(session._lines)
            if args.tree_keys:
                # open the first folder (its first page of spans loads), down through it, and back up
                half = args.tree_keys // 2
                keys = ["j", "l"] + ["j"] * (half - 2) + ["k"] * (args.tree_keys - half)
                result["tree_keys_ms"] = percentiles([1000 * s for s in await press_timed(pilot, clock, chain, keys)])
            # stay until the screen has read everything it reads unasked (the breakdown and agents tabs, the
            # critical path), so their memory counts in the peak however they are scheduled
            background = await until(lambda: session._breakdown_requested
                                     and all(worker.is_finished for worker in app.workers))
            result["session_reads_done_s"] = background - pushed
            app.pop_screen()
            await pilot.pause()
        if args.dashboard:
            pushed = time.perf_counter()
            dashboard = DashboardScreen(app.store, [], screen.listing.properties if screen.listing else ())
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
