"""The store: one DuckDB file (or a team store on DuckLake: store/backend/lake.py) holding spans, sessions and their
rollups, and the Python API over it. This face is the one import of the store for the CLI, the explorer and
`serve` (held by import-linter contracts in pyproject.toml):

    from agenttrace_tui.store import Store
    store = Store("traces.duckdb")
    store.ingest(["sample_traces"])
    for row in store.sessions(filters=["errors > 0"], sort="cost"):
        print(row["session_id"], row["cost_usd"])
    with store.read() as r:  # one read connection: every answer from one state of the store
        tree = r.tree(row["session_id"])

Store (store/handle.py), the Reader (store/read/reader.py), the records they return (store/records.py), the
errors and filters, store locations. Everything returns plain data. No Textual here; SQL lives only in this
package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agenttrace_tui.store.errors import FilterError, StoreBusyError, StoreError
from agenttrace_tui.store.read.filters import Compiled, compile_filters, split_conditions
from agenttrace_tui.store.records import (
    AgentNode,
    BreakdownRow,
    FolderPage,
    NodeStats,
    SessionBreakdown,
    SpanDetail,
    SpanRow,
    TreeNode,
)

# The records, errors and filters above load neither DuckDB nor pyarrow (a widget or a test can type
# against them alone). Store, the Reader and the write side load on first access: ingest, pricing and analytics
# bring pyarrow, numpy and the price library (~140 ms), which commands that only read (`sessions`, `show`,
# `sql`) don't load.
if TYPE_CHECKING:
    from agenttrace_tui.store.backend.connection import DEFAULT_WAIT_SECONDS
    from agenttrace_tui.store.backend.location import StoreLocation, default_db_path, location_text, resolve_store
    from agenttrace_tui.store.handle import Store
    from agenttrace_tui.store.read.analytics import Stats, StatsRules
    from agenttrace_tui.store.read.reader import Reader
    from agenttrace_tui.store.read.sessions import SESSION_COLUMNS
    from agenttrace_tui.store.write.copy import copy_store
    from agenttrace_tui.store.write.file_rejects import reject_file
    from agenttrace_tui.store.write.follow import Follower
    from agenttrace_tui.store.write.ingest_check import IngestCheck, ingest_check
    from agenttrace_tui.store.write.ingest import IngestResult, InputSource, Reject, expand_inputs, ingest

# name → the module that holds it, imported on first access
_LAZY = {
    "Store": "agenttrace_tui.store.handle",
    "Reader": "agenttrace_tui.store.read.reader",
    "SESSION_COLUMNS": "agenttrace_tui.store.read.sessions",
    "DEFAULT_WAIT_SECONDS": "agenttrace_tui.store.backend.connection",
    "StoreLocation": "agenttrace_tui.store.backend.location",
    "default_db_path": "agenttrace_tui.store.backend.location",
    "resolve_store": "agenttrace_tui.store.backend.location",
    "location_text": "agenttrace_tui.store.backend.location",
    "IngestResult": "agenttrace_tui.store.write.ingest",
    "InputSource": "agenttrace_tui.store.write.ingest",
    "Reject": "agenttrace_tui.store.write.ingest",
    "expand_inputs": "agenttrace_tui.store.write.ingest",
    "ingest": "agenttrace_tui.store.write.ingest",
    "Follower": "agenttrace_tui.store.write.follow",
    "IngestCheck": "agenttrace_tui.store.write.ingest_check",
    "ingest_check": "agenttrace_tui.store.write.ingest_check",
    "copy_store": "agenttrace_tui.store.write.copy",
    "reject_file": "agenttrace_tui.store.write.file_rejects",
    "Stats": "agenttrace_tui.store.read.analytics",
    "StatsRules": "agenttrace_tui.store.read.analytics",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AgentNode",
    "BreakdownRow",
    "compile_filters",
    "Compiled",
    "copy_store",
    "default_db_path",
    "DEFAULT_WAIT_SECONDS",
    "expand_inputs",
    "FilterError",
    "FolderPage",
    "Follower",
    "ingest",
    "ingest_check",
    "IngestCheck",
    "IngestResult",
    "InputSource",
    "location_text",
    "NodeStats",
    "Reader",
    "Reject",
    "reject_file",
    "resolve_store",
    "SESSION_COLUMNS",
    "SessionBreakdown",
    "SpanDetail",
    "SpanRow",
    "split_conditions",
    "Stats",
    "StatsRules",
    "Store",
    "StoreBusyError",
    "StoreError",
    "StoreLocation",
    "TreeNode",
]
