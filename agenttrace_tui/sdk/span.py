"""One unit of work: a context manager, a decorator, or started and ended by hand (the openai wrapper).

A span writes a start line when it opens and an end line when it closes; the end line repeats every field
so each line stands alone, and ingest merges the two by `span_id` (later non-null wins).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from agenttrace_tui.format import (
    FORMAT_VERSION,
    KINDS,
    SPAN_FIELDS,
    STATUS_CODE_CANCELLED,
    STATUS_CODE_TIMEOUT,
    STATUSES,
    format_time,
    normalize_path,
)
from agenttrace_tui.sdk._context import current_span_var
from agenttrace_tui.sdk.writer import fragment

if TYPE_CHECKING:
    from contextvars import Token

    from agenttrace_tui.sdk.tracer import Session, Tracer

F = TypeVar("F", bound=Callable[..., Any])

COMPUTED_FIELDS: Final = frozenset(
    {"v", "type", "span_id", "session_id", "parent_id", "start_time", "end_time", "duration_ms"}
)
"""Fields the span owns: setting them by hand would break the start/end merge or the tree."""


class NoSessionError(RuntimeError):
    """A span was started with no session: neither given, nor current in this context."""


def error_info(error: BaseException | str | Mapping[str, Any]) -> Any:
    """The format's `error` value: {type, message, stack} for an exception, else the value as given."""
    if isinstance(error, BaseException):
        return {
            "type": type(error).__name__,
            "message": str(error),
            "stack": "".join(traceback.format_exception(error)),
        }
    if isinstance(error, Mapping):
        return dict(error)
    return str(error)


def status_code_for(error: BaseException) -> int | None:
    """An HTTP-like code for an exception: its own `status_code`, or Helicone's -1 timeout / -3 cancelled."""
    code = getattr(error, "status_code", None)
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if isinstance(error, asyncio.CancelledError):
        return STATUS_CODE_CANCELLED
    if isinstance(error, TimeoutError):
        return STATUS_CODE_TIMEOUT
    return None


def _aware(moment: datetime) -> datetime:
    """A naive datetime is taken as UTC (never as local time, which would shift it by the machine's zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def clean_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Properties are str → str/number/bool: None is dropped, anything else becomes its str."""
    cleaned: dict[str, Any] = {}
    for key, value in properties.items():
        if value is None:
            continue
        cleaned[str(key)] = value if isinstance(value, (str, int, float, bool)) else str(value)
    return cleaned


class Span:
    """A span of work in a session. Use `with session.span(...) as span:` or `@session.span(...)`.

    Inside, `span.set_output(...)`, `span.set(model=..., usage=...)` and `span.record_error(...)` fill it in.
    An exception leaving the `with` block marks the span as an error and propagates.
    """

    def __init__(
        self,
        tracer: Tracer,
        session: Session | None,
        path: str | None = None,
        *,
        name: str | None = None,
        kind: str | None = None,
        input: Any = None,
        properties: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        span_id: str | None = None,
        **fields: Any,
    ) -> None:
        self._tracer = tracer
        self._session = session
        self._path = normalize_path(path) if path is not None else None
        self.span_id: str = span_id if span_id is not None else tracer.new_id()
        self.parent_id: str | None = None
        self._properties: dict[str, Any] = dict(properties or {})
        self._fields: dict[str, Any] = {}
        self._input: Any = None
        self._output_set = False
        self._start: tuple[datetime, float | None] | None = None
        self._ended = False
        self._end_at: datetime | None = None
        self._enclosing: Span | None = None
        self._tokens: list[Token[Span | None]] = []
        self.set(name=name, kind=kind, user_id=user_id, **fields)
        if input is not None:
            self.set(input=input)

    # -- identity -------------------------------------------------------------------------------------

    @property
    def session(self) -> Session:
        if self._session is None:
            raise NoSessionError("this span has not started yet, so it has no session")
        return self._session

    @property
    def session_id(self) -> str:
        return self.session.session_id

    @property
    def path(self) -> str:
        return self._path if self._path is not None else "/"

    @property
    def name(self) -> str | None:
        name = self._fields.get("name")
        return name if isinstance(name, str) else None

    @property
    def kind(self) -> str | None:
        kind = self._fields.get("kind")
        return kind if isinstance(kind, str) else None

    @property
    def started(self) -> bool:
        return self._start is not None

    @property
    def ended(self) -> bool:
        return self._ended

    # -- filling in -----------------------------------------------------------------------------------

    def set(self, **fields: Any) -> Span:
        """Set any format field (model, provider, usage, cost_usd, status_code, output, ...) or an extra.

        `properties` merge into the span's; `path` is normalized; None leaves a field unset.
        """
        for key, value in fields.items():
            if key in COMPUTED_FIELDS:
                raise ValueError(f"span.set(): {key!r} is computed by the span and can't be set")
            if value is None:
                continue
            if key == "kind" and value not in KINDS:
                raise ValueError(f"span kind={value!r}: expected one of {', '.join(KINDS)}")
            if key == "status" and value not in STATUSES:
                raise ValueError(f"span status={value!r}: expected one of {', '.join(STATUSES)}")
            if key == "path":
                self._path = normalize_path(str(value))
            elif key == "properties":
                self._properties.update(value)
            elif key == "input":
                self._input = fragment(value)  # a snapshot: later mutation by the agent doesn't rewrite it
            else:
                if key == "output":
                    self._output_set = True
                self._fields[key] = value
        return self

    def set_output(self, output: Any) -> Span:
        """The span's result, written on its end line."""
        self._output_set = True
        self._fields["output"] = output
        return self

    def record_error(self, error: BaseException | str | Mapping[str, Any]) -> Span:
        """Mark the span as failed without raising: an exception gives {type, message, stack}."""
        self._fields["error"] = error_info(error)
        if isinstance(error, BaseException) and "status_code" not in self._fields:
            code = status_code_for(error)
            if code is not None:
                self._fields["status_code"] = code
        return self

    def elapsed_ms(self) -> float:
        """Milliseconds since the span started (0 before it starts)."""
        if self._start is None:
            return 0.0
        return self._tracer._elapsed(*self._start)[1]

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self, at: datetime | None = None) -> Span:
        """Open the span and write its start line. Context-manager use calls this for you.

        `at` backdates the start (logging work that already happened); durations then come from the clock.
        """
        if self._start is not None:
            raise RuntimeError(f"span {self.span_id} was already started: create a new span for each use")
        if self._session is None:
            self._session = self._tracer._resolve_session(None)
        # The parent is the innermost open span of the same session: a tree never crosses sessions, but a
        # span of another session in between (one agent calling another) doesn't cut the tree either.
        self._enclosing = current_span_var.get()
        parent = self._enclosing
        while parent is not None and not parent._could_parent(self.session_id):
            parent = parent._enclosing
        if parent is not None:
            self.parent_id = parent.span_id
        if self._path is None:  # a child does the same type of work as its parent unless told otherwise
            self._path = parent.path if parent is not None else "/"
        self._start = self._tracer._now() if at is None else (_aware(at), None)
        self._tracer.write(self._record(final=False))
        return self

    def _could_parent(self, session_id: str) -> bool:
        return not self._ended and self._session is not None and self._session.session_id == session_id

    def end(self, at: datetime | None = None) -> None:
        """Close the span (at `at`, else now) and write its end line. Calling it again does nothing."""
        if self._ended:
            return
        if self._start is None:
            self.start()
        self._ended = True
        self._enclosing = None  # ended spans are never parents: let the chain be collected
        self._end_at = None if at is None else _aware(at)
        self._tracer.write(self._record(final=True))

    def __enter__(self) -> Span:
        self.start()
        self._tokens.append(current_span_var.set(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # GeneratorExit is a generator being closed, not a failure of the work.
        if exc is not None and not isinstance(exc, GeneratorExit):
            self.record_error(exc)
        self.end()
        if self._tokens:
            token = self._tokens.pop()
            try:
                current_span_var.reset(token)
            except ValueError:  # exited in another context than entered (a callback): restore by hand
                current_span_var.set(None)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- decorator ------------------------------------------------------------------------------------

    def __call__(self, fn: F) -> F:
        """Decorate a function (sync or async): each call runs in a fresh span; the return value is its output."""
        if self._start is not None:
            raise RuntimeError("a started span can't decorate a function: decorate with session.span(...)")
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(f"span decorator: generator functions are not supported ({fn.__qualname__})")
        template = self
        default_name = fn.__qualname__

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with template._fresh(default_name) as span:
                    result = await fn(*args, **kwargs)
                    span._default_output(result)
                    return result

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with template._fresh(default_name) as span:
                result = fn(*args, **kwargs)
                span._default_output(result)
                return result

        return cast(F, wrapper)

    def _fresh(self, default_name: str) -> Span:
        """A new unstarted span like this template, with its own id (one per decorated call)."""
        span = Span(self._tracer, self._session, self._path)
        span._properties = dict(self._properties)
        span._fields = dict(self._fields)
        span._input = self._input
        span._output_set = self._output_set
        if span._fields.get("name") is None:
            span._fields["name"] = default_name
        return span

    def _default_output(self, result: Any) -> None:
        if not self._output_set and result is not None:
            self._fields["output"] = result

    # -- the record -----------------------------------------------------------------------------------

    def _record(self, *, final: bool) -> dict[str, Any]:
        assert self._start is not None and self._session is not None
        session = self._session
        start_dt, start_mono = self._start
        values: dict[str, Any] = dict(self._fields)
        values.update(
            v=FORMAT_VERSION,
            type="span",
            span_id=self.span_id,
            session_id=session.session_id,
            path=self.path,
            parent_id=self.parent_id,
            start_time=format_time(start_dt),
            input=self._input,
        )
        values.setdefault("session_name", session.name)
        if values.get("user_id") is None:
            values["user_id"] = session.user_id
        # Session properties repeat on every span so a line stands alone; the span's own win.
        properties = clean_properties({**session.properties, **self._properties})
        values["properties"] = properties or None
        if final:
            if self._end_at is not None:
                end_dt, duration_ms = self._end_at, (self._end_at - start_dt) / timedelta(milliseconds=1)
            else:
                end_dt, duration_ms = self._tracer._elapsed(start_dt, start_mono)
            values["end_time"] = format_time(end_dt)
            values["duration_ms"] = round(max(duration_ms, 0.0), 3)  # an injected clock may step back
            values.setdefault("status", self._derived_status())
        record = {key: values[key] for key in SPAN_FIELDS if values.get(key) is not None}
        record.update((k, v) for k, v in values.items() if k not in record and v is not None)
        return record

    def _derived_status(self) -> str:
        code = self._fields.get("status_code")
        failed_code = isinstance(code, int) and (code >= 400 or code < 0)
        return "error" if self._fields.get("error") is not None or failed_code else "ok"

