"""The explorer application: opens on the session list; bindings can be remapped from the config file."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Final

import orjson
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer

from agenttrace_tui import config as config_file
from agenttrace_tui.store import DEFAULT_WAIT_SECONDS, Store
from agenttrace_tui.textsafe import sanitize
from agenttrace_tui.tui.messages import StoreChanged
from agenttrace_tui.tui.protocols import HasPaletteCommands, Refreshable
from agenttrace_tui.tui.screens.sessions import SessionsScreen


def load_keymap() -> dict[str, str]:
    """`[keys]` of the config file: binding id → keys, e.g. `"sessions.sort" = "o"`. A config file that
    cannot be read leaves the default keys (the store reports it when it reads its own table)."""
    try:
        keys = config_file.table("keys")
    except config_file.ConfigError:
        return {}
    return {str(k): str(v) for k, v in keys.items()}


REFRESH_SECONDS: Final = 0.5
READER_MEMORY_LIMIT: Final = "256MB"
"""DuckDB memory per explorer query: the dashboard over 1.1M spans peaks at 390 MB instead of 1.3 GB, in 7 s
instead of 5 (it spills)."""
WATCH_SECONDS: Final = 0.25
"""How often the store's change stamp is asked for another process's writes (an ingest, `serve`, a follower)."""


class AgentTraceApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "agenttrace"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "toggle_help", "Keys", id="app.help"),
        Binding("ctrl+q", "quit", "Quit", show=False, id="app.quit", priority=True),
    ]

    def __init__(self, store: Store, *, keymap: dict[str, str] | None = None,
                 follow: Sequence[str] | None = None, serve: Sequence[str] | None = None) -> None:
        super().__init__()
        self.store = store
        self._keymap = keymap if keymap is not None else load_keymap()
        self._follow = list(follow) if follow else None
        self._follower: subprocess.Popen[bytes] | None = None
        self._serve = list(serve) if serve is not None else None
        self._server: subprocess.Popen[bytes] | None = None
        self._refresh_pending = False
        self._refresh_timer: Timer | None = None

    def on_mount(self) -> None:
        if self._keymap:
            self.set_keymap(self._keymap)
        self.push_screen(SessionsScreen(self.store))
        if self._follow:
            self.notify(f"following {sanitize(' '.join(self._follow))}: new lines show up as they are written",
                        markup=False)
            self._run_follower(self._follow)
        if self._serve is not None:
            self._run_server(self._serve)
        self._store_stamp = self.store.change_stamp()
        self.set_interval(WATCH_SECONDS, self._watch_store)

    # Any writer: the open screens follow the store --------------------------------------------------

    def _watch_store(self) -> None:
        """A commit by any process moves the store's change stamp (a file store: a stat, not a query; a team
        store has none: not watched)."""
        stamp = self.store.change_stamp()
        if stamp is not None and stamp != self._store_stamp:
            self._store_stamp = stamp
            self.post_message(StoreChanged())

    # Follow mode -------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="follow")
    def _run_follower(self, paths: list[str]) -> None:
        """`agenttrace ingest --follow --json` in a child process (DuckDB allows one writer per file and
        no reader next to it in the same process); each line it prints means the store changed."""
        command = [sys.executable, "-m", "agenttrace_tui.cli", "ingest", "--follow", "--json",
                   "--db", str(self.store.path), "--wait", str(self.store.wait_seconds), "--", *paths]
        self._follower = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          stdin=subprocess.DEVNULL)
        assert self._follower.stdout is not None and self._follower.stderr is not None
        for line in self._follower.stdout:
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            self.post_message(StoreChanged(int(event.get("stored", 0)), int(event.get("rejected", 0)),
                                           [str(e) for e in event.get("errors", [])]))
        problem = self._follower.stderr.read().decode("utf-8", "replace").strip()
        if self._follower.wait() not in (0, -15) and problem:
            self.call_from_thread(self.notify, sanitize(problem.splitlines()[-1]), title="follow stopped",
                                  severity="error", markup=False)

    @work(thread=True, exclusive=True, group="serve")
    def _run_server(self, arguments: list[str]) -> None:
        """`agenttrace serve` in a child process, for the same reason as the follower; the store watch
        shows what it stores. Its request log goes nowhere (it would draw over the screen)."""
        command = [sys.executable, "-m", "agenttrace_tui.cli", "serve", "--db", str(self.store.path), *arguments]
        self._server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL)
        self.call_from_thread(self.notify, "collector started: agents can send traces to http://127.0.0.1:8585 "
                              "(see docs/collector.md)", markup=False)
        assert self._server.stderr is not None
        last = b""
        for line in self._server.stderr:  # drained, so a chatty server never blocks on a full pipe
            last = line or last
        if self._server.wait() not in (0, -15):
            message = last.decode("utf-8", "replace").strip() or "the collector stopped"
            self.call_from_thread(self.notify, sanitize(message), title="collector stopped", severity="error",
                                  markup=False)

    def stop_children(self) -> None:
        for child in (self._follower, self._server):
            if child is not None and child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    child.kill()

    def on_unmount(self) -> None:
        self.stop_children()

    def on_store_changed(self, message: StoreChanged) -> None:
        if message.rejected:
            self.notify(f"{message.rejected} line(s) rejected: see `agenttrace rejects`", severity="warning")
        for error in message.errors:
            self.notify(sanitize(error), severity="error", markup=False)
        self._refresh_pending = True
        if self._refresh_timer is None:
            self._refresh_screens()

    def _refresh_screens(self) -> None:
        """At most one refresh per REFRESH_SECONDS however fast the writer: the rest are coalesced."""
        self._refresh_timer = None
        if not self._refresh_pending:
            return
        self._refresh_pending = False
        for screen in self.screen_stack:
            if not isinstance(screen, Refreshable):
                continue
            if screen is self.screen:
                screen.refresh_from_store()
            else:
                screen.mark_stale()
        self._refresh_timer = self.set_timer(REFRESH_SECONDS, self._refresh_screens)

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, HasPaletteCommands):
            yield from screen.palette_commands()


def run(db: str | None = None, wait_seconds: float = DEFAULT_WAIT_SECONDS, follow: Sequence[str] | None = None,
        serve: Sequence[str] | None = None) -> None:
    """`serve`: arguments for a collector (`agenttrace serve`) run beside the explorer, or None."""
    app = AgentTraceApp(Store(db, wait_seconds=wait_seconds, reader_memory_limit=READER_MEMORY_LIMIT),
                        follow=follow, serve=serve)
    try:
        app.run()
    finally:
        app.stop_children()
