"""OTLP/gRPC (issue 19): the real OpenTelemetry SDK's gRPC OTLPSpanExporter exports to `agenttrace serve`, with
the same token, limits and spool as OTLP/HTTP; errors come back as the gRPC codes an exporter acts on."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from serve_helpers import serving, spans_by_id, wait_for_count

from agenttrace_tui.serve import ServeError, ServeOptions, listen, prepare

TOKEN = "grpc-test-token-0123456789"


def _run(tracer_provider: TracerProvider) -> None:
    tracer = tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent support", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support", "session.id": "grpc-1"}):
        with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 900, "gen_ai.usage.output_tokens": 12}):
            pass


def _export(port: int, compression: grpc.Compression | None = None, headers: dict[str, str] | None = None) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "support-agent"}))
    exporter = OTLPSpanExporter(endpoint=f"localhost:{port}", insecure=True, compression=compression,
                                headers=headers, timeout=30)
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # one Export per span, child first
    _run(provider)
    provider.shutdown()


@pytest.mark.parametrize("compression", [None, grpc.Compression.Gzip], ids=["plain", "gzip"])
def test_the_sdks_grpc_exporter_is_stored(tmp_path: Path, compression: grpc.Compression | None) -> None:
    with serving(tmp_path, grpc_port=0) as server:
        assert server.grpc_port
        _export(server.grpc_port, compression)
        assert wait_for_count(server.db, 2) == 2
    spans = {span["kind"]: span for span in spans_by_id(server.db).values()}
    assert set(spans) == {"agent", "llm"}
    assert {span["session_id"] for span in spans.values()} == {"grpc-1"}
    assert spans["llm"]["path"] == "/invoke_agent support/chat gpt-4o"
    assert (spans["llm"]["input_tokens"], spans["llm"]["output_tokens"]) == (900, 12)


def _spans_request() -> trace_service_pb2.ExportTraceServiceRequest:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _run(provider)
    return encode_spans(exporter.get_finished_spans())


def _call(port: int, request: trace_service_pb2.ExportTraceServiceRequest,
          metadata: tuple[tuple[str, str], ...] = ()) -> grpc.StatusCode:
    with grpc.insecure_channel(f"localhost:{port}", options=[("grpc.max_send_message_length", 64 << 20)]) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        try:
            stub.Export(request, metadata=metadata, timeout=30)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def test_the_token_is_required_as_over_http(tmp_path: Path) -> None:
    with serving(tmp_path, grpc_port=0, token=TOKEN) as server:
        port = server.grpc_port
        assert port
        assert _call(port, _spans_request()) == grpc.StatusCode.UNAUTHENTICATED
        assert _call(port, _spans_request(), (("authorization", "Bearer wrong-token-0123456789"),)) == \
            grpc.StatusCode.UNAUTHENTICATED
        assert _call(port, _spans_request(), (("x-agenttrace-token", TOKEN),)) == grpc.StatusCode.OK
        _export(port, headers={"authorization": f"Bearer {TOKEN}"})
        assert wait_for_count(server.db, 4) == 4


def test_bad_and_oversized_requests_get_the_codes_an_exporter_does_not_retry(tmp_path: Path) -> None:
    with serving(tmp_path, grpc_port=0) as server:
        port = server.grpc_port
        assert port
        bad = _spans_request()
        bad.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\x01\x02"  # not 16 bytes
        assert _call(port, bad) == grpc.StatusCode.INVALID_ARGUMENT
        huge = _spans_request()
        huge.resource_spans[0].scope_spans[0].spans[0].name = "x" * (11 << 20)
        assert _call(port, huge) == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert _call(port, trace_service_pb2.ExportTraceServiceRequest()) == grpc.StatusCode.OK  # empty: nothing
    assert not server.db.exists()  # nothing was accepted, so nothing was ever stored


def test_a_taken_port_is_one_clear_line_or_a_warning_for_the_default(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    taken = listen("127.0.0.1", 0)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(ServeError, match=f"OTLP/gRPC: cannot listen on 127.0.0.1:{port}"):
            prepare(ServeOptions(port=0, db=str(tmp_path / "a.duckdb"), grpc_port=port))
        server, sock, spool = prepare(ServeOptions(port=0, db=str(tmp_path / "b.duckdb"), grpc_port=port,
                                                   grpc_required=False))
        sock.close()
        spool.close()
        assert server.config.app.state.settings.grpc_port is None
    finally:
        taken.close()
