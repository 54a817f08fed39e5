"""The ASGI app: routes, the token check, a request log without secrets, and the spool/ingester lifecycle."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agenttrace_tui.serve import collector
from agenttrace_tui.serve.auth import authorized
from agenttrace_tui.serve.body import BodyError
from agenttrace_tui.serve.gateway import ENDPOINTS, Gateway
from agenttrace_tui.serve.ingester import INTERVAL_SECONDS, BatchIngester
from agenttrace_tui.serve.spool import Spool
from agenttrace_tui.store import StoreLocation

log = logging.getLogger("agenttrace.serve")


@dataclass(frozen=True)
class AppSettings:
    db_path: StoreLocation
    spool_dir: Path
    token: str | None = None
    upstream: str | None = None
    ingest_interval: float = INTERVAL_SECONDS


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
    return JSONResponse({"error": exc.reason}, status_code=exc.status)


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
        try:
            yield
        finally:
            if gateway is not None:
                await gateway.close()
            await asyncio.to_thread(ingester.stop)  # the last records go into the store

    forward = gateway.forward if gateway is not None else _gateway_disabled
    routes = [
        Route("/v1/spans", collector.post_spans, methods=["POST"]),
        Route("/v1/traces", collector.post_otlp_traces, methods=["POST"]),
        Route("/custom/v1/log", collector.post_helicone_log, methods=["POST"]),
        Route("/oai/v1/log", collector.post_helicone_log, methods=["POST"]),
        Route("/anthropic/v1/log", collector.post_helicone_log, methods=["POST"]),
        *(Route(path, forward, methods=["POST"]) for path in ENDPOINTS),
        Route("/health", health, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestLogMiddleware), Middleware(TokenMiddleware, token=settings.token)],
        exception_handlers={BodyError: _body_error},
        lifespan=lifespan,
    )
    app.state.spool = spool
    app.state.ingester = ingester
    app.state.settings = settings
    return app
