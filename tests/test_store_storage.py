"""How a store file is written: a new store uses DuckDB's current storage format, which compresses prompts
and outputs with ZSTD; a store file in the older format (made by an earlier agenttrace) keeps working."""

from __future__ import annotations

from pathlib import Path

import duckdb

from agenttrace_tui.store import Store
from agenttrace_tui.store.connection import STORAGE_VERSION

SAMPLES = Path(__file__).resolve().parent.parent / "sample_traces"


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


def test_a_new_store_is_written_in_the_current_format_with_zstd_payloads(tmp_path: Path) -> None:
    store = Store(tmp_path / "new.duckdb")
    result = store.ingest([str(SAMPLES)])
    assert result.ok and result.stored > 0
    assert _storage_version(tmp_path / "new.duckdb").startswith(STORAGE_VERSION)
    assert _payload_compressions(tmp_path / "new.duckdb") == {"ZSTD"}


def test_a_store_in_the_older_format_ingests_and_reads_the_same(tmp_path: Path) -> None:
    old = tmp_path / "old.duckdb"
    duckdb.connect(str(old)).close()  # DuckDB's default format, as stores made before this change
    old_store, new_store = Store(old), Store(tmp_path / "new.duckdb")
    assert old_store.ingest([str(SAMPLES)]).ok and new_store.ingest([str(SAMPLES)]).ok
    assert not _storage_version(old).startswith(STORAGE_VERSION)
    assert "ZSTD" not in _payload_compressions(old)
    query = "SELECT span_id, input, output FROM spans ORDER BY span_id"
    assert old_store.sql(query) == new_store.sql(query)
