"""The benchmark harness runs end to end at its tiny size and fills every row of its table.

No timing is asserted (the figures depend on the machine); this only keeps `python bench/run.py` working.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the benchmark script end to end: over ~5 s (the fast loop, `pytest -m "not slow"`, skips it)

ROOT = Path(__file__).resolve().parents[2]


def test_bench_tiny_fills_every_row(tmp_path: Path) -> None:
    rows_file = tmp_path / "rows.json"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--size", "tiny", "--runs", "1",
         "--work", str(tmp_path / "work"), "--json", str(rows_file)],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    table = [line for line in completed.stdout.splitlines() if line.startswith("|")]
    assert table[0].split("|")[1].strip() == "figure"
    rows = json.loads(rows_file.read_text())
    numbers = {row["figure"].split(".")[0] for row in rows}
    assert numbers == {"1", "1b", "2", "3", "4", "5a", "5b", "5c", "6a", "6b", "7a", "7b"}
    assert len(table) == len(rows) + 2  # header, rule, one line per row
    for row in rows:
        assert row["value"].strip() and row["goal"].strip(), row
        assert row["met"] in ("yes", "NO"), row
        if row["baseline"]:
            assert float(row["ratio"]) > 0, row
