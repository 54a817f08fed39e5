"""Starting the server: check the options, take the spool, bind the socket, run uvicorn."""

from __future__ import annotations

import logging
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import uvicorn

from agenttrace_tui.serve.app import AppSettings, build_app
from agenttrace_tui.serve.auth import is_loopback
from agenttrace_tui.serve.header_case import CaseKeepingH11Protocol
from agenttrace_tui.serve.ingester import INTERVAL_SECONDS
from agenttrace_tui.serve.spool import Spool, SpoolError
from agenttrace_tui.store import StoreError, default_db_path, resolve_store

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8585
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


def settings_for(options: ServeOptions) -> AppSettings:
    if not is_loopback(options.host) and not options.token:
        raise ServeError(
            f"--host {options.host} is reachable from other machines: set --token (or $AGENTTRACE_TOKEN) too"
        )
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
                       ingest_interval=options.ingest_interval)


def listen(host: str, port: int) -> socket.socket:
    """Bind here rather than in uvicorn, so a taken port is one clear line (and tests can ask for port 0)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
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


def prepare(options: ServeOptions, sock: socket.socket | None = None) -> tuple[uvicorn.Server, socket.socket, Spool]:
    """The server, its listening socket and its (opened) spool; the caller runs it and closes the spool."""
    settings = settings_for(options)
    _configure_logging(options.log_level)
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
        lifespan="on", timeout_graceful_shutdown=10, http=CaseKeepingH11Protocol,
    )
    host, port = listening.getsockname()[:2]
    gateway = f", gateway to {settings.upstream}" if settings.upstream else ""
    logging.getLogger("agenttrace.serve").info(
        "listening on http://%s:%d (store %s, spool %s%s)", host, port, settings.db_path, settings.spool_dir, gateway)
    return uvicorn.Server(config), listening, spool


def run(options: ServeOptions, sock: socket.socket | None = None) -> None:
    """Serve until interrupted; on the way out the spool is ingested to the end."""
    server, listening, spool = prepare(options, sock)
    try:
        server.run(sockets=[listening])
    finally:
        spool.close()
