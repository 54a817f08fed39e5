"""How a store file is written: a new store uses DuckDB's current storage format, which compresses prompts
and outputs with ZSTD; a store file in the older format (made by an earlier agenttrace) keeps working."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from agenttrace_tui.store import Store
from agenttrace_tui.store.backend.connection import STORAGE_VERSION

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"


def _payload_compressions(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('span_data') "
            "WHERE column_name IN ('input', 'output') AND segment_type <> 'VALIDITY'"
        ).fetchall()
    return {str(row[0]) for row in rows}


def _storage_version(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.slow
def test_a_new_store_is_written_in_the_current_format_with_zstd_payloads(tmp_path: Path) -> None:
    store = Store(tmp_path / "new.duckdb")
    result = store.ingest([str(SAMPLES)])
    assert result.ok and result.stored > 0
    assert _storage_version(tmp_path / "new.duckdb").startswith(STORAGE_VERSION)
    assert _payload_compressions(tmp_path / "new.duckdb") == {"ZSTD"}


@pytest.mark.slow
def test_a_store_in_the_older_format_ingests_and_reads_the_same(tmp_path: Path) -> None:
    old = tmp_path / "old.duckdb"
    duckdb.connect(str(old)).close()  # DuckDB's default format, as stores made before this change
    old_store, new_store = Store(old), Store(tmp_path / "new.duckdb")
    assert old_store.ingest([str(SAMPLES)]).ok and new_store.ingest([str(SAMPLES)]).ok
    assert not _storage_version(old).startswith(STORAGE_VERSION)
    assert "ZSTD" not in _payload_compressions(old)
    query = "SELECT span_id, input, output FROM spans ORDER BY span_id"
    assert old_store.sql(query) == new_store.sql(query)


@pytest.mark.slow
def test_ingest_writes_row_groups_of_its_own_size_and_spills_next_to_the_store(tmp_path: Path) -> None:
    """The ingest writer attaches the store with ROW_GROUP_SIZE (full row groups are written by the insert on
    every thread, not left to the commit); what it writes reads back the same through a plain connection."""
    from agenttrace_tui.store.backend.file import INGEST_ROW_GROUP_SIZE
    from agenttrace_tui.store.backend.connection import connect

    trace = tmp_path / "many.jsonl"
    spans = INGEST_ROW_GROUP_SIZE * 2 + 100
    trace.write_text("".join(
        f'{{"span_id":"s{n}","session_id":"q{n % 7}","start_time":{1_700_000_000 + n},"kind":"tool",'
        f'"name":"t","input":{{"n":{n}}}}}\n' for n in range(spans)))
    store = Store(tmp_path / "rows.duckdb")
    assert store.ingest([str(trace)]).stored == spans
    with duckdb.connect(str(tmp_path / "rows.duckdb"), read_only=True) as con:
        sizes = [int(r[0]) for r in con.execute(
            "SELECT sum(count) FROM pragma_storage_info('span_data') "
            "WHERE column_name = 'span_id' AND segment_type <> 'VALIDITY' GROUP BY row_group_id").fetchall()]
        assert con.execute("SELECT count(*), count(DISTINCT span_id) FROM span_data").fetchone() == (spans, spans)
    assert len(sizes) >= 3 and max(sizes) <= INGEST_ROW_GROUP_SIZE  # DuckDB's default would be 122,880 rows
    writer = connect(tmp_path / "rows.duckdb", read_only=False, row_group_size=INGEST_ROW_GROUP_SIZE)
    try:
        row = writer.execute("SELECT current_setting('temp_directory')").fetchone()
        assert row is not None and row[0] == str(tmp_path / "rows.duckdb") + ".tmp"
    finally:
        writer.close()
