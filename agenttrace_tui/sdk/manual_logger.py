"""`ManualLogger`: Helicone's `HeliconeManualLogger` call shape, writing spans to the local trace file.

`from agenttrace_tui import ManualLogger as HeliconeManualLogger` is the only change an agent needs: no
network, ever (`api_key` and `logging_endpoint` are accepted and ignored).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypedDict, TypeVar

from agenttrace_tui.format import epoch_to_seconds
from agenttrace_tui.llm.helicone import describe_request
from agenttrace_tui.llm.usage import normalize_usage, reported_cost
from agenttrace_tui.sdk._context import current_span_var
from agenttrace_tui.sdk._helicone import merge_headers, span_from_headers
from agenttrace_tui.sdk.span import Span
from agenttrace_tui.sdk.tracer import Tracer, default_tracer

T = TypeVar("T")


class LoggingOptions(TypedDict, total=False):
    """Helicone's `send_log` options: epoch seconds, headers, time to first token."""

    start_time: float
    end_time: float
    additional_headers: dict[str, str]
    time_to_first_token_ms: float | None


class ResultRecorder:
    """Handed to the operation: `append_results(dict)` collects the span's output (dicts merge)."""

    def __init__(self, request: Mapping[str, Any]) -> None:
        self.request = request
        self.results: Any = {}

    def append_results(self, data: Any) -> None:
        if isinstance(data, Mapping) and isinstance(self.results, dict):
            self.results.update(data)
        else:  # Helicone accepts only dicts; anything else is kept as given rather than lost
            self.results = data

    def get_results(self) -> Any:
        return self.results


HeliconeResultRecorder = ResultRecorder
"""Helicone's name, for code that annotates its operations with it."""


class ManualLogger:
    """Log tools, vector-db lookups, data steps and custom LLM calls as spans, Helicone-style.

    Session, path, properties and user come from Helicone headers: the constructor's `headers`, then each
    call's `additional_headers` (later wins). Without Helicone-Session-Id a span joins the current session,
    else gets a fresh session id. `tracer` defaults to the default tracer ($AGENTTRACE_FILE, else
    ./agenttrace.jsonl).
    """

    def __init__(
        self,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        logging_endpoint: str | None = None,
        *,
        tracer: Tracer | None = None,
    ) -> None:
        del api_key, logging_endpoint  # accepted for compatibility; never stored, so never written
        self.headers: dict[str, str] = dict(headers or {})
        self._tracer = tracer

    @property
    def tracer(self) -> Tracer:
        # Resolved on first use, so building the logger at import time doesn't create a file yet.
        if self._tracer is None:
            self._tracer = default_tracer()
        return self._tracer

    def log_request(
        self,
        request: Mapping[str, Any],
        operation: Callable[[ResultRecorder], T],
        additional_headers: Mapping[str, str] | None = None,
        provider: str | None = None,
    ) -> T:
        """Run `operation(result_recorder)` in a span and return its value; exceptions mark it and propagate.

        An `async def` operation (or one returning an awaitable) gives back an awaitable, traced until done.
        """
        recorder = ResultRecorder(request)
        span = self._span(request, additional_headers, provider)
        if inspect.iscoroutinefunction(operation):
            return self._log_async(span, recorder, operation)  # type: ignore[return-value]
        span.start()
        token = current_span_var.set(span)  # spans the operation opens nest under this one
        try:
            result = operation(recorder)
        except BaseException as exc:
            span.record_error(exc)
            span.end()
            raise
        finally:
            current_span_var.reset(token)
        if inspect.isawaitable(result):  # the work happens when the caller awaits: end the span then
            return _await_then_end(span, recorder, result)  # type: ignore[return-value]
        _record_results(span, recorder)
        span.end()
        return result

    async def _log_async(
        self, span: Span, recorder: ResultRecorder, operation: Callable[[ResultRecorder], Any]
    ) -> Any:
        with span:
            result = await operation(recorder)
            _record_results(span, recorder)
            return result

    def send_log(
        self,
        provider: str | None,
        request: Mapping[str, Any],
        response: Mapping[str, Any] | str,
        options: LoggingOptions | None = None,
    ) -> None:
        """Log an already-finished call (Helicone's direct logging): times are epoch seconds in `options`."""
        options = options or {}
        span = self._span(request, options.get("additional_headers"), provider)
        start, end = options.get("start_time"), options.get("end_time")
        span.set_output(response)
        if isinstance(response, Mapping):
            _record_usage(span, response)
        first_token = options.get("time_to_first_token_ms")
        span.set(first_token_ms=first_token)
        # Helicone's options carry the real times of work already done; without them, "now" is all we know.
        span.start(at=_from_epoch(start) if start is not None else None)
        span.end(at=_from_epoch(end) if end is not None else None)

    def _span(self, request: Mapping[str, Any], extra: Mapping[str, str] | None, provider: str | None) -> Span:
        headers = merge_headers(self.headers, extra)
        kind, name, span_input = describe_request(request)
        span = span_from_headers(self.tracer, None, headers, kind=kind, name=name, input=span_input)
        model = request.get("model")
        span.set(provider=provider, model=model if isinstance(model, str) else None)
        return span


def _record_results(span: Span, recorder: ResultRecorder) -> None:
    results = recorder.get_results()
    if results != {}:
        span.set_output(results)
    if isinstance(results, Mapping):
        _record_usage(span, results)


def _record_usage(span: Span, response: Mapping[str, Any]) -> None:
    """An LLM response logged by hand carries its usage (and maybe model, reported cost) like the API's."""
    usage = response.get("usage")
    if isinstance(usage, Mapping):
        span.set(usage=normalize_usage(usage), cost_usd=reported_cost(usage))
    model = response.get("model")
    if isinstance(model, str) and span.kind == "llm":
        span.set(model=model)


async def _await_then_end(span: Span, recorder: ResultRecorder, awaitable: Awaitable[T]) -> T:
    try:
        result = await awaitable
    except BaseException as exc:
        span.record_error(exc)
        span.end()
        raise
    _record_results(span, recorder)
    span.end()
    return result


def _from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(epoch_to_seconds(value), tz=timezone.utc)
