"""Rejects of a whole file rather than of its lines: a spool segment `agenttrace serve` could not store and kept.

`agenttrace rejects` shows them with the others, at line WHOLE_FILE_LINE, the reason saying what failed and
what to do; the file key is the backend's, as for the lines of an ingested file.
"""

from __future__ import annotations

from typing import Final

import duckdb

from agenttrace_tui.store.backend import StoreTarget, open_backend
from agenttrace_tui.store.backend.connection import DEFAULT_WAIT_SECONDS
from agenttrace_tui.store.backend.schema import needs_setup
from agenttrace_tui.store.errors import StoreError

WHOLE_FILE_LINE: Final = 0
"""Lines count from 1: line 0 is the file as a whole."""


def reject_file(store: StoreTarget, name: str, reason: str, *, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
    """Record why the file `name` was not stored, replacing an earlier whole-file reject of it. Its lines are
    not copied into the store (a spool segment holds bodies before redaction): the file is where they are."""
    backend = open_backend(store)
    key = backend.file_key(name)
    try:
        with backend.writer(wait_seconds) as con:
            if needs_setup(con):
                backend.setup(con, wait_seconds)

            def write() -> None:
                con.execute("DELETE FROM rejects WHERE file = ? AND line = ?", [key, WHOLE_FILE_LINE])
                con.execute("INSERT INTO rejects VALUES (?, ?, ?, '', now()::TIMESTAMP)",
                            [key, WHOLE_FILE_LINE, reason])

            backend.transaction(con, write, wait_seconds)
    except duckdb.Error as exc:
        raise StoreError(f"store error: {(str(exc).splitlines() or [type(exc).__name__])[0]}") from None
