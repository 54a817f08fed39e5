"""The collector's endpoints: native trace-format lines, Helicone's manual logger, OTLP/HTTP.

Each one turns its body into trace-format records, checks every record, and answers only after the records
are in the spool (fsync'd). A body with any bad part gets 400 with the reason and none of it is kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agenttrace_tui.interop import ShapeError, helicone_body_to_records, otlp_request_to_records
from agenttrace_tui.serve.body import BodyError, decode_content, read_body
from agenttrace_tui.serve.header_case import helicone_headers
from agenttrace_tui.serve.spool import Spool
from agenttrace_tui.serve.validate import dumps_line, line_problem, record_problem, split_lines

INLINE_BYTES: Final = 256 * 1024
"""Bodies up to this size are parsed on the event loop; bigger ones in a thread, so others keep flowing."""
PROTOBUF: Final = "application/x-protobuf"


async def _off_loop(size: int, work: Callable[[], Any]) -> Any:
    return work() if size <= INLINE_BYTES else await asyncio.to_thread(work)


async def _spool(spool: Spool, lines: list[bytes]) -> None:
    try:
        await spool.append(b"\n".join(lines) + b"\n", len(lines))
    except OSError as exc:
        raise BodyError(503, f"could not write the spool: {exc.strerror or exc}") from exc


def _record_lines(records: list[dict[str, Any]], what: str) -> list[bytes]:
    """Serialize converted records, refusing the body if any of them is not valid trace format."""
    lines = []
    for index, record in enumerate(records, 1):
        problem = record_problem(record)
        if problem is not None:
            raise BodyError(400, f"{what} record {index}: {problem}")
        lines.append(dumps_line(record))
    return lines


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

def _checked_lines(body: bytes) -> list[bytes]:
    lines = split_lines(body)
    if not lines:
        raise BodyError(400, "empty body: send trace-format records, one JSON object per line")
    problems = [(number, problem) for number, line in enumerate(lines, 1)
                if (problem := line_problem(line)) is not None]
    if problems:
        number, problem = problems[0]
        more = f" (and {len(problems) - 1} more bad lines)" if len(problems) > 1 else ""
        raise BodyError(400, f"line {number}: {problem}{more}")
    return lines


async def post_spans(request: Request) -> Response:
    body = decode_content(request, await read_body(request))
    lines: list[bytes] = await _off_loop(len(body), lambda: _checked_lines(body))
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
        try:
            records = helicone_body_to_records(log_body, headers, provider=provider, received_ns=received_ns)
        except ShapeError as exc:
            raise BodyError(400, f"Helicone log body: {exc}") from exc
        return _record_lines(records, "Helicone log")

    lines: list[bytes] = await _off_loop(len(body), convert)
    if lines:
        await _spool(request.app.state.spool, lines)
    return JSONResponse({"ok": True, "spans": len(lines)})


# OTLP/HTTP --------------------------------------------------------------------------------------

def _otlp_request(body: bytes, protobuf: bool) -> Mapping[str, Any]:
    if not protobuf:
        return _json_object(body, "OTLP JSON body")
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    try:
        message = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise BodyError(400, f"OTLP protobuf body: not an ExportTraceServiceRequest ({exc})") from exc
    decoded: dict[str, Any] = MessageToDict(message)
    return decoded


async def post_otlp_traces(request: Request) -> Response:
    content_type = _content_type(request)
    if content_type not in (PROTOBUF, "application/json"):
        raise BodyError(415, f"Content-Type must be {PROTOBUF} or application/json, got {content_type[:60]!r}")
    protobuf = content_type == PROTOBUF
    body = decode_content(request, await read_body(request))

    def convert() -> list[bytes]:
        export = _otlp_request(body, protobuf)
        if not export:  # an empty request (protobuf leaves out empty lists): nothing to store, not an error
            return []
        try:
            records = otlp_request_to_records(export)
        except ShapeError as exc:
            raise BodyError(400, f"OTLP body: {exc}") from exc
        return _record_lines(records, "OTLP")

    lines: list[bytes] = await _off_loop(len(body), convert)
    if lines:
        await _spool(request.app.state.spool, lines)
    if protobuf:  # an empty ExportTraceServiceResponse: everything accepted
        return Response(b"", media_type=PROTOBUF)
    return JSONResponse({})
