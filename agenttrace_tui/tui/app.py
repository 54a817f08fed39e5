"""The explorer application: opens on the session list; bindings can be remapped from the config file."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from agenttrace_tui.store import Store
from agenttrace_tui.store.connection import DEFAULT_WAIT_SECONDS
from agenttrace_tui.store.pricing import config_path
from agenttrace_tui.tui.data import ExplorerData
from agenttrace_tui.tui.screens.sessions import SessionsScreen


def load_keymap() -> dict[str, str]:
    """`[keys]` of the config file: binding id → keys, e.g. `"sessions.sort" = "o"`."""
    path = config_path()
    if not path.exists():
        return {}
    try:
        with open(path, "rb") as handle:
            keys = tomllib.load(handle).get("keys", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return {str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {}


class AgentTraceApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "agenttrace"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "toggle_help", "Keys", id="app.help"),
        Binding("ctrl+q", "quit", "Quit", show=False, id="app.quit", priority=True),
    ]

    def __init__(self, store: Store, *, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.store = store
        self.data = ExplorerData(store)
        self._keymap = keymap if keymap is not None else load_keymap()

    def on_mount(self) -> None:
        if self._keymap:
            self.set_keymap(self._keymap)
        self.push_screen(SessionsScreen(self.data))

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands = getattr(screen, "palette_commands", None)
        if callable(commands):
            yield from commands()


def run(db: str | None = None, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
    AgentTraceApp(Store(db, wait_seconds=wait_seconds)).run()
