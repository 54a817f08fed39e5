"""A call of a model that reported no token counts has an unknown cost: unpriced, never $0, in the spans view, the
session rollups, stats and a reprice; a store written before (schema 4, which costed it $0) is corrected when it is
opened (issue 19, finding 3)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from store_helpers import invoke, span, write_jsonl

RECORDS = [
    span("u1", span_id="no-usage", duration_ms=5, kind="llm", model="gpt-4o-mini"),
    span("u1", span_id="no-kind", duration_ms=5, model="gpt-4o-mini"),  # a model makes it an LLM call
    span("u1", span_id="priced", duration_ms=5, kind="llm", model="gpt-4o-mini",
         usage={"input_tokens": 1000, "output_tokens": 100}),
    span("u1", span_id="zeros", duration_ms=5, kind="llm", model="gpt-4o-mini",
         usage={"input_tokens": 0, "output_tokens": 0}),  # reported zeros: free
    span("u1", span_id="agent", duration_ms=5, kind="agent", model="gpt-4o-mini"),  # its calls are its children
    span("u1", span_id="rate-limited", duration_ms=5, kind="llm", model="gpt-4o-mini", status_code=429),  # unbilled: $0
    span("u2", span_id="other-no-usage", duration_ms=5, kind="llm", model="claude-sonnet-4"),
]
EXPECTED_SPANS = [("agent", None, None), ("no-kind", None, "unpriced"), ("no-usage", None, "unpriced"),
                  ("other-no-usage", None, "unpriced"), ("priced", 0.00021, "computed"), ("rate-limited", 0.0, "computed"),
                  ("zeros", 0.0, "computed")]


def _ingested(tmp_path: Path) -> Path:
    db = tmp_path / "store.duckdb"
    result = invoke(["ingest", str(write_jsonl(tmp_path / "run.jsonl", RECORDS)), "--db", str(db)])
    assert result.returncode == 0, result.stderr
    return db


def _spans(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT span_id, round(cost_usd, 8), cost_source FROM spans ORDER BY span_id").fetchall()
    return [(span_id, None if cost is None else float(cost), source) for span_id, cost, source in rows]


def _figures(db: Path) -> tuple[dict[str, tuple[object, object]], dict[str, object], str]:
    sessions = json.loads(invoke(["sessions", "--db", str(db), "--json"]).stdout)
    stats = json.loads(invoke(["stats", "--db", str(db), "--json"]).stdout)
    listed = invoke(["sessions", "--db", str(db)]).stdout
    return ({s["session_id"]: (round(s["cost_usd"], 8), s["unpriced"]) for s in sessions}, stats["cost"], listed)


def test_a_call_with_no_usage_is_unpriced_everywhere(tmp_path: Path) -> None:
    db = _ingested(tmp_path)
    assert _spans(db) == EXPECTED_SPANS
    sessions, cost, listed = _figures(db)
    assert sessions == {"u1": (0.00021, 2), "u2": (0.0, 1)}
    assert cost["unpriced"] == 3 and cost["sessions_with_unpriced"] == 2
    by_model = {row["key"]: row for row in cost["by_model"]}
    assert by_model["claude-sonnet-4"]["cost_usd"] is None and by_model["claude-sonnet-4"]["unpriced"] == 1
    u1, u2 = (next(line for line in listed.splitlines() if f" {sid} " in line) for sid in ("u1", "u2"))
    assert "$0.0002 + 2 unpriced" in u1 and "$0 + 1 unpriced" in u2  # the known sum, and the calls without one

    assert invoke(["reprice", "--db", str(db)]).returncode == 0  # the other path that computes costs
    assert _spans(db) == EXPECTED_SPANS


def test_a_schema_4_store_that_costed_them_0_is_corrected_when_opened(tmp_path: Path) -> None:
    db = _ingested(tmp_path)
    with duckdb.connect(str(db)) as con:  # what schema 4 wrote: $0 computed, no unpriced calls
        con.execute("UPDATE span_data SET cost_computed = 0.0 "
                    "WHERE span_id IN ('no-usage', 'no-kind', 'other-no-usage', 'rate-limited')")
        con.execute("UPDATE session_stats SET unpriced = 0")
        con.execute("UPDATE session_groups SET unpriced = 0")
        con.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT sum(unpriced) FROM session_stats").fetchone() == (0,)

    sessions, cost, _ = _figures(db)  # the first read upgrades the store
    assert sessions == {"u1": (0.00021, 2), "u2": (0.0, 1)} and cost["unpriced"] == 3
    assert _spans(db) == EXPECTED_SPANS
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("5",)
        assert con.execute("SELECT key, unpriced FROM session_groups WHERE dim = 'model' ORDER BY key").fetchall() == [
            ("claude-sonnet-4", 1), ("gpt-4o-mini", 2)]
