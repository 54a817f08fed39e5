"""`python -m agenttrace_tui.demo --out sample_traces --seed 7`: regenerate the sample traces."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from agenttrace_tui.demo.generate import DEFAULT_SEED, generate


def count(path: Path) -> tuple[int, int, int]:
    """(sessions, spans, lines) of one trace file; a span is a distinct span_id."""
    sessions: set[str] = set()
    spans: set[str] = set()
    lines = 0
    for line in path.read_text("utf-8").splitlines():
        record = json.loads(line)
        lines += 1
        sessions.add(record["session_id"])
        if record.get("type", "span") == "span":
            spans.add(record["span_id"])
    return len(sessions), len(spans), lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agenttrace_tui.demo",
        description="Run the demo agents (SDK + real openai client on a scripted mock LLM, no network) "
        "and write their traces, one JSONL file per scenario.",
        epilog="example: python -m agenttrace_tui.demo --out sample_traces --seed 7",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("sample_traces"), help="output folder (default: sample_traces)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    total_sessions = total_spans = 0
    for path in generate(args.out, args.seed):
        sessions, spans, lines = count(path)
        total_sessions += sessions
        total_spans += spans
        print(f"{path}: {sessions} sessions, {spans} spans, {lines} lines, {path.stat().st_size:,} bytes")
    print(f"total: {total_sessions} sessions, {total_spans} spans")
    return 0


if __name__ == "__main__":
    sys.exit(main())
