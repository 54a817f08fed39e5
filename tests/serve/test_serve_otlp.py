"""OTLP/HTTP: the real OpenTelemetry SDK's OTLPSpanExporter (protobuf, plain and gzip) and OTLP JSON bodies."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode
from serve_helpers import serving, spans_by_id, wait_for_count

TOKEN = "otlp-test-token-0123456789"


def _export_agent_run(endpoint: str, compression: Compression, headers: dict[str, str] | None = None) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "support-agent"}))
    exporter = OTLPSpanExporter(endpoint=endpoint, compression=compression, headers=headers, timeout=30)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent support", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support", "session.id": "otel-1"}):
        with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens": 900,
                "gen_ai.usage.output_tokens": 12, "session.id": "otel-1"}):
            pass
        with tracer.start_as_current_span("execute_tool fetch_weather", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "fetch_weather",
                "session.id": "otel-1"}) as tool:
            tool.set_status(Status(StatusCode.ERROR, "weather API timed out"))
    provider.shutdown()


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_sdk_exporter_posts_protobuf(tmp_path: Path, compression: Compression) -> None:
    with serving(tmp_path) as server:
        _export_agent_run(f"{server.url}/v1/traces", compression)
        assert wait_for_count(server.db, 3) == 3
    spans = {span["kind"]: span for span in spans_by_id(server.db).values()}
    assert set(spans) == {"agent", "llm", "tool"}
    chat, tool, agent = spans["llm"], spans["tool"], spans["agent"]
    assert tool["name"] == "fetch_weather"
    assert {span["session_id"] for span in spans.values()} == {"otel-1"}
    assert (chat["model"], chat["input_tokens"], chat["output_tokens"]) == ("gpt-4o-2024-08-06", 900, 12)
    assert tool["status"] == "error" and tool["error_message"] == "weather API timed out"
    assert chat["parent_id"] == agent["span_id"] == tool["parent_id"]


def test_the_token_goes_in_the_exporter_headers(tmp_path: Path) -> None:
    with serving(tmp_path, token=TOKEN) as server:
        _export_agent_run(f"{server.url}/v1/traces", Compression.NoCompression)  # refused: no token
        _export_agent_run(f"{server.url}/v1/traces", Compression.Gzip, headers={"X-Agenttrace-Token": TOKEN})
        assert wait_for_count(server.db, 3) == 3
    assert len(spans_by_id(server.db)) == 3


OTLP_JSON = {"resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-agent"}}]},
    "scopeSpans": [{"scope": {"name": "manual"}, "spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        "name": "chat gpt-4o-mini", "kind": "SPAN_KIND_CLIENT",
        "startTimeUnixNano": "1740830400000000000", "endTimeUnixNano": 1740830401500000000,
        "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                       {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                       {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "40"}},
                       {"key": "session.id", "value": {"stringValue": "json-1"}}],
        "status": {"code": 1}}]}]}]}


def test_otlp_json_plain_and_gzip(tmp_path: Path) -> None:
    body = json.dumps(OTLP_JSON).encode()
    with serving(tmp_path) as server:
        plain = httpx.post(f"{server.url}/v1/traces", content=body, headers={"Content-Type": "application/json"})
        assert plain.status_code == 200 and plain.json() == {}
        zipped = httpx.post(f"{server.url}/v1/traces", content=gzip.compress(body),
                            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        assert zipped.status_code == 200
        assert wait_for_count(server.db, 1) == 1
    (span,) = spans_by_id(server.db).values()  # the same span twice is stored once
    assert (span["session_id"], span["model"], span["input_tokens"], span["duration_ms"]) == (
        "json-1", "gpt-4o-mini", 40, 1500)


def test_bad_otlp_bodies_get_400_or_415(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        protobuf = {"Content-Type": "application/x-protobuf"}
        empty = httpx.post(f"{server.url}/v1/traces", content=b"", headers=protobuf)
        assert empty.status_code == 200 and ExportTraceServiceResponse.FromString(empty.content) is not None
        bad = httpx.post(f"{server.url}/v1/traces", content=b"\xff\xff\xff garbage", headers=protobuf)
        assert bad.status_code == 400 and "not an ExportTraceServiceRequest" in bad.json()["error"]
        wrong = httpx.post(f"{server.url}/v1/traces", json={"resourceLogs": []})
        assert wrong.status_code == 400 and wrong.json()["error"] == \
            "OTLP body: this is a logs export; post it to /v1/logs"
        metrics = httpx.post(f"{server.url}/v1/traces", json={"resourceMetrics": []})
        assert metrics.status_code == 400 and metrics.json()["error"].startswith("OTLP body: no resourceSpans")
        missing_id = json.loads(json.dumps(OTLP_JSON))
        del missing_id["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"]
        no_id = httpx.post(f"{server.url}/v1/traces", json=missing_id)
        assert no_id.status_code == 400 and "spanId" in no_id.json()["error"]
        text = httpx.post(f"{server.url}/v1/traces", content=b"x", headers={"Content-Type": "text/plain"})
        assert text.status_code == 415
        assert httpx.post(f"{server.url}/v1/traces", json=OTLP_JSON).status_code == 200
        assert wait_for_count(server.db, 1) == 1
    assert len(spans_by_id(server.db)) == 1
