"""Streamed openai responses traced: proxies that feed each chunk to an accumulator and close the span at the end.

The accumulators (what a stream adds up to) are shared vocabulary in llm/openai_streams.py; only the proxies,
which own a span, are the SDK's.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from agenttrace_tui.llm.openai_streams import Accumulator, as_dict

if TYPE_CHECKING:
    from agenttrace_tui.sdk.span import Span


class _StreamSpan:
    """What both stream proxies share: observing items and closing the span exactly once."""

    def __init__(self, stream: Any, span: Span, accumulator: Accumulator, finish: Any) -> None:
        self._stream = stream
        self._span = span
        self._accumulator = accumulator
        self._finish_span = finish  # callable(span, accumulator, error) from the wrapper
        self._first_token_seen = False
        self._done = False

    def _observe(self, item: Any) -> None:
        data = as_dict(item)
        if data is None:
            return
        if self._accumulator.add(data) and not self._first_token_seen:
            self._first_token_seen = True
            self._span.set(first_token_ms=round(self._span.elapsed_ms(), 3))

    def _finish(self, error: BaseException | None = None) -> None:
        if not self._done:
            self._done = True
            self._finish_span(self._span, self._accumulator, error)

    def __getattr__(self, name: str) -> Any:
        # Everything else (response, _iterator, until_done...) is the real stream's.
        if name == "_stream":  # not set yet (copy, unpickle): don't recurse
            raise AttributeError(name)
        return getattr(self._stream, name)


class TracedStream(_StreamSpan):
    """Wraps `openai.Stream`: iterate, `with`, `close()` as before; the span ends when the stream does."""

    def __iter__(self) -> TracedStream:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self._stream)
        except StopIteration:
            self._finish()
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        self._observe(item)
        return item

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._finish()

    def __enter__(self) -> TracedStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncTracedStream(_StreamSpan):
    """Wraps `openai.AsyncStream`: `async for`, `async with`, `await close()`; the span ends with the stream."""

    def __aiter__(self) -> AsyncTracedStream:
        return self

    async def __anext__(self) -> Any:
        try:
            item = await self._stream.__anext__()
        except StopAsyncIteration:
            self._finish()
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        self._observe(item)
        return item

    async def close(self) -> None:
        try:
            await self._stream.close()
        finally:
            self._finish()

    async def __aenter__(self) -> AsyncTracedStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
