"""The JSON Schema and the ingest's SQL validation say the same about every example record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agenttrace_tui.store import Store

from format_records import BAD_RECORDS, GOOD_RECORDS

KNOWN_DIFFERENCES: set[str] = set()


def ingest_one(tmp_path: Path, record: Any) -> tuple[int, int]:
    trace = tmp_path / "one.jsonl"
    trace.write_text(json.dumps(record) + "\n")
    result = Store(tmp_path / "s.duckdb").ingest([str(trace)], force=True)
    assert result.files[0].error is None
    return result.stored, result.rejected


@pytest.mark.parametrize("name", sorted(GOOD_RECORDS))
def test_ingest_accepts_what_the_schema_accepts(tmp_path: Path, name: str) -> None:
    assert ingest_one(tmp_path, GOOD_RECORDS[name]) == (1, 0)


@pytest.mark.parametrize("name", sorted(set(BAD_RECORDS) - KNOWN_DIFFERENCES))
def test_ingest_rejects_what_the_schema_rejects(tmp_path: Path, name: str) -> None:
    assert ingest_one(tmp_path, BAD_RECORDS[name]) == (0, 1)
