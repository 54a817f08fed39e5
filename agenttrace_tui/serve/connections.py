"""Slow and too many clients: a deadline for each request's headers, a cap on open connections kept under the
descriptor limit, and a log that says so once per burst, not once per connection.

uvicorn times out idle keep-alive connections only after a response and never a connection whose headers
trickle in, and it accepts connections until the process runs out of descriptors (the store, the spool and
every client then fail, and asyncio logs each failed accept). The protocol below closes a connection whose
request headers are not complete within `header_timeout` of its start (or of the previous response), and
answers 503 to connections beyond `max_connections`, closing them at once. Bodies have their own deadline
(app.BodyDeadlineMiddleware).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import h11
import orjson

from agenttrace_tui.serve.header_case import CaseKeepingH11Protocol

HEADER_TIMEOUT: Final = 10.0
"""Seconds from a connection's start (or its previous response) to its request's last header line."""
DEFAULT_MAX_CONNECTIONS: Final = 512
MIN_CONNECTIONS: Final = 16
ACCEPT_BATCH: Final = 128
"""The listen backlog, which is also how many connections asyncio accepts in one turn of the loop: the
descriptors a burst can take before the connections over the limit are closed (two turns' worth)."""
RESERVED_DESCRIPTORS: Final = 64
"""For everything else: the store and its WAL, spool segments, the listening socket, the loop, stdio."""
UPSTREAM_CONNECTIONS: Final = 100
"""The gateway's pool of upstream connections (httpx's default size, set explicitly in gateway.py)."""
FLOOD_LOG_SECONDS: Final = 10.0

log = logging.getLogger("agenttrace.serve")


def descriptor_budget(soft_limit: int, *, gateway: bool) -> int:
    """The most client connections that fit in `soft_limit` descriptors with room for everything else."""
    return soft_limit - RESERVED_DESCRIPTORS - 2 * ACCEPT_BATCH - (UPSTREAM_CONNECTIONS if gateway else 0)


def descriptor_limit() -> int | None:
    """The process's soft limit on open descriptors (`ulimit -n`); None where there is no such thing."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


class FloodLog:
    """Events of one kind logged once, then at most one line per FLOOD_LOG_SECONDS with how many there were."""

    def __init__(self, interval: float = FLOOD_LOG_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.totals: Counter[str] = Counter()
        self._held: Counter[str] = Counter()
        self._logged_at: dict[str, float] = {}

    def note(self, kind: str, message: str) -> None:
        self.totals[kind] += 1
        self._held[kind] += 1
        now = self.clock()
        last = self._logged_at.get(kind)
        if last is not None and now - last < self.interval:
            return
        held, self._held[kind] = self._held[kind], 0
        self._logged_at[kind] = now
        if last is None or held == 1:
            log.warning("%s", message)
        else:
            log.warning("%s (%d times in the last %.0f s)", message, held, now - last)


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = HEADER_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS


def error_bytes(status: int, phrase: bytes, reason: str) -> bytes:
    """A whole HTTP response, `{"error": reason}`, that closes the connection (for when h11 has no request)."""
    body = orjson.dumps({"error": reason})
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, phrase, len(body))) + body


class GuardedH11Protocol(CaseKeepingH11Protocol):
    """CaseKeepingH11Protocol with a header deadline and a connection cap (set per server by `guarded`)."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    flood: ClassVar[FloodLog] = FloodLog()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.flood.note("refused", f"connections refused: {self.limits.max_connections} are open, the limit "
                                       "(slow or too many clients)")
            transport.write(error_bytes(503, b"Service Unavailable",
                                        f"too many connections: {self.limits.max_connections} are open"))
            transport.close()
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # the request's headers are all in
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # the next request's headers, which may trickle in after keep-alive's timer

    def send_400_response(self, msg: str) -> None:
        self.transport.write(error_bytes(400, b"Bad Request", f"invalid HTTP request: {msg.rstrip('.')}"))
        self.transport.close()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        timeout = f"{self.limits.header_timeout:g}"
        self.flood.note("slow", f"connections closed: request headers not complete within {timeout} s")
        self.transport.write(error_bytes(408, b"Request Timeout",
                                         f"request headers not complete within {timeout} s"))
        self.transport.close()


def guarded(limits: ConnectionLimits, flood: FloodLog) -> type[GuardedH11Protocol]:
    """The protocol class for one server (uvicorn takes a class and builds one per connection)."""
    return type("ServerH11Protocol", (GuardedH11Protocol,), {"limits": limits, "flood": flood})


class InvalidRequestLog(logging.Filter):
    """uvicorn logs every malformed request; a flood of them goes through the FloodLog instead."""

    def __init__(self, flood: FloodLog) -> None:
        super().__init__()
        self.flood = flood

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() != "Invalid HTTP request received.":
            return True
        self.flood.note("invalid", "invalid HTTP requests answered 400")
        return False


def accept_errors_handler(flood: FloodLog) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """A loop exception handler that counts asyncio's failed accepts (one log line each, thousands a second,
    once descriptors run out) instead of logging each."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == "socket.accept() out of system resource":
            flood.note("accept", f"cannot accept connections: {context.get('exception')}")
        else:
            loop.default_exception_handler(context)

    return handle
