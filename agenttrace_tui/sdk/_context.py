"""The current session and span, per thread and per asyncio task (contextvars).

asyncio tasks copy the context when they are created, so children see their parent span; threads start
with an empty context, so pass one along with `contextvars.copy_context().run` (asyncio.to_thread does).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agenttrace_tui.sdk.span import Span
    from agenttrace_tui.sdk.tracer import Session

current_session_var: ContextVar[Session | None] = ContextVar("agenttrace_session", default=None)
current_span_var: ContextVar[Span | None] = ContextVar("agenttrace_span", default=None)


def current_session() -> Session | None:
    """The innermost session entered with `with session:` in this context, if any."""
    return current_session_var.get()


def current_span() -> Span | None:
    """The innermost open span entered with `with span:` (or a decorated call) in this context, if any."""
    return current_span_var.get()
