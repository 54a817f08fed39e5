"""Long lines (issue 18, finding 9): a line past the limit is rejected unread and its neighbours stored; memory
for a long line stays near the line, and an endless line with no newline ends in one reject, memory bounded."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_helpers import REPO, invoke, span

from agenttrace_tui.store.write.follow import Follower
from agenttrace_tui.store.write.ingest import expand_inputs, ingest
from agenttrace_tui.store.write.lines import FileReadState, read_line_batches

LIMIT = 4096
MIB = 1 << 20


def _line(span_id: str, payload_bytes: int = 0) -> bytes:
    record = span("s1", span_id=span_id, duration_ms=5)
    line = orjson.dumps(record)
    if payload_bytes:  # padded with an input so that the line is exactly payload_bytes long
        record["input"] = ""
        bare = len(orjson.dumps(record))
        record["input"] = "x" * (payload_bytes - bare)
        line = orjson.dumps(record)
        assert len(line) == payload_bytes
    return line + b"\n"


def _stored_and_rejected(db: Path) -> tuple[list[str], list[tuple[int, str]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        stored = [str(r[0]) for r in con.execute("SELECT span_id FROM span_data ORDER BY span_id").fetchall()]
        rejects = [(int(n), str(r)) for n, r in con.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall()]
    return stored, rejects


@pytest.mark.parametrize("padding_lines", [pytest.param(0, id="classic"),
                                           pytest.param(60_000, id="direct", marks=pytest.mark.slow)])  # direct: over 8 MB
def test_a_line_over_the_limit_is_rejected_and_its_neighbours_stored(tmp_path: Path, padding_lines: int) -> None:
    limit = LIMIT if not padding_lines else MIB
    trace = tmp_path / "run.jsonl"
    with open(trace, "wb") as handle:
        handle.write(_line("a"))
        handle.write(_line("too-long", limit + 1))
        handle.write(_line("b"))
        handle.write(_line("just-under", limit))
        handle.write(_line("crlf", limit)[:-1] + b"\r\n")  # a CR before the newline is not the line's
        handle.writelines(_line(f"pad{n:06}") for n in range(padding_lines))
    assert trace.stat().st_size > (8 * MIB if padding_lines else 0)
    db = tmp_path / "store.duckdb"
    result = ingest(db, expand_inputs([str(trace)])[0], max_line_bytes=limit)
    stored, rejects = _stored_and_rejected(db)
    assert [s for s in stored if not s.startswith("pad")] == ["a", "b", "crlf", "just-under"]
    assert len(stored) == 4 + padding_lines and result.stored == 4 + padding_lines
    size = "4 KiB" if limit == LIMIT else "1 MiB"
    assert rejects == [(2, f"line longer than {size} (the limit; --max-line-bytes raises it): not read")]
    assert result.rejected == 1 and result.files[0].rejects[0].raw.startswith('{"session_id":"s1"')


def test_the_cli_option_and_the_config_key_set_the_limit(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    trace.write_bytes(_line("a") + _line("long", 10_000) + _line("b"))
    env = {**os.environ, "AGENTTRACE_CONFIG": str(tmp_path / "none.toml")}
    option = invoke(["ingest", str(trace), "--db", str(tmp_path / "a.duckdb"), "--max-line-bytes", "5000"], env=env)
    assert option.returncode == 1, option.stderr
    assert f"{trace}:2: line longer than 5,000 bytes" in option.stderr and "2 stored, 1 rejected" in option.stderr
    config = tmp_path / "config.toml"
    config.write_text("[ingest]\nmax_line_bytes = 8192\n")
    env["AGENTTRACE_CONFIG"] = str(config)
    configured = invoke(["ingest", str(trace), "--db", str(tmp_path / "b.duckdb")], env=env)
    assert configured.returncode == 1 and f"{trace}:2: line longer than 8 KiB" in configured.stderr
    raised = invoke(["ingest", str(trace), "--db", str(tmp_path / "c.duckdb"), "--max-line-bytes", "10000"], env=env)
    assert raised.returncode == 0 and "3 stored, 0 rejected" in raised.stderr, raised.stderr
    config.write_text("[ingest]\nmax_line_bytes = '1 MB'\n")
    bad = invoke(["ingest", str(trace), "--db", str(tmp_path / "d.duckdb")], env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert "[ingest] max_line_bytes must be a whole number of bytes >= 1" in bad.stderr


def test_a_file_that_cannot_be_read_exits_2_as_documented(tmp_path: Path) -> None:
    """docs/store.md: 0 all stored, 1 some lines rejected, 2 a usage or store error (an unreadable file)."""
    good = tmp_path / "good.jsonl"
    good.write_bytes(_line("a"))
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"not gzip at all\n")
    result = invoke(["ingest", str(good), str(broken), "--db", str(tmp_path / "store.duckdb")])
    assert result.returncode == 2, result.stderr
    assert f"agenttrace: {broken}: cannot read" in result.stderr and "1 stored" in result.stderr


def test_a_followed_line_past_the_limit_is_skipped_to_its_newline(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    trace.write_bytes(_line("a") + b'{"partial": "' + b"y" * (3 * LIMIT))  # past the limit, no newline yet
    db = tmp_path / "store.duckdb"
    follower = Follower(db, [str(trace)], max_line_bytes=LIMIT)
    first = follower.poll()
    assert first is not None and first.stored == 1
    assert follower.poll() is None  # still no newline: nothing new
    with open(trace, "ab") as handle:
        handle.write(b"z" * LIMIT + b'"}\n' + _line("b"))
    second, third = follower.poll(), follower.poll()  # the long line alone, then what follows it
    assert second is not None and (second.stored, second.rejected) == (0, 1)
    assert third is not None and (third.stored, third.rejected) == (1, 0)
    stored, rejects = _stored_and_rejected(db)
    assert stored == ["a", "b"] and [n for n, _ in rejects] == [2]


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"a", b"bcd", b"\n", b"\r\n", b"\xc3\xa9", b"xyz" * 5, b"\xef\xbb\xbf"]), max_size=40),
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=1, max_value=12),
)
def test_any_block_size_rejects_exactly_the_lines_past_the_limit(parts: list[bytes], block_bytes: int,
                                                                 limit: int) -> None:
    data = b"".join(parts)
    whole = data.removeprefix(b"\xef\xbb\xbf")
    pieces = whole.split(b"\n")
    expected = [piece.removesuffix(b"\r") for piece in (pieces if pieces[-1] else pieces[:-1])]
    state = FileReadState()
    got: list[tuple[str, str | None]] = []
    for batch in read_line_batches(io.BytesIO(data), state, block_bytes=block_bytes, max_line_bytes=limit):
        reasons = batch.reasons.to_pylist() if batch.reasons is not None else [None] * len(batch.lines)
        got += list(zip(batch.lines.to_pylist(), reasons))
    assert len(got) == len(expected) == state.total_lines
    for (text, reason), line in zip(got, expected):
        if len(line) > limit:
            assert reason is not None and reason.startswith("line longer than"), (line, text)
            assert text == line[:1024].decode("utf-8", "replace").rstrip("\r") + " …"
        else:
            assert reason is None and text.rstrip("\r\n") == line.decode()


# Memory, measured in a child process ----------------------------------------------------------------

_READ_LINES = textwrap.dedent("""
    import resource, sys
    from agenttrace_tui.store.write.lines import FileReadState, read_line_batches
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(sys.argv[1], "rb") as stream:
        sizes = [len(batch.lines) for batch in read_line_batches(stream, FileReadState(), max_line_bytes=1 << 30)]
    print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, sum(sizes))
""")


def test_reading_a_200_mb_line_holds_it_about_once(tmp_path: Path) -> None:
    """The reader kept the pieces, joined them (a second copy) and masked the newlines (a third): 2.9x the
    line over the process's start; now one growing buffer, handed to Arrow without a copy (1.0-1.1x)."""
    size = 200 * MIB
    trace = tmp_path / "long.jsonl"
    with open(trace, "wb") as handle:
        handle.write(_line("a") + b'{"span_id": "long", "input": "')
        handle.writelines(b"x" * MIB for _ in range(size // MIB))
        handle.write(b'"}\n' + _line("b"))
    child = subprocess.run([sys.executable, "-c", _READ_LINES, str(trace)], capture_output=True, text=True,
                           cwd=REPO, check=True)
    before_kb, peak_kb, lines = (int(v) for v in child.stdout.split())
    assert lines == 3
    assert (peak_kb - before_kb) * 1024 < 1.5 * size, f"{(peak_kb - before_kb) / 1024:.0f} MB for a 200 MB line"


def _peak_of_cli_ingest(tmp_path: Path, name: str, stream_bytes: int, limit: int) -> tuple[int, str]:
    """Peak RSS (bytes) of `agenttrace ingest -` fed `stream_bytes` zero bytes and no newline, piecewise."""
    script = "import resource, sys\nfrom agenttrace_tui.cli import main\ntry:\n    main()\nfinally:\n" \
             "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    process = subprocess.Popen(
        [sys.executable, "-c", script, "ingest", "-", "--db", str(tmp_path / f"{name}.duckdb"),
         "--max-line-bytes", str(limit)],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=REPO,
    )
    assert process.stdin is not None
    zeros = bytes(MIB)
    for _ in range(stream_bytes // MIB):  # an endless stream, cut off here
        process.stdin.write(zeros)
    process.stdin.close()
    assert process.stderr is not None
    err = process.stderr.read().decode()
    process.wait()
    *report, peak_kb = err.strip().splitlines()
    return int(peak_kb) * 1024, "\n".join(report)


def test_an_endless_line_of_zero_bytes_ends_in_one_reject_with_memory_bounded(tmp_path: Path) -> None:
    limit = 8 * MIB
    empty_peak, _ = _peak_of_cli_ingest(tmp_path, "empty", 0, limit)
    peak, report = _peak_of_cli_ingest(tmp_path, "zeros", 6 * limit, limit)  # 48 MB, no newline
    assert report.splitlines()[0] == "<stdin>:1: line longer than 8 MiB (the limit; --max-line-bytes raises it): not read"
    assert "0 stored, 1 rejected" in report
    # Held: at most the limit and a block (plus allocator slack), never the stream.
    assert peak - empty_peak < 3 * limit, f"{(peak - empty_peak) / MIB:.0f} MB over an empty ingest"
