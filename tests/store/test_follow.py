"""Follow mode: growing files are tailed into the store, and an open explorer shows what arrives."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest
from store_helpers import span
from tui_helpers import wait_for

from agenttrace_tui.store import Store
from agenttrace_tui.store.write.follow import Follower
from agenttrace_tui.tui.app import AgentTraceApp
from agenttrace_tui.tui.screens.session import SessionScreen
from agenttrace_tui.tui.screens.sessions import SessionsScreen, SessionTable
from agenttrace_tui.tui.widgets.path_tree import PathTree, SpanRef

SIZE = (160, 40)


def line(record: dict[str, object]) -> bytes:
    return orjson.dumps(record) + b"\n"


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


def span_ids(store: Store) -> list[str]:
    _, rows = store.sql("SELECT span_id FROM spans ORDER BY span_id")
    return [str(r[0]) for r in rows]


# The follower ---------------------------------------------------------------------------------------


def test_new_lines_are_ingested_and_a_partial_line_waits_for_its_newline(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    trace.write_bytes(line(span("s1", span_id="a")))
    store = Store(tmp_path / "store.duckdb")
    follower = Follower(store.path, [str(tmp_path)])
    result = follower.poll()
    assert result is not None and result.stored == 1
    assert follower.poll() is None  # nothing new

    whole = line(span("s1", span_id="b"))
    append(trace, whole[:20])  # the writer is mid-line
    assert follower.poll() is None
    assert store.rejects() == []
    append(trace, whole[20:])
    result = follower.poll()
    assert result is not None and result.stored == 1 and result.rejected == 0
    assert span_ids(store) == ["a", "b"]


def test_rejects_name_the_right_line_across_polls(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    trace.write_bytes(line(span("s1", span_id="a")) + b"\n")  # line 2 is blank
    store = Store(tmp_path / "store.duckdb")
    follower = Follower(store.path, [str(trace)])
    follower.poll()
    append(trace, line(span("s1", span_id="b")) + b"{not json\n")
    result = follower.poll()
    assert result is not None and result.rejected == 1
    assert [(r["line"], r["reason"]) for r in store.rejects()] == [(4, "not valid JSON")]


def test_a_truncated_or_replaced_file_is_read_again_from_the_start(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    trace.write_bytes(line(span("s1", span_id="a")) + line(span("s1", span_id="b")))
    store = Store(tmp_path / "store.duckdb")
    follower = Follower(store.path, [str(trace)])
    follower.poll()
    trace.write_bytes(line(span("s2", span_id="c")))  # truncated and rewritten: shorter than before
    result = follower.poll()
    assert result is not None and result.stored == 1
    replacement = tmp_path / "new.tmp"
    replacement.write_bytes(line(span("s3", span_id="d")) + line(span("s3", span_id="e")) + b"\n" * 200)
    os.replace(replacement, trace)  # a new inode, and longer than what was read
    result = follower.poll()
    assert result is not None and result.stored == 2
    assert span_ids(store) == ["a", "b", "c", "d", "e"]  # earlier spans stay: they were real


def test_new_files_in_a_followed_directory_are_picked_up(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    store = Store(tmp_path / "store.duckdb")
    follower = Follower(store.path, [str(folder)])
    assert follower.poll() is None
    (folder / "later.jsonl").write_bytes(line(span("s9", span_id="x")))
    follower._scanned_at = float("-inf")  # don't wait for the next directory listing
    result = follower.poll()
    assert result is not None and result.stored == 1


def test_a_file_ingested_before_resumes_after_its_last_line(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    trace.write_bytes(line(span("s1", span_id="a")) + b"{bad\n")
    store = Store(tmp_path / "store.duckdb")
    assert store.ingest([str(trace)]).rejected == 1
    follower = Follower(store.path, [str(trace)])
    assert follower.poll() is None  # unchanged since that ingest: nothing read again
    append(trace, b"{bad too\n")
    result = follower.poll()
    assert result is not None and result.lines == 1 and result.rejected == 1
    assert [r["line"] for r in store.rejects()] == [2, 3]


# The command ----------------------------------------------------------------------------------------


def test_ingest_follow_prints_one_json_line_per_round(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    trace.write_bytes(line(span("s1", span_id="a")))
    command = [sys.executable, "-m", "agenttrace_tui.cli", "ingest", "--follow", "--json",
               "--db", str(tmp_path / "store.duckdb"), str(trace)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        first = orjson.loads(process.stdout.readline())
        assert first["stored"] == 1 and first["files"] == [str(trace)]
        append(trace, line(span("s1", span_id="b")) + line(span("s2", span_id="c")))
        second = orjson.loads(process.stdout.readline())
        assert second["stored"] == 2 and second["sessions_touched"] == 2
    finally:
        process.terminate()
        process.wait(timeout=10)


# The explorer -----------------------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys, time, orjson
    path, step, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    records = {
        "start": [
            {"span_id": "plan", "session_id": "live", "path": "/plan", "kind": "llm", "name": "plan",
             "start_time": start, "end_time": start + 1},
            {"span_id": "search", "session_id": "live", "path": "/tools", "kind": "tool", "name": "search",
             "start_time": start + 2},
        ],
        "end": [
            {"span_id": "search", "session_id": "live", "start_time": start + 2, "end_time": start + 5},
        ],
    }[step]
    with open(path, "ab") as handle:
        for record in records:
            handle.write(orjson.dumps(record) + b"\\n")
    """
)


START = float(int(time.time()) - 60)  # a minute ago: recent enough to count as running


def write_from_another_process(trace: Path, step: str) -> None:
    subprocess.run([sys.executable, "-c", WRITER, str(trace), step, str(START)], check=True)


def tree_labels(app: AgentTraceApp) -> list[str]:
    tree = app.screen.query_one(PathTree)
    return [str(node.label) for node in tree.visible_nodes()]


def search_row(app: AgentTraceApp) -> SpanRef | None:
    tree = app.screen.query_one(PathTree)
    found = tree.find(lambda d: isinstance(d, SpanRef) and d.row.span_id == "search")
    return found.data if found is not None and isinstance(found.data, SpanRef) else None


@pytest.mark.slow
async def test_an_open_explorer_shows_spans_as_another_process_writes_them(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    trace = folder / "agent.jsonl"
    trace.touch()
    store = Store(tmp_path / "store.duckdb")
    app = AgentTraceApp(store, keymap={}, follow=[str(folder)])
    async with app.run_test(size=SIZE) as pilot:
        write_from_another_process(trace, "start")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and bool(app.screen.query(SessionTable)))
        screen = app.screen
        assert isinstance(screen, SessionsScreen) and screen.listing is not None
        assert screen.listing.raw["session_id"].to_pylist() == ["live"]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.view is not None)
        tree = app.screen.query_one(PathTree)
        tree.root.expand()
        await wait_for(pilot, lambda: any(label.startswith("tools") for label in tree_labels(app)))
        tools = tree.find(lambda d: getattr(d, "path", None) == "/tools")
        assert tools is not None
        assert "1 running" in str(tools.label)
        tools.expand()
        await wait_for(pilot, lambda: search_row(app) is not None)
        row = search_row(app)
        assert row is not None and row.row.in_progress
        search_node = tree.find(lambda d: isinstance(d, SpanRef) and d.row.span_id == "search")
        assert search_node is not None and "running" in str(search_node.label)
        tree.move_cursor(search_node)

        write_from_another_process(trace, "end")
        await wait_for(pilot, lambda: (r := search_row(app)) is not None and not r.row.in_progress)
        ended = search_row(app)
        assert ended is not None and ended.row.duration_ms == 3000
        assert tools.is_expanded  # what the user opened stays open
        assert tree.cursor_node is not None and isinstance(tree.cursor_node.data, SpanRef)
        assert tree.cursor_node.data.row.span_id == "search"  # and the cursor stays put
        assert "running" not in str(tools.label)


def test_followed_lines_are_redacted_like_any_ingest(tmp_path: Path) -> None:
    secret = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2"
    trace = tmp_path / "run.jsonl"
    trace.write_bytes(line(span("s1", span_id="a", input={"api_key": secret, "q": "hi"})))
    store = Store(tmp_path / "store.duckdb")
    Follower(store.path, [str(trace)]).poll()
    _, rows = store.sql("SELECT input::VARCHAR FROM spans")
    assert secret not in str(rows) and "[REDACTED]" in str(rows)


FAST_WRITER = textwrap.dedent(
    """
    import sys, time, orjson
    path, rounds = sys.argv[1], int(sys.argv[2])
    for r in range(rounds):
        with open(path, "ab") as handle:
            for i in range(50):
                handle.write(orjson.dumps({"session_id": f"s{r % 20}", "span_id": f"{r}-{i}",
                                           "start_time": 1767225600 + r + i / 100}) + b"\\n")
        time.sleep(0.02)
    """
)


@pytest.mark.slow
async def test_a_fast_writer_is_coalesced_into_a_few_refreshes(tmp_path: Path, monkeypatch: object) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    trace = folder / "fast.jsonl"
    trace.touch()
    store = Store(tmp_path / "store.duckdb")
    refreshes: list[float] = []
    original = SessionsScreen.refresh_from_store

    def counted(screen: SessionsScreen) -> None:
        refreshes.append(time.monotonic())
        original(screen)

    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(SessionsScreen, "refresh_from_store", counted)
    app = AgentTraceApp(store, keymap={}, follow=[str(folder)])
    async with app.run_test(size=SIZE) as pilot:
        writer = subprocess.Popen([sys.executable, "-c", FAST_WRITER, str(trace), "100"])
        while writer.poll() is None:  # the app keeps answering keys while lines pour in
            await pilot.press("j")
            await asyncio.sleep(0.05)
        expected = 100 * 50
        await wait_for(pilot, lambda: span_count(store) == expected)
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and app.screen.listing is not None
                       and app.screen.listing.raw.num_rows == 20)
    assert refreshes, "the list never refreshed"
    gaps = [b - a for a, b in zip(refreshes, refreshes[1:])]
    assert all(gap >= 0.45 for gap in gaps), gaps  # at most about two refreshes a second


def span_count(store: Store) -> int:
    _, rows = store.sql("SELECT count(*) FROM spans")
    return int(rows[0][0])


async def test_an_open_explorer_picks_up_another_process_ingest_without_a_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.duckdb")
    first = tmp_path / "first.jsonl"
    first.write_bytes(line(span("early", span_id="a")))
    assert store.ingest([str(first)]).stored == 1
    app = AgentTraceApp(store, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and app.screen.listing is not None)
        later = tmp_path / "later.jsonl"
        later.write_bytes(line(span("late", span_id="b")))
        command = [sys.executable, "-m", "agenttrace_tui.cli", "ingest", "--db", str(store.path), str(later)]
        subprocess.run(command, check=True, capture_output=True)

        def listed() -> set[str]:
            screen = app.screen
            if not isinstance(screen, SessionsScreen) or screen.listing is None:
                return set()
            return {str(s) for s in screen.listing.raw["session_id"].to_pylist()}

        await wait_for(pilot, lambda: listed() == {"early", "late"})
