"""The gateway: OpenAI-compatible calls forwarded to --upstream, streamed back, and recorded as llm spans.

What goes upstream: the body as sent and the client's headers, minus hop-by-hop ones, every `Helicone-*`
header (they are ours to read, not the provider's) and our token header. The provider key (`Authorization`)
is forwarded and goes nowhere else: it is neither recorded nor logged. Responses, SSE included, are passed on
chunk by chunk as they arrive; the span is spooled when the response has ended (or the client went away).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timezone
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from agenttrace_tui.serve.auth import TOKEN_HEADER
from agenttrace_tui.serve.body import read_body
from agenttrace_tui.serve.connections import UPSTREAM_CONNECTIONS
from agenttrace_tui.serve.gateway_record import CallRecorder, llm_span
from agenttrace_tui.serve.header_case import CASE_HEADER, helicone_headers
from agenttrace_tui.serve.spool import Spool
from agenttrace_tui.textsafe import sanitize

HOP_BY_HOP: Final = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
})
NOT_FORWARDED: Final = HOP_BY_HOP | {TOKEN_HEADER, CASE_HEADER, "accept-encoding"}  # identity upstream: chunks pass as they come
NOT_RETURNED: Final = HOP_BY_HOP | {"content-encoding"}
HELICONE_PREFIX: Final = "helicone-"
ENDPOINTS: Final = {"/v1/chat/completions": "chat.completions", "/v1/responses": "responses"}
UPSTREAM_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=600.0, write=60.0, pool=30.0)
"""Long reads: a reasoning model may think for minutes before its first token."""

log = logging.getLogger("agenttrace.serve")


def forwarded_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    return [
        (name, value) for name, value in headers.items()
        if name.lower() not in NOT_FORWARDED and not name.lower().startswith(HELICONE_PREFIX)
    ]


def returned_headers(headers: httpx.Headers) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in NOT_RETURNED}


def _provider(upstream: str) -> str | None:
    host = urlsplit(upstream).hostname or ""
    if host.endswith("openai.com"):
        return "openai"
    if host.endswith("openrouter.ai"):
        return "openrouter"
    return None


class Gateway:
    def __init__(self, upstream: str, spool: Spool) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--upstream must be an http(s) URL, got {upstream!r}")
        # https://api.openai.com and https://api.openai.com/v1 both mean the same server.
        base = upstream.rstrip("/")
        self.base = base[: -len("/v1")] if base.endswith("/v1") else base
        self.provider = _provider(upstream)
        self.spool = spool
        self.client = httpx.AsyncClient(timeout=UPSTREAM_TIMEOUT,
                                        limits=httpx.Limits(max_connections=UPSTREAM_CONNECTIONS))
        self._recordings: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        if self._recordings:
            await asyncio.gather(*self._recordings, return_exceptions=True)
        await self.client.aclose()

    async def forward(self, request: Request) -> Response:
        endpoint = ENDPOINTS[request.url.path]
        body = await read_body(request)
        try:
            payload: Any = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            payload = None  # the upstream says what is wrong with it; the span keeps no input
        helicone = helicone_headers(request.headers)
        url = self.base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        start, started = datetime.now(timezone.utc), time.monotonic()

        def spool_span(status_code: int | None, recorder: CallRecorder | None,
                       failure: Mapping[str, Any] | None = None) -> None:
            span = llm_span(endpoint=endpoint, request=payload, helicone_headers=helicone, provider=self.provider,
                            start=start, end=datetime.now(timezone.utc), status_code=status_code,
                            recorder=recorder, failure=failure)
            # A task of its own: a client that hangs up mid-stream cancels the response, not the record.
            task = asyncio.get_running_loop().create_task(self._append(span))
            self._recordings.add(task)
            task.add_done_callback(self._recordings.discard)

        upstream_request = self.client.build_request(
            request.method, url, headers=forwarded_headers(request.headers), content=body
        )
        try:
            upstream = await self.client.send(upstream_request, stream=True)
        except httpx.TimeoutException:
            spool_span(None, None, {"type": "timeout", "message": "the upstream did not answer in time"})
            return JSONResponse({"error": {"message": "agenttrace gateway: upstream timed out",
                                           "type": "upstream_timeout"}}, status_code=504)
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            spool_span(502, None, {"type": "upstream_unreachable", "message": reason})
            log.warning("upstream unreachable: %s", sanitize(reason))
            return JSONResponse({"error": {"message": "agenttrace gateway: upstream unreachable",
                                           "type": "upstream_unreachable"}}, status_code=502)
        streaming = upstream.headers.get("content-type", "").startswith("text/event-stream")
        recorder = CallRecorder(endpoint, streaming, started)

        async def relay() -> AsyncIterator[bytes]:
            failure: dict[str, Any] | None = None
            try:
                async for chunk in upstream.aiter_bytes():
                    recorder.feed(chunk, time.monotonic())
                    yield chunk
            except httpx.HTTPError as exc:
                failure = {"type": "upstream_broken", "message": f"{type(exc).__name__}: {exc}"}
                raise
            except BaseException:  # the client went away (cancelled): the call did not complete
                failure = {"type": "cancelled", "message": "the client closed the connection"}
                raise
            finally:
                spool_span(upstream.status_code, recorder, failure)  # first: aclose may be cancelled too
                await upstream.aclose()

        return StreamingResponse(relay(), status_code=upstream.status_code,
                                 headers=returned_headers(upstream.headers))

    async def _append(self, span: Mapping[str, Any]) -> None:
        try:
            await self.spool.append(orjson.dumps(span, option=orjson.OPT_APPEND_NEWLINE), 1)
        except OSError as exc:
            log.error("could not spool a gateway span: %s", sanitize(str(exc)))
