"""Many processes appending to one trace file: every line whole, every span complete."""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from pathlib import Path

import pytest
from sdk_helpers import write_many_spans

pytestmark = pytest.mark.slow  # eight writer processes: over ~5 s (the fast loop, `pytest -m "not slow"`, skips it)

PROCESSES = 8
SPANS_PER_PROCESS = 1000


def test_eight_processes_write_8000_well_formed_spans(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=write_many_spans, args=(str(path), worker, SPANS_PER_PROCESS))
        for worker in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [process.exitcode for process in workers] == [0] * PROCESSES

    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    # sessions + a start and an end line per span; an interleaved write would change the count or break JSON
    assert len(lines) == PROCESSES * (1 + 2 * SPANS_PER_PROCESS)
    records = [json.loads(line) for line in lines]
    assert all(isinstance(record, dict) for record in records)

    spans = [r for r in records if r["type"] == "span"]
    lines_per_span = Counter(r["span_id"] for r in spans)
    assert len(lines_per_span) == PROCESSES * SPANS_PER_PROCESS
    assert set(lines_per_span.values()) == {2}
    ends = [r for r in spans if "end_time" in r]
    assert len(ends) == PROCESSES * SPANS_PER_PROCESS
    for record in spans:  # the payload is intact: no other process's bytes inside it
        worker, index, filler = record["input"]["payload"].split(":")
        assert record["session_id"] == f"w{worker}" and record["name"] == f"s{index}"
        assert filler == "x" * (int(index) * 7 % 9000)
    per_worker = Counter(r["session_id"] for r in ends)
    assert per_worker == {f"w{w}": SPANS_PER_PROCESS for w in range(PROCESSES)}
