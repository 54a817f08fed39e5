"""Many small files against one file of the same lines, measured in one run (issue 20: a Claude Code projects folder
holds thousands of transcripts).

    python bench/many_files.py --files 2000 --kb 50      # ~100 MB in 2,000 files: ~16 min today (see below)
    python bench/many_files.py --files 200 --kb 50       # quicker

Three timings, each a fresh `ingest()` call in this process: the lines as one file into an empty store, the same
lines as `--files` files of about `--kb` KB each into another empty store, then those files again (all unchanged:
what `agenttrace tui ~/.claude/projects` does at every start). Prints each and the ratio many / one. The goal
(issue 20) is a ratio of at most 2 and a re-ingest of an unchanged folder under a second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agenttrace_tui.store.write.ingest import expand_inputs, ingest  # noqa: E402


def _lines(file_index: int, kb: int) -> list[bytes]:
    """About `kb` KB of LLM spans of one session (a transcript's calls: a prompt and a reply each)."""
    lines: list[bytes] = []
    size = 0
    while size < kb * 1000:
        n = len(lines)
        record = {"session_id": f"s{file_index}", "span_id": f"s{file_index}-{n}",
                  "start_time": 1_740_990_000 + file_index * 10 + n, "duration_ms": 1200, "kind": "llm",
                  "model": "gpt-4o-mini", "usage": {"input_tokens": 300, "output_tokens": 40}, "path": f"/step/{n % 5}",
                  "input": {"messages": [{"role": "user", "content": "x" * 600}]},
                  "output": {"choices": [{"message": {"role": "assistant", "content": "y" * 300}}]}}
        line = orjson.dumps(record)
        lines.append(line)
        size += len(line) + 1
    return lines


def _timed(db: Path, inputs: list[str]) -> tuple[float, int]:
    sources, problems = expand_inputs(inputs)
    assert not problems, problems
    started = time.perf_counter()
    result = ingest(db, sources)
    elapsed = time.perf_counter() - started
    assert result.ok, result
    return elapsed, result.stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--kb", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        many = work / "many"
        many.mkdir()
        everything: list[bytes] = []
        for index in range(args.files):
            lines = _lines(index, args.kb)
            (many / f"f{index:05d}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
            everything += lines
        one = work / "one.jsonl"
        one.write_bytes(b"\n".join(everything) + b"\n")
        size_mb = one.stat().st_size / 1e6
        one_time, stored = _timed(work / "one.duckdb", [str(one)])
        many_time, many_stored = _timed(work / "many.duckdb", [str(many)])
        again_time, _ = _timed(work / "many.duckdb", [str(many)])
        assert stored == many_stored == len(everything)
        print(f"{len(everything):,} lines, {size_mb:.0f} MB")
        print(f"one file            {one_time:8.2f} s")
        print(f"{args.files:,} files         {many_time:8.2f} s   ratio {many_time / one_time:.1f}x "
              f"({(many_time - one_time) / args.files * 1000:.0f} ms per file over one)")
        print(f"again, unchanged    {again_time:8.2f} s")


if __name__ == "__main__":
    main()
