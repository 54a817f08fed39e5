"""agenttrace at scale, measured: one command, one table (issue 8; docs/performance.md explains each row).

    python bench/run.py --size 1m            # the figures of docs/performance.md (first run: ~10 min to generate)
    python bench/run.py --size 100k          # quicker
    python bench/run.py --size tiny --runs 1 # seconds: what the CI smoke test runs

Generated files and stores are cached under --work (default /tmp/agenttrace-bench), keyed by size, seed and
the generator's source, so a rerun measures at once. Every figure that has a baseline measured in the same run
is shown as a ratio to it; timings are the best of --runs (default 3). Each measurement runs in a child
process: wall time from the parent, peak RSS from the child's rusage (os.wait4).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from generate import session_records  # noqa: E402


@dataclass(frozen=True)
class Size:
    spans: int  # the main store: sessions of 5-50 spans
    wide: tuple[int, int]  # two more sessions of this many spans each ("10k" and "100k" at full size)
    ingest_mb: tuple[int, int]  # the ingest files: rate and memory on the first, memory on the second


SIZES = {
    "tiny": Size(spans=2_000, wide=(200, 1_000), ingest_mb=(1, 4)),
    "small": Size(spans=20_000, wide=(1_000, 10_000), ingest_mb=(10, 40)),
    "100k": Size(spans=100_000, wide=(10_000, 100_000), ingest_mb=(50, 200)),
    "1m": Size(spans=1_000_000, wide=(10_000, 100_000), ingest_mb=(250, 1000)),
}
SEED = 8
KEYS = {"tiny": 8}
"""Keys pressed per latency figure (default 60): the smoke test keeps its run short."""
PYTHON = sys.executable


@dataclass
class Row:
    figure: str
    value: str
    baseline: str = ""
    ratio: str = ""
    goal: str = ""
    met: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


# Generation and the cached stores --------------------------------------------------------------------------

DATA_VERSION = 1
"""Bump when the files or the way stores are built change (generate.py's source is part of the key anyway)."""


def _generator_key(size: Size) -> str:
    source = (BENCH / "generate.py").read_bytes()
    return hashlib.sha256(source + repr((size, SEED, DATA_VERSION)).encode()).hexdigest()[:12]


def _store_code_key() -> str:
    """The store layer's source: a bench store written by older ingest code (its row groups, rollups,
    compression) would measure the explorer on a layout the current code no longer writes."""
    sources = sorted((BENCH.parent / "agenttrace_tui" / "store").rglob("*.py"))
    return hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()[:12]


def write_sessions(path: Path, *, prefix: str, seed: int, spans: int | None = None, size_bytes: int | None = None,
                   spans_per_session: int | None = None) -> int:
    """Sessions until `spans` spans or `size_bytes` bytes are written; the span count."""
    rng = random.Random(seed)
    written = total_bytes = index = 0
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as handle:
        while (spans is None or written < spans) and (size_bytes is None or total_bytes < size_bytes):
            count = spans_per_session or rng.randint(5, 50)
            if spans is not None:
                count = min(count, spans - written)
            block = b"\n".join(session_records(rng, index, count, prefix)) + b"\n"
            handle.write(block)
            written += count
            total_bytes += len(block)
            index += 1
    tmp.rename(path)
    return written


SDK_START_FIELDS = ("span_id", "session_id", "session_name", "parent_id", "kind", "name", "path", "start_time",
                    "properties", "model", "provider", "input")
"""What the SDK knows when a span opens: its start line. The end line repeats every field (sdk/span.py)."""


def write_sdk_shaped(source: Path, target: Path) -> None:
    """`source` as the SDK writes it: each span's start line when it opens, its full line when it closes
    (children open after their parent and close before it), so ingest merges two lines per span."""
    import orjson

    tmp = target.with_suffix(".part")
    with open(source, "rb") as lines, open(tmp, "wb") as out:
        session: list[dict[str, Any]] = []

        def flush() -> None:
            root, children = session[0], session[1:]
            out.write(orjson.dumps({k: root[k] for k in SDK_START_FIELDS if k in root}) + b"\n")
            for child in children:
                out.write(orjson.dumps({k: child[k] for k in SDK_START_FIELDS if k in child}) + b"\n")
                out.write(orjson.dumps(child) + b"\n")
            out.write(orjson.dumps(root) + b"\n")
            session.clear()

        for line in lines:
            record = orjson.loads(line)
            if session and record["session_id"] != session[0]["session_id"]:
                flush()
            session.append(record)
        if session:
            flush()
    tmp.rename(target)


def cached(marker: Path, key: str, build: Callable[[], None]) -> None:
    if marker.exists() and marker.read_text() == key:
        return
    build()
    marker.write_text(key)


def prepare(work: Path, name: str, size: Size) -> dict[str, Path]:
    """The trace files and stores of one size, built once and reused while the generator (for the store: and
    the store layer's code) is unchanged."""
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    key = _generator_key(size)
    files = {
        "main": folder / "main.jsonl",
        "wide_a": folder / f"wide-{size.wide[0]}.jsonl",
        "wide_b": folder / f"wide-{size.wide[1]}.jsonl",
        "ingest_a": folder / f"ingest-{size.ingest_mb[0]}MB.jsonl",
        "ingest_b": folder / f"ingest-{size.ingest_mb[1]}MB.jsonl",
        "ingest_sdk": folder / f"ingest-sdk-{size.ingest_mb[0]}MB.jsonl",
    }
    store = folder / "store.duckdb"
    empty = folder / "empty.duckdb"

    def build_files() -> None:
        _log(f"generating {name} trace files in {folder}")
        write_sessions(files["main"], prefix="bench", seed=SEED, spans=size.spans)
        write_sessions(files["wide_a"], prefix="wide-a", seed=SEED + 1, spans=size.wide[0],
                       spans_per_session=size.wide[0])
        write_sessions(files["wide_b"], prefix="wide-b", seed=SEED + 2, spans=size.wide[1],
                       spans_per_session=size.wide[1])
        write_sessions(files["ingest_a"], prefix="ing", seed=SEED + 3, size_bytes=size.ingest_mb[0] * 10**6)
        write_sessions(files["ingest_b"], prefix="ing", seed=SEED + 3, size_bytes=size.ingest_mb[1] * 10**6)

    def build_store() -> None:
        _log(f"ingesting the {name} store (main, wide sessions)")
        for path in (store, store.with_suffix(".duckdb.wal"), empty):
            path.unlink(missing_ok=True)
        sources = [str(files[k]) for k in ("main", "wide_a", "wide_b")]
        subprocess.run([PYTHON, "-m", "agenttrace_tui.cli", "ingest", *sources, "--db", str(store)], check=True)
        subprocess.run([PYTHON, "-c", "import sys; from agenttrace_tui.store import Store\n"
                        "with Store(sys.argv[1]).writer(): pass", str(empty)], check=True)

    cached(folder / "files.ok", key, build_files)
    cached(folder / "sdk.ok", key + hashlib.sha256(repr(SDK_START_FIELDS).encode()).hexdigest()[:8],
           lambda: write_sdk_shaped(files["ingest_a"], files["ingest_sdk"]))
    cached(folder / "store.ok", key + _store_code_key(), build_store)
    return {**files, "store": store, "empty": empty, "folder": folder}


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# Measuring ---------------------------------------------------------------------------------------------------

@dataclass
class Run:
    wall_s: float
    rss_mb: float
    stdout: str


def run_child(command: Sequence[str], *, env: dict[str, str] | None = None) -> Run:
    """Wall time from here and the child's peak RSS (ru_maxrss of exactly this child, via wait4)."""
    started = time.perf_counter()
    process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, **(env or {})})
    assert process.stdout is not None and process.stderr is not None
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {err.decode()[-2000:]}")
    return Run(wall, usage.ru_maxrss / 1024, out.decode())


def best(runs: int, measure: Callable[[], Run]) -> tuple[Run, float]:
    """The fastest of `runs` runs, and the highest peak RSS seen over all of them."""
    results = [measure() for _ in range(runs)]
    return min(results, key=lambda r: r.wall_s), max(r.rss_mb for r in results)


def cli(*args: str) -> list[str]:
    return [PYTHON, "-m", "agenttrace_tui.cli", *args]


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))


READ_JSON = (
    "import duckdb, sys\n"
    "with duckdb.connect(sys.argv[2]) as con:\n"
    "    con.execute(\"CREATE TABLE t AS SELECT * FROM read_json(?, format='newline_delimited')\", [sys.argv[1]])\n"
)
INGEST = (  # the same function bench/ingest_rate.py measures, in its own process
    "import sys\n"
    "from agenttrace_tui.store.write.ingest import expand_inputs, ingest\n"
    "sources, _ = expand_inputs([sys.argv[1]])\n"
    "result = ingest(sys.argv[2], sources)\n"
    "assert result.ok, result.files[0].error\n"
    "print(result.stored)\n"
)


def measure_ingest(paths: dict[str, Path], runs: int, scratch: Path) -> list[Row]:
    rows = []
    trace = paths["ingest_a"]
    lines = count_lines(trace)

    def fresh(name: str) -> str:
        target = scratch / name
        for suffix in ("", ".wal"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        return str(target)

    baseline, baseline_rss = best(runs, lambda: run_child([PYTHON, "-c", READ_JSON, str(trace), fresh("rj.duckdb")]))
    ours, ours_rss = best(runs, lambda: run_child([PYTHON, "-c", INGEST, str(trace), fresh("ours.duckdb")]))
    assert int(ours.stdout.strip().splitlines()[-1]) == lines  # DuckDB may print its progress bar first
    ratio = baseline.wall_s / ours.wall_s
    mb = trace.stat().st_size / 1e6
    rows.append(Row(f"1. ingest rate, {lines:,} lines ({mb:,.0f} MB)", f"{lines / ours.wall_s:,.0f} lines/s",
                    f"read_json {lines / baseline.wall_s:,.0f} lines/s", f"{ratio:.2f}", ">= 0.8", _met(ratio >= 0.8),
                    {"ingest_s": ours.wall_s, "read_json_s": baseline.wall_s}))
    # The same spans as the SDK writes them: a start and an end line each, merged by span id at ingest.
    sdk = paths["ingest_sdk"]
    sdk_lines = count_lines(sdk)
    sdk_base, _ = best(runs, lambda: run_child([PYTHON, "-c", READ_JSON, str(sdk), fresh("rj.duckdb")]))
    sdk_ours, _ = best(runs, lambda: run_child([PYTHON, "-c", INGEST, str(sdk), fresh("ours.duckdb")]))
    assert int(sdk_ours.stdout.strip().splitlines()[-1]) == sdk_lines
    sdk_ratio = sdk_base.wall_s / sdk_ours.wall_s
    rows.append(Row(f"1b. ingest rate, same spans SDK-shaped ({sdk_lines:,} lines, start + end)",
                    f"{sdk_lines / sdk_ours.wall_s:,.0f} lines/s", f"read_json {sdk_lines / sdk_base.wall_s:,.0f} lines/s",
                    f"{sdk_ratio:.2f}", ">= 0.8", _met(sdk_ratio >= 0.8),
                    {"ingest_s": sdk_ours.wall_s, "read_json_s": sdk_base.wall_s}))
    big = paths["ingest_b"]
    large = run_child([PYTHON, "-c", INGEST, str(big), fresh("ours-big.duckdb")])
    growth = large.rss_mb / ours_rss
    rows.append(Row(f"6b. ingest peak RSS, {big.stat().st_size / 1e6:,.0f} MB file",
                    f"{large.rss_mb:,.0f} MB", f"{mb:,.0f} MB file: {ours_rss:,.0f} MB", f"{growth:.2f}",
                    "flat (<= 1.2)", _met(growth <= 1.2),
                    {"rss_small_mb": ours_rss, "rss_large_mb": large.rss_mb, "read_json_rss_mb": baseline_rss,
                     "large_ingest_s": large.wall_s}))
    for name in ("rj.duckdb", "ours.duckdb", "ours-big.duckdb"):
        fresh(name)
    return rows


def probe(db: Path, *extra: str) -> tuple[dict[str, Any], float]:
    run = run_child([PYTHON, str(BENCH / "tui_probe.py"), "--db", str(db), "--t0", repr(time.time()), *extra])
    return json.loads(run.stdout.strip().splitlines()[-1]), run.rss_mb


def measure_tui(paths: dict[str, Path], size: Size, runs: int, keys: int) -> tuple[list[Row], float]:
    rows = []
    rss_seen: list[float] = []

    def first(db: Path, count: int) -> tuple[dict[str, Any], float]:
        results = [probe(db, "--list-keys", str(count)) for _ in range(runs)]
        rss_seen.extend(r[1] for r in results)
        return min(results, key=lambda r: r[0]["first_screen_s"])

    empty, _ = first(paths["empty"], 0)
    full, _ = first(paths["store"], keys)
    ratio = full["first_screen_s"] / empty["first_screen_s"]
    rows.append(Row(f"2. tui first screen, {full['sessions']:,} sessions", f"{full['first_screen_s']:.2f} s",
                    f"empty store {empty['first_screen_s']:.2f} s", f"{ratio:.2f}", "<= 1.5", _met(ratio <= 1.5)))
    opened: dict[int, dict[str, Any]] = {}
    for spans, prefix, goal in ((size.wide[0], "wide-a", 0.3), (size.wide[1], "wide-b", 1.0)):
        results = [probe(paths["store"], "--session", f"{prefix}-00000000", "--tree-keys", str(keys))
                   for _ in range(runs)]
        rss_seen.extend(r[1] for r in results)
        result = min(results, key=lambda r: r[0]["session_open_s"])[0]
        opened[spans] = result
        rows.append(Row(f"3. open a session of {spans:,} spans (tree + timeline)", f"{result['session_open_s']:.2f} s",
                        goal=f"<= {goal} s", met=_met(result["session_open_s"] <= goal)))
    list_keys = full["list_keys_ms"]
    tree_keys = opened[size.wide[1]]["tree_keys_ms"]
    for label, latency in (("session list", list_keys), (f"tree ({size.wide[1]:,}-span session)", tree_keys)):
        p50, p95 = latency.get("p50", float("nan")), latency.get("p95", float("nan"))
        rows.append(Row(f"4. key -> frame, {label}", f"p50 {p50:.0f} ms, p95 {p95:.0f} ms",
                        goal="p95 <= 50 ms", met=_met(p95 <= 50)))
    dash_results = [probe(paths["store"], "--dashboard") for _ in range(runs)]
    rss_seen.extend(r[1] for r in dash_results)
    dash = min(r[0]["dashboard_s"] for r in dash_results)
    rows.append(Row("5c. analytics dashboard in the tui (all sessions)", f"{dash:.2f} s", goal="<= 1 s",
                    met=_met(dash <= 1.0)))
    return rows, max(rss_seen)


FILTERS = (
    ("session figures", ["-f", "errors > 0", "-f", "cost > 0.05", "--sort", "cost", "--limit", "50"]),
    ("span-level + property", ["-f", "tool = send_email", "-f", "prop.Tier = pro", "--limit", "50"]),
)


def measure_queries(paths: dict[str, Path], runs: int) -> list[Row]:
    rows = []
    for label, args in FILTERS:
        baseline, _ = best(runs, lambda: run_child(cli("sessions", *args, "--db", str(paths["empty"]))))
        ours, _ = best(runs, lambda: run_child(cli("sessions", *args, "--db", str(paths["store"]))))
        query = in_process_query(paths["store"], args, runs)
        rows.append(Row(f"5a. agenttrace sessions ({label})", f"{ours.wall_s:.2f} s (query {query:.3f} s)",
                        f"empty store {baseline.wall_s:.2f} s", f"{ours.wall_s / baseline.wall_s:.2f}", "<= 0.3 s",
                        _met(ours.wall_s <= 0.3)))
    baseline, _ = best(runs, lambda: run_child(cli("stats", "--db", str(paths["empty"]))))
    ours, _ = best(runs, lambda: run_child(cli("stats", "--db", str(paths["store"]))))
    rows.append(Row("5b. agenttrace stats (all sessions)", f"{ours.wall_s:.2f} s", f"empty store {baseline.wall_s:.2f} s",
                    f"{ours.wall_s / baseline.wall_s:.2f}", "<= 1 s", _met(ours.wall_s <= 1.0)))
    return rows


def in_process_query(store: Path, args: list[str], runs: int) -> float:
    filters = [args[i + 1] for i, a in enumerate(args) if a == "-f"]
    sort = args[args.index("--sort") + 1] if "--sort" in args else None
    script = (
        "import sys, time, json\n"
        "from agenttrace_tui.store import Store\n"
        "store = Store(sys.argv[1])\n"
        "spec = json.loads(sys.argv[2])\n"
        "times = []\n"
        f"for _ in range({runs}):\n"
        "    t = time.perf_counter()\n"
        "    store.sessions(spec['filters'], sort=spec['sort'], limit=50)\n"
        "    times.append(time.perf_counter() - t)\n"
        "print(min(times))\n"
    )
    run = run_child([PYTHON, "-c", script, str(store), json.dumps({"filters": filters, "sort": sort})])
    return float(run.stdout.strip())


IMPORT_SDK = "import time; t = time.perf_counter(); import agenttrace_tui.sdk; print(time.perf_counter() - t)"


def measure_startup(runs: int) -> list[Row]:
    python, _ = best(runs, lambda: run_child([PYTHON, "-c", "pass"]))
    helped, _ = best(runs, lambda: run_child(cli("--help")))
    sdk_runs = [run_child([PYTHON, "-c", IMPORT_SDK]) for _ in range(runs)]
    sdk_import = min(float(r.stdout.strip()) for r in sdk_runs)
    sdk_wall = min(r.wall_s for r in sdk_runs)
    return [
        Row("7a. agenttrace --help", f"{helped.wall_s:.2f} s", f"python -c pass {python.wall_s:.2f} s",
            f"{helped.wall_s / python.wall_s:.1f}", "<= 0.3 s", _met(helped.wall_s <= 0.3)),
        Row("7b. import agenttrace_tui.sdk", f"{sdk_import * 1000:.0f} ms (process {sdk_wall:.2f} s)",
            f"python -c pass {python.wall_s:.2f} s", f"{sdk_wall / python.wall_s:.1f}", "<= 0.1 s",
            _met(sdk_import <= 0.1)),
    ]


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def table(rows: list[Row]) -> str:
    header = ("figure", "value", "baseline (same run)", "ratio", "goal", "met")
    cells = [header, *[(r.figure, r.value, r.baseline, r.ratio, r.goal, r.met) for r in rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c[i].ljust(widths[i]) for i in range(len(header))) + " |" for c in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="100k")
    parser.add_argument("--work", type=Path, default=Path("/tmp/agenttrace-bench"),
                        help="where generated files and stores are cached")
    parser.add_argument("--runs", type=int, default=3, help="best of N for each timing")
    parser.add_argument("--only", help="comma-separated: ingest,tui,queries,startup (default: all)")
    parser.add_argument("--json", type=Path, help="also write the rows, with raw figures, to this file")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    sections = set((args.only or "ingest,tui,queries,startup").split(","))
    paths = prepare(args.work, args.size, size)
    rows: list[Row] = []
    if "ingest" in sections:
        _log("measuring ingest")
        scratch = paths["folder"] / "scratch"
        scratch.mkdir(exist_ok=True)
        rows += measure_ingest(paths, args.runs, scratch)
        shutil.rmtree(scratch, ignore_errors=True)
    if "tui" in sections:
        _log("measuring the tui")
        tui_rows, tui_rss = measure_tui(paths, size, args.runs, KEYS.get(args.size, 60))
        rows += tui_rows
        rows.append(Row(f"6a. tui peak RSS ({size.spans + sum(size.wide):,}-span store, every scenario above)",
                        f"{tui_rss:,.0f} MB", goal="<= 400 MB", met=_met(tui_rss <= 400)))
    if "queries" in sections:
        _log("measuring queries")
        rows += measure_queries(paths, args.runs)
    if "startup" in sections:
        _log("measuring startup")
        rows += measure_startup(args.runs)
    rows.sort(key=lambda r: r.figure.split(".")[0] + r.figure)
    print(f"size {args.size}: {size.spans:,} spans in sessions of 5-50, sessions of {size.wide[0]:,} and "
          f"{size.wide[1]:,} spans; best of {args.runs}")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
