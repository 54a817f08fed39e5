"""Analytics across sessions (`Store.stats`) on a real DuckDB file; every expected number is worked out by
hand in the comments from the three crafted sessions of tests/analytics_records.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from store_helpers import write_jsonl

from agenttrace_tui.store import Store, StoreError
from agenttrace_tui.store.read.analytics import StatsRules, load_rules
from analytics_records import RATE_LIMIT_B, RECORDS, sp


@pytest.fixture(scope="module")
def shared_store(new_store: Callable[[], Store], tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Once per backend (file, lake: tests/conftest.py); the tests only read it."""
    db = new_store()
    assert db.ingest([str(write_jsonl(tmp_path_factory.mktemp("analytics") / "t.jsonl", RECORDS))]).ok
    return db


@pytest.fixture
def store(shared_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("AGENTTRACE_CONFIG", str(tmp_path / "no-config.toml"))
    return shared_store


def by_key(rows: list[Any]) -> dict[str, Any]:
    return {row.key: row for row in rows}


def test_totals_and_cost_per_session(store: Store) -> None:
    stats = store.stats()
    assert (stats.sessions, stats.spans, stats.errors) == (3, 11, 3)
    assert stats.wall_ms == 6000 + 5000 + 10000
    assert stats.cost_usd == pytest.approx(0.875) and stats.unpriced == 1 and stats.sessions_with_unpriced == 1
    # Session costs 0.125, 0.25, 0.5: p50 0.25; p95 at rank 0.95 * 2 = 1.9 → 0.25 + 0.9 * 0.25.
    assert stats.cost_per_session["p50_usd"] == pytest.approx(0.25)
    assert stats.cost_per_session["p95_usd"] == pytest.approx(0.475)
    assert stats.cost_per_session["mean_usd"] == pytest.approx(0.875 / 3)
    # Ten bins of 0.0375 from 0.125: 0.125 → bin 0, 0.25 → bin 3 (3.33), 0.5 → the last bin.
    assert [b.sessions for b in stats.histogram] == [1, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    assert stats.histogram[0].low_usd == pytest.approx(0.125) and stats.histogram[-1].high_usd == pytest.approx(0.5)


def test_cost_breakdowns(store: Store) -> None:
    stats = store.stats()
    models = stats.cost_by["model"]
    assert [m.key for m in models] == ["m-a", "m-b", "acme-llm-1"]
    assert (models[0].spans, models[0].sessions, models[0].cost_usd) == (3, 2, pytest.approx(0.75))
    assert models[0].share == pytest.approx(0.75 / 0.875)
    # An unknown model is counted apart, never as $0.
    assert (models[2].cost_usd, models[2].unpriced) == (None, 1)
    providers = by_key(stats.cost_by["provider"])
    assert providers["p2"].spans == 3 and providers["p2"].cost_usd == pytest.approx(0.125)
    assert providers["p2"].unpriced == 1
    tools = by_key(stats.cost_by["tool"])
    assert tools["search"].spans == 4 and tools["search"].cost_usd is None  # nothing to price
    prefixes = by_key(stats.cost_by["path_prefix"])
    assert prefixes["/iteration"].spans == 6 and prefixes["/iteration"].cost_usd == pytest.approx(0.875)
    assert prefixes["/tools"].spans == 5 and prefixes["/tools"].sessions == 3
    names = by_key(stats.cost_by["session_name"])
    assert (names["Alpha"].sessions, names["Alpha"].spans, names["Alpha"].cost_usd) == (2, 7, pytest.approx(0.75))
    assert (names["Beta"].cost_usd, names["Beta"].unpriced) == (pytest.approx(0.125), 1)


def test_latency_percentiles_and_share_of_wall(store: Store) -> None:
    stats = store.stats()
    search = by_key(stats.latency_by_tool)["search"]
    # Durations 1000, 2000, 2000, 3000 ms.
    assert search.count == 4 and search.sessions == 2
    assert search.p50_ms == pytest.approx(2000)
    assert search.p95_ms == pytest.approx(2850)  # rank 2.85 → 2000 + 0.85 * 1000
    assert search.p99_ms == pytest.approx(2970)
    assert search.max_ms == 3000
    # Busy: A 2 → 5 s (two touching calls) = 3 s; C 1 → 5 s (overlapping) = 4 s; 7 s of 21 s.
    assert search.busy_ms == pytest.approx(7000)
    assert search.share_of_wall == pytest.approx(1 / 3)
    iteration0 = by_key(stats.latency_by_path)["/iteration/0"]
    assert iteration0.count == 4 and iteration0.busy_ms == pytest.approx(2000 + 2000 + 10000)


def test_error_rates_and_fingerprints(store: Store) -> None:
    stats = store.stats()
    assert stats.sessions_with_errors == 3
    assert [(r.key, r.errors, r.count) for r in stats.errors_by_tool] == [("search", 2, 4)]
    assert [(r.key, r.error_rate) for r in stats.errors_by_path] == [("/iteration/4", 1.0), ("/tools/search", 0.5)]
    groups = [(g.fingerprint, g.errors, g.sessions) for g in stats.top_errors]
    assert groups == [
        ('Rate limit N: "…" exceeded (request <id>)', 2, 2),
        ("timeout after N ms for id <id>", 1, 1),
    ]
    assert stats.top_errors[0].example == RATE_LIMIT_B  # the earliest


def test_recovery_per_strategy(store: Store) -> None:
    stats = store.stats()
    # a2 is followed by a3 on the same path, c2 by c3 (a later start, though they overlap); b3 never succeeds.
    assert stats.recovery is not None
    assert (stats.recovery.errors, stats.recovery.recovered, stats.recovery.sessions) == (3, 2, 3)
    assert stats.recovery.sessions_recovered == 2
    rows = {(r.strategy, r.sessions, r.errors, r.recovered, r.sessions_recovered) for r in stats.recovery_by_strategy}
    assert rows == {("retry", 1, 1, 1, 1), ("(not set)", 2, 2, 1, 1)}


def test_recovery_by_a_fallback_below_the_path_or_the_same_tool(tmp_path: Path,
                                                                new_store: Callable[[], Store]) -> None:
    db = new_store()
    db.ingest([str(write_jsonl(tmp_path / "f.jsonl", [
        sp("F", "f1", "/iteration/0", 10, 0, 1, kind="llm", model="m", cost_usd=0.1, error="overloaded"),
        sp("F", "f2", "/iteration/0/fallback", 10, 1, 2, kind="llm", model="m", cost_usd=0.1),
        sp("F", "f3", "/a/tools/get", 10, 2, 3, kind="tool", name="get", error="boom"),
        sp("F", "f4", "/b/tools/get", 10, 3, 4, kind="tool", name="get"),
        sp("F", "f5", "/iteration/9", 10, 4, 5, kind="llm", model="m", cost_usd=0.1, error="late"),
        sp("F", "f6", "/iteration/9", 10, 4, 5, kind="llm", model="m", cost_usd=0.1),  # same start: not later
    ]))])
    recovery = db.stats(rules=StatsRules()).recovery
    assert recovery is not None and (recovery.errors, recovery.recovered) == (3, 2)


def test_repeated_inputs_and_expensive_paths(store: Store) -> None:
    stats = store.stats()
    assert stats.repeats == 2
    assert stats.repeats_wasted_cost_usd == pytest.approx(0.0625)
    assert [(r.path, r.repeats, r.wasted_cost_usd) for r in stats.repeats_by_path] == [
        ("/iteration/0", 1, pytest.approx(0.0625)), ("/tools/search", 1, None)]
    assert [(p.key, p.cost_usd, p.unpriced) for p in stats.expensive_paths] == [
        ("/iteration/0", pytest.approx(0.75), 0), ("/iteration/1", pytest.approx(0.125), 0),
        ("/iteration/4", None, 1)]
    assert [t.key for t in stats.slowest_tools] == ["search", "human_review"]


def test_iteration_limit_and_human_rules(store: Store) -> None:
    stats = store.stats()
    assert stats.iteration_limit_sessions == 2
    assert [(f.session_id, f.iterations, f.reason) for f in stats.iteration_limit] == [
        ("B", 5, "5 iterations (limit 5)"), ("C", 1, "property Outcome=max-iterations")]
    assert stats.human_sessions == 1
    assert [(f.session_id, f.reason) for f in stats.human] == [("B", "path /tools/human_review")]


def test_rules_from_the_config_file(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[stats]\niteration_limit = 2\nlimit_property = ""\nhuman_pattern = ""\n'
                      'human_property = "Agent-Version=v1"\n')
    monkeypatch.setenv("AGENTTRACE_CONFIG", str(config))
    stats = store.stats()
    assert [f.session_id for f in stats.iteration_limit] == ["B", "A"]  # 5 and 2 iterations; C has 1
    assert [(f.session_id, f.reason) for f in stats.human] == [
        ("A", "property Agent-Version=v1"), ("C", "property Agent-Version=v1")]


@pytest.mark.parametrize(("body", "message"), [
    ('[stats]\niteration_path = "/iteration/\\\\d+"\n', "needs a group"),
    ('[stats]\niteration_limit = 0\n', "iteration_limit must be a whole number"),
    ('[stats]\nhuman_property = "Needs-Human"\n', "NAME=VALUE"),
    ('[stats]\nhuman_pattern = "(unclosed"\n', "not a regular expression"),
    ('[stats]\nlimits = 3\n', "unknown key 'limits'"),
])
def test_bad_rules_are_one_line_errors(tmp_path: Path, body: str, message: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(body)
    with pytest.raises(StoreError, match=message):
        load_rules(config)


def test_compare_by_property(store: Store) -> None:
    stats = store.stats(by="prop.Agent-Version")
    v1, v2 = stats.compare
    assert (v1.value, v1.sessions, v1.cost_per_session) == ("v1", 2, pytest.approx(0.375))
    # Durations 6 s and 10 s: p50 8 s, p95 6 + 0.95 * 4 = 9.8 s; 2 errors in 7 spans; llm calls 2 and 1.
    assert (v1.p50_duration_ms, v1.p95_duration_ms) == (pytest.approx(8000), pytest.approx(9800))
    assert v1.error_rate == pytest.approx(2 / 7) and v1.iterations_per_session == pytest.approx(1.5)
    assert (v2.value, v2.sessions, v2.cost_per_session, v2.unpriced) == ("v2", 1, pytest.approx(0.125), 1)
    assert v2.error_rate == pytest.approx(1 / 4) and v2.iterations_per_session == 3
    assert v2.diff["cost_per_session"] == pytest.approx(-0.25)
    assert v2.diff_pct["cost_per_session"] == pytest.approx(-2 / 3)
    assert v2.diff["iterations_per_session"] == pytest.approx(1.5) and v2.diff_pct["iterations_per_session"] == 1.0
    assert v1.diff["cost_per_session"] == 0


def test_compare_shows_sessions_without_the_property_and_by_name(store: Store) -> None:
    assert [(r.value, r.sessions) for r in store.stats(by="prop.Outcome").compare] == [
        ("max-iterations", 1), ("(not set)", 2)]
    assert [(r.value, r.sessions) for r in store.stats(by="name").compare] == [("Alpha", 2), ("Beta", 1)]
    with pytest.raises(StoreError, match="--by: unknown field"):
        store.stats(by="color")


def test_filters_and_time_range_select_whole_sessions(store: Store) -> None:
    only_b = store.stats(["name = Beta"])
    assert (only_b.sessions, only_b.spans, only_b.cost_usd, only_b.unpriced) == (1, 4, pytest.approx(0.125), 1)
    # A started at 10:00:00 and its spans run to 10:00:06: a range from 10:00:03 leaves it out whole.
    later = store.stats(since="2025-01-01T10:00:03Z")
    assert (later.sessions, later.spans) == (2, 7)
    assert [r.key for r in later.latency_by_tool] == ["search", "human_review"]
    assert by_key(later.latency_by_tool)["search"].count == 2
    window = store.stats(since="2025-01-01T10:30:00Z", until="2025-01-01T11:30:00Z")
    assert window.sessions == 1 and window.cost_usd == pytest.approx(0.125)


def test_nothing_selected(store: Store) -> None:
    stats = store.stats(["name = nobody"])
    assert stats.sessions == 0 and stats.histogram == [] and stats.compare == []
    assert stats.to_json()["cost"]["total_usd"] == 0
