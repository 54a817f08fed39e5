"""OTLP/gRPC: the TraceService and LogsService that OpenTelemetry SDKs export to by default (port 4317), beside
OTLP/HTTP. The MetricsService answers every export with a partial success that refuses its points and says why
(coding agents export metrics beside their logs: an unknown service would have them log an error every interval).

A request goes the way an OTLP/HTTP body goes (collector.spool_otlp: converted, judged by the ingest's rules,
spooled, answered once on disk), with the same token (`authorization: Bearer` or `x-agenttrace-token` metadata)
and the same size limit. Errors map to gRPC codes: a bad request INVALID_ARGUMENT (the exporter does not retry
it), a full spool UNAVAILABLE (it does). The server runs on uvicorn's event loop, started and stopped with the
app (app.py), so both listeners feed one spool.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from starlette.datastructures import Headers

from agenttrace_tui.serve import collector
from agenttrace_tui.serve.auth import authorized
from agenttrace_tui.serve.body import MAX_BODY_BYTES, BodyError
from agenttrace_tui.serve.spool import Spool
from agenttrace_tui.textsafe import sanitize

MAX_CONCURRENT_RPCS: Final = 64
"""Exports handled at once; more wait in gRPC's queue (an SDK sends one batch at a time)."""

_CODES: Final = {400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
                 413: grpc.StatusCode.RESOURCE_EXHAUSTED, 503: grpc.StatusCode.UNAVAILABLE}

log = logging.getLogger("agenttrace.serve")


async def _export(spool: Spool, token: str | None, request: Message, context: grpc.aio.ServicerContext[Any, Any],
                  signal: str) -> int:
    """One Export of `signal`: authorized, converted, judged and spooled, as over HTTP; returns how many records."""
    metadata = [(str(key).encode(), str(value).encode()) for key, value in context.invocation_metadata() or ()
                if isinstance(value, str)]
    if not authorized(Headers(raw=metadata), token, bearer_allowed=True):
        await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                            "unauthorized: send the server's token as authorization: Bearer (or x-agenttrace-token)")
    try:
        count = await collector.spool_otlp(spool, request.ByteSize(), lambda: _as_dict(request), signal)
    except BodyError as exc:
        await context.abort(_CODES.get(exc.status, grpc.StatusCode.INVALID_ARGUMENT), exc.reason)
    if log.isEnabledFor(logging.INFO):
        log.info("gRPC %s Export: %d records", signal, count)
    return count


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, spool: Spool, token: str | None) -> None:
        self.spool = spool
        self.token = token

    async def Export(self, request: trace_service_pb2.ExportTraceServiceRequest,  # noqa: N802 (the RPC's name)
                     context: grpc.aio.ServicerContext[Any, Any]) -> trace_service_pb2.ExportTraceServiceResponse:
        await _export(self.spool, self.token, request, context, "traces")
        return trace_service_pb2.ExportTraceServiceResponse()


class LogsService(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, spool: Spool, token: str | None) -> None:
        self.spool = spool
        self.token = token

    async def Export(self, request: logs_service_pb2.ExportLogsServiceRequest,  # noqa: N802 (the RPC's name)
                     context: grpc.aio.ServicerContext[Any, Any]) -> logs_service_pb2.ExportLogsServiceResponse:
        await _export(self.spool, self.token, request, context, "logs")
        return logs_service_pb2.ExportLogsServiceResponse()


class MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, token: str | None) -> None:
        self.token = token

    async def Export(self, request: metrics_service_pb2.ExportMetricsServiceRequest,  # noqa: N802
                     context: grpc.aio.ServicerContext[Any, Any]) -> metrics_service_pb2.ExportMetricsServiceResponse:
        points = collector.metric_points(request)
        log.info("OTLP metrics export refused (%d points): %s", points, collector.METRICS_REFUSED)
        return metrics_service_pb2.ExportMetricsServiceResponse(
            partial_success=metrics_service_pb2.ExportMetricsPartialSuccess(
                rejected_data_points=points, error_message=collector.METRICS_REFUSED))


def _as_dict(request: Message) -> Mapping[str, Any]:
    decoded: dict[str, Any] = MessageToDict(request)
    return decoded


async def start_grpc(spool: Spool, token: str | None, host: str, port: int) -> tuple[grpc.aio.Server, int] | None:
    """The TraceService listening on host:port (0: any free port), and the port; None, logged, when it cannot
    bind (server.py checked the port beforehand: this is a race lost)."""
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", MAX_BODY_BYTES),
                                      ("grpc.so_reuseport", 0)],
                             maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        TraceService(spool, token), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(  # type: ignore[no-untyped-call]
        LogsService(spool, token), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
        MetricsService(token), server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        log.error("cannot listen for OTLP/gRPC on %s: %s", address, sanitize(str(exc))[:200])
        return None
    await server.start()
    log.info("listening for OTLP/gRPC on %s:%d", host, bound)
    return server, bound
