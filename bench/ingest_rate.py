"""Ingest rate against DuckDB's own read_json of the same file, measured in one run.

    python bench/ingest_rate.py --sessions 20000      # ~500k spans, ~400 MB

The baseline is `CREATE TABLE t AS SELECT * FROM read_json(file)` into a fresh DuckDB file: parsing plus
writing, no validation. agenttrace's ingest validates every line, merges, prices and rolls sessions up on top.
Prints both times and the ratio of rates (baseline time / ingest time; 1.0 = as fast as read_json).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import session_records  # noqa: E402

from agenttrace_tui.store.write.ingest import expand_inputs, ingest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=2, help="best of N for each side")
    parser.add_argument("--file", type=Path, help="measure this trace file instead of generating one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        trace = args.file or work / "traces.jsonl"
        if args.file is None:
            _generate(trace, args.sessions)
        with open(trace, "rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
        size_mb = trace.stat().st_size / 1e6
        baseline, ours = float("inf"), float("inf")
        for run in range(args.runs):
            db = work / f"baseline{run}.duckdb"
            started = time.perf_counter()
            with duckdb.connect(str(db)) as con:
                con.execute(f"CREATE TABLE t AS SELECT * FROM read_json('{trace}', format='newline_delimited')")
            baseline = min(baseline, time.perf_counter() - started)
            sources, _ = expand_inputs([str(trace)])
            started = time.perf_counter()
            result = ingest(work / f"ours{run}.duckdb", sources)
            ours = min(ours, time.perf_counter() - started)
            assert result.ok and result.stored == lines, result.files[0].error
        print(f"file: {lines:,} lines, {size_mb:,.0f} MB")
        print(f"duckdb read_json into a table: {baseline:6.2f} s  ({lines / baseline:10,.0f} lines/s)")
        print(f"agenttrace ingest:             {ours:6.2f} s  ({lines / ours:10,.0f} lines/s)")
        print(f"ratio of rates (goal >= 0.8, floor 0.5): {baseline / ours:.2f}")


def _generate(trace: Path, sessions: int) -> None:
    rng = random.Random(7)
    with open(trace, "wb") as handle:
        for index in range(sessions):
            records = session_records(rng, index, rng.randint(5, 50))
            handle.write(b"\n".join(records) + b"\n")


if __name__ == "__main__":
    main()
