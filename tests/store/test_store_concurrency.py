"""Real processes sharing one store: two ingests at once, an ingest beside an open reader, a kill mid-file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from agenttrace_tui.store import Store

from store_helpers import big_trace, ingest_process, run_cli

pytestmark = pytest.mark.slow  # real processes sharing one store: over ~5 s (the fast loop, `pytest -m "not slow"`, skips it)

HOLD_READER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SELECT count(*) FROM span_data").fetchone()
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_two_ingests_at_once_both_succeed(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    first = big_trace(tmp_path / "a.jsonl", 400, 20, "a")
    second = big_trace(tmp_path / "b.jsonl", 400, 20, "b")
    processes = [ingest_process(db, first), ingest_process(db, second)]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, err
        assert json.loads(out)["stored"] == 8000
    totals = Store(db).totals()
    assert totals["sessions"] == 800 and totals["spans"] == 16_000


def test_ingest_waits_for_an_open_reader_then_succeeds(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    Store(db).ingest([str(big_trace(tmp_path / "a.jsonl", 2, 2, "a"))])
    reader = subprocess.Popen([sys.executable, "-c", HOLD_READER, str(db), "1.5"], stdout=subprocess.PIPE, text=True)
    assert reader.stdout is not None and reader.stdout.readline().strip() == "holding"
    started = time.monotonic()
    result = run_cli(["ingest", str(big_trace(tmp_path / "b.jsonl", 3, 2, "b")), "--db", str(db)])
    waited = time.monotonic() - started
    reader.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    assert waited >= 0.5  # it really had to wait for the reader to let go
    assert Store(db).totals()["sessions"] == 5


def test_a_reader_waits_for_an_ingest(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    Store(db).ingest([str(big_trace(tmp_path / "a.jsonl", 2, 2, "a"))])
    writer = ingest_process(db, big_trace(tmp_path / "b.jsonl", 1500, 20, "b"), "--force")
    time.sleep(0.3)
    result = run_cli(["sessions", "--db", str(db), "--json"])
    writer.communicate(timeout=120)
    assert writer.returncode == 0
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) in (2, 1502)  # before or after the file, never half of it


def test_busy_store_gives_up_with_one_line(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    Store(db).ingest([str(big_trace(tmp_path / "a.jsonl", 1, 1, "a"))])
    reader = subprocess.Popen([sys.executable, "-c", HOLD_READER, str(db), "5"], stdout=subprocess.PIPE, text=True)
    assert reader.stdout is not None and reader.stdout.readline().strip() == "holding"
    result = run_cli(["ingest", str(big_trace(tmp_path / "b.jsonl", 1, 1, "b")), "--db", str(db), "--wait", "0.5"])
    reader.kill()
    reader.wait()
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "busy" in result.stderr and "--wait" in result.stderr and "Traceback" not in result.stderr


def test_kill_mid_file_leaves_the_store_as_before_that_file(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    Store(db).ingest([str(big_trace(tmp_path / "small.jsonl", 3, 3, "small"))])
    big = big_trace(tmp_path / "big.jsonl", 3000, 20, "big")
    process = ingest_process(db, big)
    time.sleep(1.0)  # mid-file: reading and parsing 60k lines takes longer than this
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with duckdb.connect(str(db), read_only=True) as con:
        spans = con.execute("SELECT count(*) FROM span_data").fetchone()
    assert spans is not None and spans[0] in (9, 60_009)  # whole files only
    rerun = run_cli(["ingest", str(big), "--db", str(db)])
    assert rerun.returncode == 0, rerun.stderr
    totals = Store(db).totals()
    assert totals["spans"] == 60_009 and totals["sessions"] == 3003


def test_readers_get_in_during_a_long_multi_file_ingest(tmp_path: Path) -> None:
    """The writer keeps its connection across quick files but lets go regularly."""
    db = tmp_path / "s.duckdb"
    folder = tmp_path / "runs"
    folder.mkdir()
    for index in range(60):
        big_trace(folder / f"run{index:03d}.jsonl", 20, 5, f"r{index}")
    Store(db).ingest([str(big_trace(tmp_path / "seed.jsonl", 1, 1, "seed"))])
    writer = ingest_process(db, folder)
    answers = []
    while writer.poll() is None and len(answers) < 5:
        result = run_cli(["sessions", "--db", str(db), "--json", "--wait", "10"])
        assert result.returncode == 0, result.stderr
        answers.append(len(json.loads(result.stdout)))
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert answers and answers == sorted(answers)  # each read saw whole files only, more as time went on
    assert all((count - 1) % 20 == 0 for count in answers)
    assert Store(db).totals()["sessions"] == 1201
