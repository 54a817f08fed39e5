"""Input hashes are DuckDB's hash(), which changes between DuckDB releases: the store records a probe, and a
store whose hashes another DuckDB (or md5, before schema 3) computed is hashed again before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from agenttrace_tui.store import Store
from agenttrace_tui.store.backend.schema import SCHEMA_VERSION
from agenttrace_tui.store.read.analytics import StatsRules
from agenttrace_tui.store.write.copy import copy_store

SAME_INPUT = {"messages": [{"role": "user", "content": "the same question"}]}


def _write(path: Path, spans: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(span) + "\n" for span in spans))
    return path


def _span(span_id: str, start: str, **extra: object) -> dict[str, object]:
    return {"span_id": span_id, "session_id": "s", "path": "/ask", "kind": "llm", "model": "gpt-4o-mini",
            "start_time": start, "end_time": start.replace(":00Z", ":01Z"), **extra}


def _hashes(path: Path) -> dict[str, int | None]:
    with duckdb.connect(str(path), read_only=True) as con:
        return dict(con.execute("SELECT span_id, input_hash FROM span_data").fetchall())


def _expected(path: Path) -> dict[str, int | None]:
    with duckdb.connect(str(path), read_only=True) as con:
        return dict(con.execute(
            "SELECT span_id, CASE WHEN input IS NOT NULL THEN hash(CAST(input AS VARCHAR)) END FROM span_data"
        ).fetchall())


def _meta(path: Path) -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return dict(con.execute("SELECT key, value FROM meta").fetchall())


def _age(path: Path, *, version: int, probe: str | None, hash_sql: str) -> None:
    """The store as another agenttrace or DuckDB left it: its version, its probe, its way of hashing."""
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version)])
        con.execute("DELETE FROM meta WHERE key = 'input_hash_probe'")
        if probe is not None:
            con.execute("INSERT INTO meta VALUES ('input_hash_probe', ?)", [probe])
        con.execute(f"UPDATE span_data SET input_hash = {hash_sql} WHERE input IS NOT NULL")


def test_a_schema_2_store_with_md5_hashes_is_hashed_again_and_repeats_still_count(tmp_path: Path) -> None:
    db = tmp_path / "v2.duckdb"
    store = Store(db)
    assert store.ingest([str(_write(tmp_path / "a.jsonl", [
        _span("a1", "2025-01-01T10:00:00Z", input=SAME_INPUT), _span("a2", "2025-01-01T10:01:00Z")]))]).ok
    _age(db, version=2, probe=None, hash_sql="md5_number_lower(CAST(input AS VARCHAR))")
    assert _hashes(db) != _expected(db)

    # The next ingest upgrades the store first: its span with the same input at the same path is a repeat.
    assert store.ingest([str(_write(tmp_path / "b.jsonl", [
        _span("b1", "2025-01-01T10:02:00Z", input=SAME_INPUT)]))]).ok
    assert _meta(db)["schema_version"] == str(SCHEMA_VERSION)
    assert _hashes(db) == _expected(db) and _hashes(db)["a2"] is None
    assert store.stats(rules=StatsRules()).repeats == 1


def test_hashes_from_another_duckdb_are_recomputed_by_the_next_writer(tmp_path: Path) -> None:
    db = tmp_path / "other.duckdb"
    store = Store(db)
    assert store.ingest([str(_write(tmp_path / "a.jsonl", [
        _span("a1", "2025-01-01T10:00:00Z", input=SAME_INPUT)]))]).ok
    probe = _meta(db)["input_hash_probe"]
    _age(db, version=SCHEMA_VERSION, probe="1234", hash_sql="hash(CAST(input AS VARCHAR)) + 1")

    with store.reader():  # reading neither needs nor does it
        pass
    assert _meta(db)["input_hash_probe"] == "1234"
    assert store.ingest([str(_write(tmp_path / "b.jsonl", [
        _span("b1", "2025-01-01T10:02:00Z", input=SAME_INPUT)]))]).ok
    assert _meta(db)["input_hash_probe"] == probe
    assert _hashes(db) == _expected(db)
    assert store.stats(rules=StatsRules()).repeats == 1


def test_a_copy_hashes_the_source_spans_with_this_duckdb(tmp_path: Path) -> None:
    source_db = tmp_path / "source.duckdb"
    source = Store(source_db)
    assert source.ingest([str(_write(tmp_path / "a.jsonl", [
        _span("a1", "2025-01-01T10:00:00Z", input=SAME_INPUT), _span("a2", "2025-01-01T10:01:00Z")]))]).ok
    _age(source_db, version=SCHEMA_VERSION, probe="1234", hash_sql="hash(CAST(input AS VARCHAR)) + 1")

    whole, appended = Store(tmp_path / "whole.duckdb"), Store(tmp_path / "appended.duckdb")
    assert appended.ingest([str(_write(tmp_path / "b.jsonl", [
        _span("b1", "2025-01-01T10:02:00Z", input=SAME_INPUT)]))]).ok
    copy_store(source, whole)
    copy_store(source, appended, append=True)
    for target in (whole, appended):
        path = Path(str(target.path))
        assert _hashes(path) == _expected(path)
        assert _meta(path)["input_hash_probe"] != "1234"
    assert appended.stats(rules=StatsRules()).repeats == 1
