"""GenAI content as log records from the real instrumentation (issue 19, "OTLP logs"): openai-v2 with util-genai
in EVENT_ONLY mode writes each chat's messages in a `gen_ai.client.inference.operation.details` record, not on
its span (tests/interop/openai_v2_events_agent.py). The store folds each record into its chat span, whether the
logs come first, in another file, or over the collector's /v1/logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from agent_runs import run_script

from agenttrace_tui.store import Store
from agenttrace_tui.store.write.ingest import expand_inputs, ingest

AGENT = Path(__file__).with_name("openai_v2_events_agent.py")


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return run_script(AGENT).splitlines()


def _chats(store: Store) -> list[tuple[Any, ...]]:
    _, rows = store.sql("SELECT input, output, input_tokens FROM spans WHERE kind = 'llm' ORDER BY start_time")
    return [(orjson.loads(i) if i else None, orjson.loads(o) if o else None, t) for i, o, t in rows]


def _check(store: Store) -> None:
    first, second = _chats(store)
    assert [(m["role"], m.get("content")) for m in first[0]["messages"]] == [
        ("system", "Be brief."), ("user", "Weather in Paris?")]
    call = first[1]["choices"][0]["message"]["tool_calls"][0]
    assert (call["function"]["name"], orjson.loads(call["function"]["arguments"])) == ("get_weather", {"city": "Paris"})
    assert [m["role"] for m in second[0]["messages"]] == ["system", "user", "assistant", "tool"]
    assert second[1]["choices"][0]["message"]["content"]
    _, counts = store.sql("SELECT count(*), count(*) FILTER (WHERE name LIKE 'gen_ai.%') FROM spans")
    assert tuple(counts[0]) == (4, 0)  # agent, two chats, the tool: the records are the chats' payloads


def test_the_events_are_the_chat_spans_messages_in_one_file(lines: list[bytes], tmp_path: Path) -> None:
    logs = [line for line in lines if b'"resourceLogs"' in line]
    assert len(logs) == 2 and len(lines) == 6  # a record per chat; four spans
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert ingest(tmp_path / "one.duckdb", expand_inputs([str(path)])[0]).ok
    _check(Store(tmp_path / "one.duckdb"))


@pytest.mark.parametrize("logs_first", [True, False], ids=["logs-first", "spans-first"])
def test_the_events_are_folded_from_another_file(lines: list[bytes], tmp_path: Path, logs_first: bool) -> None:
    logs = [line for line in lines if b'"resourceLogs"' in line]
    spans = [line for line in lines if b'"resourceSpans"' in line]
    db = tmp_path / "two.duckdb"
    for index, part in enumerate([logs, spans] if logs_first else [spans, logs]):
        path = tmp_path / f"part-{index}.jsonl"
        path.write_bytes(b"\n".join(part) + b"\n")
        assert ingest(db, expand_inputs([str(path)])[0]).ok
    _check(Store(db))


def test_over_the_collector_one_request_per_record(lines: list[bytes], tmp_path: Path) -> None:
    import httpx
    from serve_helpers import serving, wait_for_count

    with serving(tmp_path) as server:
        for line in lines:  # logs first, then the spans children first: one request each
            path = "/v1/logs" if b'"resourceLogs"' in line else "/v1/traces"
            answer = httpx.post(server.url + path, content=line, headers={"content-type": "application/json"})
            assert answer.status_code == 200, answer.text
        assert wait_for_count(server.db, 4) == 4
    _check(Store(server.db))
