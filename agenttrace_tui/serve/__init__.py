"""`agenttrace serve`: a local collector (Helicone logger, OTLP/HTTP and gRPC, native lines) and OpenAI gateway.

Requests are acknowledged once their records are fsync'd in a spool; a background thread ingests the
spool into the store through the store's own ingest. No SQL and no Textual here (docs/collector.md).
"""

from __future__ import annotations

from agenttrace_tui.serve.server import DEFAULT_GRPC_PORT, ServeError, ServeOptions, listen, prepare, run

__all__ = ["DEFAULT_GRPC_PORT", "ServeError", "ServeOptions", "listen", "prepare", "run"]
