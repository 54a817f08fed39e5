"""The spool is ours: a directory that is not a spool is refused untouched, an earlier release's spool is adopted,
files we did not write are left alone, and the store's rejects name a spooled line's segment as `serve:SEGMENT`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from serve_helpers import WAIT_SECONDS, serving, spans_by_id, wait_for_count
from store_helpers import invoke

from agenttrace_tui.serve import ServeError, ServeOptions, listen, prepare
from agenttrace_tui.serve.spool import MARKER_NAME, Spool, SpoolError
from agenttrace_tui.store import Store


def jsonl(*records: dict[str, object]) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def span(span_id: str, **fields: object) -> dict[str, object]:
    return {"span_id": span_id, "session_id": "spool-1", "start_time": "2025-03-01T12:00:00Z", **fields}


def snapshot(directory: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every entry under `directory` (and the directory itself): its bytes (None for a directory) and mtime."""
    entries = {".": (None, directory.stat().st_mtime_ns)}
    for path in sorted(directory.rglob("*")):
        entries[str(path.relative_to(directory))] = (None if path.is_dir() else path.read_bytes(),
                                                     path.stat().st_mtime_ns)
    return entries


def not_a_spool(directory: Path) -> Path:
    """A directory of someone else's: trace files, a file ending in .open, and what looks like our segments."""
    directory.mkdir()
    (directory / "notes.jsonl").write_bytes(jsonl(span("foreign-1")))
    (directory / "upload.open").write_bytes(b'{"span_id": "foreign-2", "session_id": "x", "start')
    (directory / "00000000000000000000-1-000000.jsonl").write_bytes(jsonl(span("foreign-3")))
    (directory / "sub").mkdir()
    (directory / "sub" / "more.jsonl").write_bytes(jsonl(span("foreign-4")))
    return directory


def test_a_directory_that_is_not_a_spool_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    directory = not_a_spool(tmp_path / "traces")
    before = snapshot(directory)
    with pytest.raises(ServeError, match=r"not an agenttrace spool .*give --spool-dir a new or empty directory"):
        prepare(ServeOptions(port=0, db=str(tmp_path / "a.duckdb"), spool_dir=str(directory)),
                listen("127.0.0.1", 0))
    result = subprocess.run(
        [sys.executable, "-m", "agenttrace_tui.cli", "serve", "--port", "0", "--db", str(tmp_path / "b.duckdb"),
         "--spool-dir", str(directory)],
        capture_output=True, text=True, timeout=WAIT_SECONDS, check=False,
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"agenttrace: error: spool {directory} is not empty and not an agenttrace spool")
    assert "e.g. '00000000000000000000-1-000000.jsonl'" not in line  # our segments' names are not what's foreign
    assert snapshot(directory) == before
    assert not (tmp_path / "a.duckdb").exists() and not (tmp_path / "b.duckdb").exists()


@pytest.mark.parametrize(("marker", "message"), [
    (b"agenttrace serve spool, format 99\n", "made by a newer agenttrace (format 99)"),
    (b"something else\n", f"{MARKER_NAME} is not an agenttrace spool marker"),
])
def test_a_marker_we_cannot_read_is_refused(tmp_path: Path, marker: bytes, message: str) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    (directory / MARKER_NAME).write_bytes(marker)
    (directory / "00000000000000000000-1-000000.jsonl").write_bytes(jsonl(span("kept")))
    before = snapshot(directory)
    with pytest.raises(SpoolError, match=re.escape(message)):
        Spool(directory).open()
    assert snapshot(directory) == before


def test_a_spool_of_the_last_release_is_adopted_and_marked(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / ".lock").touch()
    (spool_dir / "00000000000000000000-7-000000.jsonl").write_bytes(jsonl(span("left-0")))
    (spool_dir / "00000000000000000001-7-000001.open").write_bytes(jsonl(span("left-1")) + b'{"span_id": "to')
    with serving(tmp_path, spool_dir=spool_dir) as server:
        assert wait_for_count(server.db, 2) == 2
    assert set(spans_by_id(server.db)) == {"left-0", "left-1"}
    assert sorted(p.name for p in spool_dir.iterdir()) == [MARKER_NAME, ".lock"]
    assert (spool_dir / MARKER_NAME).read_text().startswith("agenttrace serve spool, format 1\n")
    with serving(tmp_path, spool_dir=spool_dir):  # and it opens again, marked
        pass


def test_files_we_did_not_write_are_never_ingested_cut_or_deleted(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    with serving(tmp_path, spool_dir=spool_dir):  # a spool of ours, marked
        pass
    foreign = [spool_dir / name for name in ("notes.jsonl", "upload.open", "1-2-3.jsonl")]
    foreign[0].write_bytes(jsonl(span("foreign-1")))
    foreign[1].write_bytes(b'{"span_id": "foreign-2"}\n{"span_id": "cut?')
    foreign[2].write_bytes(jsonl(span("foreign-3")))
    before = [(path.read_bytes(), path.stat().st_mtime_ns) for path in foreign]
    with serving(tmp_path, spool_dir=spool_dir, ingest_interval=0.05) as server:
        response = httpx.post(f"{server.url}/v1/spans", content=jsonl(span("ours")))
        assert response.status_code == 200, response.text
        assert wait_for_count(server.db, 1) == 1
    assert set(spans_by_id(server.db)) == {"ours"}
    assert [(path.read_bytes(), path.stat().st_mtime_ns) for path in foreign] == before


def test_a_spooled_line_the_store_rejects_is_named_by_its_segment(tmp_path: Path) -> None:
    """A segment left by the last release, whose collector accepted a line the ingest rejects: the reject names
    `serve:SEGMENT` (the segment is gone once stored), and the line itself is kept in the rejects table."""
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    segment = "00000000000000000000-7-000000.jsonl"
    bad = json.dumps(span("bad", duration_ms=1e16))
    (spool_dir / segment).write_bytes(jsonl(span("good")) + bad.encode() + b"\n")
    with serving(tmp_path, spool_dir=spool_dir) as server:
        assert wait_for_count(server.db, 1) == 1
    (reject,) = Store(server.db).rejects()
    assert (reject["file"], reject["line"], reject["raw"]) == (f"serve:{segment}", 2, bad)
    assert not (spool_dir / segment).exists()
    shown = invoke(["rejects", "--db", str(server.db)])
    assert shown.stdout.startswith(f"serve:{segment}:2: ")
