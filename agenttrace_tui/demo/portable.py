"""Make the demo's records independent of the machine that wrote them, so samples regenerate byte for byte.

Error stacks are the only part of a record that depends on where Python and the packages are installed
(absolute paths), on their versions (line numbers in openai, httpx2), and on the Python version (caret
lines). The demo keeps the frames of its own code, with package-relative paths, and elides the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from agenttrace_tui.sdk import Tracer

DEMO_DIR: Final = Path(__file__).resolve().parent
PACKAGE_ROOT: Final = DEMO_DIR.parent.parent
"""Stack paths are written relative to this: `agenttrace_tui/demo/tools.py`."""

_FRAME: Final = re.compile(r'^(?P<indent>\s*)File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
_CARETS: Final = re.compile(r"^\s*[\^~]+\s*$")
ELIDED_FRAMES: Final = "  ... (frames outside agenttrace_tui.demo elided)"


def portable_stack(stack: str) -> str:
    """A Python traceback with only the demo's own frames (relative paths, no caret lines)."""
    kept: list[str] = []
    in_demo_frame = False
    for line in stack.splitlines():
        frame = _FRAME.match(line)
        if frame is not None:
            path = Path(frame["path"]).resolve()
            in_demo_frame = path.is_relative_to(DEMO_DIR)
            if in_demo_frame:
                relative = path.relative_to(PACKAGE_ROOT).as_posix()
                kept.append(f'{frame["indent"]}File "{relative}", line {frame["line"]}, in {frame["func"]}')
            elif not kept or kept[-1] != ELIDED_FRAMES:
                kept.append(ELIDED_FRAMES)
            continue
        if line.startswith("    "):  # a frame's source line, or its caret marks
            if in_demo_frame and not _CARETS.match(line):
                kept.append(line)
            continue
        in_demo_frame = False
        kept.append(line)  # "Traceback ...", the exception line, "The above exception was ..."
    return "\n".join(kept) + "\n"


class DemoTracer(Tracer):
    """A Tracer whose records carry portable error stacks (see `portable_stack`)."""

    def write(self, record: Mapping[str, Any]) -> None:
        error = record.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("stack"), str):
            record = {**record, "error": {**error, "stack": portable_stack(error["stack"])}}
        super().write(record)
