"""Sessions, filters, cost, the path tree and SQL, with known figures: on a real DuckDB file and on a DuckLake
team store (`new_store` runs each test on both backends; tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price
from store_helpers import span, write_jsonl

from agenttrace_tui.store import FilterError, Store, StoreError

T0 = "2025-01-01T10:00:00Z"


def ingested(db_store: Store, folder: Path) -> Store:
    records = [
        # s-cheap: one priced LLM call and one tool call, v1.0, 3 s long.
        {"type": "session", "session_id": "s-cheap", "name": "Support"},
        span("s-cheap", span_id="c1", path="/iteration/0", model="gpt-4o-mini", provider="openai",
             start_time=T0, end_time="2025-01-01T10:00:01Z",
             usage={"input_tokens": 1000, "output_tokens": 100}, properties={"Agent-Version": "v1.0"}),
        span("s-cheap", span_id="c2", path="/tools/search_database", kind="tool", name="search_database",
             start_time="2025-01-01T10:00:01Z", end_time="2025-01-01T10:00:03Z",
             properties={"Agent-Version": "v1.0", "Tool-Category": "data"}),
        # s-costly: gpt-4o with cached tokens, an unknown model, and a failing tool; v1.1; 60 s long.
        span("s-costly", span_id="x1", path="/iteration/0", model="gpt-4o", start_time="2025-01-02T10:00:00Z",
             end_time="2025-01-02T10:00:10Z",
             usage={"input_tokens": 10000, "output_tokens": 2000, "cache_read_tokens": 4000},
             properties={"Agent-Version": "v1.1"}, user_id="alice"),
        span("s-costly", span_id="x2", path="/iteration/1", model="acme-llm-1", start_time="2025-01-02T10:00:10Z",
             end_time="2025-01-02T10:00:20Z", usage={"input_tokens": 50, "output_tokens": 5},
             properties={"Agent-Version": "v1.1"}),
        span("s-costly", span_id="x3", path="/tools/fetch_weather", kind="tool", name="fetch_weather",
             start_time="2025-01-02T10:00:20Z", end_time="2025-01-02T10:01:00Z", status_code=-1,
             properties={"Agent-Version": "v1.1"}),
        # s-reported: the provider reported a cost; it wins over the computed one.
        span("s-reported", span_id="r1", model="gpt-4o", start_time="2025-01-03T10:00:00Z", duration_ms=500,
             usage={"input_tokens": 100, "output_tokens": 10}, cost_usd=0.5, session_name="Reported"),
    ]
    result = db_store.ingest([str(write_jsonl(folder / "t.jsonl", records))])
    assert result.ok
    return db_store


@pytest.fixture(scope="module")
def store(new_store: Callable[[], Store], tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Shared by the tests of a module (a team store costs ~1 s to set up): tests that write use their own."""
    return ingested(new_store(), tmp_path_factory.mktemp("traces"))


def library_cost(model: str, **usage: int) -> float:
    return float(calc_price(Usage(**usage), model_ref=model, provider_id="openai").total_price)


def test_session_rollups(store: Store) -> None:
    by_id = {s["session_id"]: s for s in store.sessions()}
    costly = by_id["s-costly"]
    assert costly["duration_ms"] == 60_000
    assert (costly["spans"], costly["llm_calls"], costly["tool_calls"]) == (3, 2, 1)
    assert costly["errors"] == 1 and costly["error_rate"] == pytest.approx(1 / 3)
    assert (costly["input_tokens"], costly["output_tokens"], costly["cache_read_tokens"]) == (10050, 2005, 4000)
    assert costly["unpriced"] == 1
    assert costly["models"] == ["acme-llm-1", "gpt-4o"] and costly["tools"] == ["fetch_weather"]
    assert costly["user_ids"] == ["alice"]
    assert costly["properties"] == {"Agent-Version": "v1.1"}
    cheap = by_id["s-cheap"]
    assert cheap["name"] == "Support" and cheap["duration_ms"] == 3000
    assert cheap["properties"] == {"Agent-Version": "v1.0", "Tool-Category": "data"}


def test_costs_are_computed_per_model_and_unknown_models_unpriced(store: Store) -> None:
    costs = dict(store.sql("SELECT span_id, cost_usd FROM spans")[1])
    sources = dict(store.sql("SELECT span_id, cost_source FROM spans")[1])
    assert costs["c1"] == pytest.approx(library_cost("gpt-4o-mini", input_tokens=1000, output_tokens=100))
    # input includes cached tokens; genai-prices takes the same convention.
    assert costs["x1"] == pytest.approx(
        library_cost("gpt-4o", input_tokens=10000, output_tokens=2000, cache_read_tokens=4000))
    assert costs["x2"] is None and sources["x2"] == "unpriced"
    assert costs["x3"] is None and sources["x3"] is None  # a tool: nothing to price
    assert costs["r1"] == 0.5 and sources["r1"] == "reported"


def test_price_overrides_and_reprice(new_store: Callable[[], Store], tmp_path: Path) -> None:
    store = ingested(new_store(), tmp_path)
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."acme-llm-1"]\ninput_mtok = 1000.0\noutput_mtok = 2000.0\n'
                      '[models."openai/gpt-4o-mini"]\ninput_mtok = 0\noutput_mtok = 0\n')
    assert store.reprice(prices) == 3
    costs = dict(store.sql("SELECT span_id, cost_usd FROM spans")[1])
    assert costs["x2"] == pytest.approx((50 * 1000 + 5 * 2000) / 1e6)
    assert costs["c1"] == 0
    assert costs["r1"] == 0.5  # reported costs are kept
    by_id = {s["session_id"]: s for s in store.sessions()}
    assert by_id["s-costly"]["unpriced"] == 0
    assert by_id["s-costly"]["cost_usd"] == pytest.approx(costs["x1"] + costs["x2"])


def test_config_file_prices_apply_at_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           new_store: Callable[[], Store]) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[prices.models."acme-llm-1"]\ninput_mtok = 10\noutput_mtok = 10\n')
    monkeypatch.setenv("AGENTTRACE_CONFIG", str(config))
    db = new_store()
    db.ingest([str(write_jsonl(tmp_path / "t.jsonl", [span(model="acme-llm-1", usage={"input_tokens": 100000})]))])
    assert db.sql("SELECT cost_usd, cost_source FROM spans")[1] == [(1.0, "computed")]


def test_bad_price_file_is_a_one_line_error(tmp_path: Path, store: Store) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[models."x"]\ninput_mtok = "cheap"\n')
    with pytest.raises(StoreError, match=r"models\.x\.input_mtok must be a number"):
        store.reprice(bad)


def ids(rows: list[dict[str, object]]) -> list[object]:
    return sorted(row["session_id"] for row in rows)


@pytest.mark.parametrize(("filters", "expected"), [
    (["cost > 0.01"], ["s-costly", "s-reported"]),
    (["cost <= $0.01"], ["s-cheap"]),
    (["duration >= 1m"], ["s-costly"]),
    (["duration < 3001ms"], ["s-cheap", "s-reported"]),
    (["errors > 0"], ["s-costly"]),
    (["error_rate >= 30%"], ["s-costly"]),
    (["spans = 2"], ["s-cheap"]),
    (["name = Support"], ["s-cheap"]),
    (["name ~ report"], ["s-reported"]),
    (["id != s-cheap"], ["s-costly", "s-reported"]),
    (["model = gpt-4o"], ["s-costly", "s-reported"]),
    (["model ~ MINI"], ["s-cheap"]),
    (["tool = fetch_weather"], ["s-costly"]),
    (["path = /tools/search_database"], ["s-cheap"]),
    (["path ~ iteration/1"], ["s-costly"]),
    (["user = alice"], ["s-costly"]),
    (["prop.Agent-Version = v1.0"], ["s-cheap"]),
    (["prop.Agent-Version != v1.0"], ["s-costly"]),
    (["prop.Tool-Category ~ DAT"], ["s-cheap"]),
    (["unpriced > 0"], ["s-costly"]),
    (["model = gpt-4o", "errors = 0"], ["s-reported"]),
    (["started >= 2025-01-02"], ["s-costly", "s-reported"]),
])
def test_filters(store: Store, filters: list[str], expected: list[str]) -> None:
    assert ids(store.sessions(filters)) == expected


def test_since_until_select_whole_sessions(store: Store) -> None:
    # s-costly starts 10:00:00 and runs to 10:01:00: a window from 10:00:30 leaves it out whole.
    assert ids(store.sessions(since="2025-01-02T10:00:30Z")) == ["s-reported"]
    assert ids(store.sessions(since="2025-01-02", until="2025-01-03")) == ["s-costly"]
    assert store.totals(since="2025-01-02", until="2025-01-03")["sessions"] == 1


def test_seed_query_shape(store: Store) -> None:
    body = '{"filter": {"properties": {"Agent-Version": "v1.0"}}}'
    assert ids(store.sessions(query=body)) == ["s-cheap"]
    assert ids(store.sessions(query='{"filter": {"properties": {"Agent-Version": {"contains": "1.1"}}}}')) \
        == ["s-costly"]
    with pytest.raises(FilterError, match="unsupported filter key"):
        store.sessions(query='{"filter": {"model": "x"}}')


@pytest.mark.parametrize(("expression", "message"), [
    ("cots > 1", "at column 1: unknown field 'cots'"),
    ("cost > abc", "at column 8: cost needs a number"),
    ("cost ~ 5", "at column 6: '~' compares text"),
    ("name", "expected FIELD OP VALUE"),
    ("name =", "missing value"),
    ("duration > fast", "duration needs a number (e.g. 500ms, 30s, 2m)"),
])
def test_bad_filters_point_at_the_token(store: Store, expression: str, message: str) -> None:
    with pytest.raises(FilterError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        store.sessions([expression])
    assert "\n" not in str(error.value)


def test_sort_and_limit(store: Store) -> None:
    assert [s["session_id"] for s in store.sessions(sort="cost", descending=True)] == \
        ["s-reported", "s-costly", "s-cheap"]
    assert [s["session_id"] for s in store.sessions(sort="duration", descending=False, limit=2)] == \
        ["s-reported", "s-cheap"]
    assert [s["session_id"] for s in store.sessions()] == ["s-reported", "s-costly", "s-cheap"]  # newest first
    with pytest.raises(StoreError, match="unknown sort field"):
        store.sessions(sort="vibes")


def test_path_tree_rollups(store: Store) -> None:
    tree = store.tree("s-costly")
    assert tree is not None
    assert tree.path == "/" and tree.spans == 3 and tree.errors == 1
    children = {child.path: child for child in tree.children}
    assert set(children) == {"/iteration", "/tools"}
    iteration = children["/iteration"]
    assert iteration.spans == 2 and iteration.unpriced == 1 and iteration.errors == 0
    assert [c.path for c in iteration.children] == ["/iteration/0", "/iteration/1"]
    assert iteration.busy_ms == 20_000 and iteration.wall_ms == 20_000
    tools = children["/tools"]
    assert tools.errors == 1 and tools.children[0].errors == 1
    assert tools.children[0].span_rows[0]["error_type"] == "timeout"
    assert tree.busy_ms == 60_000 and tree.wall_ms == 60_000
    assert store.tree("nope") is None


def test_busy_time_excludes_idle_gaps(tmp_path: Path, new_store: Callable[[], Store]) -> None:
    records = [
        span("g", span_id="a", path="/p", start_time="2025-01-01T10:00:00Z", end_time="2025-01-01T10:00:02Z"),
        span("g", span_id="b", path="/p", start_time="2025-01-01T10:00:01Z", end_time="2025-01-01T10:00:03Z"),
        span("g", span_id="c", path="/p", start_time="2025-01-01T10:00:10Z", end_time="2025-01-01T10:00:11Z"),
    ]
    db = new_store()
    db.ingest([str(write_jsonl(tmp_path / "g.jsonl", records))])
    tree = db.tree("g")
    assert tree is not None
    node = tree.children[0]
    assert node.self_spans == 3 and node.busy_ms == 4000 and node.wall_ms == 11_000
    assert [row["span_id"] for row in node.span_rows] == ["a", "b", "c"]  # start order


def test_sql_is_read_only_and_errors_are_one_line(store: Store) -> None:
    columns, rows = store.sql("SELECT count(*) AS n FROM sessions")
    assert columns == ["n"] and rows == [(3,)]
    with pytest.raises(StoreError) as error:
        store.sql("DELETE FROM span_data")
    assert "\n" not in str(error.value) and "read-only" in str(error.value).lower()
    with pytest.raises(StoreError, match="SQL error"):
        store.sql("SELEC oops")


def test_missing_store_says_how_to_get_data_in(new_store: Callable[[], Store]) -> None:
    with pytest.raises(StoreError, match="agenttrace ingest"):
        new_store().sessions()


def test_properties_only_on_the_session_record_select_the_session(tmp_path: Path,
                                                                  new_store: Callable[[], Store]) -> None:
    records = [
        {"type": "session", "session_id": "rec", "name": "Has a record", "properties": {"Agent-Version": "v2"}},
        span("rec", span_id="r1"),
        span("plain", span_id="p1", properties={"Agent-Version": "v1"}),
    ]
    db = new_store()
    db.ingest([str(write_jsonl(tmp_path / "p.jsonl", records))])
    assert ids(db.sessions(["prop.Agent-Version = v2"])) == ["rec"]
    assert ids(db.sessions(query='{"filter": {"properties": {"Agent-Version": "v2"}}}')) == ["rec"]


def test_critical_path_is_the_chain_that_sets_the_end(tmp_path: Path, new_store: Callable[[], Store]) -> None:
    from agenttrace_tui.store.read import tree

    def at(span_id: str, start: float, end: float, **fields: object) -> dict[str, object]:
        return span("cp", span_id=span_id, start_time=1735725600 + start, end_time=1735725600 + end, **fields)

    records = [
        at("agent", 0, 10, kind="agent"),           # a container: its children explain its interval
        at("plan", 0, 2, parent_id="agent"),
        at("slow-tool", 2, 6, parent_id="agent"),   # ends last before "answer" starts
        at("fast-tool", 2, 3, parent_id="agent"),   # overlaps, ends earlier: not on the path
        at("answer", 7, 10, parent_id="agent"),     # ends last; an idle second before it
        at("zero", 10, 10),                         # zero length at the very end
    ]
    db = new_store()
    db.ingest([str(write_jsonl(tmp_path / "cp.jsonl", records))])
    with db.reader() as con:
        assert tree.critical_path(con, "cp") == ["plan", "slow-tool", "answer", "zero"]
        assert tree.critical_path(con, "none") == []


def test_the_record_types_load_neither_duckdb_nor_pyarrow() -> None:
    """Widgets, views and their tests type against the records (and the face's errors and filters) alone."""
    code = ("import sys, agenttrace_tui.store.records; from agenttrace_tui.store import NodeStats, StoreError, "
            "compile_filters; print(sorted(m for m in ('duckdb', 'pyarrow', 'textual') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
