"""Starting the server: check the options, take the spool, bind the socket, run uvicorn."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import uvicorn

from agenttrace_tui.serve.app import AppSettings, build_app
from agenttrace_tui.serve.auth import Exposure, is_loopback, token_problem
from agenttrace_tui.serve.body import BODY_TIMEOUT
from agenttrace_tui.serve.connections import (
    ACCEPT_BATCH,
    DEFAULT_MAX_CONNECTIONS,
    HEADER_TIMEOUT,
    MIN_CONNECTIONS,
    ConnectionLimits,
    FloodLog,
    InvalidRequestLog,
    accept_errors_handler,
    descriptor_budget,
    descriptor_limit,
    guarded,
)
from agenttrace_tui.serve.ingester import INTERVAL_SECONDS
from agenttrace_tui.serve.spool import Spool, SpoolError
from agenttrace_tui.store import StoreError, StoreLocation, default_db_path, resolve_store

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8585
DEFAULT_GRPC_PORT: Final = 4317
"""OTLP/gRPC's conventional port, where OpenTelemetry SDKs export by default."""
MIN_TOKEN_CHARS: Final = 16


class ServeError(Exception):
    """A problem the user can fix (bad option, port taken, spool in use): one line, no traceback."""


@dataclass(frozen=True)
class ServeOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db: str | None = None
    token: str | None = None
    upstream: str | None = None
    spool_dir: str | None = None
    ingest_interval: float = INTERVAL_SECONDS
    log_level: str = "info"
    allow_origins: tuple[str, ...] = ()
    """Origins (`https://app.example`, or `*`) whose pages may call the server; others get 403."""
    allow_hosts: tuple[str, ...] = ()
    """Host names answered besides localhost, loopback addresses and the bound address."""
    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    max_connections: int | None = None
    """None: DEFAULT_MAX_CONNECTIONS, or fewer if the descriptor limit (`ulimit -n`) asks for it."""
    grpc_port: int | None = None
    """OTLP/gRPC's port (0: any free one); None: off (the CLI's default is 4317, see grpc_required)."""
    grpc_required: bool = True
    """False: a taken gRPC port is a warning and the server runs without it (the CLI's default port)."""


def settings_for(options: ServeOptions) -> AppSettings:
    if not is_loopback(options.host) and not options.token:
        raise ServeError(
            f"--host {options.host} is reachable from other machines: set --token (or $AGENTTRACE_TOKEN) too"
        )
    if options.token is not None and (problem := token_problem(options.token)) is not None:
        raise ServeError(problem)
    if options.token is not None and len(options.token) < MIN_TOKEN_CHARS:
        raise ServeError(f"--token is too short: use at least {MIN_TOKEN_CHARS} characters "
                         "(e.g. python -c 'import secrets; print(secrets.token_urlsafe())')")
    if options.upstream is not None and not options.upstream.startswith(("http://", "https://")):
        raise ServeError(f"--upstream must be an http(s) URL such as https://api.openai.com, got {options.upstream!r}")
    try:
        db_path = resolve_store(options.db)
    except StoreError as exc:
        raise ServeError(str(exc)) from None
    if options.spool_dir:
        spool_dir = Path(options.spool_dir)
    elif isinstance(db_path, Path):
        spool_dir = db_path.with_name(db_path.name + ".spool")
    else:  # a team store has no file to sit next to: the spool is this machine's, in the user data dir
        spool_dir = default_db_path().with_name("serve.spool")
    return AppSettings(db_path=db_path, spool_dir=spool_dir, token=options.token, upstream=options.upstream,
                       ingest_interval=options.ingest_interval, body_timeout=options.body_timeout,
                       exposure=Exposure.for_bind(options.host, options.allow_origins, options.allow_hosts),
                       grpc_host=options.host, grpc_port=_grpc_port(options))


def _grpc_port(options: ServeOptions) -> int | None:
    """The gRPC port if it can be had: checked by binding it once, so a taken port is one clear line (or, for
    the default port, a warning: another collector may hold 4317, and HTTP still works)."""
    if options.grpc_port is None or options.grpc_port == 0:
        return options.grpc_port
    try:
        listen(options.host, options.grpc_port).close()
    except ServeError as exc:
        if options.grpc_required:
            raise ServeError(f"OTLP/gRPC: {exc} (--grpc-port N for another port, --no-grpc for none)") from None
        logging.getLogger("agenttrace.serve").warning("OTLP/gRPC off: %s (--grpc-port N for another port)", exc)
        return None
    return options.grpc_port


def connection_limits(options: ServeOptions) -> ConnectionLimits:
    """The connection cap, well under the descriptor limit (at 1,024 descriptors, connections beyond it used to
    exhaust them: the spool and store could not be opened and the log grew by megabytes a second)."""
    wanted = options.max_connections or DEFAULT_MAX_CONNECTIONS
    soft = descriptor_limit()
    if soft is None:
        return ConnectionLimits(header_timeout=options.header_timeout, max_connections=wanted)
    budget = descriptor_budget(soft, gateway=options.upstream is not None)
    if budget < MIN_CONNECTIONS:
        raise ServeError(f"the limit on open files (ulimit -n) is {soft}: too low to serve {MIN_CONNECTIONS} "
                         f"connections safely; raise it to at least {soft - budget + MIN_CONNECTIONS}")
    if wanted > budget:
        logging.getLogger("agenttrace.serve").info(
            "at most %d connections at once (ulimit -n is %s; raise it for more)", budget, soft)
    return ConnectionLimits(header_timeout=options.header_timeout, max_connections=min(wanted, budget))


def shown_location(location: StoreLocation) -> str:
    """A store location for the log: a team store URL with its password masked."""
    return str(location) if isinstance(location, Path) else location.display()


def shown_url(url: str) -> str:
    """An --upstream URL for the log, `user:***@` if it carries a password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def listen(host: str, port: int) -> socket.socket:
    """Bind here rather than in uvicorn, so a taken port is one clear line (and tests can ask for port 0)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(ACCEPT_BATCH)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def _configure_logging(level: str) -> None:
    logger = logging.getLogger("agenttrace.serve")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("agenttrace serve: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


class _Server(uvicorn.Server):
    """uvicorn's server, with the loop's failed accepts (out of descriptors) counted, not logged one by one."""

    def __init__(self, config: uvicorn.Config, flood: FloodLog) -> None:
        super().__init__(config)
        self.flood = flood

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().set_exception_handler(accept_errors_handler(self.flood))
        await super().startup(sockets)


def _count_invalid_requests(flood: FloodLog) -> None:
    logger = logging.getLogger("uvicorn.error")
    for old in [each for each in logger.filters if isinstance(each, InvalidRequestLog)]:
        logger.removeFilter(old)
    logger.addFilter(InvalidRequestLog(flood))


def prepare(options: ServeOptions, sock: socket.socket | None = None) -> tuple[uvicorn.Server, socket.socket, Spool]:
    """The server, its listening socket and its (opened) spool; the caller runs it and closes the spool."""
    settings = settings_for(options)
    _configure_logging(options.log_level)
    limits = connection_limits(options)
    flood = FloodLog()
    _count_invalid_requests(flood)
    spool = Spool(settings.spool_dir)
    try:
        spool.open()
    except SpoolError as exc:
        raise ServeError(str(exc)) from exc
    try:
        listening = sock or listen(options.host, options.port)
        app = build_app(settings, spool)
    except BaseException:
        spool.close()
        raise
    config = uvicorn.Config(
        app, log_level=options.log_level, access_log=False, server_header=False, proxy_headers=False,
        lifespan="on", timeout_graceful_shutdown=10, http=guarded(limits, flood), backlog=ACCEPT_BATCH,
    )
    host, port = listening.getsockname()[:2]
    gateway = f", gateway to {shown_url(settings.upstream)}" if settings.upstream else ""
    logging.getLogger("agenttrace.serve").info(
        "listening on http://%s:%d (store %s, spool %s%s)", host, port, shown_location(settings.db_path),
        settings.spool_dir, gateway)
    return _Server(config, flood), listening, spool


def run(options: ServeOptions, sock: socket.socket | None = None) -> None:
    """Serve until interrupted; on the way out the spool is ingested to the end."""
    server, listening, spool = prepare(options, sock)
    try:
        server.run(sockets=[listening])
    finally:
        spool.close()
