"""llm/ (the shared LLM vocabulary) sits below everyone: it imports neither the store's, the explorer's nor the
SDK's dependencies, so the SDK, importers, collector and explorer can all use it."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import agenttrace_tui.llm

FORBIDDEN = ("duckdb", "pyarrow", "textual", "rich", "openai", "agenttrace_tui.sdk", "agenttrace_tui.store",
             "agenttrace_tui.tui", "agenttrace_tui.interop", "agenttrace_tui.serve")


def test_llm_imports_nothing_above_it() -> None:
    names = sorted(f"agenttrace_tui.llm.{m.name}" for m in pkgutil.iter_modules(agenttrace_tui.llm.__path__))
    assert "agenttrace_tui.llm.usage" in names
    code = (f"import json, sys\nfor name in {names!r}: __import__(name)\n"
            f"print(json.dumps(sorted(m for m in sys.modules if any(m == f or m.startswith(f + '.') "
            f"for f in {FORBIDDEN!r}))))")
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                            capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
