"""What the app asks of its screens, as runtime-checkable Protocols (not getattr or hasattr on a name)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from textual.app import SystemCommand


@runtime_checkable
class Refreshable(Protocol):
    """A screen that follows the store (an ingest in another process, `serve`, a follower). After a change
    (coalesced: app.REFRESH_SECONDS) the app calls `refresh_from_store` on the screen on top and `mark_stale` on
    the ones below it."""

    def refresh_from_store(self) -> None:
        """Read again what is shown, keeping what is open and the cursor."""

    def mark_stale(self) -> None:
        """The store changed while another screen was on top."""


@runtime_checkable
class HasPaletteCommands(Protocol):
    """A screen whose own commands join the command palette's (ctrl+p)."""

    def palette_commands(self) -> Iterable[SystemCommand]: ...
