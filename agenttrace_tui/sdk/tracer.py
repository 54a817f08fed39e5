"""`Tracer` (one trace file) and `Session` (one agent run): the entry points of the SDK."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextvars import Token
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from agenttrace_tui.format import FORMAT_VERSION
from agenttrace_tui.sdk._context import current_session, current_session_var
from agenttrace_tui.sdk.span import NoSessionError, Span, clean_properties
from agenttrace_tui.sdk.writer import JsonlWriter

ENV_FILE: Final = "AGENTTRACE_FILE"
"""Environment variable naming the trace file when `Tracer(path=None)`."""

DEFAULT_FILE_NAME: Final = "agenttrace.jsonl"
"""The last resort: this file in the current working directory."""


def _uuid_id() -> str:
    return uuid.uuid4().hex


class Tracer:
    """Writes trace records, one JSON line each, to an append-only file.

    The file is `path` if given, else `$AGENTTRACE_FILE`, else `agenttrace.jsonl` in the current directory.
    It is opened (created with mode 0o600 if new, parent folders included) at construction. Every record is
    a single `os.write()` on an `O_APPEND` descriptor, so any number of threads and processes can share one
    file without interleaving lines.

    `clock` (returns an aware datetime; naive means UTC) and `ids` (returns a new span/session id) make
    output deterministic for tests and demos. Without `clock`, durations come from a monotonic timer.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        ids: Callable[[], str] | None = None,
    ) -> None:
        self.path = resolve_path(path)
        self._clock = clock
        self._ids = ids or _uuid_id
        self._writer = JsonlWriter(self.path)

    def __repr__(self) -> str:
        return f"Tracer(path={str(self.path)!r})"

    # -- records --------------------------------------------------------------------------------------

    def session(
        self,
        name: str | None = None,
        session_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> Session:
        """Start a session and write its record. `with` it to make it current for `tracer.span(...)`."""
        return Session(
            self,
            session_id=session_id if session_id is not None else self.new_id(),
            name=name,
            properties=properties,
            user_id=user_id,
            tags=tags,
        )

    def span(
        self,
        path: str | None = None,
        *,
        name: str | None = None,
        kind: str | None = None,
        input: Any = None,
        properties: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        span_id: str | None = None,
        **fields: Any,
    ) -> Span:
        """A span in `session_id`, else in the session current when the span starts (else NoSessionError).

        Context manager and decorator, like `Session.span`; as a decorator the session is looked up per call.
        """
        session = self._resolve_session(session_id) if session_id is not None else None
        return Span(
            self,
            session,
            path,
            name=name,
            kind=kind,
            input=input,
            properties=properties,
            user_id=user_id,
            span_id=span_id,
            **fields,
        )

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one raw record (already in the trace format) as one line.

        Every record the SDK writes goes through here, so a subclass can adjust records. A span's `input`
        arrives as an `orjson.Fragment` (serialized once, when the span opened); pass it through as is.
        """
        self._writer.write(record)

    def new_id(self) -> str:
        return self._ids()

    def close(self) -> None:
        """Close the file. Writing afterwards reopens it, so late spans are not lost."""
        self._writer.close()

    def __enter__(self) -> Tracer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- for spans ------------------------------------------------------------------------------------

    def _resolve_session(self, session_id: str | None) -> Session:
        """The session with `session_id` (the current one if it matches), or the current session."""
        current = current_session()
        if session_id is None:
            if current is None:
                raise NoSessionError(
                    "no current session: open the span inside `with tracer.session(...)`, "
                    "use session.span(...), or pass session_id=..."
                )
            return current
        if current is not None and current.session_id == session_id:
            return current
        return Session(self, session_id=session_id, write_record=False)

    def _now(self) -> tuple[datetime, float | None]:
        """The time now, plus a monotonic reading when the clock is the real one."""
        if self._clock is None:
            return datetime.now(timezone.utc), time.perf_counter()
        moment = self._clock()
        return (moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)), None

    def _elapsed(self, start: datetime, start_mono: float | None) -> tuple[datetime, float]:
        """(end time, ms since start). Real clock: monotonic, so a wall-clock jump can't make it negative."""
        if start_mono is not None:
            elapsed_ms = (time.perf_counter() - start_mono) * 1000.0
            return start + timedelta(milliseconds=elapsed_ms), elapsed_ms
        end, _ = self._now()
        return end, (end - start) / timedelta(milliseconds=1)


class Session:
    """One agent run: a session record, then spans. Created by `Tracer.session`.

    `with session:` makes it current in this context (threads: pass the context; asyncio tasks inherit it),
    so `tracer.span(...)`, the openai wrapper and the manual logger put their spans in it.
    """

    def __init__(
        self,
        tracer: Tracer,
        *,
        session_id: str,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        tags: Sequence[str] | None = None,
        write_record: bool = True,
    ) -> None:
        self.tracer = tracer
        self.session_id = session_id
        self.name = name
        self.properties: dict[str, Any] = dict(properties or {})
        self.user_id = user_id
        self.tags: list[str] = [str(tag) for tag in tags or ()]
        self._tokens: list[Token[Session | None]] = []
        if write_record:
            tracer.write(self._record())

    def __repr__(self) -> str:
        return f"Session(session_id={self.session_id!r}, name={self.name!r})"

    def span(
        self,
        path: str | None = None,
        *,
        name: str | None = None,
        kind: str | None = None,
        input: Any = None,
        properties: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        span_id: str | None = None,
        **fields: Any,
    ) -> Span:
        """A span in this session: `with session.span("/tools/search", kind="tool") as span:` or a decorator.

        `path` defaults to the parent span's path (or `/`); other keyword fields are set as with `span.set`.
        """
        return Span(
            self.tracer,
            self,
            path,
            name=name,
            kind=kind,
            input=input,
            properties=properties,
            user_id=user_id,
            span_id=span_id,
            **fields,
        )

    def _record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"v": FORMAT_VERSION, "type": "session", "session_id": self.session_id}
        if self.name is not None:
            record["name"] = self.name
        if self.properties:
            record["properties"] = clean_properties(self.properties)
        if self.user_id is not None:
            record["user_id"] = self.user_id
        if self.tags:
            record["tags"] = self.tags
        return record

    def __enter__(self) -> Session:
        self._tokens.append(current_session_var.set(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tokens:
            token = self._tokens.pop()
            try:
                current_session_var.reset(token)
            except ValueError:  # exited in another context than entered
                current_session_var.set(None)

    async def __aenter__(self) -> Session:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def resolve_path(path: str | os.PathLike[str] | None) -> Path:
    """`path`, else `$AGENTTRACE_FILE`, else `./agenttrace.jsonl`; made absolute so a later chdir can't move it."""
    if path is None:
        path = os.environ.get(ENV_FILE) or DEFAULT_FILE_NAME
    return Path(path).expanduser().absolute()


_default_tracers: dict[Path, Tracer] = {}
_default_lock = threading.Lock()


def default_tracer() -> Tracer:
    """One shared tracer per default file, for callers given none (ManualLogger, wrap_openai)."""
    path = resolve_path(None)
    with _default_lock:
        tracer = _default_tracers.get(path)
        if tracer is None:
            tracer = _default_tracers[path] = Tracer(path)
        return tracer
