"""Helicone manual-logger bodies → spans: each `_type`, each status, reported cost, timings, meta vs header
precedence; validated against the JSON Schema and ingested into a real DuckDB file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from agenttrace_tui.format import json_schema
from agenttrace_tui.interop import ShapeError, SourceFormat, convert_file, helicone_body_to_records, sniff
from agenttrace_tui.sdk import ManualLogger, Tracer
from agenttrace_tui.store import Store
from agenttrace_tui.store.read import spans as span_reads
from interop_helpers import ANTHROPIC, CANCELLED, DATA, LLM, RATE_LIMITED, SERVER_ERROR, TIMEOUT, TOOL, VECTOR, body


VALIDATOR = Draft202012Validator(json_schema(), format_checker=FormatChecker())


def one(payload: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    [record] = helicone_body_to_records(payload, headers)
    assert list(VALIDATOR.iter_errors(record)) == [], record
    return record


def test_each_request_type_becomes_its_kind() -> None:
    tool, vector, data, llm = one(TOOL), one(VECTOR), one(DATA), one(LLM)
    assert (tool["kind"], tool["name"], tool["input"]) == ("tool", "search_database", {"query": "order 1234"})
    assert tool["output"] == {"results": [{"id": 1234}], "count": 1}
    assert (vector["kind"], vector["name"]) == ("retrieval", "search") and vector["input"]["topK"] == 3
    assert (data["kind"], data["name"]) == ("other", "load_profile")
    assert (llm["kind"], llm["name"]) == ("llm", "gpt-4o-mini")
    assert llm["model"] == "gpt-4o-mini-2024-07-18"  # the response's model is the one that answered
    assert llm["input"]["messages"] == [{"role": "user", "content": "hi"}]
    assert llm["output"]["choices"][0]["message"]["content"] == "hello"


def test_headers_and_meta_map_to_fields_without_credentials() -> None:
    tool = one(TOOL)
    assert tool["session_id"] == "sess-1" and tool["session_name"] == "Support"
    assert tool["path"] == "/tools/search_database"
    assert tool["properties"] == {"Tool-Category": "data"} and tool["user_id"] == "user-9"
    assert "Helicone-Auth" not in tool["headers"] and tool["headers"]["Helicone-Session-Id"] == "sess-1"
    assert "sk-secret" not in json.dumps(tool)
    assert tool["helicone"] == {"url": "custom-model-nopath", "response_headers": {"x-request-id": "r1"}}


def test_http_headers_win_over_meta_case_insensitively() -> None:
    record = one(TOOL, {"helicone-session-id": "from-header", "HELICONE-PROPERTY-Tool-Category": "api",
                        "Helicone-Request-Id": "req-77"})
    assert record["session_id"] == "from-header"
    assert record["properties"] == {"Tool-Category": "api"}
    assert record["span_id"] == "req-77"
    assert record["path"] == "/tools/search_database"  # meta keys the headers don't repeat still apply


def test_statuses() -> None:
    ok = one(LLM)
    assert ok["status"] == "ok" and ok["status_code"] == 200 and "error" not in ok
    server = one(SERVER_ERROR)
    assert server["status"] == "error" and server["status_code"] == 500
    assert server["error"] == {"type": "server_error", "message": "The server had an error"}
    limited = one(RATE_LIMITED)
    assert limited["status"] == "error" and limited["error"] == {"type": "HTTP 429", "message": "Too Many Requests"}
    timeout, cancelled = one(TIMEOUT), one(CANCELLED)
    assert (timeout["status"], timeout["status_code"], timeout["error"]["type"]) == ("error", -1, "timeout")
    assert (cancelled["status"], cancelled["status_code"], cancelled["error"]["type"]) == ("error", -3, "cancelled")


def test_usage_cost_and_timings() -> None:
    llm = one(LLM)
    assert llm["usage"] == {"input_tokens": 1300, "output_tokens": 20, "cache_read_tokens": 1024}
    assert llm["cost_usd"] == 0.0042  # usage.cost: a reported cost
    anthropic = one(ANTHROPIC)
    assert anthropic["usage"] == {"input_tokens": 110, "output_tokens": 5, "cache_read_tokens": 100}
    assert anthropic["cost_usd"] == 0.5  # providerResponse.cost
    assert llm["start_time"] == "2025-03-01T12:00:00.250000000Z"
    assert llm["end_time"] == "2025-03-01T12:00:01.490000000Z"
    assert llm["first_token_ms"] == 120


def test_missing_timing_and_the_collector_clock() -> None:
    no_timing = body({"_type": "data", "name": "x"}, {}, timing={})
    with pytest.raises(ShapeError, match="timing.startTime"):
        helicone_body_to_records(no_timing)
    [record] = helicone_body_to_records(no_timing, received_ns=1_740_830_400_000_000_000)
    assert record["start_time"] == "2025-03-01T12:00:00.000000000Z"
    epoch_ms = body({"_type": "data", "name": "x"}, {}, timing={"startTime": 1740830400250})
    assert one(epoch_ms)["start_time"] == 1740830400250
    for bad in ("2025-02-30T00:00:00Z", "yesterday", -5):
        with pytest.raises(ShapeError, match="timing.startTime"):
            helicone_body_to_records(body({"_type": "data", "name": "x"}, {}, timing={"startTime": bad}))


def test_the_same_body_gives_the_same_span_id_and_no_session_means_its_own() -> None:
    payload = body({"_type": "data", "name": "x"}, {}, meta={})
    first, again = one(payload), one(json.loads(json.dumps(payload)))
    assert first["span_id"] == again["span_id"] and first["span_id"].startswith("helicone-")
    assert first["session_id"] == first["span_id"]
    other = one(body({"_type": "data", "name": "y"}, {}, meta={}))
    assert other["span_id"] != first["span_id"]


def test_provider_from_the_url() -> None:
    payload = body({"model": "gpt-4o", "messages": []}, {})
    payload["providerRequest"]["url"] = "https://api.openai.com/v1/chat/completions"
    assert one(payload)["provider"] == "openai"
    assert "provider" not in one(LLM)
    assert helicone_body_to_records(LLM, provider="anthropic")[0]["provider"] == "anthropic"


def test_a_file_of_bodies_with_bad_lines(tmp_path: Path) -> None:
    payloads = [TOOL, VECTOR, DATA, LLM, ANTHROPIC, SERVER_ERROR, RATE_LIMITED, TIMEOUT, CANCELLED]
    lines = [orjson.dumps(p) for p in payloads]
    lines[2:2] = [b"{oops", b'{"providerRequest": 3}', b'{"providerRequest": {}, "timing": {"startTime": []}}']
    data = b"\n".join(lines) + b"\n"
    assert sniff(data) is SourceFormat.HELICONE
    converted = convert_file(SourceFormat.HELICONE, data)
    assert [n for n, _ in converted.records] == [1, 2, 6, 7, 8, 9, 10, 11, 12]
    reasons = {n: reason for n, reason, _ in converted.rejects}
    assert reasons[3].startswith("not valid JSON")
    assert reasons[4] == "not a Helicone log body: no providerRequest object"
    assert "timing.startTime is list" in reasons[5]

    path = tmp_path / "helicone.jsonl"
    path.write_bytes(b"".join(raw + b"\n" for _, raw in converted.records))
    store = Store(tmp_path / "traces.duckdb")
    result = store.ingest([str(path)])
    assert result.rejected == 0
    session = store.session("sess-1")
    assert session is not None
    assert (session["spans"], session["llm_calls"], session["tool_calls"], session["errors"]) == (9, 4, 3, 4)
    records = {orjson.loads(raw)["name"] + str(n): orjson.loads(raw) for n, raw in converted.records}
    with store.reader() as con:
        tool = span_reads.span_detail(con, records["search_database1"]["span_id"])
        llm = span_reads.span_detail(con, records["gpt-4o-mini7"]["span_id"])
        timeout = span_reads.span_detail(con, records["fetch_weather11"]["span_id"])
    assert tool is not None and llm is not None and timeout is not None
    assert tool.row.path == "/tools/search_database" and tool.row.kind == "tool" and tool.user_id == "user-9"
    assert tool.properties == {"Tool-Category": "data"}
    assert tool.row.duration_ms == pytest.approx(1240)
    assert llm.row.model == "gpt-4o-mini-2024-07-18" and llm.row.cost_source == "reported"
    assert (llm.row.input_tokens, llm.row.output_tokens, llm.cache_read_tokens) == (1300, 20, 1024)
    assert llm.first_token_ms == 120
    assert timeout.row.status == "error" and timeout.status_code == -1 and timeout.row.error_type == "timeout"


def test_a_pretty_printed_body_is_one_document() -> None:
    data = json.dumps(TOOL, indent=2).encode()
    assert sniff(data) is SourceFormat.HELICONE
    converted = convert_file(SourceFormat.HELICONE, data)
    assert converted.rejects == [] and [n for n, _ in converted.records] == [1]


def test_consistent_with_the_sdk_manual_logger(tmp_path: Path) -> None:
    """A tool step logged through our ManualLogger and the same step posted as a Helicone body agree."""
    trace = tmp_path / "sdk.jsonl"
    logger = ManualLogger(tracer=Tracer(trace))
    logger.log_request(
        request={"_type": "tool", "toolName": "search_database", "input": {"query": "order 1234"}},
        operation=lambda recorder: recorder.append_results({"results": [{"id": 1234}], "count": 1}),
        additional_headers={"Helicone-Session-Id": "sess-1", "Helicone-Session-Path": "/tools/search_database",
                            "Helicone-Property-Tool-Category": "data", "Helicone-User-Id": "user-9"},
    )
    sdk_end = [json.loads(line) for line in trace.read_text().splitlines()][-1]
    converted = one(TOOL)
    for key in ("session_id", "path", "kind", "name", "input", "output", "properties", "user_id"):
        assert converted[key] == sdk_end[key], key


def _shapes() -> Any:
    from hypothesis import strategies as st
    scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False) | st.text(max_size=10)
    keys = st.sampled_from(["providerRequest", "providerResponse", "timing", "json", "meta", "url", "status",
                            "textBody", "cost", "usage", "startTime", "endTime", "seconds", "milliseconds",
                            "_type", "model", "toolName", "Helicone-Session-Id", "Helicone-Request-Id"])
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=5),
                        max_leaves=30)


def test_convert_file_never_raises_on_odd_bodies() -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
    @given(_shapes())
    def check(value: Any) -> None:
        converted = convert_file(SourceFormat.HELICONE, json.dumps(value).encode() + b"\n")
        assert len(converted.records) + len(converted.rejects) >= 1
        for _, raw in converted.records:
            record = orjson.loads(raw)
            assert [e.message for e in VALIDATOR.iter_errors(record)] == [], record

    check()
