"""Ingest on real DuckDB files: validation, rejects, merging, idempotence, inputs."""

from __future__ import annotations

import gzip
import io
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from store_helpers import SAMPLES, span, write_jsonl

from agenttrace_tui.store import Store, StoreError
from agenttrace_tui.store.write.ingest import expand_inputs, ingest


def count(db: Path, sql: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_bad_lines_are_rejected_with_reasons_and_good_neighbours_kept(tmp_path: Path) -> None:
    trace = write_jsonl(tmp_path / "t.jsonl", [
        span(span_id="a"),
        "not json at all",
        '["an", "array"]',
        span(span_id="b", kind="robot"),
        {"span_id": "c", "start_time": "2025-01-01T10:00:00Z"},
        span(span_id="d", start_time=True),
        span(span_id="e", start_time="2025-01-01 10:00"),
        span(span_id="f", usage={"input_tokens": -3}),
        span(span_id="g", properties={"k": {"nested": 1}}),
        span(span_id="h", status_code="500"),
        span(span_id="i", type="weird"),
        span(span_id="j"),
    ])
    store = Store(tmp_path / "s.duckdb")
    result = store.ingest([str(trace)])
    assert (result.lines, result.stored, result.rejected) == (12, 2, 10)
    assert not result.ok
    reasons = {r.line: r.reason for r in result.files[0].rejects}
    assert reasons[2] == "not valid JSON"
    assert reasons[3] == "expected a JSON object, got array"
    assert reasons[4].startswith("kind: must be one of llm, tool")
    assert reasons[5] == "session_id: required (or a Helicone-Session-Id header)"
    assert reasons[6] == "start_time: must be an RFC 3339 string or an epoch number, got a boolean"
    assert reasons[7].startswith("start_time: not an RFC 3339 timestamp")
    assert reasons[8] == "usage.input_tokens: must be an integer >= 0, got -3"
    assert reasons[9].startswith("properties: values must be strings, numbers or booleans")
    assert reasons[10].startswith("status_code: must be an integer")
    assert reasons[11].startswith("type: must be")
    assert sorted(row[0] for row in store.sql("SELECT span_id FROM spans")[1]) == ["a", "j"]
    rejects = store.rejects()
    assert [r["line"] for r in rejects] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert rejects[0]["raw"] == "not json at all"  # kept verbatim
    assert rejects[0]["file"] == str(trace.resolve())


def test_truncated_last_line_is_reported_as_such(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"session_id":"s1","start_time":"2025-01-01T10:00:00Z"}\n{"session_id":"s1","start_ti')
    result = Store(tmp_path / "s.duckdb").ingest([str(trace)])
    assert result.stored == 1
    assert result.files[0].rejects[0].line == 2
    assert result.files[0].rejects[0].reason.startswith("truncated last line")


def test_invalid_json_in_the_middle_is_not_called_truncated(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"session_id":"s1","start_ti\n{"session_id":"s1","start_time":1700000000}')
    result = Store(tmp_path / "s.duckdb").ingest([str(trace)])
    assert result.files[0].rejects[0].reason == "not valid JSON"
    assert result.stored == 1  # a complete last line without newline is fine


def test_reingest_and_overlapping_files_store_each_span_once(tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [span(span_id=f"x{i}") for i in range(10)])
    second = write_jsonl(tmp_path / "b.jsonl", [span(span_id=f"x{i}") for i in range(5, 15)]
                         + [span(name="no id")])
    db = tmp_path / "s.duckdb"
    store = Store(db)
    store.ingest([str(first), str(second)])
    store.ingest([str(first), str(second)], force=True)
    store.ingest([str(second)])  # unchanged: skipped
    assert count(db, "SELECT count(*) FROM span_data") == 16
    assert count(db, "SELECT count(DISTINCT span_id) FROM span_data") == 16
    session = store.session("s1")
    assert session is not None and session["spans"] == 16


def test_unchanged_file_is_skipped_and_force_rereads(tmp_path: Path) -> None:
    trace = write_jsonl(tmp_path / "a.jsonl", [span(span_id="x")])
    store = Store(tmp_path / "s.duckdb")
    assert not store.ingest([str(trace)]).files[0].skipped_unchanged
    assert store.ingest([str(trace)]).files[0].skipped_unchanged
    assert not store.ingest([str(trace)], force=True).files[0].skipped_unchanged


def test_start_and_end_lines_merge_later_non_null_wins(tmp_path: Path) -> None:
    start = span(span_id="t1", path="/tools/search", kind="tool", name="search", input={"q": "x"})
    end = {**span(span_id="t1"), "end_time": "2025-01-01T10:00:02.5Z", "output": {"hits": 3},
           "error": {"type": "Timeout", "message": "took too long"}}
    trace = write_jsonl(tmp_path / "t.jsonl", [start, end])
    store = Store(tmp_path / "s.duckdb")
    store.ingest([str(trace)])
    columns, rows = store.sql(
        "SELECT path, kind, name, input, output, duration_ms, status, error_type, error_message, in_progress "
        "FROM spans")
    assert len(rows) == 1
    row = dict(zip(columns, rows[0]))
    assert row["path"] == "/tools/search" and row["kind"] == "tool" and row["name"] == "search"
    assert row["input"] == '{"q":"x"}' and row["output"] == '{"hits":3}'
    assert row["duration_ms"] == 2500.0
    assert (row["status"], row["error_type"], row["error_message"]) == ("error", "Timeout", "took too long")
    assert row["in_progress"] is False


def test_start_line_alone_is_in_progress_and_a_later_file_ends_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    store.ingest([str(write_jsonl(tmp_path / "a.jsonl", [span(span_id="t1", model="gpt-4o")]))])
    assert store.sql("SELECT in_progress, status FROM spans")[1] == [(True, "ok")]
    assert store.session("s1")["in_progress"] == 1  # type: ignore[index]
    end = {**span(span_id="t1"), "duration_ms": 1200, "status_code": 429}
    store.ingest([str(write_jsonl(tmp_path / "b.jsonl", [end]))])
    assert store.sql("SELECT in_progress, status, error_type, model FROM spans")[1] == [
        (False, "error", "http_429", "gpt-4o")]
    session = store.session("s1")
    assert session is not None and session["errors"] == 1 and session["in_progress"] == 0


@pytest.mark.parametrize(("value", "microsecond"), [
    (1735725600, 0),
    (1735725600.5, 500000),
    (1735725600123, 123000),
    (1735725600123456, 123456),
    (1735725600123456789, 123456),
    ("2025-01-01T12:00:00+02:00", 0),
    ("2025-01-01T10:00:00.25z", 250000),
])
def test_time_units_and_offsets(tmp_path: Path, value: object, microsecond: int) -> None:
    store = Store(tmp_path / "s.duckdb")
    store.ingest([str(write_jsonl(tmp_path / "t.jsonl", [span(start_time=value)]))])
    assert store.sql("SELECT start_time FROM spans")[1][0][0] == datetime(2025, 1, 1, 10, 0, 0, microsecond)


def test_helicone_headers_map_and_explicit_fields_win(tmp_path: Path) -> None:
    record = {
        "start_time": 1735725600,
        "path": "/explicit",
        "properties": {"Tier": "explicit"},
        "headers": {
            "helicone-session-id": "from-header",
            "Helicone-Session-Name": "Header Name",
            "Helicone-Session-Path": "/from/header",
            "Helicone-Property-Agent-Version": "v1.0",
            "Helicone-Property-Tier": "header",
            "Helicone-User-Id": "u1",
            "Helicone-Request-Id": "req-1",
        },
    }
    store = Store(tmp_path / "s.duckdb")
    result = store.ingest([str(write_jsonl(tmp_path / "t.jsonl", [record]))])
    assert result.stored == 1
    cols, rows = store.sql("SELECT span_id, session_id, session_name, path, user_id, properties FROM spans")
    assert rows[0][:5] == ("req-1", "from-header", "Header Name", "/explicit", "u1")
    import json
    assert json.loads(rows[0][5]) == {"Agent-Version": "v1.0", "Tier": "explicit"}


def test_paths_normalized_like_the_format_module(tmp_path: Path) -> None:
    from agenttrace_tui.format import normalize_path

    raw_paths = ["tools//search/", "/", "", "//", "/a/b", " /x/ ", "a", "/Case/Sensitive"]
    records = [span(span_id=f"p{i}", path=p) for i, p in enumerate(raw_paths)]
    store = Store(tmp_path / "s.duckdb")
    store.ingest([str(write_jsonl(tmp_path / "t.jsonl", records))])
    stored = dict(store.sql("SELECT span_id, path FROM spans")[1])
    assert [stored[f"p{i}"] for i in range(len(raw_paths))] == [normalize_path(p) for p in raw_paths]


def test_unknown_fields_are_kept(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    store.ingest([str(write_jsonl(tmp_path / "t.jsonl", [span(my_field={"a": 1}, other=2)]))])
    assert store.sql("SELECT extra FROM spans")[1] == [('{"my_field":{"a":1},"other":2}',)]


def test_session_records_and_name_conflicts(tmp_path: Path) -> None:
    records = [
        {"type": "session", "session_id": "s1", "name": "Support", "tags": ["beta"], "user_id": "u9",
         "properties": {"Tier": "gold"}},
        span(session_name="Support"),
        span(span_id="x", session_name="Support v2"),
    ]
    store = Store(tmp_path / "s.duckdb")
    store.ingest([str(write_jsonl(tmp_path / "t.jsonl", records))])
    session = store.session("s1")
    assert session is not None
    assert session["name"] == "Support" and session["name_conflict"] is True
    assert sorted(session["names"]) == ["Support", "Support v2"]
    assert session["tags"] == ["beta"] and session["properties"] == {"Tier": "gold"}
    assert session["user_ids"] == ["u9"]
    assert len(store.sessions()) == 1  # one identity: the id


def test_strict_stores_nothing_from_a_file_with_a_bad_line(tmp_path: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [span(span_id="a"), "oops"])
    good = write_jsonl(tmp_path / "good.jsonl", [span(span_id="b")])
    store = Store(tmp_path / "s.duckdb")
    result = store.ingest([str(bad), str(good)], strict=True)
    assert result.files[0].strict_refused and result.files[0].stored == 0
    assert store.sql("SELECT span_id FROM spans")[1] == [("b",)]
    assert len(store.rejects()) == 1


def test_rejects_clear_and_reingest_does_not_duplicate_them(tmp_path: Path) -> None:
    trace = write_jsonl(tmp_path / "t.jsonl", ["bad", span()])
    store = Store(tmp_path / "s.duckdb")
    store.ingest([str(trace)])
    store.ingest([str(trace)], force=True)
    assert len(store.rejects()) == 1
    assert store.clear_rejects() == 1
    assert store.rejects() == []


def test_blank_lines_crlf_bom_and_invalid_utf8(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    good = b'{"session_id":"s1","start_time":1735725600}'
    trace.write_bytes(b"\xef\xbb\xbf" + good + b"\r\n\r\n" + b'{"session_id":"s\xff","start_time":1}\r\n'
                      + good.replace(b"s1", b"s2") + b"\r\n")
    store = Store(tmp_path / "s.duckdb")
    result = store.ingest([str(trace)])
    assert (result.stored, result.rejected) == (2, 1)
    assert result.files[0].rejects[0].line == 3
    assert result.files[0].rejects[0].reason.startswith("not valid UTF-8")
    assert sorted(s["session_id"] for s in store.sessions()) == ["s1", "s2"]


def test_inputs_directories_globs_gzip_and_stdin(tmp_path: Path) -> None:
    nested = tmp_path / "runs" / "day1"
    nested.mkdir(parents=True)
    write_jsonl(nested / "a.jsonl", [span("d1")])
    with gzip.open(nested / "b.jsonl.gz", "wt") as handle:
        handle.write('{"session_id": "gz", "start_time": 1735725600}\n')
    (nested / "notes.txt").write_text("ignored")
    write_jsonl(tmp_path / "g1.jsonl", [span("g1")])
    sources, problems = expand_inputs([str(tmp_path / "runs"), str(tmp_path / "g*.jsonl"), "-",
                                       str(tmp_path / "missing.jsonl")])
    assert problems == [f"{tmp_path / 'missing.jsonl'}: no such file or directory"]
    result = ingest(tmp_path / "s.duckdb", sources,
                    stdin=io.BytesIO(b'{"session_id": "stdin", "start_time": 1735725600}\n'))
    assert result.ok and result.stored == 4
    assert sorted(s["session_id"] for s in Store(tmp_path / "s.duckdb").sessions()) == ["d1", "g1", "gz", "stdin"]


@pytest.mark.slow
def test_sample_traces_ingest_cleanly(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    result = store.ingest([str(SAMPLES)])
    assert result.ok and result.rejected == 0
    sessions = store.sessions()
    assert len(sessions) >= 50
    assert sum(s["errors"] for s in sessions) > 0
    assert sum(s["unpriced"] for s in sessions) > 0
    assert all(s["cost_usd"] is not None for s in sessions)
    assert all(s["in_progress"] == 0 for s in sessions)  # every SDK span was closed


def test_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    store = Store(db)
    store.ingest([str(write_jsonl(tmp_path / "t.jsonl", [span()]))])
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer agenttrace"):
        Store(db).sessions()
    with pytest.raises(StoreError, match="newer agenttrace"):
        Store(db).ingest([str(tmp_path / "t.jsonl")], force=True)


def test_store_file_is_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    Store(db).ingest([str(write_jsonl(tmp_path / "t.jsonl", [span()]))])
    assert db.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("usage", "stored"), [
    ({"input_tokens": 5.0, "output_tokens": 3}, (5, 3)),
    ({"input_tokens": 99999999999999999999}, None),  # beyond 64 bits: rejected, not stored as NULL
    ({"input_tokens": 5.5}, None),
    ({"input_tokens": "5"}, None),
    ({"input_tokens": -1}, None),
    ({"input_tokens": None, "output_tokens": 0}, (None, 0)),
])
def test_token_counts(tmp_path: Path, usage: dict[str, object], stored: tuple[int | None, int | None] | None) -> None:
    store = Store(tmp_path / "s.duckdb")
    result = store.ingest([str(write_jsonl(tmp_path / "t.jsonl", [span(usage=usage)]))])
    if stored is None:
        assert result.rejected == 1 and result.files[0].rejects[0].reason.startswith("usage.input_tokens")
    else:
        assert store.sql("SELECT input_tokens, output_tokens FROM spans")[1] == [stored]


def test_store_connections_never_draw_duckdbs_progress_bar(tmp_path: Path) -> None:
    """A query over 2 s would otherwise draw a bar on the terminal: over the explorer, into a command's output."""
    store = Store(tmp_path / "s.duckdb")
    store.ingest([str(write_jsonl(tmp_path / "t.jsonl", [span()]))])
    for open_connection in (store.reader, store.writer):
        with open_connection() as con:
            row = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
            assert row is not None and row[0] is False


def test_ingest_tells_each_file_s_stages_in_order(tmp_path: Path) -> None:
    """The CLI's progress bar names what a file is going through; the write phase moves no bytes."""
    from agenttrace_tui.store.write.ingest import expand_inputs, ingest

    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / name).write_text('{"session_id": "s", "start_time": 1740000000, "name": "x"}\n')
    sources, _ = expand_inputs([str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")])
    stages: list[str] = []
    result = ingest(tmp_path / "s.duckdb", sources, on_stage=stages.append)
    assert result.ok
    assert stages == ["parsing", "storing", "parsing", "storing"]
