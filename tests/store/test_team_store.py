"""The team store: a DuckLake (catalog in a real, throwaway PostgreSQL server; Parquet data in a temp dir).

Every command on a store URL, concurrent ingest processes with an open reader, write-conflict retries, follow
mode, the collector's batch ingester, the explorer, and copy there and back. The query suites themselves run on
both backends through `new_store` (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from store_helpers import REPO, SAMPLES, invoke, span, write_jsonl

from agenttrace_tui.store import Store, StoreError
from agenttrace_tui.store.backend import FileBackend, open_backend
from agenttrace_tui.store.backend.lake import LakeBackend, new_database
from agenttrace_tui.store.backend.location import LakeLocation, parse_store, resolve_store
from agenttrace_tui.store.write.copy import DATA_TABLES
from agenttrace_tui.store.write.follow import Follower

pytestmark = pytest.mark.slow  # a real PostgreSQL catalog per test, processes at once: over ~5 s (the fast loop, `pytest -m "not slow"`, skips it)

# URLs (no server) --------------------------------------------------------------------------------


def test_store_urls_parse_and_print_back() -> None:
    plain = parse_store("ducklake:postgres:dbname=traces host=db.internal")
    assert plain == LakeLocation("dbname=traces host=db.internal", None)
    with_path = parse_store("ducklake:postgres:dbname=traces  data_path=/shared/lake/ host=db.internal")
    assert with_path == LakeLocation("dbname=traces host=db.internal", "/shared/lake/")
    quoted = parse_store("ducklake:postgres:dbname=t data_path='/mnt/team lake/it\\'s/'")
    assert quoted == LakeLocation("dbname=t", "/mnt/team lake/it's/")
    for location in (plain, with_path, quoted):
        assert parse_store(str(location)) == location
    assert parse_store("ducklake:postgres:dbname=t", data_path="s3://bucket/lake/").data_path == "s3://bucket/lake/"
    secret = parse_store("ducklake:postgres:dbname=t password=hunter2 host=h")
    assert isinstance(secret, LakeLocation) and "hunter2" not in secret.display()
    assert parse_store("~/t.duckdb") == Path.home() / "t.duckdb"


@pytest.mark.parametrize(("url", "message"), [
    ("ducklake:sqlite:x.db", "unsupported store URL"),
    ("ducklake:postgres:", "needs the catalog's connection words"),
])
def test_bad_store_urls_are_one_line_errors(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        parse_store(url)
    result = invoke(["sessions", "--db", url])
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_url_from_env_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[store]\ndb = "ducklake:postgres:dbname=from_config"\ndata_path = "/lake/"\n')
    monkeypatch.setenv("AGENTTRACE_CONFIG", str(config))
    monkeypatch.delenv("AGENTTRACE_DB", raising=False)
    monkeypatch.delenv("AGENTTRACE_DATA_PATH", raising=False)
    assert resolve_store(None) == LakeLocation("dbname=from_config", "/lake/")
    monkeypatch.setenv("AGENTTRACE_DB", "ducklake:postgres:dbname=from_env")
    monkeypatch.setenv("AGENTTRACE_DATA_PATH", "/env-lake/")
    assert resolve_store(None) == LakeLocation("dbname=from_env", "/env-lake/")
    assert resolve_store(str(tmp_path / "x.duckdb")) == tmp_path / "x.duckdb"
    assert isinstance(open_backend(resolve_store(str(tmp_path / "x.duckdb"))), FileBackend)


# Every command on a store URL ------------------------------------------------------------------


def rounded(value: Any) -> Any:
    """Sums of floats differ in their last bits with the order rows are added in (parallel scans)."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def cli_json(args: list[str], db: str) -> Any:
    result = invoke([*args, "--db", db, "--json"])
    assert result.returncode in (0, 1), result.stderr
    return rounded(json.loads(result.stdout))


def test_every_command_answers_the_same_on_the_lake(tmp_path: Path, new_lake: Callable[[], LakeLocation]) -> None:
    """ingest, sessions, show, sql, stats, rejects, reprice: the same answers from a file and from a lake."""
    bad = write_jsonl(tmp_path / "bad.jsonl", [span("bad-s", span_id="b1"), "{not json"])
    file_db, lake_db = str(tmp_path / "t.duckdb"), str(new_lake())
    env = {**os.environ, "AGENTTRACE_DB": lake_db}  # the URL from the environment, as a team would set it
    first = subprocess.run([sys.executable, "-m", "agenttrace_tui.cli", "ingest", str(SAMPLES), str(bad), "--json"],
                           capture_output=True, text=True, env=env, cwd=REPO)
    assert first.returncode == 1, first.stderr  # the bad line
    assert json.loads(first.stdout)["stored"] == 934
    assert cli_json(["ingest", str(SAMPLES), str(bad)], file_db)["stored"] == 934
    again = cli_json(["ingest", str(SAMPLES)], lake_db)
    assert all(f["skipped_unchanged"] for f in again["files"])  # unchanged files are skipped on the lake too

    for args in (["sessions"], ["show", "agent-1740998395-n73sc996u"], ["stats", "--by", "name"], ["rejects"],
                 ["sql", "SELECT * EXCLUDE (source_file) FROM spans ORDER BY span_id"],
                 ["sql", "SELECT * FROM session_properties ORDER BY ALL"]):
        from_file, from_lake = cli_json(args, file_db), cli_json(args, lake_db)
        if args == ["rejects"]:  # a team store names files host:path (docs/team-store.md)
            for row in from_lake + from_file:
                row["file"] = row["file"].split(":", 1)[-1]
                del row["rejected_at"]  # when each was ingested
        assert from_lake == from_file, args
    sessions = cli_json(["sessions"], lake_db)
    assert len(sessions) == 59

    prices = tmp_path / "prices.toml"
    prices.write_text('[models."gpt-4o-mini"]\ninput_mtok = 1000\noutput_mtok = 1000\n')
    for db in (file_db, lake_db):
        result = invoke(["reprice", "--prices", str(prices), "--db", db])
        assert result.returncode == 0 and "repriced" in result.stderr, result.stderr
    assert cli_json(["sessions", "--sort", "cost"], lake_db) == cli_json(["sessions", "--sort", "cost"], file_db)
    assert invoke(["rejects", "--clear", "--db", lake_db]).returncode == 0
    assert cli_json(["rejects"], lake_db) == []


def test_a_new_team_store_needs_its_data_path_once(pg_server: Any, tmp_path: Path) -> None:
    bare = LakeLocation(pg_server.createdb("needs_data_path"))
    result = invoke(["ingest", str(SAMPLES / "multi_agent.jsonl"), "--db", str(bare)])
    assert result.returncode == 2 and "data path" in result.stderr and "Traceback" not in result.stderr
    assert "no store" in invoke(["sessions", "--db", str(bare)]).stderr
    created = LakeLocation(bare.conninfo, f"{tmp_path}/lake/")
    assert invoke(["ingest", str(SAMPLES / "multi_agent.jsonl"), "--db", str(created)]).returncode == 0
    # Afterwards the URL alone is enough: DuckLake keeps the data path in its catalog.
    assert cli_json(["sessions"], str(bare))


# Writers at once ---------------------------------------------------------------------------------

SESSIONS = 4
SPANS_PER_SESSION = 20
PROCESSES = 4


def overlapping_files(folder: Path) -> list[Path]:
    """File k starts the spans of session k and ends those of session k+1: every span is merged from two
    files, which different processes ingest at the same time. File 0 also has one bad line."""
    files = []
    for k in range(SESSIONS):
        starts = [span(f"s{k}", span_id=f"s{k}-{i}", start_time=f"2025-01-01T10:{k:02d}:{i:02d}Z", name=f"step {i}")
                  for i in range(SPANS_PER_SESSION)]
        n = (k + 1) % SESSIONS
        ends = [span(f"s{n}", span_id=f"s{n}-{i}", start_time=f"2025-01-01T10:{n:02d}:{i:02d}Z",
                     end_time=f"2025-01-01T10:{n:02d}:{i:02d}.500Z", model="gpt-4o-mini",
                     usage={"input_tokens": 100, "output_tokens": 10})
                for i in range(SPANS_PER_SESSION)]
        files.append(write_jsonl(folder / f"f{k}.jsonl", [*starts, *ends, *(["{bad"] if k == 0 else [])]))
    return files


def test_concurrent_ingest_processes_and_a_reader(tmp_path: Path, new_lake: Callable[[], LakeLocation]) -> None:
    """4 ingest processes (as 4 hosts) race on a new, empty catalog, each ingesting all 4 overlapping files in
    its own order, while a reader keeps reading: every snapshot it sees is whole, and the end state is exact."""
    lake = new_lake()
    files = overlapping_files(tmp_path)
    reader = Store(lake)
    stop = threading.Event()
    seen: list[int] = []
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            try:
                with reader.reader() as con:
                    spans, distinct = con.execute("SELECT count(*), count(DISTINCT span_id) FROM span_data").fetchone()
                    rolled_up = con.execute("SELECT coalesce(sum(spans), 0) FROM session_stats").fetchone()[0]
            except StoreError as exc:
                if seen:  # before the first ingest commits there is no store yet; after, errors are failures
                    problems.append(str(exc))
                continue
            if spans != distinct or spans != rolled_up:
                problems.append(f"inconsistent snapshot: {spans} spans, {distinct} distinct, {rolled_up} rolled up")
            if seen and spans < seen[-1]:
                problems.append(f"went back from {seen[-1]} to {spans} spans")
            seen.append(spans)
            stop.wait(0.05)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "agenttrace_tui.cli", "ingest", "--db", str(lake), "--json", "--wait", "120",
                 *(str(files[(p + i) % SESSIONS]) for i in range(SESSIONS))],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                env={**os.environ, "AGENTTRACE_HOST": f"host{p}"})
            for p in range(PROCESSES)
        ]
        outputs = [process.communicate(timeout=300) for process in processes]
    finally:
        stop.set()
        thread.join()
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 1, stderr  # 1: the bad line; anything else failed
        report = json.loads(stdout)
        assert [f["error"] for f in report["files"]] == [None] * SESSIONS
        assert report["stored"] == SESSIONS * 2 * SPANS_PER_SESSION
    assert not problems, problems[:5]
    assert seen and seen[-1] <= SESSIONS * SPANS_PER_SESSION

    total = SESSIONS * SPANS_PER_SESSION
    with reader.reader() as con:
        def one(sql: str) -> tuple[Any, ...]:
            row = con.execute(sql).fetchone()
            assert row is not None
            return tuple(row)

        assert one("SELECT count(*), count(DISTINCT span_id) FROM span_data") == (total, total)
        # Every span got its end from the other file, whichever process committed last.
        assert one("SELECT count(*) FROM spans WHERE NOT in_progress AND duration_ms = 500 AND name LIKE 'step %' "
                   "AND model = 'gpt-4o-mini'") == (total,)
        assert one("SELECT count(*), sum(spans), sum(in_progress), sum(llm_calls) FROM session_stats") == (
            SESSIONS, total, 0, total)
        assert one("SELECT count(*), count(DISTINCT path) FROM ingested_files") == (
            PROCESSES * SESSIONS, PROCESSES * SESSIONS)
        assert one("SELECT count(*), count(DISTINCT file) FROM rejects") == (PROCESSES, PROCESSES)
        assert one("SELECT count(*), count(DISTINCT key) FROM meta") == (2, 2)  # schema version, input hash probe
        assert one("SELECT count(*) FROM write_token") == (1,)


def test_a_write_that_loses_a_conflict_runs_again(new_lake: Callable[[], LakeLocation]) -> None:
    backend = LakeBackend(new_lake())
    store = Store(backend.location)
    store.clear_rejects()  # sets the store up
    attempts = []
    with backend.writer() as winner, backend.writer() as loser:
        def body() -> int:
            attempts.append(1)
            if len(attempts) == 1:  # another writer commits while this transaction is open
                backend.transaction(winner, lambda: winner.execute(
                    "INSERT INTO rejects VALUES ('w', 1, 'winner', '', now()::TIMESTAMP)"))
            loser.execute("INSERT INTO rejects VALUES ('l', 1, 'loser', '', now()::TIMESTAMP)")
            row = loser.execute("SELECT count(*) FROM rejects").fetchone()
            return int(row[0]) if row else -1

        assert backend.transaction(loser, body) == 2  # the second run saw the winner's row
    assert len(attempts) == 2
    assert sorted(r["reason"] for r in store.rejects()) == ["loser", "winner"]


# Follow, the collector, the explorer -------------------------------------------------------------


def test_follow_mode_on_the_lake(tmp_path: Path, new_lake: Callable[[], LakeLocation]) -> None:
    lake = new_lake()
    trace = write_jsonl(tmp_path / "live.jsonl", [span("live", span_id="a")])
    follower = Follower(lake, [str(trace)])
    first = follower.poll()
    assert first is not None and first.stored == 1
    with trace.open("a") as handle:
        handle.write(json.dumps(span("live", span_id="b")) + "\n" + json.dumps(span("live", span_id="c"))[:10])
    second = follower.poll()
    assert second is not None and second.stored == 1  # the partial line waits
    assert follower.poll() is None
    with trace.open("a") as handle:
        handle.write(json.dumps(span("live", span_id="c"))[10:] + "\n")
    third = follower.poll()
    assert third is not None and third.stored == 1
    assert Store(lake).sessions()[0]["spans"] == 3
    # A new follower resumes after what the store has already (the key is host:path on the lake).
    assert Follower(lake, [str(trace)]).poll() is None


async def test_collector_batch_ingester_on_the_lake(tmp_path: Path, new_lake: Callable[[], LakeLocation]) -> None:
    from agenttrace_tui.serve.ingester import BatchIngester
    from agenttrace_tui.serve.spool import Spool

    lake = new_lake()
    spool = Spool(tmp_path / "spool")
    spool.open()
    try:
        lines = b"".join(json.dumps(span("collected", span_id=f"c{i}")).encode() + b"\n" for i in range(5))
        await spool.append(lines, 5)
        ingester = BatchIngester(spool, lake)  # type: ignore[arg-type]  # serve passes its resolved store
        ingester.cycle()
    finally:
        spool.close()
    assert ingester.counts.stored == 5 and ingester.counts.failures == 0
    assert Store(lake).sessions()[0]["spans"] == 5


async def test_explorer_on_the_lake(new_lake: Callable[[], LakeLocation]) -> None:
    from tui_helpers import SIZE, table, wait_for

    from agenttrace_tui.tui.app import AgentTraceApp

    store = Store(new_lake())
    assert store.ingest([str(SAMPLES)]).ok
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 58)


# copy ------------------------------------------------------------------------------------------


def test_copy_to_the_lake_and_back_is_lossless(tmp_path: Path, new_lake: Callable[[], LakeLocation]) -> None:
    local = tmp_path / "local.duckdb"
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{oops", span("b", span_id="b1", input={"k": [1, {"x": None}]})])
    assert invoke(["ingest", str(SAMPLES), str(bad), "--db", str(local)]).returncode == 1
    lake, back = str(new_lake()), tmp_path / "back.duckdb"

    there = invoke(["copy", "--from", str(local), "--to", lake, "--json"])
    assert there.returncode == 0, there.stderr
    assert json.loads(there.stdout)["rows"]["span_data"] == 447
    assert invoke(["copy", "--from", lake, "--to", str(back)]).returncode == 0

    con = new_database()
    con.execute(FileBackend(local).attach_sql("a", read_only=True))
    con.execute(LakeBackend(parse_store(lake)).attach_sql("b", read_only=True))  # type: ignore[arg-type]
    con.execute(FileBackend(back).attach_sql("c", read_only=True))
    for table in ("meta", *DATA_TABLES):
        counts = [con.execute(f"SELECT count(*) FROM {db}.{table}").fetchone()[0] for db in "abc"]
        assert counts[0] > 0 and counts == [counts[0]] * 3, table
        for x, y in (("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")):
            diff = con.execute(f"SELECT count(*) FROM (FROM {x}.{table} EXCEPT ALL FROM {y}.{table})").fetchone()
            assert diff == (0,), (table, x, y)
    con.close()
    assert oct(back.stat().st_mode & 0o777) == "0o600"

    refused = invoke(["copy", "--from", str(local), "--to", lake])
    assert refused.returncode == 2 and "not empty" in refused.stderr and "--append" in refused.stderr
    extra = write_jsonl(tmp_path / "extra.jsonl", [span("new-s", span_id="n1"), span("b", span_id="b2")])
    assert invoke(["ingest", str(extra), "--db", str(local)]).returncode == 0
    appended = invoke(["copy", "--from", str(local), "--to", lake, "--append", "--json"])
    assert appended.returncode == 0, appended.stderr
    assert json.loads(appended.stdout)["rows"]["span_data"] == 2  # only the spans the lake did not have
    by_id = {s["session_id"]: s for s in cli_json(["sessions"], lake)}
    assert len(by_id) == 60 and by_id["b"]["spans"] == 2 and by_id["new-s"]["spans"] == 1


def test_copy_refuses_the_same_store(tmp_path: Path) -> None:
    db = str(tmp_path / "same.duckdb")
    assert invoke(["ingest", str(SAMPLES / "multi_agent.jsonl"), "--db", db]).returncode == 0
    result = invoke(["copy", "--from", db, "--to", db])
    assert result.returncode == 2 and "same store" in result.stderr


def test_a_password_in_the_store_url_is_never_printed(tmp_path: Path, new_lake: Callable[[], LakeLocation]) -> None:
    """Issue 18, finding 13: ingest's --json named the store with its password (the catalog here trusts loopback,
    so the password is accepted and unused)."""
    lake = new_lake()
    url = str(LakeLocation(f"{lake.conninfo} password=hunter2", lake.data_path))
    trace = write_jsonl(tmp_path / "t.jsonl", [span("pw", span_id="a")])
    ingested = invoke(["ingest", str(trace), "--db", url, "--json"])
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["db"].endswith("password=***" + url.split("hunter2", 1)[1])
    missing = invoke(["show", "no-such-session", "--db", url])
    assert missing.returncode == 2 and "password=***" in missing.stderr
    assert "hunter2" not in ingested.stdout + ingested.stderr + missing.stdout + missing.stderr
