"""`agenttrace ingest` on other tools' files as a user runs it: OTLP JSON (lines, one document, gzipped)
and Helicone log bodies are detected, converted and stored; bad lines name their source line."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan

from agenttrace_tui.store import Store
from store_helpers import invoke
from interop_helpers import CANCELLED, LLM, SERVER_ERROR, TOOL, lines_of, make_spans, protobuf_dict, spec_dict


@pytest.fixture(scope="module")
def spans() -> list[ReadableSpan]:
    return make_spans()


def stored(store: Store) -> dict[str, dict[str, object]]:
    columns, rows = store.sql("SELECT span_id, session_id, parent_id, kind, name, status FROM spans")
    return {str(row[0]): dict(zip(columns, row)) for row in rows}


def ingest(tmp_path: Path, *files: Path) -> tuple[int, dict[str, object]]:
    result = invoke(["ingest", "--json", "--db", str(tmp_path / "store.duckdb"), *map(str, files)])
    return result.returncode, orjson.loads(result.stdout)


@pytest.mark.slow
def test_otlp_files_in_every_shape_store_the_same_spans(tmp_path: Path, spans: list[ReadableSpan]) -> None:
    per_line = tmp_path / "collector.jsonl"
    per_line.write_bytes(lines_of(spans, protobuf_dict, per_line=2))  # base64 ids, shuffled batches
    document = tmp_path / "export.json"
    document.write_bytes(orjson.dumps(spec_dict(spans), option=orjson.OPT_INDENT_2))  # hex ids, pretty
    zipped = tmp_path / "rotated.jsonl.gz"
    zipped.write_bytes(gzip.compress(lines_of(spans, spec_dict, per_line=3)))

    code, report = ingest(tmp_path, per_line)
    assert code == 0 and report["stored"] == len(spans)
    store = Store(tmp_path / "store.duckdb")
    first = stored(store)
    assert len(first) == len(spans)
    # Every span has a session and its parent (when it has one) is a stored span.
    assert all(row["session_id"] for row in first.values())
    assert {row["kind"] for row in first.values()} >= {"llm", "tool", "agent"}
    assert any(row["status"] == "error" for row in first.values())

    code, report = ingest(tmp_path, document, zipped)
    assert code == 0 and report["stored"] == 2 * len(spans)
    assert stored(store) == first  # the same spans, whichever encoding: stored once
    assert store.sql("SELECT count(*) FROM spans")[1] == [(len(spans),)]


def test_a_bad_line_in_an_otlp_file_is_rejected_by_its_line_number(tmp_path: Path,
                                                                   spans: list[ReadableSpan]) -> None:
    trace = tmp_path / "otel.jsonl"
    good = lines_of(spans, protobuf_dict, per_line=len(spans))
    trace.write_bytes(good + b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5\n')
    code, report = ingest(tmp_path, trace)
    assert code == 1
    assert report["stored"] == len(spans) and report["rejected"] == 1
    rejects = Store(tmp_path / "store.duckdb").rejects()
    assert [r["line"] for r in rejects] == [2]


def test_helicone_log_bodies_import_as_spans(tmp_path: Path) -> None:
    trace = tmp_path / "helicone.jsonl"
    trace.write_bytes(b"".join(orjson.dumps(body) + b"\n" for body in (TOOL, LLM, SERVER_ERROR, CANCELLED)))
    code, report = ingest(tmp_path, trace)
    assert code == 0 and report["stored"] == 4
    rows = list(stored(Store(tmp_path / "store.duckdb")).values())
    assert sorted(str(r["kind"]) for r in rows) == ["llm", "llm", "tool", "tool"]
    assert sorted(str(r["status"]) for r in rows) == ["error", "error", "ok", "ok"]
