"""`wrap_openai`: trace every `chat.completions` and `responses` `create`/`parse` of one openai client.

openai is an optional extra, imported only when a client is wrapped (the caller already has it loaded).
The client's own methods are replaced on that instance, so `self.client = wrap_openai(OpenAI(...), tracer)`
is the only line an agent changes. Helicone headers (`extra_headers` of the call over the client's
`default_headers`) place each call in its session and path, exactly as they do through Helicone's proxy.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from agenttrace_tui.format import STATUS_CODE_TIMEOUT
from agenttrace_tui.llm.openai_streams import Accumulator, ChatAccumulator, ResponsesAccumulator, as_dict
from agenttrace_tui.llm.usage import normalize_usage, reported_cost
from agenttrace_tui.sdk._helicone import merge_headers, span_from_headers
from agenttrace_tui.sdk._traced_streams import AsyncTracedStream, TracedStream
from agenttrace_tui.sdk.span import Span
from agenttrace_tui.sdk.tracer import Session, Tracer, default_tracer

ClientT = TypeVar("ClientT")

PROVIDER: Final = "openai"

NOT_REQUEST_INPUT: Final = frozenset({"extra_headers", "extra_query", "timeout"})
"""Call options that are transport, not request: headers may carry credentials, so they never reach `input`."""

_in_traced_call: ContextVar[bool] = ContextVar("agenttrace_in_openai_call", default=False)
"""Set during a traced call, so an SDK method built on another traced one (a future `parse` on `create`)
is recorded once, not twice."""

TRACED_METHODS: Final = ("create", "parse")
"""`parse` (structured outputs) posts on its own rather than through `create`, so it is patched too."""

ORIGINAL_ATTR: Final = "__agenttrace_original__"
"""Set on a patched method: wrapping the same client again replaces the tracing rather than stacking it."""

SUCCESS_STATUS: Final = 200
"""The SDK raises on any non-2xx answer, so a returned response was an HTTP success."""


@dataclass(frozen=True)
class _Target:
    """Where one wrapped client's spans go, plus the openai types this version of openai has."""

    tracer: Tracer
    session: Session | None
    client: Any
    sentinels: tuple[type, ...]
    sync_stream: type
    async_stream: type
    timeout_error: type[BaseException]


def wrap_openai(client: ClientT, session_or_tracer: Session | Tracer | None = None) -> ClientT:
    """Trace `chat.completions` and `responses` `create`/`parse` of `client` (sync or async, streaming too).

    Each call is one `llm` span. Its session is Helicone-Session-Id from the call's `extra_headers` or the
    client's `default_headers` (the call wins); else `session_or_tracer` if it is a Session; else the
    current session; else a new session id. Errors are recorded (status_code, type, message) and re-raised.
    Returns the same client. Without `session_or_tracer`, the default tracer ($AGENTTRACE_FILE) is used.
    """
    import openai  # the optional extra: only ever imported here

    if isinstance(session_or_tracer, Session):
        target = _Target(session_or_tracer.tracer, session_or_tracer, client, *_openai_types(openai))
    else:
        tracer = session_or_tracer if session_or_tracer is not None else default_tracer()
        target = _Target(tracer, None, client, *_openai_types(openai))

    for resource_path, label, make_accumulator in (
        (("chat", "completions"), "chat.completions", ChatAccumulator),
        (("responses",), "responses", ResponsesAccumulator),
    ):
        resource: Any = client
        for attribute in resource_path:
            resource = getattr(resource, attribute, None)
        for method_name in TRACED_METHODS:
            method = getattr(resource, method_name, None)
            if method is None:
                continue
            original = getattr(method, ORIGINAL_ATTR, method)
            # openai's @required_args hides `async def` behind a sync wrapper, so ask the client type too.
            is_async = isinstance(client, openai.AsyncOpenAI) or inspect.iscoroutinefunction(
                inspect.unwrap(original)
            )
            patched = _patch(original, is_async, target, label, make_accumulator)
            setattr(patched, ORIGINAL_ATTR, original)
            setattr(resource, method_name, patched)
    _wrap_copies(client, session_or_tracer)
    return client


def _wrap_copies(client: Any, session_or_tracer: Session | Tracer | None) -> None:
    """`client.with_options(timeout=...)` returns a new client: wrap it too, or its calls would go untraced."""
    for method_name in ("copy", "with_options"):
        method = getattr(client, method_name, None)
        if method is None:
            continue
        original = getattr(method, ORIGINAL_ATTR, method)

        def traced_copy(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            return wrap_openai(_original(*args, **kwargs), session_or_tracer)

        setattr(traced_copy, ORIGINAL_ATTR, original)
        setattr(client, method_name, traced_copy)


def _openai_types(openai: Any) -> tuple[tuple[type, ...], type, type, type[BaseException]]:
    sentinels = tuple(t for t in (getattr(openai, "NotGiven", None), getattr(openai, "Omit", None)) if t)
    return sentinels, openai.Stream, openai.AsyncStream, openai.APITimeoutError


def _patch(
    original: Callable[..., Any],
    is_async: bool,
    target: _Target,
    label: str,
    make_accumulator: Callable[[], Accumulator],
) -> Callable[..., Any]:
    if is_async:

        @functools.wraps(original)
        async def async_create(*args: Any, **kwargs: Any) -> Any:
            span = None if _in_traced_call.get() else _open_span(target, label, kwargs)
            if span is None:
                return await original(*args, **kwargs)
            token = _in_traced_call.set(True)
            try:
                result = await original(*args, **kwargs)
            except BaseException as exc:
                _fail(target, span, exc)
                raise
            finally:
                _in_traced_call.reset(token)
            return _finish(target, span, result, make_accumulator)

        return async_create

    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        span = None if _in_traced_call.get() else _open_span(target, label, kwargs)
        if span is None:
            return original(*args, **kwargs)
        token = _in_traced_call.set(True)
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            _fail(target, span, exc)
            raise
        finally:
            _in_traced_call.reset(token)
        return _finish(target, span, result, make_accumulator)

    return create


def _open_span(target: _Target, label: str, kwargs: Mapping[str, Any]) -> Span | None:
    """Start the call's span; None (with a warning) if tracing itself fails, so the call still happens."""
    try:
        call_headers = kwargs.get("extra_headers")
        client_headers = getattr(target.client, "default_headers", None)
        headers = merge_headers(
            client_headers if isinstance(client_headers, Mapping) else None,
            call_headers if isinstance(call_headers, Mapping) else None,
        )
        request = {
            key: value
            for key, value in kwargs.items()
            if key not in NOT_REQUEST_INPUT
            and not isinstance(value, target.sentinels)
            and not (key == "extra_body" and value is None)  # SDK helpers pass it explicitly empty
        }
        model = request.get("model")
        span = span_from_headers(
            target.tracer,
            target.session,
            headers,
            kind="llm",
            name=f"{label} {model}" if model else label,
            input=request,
            model=model if isinstance(model, str) else None,
            provider=PROVIDER,
        )
        return span.start()
    except Exception as exc:  # never let tracing break the agent's call
        warnings.warn(f"agenttrace: could not trace an openai call: {exc!r}", RuntimeWarning, stacklevel=3)
        return None


def _fail(target: _Target, span: Span, error: BaseException) -> None:
    span.record_error(error)
    if isinstance(error, target.timeout_error):
        span.set(status_code=STATUS_CODE_TIMEOUT)
    span.end()


def _finish(target: _Target, span: Span, result: Any, make_accumulator: Callable[[], Accumulator]) -> Any:
    """Record a response and end the span, or hand back a stream proxy that ends it when the stream does."""
    if isinstance(result, target.sync_stream):
        return TracedStream(result, span, make_accumulator(), functools.partial(_end_stream_span, target))
    if isinstance(result, target.async_stream):
        return AsyncTracedStream(result, span, make_accumulator(), functools.partial(_end_stream_span, target))
    data = as_dict(result)
    if data is None:  # with_raw_response & co: an HTTP response object, parsed later by the caller
        code = getattr(result, "status_code", None)
        span.set(status_code=code if isinstance(code, int) else None)
    else:
        _record_result(span, data.get("model"), data.get("usage"), data)
        span.set(status_code=SUCCESS_STATUS)
        if data.get("object") == "response" and isinstance(data.get("error"), Mapping):
            failure = data["error"]
            span.record_error({"type": failure.get("code") or "error", "message": failure.get("message")})
    span.end()
    return result


def _record_result(span: Span, model: Any, usage: Any, output: Any) -> None:
    usage_map = usage if isinstance(usage, Mapping) else None
    span.set(
        model=model if isinstance(model, str) else None,
        usage=normalize_usage(usage_map),
        cost_usd=reported_cost(usage_map),
        output=output,
    )


def _end_stream_span(target: _Target, span: Span, accumulator: Accumulator, error: BaseException | None) -> None:
    """The stream ended (exhausted, closed, or failed mid-way): record what it produced."""
    _record_result(span, accumulator.model(), accumulator.usage(), accumulator.output())
    if error is not None:
        _fail(target, span, error)
        return
    if accumulator.error() is not None:
        span.record_error(accumulator.error())
    else:
        span.set(status_code=SUCCESS_STATUS)
    span.end()
