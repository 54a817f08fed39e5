"""`agenttrace stats` from the session_groups rollup gives what the previous query path gave.

The reference is that query path itself (tests/stats_reference.py: every span read into a temp table with an md5
of its input, busy time as islands), run on the same store. The data: the sample traces, and generated sessions
with errors (recovered or not, by a retry, a fallback below the path or the same tool elsewhere), repeated
inputs, several tools (one unnamed), overlapping and unfinished spans, priced, reported and unpriced models,
session records whose properties override the spans', in two files whose second adds spans to the first's
sessions and changes some of its spans (so rollups are recomputed for sessions touched again). Also: a
version-1 store (built with the version-1 DDL) upgraded in place gives the same figures; copy carries the rollup.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest
import stats_reference
from schema_v1 import V1_TABLES, V1_VIEWS
from store_helpers import SAMPLES, write_jsonl

from agenttrace_tui.store import Store, compile_filters
from agenttrace_tui.store.backend.location import LakeLocation
from agenttrace_tui.store.backend.schema import SCHEMA_VERSION
from agenttrace_tui.store.backend.session_groups import GROUPS_ROLLUP_SQL
from agenttrace_tui.store.read.analytics import StatsRules, session_stats
from agenttrace_tui.store.write.copy import copy_store

BASE_HOUR = 8
TOOLS = ("search", "fetch", "human_review", None)  # None: a tool span without a name
MODELS = (("m-reported", "p1"), ("gpt-4o-mini", "openai"), ("acme-unknown-1", "acme"), (None, None))
MESSAGES = (
    'Rate limit {n}: "user-{n}" exceeded (request 123e4567-e89b-12d3-a456-42661417{n:04d})',
    "timeout after {n} ms for id 0xdeadbeef{n:02d}",
    "tool 'lookup' failed: code {n}",
)


def _at(session: int, micros: int) -> str:
    seconds, micro = divmod(micros, 1_000_000)
    minute, second = divmod(seconds, 60)
    return f"2025-01-{1 + session // 10:02d}T{BASE_HOUR + session % 10:02d}:{minute:02d}:{second:02d}.{micro:06d}Z"


def generated_sessions(seed: int, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two files' records: the second continues the first's sessions and rewrites some of its spans."""
    rng = random.Random(seed)
    first: list[dict[str, Any]] = []
    second: list[dict[str, Any]] = []
    for index in range(count):
        sid = f"g{index:03d}"
        records: list[dict[str, Any]] = []
        strategy = rng.choice(["retry", "fallback", None])
        common: dict[str, Any] = {"session_id": sid}
        if rng.random() < 0.7:
            common["session_name"] = rng.choice(["Alpha", "Beta", "Gamma"])
        if rng.random() < 0.5:
            common["user_id"] = f"user-{rng.randint(1, 4)}"
        props = {"Agent-Version": rng.choice(["v1", "v2"]), "Tier": rng.choice(["free", "pro"])}

        def span(span_id: str, path: str | None, start: int, length: int | None, **fields: Any) -> dict[str, Any]:
            record: dict[str, Any] = {**common, "span_id": f"{sid}-{span_id}", "start_time": _at(index, start),
                                      "properties": dict(props), **fields}
            if path is not None:
                record["path"] = path
            if length is not None:
                if rng.random() < 0.2:
                    record["duration_ms"] = length / 1000
                else:
                    record["end_time"] = _at(index, start + length)
            if strategy and rng.random() < 0.8:
                # Now and then a span says another strategy: the session's property becomes a list.
                record["properties"]["Recovery-Strategy"] = strategy if rng.random() < 0.9 else "escalate"
            return record

        clock = rng.randint(0, 500_000)
        iterations = rng.randint(1, 9)
        records.append(span("root", None if rng.random() < 0.5 else "/", clock,
                            None if rng.random() < 0.15 else 40_000_000, kind="agent", name="agent"))
        for it in range(iterations):
            model, provider = rng.choice(MODELS)
            llm: dict[str, Any] = {"kind": "llm", "input": {"q": rng.randint(0, 3)}}
            if model is not None:
                llm |= {"model": model, "usage": {"input_tokens": rng.randint(10, 900),
                                                  "output_tokens": rng.randint(0, 300)}}
            if provider is not None and rng.random() < 0.8:
                llm["provider"] = provider
            if model == "m-reported":
                llm["cost_usd"] = rng.choice([0.25, 0.125, 0.001, 0.0123])
            failed = rng.random() < 0.25
            if failed:
                llm["error"] = rng.choice(MESSAGES).format(n=rng.randint(1, 999)) if rng.random() < 0.8 else {
                    "type": "Overloaded"}
            length = rng.randint(1, 3_000_000)
            records.append(span(f"it{it}", f"/iteration/{it}", clock, length, **llm))
            if failed and rng.random() < 0.7:  # a retry with the same input, or a fallback below the path
                retry_path = f"/iteration/{it}" if rng.random() < 0.5 else f"/iteration/{it}/fallback"
                records.append(span(f"it{it}r", retry_path, clock + rng.choice([0, length, length + 5]),
                                    rng.randint(1, 900_000), **{k: v for k, v in llm.items() if k != "error"}))
            clock += length + rng.randint(0, 200_000)
            for call in range(rng.randint(0, 4)):
                name = rng.choice(TOOLS)
                tool: dict[str, Any] = {"kind": "tool", "input": {"args": rng.randint(0, 2)}}
                if name is not None:
                    tool["name"] = name
                if rng.random() < 0.2:
                    tool["status_code"] = rng.choice([500, -1, 404])
                elif rng.random() < 0.1:
                    tool["status"] = "error"
                path = f"/tools/{name or 'anon'}" if rng.random() < 0.8 else f"/a/tools/{name or 'anon'}"
                # Calls overlap now and then (a start before the previous call ended); some never finish.
                start = clock - rng.randint(0, 400_000) if rng.random() < 0.3 else clock
                length = None if rng.random() < 0.05 else rng.randint(0, 1_500_000)
                records.append(span(f"it{it}t{call}", path, start, length, **tool))
                clock = start + (length or 0) + rng.randint(0, 100_000)
        if rng.random() < 0.4:
            record: dict[str, Any] = {"type": "session", "session_id": sid,
                                      "name": rng.choice(["Alpha", "Delta"]),
                                      "properties": {"Agent-Version": "v3"} if rng.random() < 0.5 else {
                                          "Outcome": "max-iterations", "Needs-Human": "yes"}}
            if rng.random() < 0.5:
                record["user_id"] = "user-9"
            records.append(record)

        cut = rng.randint(1, len(records))
        first.extend(records[:cut])
        second.extend(records[cut:])
        # Later lines for spans of the first file: one finishes an unfinished span, one changes its input
        # (its repeat changes), one fails.
        spans = [r for r in records[:cut] if r.get("type") != "session"]
        for old in rng.sample(spans, min(len(spans), rng.randint(0, 3))):
            change = rng.choice(["end", "input", "error"])
            update: dict[str, Any] = {"session_id": sid, "span_id": old["span_id"], "start_time": old["start_time"]}
            if change == "end":
                update["end_time"] = _at(index, 45_000_000)
            elif change == "input":
                update["input"] = {"q": "changed"}
            else:
                update["error"] = "late failure 42"
            second.append(update)
    return first, second


def _close(a: Any, b: Any, where: str = "") -> None:
    """Equal, floats up to rounding (sums of doubles in another order)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), (where, a, b)
        for key in a:
            _close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (where, a, b)
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (where, a, b)
    else:
        assert a == b, (where, a, b)


CASES: Sequence[tuple[list[str], str | None, int, StatsRules]] = (
    ([], None, 10, StatsRules()),
    ([], "prop.Agent-Version", 3, StatsRules()),
    (["errors > 0"], "prop.Recovery-Strategy", 10, StatsRules()),
    (["name = Alpha"], "name", 5, StatsRules(human_pattern="anon|human", human_property="Needs-Human=yes")),
    (["cost > 0.01"], "user", 50, StatsRules(iteration_limit=3, limit_property="", human_pattern="")),
    (["tool = search"], None, 2, StatsRules(iteration_path=r"/iteration/(\d+)/fallback", human_pattern="^$")),
    (["name = nobody"], None, 10, StatsRules()),
)


def assert_same_as_reference(store: Store, cases: Sequence[tuple[list[str], str | None, int, StatsRules]] = CASES,
                             ) -> list[dict[str, Any]]:
    results = []
    for filters, by, top, rules in cases:
        where = compile_filters(filters)
        with store.reader() as con:
            expected = stats_reference.session_stats(con, where, by=by, top=top, rules=rules).to_json()
            got = session_stats(con, where, by=by, top=top, rules=rules).to_json()
        _close(expected, got, f"{filters} by {by}")
        results.append(got)
    return results


def _ingest_generated(store: Store, tmp_path: Path, seed: int = 8, count: int = 40) -> None:
    first, second = generated_sessions(seed, count)
    for name, records in (("first.jsonl", first), ("second.jsonl", second)):
        result = store.ingest([str(write_jsonl(tmp_path / name, records))])
        assert result.ok and result.rejected == 0, result


@pytest.fixture(scope="module")
def generated(new_store: Callable[[], Store], tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = new_store()
    _ingest_generated(store, tmp_path_factory.mktemp("generated"))
    return store


def test_generated_sessions_cover_what_the_figures_distinguish(generated: Store) -> None:
    """The data is worth comparing on: every list of the stats has rows (else the comparison proves little)."""
    data = generated.stats(rules=StatsRules(human_pattern="anon|human")).to_json()
    assert data["sessions"] == 40
    assert data["cost"]["unpriced"] > 0 and len(data["cost"]["by_model"]) == 4
    assert {row["key"] for row in data["latency"]["by_tool"]} == {"search", "fetch", "human_review", "(unnamed tool)"}
    assert data["errors"]["errors"] > 20 and len(data["errors"]["top_messages"]) >= 4
    recovery = data["errors"]["recovery"]
    assert 0 < recovery["recovered"] < recovery["errors"] and len(recovery["by_strategy"]) >= 3
    assert data["bottlenecks"]["repeated_inputs"]["repeats"] > 5
    assert data["bottlenecks"]["repeated_inputs"]["wasted_cost_usd"] > 0
    assert data["bottlenecks"]["iteration_limit"]["sessions"] > 0 and data["bottlenecks"]["needed_human"]["sessions"] > 0
    with generated.reader() as con:
        overlapping = con.execute(
            "SELECT count(*) FROM spans a JOIN spans b USING (session_id, name) WHERE a.kind = 'tool' "
            "AND b.kind = 'tool' AND a.span_id <> b.span_id AND b.start_time >= a.start_time "
            "AND b.start_time < a.end_time").fetchone()
        unfinished = con.execute("SELECT count(*) FROM spans WHERE in_progress").fetchone()
    assert overlapping and overlapping[0] > 0 and unfinished and unfinished[0] > 0


def test_generated_sessions_same_as_reference(generated: Store) -> None:
    assert_same_as_reference(generated)


@pytest.mark.slow
def test_sample_traces_same_as_reference(new_store: Callable[[], Store]) -> None:
    store = new_store()
    assert store.ingest([str(SAMPLES)]).ok
    assert_same_as_reference(store, [
        ([], None, 10, StatsRules()),
        ([], "prop.Agent-Version", 10, StatsRules()),
        (["errors > 0"], "user", 3, StatsRules(human_pattern="email|weather")),
    ])


def test_rollups_of_sessions_touched_again_equal_a_fresh_rollup(generated: Store) -> None:
    """Ingest rolled each session up when its file touched it; recomputing all of them changes nothing."""
    with generated.reader() as con:
        before = con.execute("SELECT * FROM session_groups ORDER BY session_id, dim, key").fetchall()
        con.execute("CREATE OR REPLACE TEMP TABLE touched_sessions AS SELECT DISTINCT session_id FROM span_data")
        select = GROUPS_ROLLUP_SQL.split("INSERT INTO session_groups BY NAME", 1)[1].strip().rstrip(";")
        columns = ", ".join(d[0] for d in con.execute("SELECT * FROM session_groups LIMIT 0").description or [])
        fresh = con.execute(f"SELECT {columns} FROM ({select}) ORDER BY session_id, dim, key").fetchall()
    assert len(before) == len(fresh) > 0
    for old, new in zip(before, fresh):
        _close(list(old), list(new))


def test_reprice_rolls_the_groups_up_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    _ingest_generated(store, tmp_path, seed=3, count=12)
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."acme-unknown-1"]\ninput_mtok = 1.5\noutput_mtok = 6\n')
    assert store.reprice(prices) > 0
    [data] = assert_same_as_reference(store, [([], None, 10, StatsRules())])
    models = {row["key"]: row for row in data["cost"]["by_model"]}
    assert models["acme-unknown-1"]["cost_usd"] > 0 and models["acme-unknown-1"]["unpriced"] == 0


def test_busy_time_is_the_union_of_intervals(tmp_path: Path) -> None:
    """Overlapping calls count once, touching ones add up, starts in a tie in either order; a span whose end
    precedes its start adds nothing (the islands of the previous path made it a negative island)."""
    store = Store(tmp_path / "s.duckdb")

    def call(span_id: str, start: float, end: float) -> dict[str, Any]:
        return {"session_id": "b", "span_id": span_id, "kind": "tool", "name": "t", "path": "/tools/t",
                "start_time": f"2025-01-01T10:00:{start:09.6f}Z", "end_time": f"2025-01-01T10:00:{end:09.6f}Z"}

    records = [call("a", 1, 3), call("b", 1, 2), call("c", 2.5, 4.000001), call("d", 5, 6), call("e", 6, 6.5),
               call("z", 8, 7)]
    assert store.ingest([str(write_jsonl(tmp_path / "b.jsonl", records))]).ok
    stats = store.stats(rules=StatsRules())
    [tool] = stats.latency_by_tool
    assert tool.busy_ms == pytest.approx(3000.001 + 1500)
    assert [row.busy_ms for row in stats.latency_by_path] == [pytest.approx(4500.001)]


def test_input_hash_follows_the_input_through_merges(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    line = {"session_id": "h", "start_time": "2025-01-01T10:00:00Z", "path": "/p"}
    assert store.ingest([str(write_jsonl(tmp_path / "1.jsonl", [
        {**line, "span_id": "x", "input": {"a": [1, "two"]}},
        {**line, "span_id": "y", "input": {"a": [1, "two"]}},
        {**line, "span_id": "z"},
    ]))]).ok
    # A later line without an input keeps the hash; one with another input changes it.
    assert store.ingest([str(write_jsonl(tmp_path / "2.jsonl", [
        {**line, "span_id": "x", "end_time": "2025-01-01T10:00:01Z"},
        {**line, "span_id": "y", "input": "other"},
    ]))]).ok
    with store.reader() as con:
        rows = dict(con.execute("SELECT span_id, input_hash FROM spans").fetchall())
        expected = dict(con.execute(
            "SELECT span_id, CASE WHEN input IS NOT NULL THEN hash(CAST(input AS VARCHAR)) END FROM span_data"
        ).fetchall())
    assert rows == expected and rows["z"] is None and rows["x"] != rows["y"]
    assert store.stats(rules=StatsRules()).repeats == 0


# A version-1 store upgraded in place ---------------------------------------------------------------------


def _raw_connection(store: Store, alias: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB instance with `store` attached for writing as `alias`, below agenttrace's own setup."""
    if isinstance(store.path, LakeLocation):
        from agenttrace_tui.store.backend.lake import new_database

        con = new_database()
    else:
        con = duckdb.connect()
    con.execute(store.backend.attach_sql(alias, read_only=False))
    return con


def build_version_1_store(source: Store, target: Store) -> None:
    """`target` as version 1 of agenttrace left it: the version-1 DDL, and the rows (every column version 1 had)
    of `source`, whose rollups of version 1 (session_stats, session_properties) version 2 computes alike."""
    con = _raw_connection(target, "v1")
    try:
        con.execute(source.backend.attach_sql("src", read_only=True))
        con.execute("USE v1")
        con.execute("BEGIN TRANSACTION")
        con.execute(V1_TABLES.replace("{payload_compression}", ""))
        if isinstance(target.path, LakeLocation):
            from agenttrace_tui.store.backend.lake import WRITE_TOKEN_TABLE

            con.execute(WRITE_TOKEN_TABLE)
        con.execute(V1_VIEWS)
        con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        for table in ("span_data", "session_records", "session_stats", "session_properties", "rejects",
                      "ingested_files"):
            columns = ", ".join(row[0] for row in con.execute(f"DESCRIBE v1.{table}").fetchall())
            con.execute(f"INSERT INTO v1.{table} ({columns}) SELECT {columns} FROM src.{table}")
        con.execute("COMMIT")
    finally:
        con.close()


@pytest.mark.slow
def test_a_version_1_store_is_upgraded_in_place_with_the_same_figures(
        generated: Store, new_store: Callable[[], Store], tmp_path: Path) -> None:
    old = new_store()
    build_version_1_store(generated, old)
    with generated.reader() as con:
        spans = con.execute("SELECT span_id, input_hash FROM span_data ORDER BY span_id").fetchall()
        groups = con.execute("SELECT * FROM session_groups ORDER BY session_id, dim, key").fetchall()
        expected = [session_stats(con, compile_filters(filters), by=by, top=top, rules=rules).to_json()
                    for filters, by, top, rules in CASES]

    got = assert_same_as_reference(old)  # the first read upgrades the store
    with generated.reader() as con:
        tables = {t: con.execute(f"DESCRIBE {t}").fetchall() for t in ("span_data", "session_groups", "spans")}
    with old.reader() as con:
        assert {t: con.execute(f"DESCRIBE {t}").fetchall() for t in tables} == tables
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert con.execute("SELECT span_id, input_hash FROM span_data ORDER BY span_id").fetchall() == spans
        upgraded = con.execute("SELECT * FROM session_groups ORDER BY session_id, dim, key").fetchall()
    assert len(upgraded) == len(groups)
    for a, b in zip(groups, upgraded):
        _close(list(a), list(b))
    _close(expected, got)
    # ... and it goes on as a version-2 store: a new file's rollups are written with it.
    extra = {"session_id": "g000", "span_id": "late", "start_time": "2025-01-01T08:59:00Z", "kind": "tool",
             "name": "search", "path": "/tools/search", "input": {"args": 0}}
    assert old.ingest([str(write_jsonl(tmp_path / "late.jsonl", [extra]))]).ok
    assert_same_as_reference(old, CASES[:2])


def test_copy_carries_the_rollup(generated: Store, tmp_path: Path) -> None:
    target = Store(tmp_path / "copy.duckdb")
    result = copy_store(generated, target)
    assert result.rows["session_groups"] > 0
    with generated.reader() as con:
        expected = con.execute("SELECT count(*) FROM session_groups").fetchone()
    assert result.rows["session_groups"] == (expected[0] if expected else -1)
    assert_same_as_reference(target, CASES[:3])
    appended = Store(tmp_path / "appended.duckdb")
    copy_store(generated, appended, append=True)  # an append recomputes the rollups of what it brought
    assert_same_as_reference(appended, CASES[:1])
