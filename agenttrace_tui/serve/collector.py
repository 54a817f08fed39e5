"""The collector's endpoints: native trace-format lines, Helicone's manual logger, OTLP/HTTP traces and logs.

Each one turns its body into trace-format lines, judges every line by the ingest's rules (serve/validate.py),
and answers only after the lines are in the spool (fsync'd). A body with any bad part gets 400 with the reason
and none of it is kept; whatever a body holds, the answer is 2xx or 4xx with a one-line reason, never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agenttrace_tui.interop import ShapeError, helicone_body_to_records, is_logs_request, otlp_request_to_records
from agenttrace_tui.serve.body import BodyError, decode_content, read_body
from agenttrace_tui.serve.header_case import helicone_headers
from agenttrace_tui.serve.spool import Spool
from agenttrace_tui.serve.validate import dumps_line, first_pass, split_lines
from agenttrace_tui.store import IngestCheck, StoreError, ingest_check
from agenttrace_tui.textsafe import sanitize

INLINE_BYTES: Final = 256 * 1024
"""Bodies up to this size are parsed on the event loop; bigger ones in a thread, so others keep flowing."""
PROTOBUF: Final = "application/x-protobuf"
_BOM: Final = b"\xef\xbb\xbf"

log = logging.getLogger("agenttrace.serve")


async def _off_loop(size: int, work: Callable[[], Any]) -> Any:
    return work() if size <= INLINE_BYTES else await asyncio.to_thread(work)


async def _spool(spool: Spool, lines: list[bytes]) -> None:
    try:
        await spool.append(b"\n".join(lines) + b"\n", len(lines))
    except OSError as exc:
        raise BodyError(503, f"could not write the spool: {exc.strerror or exc}") from exc


def _rules() -> IngestCheck:
    try:
        return ingest_check()
    except StoreError as exc:  # the ingest cannot run either; the client may try again once it is fixed
        raise BodyError(503, f"cannot check the body: {sanitize(str(exc))[:300]}") from exc


async def _judged(lines: list[bytes], what: str, size: int) -> list[bytes]:
    """The lines, when the ingest would store every one of them; else 400 naming the first bad one. Lines that
    need the ingest's own check (validate.Verdicts) are checked in a thread: its SQL takes ~40 ms."""
    check = _rules()
    verdicts = await _off_loop(size, lambda: first_pass(lines, check))
    judged = await asyncio.to_thread(verdicts.settle, check) if verdicts.unsure else verdicts.problems
    problems = [(number, problem) for number, problem in enumerate(judged, 1) if problem is not None]
    if problems:
        number, problem = problems[0]
        more = f" (and {len(problems) - 1} more bad {what}s)" if len(problems) > 1 else ""
        raise BodyError(400, f"{what} {number}: {problem}{more}")
    return lines


def _record_lines(records: list[dict[str, Any]], what: str) -> list[bytes]:
    """Converted records as lines (judged next, by `_judged`)."""
    lines = []
    for index, record in enumerate(records, 1):
        try:
            lines.append(dumps_line(record))
        except (TypeError, ValueError, RecursionError) as exc:
            raise BodyError(400, f"{what} record {index}: cannot be written as JSON ({type(exc).__name__})") from exc
    return lines


def _converted(convert: Callable[[], list[dict[str, Any]]], what: str) -> list[dict[str, Any]]:
    """A converter's records; its ShapeError is the client's 400, and so is anything else it raises (a bug of
    ours on a body we did not foresee: logged, and the client told, not a 500)."""
    try:
        return convert()
    except ShapeError as exc:
        raise BodyError(400, f"{what}: {exc}") from exc
    except RecursionError as exc:
        raise BodyError(400, f"{what}: nested too deeply") from exc
    except Exception as exc:
        log.error("cannot convert a %s: %s", what, sanitize(f"{type(exc).__name__}: {exc}")[:300])
        raise BodyError(400, f"{what}: cannot convert it ({type(exc).__name__})") from exc


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"{what}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise BodyError(400, f"{what}: expected a JSON object")
    return value


# Native ------------------------------------------------------------------------------------------

def _body_lines(body: bytes) -> list[bytes]:
    # The body is read as a file: a BOM at its start is dropped (anywhere else it is not JSON).
    lines = split_lines(body.removeprefix(_BOM))
    if not lines:
        raise BodyError(400, "empty body: send trace-format records, one JSON object per line")
    return lines


async def post_spans(request: Request) -> Response:
    body = decode_content(request, await read_body(request))
    lines = await _judged(await _off_loop(len(body), lambda: _body_lines(body)), "line", len(body))
    await _spool(request.app.state.spool, lines)
    return JSONResponse({"accepted": len(lines)})


# Helicone manual logger -------------------------------------------------------------------------

LOG_PROVIDERS: Final = {"/oai/v1/log": "openai", "/anthropic/v1/log": "anthropic"}


async def post_helicone_log(request: Request) -> Response:
    body = decode_content(request, await read_body(request))
    headers = helicone_headers(request.headers)  # all the mapping reads; never credentials or our token
    provider = LOG_PROVIDERS.get(request.url.path)
    received_ns = time.time_ns()  # the start time of a body that has none

    def convert() -> list[bytes]:
        log_body = _json_object(body, "Helicone log body")
        records = _converted(lambda: helicone_body_to_records(log_body, headers, provider=provider,
                                                              received_ns=received_ns), "Helicone log body")
        return _record_lines(records, "Helicone log")

    lines = await _judged(await _off_loop(len(body), convert), "Helicone log record", len(body))
    if lines:
        await _spool(request.app.state.spool, lines)
    return JSONResponse({"ok": True, "spans": len(lines)})


# OTLP/HTTP --------------------------------------------------------------------------------------

SIGNALS: Final = {"traces": "/v1/traces", "logs": "/v1/logs"}
"""The OTLP signals the collector stores, and the OTLP/HTTP path of each."""


def _otlp_message(signal: str) -> Any:
    if signal == "logs":
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

        return ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    return ExportTraceServiceRequest


def _otlp_request(body: bytes, protobuf: bool, signal: str) -> Mapping[str, Any]:
    if not protobuf:
        return _json_object(body, "OTLP JSON body")
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.message import DecodeError

    message_type = _otlp_message(signal)
    try:
        message = message_type.FromString(body)
    except DecodeError as exc:
        raise BodyError(400, f"OTLP protobuf body: not an {message_type.__name__} ({exc})") from exc
    decoded: dict[str, Any] = MessageToDict(message)
    return decoded


def _check_signal(request: Mapping[str, Any], signal: str) -> None:
    """A JSON body of the other signal is the client's mistake (a wrong endpoint URL): say where it goes."""
    sent = "logs" if is_logs_request(request) else "traces" if "resourceSpans" in request \
        or "resource_spans" in request else None
    if sent is not None and sent != signal:
        raise BodyError(400, f"OTLP body: this is a {sent} export; post it to {SIGNALS[sent]}")


async def spool_otlp(spool: Spool, size: int, export: Callable[[], Mapping[str, Any]], signal: str = "traces") -> int:
    """An OTLP export request of `signal` (`export` decodes it: HTTP or gRPC) converted, judged and spooled;
    returns how many records. A BodyError says what is wrong with it."""

    def convert() -> list[bytes]:
        request = export()
        if not request:  # an empty request (protobuf leaves out empty lists): nothing to store, not an error
            return []
        _check_signal(request, signal)
        records = _converted(lambda: otlp_request_to_records(request), "OTLP body")
        return _record_lines(records, "OTLP")

    lines = await _judged(await _off_loop(size, convert), "OTLP record", size)
    if lines:
        await _spool(spool, lines)
    return len(lines)


async def _post_otlp(request: Request, signal: str) -> Response:
    content_type = _content_type(request)
    if content_type not in (PROTOBUF, "application/json"):
        raise BodyError(415, f"Content-Type must be {PROTOBUF} or application/json, got {content_type[:60]!r}")
    protobuf = content_type == PROTOBUF
    body = decode_content(request, await read_body(request))
    await spool_otlp(request.app.state.spool, len(body), lambda: _otlp_request(body, protobuf, signal), signal)
    if protobuf:  # an empty Export*ServiceResponse: everything accepted
        return Response(b"", media_type=PROTOBUF)
    return JSONResponse({})


async def post_otlp_traces(request: Request) -> Response:
    return await _post_otlp(request, "traces")


async def post_otlp_logs(request: Request) -> Response:
    return await _post_otlp(request, "logs")


METRICS_REFUSED: Final = "agenttrace stores traces and logs, not metrics: turn the metrics exporter off"


def metrics_refusal(points: int) -> dict[str, Any]:
    """OTLP's partial success for a metrics export: every point refused, and why. Coding agents export metrics
    beside their logs; a 404 would have their exporter log an error on every interval, a partial success says
    once what happened (and is not retried)."""
    return {"partialSuccess": {"rejectedDataPoints": str(points), "errorMessage": METRICS_REFUSED}}


def metric_points(message: Any) -> int:
    """How many data points an ExportMetricsServiceRequest holds."""
    return sum(len(getattr(metric, data).data_points)
               for resource in message.resource_metrics for scope in resource.scope_metrics
               for metric in scope.metrics if (data := metric.WhichOneof("data")) is not None)


def _metric_points(body: bytes, protobuf: bool) -> int:
    """How many data points a metrics export holds (0 when it cannot be read: it is refused anyway)."""
    try:
        if protobuf:
            from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

            return metric_points(ExportMetricsServiceRequest.FromString(body))
        value = orjson.loads(body)
        return sum(len(data.get("dataPoints") or data.get("data_points") or [])
                   for resource in value.get("resourceMetrics") or [] for scope in resource.get("scopeMetrics") or []
                   for metric in scope.get("metrics") or [] for key, data in metric.items()
                   if isinstance(data, dict) and key not in ("metadata",))
    except Exception:  # a body we only count for the answer: any shape is refused the same way
        return 0


async def post_otlp_metrics(request: Request) -> Response:
    content_type = _content_type(request)
    protobuf = content_type == PROTOBUF
    body = decode_content(request, await read_body(request))
    points = await _off_loop(len(body), lambda: _metric_points(body, protobuf))
    log.info("OTLP metrics export refused (%d points): %s", points, METRICS_REFUSED)
    if protobuf:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsPartialSuccess,
            ExportMetricsServiceResponse,
        )

        answer = ExportMetricsServiceResponse(partial_success=ExportMetricsPartialSuccess(
            rejected_data_points=points, error_message=METRICS_REFUSED))
        return Response(answer.SerializeToString(), media_type=PROTOBUF)
    return JSONResponse(metrics_refusal(points))
