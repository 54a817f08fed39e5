"""The direct ingest (a large file's span lines inserted from the parse) stores exactly what the classic one does.

`ingest._ingest_directly` is taken by files of 8 MB and more; here the size floor and the first-lines guess are
turned off, so small generated files go through it, and every outcome is compared with the classic ingest of
the same bytes: the same spans, sessions, properties, rejects and counts. A file whose spans repeat or are in
the store already makes the direct ingest roll back and hand the file over; that is checked too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given
from store_helpers import span, write_jsonl
from fuzz_helpers import STORE_PROPERTY_SETTINGS, TraceFile, mixed_lines, snapshot, trace_files, workdir

from agenttrace_tui.store.write import direct_udfs
from agenttrace_tui.store.write import ingest as ingest_module
from agenttrace_tui.store.write.ingest import IngestResult, expand_inputs, ingest

REJECTS_SQL = "SELECT line, reason, raw FROM rejects ORDER BY line"
RECORDS_SQL = "SELECT session_id, name, properties, user_id, tags, extra, source_line FROM session_records ORDER BY 1"


class Route:
    """Which way each file went: 'direct', 'fell back' (rolled back, then classic) or 'classic'."""

    def __init__(self) -> None:
        self.taken: list[str] = []


@pytest.fixture
def route(monkeypatch: pytest.MonkeyPatch) -> Iterator[Route]:
    yield _spy(monkeypatch)


def _spy(monkeypatch: pytest.MonkeyPatch) -> Route:
    route = Route()
    direct, classic = ingest_module._ingest_directly, ingest_module._ingest_one

    def direct_spy(*args: Any, **kwargs: Any) -> Any:
        state = direct(*args, **kwargs)
        route.taken.append("direct" if state is not None else "fell back")
        return state

    def classic_spy(*args: Any, **kwargs: Any) -> Any:
        if not route.taken or route.taken[-1] != "fell back":
            route.taken.append("classic")
        return classic(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "_ingest_directly", direct_spy)
    monkeypatch.setattr(ingest_module, "_ingest_one", classic_spy)
    return route


def _ingest(db: Path, files: list[Path], *, direct: bool, **kwargs: Any) -> list[IngestResult]:
    """Each file in its own ingest; `direct` forces the direct path (or keeps every file off it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest_module, "DIRECT_MIN_BYTES", 0 if direct else 1 << 60)
        patch.setattr(ingest_module, "_head_has_merging_spans", lambda head: False)
        return [ingest(db, expand_inputs([str(f)])[0], **kwargs) for f in files]


def _tables(db: Path) -> dict[str, Any]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {**snapshot(db), "rejects": con.execute(REJECTS_SQL).fetchall(),
                "records": con.execute(RECORDS_SQL).fetchall()}


def _outcomes(results: list[IngestResult]) -> list[tuple[int, int, int, int, list[str]]]:
    return [(r.lines, r.stored, r.rejected, r.sessions_touched, [j.one_line() for f in r.files for j in f.rejects])
            for r in results]


def _same_both_ways(tmp: Path, contents: list[bytes]) -> None:
    files = []
    for index, content in enumerate(contents):
        files.append(tmp / f"part{index}.jsonl")
        files[-1].write_bytes(content)
    direct = _ingest(tmp / "direct.duckdb", files, direct=True)
    classic = _ingest(tmp / "classic.duckdb", files, direct=False)
    assert _outcomes(direct) == _outcomes(classic)
    assert _tables(tmp / "direct.duckdb") == _tables(tmp / "classic.duckdb")


@pytest.mark.slow
@given(trace=trace_files())
@STORE_PROPERTY_SETTINGS
def test_any_file_stores_the_same_as_the_classic_ingest(trace: TraceFile) -> None:
    """Bad lines, hostile text, session records, BOM, CRLF, a last line cut short: all as the classic ingest."""
    with workdir() as tmp:
        _same_both_ways(tmp, [trace.content()])


@pytest.mark.slow
@given(first=mixed_lines(), second=mixed_lines())
@STORE_PROPERTY_SETTINGS
def test_a_second_file_over_the_first_stores_the_same(first: list[bytes], second: list[bytes]) -> None:
    """Spans that repeat in a file or across files (the direct ingest then rolls back and hands over)."""
    with workdir() as tmp:
        _same_both_ways(tmp, [b"\n".join(first) + b"\n", b"\n".join(second) + b"\n"])


def _spans(count: int, prefix: str = "p", **fields: Any) -> list[dict[str, Any]]:
    return [span(f"s{n % 7}", span_id=f"{prefix}{n}", kind="llm", model="gpt-4o", provider="openai",
                 end_time="2025-01-01T10:00:01Z", usage={"input_tokens": 1000 + n, "output_tokens": 10},
                 properties={"Tier": f"t{n % 3}"}, input={"messages": [{"role": "user", "content": f"q{n}"}]},
                 **fields) for n in range(count)]


def test_new_spans_go_direct_with_their_bad_lines_and_session_records(tmp_path: Path, route: Route) -> None:
    records: list[dict[str, Any] | str] = [*_spans(40), '{"session_id": "s1", "start_time": 12', "not json",
                                          {"type": "session", "session_id": "s1", "name": "Planner",
                                           "properties": {"Agent-Version": "v2"}},
                                          {**_spans(1, prefix="acme")[0], "model": "acme-llm-1"}]
    trace = write_jsonl(tmp_path / "run.jsonl", records)
    with trace.open("a") as handle:
        handle.write('{"session_id": "s2", "span_id": "cut", "start_t')  # the writer died mid-line
    (result,) = _ingest(tmp_path / "direct.duckdb", [trace], direct=True)
    assert route.taken == ["direct"]
    assert (result.lines, result.stored, result.rejected) == (45, 42, 3)
    assert [r.line for r in result.files[0].rejects] == [41, 42, 45]
    assert "truncated last line" in result.files[0].rejects[-1].reason
    with duckdb.connect(str(tmp_path / "direct.duckdb"), read_only=True) as con:
        priced = con.execute("SELECT count(cost_usd), count(*) FILTER (WHERE cost_source = 'unpriced') FROM spans").fetchone()
        assert priced == (40, 1)  # gpt-4o priced as it was inserted, acme-llm-1 unpriced
        session = con.execute("SELECT name, properties FROM sessions WHERE session_id = 's1'").fetchone()
        assert session is not None and session[0] == "Planner"
        assert json.loads(session[1])["Agent-Version"] == "v2"
    (classic,) = _ingest(tmp_path / "classic.duckdb", [trace], direct=False)
    assert _tables(tmp_path / "direct.duckdb") == _tables(tmp_path / "classic.duckdb")


def test_spans_the_store_holds_already_roll_back_and_merge(tmp_path: Path, route: Route) -> None:
    first = write_jsonl(tmp_path / "first.jsonl", _spans(10))
    second = write_jsonl(tmp_path / "second.jsonl", [{**r, "status": "error"} for r in _spans(10)[5:]]
                         + _spans(5, prefix="q"))
    _ingest(tmp_path / "direct.duckdb", [first, second], direct=True)
    assert route.taken == ["direct", "fell back"]
    _ingest(tmp_path / "classic.duckdb", [first, second], direct=False)
    assert _tables(tmp_path / "direct.duckdb") == _tables(tmp_path / "classic.duckdb")
    with duckdb.connect(str(tmp_path / "direct.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), count(*) FILTER (WHERE status = 'error') FROM spans").fetchone() == (15, 5)


def test_a_span_twice_in_the_file_rolls_back_and_merges(tmp_path: Path, route: Route) -> None:
    start, end = _spans(1)[0], {"span_id": "p0", "session_id": "s0", "start_time": "2025-01-01T10:00:00Z",
                                "end_time": "2025-01-01T10:00:09Z", "output": "done"}
    trace = write_jsonl(tmp_path / "run.jsonl", [start, *_spans(3, prefix="q"), end])
    (result,) = _ingest(tmp_path / "s.duckdb", [trace], direct=True)
    assert route.taken == ["fell back"]
    assert (result.lines, result.stored, result.files[0].spans) == (5, 5, 4)
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:
        merged = con.execute("SELECT model, output, duration_ms FROM spans WHERE span_id = 'p0'").fetchone()
        assert merged == ("gpt-4o", '"done"', 9000.0)  # the start line's model, the end line's output and end


def test_a_file_of_many_bad_lines_goes_the_classic_way(tmp_path: Path, route: Route,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines set aside are held in Python, outside DuckDB's memory cap: past a bound, the file goes the classic way
    (a file of mostly bad lines held 2.5 GB for 600 MB before the bound)."""
    monkeypatch.setattr(direct_udfs, "ASIDE_MAX_BYTES", 20_000)
    bad = [{**r, "start_time": "2025-01-01 10:00:00"} for r in _spans(300, prefix="b")]  # no UTC offset
    trace = write_jsonl(tmp_path / "run.jsonl", [*_spans(20), *bad])
    (direct,) = _ingest(tmp_path / "direct.duckdb", [trace], direct=True)
    assert route.taken == ["fell back"]
    (classic,) = _ingest(tmp_path / "classic.duckdb", [trace], direct=False)
    assert _outcomes([direct]) == _outcomes([classic]) and direct.rejected == 300
    assert _tables(tmp_path / "direct.duckdb") == _tables(tmp_path / "classic.duckdb")


def test_ctrl_c_inside_a_function_of_the_parse_stops_the_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB turns what a function raises into its own error; a KeyboardInterrupt must stay one, not become a
    per-file store error after which the next file is ingested."""
    def interrupted(self: direct_udfs.PriceLookup, pairs: list[tuple[str | None, str]]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(direct_udfs.PriceLookup, "_resolve", interrupted)
    first = write_jsonl(tmp_path / "first.jsonl", _spans(10))
    second = write_jsonl(tmp_path / "second.jsonl", _spans(10, prefix="q"))
    with pytest.raises(KeyboardInterrupt):
        _ingest(tmp_path / "s.duckdb", [first, second], direct=True)
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM span_data").fetchone() == (0,)  # the file was rolled back


def test_which_files_are_tried_directly(tmp_path: Path, route: Route, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large, new, in the trace format, not --strict, and no SDK start lines in its head."""
    monkeypatch.setattr(ingest_module, "DIRECT_MIN_BYTES", 0)
    plain = write_jsonl(tmp_path / "plain.jsonl", _spans(5))
    sdk = write_jsonl(tmp_path / "sdk.jsonl", [{k: v for k, v in r.items() if k != "end_time"} for r in _spans(5)])
    db = tmp_path / "s.duckdb"
    ingest(db, expand_inputs([str(plain)])[0])
    ingest(db, expand_inputs([str(plain)])[0], force=True)  # ingested before: its spans are there
    ingest(db, expand_inputs([str(sdk)])[0])
    ingest(tmp_path / "t.duckdb", expand_inputs([str(plain)])[0], strict=True)
    assert route.taken == ["direct", "classic", "classic", "classic"]
    monkeypatch.setattr(ingest_module, "DIRECT_MIN_BYTES", 1 << 40)
    ingest(tmp_path / "u.duckdb", expand_inputs([str(plain)])[0])
    assert route.taken[-1] == "classic"


def test_the_head_guess_sees_the_sdk_shape() -> None:
    guess = ingest_module._head_has_merging_spans
    whole = b'{"span_id": "a", "session_id": "s", "start_time": 1, "end_time": 2}\n'
    assert not guess(whole * 1)
    assert guess(b'{"span_id": "a", "session_id": "s", "start_time": 1}\n')  # a start line
    assert guess(whole + whole)  # a span twice
    assert not guess(b'{"span_id": ["a"], "start_time": 1, "duration_ms": 3}\nnot json\n' + whole)
    assert not guess(whole + b'{"span_id": "b", "start_time": 1')  # a cut last piece is not read
