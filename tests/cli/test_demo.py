"""The demo generator: the committed sample traces are exactly what the documented command writes, and
they contain the scenarios the docs promise."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agenttrace_tui.demo import DEFAULT_SEED, generate
from agenttrace_tui.demo.__main__ import main
from agenttrace_tui.demo.portable import portable_stack
from agenttrace_tui.demo.scenarios import SCENARIOS

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_traces"
MAX_SAMPLE_BYTES = 2_000_000


def records(folder: Path, stem: str | None = None) -> Iterator[dict[str, Any]]:
    pattern = f"{stem}.jsonl" if stem else "*.jsonl"
    for path in sorted(folder.glob(pattern)):
        for line in path.read_text("utf-8").splitlines():
            record: dict[str, Any] = json.loads(line)
            yield record


def span_ends(stem: str | None = None) -> list[dict[str, Any]]:
    """The closing line of every span (it repeats the span's fields, plus the end)."""
    return [r for r in records(SAMPLE_DIR, stem) if r.get("type", "span") == "span" and "end_time" in r]


def test_regenerating_with_the_seed_gives_the_committed_files(tmp_path: Path) -> None:
    written = generate(tmp_path, DEFAULT_SEED)
    committed = sorted(p.name for p in SAMPLE_DIR.glob("*.jsonl"))
    assert sorted(p.name for p in written) == committed, "sample_traces/ holds files the demo doesn't write"
    for path in written:
        expected = (SAMPLE_DIR / path.name).read_bytes()
        assert path.read_bytes() == expected, (
            f"{path.name} differs from a fresh run: regenerate with "
            f"`python -m agenttrace_tui.demo --out sample_traces --seed {DEFAULT_SEED}`"
        )


def test_another_seed_gives_other_traces(tmp_path: Path) -> None:
    generate(tmp_path, DEFAULT_SEED + 1)
    assert (tmp_path / "support.jsonl").read_bytes() != (SAMPLE_DIR / "support.jsonl").read_bytes()


def test_command_line_writes_and_summarizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path / "out"), "--seed", "3"]) == 0
    assert {p.stem for p in (tmp_path / "out").glob("*.jsonl")} == set(SCENARIOS)
    assert "total:" in capsys.readouterr().out


def test_samples_are_small_and_many() -> None:
    total_bytes = sum(p.stat().st_size for p in SAMPLE_DIR.glob("*.jsonl"))
    assert 0 < total_bytes < MAX_SAMPLE_BYTES
    sessions = {r["session_id"] for r in records(SAMPLE_DIR)}
    assert len(sessions) >= 50


def test_every_span_closes_and_start_end_lines_pair_up() -> None:
    lines_per_span = Counter(r["span_id"] for r in records(SAMPLE_DIR) if r.get("type", "span") == "span")
    assert set(lines_per_span.values()) == {2}


def test_support_loop_iterations_and_tools() -> None:
    ends = span_ends("support")
    paths = {r["path"] for r in ends}
    assert {"/iteration/0", "/iteration/1", "/classify-query", "/answer"} <= paths
    assert {"/tools/search_database", "/tools/fetch_weather", "/tools/send_email"} <= paths
    tool_spans = [r for r in ends if r["kind"] == "tool"]
    assert tool_spans and all("Tool-Category" in r["properties"] for r in tool_spans)
    assert {r["properties"]["Agent-Version"] for r in ends} == {"v1.0", "v1.1"}


def test_session_records_carry_name_user_and_tags() -> None:
    sessions = [r for r in records(SAMPLE_DIR) if r.get("type") == "session"]
    assert sessions
    assert all(r["name"] and r["user_id"] and r["tags"] for r in sessions)


def test_cached_and_reasoning_tokens_appear() -> None:
    llm = [r for r in span_ends() if r["kind"] == "llm" and r.get("usage")]
    assert any(r["usage"].get("cache_read_tokens", 0) > 0 for r in llm)
    assert any(r["usage"].get("reasoning_tokens", 0) > 0 for r in llm)
    for span in llm:
        usage = span["usage"]
        assert usage.get("cache_read_tokens", 0) <= usage["input_tokens"]
        assert usage.get("reasoning_tokens", 0) <= usage["output_tokens"]


def test_tool_failure_recovered_by_retry() -> None:
    ends = span_ends("error_recovery")
    failed_tools = [r for r in ends if r["kind"] == "tool" and r.get("status") == "error"]
    recoveries = [r for r in ends if r["path"] == "/error-recovery"]
    assert failed_tools and recoveries
    assert all({"Error-Type", "Recovery-Strategy"} <= set(r["properties"]) for r in recoveries)
    retried = [r for r in ends if r["kind"] == "tool" and r["properties"].get("Retry-Attempt") == "1"]
    assert any(r["status"] == "ok" for r in retried)
    assert all("/work/" not in r["error"]["stack"] and "site-packages" not in r["error"]["stack"] for r in failed_tools)


def test_multi_agent_shares_a_session_and_links_parents() -> None:
    ends = span_ends("multi_agent")
    by_session: dict[str, set[str]] = {}
    for span in ends:
        by_session.setdefault(span["session_id"], set()).add(str(span["properties"].get("Agent-Name")))
    assert by_session and all({"coordinator", "research-agent"} <= names for names in by_session.values())
    researcher_calls = [r for r in ends if r["properties"].get("Agent-Role") == "researcher"]
    assert researcher_calls and all(r["properties"]["Parent-Agent"] == "coordinator" for r in researcher_calls)
    span_ids = {r["span_id"] for r in ends}
    children = [r for r in ends if r.get("parent_id")]
    assert children and all(r["parent_id"] in span_ids for r in children)
    assert any(r.get("first_token_ms") is not None for r in ends)  # the streamed final answer


def test_max_iteration_sessions() -> None:
    outcomes = [r["output"]["outcome"] for r in span_ends("max_iterations") if r["path"] == "/answer"]
    assert len(outcomes) == 6 and set(outcomes) == {"max-iterations"}
    assert "/iteration/4" in {r["path"] for r in span_ends("max_iterations")}


def test_llm_errors_and_timeouts() -> None:
    ends = span_ends("llm_errors")
    codes = Counter(r.get("status_code") for r in ends if r["kind"] == "llm" and r["status"] == "error")
    assert codes[429] and codes[500] and codes[-1]
    assert any(r["path"].endswith("/fallback") and r["status"] == "ok" for r in ends)
    assert "failed" in {r["output"]["outcome"] for r in ends if r["path"] == "/answer"}


def test_several_models_including_an_unpriced_one() -> None:
    models = {r["model"] for r in span_ends() if r["kind"] == "llm"}
    assert {"acme-llm-1"} <= models
    assert any(m.startswith("gpt-4o-mini") for m in models)
    assert any(m.startswith("gpt-4o-2") for m in models)
    assert any(m.startswith("o3-mini") for m in models)


def test_portable_stack_keeps_demo_frames_only() -> None:
    stack = (
        "Traceback (most recent call last):\n"
        '  File "/opt/venv/lib/python3.12/site-packages/agenttrace_tui/sdk/manual_logger.py", line 90, in log_request\n'
        "    result = operation(recorder)\n"
        "             ^^^^^^^^^^^^^^^^^^^\n"
        '  File "/somewhere/else/lib.py", line 3, in helper\n'
        "    go()\n"
        "ValueError: boom\n"
    )
    assert portable_stack(stack) == (
        "Traceback (most recent call last):\n  ... (frames outside agenttrace_tui.demo elided)\nValueError: boom\n"
    )
