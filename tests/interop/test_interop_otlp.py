"""OTLP JSON import: spans made by the real OpenTelemetry SDK, serialized by the real OTLP protobuf encoder
(base64 ids and enum names via MessageToDict, and the spec's hex ids / integer enums), converted, validated
against the JSON Schema and ingested into a real DuckDB file."""

from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf.json_format import MessageToJson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agenttrace_tui.format import json_schema
from agenttrace_tui.interop import (
    Converted,
    ShapeError,
    SourceFormat,
    convert_file,
    otlp_request_to_records,
    sniff,
)
from agenttrace_tui.store import Store
from agenttrace_tui.store.read import spans as span_reads
from interop_helpers import lines_of, make_spans, protobuf_dict, spec_dict

VALIDATOR = Draft202012Validator(json_schema(), format_checker=FormatChecker())


@pytest.fixture(scope="module")
def spans() -> list[ReadableSpan]:
    return make_spans()


def records_of(converted: Converted) -> dict[str, dict[str, Any]]:
    assert converted.rejects == []
    records = [orjson.loads(raw) for _, raw in converted.records]
    by_id = {record["span_id"]: record for record in records}
    assert len(by_id) == len(records)
    return by_id


def by_name(records: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    found = [r for r in records.values() if r["otel"]["name"] == name]
    assert len(found) == 1, name
    return found[0]


def ingest_records(tmp_path: Path, records: Sequence[bytes], name: str = "converted.jsonl") -> Store:
    path = tmp_path / name
    path.write_bytes(b"".join(record + b"\n" for record in records))
    store = Store(tmp_path / "traces.duckdb")
    result = store.ingest([str(path)])
    assert result.rejected == 0, [r.one_line() for f in result.files for r in f.rejects]
    return store


def detail(store: Store, span_id: str) -> Any:
    with store.reader() as con:
        found = span_reads.span_detail(con, span_id)
    assert found is not None
    return found


# -- sniffing ------------------------------------------------------------------------------------------------


def test_sniff_tells_otlp_helicone_and_native_apart(spans: list[ReadableSpan]) -> None:
    line = orjson.dumps(protobuf_dict(spans[:2]))
    pretty = MessageToJson(encode_spans(spans)).encode()
    assert sniff(line + b"\n" + line) is SourceFormat.OTLP
    assert sniff(b"\n\n  " + line) is SourceFormat.OTLP
    assert sniff(b"\xef\xbb\xbf" + line) is SourceFormat.OTLP
    assert sniff(pretty) is SourceFormat.OTLP
    big = json.dumps(protobuf_dict(spans * 40), indent=2).encode()
    assert len(big) > 64 * 1024
    assert sniff(big[:64 * 1024]) is SourceFormat.OTLP  # a document cut off by the head: its first key
    assert sniff(b'{"providerRequest": {"json": {}}, "timing": {}}\n') is SourceFormat.HELICONE
    assert sniff(b'{\n  "timing": {},\n  "providerRequest": {}\n}') is SourceFormat.HELICONE
    assert sniff(b'{"session_id": "s", "start_time": 1}\n') is SourceFormat.NATIVE
    assert sniff(b'{"resourceLogs": []}\n') is SourceFormat.OTLP  # a log export (interop/otlp_logs.py)
    assert sniff(b'{"resourceMetrics": []}\n') is SourceFormat.NATIVE
    assert sniff(b"\x00\xff garbage {") is SourceFormat.NATIVE
    assert sniff(b"") is SourceFormat.NATIVE
    assert sniff(b"[1, 2") is SourceFormat.NATIVE


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_sniff_never_raises(head: bytes) -> None:
    assert sniff(head) in SourceFormat


# -- mapping -------------------------------------------------------------------------------------------------


def test_both_id_encodings_and_both_file_shapes_give_the_same_records(spans: list[ReadableSpan]) -> None:
    from_protobuf = records_of(convert_file(SourceFormat.OTLP, lines_of(spans, protobuf_dict)))
    from_spec = records_of(convert_file(SourceFormat.OTLP, lines_of(spans, spec_dict, per_line=3, seed=5)))
    numbers = records_of(convert_file(SourceFormat.OTLP,
                                      lines_of(spans, lambda c: spec_dict(c, numbers=True), seed=8)))
    pretty = convert_file(SourceFormat.OTLP, MessageToJson(encode_spans(spans), indent=2).encode())
    assert {line for line, _ in pretty.records} == {1}
    assert from_protobuf == from_spec == numbers == records_of(pretty)
    assert len(from_protobuf) == len(spans)
    expected_ids = {format(span.context.span_id, "016x") for span in spans}
    assert set(from_protobuf) == expected_ids
    for record in from_protobuf.values():
        assert all(c in "0123456789abcdef" for c in record["span_id"] + record["otel"]["trace_id"])


def test_every_record_validates_against_the_schema(spans: list[ReadableSpan]) -> None:
    converted = convert_file(SourceFormat.OTLP, lines_of(spans, protobuf_dict))
    for _, raw in converted.records:
        errors = [e.message for e in VALIDATOR.iter_errors(orjson.loads(raw))]
        assert errors == [], raw[:200]


def test_genai_spans_map_to_the_format(spans: list[ReadableSpan]) -> None:
    records = records_of(convert_file(SourceFormat.OTLP, lines_of(spans, protobuf_dict)))
    coordinator = by_name(records, "invoke_agent coordinator")
    chat = by_name(records, "chat gpt-4o")
    tool = by_name(records, "execute_tool search_database")
    researcher = by_name(records, "invoke_agent researcher")
    old_chat = by_name(records, "chat gpt-4o-mini")
    failing = by_name(records, "execute_tool fetch_weather")

    # The conversation id sits on one child: the whole trace joins that session.
    assert {r["session_id"] for r in (coordinator, chat, tool, researcher, old_chat, failing)} == {"conv-42"}
    assert coordinator["kind"] == "agent" and "parent_id" not in coordinator
    assert coordinator["path"] == "/invoke_agent coordinator"
    assert chat["parent_id"] == coordinator["span_id"]
    assert chat["path"] == "/invoke_agent coordinator/chat gpt-4o"
    assert old_chat["path"] == "/invoke_agent coordinator/invoke_agent researcher/chat gpt-4o-mini"

    assert chat["kind"] == "llm" and chat["model"] == "gpt-4o-2024-08-06" and chat["provider"] == "openai"
    assert chat["usage"] == {"input_tokens": 1850, "output_tokens": 42, "cache_read_tokens": 1536}
    assert chat["input"]["messages"] == [{"role": "system", "content": "You are support."},
                                         {"role": "user", "content": "Where is my order #1234?"}]
    assert chat["input"]["tools"] == [{"type": "function", "name": "search_database"}]
    assert chat["input"]["temperature"] == 0.2
    choice = chat["output"]["choices"][0]
    assert choice["finish_reason"] == "tool_call"
    # The GenAI conventions write the arguments as an object; a call's arguments are always JSON text, as Chat
    # Completions sends them, whatever the instrumentation (issue 19, finding 7); the tool span's input is the value.
    assert choice["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function",
         "function": {"name": "search_database", "arguments": '{"query":"order 1234"}'}}]
    assert chat["otel"]["span_kind"] == "client"
    assert chat["otel"]["scope"] == {"name": "agent-app", "version": "1.2.3"}
    assert chat["otel"]["resource"]["service.name"] == "support-bot"
    assert chat["otel"]["attributes"]["gen_ai.usage.input_tokens"] == 1850

    # Tools are named by their tool name, so the chat view links call_1 to this span.
    assert tool["kind"] == "tool" and tool["name"] == "search_database"
    assert tool["input"] == {"query": "order 1234"} and tool["output"] == {"status": "shipped"}

    # The older OpenLLMetry shape: flattened prompt/completion, string token counts.
    assert old_chat["kind"] == "llm" and old_chat["provider"] == "openai"
    assert old_chat["usage"] == {"input_tokens": 300, "output_tokens": 25}
    assert old_chat["input"]["messages"] == [{"role": "user", "content": "Find heat pumps"}]
    assert old_chat["output"]["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "Three found."}, "finish_reason": "stop"}]

    # Errors: status ERROR + exception event → the format's error object.
    assert failing["status"] == "error"
    assert failing["error"]["type"] == "TimeoutError"
    assert failing["error"]["message"] == "weather API did not answer in 5 s"
    assert "Traceback" in failing["error"]["stack"]
    assert failing["otel"]["status"] == {"code": "error", "message": "weather API did not answer in 5 s"}
    assert [e["name"] for e in failing["otel"]["events"]] == ["exception"]

    # Nested agents become the store's agent tree (Agent-Name / Parent-Agent).
    assert coordinator["properties"] == {"Agent-Name": "coordinator", "Tier": "gold"}
    assert old_chat["properties"]["Agent-Name"] == "researcher"
    assert old_chat["properties"]["Parent-Agent"] == "coordinator"
    assert chat["properties"]["Agent-Name"] == "coordinator" and "Parent-Agent" not in chat["properties"]


def test_openinference_spans_map_to_the_format(spans: list[ReadableSpan]) -> None:
    records = records_of(convert_file(SourceFormat.OTLP, lines_of(spans, spec_dict)))
    agent = by_name(records, "Agent")
    llm = by_name(records, "ChatCompletion")
    tool = by_name(records, "get_weather")
    assert {agent["session_id"], llm["session_id"], tool["session_id"]} == {"oi-session"}
    assert agent["kind"] == "agent" and agent["user_id"] == "user-7"
    assert agent["input"] == "plan a trip" and agent["output"] == {"answer": "done"}
    assert llm["kind"] == "llm" and llm["model"] == "claude-sonnet-4" and llm["provider"] == "anthropic"
    assert llm["usage"] == {"input_tokens": 1200, "output_tokens": 80, "cache_read_tokens": 1000}
    assert llm["input"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}]
    assert llm["input"]["max_tokens"] == 256
    assert llm["output"]["choices"][0]["message"]["tool_calls"] == [
        {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    # The flattened keys stay as they were under otel.attributes.
    assert llm["otel"]["attributes"]["llm.input_messages.0.message.content"] == "Be brief."
    assert tool["kind"] == "tool" and tool["name"] == "get_weather"
    assert tool["input"] == {"city": "Paris"} and tool["output"] == "18 °C, cloudy"


def test_langfuse_and_trace_id_sessions(spans: list[ReadableSpan]) -> None:
    records = records_of(convert_file(SourceFormat.OTLP, lines_of(spans, protobuf_dict)))
    run = by_name(records, "support-run")
    generation = by_name(records, "generation")
    assert run["session_id"] == generation["session_id"] == run["otel"]["trace_id"]
    assert run["session_name"] == "support-run"
    assert run["kind"] == "other" and generation["kind"] == "llm" and generation["model"] == "gpt-4.1"
    assert generation["usage"] == {"input_tokens": 150, "output_tokens": 10, "cache_read_tokens": 50}
    assert generation["cost_usd"] == 0.0123
    assert generation["input"] == {"messages": [{"role": "user", "content": "hello"}]}  # a bare list: a request
    assert generation["status"] == "error" and generation["error"] == {"message": "content filter"}
    assert generation["properties"] == {"experiment": "b"}


@pytest.mark.parametrize("usage, expected", [
    pytest.param({"completion_tokens": 9, "prompt_tokens": 126, "total_tokens": 135,
                  "completion_tokens_details": {"reasoning_tokens": 2, "audio_tokens": 0},
                  "prompt_tokens_details": {"cached_tokens": 100}},
                 {"input_tokens": 126, "output_tokens": 9, "cache_read_tokens": 100, "reasoning_tokens": 2}, id="chat"),
    pytest.param({"input_tokens": 40, "output_tokens": 5, "total_tokens": 45,
                  "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
                 {"input_tokens": 40, "output_tokens": 5, "cache_read_tokens": 0, "reasoning_tokens": 0}, id="responses"),
])
def test_langfuse_openai_integration_usage_is_the_providers(usage: dict[str, Any], expected: dict[str, int]) -> None:
    """langfuse.openai writes the OpenAI usage object as it came (its `_parse_usage` only turns the nested details
    into dicts): read as OpenAI's, not as Langfuse's own additive keys (tokens were null: $0 for every call)."""
    exporter = InMemorySpanExporter()
    tracer = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    tracer.add_span_processor(SimpleSpanProcessor(exporter))
    with tracer.get_tracer("langfuse-sdk").start_as_current_span("OpenAI-generation", attributes={
            "langfuse.observation.type": "generation", "langfuse.observation.model.name": "gpt-4o-mini",
            "langfuse.observation.usage_details": json.dumps(usage)}):
        pass
    records = records_of(convert_file(SourceFormat.OTLP, lines_of(exporter.get_finished_spans(), protobuf_dict)))
    assert by_name(records, "OpenAI-generation")["usage"] == expected


def test_first_token_from_each_instrumentations_signal() -> None:
    """OpenInference adds a `First Token Stream Event` at the first chunk, OpenLLMetry an event per chunk, the
    GenAI conventions `gen_ai.response.time_to_first_chunk` (seconds), Langfuse a JSON-quoted ISO
    `completion_start_time` (issue 19, finding 7)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    start = 1_740_830_400_000_000_000  # 2025-03-01T12:00:00Z

    def call(name: str, attributes: dict[str, Any], events: Sequence[tuple[str, int]] = ()) -> None:
        span = tracer.start_span(name, attributes={"gen_ai.request.model": "gpt-4o", **attributes}, start_time=start)
        for event_name, at in events:
            span.add_event(event_name, timestamp=at)
        span.end(end_time=start + 2_000_000_000)

    call("openinference", {}, [("First Token Stream Event", start + 312_500_000)])
    call("openllmetry", {}, [("llm.content.completion.chunk", start + 400_000_000),
                             ("llm.content.completion.chunk", start + 250_000_000)])
    call("semconv", {"gen_ai.response.time_to_first_chunk": 0.125})
    call("langfuse", {"langfuse.observation.completion_start_time": json.dumps("2025-03-01T12:00:00.750000Z")})
    call("langfuse-naive", {"langfuse.observation.completion_start_time": json.dumps("2025-03-01T12:00:01.5")})
    call("after-the-end", {"gen_ai.response.time_to_first_chunk": 3.0})
    call("none", {})
    records = records_of(convert_file(SourceFormat.OTLP, lines_of(exporter.get_finished_spans(), protobuf_dict)))
    assert {name: by_name(records, name).get("first_token_ms") for name in (
        "openinference", "openllmetry", "semconv", "langfuse", "langfuse-naive", "after-the-end", "none")} == {
        "openinference": 312.5, "openllmetry": 250.0, "semconv": 125.0, "langfuse": 750.0, "langfuse-naive": 1500.0,
        "after-the-end": None, "none": None}


def test_resource_attributes_and_any_values(spans: list[ReadableSpan]) -> None:
    records = records_of(convert_file(SourceFormat.OTLP, lines_of(spans, protobuf_dict)))
    step = by_name(records, "step")
    assert step["session_id"] == "from-resource"
    attributes = step["otel"]["attributes"]
    assert attributes["big"] == 2**62 + 1  # exact: never through a float
    assert attributes["ratio"] == 0.5 and attributes["flag"] is True and attributes["tags"] == ["a", "b"]
    assert attributes["blob"] == base64.b64encode(b"\x00\x01").decode()
    assert step["otel"]["resource"]["session.id"] == "from-resource"
    original = next(s for s in spans if s.name == "step")
    assert step["start_time"] == original.start_time and step["end_time"] == original.end_time


def test_kvlist_and_empty_any_values_and_hand_written_requests() -> None:
    request = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {}, "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174", "parentSpanId": "",
        "name": "a/b", "kind": 3, "startTimeUnixNano": 1_000_000_000, "endTimeUnixNano": "2000000000",
        "status": {"code": "STATUS_CODE_OK"},
        "attributes": [
            {"key": "obj", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"intValue": 9007199254740993}}]}}},
            {"key": "none", "value": {}},
            {"key": "nan", "value": {"doubleValue": "NaN"}},
        ]}]}]}]}
    [record] = otlp_request_to_records(request)
    assert record["span_id"] == "eee19b7ec3c1b174" and record["otel"]["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert record["path"] == "/a\u2215b"  # a slash in a name does not split the path
    assert record["start_time"] == "1970-01-01T00:00:01.000000000Z"  # too small to read as ns: RFC 3339
    assert record["end_time"] == "1970-01-01T00:00:02.000000000Z"
    assert record["otel"]["attributes"] == {"obj": {"k": 9007199254740993}, "none": None, "nan": "NaN"}
    assert record["otel"]["span_kind"] == "client" and record["otel"]["status"]["code"] == "ok"
    assert VALIDATOR.is_valid(record)
    with pytest.raises(ShapeError, match=r"spans\[0\]\.traceId 'ab' is neither 32 hex digits"):
        otlp_request_to_records({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab", "spanId": "x"}]}]}]})
    with pytest.raises(ShapeError, match="has no spanId"):
        otlp_request_to_records({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab" * 16}]}]}]})


# -- files: order, repeats, orphans, bad lines ----------------------------------------------------------------


def test_children_before_parents_and_many_lines_per_trace(spans: list[ReadableSpan]) -> None:
    ordered = records_of(convert_file(SourceFormat.OTLP, lines_of(spans, protobuf_dict, per_line=len(spans))))
    for seed in (1, 2, 3):
        shuffled = records_of(convert_file(SourceFormat.OTLP, lines_of(spans, protobuf_dict, seed=seed)))
        assert shuffled == ordered
        assert not any("orphan_of" in r for r in shuffled.values())


def test_a_span_repeated_across_lines_and_files_is_one_record(tmp_path: Path, spans: list[ReadableSpan]) -> None:
    first = spans[:6]
    second = spans[3:]  # spans 3..5 are in both files (rotated files overlap)
    both = [s for s in spans if s.context.trace_id == spans[0].context.trace_id]
    line = orjson.dumps(protobuf_dict(both))
    once = convert_file(SourceFormat.OTLP, line + b"\n" + line + b"\n")
    assert len(once.records) == len(both) and {n for n, _ in once.records} == {1}
    file_a = convert_file(SourceFormat.OTLP, lines_of(first, protobuf_dict) + lines_of(second, protobuf_dict))
    file_b = convert_file(SourceFormat.OTLP, lines_of(spans, spec_dict, seed=11))
    assert sorted(raw for _, raw in file_a.records) == sorted(raw for _, raw in file_b.records)
    (tmp_path / "a.jsonl").write_bytes(b"".join(raw + b"\n" for _, raw in file_a.records))
    (tmp_path / "b.jsonl").write_bytes(b"".join(raw + b"\n" for _, raw in file_b.records))
    store = Store(tmp_path / "traces.duckdb")
    result = store.ingest([str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")])
    assert result.rejected == 0
    _, rows = store.sql("SELECT count(*), count(DISTINCT span_id) FROM spans")
    assert rows == [(len(spans), len(spans))]


def test_an_orphan_sits_under_the_session_root_and_is_flagged(tmp_path: Path, spans: list[ReadableSpan]) -> None:
    researcher = next(s for s in spans if s.name == "invoke_agent researcher")
    kept = [s for s in spans if s is not researcher]
    converted = convert_file(SourceFormat.OTLP, lines_of(kept, protobuf_dict))
    records = records_of(converted)
    orphan = by_name(records, "chat gpt-4o-mini")
    missing = format(researcher.context.span_id, "016x")
    assert orphan["orphan_of"] == missing and orphan["parent_id"] == missing
    assert orphan["path"] == "/chat gpt-4o-mini"
    assert orphan["session_id"] == "conv-42"  # the session still comes from the rest of the trace

    store = ingest_records(tmp_path, [raw for _, raw in converted.records])
    stored = detail(store, orphan["span_id"])
    assert stored.row.orphan is True and stored.row.path == "/chat gpt-4o-mini"
    assert stored.extra["orphan_of"] == missing
    with store.reader() as con:
        top = span_reads.span_children(con, "conv-42", None)
    # span_children(None) lists roots and spans whose parent the session lacks, side by side.
    assert {row.name for row in top} == {"invoke_agent coordinator", "chat gpt-4o-mini", "fetch_weather"}


def test_bad_lines_are_rejected_and_good_lines_kept(spans: list[ReadableSpan]) -> None:
    good = lines_of(spans[:3], protobuf_dict, per_line=3).rstrip(b"\n")
    bad_id = copy.deepcopy(protobuf_dict(spans[3:4]))
    bad_id["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "not-an-id"
    bad_kind = copy.deepcopy(protobuf_dict(spans[4:5]))
    bad_kind["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["kind"] = "SPAN_KIND_WEIRD"
    data = b"\n".join([
        good, b"{not json", b"[1, 2]", b'{"resourceMetrics": []}', b'{"resourceSpans": {}}',
        orjson.dumps(bad_id), orjson.dumps(bad_kind), b"", b'{"resourceSpans": [{"scopeSpans": [{"spans": [7]}]}]}',
        orjson.dumps(protobuf_dict(spans[5:6])),
    ]) + b"\n"
    converted = convert_file(SourceFormat.OTLP, data)
    assert [n for n, _ in converted.records] == [1, 1, 1, 10]
    reasons = {n: reason for n, reason, _ in converted.rejects}
    assert set(reasons) == {2, 3, 4, 5, 6, 7, 9}
    assert reasons[2].startswith("not valid JSON")
    assert "not list" in reasons[3] or "not an object" in reasons[3] or "JSON object" in reasons[3]
    assert "resourceMetrics" in reasons[4]
    assert "resourceSpans is dict, not a list" in reasons[5]
    assert "spanId 'not-an-id'" in reasons[6]
    assert "SPAN_KIND_WEIRD" in reasons[7]
    assert "spans[0] is int" in reasons[9]
    assert all("\n" not in reason for reason in reasons.values())
    raws = {n: raw for n, _, raw in converted.rejects}
    assert raws[2] == "{not json"


def test_a_broken_pretty_document_is_one_reject() -> None:
    converted = convert_file(SourceFormat.OTLP, b'{\n  "resourceSpans": [\n')
    assert converted.records == []
    [(line, reason, raw)] = converted.rejects
    assert line == 1 and reason.startswith("not valid JSON") and raw == '{\n  "resourceSpans": [\n'


def _any_json() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers(-2**63, 2**64) | st.floats(allow_nan=False) | st.text(max_size=20)
    keys = st.sampled_from(["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "parentSpanId", "name",
                            "kind", "startTimeUnixNano", "endTimeUnixNano", "attributes", "events", "links",
                            "status", "code", "key", "value", "stringValue", "intValue", "arrayValue",
                            "kvlistValue", "values", "resource", "scope"]) | st.text(max_size=5)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
                        max_leaves=25)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_any_json(), max_size=4), st.binary(max_size=40))
def test_convert_file_never_raises(values: list[Any], noise: bytes) -> None:
    lines = [json.dumps({"resourceSpans": value} if i % 2 else value).encode() for i, value in enumerate(values)]
    data = b"\n".join(lines + [noise])
    converted = convert_file(SourceFormat.OTLP, data)
    for _, raw in converted.records:
        assert VALIDATOR.is_valid(orjson.loads(raw))


def test_spans_with_a_valid_shape_always_validate() -> None:
    rng = random.Random(4)
    for _ in range(200):
        span = {"traceId": rng.randbytes(16).hex(), "spanId": rng.randbytes(8).hex(),
                "startTimeUnixNano": rng.choice([0, 1, 10**12, 10**18, str(2**63 - 1)]),
                "endTimeUnixNano": rng.choice([None, 0, "5", 10**18 + 5]),
                "name": rng.choice(["", "/", "a//b", " x "]),
                "attributes": [{"key": k, "value": v} for k, v in rng.sample([
                    ("gen_ai.usage.input_tokens", {"intValue": "-5"}), ("gen_ai.usage.output_tokens", {"stringValue": "x"}),
                    ("gen_ai.usage.cost", {"doubleValue": -1}), ("session.id", {"stringValue": ""}),
                    ("error.type", {"intValue": 3}), ("gen_ai.input.messages", {"stringValue": "[1, {\"parts\": 3}]"}),
                    ("gen_ai.output.messages", {"arrayValue": {"values": [{"intValue": 1}]}}),
                    ("llm.input_messages.0.message", {"stringValue": "x"}), ("input.value", {"stringValue": "{"}),
                    ("gen_ai.operation.name", {"stringValue": "execute_tool"}),
                ], rng.randint(0, 10))]}
        records = otlp_request_to_records({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
        for record in records:
            assert list(VALIDATOR.iter_errors(record)) == [], record


# -- into the store --------------------------------------------------------------------------------------------


def test_converted_traces_ingest_with_their_tree_and_fields(tmp_path: Path, spans: list[ReadableSpan]) -> None:
    converted = convert_file(SourceFormat.OTLP, lines_of(spans, protobuf_dict))
    records = records_of(converted)
    store = ingest_records(tmp_path, [raw for _, raw in converted.records])

    chat = detail(store, by_name(records, "chat gpt-4o")["span_id"])
    assert chat.row.session_id == "conv-42" and chat.row.kind == "llm" and chat.row.model == "gpt-4o-2024-08-06"
    assert chat.row.path == "/invoke_agent coordinator/chat gpt-4o"
    assert chat.row.parent_id == by_name(records, "invoke_agent coordinator")["span_id"]
    assert (chat.row.input_tokens, chat.row.output_tokens, chat.cache_read_tokens) == (1850, 42, 1536)
    assert chat.provider == "openai" and chat.row.status == "ok"
    assert chat.input["messages"][1]["content"] == "Where is my order #1234?"
    assert chat.extra["otel"]["span_kind"] == "client"

    failing = detail(store, by_name(records, "execute_tool fetch_weather")["span_id"])
    assert failing.row.status == "error" and failing.row.error_type == "TimeoutError"
    assert failing.row.error_message == "weather API did not answer in 5 s"
    assert failing.row.name == "fetch_weather" and failing.row.kind == "tool"

    generation = detail(store, by_name(records, "generation")["span_id"])
    assert generation.row.cost_usd == pytest.approx(0.0123) and generation.row.cost_source == "reported"

    session = store.session("conv-42")
    assert session is not None and session["spans"] == 6 and session["errors"] == 1
    with store.reader() as con:
        top = span_reads.span_children(con, "conv-42", None)
        assert [row.name for row in top] == ["invoke_agent coordinator"]
        children = span_reads.span_children(con, "conv-42", top[0].span_id)
    assert [row.name for row in children] == ["chat gpt-4o", "search_database", "invoke_agent researcher"]
    sessions = {row["session_id"] for row in store.sessions()}
    trace_session = by_name(records, "support-run")["session_id"]
    assert sessions == {"conv-42", "oi-session", trace_session, "from-resource"}


def _nested_calls(inner_response_id: str) -> dict[str, dict[str, Any]]:
    """An LLM span (a framework's) around another (the client library's), each with usage."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    usage = {"gen_ai.operation.name": "chat", "gen_ai.response.model": "gpt-4o-mini",
             "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 6}
    with tracer.start_as_current_span("outer", attributes={**usage, "gen_ai.response.id": "resp_1"}):
        with tracer.start_as_current_span("inner", attributes={**usage, "gen_ai.response.id": inner_response_id}):
            pass
    converted = convert_file(SourceFormat.OTLP, lines_of(exporter.get_finished_spans(), protobuf_dict))
    return {r["otel"]["name"]: r for r in records_of(converted).values()}


def test_a_call_recorded_at_two_levels_counts_once() -> None:
    same = _nested_calls("resp_1")
    assert (same["inner"]["kind"], same["inner"]["usage"]["input_tokens"]) == ("llm", 40)
    assert same["outer"]["kind"] == "other" and "usage" not in same["outer"]
    different = _nested_calls("resp_2")  # another call made inside a call: both count
    assert {r["kind"] for r in different.values()} == {"llm"}
    assert all(r["usage"]["input_tokens"] == 40 for r in different.values())
