"""OTLP/gRPC: the TraceService that OpenTelemetry SDKs export to by default (port 4317), beside OTLP/HTTP.

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


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, spool: Spool, token: str | None) -> None:
        self.spool = spool
        self.token = token

    async def Export(self, request: trace_service_pb2.ExportTraceServiceRequest,  # noqa: N802 (the RPC's name)
                     context: grpc.aio.ServicerContext[Any, Any]) -> trace_service_pb2.ExportTraceServiceResponse:
        metadata = [(str(key).encode(), str(value).encode()) for key, value in context.invocation_metadata() or ()
                    if isinstance(value, str)]
        if not authorized(Headers(raw=metadata), self.token, bearer_allowed=True):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                "unauthorized: send the server's token as authorization: Bearer (or x-agenttrace-token)")
        try:
            count = await collector.spool_otlp(self.spool, request.ByteSize(), lambda: _as_dict(request))
        except BodyError as exc:
            await context.abort(_CODES.get(exc.status, grpc.StatusCode.INVALID_ARGUMENT), exc.reason)
        if log.isEnabledFor(logging.INFO):
            log.info("gRPC TraceService/Export %d spans", count)
        return trace_service_pb2.ExportTraceServiceResponse()


def _as_dict(request: trace_service_pb2.ExportTraceServiceRequest) -> Mapping[str, Any]:
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
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        log.error("cannot listen for OTLP/gRPC on %s: %s", address, sanitize(str(exc))[:200])
        return None
    await server.start()
    log.info("listening for OTLP/gRPC on %s:%d", host, bound)
    return server, bound
