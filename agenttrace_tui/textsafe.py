"""Untrusted text made safe to show: control characters become visible stand-ins.

Prompts, tool output, names and errors come from agents and models. Wrapping them in `rich.text.Text`
stops markup parsing but not terminal control sequences (ESC [2J, OSC 52 clipboard writes, OSC 8 links),
so every displayed value passes through `sanitize` first, in the CLI and the TUI alike.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import pyarrow as pa

_C0_PICTURES: Final = {code: chr(0x2400 + code) for code in range(0x20)}
"""C0 controls → Unicode Control Pictures (␛ for ESC, ␇ for BEL, ␈ for backspace)."""

_BIDI_AND_INVISIBLE: Final = "\u061c\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
"""Bidi overrides and invisible marks that can reorder or hide what a terminal shows."""

_UNSAFE: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f" + re.escape(_BIDI_AND_INVISIBLE) + "]"
)
_UNSAFE_MULTILINE: Final = _UNSAFE
_UNSAFE_SINGLE_LINE: Final = re.compile("[\x00-\x1f\x7f-\x9f" + re.escape(_BIDI_AND_INVISIBLE) + "]")


def _stand_in(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return _C0_PICTURES[code]
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\u{code:04x}"


def sanitize(text: object, *, single_line: bool = True) -> str:
    """The text with every control character replaced by a visible stand-in.

    With single_line, newlines and tabs are shown as ␊ and ␉ too (table cells, one-line lists);
    otherwise they are kept (detail panes showing whole prompts).
    """
    value = text if isinstance(text, str) else str(text)
    pattern = _UNSAFE_SINGLE_LINE if single_line else _UNSAFE_MULTILINE
    return pattern.sub(_stand_in, value)


def single_line(text: str, limit: int) -> str:
    """A sanitized one-line preview: newlines shown as spaces, cut with an ellipsis."""
    flat = " ".join(text[: limit * 2].split())
    if len(flat) > limit or len(text) > limit * 2:
        flat = flat[:limit].rstrip() + "…"
    return sanitize(flat)


def sanitize_arrow(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """`sanitize` for a whole Arrow string column at once (C++ kernels, no Python loop per value).

    The common controls get their own pictures; any other control or bidi mark becomes �.
    """
    import pyarrow.compute as pc

    result = values
    for char in ("\x1b", "\x07", "\x08", "\t", "\n", "\r", "\x00"):
        result = pc.replace_substring(result, char, _C0_PICTURES[ord(char)])
    return pc.replace_substring_regex(result, _UNSAFE_SINGLE_LINE.pattern, "\ufffd")
