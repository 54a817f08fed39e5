"""Helpers for store and CLI tests: writing trace files, running the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_traces"


def write_jsonl(path: Path, records: Iterable[dict[str, Any] | str], *, final_newline: bool = True) -> Path:
    """Records (dicts are JSON-encoded, strings written as they are) one per line."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    text = "\n".join(lines) + ("\n" if final_newline else "")
    path.write_text(text, encoding="utf-8")
    return path


def span(session_id: str = "s1", **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"session_id": session_id, "start_time": "2025-01-01T10:00:00Z"}
    record.update(fields)
    return record


def run_cli(args: Sequence[str], *, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real `agenttrace` entry point in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "agenttrace_tui.cli", *args],
        input=stdin, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env,
    )
