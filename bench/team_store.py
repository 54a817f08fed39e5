"""Team store (DuckLake on PostgreSQL) against the local DuckDB file, in one run: ingest rate and session list
latency, on the same generated traces.

    python bench/team_store.py                      # starts a throwaway PostgreSQL (tests/pg_cluster.py)
    python bench/team_store.py --url 'ducklake:postgres:dbname=bench host=db data_path=/shared/bench/'

Ingest: one big file, then the same traffic as many small files (one per 20 sessions: agents writing a run
each), in-process. Session list: `Store.sessions(limit=100)` warm in one process (median of 30), and the whole
`agenttrace sessions --limit 100` command cold (median of 5; a new process each time, so the team store pays
for loading its extensions and attaching).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from agenttrace_tui.store import Store  # noqa: E402
from agenttrace_tui.store.backend.location import LakeLocation, parse_store  # noqa: E402


def generate(sessions: int, out: Path, prefix: str) -> None:
    subprocess.run([sys.executable, str(REPO / "bench" / "generate.py"), "--sessions", str(sessions),
                    "--prefix", prefix, "--out", str(out)], check=True, capture_output=True)


def split(big: Path, folder: Path, sessions_per_file: int) -> list[Path]:
    """The big file cut into files of whole sessions (generate.py writes sessions one after another)."""
    folder.mkdir()
    files: list[Path] = []
    current: list[bytes] = []
    session_ids: list[bytes] = []
    for line in big.read_bytes().splitlines(keepends=True):
        session_id = line.split(b'"session_id":"', 1)[1].split(b'"', 1)[0]
        if not session_ids or session_ids[-1] != session_id:
            if len(session_ids) == sessions_per_file:
                files.append(_write(folder, len(files), current))
                current, session_ids = [], []
            session_ids.append(session_id)
        current.append(line)
    if current:
        files.append(_write(folder, len(files), current))
    return files


def _write(folder: Path, index: int, lines: list[bytes]) -> Path:
    path = folder / f"run-{index:05d}.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def ingest_rate(db: str | Path, paths: list[Path]) -> tuple[float, int]:
    store = Store(db)
    started = time.perf_counter()
    result = store.ingest([str(p) for p in paths])
    elapsed = time.perf_counter() - started
    assert not result.failed_files, result.failed_files[0].error
    return result.lines / elapsed, result.lines


def list_latency(db: str | Path) -> tuple[float, float]:
    store = Store(db)
    store.sessions(limit=100)  # warm: extensions loaded, catalog attached
    warm = []
    for _ in range(30):
        started = time.perf_counter()
        store.sessions(limit=100)
        warm.append(time.perf_counter() - started)
    cold = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "agenttrace_tui.cli", "sessions", "--limit", "100", "--db", str(db),
                        "--json"], check=True, capture_output=True, cwd=REPO)
        cold.append(time.perf_counter() - started)
    return statistics.median(warm), statistics.median(cold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=2000, help="sessions in the big file (and in the small ones)")
    parser.add_argument("--sessions-per-file", type=int, default=20)
    parser.add_argument("--url", help="an empty team store to use (default: a throwaway local PostgreSQL)")
    args = parser.parse_args()

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="agenttrace-bench-")))
        if args.url:
            lake = parse_store(args.url)
            assert isinstance(lake, LakeLocation), "--url takes a ducklake:postgres: URL"
            lakes = [lake, lake]
            print("note: --url: both runs go to the same store (the small files add new sessions)")
        else:
            from pg_cluster import pg_cluster

            pg = stack.enter_context(pg_cluster())
            lakes = [LakeLocation(pg.createdb(name), f"{work}/{name}/") for name in ("big", "small")]
        big = work / "big.jsonl"
        generate(args.sessions, big, "big")
        small_source = work / "small.jsonl"
        generate(args.sessions, small_source, "small")
        small = split(small_source, work / "small", args.sessions_per_file)
        print(f"traces: {args.sessions:,} sessions, {big.stat().st_size / 1e6:.0f} MB in one file; "
              f"the same again as {len(small)} files of {args.sessions_per_file} sessions")
        print(f"{'':8} {'one file':>16} {'small files':>16} {'list (warm)':>12} {'sessions cmd':>13}")
        for name, targets in (("file", [work / "big.duckdb", work / "small.duckdb"]), ("lake", lakes)):
            big_rate, lines = ingest_rate(targets[0], [big])
            small_rate, _ = ingest_rate(targets[1], small)
            warm, cold = list_latency(targets[0])
            print(f"{name:8} {big_rate:>10,.0f} lines/s {small_rate:>10,.0f} lines/s {warm * 1000:>9.1f} ms "
                  f"{cold:>10.2f} s")
        print(f"({lines:,} lines per run; list: Store.sessions(limit=100) median of 30 in one process; "
              "sessions cmd: `agenttrace sessions --limit 100` median of 5 new processes)")


if __name__ == "__main__":
    main()
