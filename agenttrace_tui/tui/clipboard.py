"""Copying untrusted text: the clipboard gets what the screen shows, never a control or invisible character.

A session name or id pasted into a shell runs whatever its newlines and escape sequences say, so `y` / `Y`
copy the sanitized text (stand-ins such as ␛ and \\u200b included) and say so when it differs from the store.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from agenttrace_tui.textsafe import sanitize_counted


def copy_as_shown(screen: Screen[Any], value: str, message: str, *, single_line: bool = True,
                  timeout: float | None = None) -> str:
    """Put `value` as shown on the clipboard and notify `message` (plain text, no markup); a warning names the
    characters replaced. single_line=False keeps newlines and tabs (a copied output), as the detail pane does."""
    shown, replaced = sanitize_counted(value, single_line=single_line)
    screen.app.copy_to_clipboard(shown)
    if replaced:
        plural = "s" if replaced != 1 else ""
        screen.notify(f"{message}, as shown: {replaced} control or invisible character{plural} copied as "
                      "visible stand-ins", severity="warning", markup=False, timeout=timeout)
    else:
        screen.notify(message, markup=False, timeout=timeout)
    return shown
