"""A spool segment the store cannot take is quarantined (kept, logged, in `agenttrace rejects`) after a bounded
number of attempts, and holds back none of the segments after it; a store that is unavailable as a whole is
waited for, never blamed on a segment.

The failing segment fails for real: the store gets a unique index on span names (as a store could carry from
another tool), and the segment holds a span whose name is taken, so DuckDB refuses its insert with a Constraint
Error, as it refused an out-of-range value before the store's value ranges.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from serve_helpers import POLL_ROUNDS, WAIT_SECONDS, serving, stored
from store_helpers import invoke

from agenttrace_tui.serve import ingester as ingester_module
from agenttrace_tui.serve.ingester import QUARANTINE_STRIKES, BatchIngester
from agenttrace_tui.serve.spool import Spool
from agenttrace_tui.store import Store


def jsonl(*records: dict[str, object]) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def span(span_id: str, name: str) -> dict[str, object]:
    return {"span_id": span_id, "session_id": f"session-{span_id}", "name": name,
            "start_time": "2025-03-01T12:00:00Z", "end_time": "2025-03-01T12:00:01Z"}


def poisoned_store(db: Path) -> None:
    """A store holding a span named "poison" whose span names must be unique: a later span of that name fails
    its segment's transaction, every time."""
    first = db.with_name("first.jsonl")
    first.write_bytes(jsonl(span("p0", "poison")))
    Store(db).ingest([str(first)])
    con = duckdb.connect(str(db))
    try:
        con.execute("CREATE UNIQUE INDEX unique_names ON span_data(name)")
    finally:
        con.close()


def health(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/health", timeout=WAIT_SECONDS)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def wait_for_health(url: str, key: str, expected: int) -> int:
    """Poll /health (not the store: a read in this process would contend with the in-thread ingester)."""
    value = 0
    for _ in range(POLL_ROUNDS):
        value = int(health(url)[key])
        if value >= expected:
            break
        time.sleep(0.02)
    return value


def test_a_segment_the_store_refuses_is_quarantined_and_the_ones_after_it_are_stored(tmp_path: Path) -> None:
    db, spool_dir = tmp_path / "serve.duckdb", tmp_path / "spool"
    poisoned_store(db)
    with serving(tmp_path, db=db, spool_dir=spool_dir, ingest_interval=0.05) as server:
        assert httpx.post(f"{server.url}/v1/spans", content=jsonl(span("p1", "poison"))).status_code == 200
        # Its segment has failed once: what is posted now goes into later segments.
        assert wait_for_health(server.url, "ingest_failures", 1) >= 1
        body = jsonl(*(span(f"g{number}", f"good {number}") for number in range(20)))
        assert httpx.post(f"{server.url}/v1/spans", content=body).status_code == 200
        assert wait_for_health(server.url, "stored", 20) == 20
        quarantine = spool_dir / "quarantine"
        for _ in range(POLL_ROUNDS):
            if quarantine.is_dir() and list(quarantine.iterdir()):
                break
            time.sleep(0.02)
        (kept,) = quarantine.iterdir()
        assert b'"p1"' in kept.read_bytes()
        assert wait_for_health(server.url, "quarantined", 1) == 1
        assert health(server.url)["pending_segments"] == 0
    assert stored(db, "SELECT count(*) FROM spans WHERE span_id LIKE 'g%'") == [(20,)]
    (reject,) = Store(db).rejects()
    assert reject["file"] == str(kept.resolve()) and reject["line"] == 0
    assert "Constraint Error" in reject["reason"] and "`agenttrace ingest` it once the cause is fixed" in reject["reason"]
    shown = invoke(["rejects", "--db", str(db)])
    assert shown.stdout.startswith(f"{kept.resolve()}:0: spool segment not stored after ")

    # A restart does not try it again: nothing fails, and what is posted is stored.
    with serving(tmp_path, db=db, spool_dir=spool_dir, ingest_interval=0.05) as server:
        assert httpx.post(f"{server.url}/v1/spans", content=jsonl(span("g20", "good 20"))).status_code == 200
        assert wait_for_health(server.url, "stored", 1) == 1
        assert health(server.url)["ingest_failures"] == 0
    assert list((spool_dir / "quarantine").iterdir()) == [kept]
    assert stored(db, "SELECT count(*) FROM spans WHERE span_id = 'p1'") == [(0,)]


# The ingester alone, cycle by cycle: interval 0, so no backoff holds a segment back and no test waits on time.

def spool_with(directory: Path, *bodies: bytes) -> Spool:
    spool = Spool(directory)
    spool.open()
    for body in bodies:
        asyncio.run(spool.append(body, body.count(b"\n")))
        spool.rotate()
    return spool


@contextmanager
def lock_held(db: Path) -> Iterator[None]:
    """Another process with the store open for writing, as an open `agenttrace sql` or a second ingest would."""
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
                                "sys.stdin.read()"), str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(WAIT_SECONDS)


def test_a_busy_store_is_waited_for_and_no_segment_blamed(tmp_path: Path) -> None:
    db = tmp_path / "serve.duckdb"
    poisoned_store(db)
    spool = spool_with(tmp_path / "spool", jsonl(span("p1", "poison")), jsonl(span("g1", "good 1")))
    ingester = BatchIngester(spool, db, interval=0, wait_seconds=0.05)
    try:
        with lock_held(db):
            for _ in range(QUARANTINE_STRIKES * 3):
                ingester.cycle()
            assert ingester.counts.failures == QUARANTINE_STRIKES * 3
            assert len(spool.closed_segments()) == 2 and spool.quarantined_segments() == []
        cycles = 0
        while spool.closed_segments() and cycles < QUARANTINE_STRIKES * 3:
            ingester.cycle()
            cycles += 1
        assert cycles == QUARANTINE_STRIKES  # strikes counted from the store's return only
        (kept,) = spool.quarantined_segments()
        assert b'"p1"' in kept.read_bytes()
        assert stored(db, "SELECT span_id FROM spans ORDER BY 1") == [("g1",), ("p0",)]
    finally:
        spool.close()


def test_a_segment_alone_is_quarantined_when_an_empty_write_succeeds(tmp_path: Path) -> None:
    db = tmp_path / "serve.duckdb"
    poisoned_store(db)
    spool = spool_with(tmp_path / "spool", jsonl(span("p1", "poison")))
    ingester = BatchIngester(spool, db, interval=0, wait_seconds=WAIT_SECONDS)
    try:
        for _ in range(QUARANTINE_STRIKES + 1):
            ingester.cycle()
        assert spool.closed_segments() == [] and len(spool.quarantined_segments()) == 1
        assert ingester.counts.quarantined == 1
        assert stored(db, "SELECT count(*) FROM ingested_files WHERE path LIKE '%probe%'") == [(0,)]
    finally:
        spool.close()


def test_an_exception_out_of_the_ingest_holds_back_no_other_segment(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An error the store's ingest does not catch (a bug, like the converter's TypeError of issue 18) aborts the
    whole call: simulated by wrapping the store's ingest to raise for one segment's file (the only monkeypatch
    here)."""
    db = tmp_path / "serve.duckdb"
    spool = spool_with(tmp_path / "spool", jsonl(span("a", "a")), jsonl(span("x", "x")), jsonl(span("b", "b")))
    doomed = spool.closed_segments()[1].name
    real_ingest = ingester_module.ingest

    def ingest(store: Any, sources: Any, **options: Any) -> Any:
        if any(source.path is not None and source.path.name == doomed for source in sources):
            raise TypeError("unhashable type: 'dict'")
        return real_ingest(store, sources, **options)

    monkeypatch.setattr(ingester_module, "ingest", ingest)
    ingester = BatchIngester(spool, db, interval=0, wait_seconds=WAIT_SECONDS)
    try:
        ingester.cycle()
        assert stored(db, "SELECT span_id FROM spans ORDER BY 1") == [("a",), ("b",)]
        for _ in range(QUARANTINE_STRIKES):
            ingester.cycle()
        assert [path.name for path in spool.quarantined_segments()] == [doomed]
        (reject,) = Store(db).rejects()
        assert "TypeError: unhashable type" in reject["reason"]
    finally:
        spool.close()
