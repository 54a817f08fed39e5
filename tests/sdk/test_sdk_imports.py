"""The SDK's import path stays light: no Textual, no DuckDB, no openai (until a client is wrapped)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = {"textual", "duckdb", "openai", "httpx2", "pyarrow", "rich"}

REPORT_HEAVY = f"""
import json, sys
print(json.dumps(sorted(n for n in sys.modules if n.split(".")[0] in {HEAVY!r})))
"""

USE_THE_SDK = """
import sys
from agenttrace_tui import Tracer, ManualLogger, wrap_openai
from agenttrace_tui.sdk import Session, Span
tracer = Tracer(sys.argv[1])
with tracer.session(name="light") as session, session.span("/step", kind="tool") as span:
    span.set_output({"ok": True})
ManualLogger(tracer=tracer).log_request({"_type": "tool", "toolName": "t", "input": {}}, lambda r: None)
"""


def run_python(code: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("code", ["import agenttrace_tui", USE_THE_SDK], ids=["import", "use"])
def test_sdk_imports_nothing_heavy(code: str, tmp_path: Path) -> None:
    assert json.loads(run_python(code + REPORT_HEAVY, str(tmp_path / "t.jsonl"))) == []
    if code == USE_THE_SDK:
        assert len((tmp_path / "t.jsonl").read_text().splitlines()) == 5  # and it really ran


def test_wrapping_a_client_is_what_imports_openai(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom agenttrace_tui import Tracer, wrap_openai\n"
        "assert 'openai' not in sys.modules\n"
        "import openai\n"
        "wrap_openai(openai.OpenAI(api_key='k'), Tracer(sys.argv[1]))\n"
        "print('ok')"
    )
    assert run_python(code, str(tmp_path / "t.jsonl")) == "ok"
