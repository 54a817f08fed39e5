"""The ASGI app: routes, the browser and token checks, a request log without secrets, and the spool/ingester
lifecycle. Every error answer is JSON, `{"error": "one-line reason"}` (the gateway's are OpenAI-shaped)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agenttrace_tui.serve import collector
from agenttrace_tui.serve.auth import Exposure, authorized
from agenttrace_tui.serve.body import BODY_TIMEOUT, BodyError
from agenttrace_tui.serve.gateway import ENDPOINTS, Gateway
from agenttrace_tui.serve.ingester import INTERVAL_SECONDS, BatchIngester
from agenttrace_tui.serve.spool import Spool
from agenttrace_tui.store import StoreLocation
from agenttrace_tui.textsafe import sanitize

log = logging.getLogger("agenttrace.serve")


@dataclass(frozen=True)
class AppSettings:
    db_path: StoreLocation
    spool_dir: Path
    token: str | None = None
    upstream: str | None = None
    ingest_interval: float = INTERVAL_SECONDS
    body_timeout: float = BODY_TIMEOUT
    exposure: Exposure = field(default_factory=Exposure)
    grpc_host: str = "127.0.0.1"
    grpc_port: int | None = None
    """OTLP/gRPC's port (0: any free one); None: off."""


def _error(status: int, reason: str, *, close: bool = False) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers={"connection": "close"} if close else None)


class ExposureMiddleware:
    """403 for what a web page sent (an Origin not allowed, Sec-Fetch-Site cross-site) or a foreign Host name
    (DNS rebinding): before the token check, so a page learns nothing else."""

    def __init__(self, app: ASGIApp, exposure: Exposure) -> None:
        self.app = app
        self.exposure = exposure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            reason = self.exposure.refusal(headers.getlist("host"), headers.getlist("origin"),
                                           headers.getlist("sec-fetch-site"))
            if reason is not None:
                await _error(403, reason, close=True)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyDeadlineMiddleware:
    """408 when a request's body is not all in within `timeout` seconds of its headers; and an error answered
    before the body is all in closes the connection (else a client could keep sending it forever)."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        complete = False

        async def timed_receive() -> Message:
            nonlocal complete
            if complete:  # afterwards receive() only waits for a disconnect (a streamed answer): no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyError(408, f"request body not received within {self.timeout:g} s") from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and int(message["status"]) >= 400 and not complete:
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, timed_receive, closing_send)
class TokenMiddleware:
    """401 without the token (when one is set). The gateway takes it from X-Agenttrace-Token only."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.token is not None:
            request = Request(scope)
            gateway = scope["path"] in ENDPOINTS
            if not authorized(request.headers, self.token, bearer_allowed=not gateway):
                where = "X-Agenttrace-Token" if gateway else "X-Agenttrace-Token (or Authorization: Bearer)"
                response = JSONResponse({"error": f"unauthorized: send the server's token in {where}"},
                                        status_code=401)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class RequestLogMiddleware:
    """One line per request: method, path (no query string: keys hide there), status, milliseconds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info("%s %s %d %.1fms", scope["method"], scope["path"].encode("unicode_escape").decode()[:200],
                         status, (time.perf_counter() - started) * 1000)


async def _body_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyError)
    return _error(exc.status, exc.reason)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    reason = {404: f"no endpoint {request.url.path[:100]!r} (see docs/collector.md#endpoints)",
              405: f"{request.method} is not allowed on {request.url.path[:100]}"}.get(exc.status_code, exc.detail)
    return _error(exc.status_code, reason)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s: %s: %s", sanitize(request.url.path[:100]), type(exc).__name__,
              sanitize(str(exc)[:300]))
    return _error(500, f"internal error ({type(exc).__name__}); the server's log has the details")


async def health(request: Request) -> Response:
    spool: Spool = request.app.state.spool
    ingester: BatchIngester = request.app.state.ingester
    return JSONResponse({
        "status": "ok",
        "spooled": spool.appended_records,
        "stored": ingester.counts.stored,
        "rejected": ingester.counts.rejected,
        "ingest_failures": ingester.counts.failures,
        "pending_segments": len(spool.closed_segments()),
        "quarantined": len(spool.quarantined_segments()),
    })


async def _gateway_disabled(request: Request) -> Response:
    return JSONResponse({"error": {"message": "agenttrace serve: the gateway is off; start it with --upstream URL",
                                   "type": "gateway_disabled"}}, status_code=404)


def build_app(settings: AppSettings, spool: Spool) -> Starlette:
    """The app over an opened spool; the ingester runs from startup to shutdown."""
    gateway = Gateway(settings.upstream, spool) if settings.upstream else None
    ingester = BatchIngester(spool, settings.db_path, settings.ingest_interval)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ingester.start()
        grpc_server = None
        if settings.grpc_port is not None:
            from agenttrace_tui.serve.otlp_grpc import start_grpc  # grpcio loads only when gRPC is on

            started = await start_grpc(spool, settings.token, settings.grpc_host, settings.grpc_port)
            if started is not None:
                grpc_server, app.state.grpc_port = started
        try:
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=5)  # exports in flight are answered (and spooled) first
            if gateway is not None:
                await gateway.close()
            await asyncio.to_thread(ingester.stop)  # the last records go into the store

    forward = gateway.forward if gateway is not None else _gateway_disabled
    routes = [
        Route("/v1/spans", collector.post_spans, methods=["POST"]),
        Route("/v1/traces", collector.post_otlp_traces, methods=["POST"]),
        Route("/v1/logs", collector.post_otlp_logs, methods=["POST"]),
        Route("/v1/metrics", collector.post_otlp_metrics, methods=["POST"]),
        Route("/custom/v1/log", collector.post_helicone_log, methods=["POST"]),
        Route("/oai/v1/log", collector.post_helicone_log, methods=["POST"]),
        Route("/anthropic/v1/log", collector.post_helicone_log, methods=["POST"]),
        *(Route(path, forward, methods=["POST"]) for path in ENDPOINTS),
        Route("/health", health, methods=["GET"]),
    ]
    origins = settings.exposure.allowed_origins
    cors = [Middleware(CORSMiddleware, allow_origins=sorted(origins), allow_methods=["GET", "POST"],
                       allow_headers=["*"])] if origins else []  # preflights carry no token: before its check
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestLogMiddleware), Middleware(ExposureMiddleware, exposure=settings.exposure),
                    Middleware(BodyDeadlineMiddleware, timeout=settings.body_timeout), *cors,
                    Middleware(TokenMiddleware, token=settings.token)],
        exception_handlers={BodyError: _body_error, HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.spool = spool
    app.state.ingester = ingester
    app.state.settings = settings
    app.state.grpc_port = None
    return app
