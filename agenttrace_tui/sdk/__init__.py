"""The writer side: `Tracer`, sessions and spans, the openai wrapper and a Helicone-compatible manual logger.

Imports only the standard library and orjson: never DuckDB, Textual, or openai (imported when wrapping).
"""

from __future__ import annotations

from agenttrace_tui.sdk._context import current_session, current_span
from agenttrace_tui.sdk.manual_logger import ManualLogger, ResultRecorder
from agenttrace_tui.sdk.openai_wrapper import wrap_openai
from agenttrace_tui.sdk.span import NoSessionError, Span
from agenttrace_tui.sdk.tracer import Session, Tracer

__all__ = [
    "ManualLogger",
    "NoSessionError",
    "ResultRecorder",
    "Session",
    "Span",
    "Tracer",
    "current_session",
    "current_span",
    "wrap_openai",
]
