"""The release gate: DuckDB's scan of a Python batch stream reads ahead without bound; the gate bounds it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from agenttrace_tui.store.write import ingest as ingest_module
from agenttrace_tui.store.write.backpressure import ReleaseGate
from agenttrace_tui.store.write.ingest import expand_inputs, ingest

SCHEMA = pa.schema([("raw", pa.large_string())])
SLOW_QUERY = "SELECT sum(length(md5(repeat(raw, 8)))) FROM stream"
"""Slower per row than building a batch, so an unthrottled scan runs ahead of it."""


class RecordingGate(ReleaseGate):
    """A gate that notes the most batches it saw outstanding when asked to wait."""

    def __init__(self, limit: int = 8, give_up_seconds: float = 5.0) -> None:
        super().__init__(limit, give_up_seconds)
        self.most_outstanding = 0

    def wait(self) -> None:
        self.most_outstanding = max(self.most_outstanding, self.outstanding)
        super().wait()


def _stream(gate: RecordingGate, batches: int, *, throttled: bool) -> Iterator[pa.RecordBatch]:
    rows = [json.dumps({"n": n, "text": "x" * 200}) for n in range(2000)]
    for _ in range(batches):
        if throttled:
            gate.wait()
        else:
            gate.most_outstanding = max(gate.most_outstanding, gate.outstanding)
        yield pa.record_batch([gate.track(pa.array(rows, pa.large_string()))], schema=SCHEMA)


def _run(gate: RecordingGate, batches: int, *, throttled: bool) -> int:
    con = duckdb.connect()
    con.register("stream", pa.RecordBatchReader.from_batches(SCHEMA, _stream(gate, batches, throttled=throttled)))
    row = con.execute(SLOW_QUERY).fetchone()
    con.close()
    assert row is not None
    return int(row[0])


def test_an_unthrottled_scan_reads_ahead_of_the_query() -> None:
    """Why the gate exists: without it, DuckDB's scanner holds many more batches than it is working on."""
    gate = RecordingGate()
    assert _run(gate, 150, throttled=False) == 150 * 2000 * 32
    assert gate.most_outstanding > 2 * 8


def test_the_gate_bounds_the_batches_held_and_every_row_is_read() -> None:
    gate = RecordingGate()
    assert _run(gate, 150, throttled=True) == 150 * 2000 * 32
    assert gate.most_outstanding <= 8
    assert not gate.gave_up
    assert gate.outstanding == 0  # every tracked buffer was released


def test_the_gate_opens_for_good_when_batches_are_held_on_purpose() -> None:
    """A consumer that keeps every batch would wait forever on a closed gate: it gives up once, then lets
    everything through."""
    gate = ReleaseGate(limit=2, give_up_seconds=0.05)
    kept = [gate.track(pa.array(["a", "b"], pa.large_string())) for _ in range(3)]
    finished = threading.Event()

    def produce() -> None:
        for _ in range(50):
            gate.wait()
            kept.append(gate.track(pa.array(["c"], pa.large_string())))
        finished.set()

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    assert finished.wait(30), "the producer is stuck behind the gate"
    assert gate.gave_up
    assert gate.outstanding == 53
    kept.clear()
    assert gate.outstanding == 0


def test_tracking_keeps_the_strings_and_their_nulls() -> None:
    gate = ReleaseGate()
    strings = pa.array(["a", None, "ccc", ""], pa.large_string()).slice(1)
    tracked = gate.track(strings)
    assert tracked.to_pylist() == [None, "ccc", ""]
    assert gate.outstanding == 1
    del tracked
    assert gate.outstanding == 0


def test_ingest_holds_its_reader_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file of many read blocks goes through the gate: never more than its limit of blocks held."""
    gates: list[RecordingGate] = []

    def recording_gate() -> RecordingGate:
        gates.append(RecordingGate())
        return gates[-1]

    monkeypatch.setattr(ingest_module, "ReleaseGate", recording_gate)
    trace = tmp_path / "many-blocks.jsonl"
    payload = "y" * 2000
    with trace.open("w") as out:
        for n in range(12_000):  # ~30 MB: about 30 blocks of 1 MB
            out.write(json.dumps({"span_id": f"s{n}", "session_id": f"q{n % 50}", "start_time": 1_700_000_000 + n,
                                  "kind": "llm", "input": {"text": payload}}) + "\n")
    sources, problems = expand_inputs([str(trace)])
    assert not problems
    result = ingest(tmp_path / "store.duckdb", sources)
    assert result.stored == 12_000 and result.ok
    assert len(gates) == 1
    assert 0 < gates[0].most_outstanding <= 8
    assert gates[0].outstanding == 0
