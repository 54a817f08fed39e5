"""OTLP logs on the collector (issue 19): the real OpenTelemetry OTLPLogExporter, over HTTP (protobuf and JSON)
and gRPC, sends a Claude Code session one record per request, as Claude Code's own exporter sends its events;
`agenttrace serve` stores it as the session a file of the same records gives. Metrics, which coding agents export
beside their logs, are refused with a partial success that says why, never an error the exporter retries."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from coding_agent_logs import SESSION, Emitter, emitted, export_json, session_events
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from serve_helpers import serving, stored, wait_for_count

from agenttrace_tui.store import Store
from agenttrace_tui.store.write.ingest import expand_inputs, ingest

TOKEN = "logs-test-token-0123456789"
SESSION_QUERY = ("SELECT session_id, name, spans, llm_calls, tool_calls, errors, input_tokens, output_tokens, "
                 "round(cost_usd, 6) FROM sessions")


def _from_a_file(tmp_path: Path) -> list[tuple[object, ...]]:
    path = tmp_path / "claude.json"
    path.write_bytes(export_json(emitted(session_events())) + b"\n")
    db = tmp_path / "file.duckdb"
    assert ingest(db, expand_inputs([str(path)])[0]).ok
    _, rows = Store(db).sql(SESSION_QUERY)
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("transport", ["http-protobuf", "grpc"])
def test_the_real_log_exporter_sends_a_session_that_is_stored_whole(tmp_path: Path, transport: str) -> None:
    with serving(tmp_path, grpc_port=0, token=TOKEN) as server:
        if transport == "grpc":
            exporter = GrpcLogExporter(endpoint=f"localhost:{server.grpc_port}", insecure=True,
                                       headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)
        else:
            exporter = HttpLogExporter(endpoint=f"{server.url}/v1/logs",
                                       headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)
        emitter = Emitter(exporter)
        for event in session_events():
            emitter.emit(event)
        emitter.close()
        assert wait_for_count(server.db, 8) == 8
    assert stored(server.db, SESSION_QUERY) == _from_a_file(tmp_path)
    assert stored(server.db, "SELECT DISTINCT session_id FROM spans") == [(SESSION,)]


def test_json_logs_are_accepted_and_a_wrong_endpoint_is_named(tmp_path: Path) -> None:
    body = export_json(emitted(session_events()))
    with serving(tmp_path) as server:
        wrong = httpx.post(f"{server.url}/v1/traces", content=body, headers={"content-type": "application/json"})
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "OTLP body: this is a logs export; post it to /v1/logs"
        answer = httpx.post(f"{server.url}/v1/logs", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 200, answer.text
        assert wait_for_count(server.db, 8) == 8


def _meter_export(exporter: HttpMetricExporter | GrpcMetricExporter) -> MetricExportResult:
    results: list[MetricExportResult] = []

    class Recording(type(exporter)):  # type: ignore[misc]
        def export(self, *args: object, **kwargs: object) -> MetricExportResult:
            result = super().export(*args, **kwargs)
            results.append(result)
            return result

    exporter.__class__ = Recording
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=10**9)
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("com.anthropic.claude_code").create_counter("claude_code.cost.usage").add(
        0.0121, {"session.id": SESSION, "model": "claude-sonnet-4-5"})
    provider.shutdown()  # exports once
    assert results
    return results[0]


def test_metrics_are_refused_with_a_reason_not_an_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with serving(tmp_path, grpc_port=0) as server:
        assert _meter_export(HttpMetricExporter(endpoint=f"{server.url}/v1/metrics", timeout=30)) is \
            MetricExportResult.SUCCESS
        assert _meter_export(GrpcMetricExporter(endpoint=f"localhost:{server.grpc_port}", insecure=True,
                                                timeout=30)) is MetricExportResult.SUCCESS
        answer = httpx.post(f"{server.url}/v1/metrics", json={"resourceMetrics": [{"scopeMetrics": [{"metrics": [
            {"name": "claude_code.token.usage", "sum": {"dataPoints": [{"asDouble": 12}, {"asDouble": 85}]}}]}]}]})
        assert answer.json() == {"partialSuccess": {
            "rejectedDataPoints": "2",
            "errorMessage": "agenttrace stores traces and logs, not metrics: turn the metrics exporter off"}}
        import grpc

        with grpc.insecure_channel(f"localhost:{server.grpc_port}") as channel:
            response = metrics_service_pb2_grpc.MetricsServiceStub(channel).Export(
                metrics_service_pb2.ExportMetricsServiceRequest(), timeout=30)
        assert response.partial_success.error_message.startswith("agenttrace stores traces and logs")
    assert not server.db.exists()  # nothing stored
