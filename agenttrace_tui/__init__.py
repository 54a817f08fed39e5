"""agenttrace: a local-first trace explorer for AI agents.

`from agenttrace_tui import Tracer` is the writer side (the SDK). Importing the package imports neither
DuckDB nor Textual: the store lives in `agenttrace_tui.store`, the explorer in `agenttrace_tui.tui`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["ManualLogger", "Tracer", "wrap_openai", "__version__"]

if TYPE_CHECKING:
    from agenttrace_tui.sdk import ManualLogger, Tracer, wrap_openai


def __getattr__(name: str) -> Any:
    # Lazy, so `import agenttrace_tui.store` (the CLI's path) doesn't pay for the SDK and vice versa.
    if name in ("Tracer", "ManualLogger", "wrap_openai"):
        from agenttrace_tui import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'agenttrace_tui' has no attribute {name!r}")
