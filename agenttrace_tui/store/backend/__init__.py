"""Two backends behind one query surface: a local DuckDB file, or a team store on DuckLake (store/backend/lake.py).

Every query and ingest statement is the same SQL on both; what differs is how a connection is had and how a
write commits:

- file: DuckDB's one-writer file lock, waited for (connection.py); writes commit at once; the file is the
  owner's only; unchanged files are skipped by (path, size, mtime).
- lake: one DuckDB instance per process attached to the DuckLake, a cursor per use; readers see one snapshot
  per `reader()`; writers commit optimistically and retry the whole transaction on a conflict.
"""

from __future__ import annotations

import os
from pathlib import Path

from agenttrace_tui.store.backend.base import NO_STORE_HINT, Backend, WriteSession
from agenttrace_tui.store.backend.file import FileBackend
from agenttrace_tui.store.backend.location import LakeLocation, StoreLocation, parse_store

__all__ = ["NO_STORE_HINT", "Backend", "FileBackend", "StoreTarget", "WriteSession", "open_backend"]

StoreTarget = Backend | StoreLocation | str | os.PathLike[str]
"""Anything that names a store: a backend, a location, a path or a store URL."""


def open_backend(target: StoreTarget) -> Backend:
    if isinstance(target, Backend):
        return target
    location = target if isinstance(target, (Path, LakeLocation)) else parse_store(os.fspath(target))
    if isinstance(location, LakeLocation):
        from agenttrace_tui.store.backend.lake import LakeBackend

        return LakeBackend(location)
    return FileBackend(location)
