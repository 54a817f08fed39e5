"""Load and crash: many clients posting at once, every acknowledged span stored exactly once, even after the
server is killed with SIGKILL mid-load and restarted.

The CI versions are small. The long run (50 clients × 1,000 posts) prints the figures quoted in
docs/collector.md:  AGENTTRACE_LONG_LOAD=1 python -m pytest -s -p no:randomly tests/serve/test_serve_load.py
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from serve_helpers import POLL_ROUNDS, WAIT_SECONDS, ServerProcess, stored, wait_for_count

from agenttrace_tui.store import Store

pytestmark = pytest.mark.slow  # load on a real server, and a kill: over ~5 s (the fast loop, `pytest -m "not slow"`, skips it)

LONG = os.environ.get("AGENTTRACE_LONG_LOAD") == "1"


@dataclass
class LoadResult:
    acknowledged: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    failed_posts: int = 0
    elapsed: float = 0.0

    def figures(self, spans_per_post: int) -> str:
        posts = len(self.latencies)
        ordered = sorted(self.latencies)
        p50 = ordered[len(ordered) // 2] * 1000 if ordered else 0.0
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else 0.0
        return (f"{posts} posts acknowledged ({posts * spans_per_post} spans) in {self.elapsed:.1f} s: "
                f"{posts / self.elapsed:,.0f} posts/s, {posts * spans_per_post / self.elapsed:,.0f} spans/s, "
                f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms; {self.failed_posts} posts failed")


def _body(client: int, post: int, spans_per_post: int) -> tuple[bytes, list[str]]:
    ids = [f"load-{client}-{post}-{index}" for index in range(spans_per_post)]
    lines = [json.dumps({"span_id": span_id, "session_id": f"load-session-{client}", "path": f"/post/{post % 10}",
                         "kind": "tool", "name": "load", "start_time": 1740830400 + post, "duration_ms": 5,
                         "input": {"client": client, "post": post}}) for span_id in ids]
    return ("\n".join(lines) + "\n").encode(), ids


async def _client(url: str, client: int, posts: int, spans_per_post: int, result: LoadResult,
                  stop: threading.Event) -> None:
    async with httpx.AsyncClient(timeout=WAIT_SECONDS) as http:
        for post in range(posts):
            if stop.is_set():
                return
            body, ids = _body(client, post, spans_per_post)
            started = time.perf_counter()
            try:
                response = await http.post(f"{url}/v1/spans", content=body)
            except httpx.HTTPError:
                result.failed_posts += 1
                if stop.is_set():
                    return
                await asyncio.sleep(0.05)
                continue
            if response.status_code == 200:
                result.latencies.append(time.perf_counter() - started)
                result.acknowledged.update(ids)
            else:
                result.failed_posts += 1


def run_load(url: str, clients: int, posts: int, spans_per_post: int,
             stop: threading.Event | None = None, result: LoadResult | None = None) -> LoadResult:
    """Clients post concurrently, each waiting for its answer before the next post; `result` fills live."""
    result = result if result is not None else LoadResult()
    halt = stop or threading.Event()

    async def main() -> None:
        await asyncio.gather(*(_client(url, c, posts, spans_per_post, result, halt) for c in range(clients)))

    started = time.perf_counter()
    asyncio.run(main())
    result.elapsed = time.perf_counter() - started
    return result


def _stored_ids(db: Path) -> list[str]:
    return [row[0] for row in stored(db, "SELECT span_id FROM spans WHERE span_id LIKE 'load-%'")]


@pytest.mark.parametrize(("clients", "posts", "spans_per_post"),
                         [(50, 1000, 1)] if LONG else [(10, 30, 5)])
def test_every_acknowledged_span_is_stored_once(tmp_path: Path, clients: int, posts: int,
                                                spans_per_post: int) -> None:
    db, spool_dir = tmp_path / "load.duckdb", tmp_path / "spool"
    server = ServerProcess(db, spool_dir)
    reads: list[subprocess.CompletedProcess[str]] = []
    loading = threading.Event()

    def read_while_loading() -> None:  # another process (as the TUI is) gets the store between ingest cycles
        while loading.is_set() or not reads:
            if not db.exists():  # created by the first ingest cycle
                time.sleep(0.05)
                continue
            reads.append(subprocess.run(
                [sys.executable, "-m", "agenttrace_tui.cli", "sql", "--db", str(db), "--wait", str(WAIT_SECONDS),
                 "SELECT count(*) FROM spans"], capture_output=True, text=True))

    reader = threading.Thread(target=read_while_loading)
    try:
        loading.set()
        reader.start()
        result = run_load(server.url, clients, posts, spans_per_post)
        loading.clear()
        reader.join(WAIT_SECONDS)
        assert reads and all(read.returncode == 0 for read in reads), [read.stderr for read in reads]
        assert result.failed_posts == 0
        assert len(result.acknowledged) == clients * posts * spans_per_post
        # While the server runs, the batch ingester catches up by itself.
        assert wait_for_count(db, len(result.acknowledged)) == len(result.acknowledged)
    finally:
        server.stop()
    ids = _stored_ids(db)
    assert len(ids) == len(set(ids)) == len(result.acknowledged) and set(ids) == result.acknowledged
    assert list(spool_dir.glob("*.jsonl")) == [] and list(spool_dir.glob("*.open")) == []
    print(f"\nload {clients}x{posts}x{spans_per_post}: {result.figures(spans_per_post)}; "
          f"{len(reads)} reads by another process meanwhile")


def test_a_killed_server_loses_nothing_it_acknowledged(tmp_path: Path) -> None:
    db, spool_dir = tmp_path / "crash.duckdb", tmp_path / "spool"
    server = ServerProcess(db, spool_dir)
    stop, result = threading.Event(), LoadResult()
    loader = threading.Thread(target=run_load, args=(server.url, 8, 100_000, 3, stop, result))
    loader.start()
    try:
        # Kill mid-load once some posts are acknowledged and some of those are in the store: the spool then
        # holds segments already ingested, segments waiting, and the one being written.
        for _ in range(POLL_ROUNDS):
            if len(result.acknowledged) >= 3000 and _stored_ids(db):
                break
            time.sleep(0.05)
        server.kill()
    finally:
        stop.set()
        loader.join(WAIT_SECONDS)
    acknowledged = set(result.acknowledged)
    assert len(acknowledged) >= 3000
    left_behind = len(list(spool_dir.glob("*.open")) + list(spool_dir.glob("*.jsonl")))
    restarted = ServerProcess(db, spool_dir)
    try:
        count = "SELECT count(*) FROM spans WHERE span_id LIKE 'load-%'"
        assert wait_for_count(db, len(acknowledged), count) >= len(acknowledged)
    finally:
        restarted.stop()
    ids = _stored_ids(db)
    assert acknowledged <= set(ids) and len(ids) == len(set(ids))
    assert Store(db).rejects() == []  # a line torn by the kill was cut, not stored as a reject
    print(f"\ncrash: {len(acknowledged)} spans acknowledged before SIGKILL, all stored after restart; "
          f"{len(ids) - len(acknowledged)} more stored (written, answer lost in the kill); "
          f"{left_behind} spool segment(s) left for the restart")
