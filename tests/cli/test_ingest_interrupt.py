"""Ctrl-C during `agenttrace ingest` stops it cleanly: exit code 130, one line on stderr, the file rolled back.

A real SIGINT is sent to the real CLI while it ingests a file large enough to take a few seconds, once the
store exists (the parse has begun). Before store/write/interrupts.py, the signal could be swallowed in a block's
release hook (the ingest went on), or surface as `RuntimeError: Query interrupted` with a traceback.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from store_helpers import REPO

LINES = 60_000


def _trace(path: Path, *, sdk_shaped: bool) -> Path:
    """~100 MB of spans: one line each (inserted from the parse), or a start and an end line (the classic way)."""
    payload = {"messages": [{"role": "user", "content": "lorem ipsum dolor " * 40}]}
    with path.open("w") as handle:
        for n in range(LINES):
            span = {"span_id": f"p{n}", "session_id": f"s{n % 300}", "start_time": 1_740_000_000 + n,
                    "kind": "llm", "model": "gpt-4o", "input": payload, "usage": {"input_tokens": 100}}
            if sdk_shaped:
                handle.write(json.dumps(span) + "\n")
            handle.write(json.dumps({**span, "end_time": 1_740_000_001 + n, "output": payload}) + "\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("sdk_shaped", [False, True], ids=["direct", "classic"])
def test_ctrl_c_stops_the_ingest_and_rolls_the_file_back(tmp_path: Path, sdk_shaped: bool) -> None:
    trace = _trace(tmp_path / "run.jsonl", sdk_shaped=sdk_shaped)
    db = tmp_path / "s.duckdb"
    process = subprocess.Popen([sys.executable, "-m", "agenttrace_tui.cli", "ingest", str(trace), "--db", str(db)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(3000):  # bounded by rounds, not the clock: until the store file appears or the ingest ends
        if db.exists() or process.poll() is not None:
            break
        time.sleep(0.02)
    time.sleep(0.3)  # into the parse
    if process.poll() is not None:
        pytest.skip("the ingest finished before it could be interrupted")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err  # 0: the signal was swallowed and the file ingested on
    assert "interrupted" in err and "Traceback" not in err, err
    with duckdb.connect(str(db), read_only=True) as con:
        spans = con.execute("SELECT count(*) FROM span_data").fetchone()
    assert spans == (0,)  # the file was rolled back
