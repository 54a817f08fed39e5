"""Untrusted text made safe to show: control and invisible characters become visible stand-ins.

Prompts, tool output, names and errors come from agents and models. Wrapping them in `rich.text.Text`
stops markup parsing but not terminal control sequences (ESC [2J, OSC 52 clipboard writes, OSC 8 links),
nor characters that hide or reorder what a terminal shows (zero-width spaces, tag characters, bidi
overrides). Every displayed or copied value passes through `sanitize` first, in the CLI and the TUI alike;
`UNSAFE_RANGES` is the one rule of what never reaches a terminal or a clipboard from data.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_IGNORABLE: Final = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
"""Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters a renderer draws as nothing —
soft hyphen, zero-width spaces and joiners, word joiner, bidi marks, embeddings, overrides and isolates (the
Trojan Source set), Hangul fillers, variation selectors, tag characters, and the reserved code points kept for
more of them. Variation selectors are included: a run of them can carry hidden bytes after any character."""

FORMAT_CONTROLS: Final = (
    (0x0600, 0x0605), (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2),
    (0x2028, 0x2029), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F),
)
"""The other format characters (category Cf) and the line and paragraph separators (Zl, Zp): prefixed marks,
interlinear annotations that can hide text, separators a terminal does not draw as a line break."""

UNSAFE_RANGES: Final = (
    (0x00, 0x1F), (0x7F, 0x9F), (0xD800, 0xDFFF), *DEFAULT_IGNORABLE, *FORMAT_CONTROLS,
)
"""What data never shows as itself: C0 and C1 controls and DEL (Cc), lone surrogates (Cs, which no terminal
encoding can write), format characters (Cf), separators (Zl, Zp) and every default-ignorable code point.
Multi-line panes keep newline and tab; everything else here becomes a stand-in."""

_C0_PICTURES: Final = {code: chr(0x2400 + code) for code in range(0x20)} | {0x7F: "\u2421"}
"""C0 controls and DEL → Unicode Control Pictures (␛ for ESC, ␇ for BEL, ␈ for backspace, ␡ for DEL)."""


def _python_class(ranges: tuple[tuple[int, int], ...]) -> str:
    def char(code: int) -> str:
        return f"\\U{code:08x}"

    return "[" + "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in ranges) + "]"


def _re2_class(ranges: tuple[tuple[int, int], ...]) -> str:
    """The same class in RE2's syntax (Arrow's regex kernels), surrogates left out: Arrow strings are UTF-8."""
    kept = [(a, b) for a, b in ranges if not 0xD800 <= a <= 0xDFFF]
    return "[" + "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in kept) + "]"


_KEEP_LINES: Final = ((0x00, 0x08), (0x0B, 0x1F), *UNSAFE_RANGES[1:])
_PRESENTATION_SELECTOR: Final = (
    rf"(?<=[^\s{_python_class(UNSAFE_RANGES)[1:-1]}])[\ufe0e\ufe0f](?![\ufe00-\ufe0f\U000e0100-\U000e01ef])"
)
"""The one exception: a single text or emoji presentation selector (U+FE0E, U+FE0F) right after a visible
character, as in ⚠️ or ❤️, which models write all the time. One selector carries one bit, and a run of them
(the way to hide bytes) is still shown."""


def _unsafe(ranges: tuple[tuple[int, int], ...]) -> re.Pattern[str]:
    return re.compile(f"(?!{_PRESENTATION_SELECTOR}){_python_class(ranges)}")


_UNSAFE_SINGLE_LINE: Final = _unsafe(UNSAFE_RANGES)
_UNSAFE_MULTILINE: Final = _unsafe(_KEEP_LINES)
_UNSAFE_RE2: Final = _re2_class(UNSAFE_RANGES)


def stand_in(char: str) -> str:
    """The visible form of one unsafe character: a control picture for C0 and DEL, else its escape (`\\u200b`,
    `\\U000e0041`), the way Python and JSON write it, so the code point can be looked up."""
    code = ord(char)
    picture = _C0_PICTURES.get(code)
    if picture is not None:
        return picture
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _stand_in(match: re.Match[str]) -> str:
    return stand_in(match.group())


def sanitize(text: object, *, single_line: bool = True) -> str:
    """The text with every unsafe character (`UNSAFE_RANGES`) replaced by a visible stand-in.

    With single_line, newlines and tabs are shown as ␊ and ␉ too (table cells, one-line lists);
    otherwise they are kept (detail panes showing whole prompts).
    """
    value = text if isinstance(text, str) else str(text)
    pattern = _UNSAFE_SINGLE_LINE if single_line else _UNSAFE_MULTILINE
    return pattern.sub(_stand_in, value)


def sanitize_counted(text: str, *, single_line: bool = True) -> tuple[str, int]:
    """`sanitize`, and how many characters it replaced: a copy says when it differs from the stored value."""
    pattern = _UNSAFE_SINGLE_LINE if single_line else _UNSAFE_MULTILINE
    return pattern.subn(_stand_in, text)


def single_line(text: str, limit: int) -> str:
    """A sanitized one-line preview: newlines shown as spaces, cut with an ellipsis."""
    flat = " ".join(text[: limit * 2].split())
    if len(flat) > limit or len(text) > limit * 2:
        flat = flat[:limit].rstrip() + "…"
    return sanitize(flat)


def sanitize_arrow(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """`sanitize` for a whole Arrow string column: one C++ regex pass finds the values that need it (most
    columns have none), and only those go through `sanitize`, so cells read exactly as elsewhere."""
    import pyarrow as pa
    import pyarrow.compute as pc

    flagged = pc.fill_null(pc.match_substring_regex(values, _UNSAFE_RE2), False)
    if not pc.any(flagged).as_py():
        return values
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    mask = flagged.combine_chunks() if isinstance(flagged, pa.ChunkedArray) else flagged
    shown = [sanitize(value) for value in pc.filter(array, mask).to_pylist()]
    return pc.replace_with_mask(array, mask, pa.array(shown, type=array.type))


_JSON_UNSAFE: Final = re.compile(_python_class(((0x7F, 0x9F), *DEFAULT_IGNORABLE, *FORMAT_CONTROLS)))


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a JSON string writes a code point past U+FFFF as its UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def escape_json(document: bytes) -> bytes:
    """Encoded JSON with every unsafe character written as a `\\uXXXX` escape: the same data for any JSON
    reader, and nothing that acts on a terminal when it is printed there. The JSON encoder escapes C0 controls
    itself; DEL, C1 controls and invisible characters it writes raw. Outside strings JSON is plain ASCII, so a
    character found here is always inside a string, where an escape is valid."""
    if document.isascii() and b"\x7f" not in document:
        return document
    text = document.decode()
    return _JSON_UNSAFE.sub(_json_escape, text).encode()
