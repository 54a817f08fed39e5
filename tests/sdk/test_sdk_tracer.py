"""Tracer, sessions and spans: records, nesting across threads and tasks, errors, the decorator, the file."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import os
import stat
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sdk_helpers import merged_spans, read_lines, span_lines, validate

from agenttrace_tui import Tracer
from agenttrace_tui.sdk import NoSessionError, current_span


def fake_clock(step_ms: float = 10.0) -> Any:
    start = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
    ticks = itertools.count()
    return lambda: start + timedelta(milliseconds=step_ms * next(ticks))


def counting_ids() -> Any:
    numbers = itertools.count(1)
    return lambda: f"id{next(numbers)}"


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    return tmp_path / "trace.jsonl"


def test_session_and_span_records_stand_alone(trace_file: Path) -> None:
    tracer = Tracer(trace_file, clock=fake_clock(), ids=counting_ids())
    with tracer.session(name="Support", properties={"Agent-Version": "v1"}, user_id="u1", tags=["beta"]) as session:
        with session.span("tools//search/", name="search_database", kind="tool", input={"q": "shoes"},
                          properties={"Tool-Category": "data"}) as span:
            span.set_output({"count": 3})
            span.set(model="none", status_code=200, usage={"input_tokens": 1})

    records = read_lines(trace_file)
    validate(records)
    assert records[0] == {
        "v": 1, "type": "session", "session_id": "id1", "name": "Support",
        "properties": {"Agent-Version": "v1"}, "user_id": "u1", "tags": ["beta"],
    }
    start, end = records[1], records[2]
    assert start == {
        "v": 1, "type": "span", "span_id": "id2", "session_id": "id1", "session_name": "Support",
        "path": "/tools/search", "kind": "tool", "name": "search_database",
        "start_time": "2025-06-01T12:00:00.000000Z", "input": {"q": "shoes"},
        # session properties repeat on the span so the line stands alone; the span's own are added
        "properties": {"Agent-Version": "v1", "Tool-Category": "data"}, "user_id": "u1",
    }
    assert end["start_time"] == start["start_time"] and end["input"] == start["input"]
    assert end["end_time"] == "2025-06-01T12:00:00.010000Z"
    assert end["duration_ms"] == 10.0
    assert end["status"] == "ok" and end["output"] == {"count": 3}
    assert end["model"] == "none" and end["status_code"] == 200 and end["usage"] == {"input_tokens": 1}
    assert all(end[k] == v for k, v in start.items() if k != "input")


def test_nested_spans_link_to_parent_and_inherit_path(trace_file: Path) -> None:
    tracer = Tracer(trace_file)
    with tracer.session(name="nest") as session:
        with session.span("/agent", kind="agent") as outer:
            with tracer.span("/agent/tool", kind="tool") as inner:
                with session.span() as leaf:  # no path: does the same type of work as its parent
                    assert current_span() is leaf
                assert current_span() is inner
        with session.span("/after") as after:
            pass
    spans = merged_spans(read_lines(trace_file))
    assert "parent_id" not in spans[outer.span_id]
    assert spans[inner.span_id]["parent_id"] == outer.span_id
    assert spans[leaf.span_id]["parent_id"] == inner.span_id
    assert spans[leaf.span_id]["path"] == "/agent/tool"
    assert "parent_id" not in spans[after.span_id]
    assert current_span() is None


def test_span_of_another_session_is_not_a_parent(trace_file: Path) -> None:
    tracer = Tracer(trace_file)
    other = tracer.session(name="other")
    with tracer.session(name="main") as session, session.span("/outer") as outer:
        with other.span("/elsewhere") as foreign:
            with session.span("/inner") as inner:
                pass
    spans = merged_spans(read_lines(trace_file))
    assert "parent_id" not in spans[foreign.span_id]
    assert spans[inner.span_id]["parent_id"] == outer.span_id


async def test_asyncio_tasks_inherit_the_current_span(trace_file: Path) -> None:
    tracer = Tracer(trace_file)

    async def child(number: int) -> str:
        with tracer.span(f"/fanout/{number}", kind="tool") as span:
            await asyncio.sleep(0.01 * (3 - number))  # interleave the tasks
            with tracer.span(f"/fanout/{number}/leaf") as leaf:
                await asyncio.sleep(0)
            return f"{span.span_id}:{leaf.span_id}"

    async with tracer.session(name="async") as session:
        with session.span("/fanout", kind="agent") as parent:
            pairs = await asyncio.gather(*(asyncio.create_task(child(n)) for n in range(3)))

    spans = merged_spans(read_lines(trace_file))
    for pair in pairs:
        child_id, leaf_id = pair.split(":")
        assert spans[child_id]["parent_id"] == parent.span_id
        assert spans[leaf_id]["parent_id"] == child_id
        assert spans[child_id]["session_id"] == session.session_id


def test_threads_with_copied_context_link_to_the_parent(trace_file: Path) -> None:
    tracer = Tracer(trace_file)
    child_ids: list[str] = []
    lock = threading.Lock()

    def work(number: int) -> None:
        with tracer.span(f"/threads/{number}", kind="tool") as span:
            with lock:
                child_ids.append(span.span_id)

    with tracer.session(name="threads"), tracer.span("/threads", kind="agent") as parent:
        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(work, n)) for n in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    spans = merged_spans(read_lines(trace_file))
    assert len(child_ids) == 4
    assert all(spans[child]["parent_id"] == parent.span_id for child in child_ids)


async def test_asyncio_to_thread_carries_the_context(trace_file: Path) -> None:
    tracer = Tracer(trace_file)

    def blocking() -> str:
        with tracer.span("/blocking", kind="tool") as span:
            return span.span_id

    with tracer.session(name="to_thread"), tracer.span("/outer") as outer:
        child_id = await asyncio.to_thread(blocking)
    assert merged_spans(read_lines(trace_file))[child_id]["parent_id"] == outer.span_id


def test_thread_without_context_has_no_session(trace_file: Path) -> None:
    tracer = Tracer(trace_file)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with tracer.span("/orphan"):
                pass
        except BaseException as exc:
            errors.append(exc)

    with tracer.session(name="s"):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert len(errors) == 1 and isinstance(errors[0], NoSessionError)


def test_exception_is_recorded_and_reraised(trace_file: Path) -> None:
    tracer = Tracer(trace_file)
    with tracer.session(name="errors") as session:
        with pytest.raises(KeyError, match="missing"):
            with session.span("/tools/lookup", kind="tool") as span:
                raise KeyError("missing")
    lines = span_lines(read_lines(trace_file), span.span_id)
    assert len(lines) == 2 and "status" not in lines[0]
    end = lines[1]
    assert end["status"] == "error"
    assert end["error"]["type"] == "KeyError"
    assert end["error"]["message"] == "'missing'"
    assert "raise KeyError" in end["error"]["stack"]


def test_record_error_marks_without_raising(trace_file: Path) -> None:
    tracer = Tracer(trace_file)
    with tracer.session(name="soft") as session:
        with session.span("/a") as by_message:
            by_message.record_error("upstream returned nothing")
        with session.span("/b") as by_exception:
            by_exception.record_error(TimeoutError("too slow"))
        with session.span("/c") as by_code:
            by_code.set(status_code=503)
    records = read_lines(trace_file)
    validate(records)
    spans = merged_spans(records)
    assert spans[by_message.span_id]["status"] == "error"
    assert spans[by_message.span_id]["error"] == "upstream returned nothing"
    assert spans[by_exception.span_id]["error"]["type"] == "TimeoutError"
    assert spans[by_exception.span_id]["status_code"] == -1
    assert spans[by_code.span_id]["status"] == "error"


async def test_cancelled_task_is_status_code_minus_3(trace_file: Path) -> None:
    tracer = Tracer(trace_file)
    started = asyncio.Event()
    holder: list[str] = []

    async def slow() -> None:
        with tracer.span("/slow") as span:
            holder.append(span.span_id)
            started.set()
            await asyncio.sleep(10)

    with tracer.session(name="cancel"):
        task = asyncio.create_task(slow())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    span = merged_spans(read_lines(trace_file))[holder[0]]
    assert span["status_code"] == -3 and span["status"] == "error"
    assert span["error"]["type"] == "CancelledError"


def test_decorator_sync_records_return_value_per_call(trace_file: Path) -> None:
    tracer = Tracer(trace_file)
    with tracer.session(name="deco") as session:

        @session.span("/step", kind="agent")
        def step(x: int) -> dict[str, int]:
            return {"double": x * 2}

        @session.span("/explicit")
        def explicit() -> str:
            current = current_span()
            assert current is not None
            current.set_output("chosen")
            return "returned"

        assert step(2) == {"double": 4}
        assert step(5) == {"double": 10}
        assert explicit() == "returned"

    spans = list(merged_spans(read_lines(trace_file)).values())
    assert [s["output"] for s in spans] == [{"double": 4}, {"double": 10}, "chosen"]
    assert spans[0]["span_id"] != spans[1]["span_id"]
    assert spans[0]["name"] == "test_decorator_sync_records_return_value_per_call.<locals>.step"


async def test_decorator_async_and_tracer_level_session_lookup(trace_file: Path) -> None:
    tracer = Tracer(trace_file)

    @tracer.span("/fetch", name="fetch", kind="retrieval")  # decorated before any session exists
    async def fetch(query: str) -> list[str]:
        await asyncio.sleep(0)
        return [query.upper()]

    with pytest.raises(NoSessionError):
        await fetch("x")
    with tracer.session(name="later") as session:
        assert await fetch("abc") == ["ABC"]
        with pytest.raises(ZeroDivisionError):

            @tracer.span("/fails")
            async def fails() -> None:
                raise ZeroDivisionError

            await fails()
    spans = list(merged_spans(read_lines(trace_file)).values())
    assert spans[0]["session_id"] == session.session_id and spans[0]["output"] == ["ABC"]
    assert spans[0]["kind"] == "retrieval"
    assert spans[1]["status"] == "error" and spans[1]["error"]["type"] == "ZeroDivisionError"


def test_tracer_span_with_explicit_session_id(trace_file: Path) -> None:
    tracer = Tracer(trace_file)
    with pytest.raises(NoSessionError, match="session_id"):
        with tracer.span("/nowhere"):
            pass
    with tracer.span("/somewhere", session_id="given") as span:
        pass
    records = read_lines(trace_file)
    assert [r["session_id"] for r in records] == ["given", "given"]
    assert span.session_id == "given"


def test_input_is_a_snapshot_and_odd_values_serialize(trace_file: Path) -> None:
    class Opaque:
        def __str__(self) -> str:
            return "<opaque>"

    tracer = Tracer(trace_file)
    messages = [{"role": "user", "content": "hi"}]
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with tracer.session(name="odd") as session, session.span("/odd", input={"messages": messages}) as span:
        messages.append({"role": "assistant", "content": "later"})  # mutated after the span opened
        span.set_output({"obj": Opaque(), "when": datetime(2025, 1, 1, tzinfo=timezone.utc), "ids": {3},
                         1: "int key", "big": 2**80, "cyclic": cyclic})
    end = read_lines(trace_file)[-1]
    assert end["input"] == {"messages": [{"role": "user", "content": "hi"}]}
    assert end["output"]["obj"] == "<opaque>"
    assert end["output"]["when"] == "2025-01-01T00:00:00+00:00"
    assert end["output"]["ids"] == [3] and end["output"]["1"] == "int key"
    assert end["output"]["big"] == str(2**80)
    assert isinstance(end["output"]["cyclic"], str)


def test_span_misuse_is_refused(trace_file: Path) -> None:
    tracer = Tracer(trace_file)
    with tracer.session(name="misuse") as session:
        with pytest.raises(ValueError, match="kind"):
            session.span("/x", kind="banana")
        with pytest.raises(ValueError, match="span_id"):
            session.span("/x").set(span_id="mine")
        with session.span("/once") as span:
            pass
        with pytest.raises(RuntimeError, match="already started"):
            span.start()


def test_file_mode_and_default_path_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "from-env" / "t.jsonl"
    monkeypatch.setenv("AGENTTRACE_FILE", str(env_file))
    tracer = Tracer()
    assert tracer.path == env_file
    assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600

    monkeypatch.delenv("AGENTTRACE_FILE")
    monkeypatch.chdir(tmp_path)
    assert Tracer().path == tmp_path / "agenttrace.jsonl"


def test_writes_after_close_reopen(trace_file: Path) -> None:
    tracer = Tracer(trace_file)
    with tracer.session(name="late") as session:
        span = session.span("/late").start()
        tracer.close()
        span.end()
    assert len(read_lines(trace_file)) == 3


def test_crashed_span_leaves_its_start_line(trace_file: Path) -> None:
    tracer = Tracer(trace_file)
    session = tracer.session(name="crash")
    session.span("/never-ends", kind="agent").start()
    records = read_lines(trace_file)
    validate(records)
    assert records[-1]["path"] == "/never-ends" and "end_time" not in records[-1]


def test_threads_share_one_tracer_without_interleaving(trace_file: Path) -> None:
    tracer = Tracer(trace_file)

    def work(number: int) -> None:
        for index in range(200):
            with tracer.span(f"/t/{number}", input={"pad": "y" * (index * 37 % 5000)}):
                pass

    with tracer.session(name="threads"):
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(work, n)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    records = read_lines(trace_file)
    assert len(records) == 1 + 8 * 200 * 2
    assert len(merged_spans(records)) == 8 * 200


def test_write_failure_warns_once_and_never_raises(trace_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tracer = Tracer(trace_file)

    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.warns(RuntimeWarning, match="No space left") as warned:
        with tracer.session(name="full") as session, session.span("/a"), session.span("/b"):
            pass
    assert len(warned) == 1
