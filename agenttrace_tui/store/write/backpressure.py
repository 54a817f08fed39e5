"""Keeping a Python producer of Arrow batches from running ahead of DuckDB.

DuckDB scans a registered `RecordBatchReader` through a pyarrow dataset scanner, which pulls batches from
an Arrow thread as fast as our generator yields them, whatever DuckDB has consumed. When the query is
slower than the reader (the ingest parse is), read blocks pile up: 650 MB of them by the end of a 1 GB
file. The gate counts the batches DuckDB still holds (a batch's text buffer is released when DuckDB is
done with it) and makes the producer wait while `limit` are out.
"""

from __future__ import annotations

import threading
from typing import Final

import pyarrow as pa

DEFAULT_LIMIT: Final = 8
"""Batches (~1 MB of lines each) outstanding: enough for both of DuckDB's threads to always have work."""
GIVE_UP_SECONDS: Final = 0.25
"""A wait this long means DuckDB is holding the batches on purpose (a query that keeps them whole): the
gate opens for good rather than slowing every batch down."""


class ReleaseGate:
    def __init__(self, limit: int = DEFAULT_LIMIT, give_up_seconds: float = GIVE_UP_SECONDS) -> None:
        self._limit = limit
        self._give_up_seconds = give_up_seconds
        self._outstanding = 0
        self._gave_up = False
        self._changed = threading.Condition()

    @property
    def outstanding(self) -> int:
        with self._changed:
            return self._outstanding

    @property
    def gave_up(self) -> bool:
        with self._changed:
            return self._gave_up

    def wait(self) -> None:
        """Block while `limit` tracked batches are still held."""
        with self._changed:
            if self._gave_up or self._outstanding < self._limit:
                return
            if not self._changed.wait_for(lambda: self._outstanding < self._limit, self._give_up_seconds):
                self._gave_up = True

    def track(self, strings: pa.Array) -> pa.Array:
        """The same string array, whose text buffer tells the gate when the last reference to it goes."""
        validity, offsets, data = strings.buffers()
        if data is None:
            return strings
        tracked = pa.foreign_buffer(data.address, data.size, base=_Release(self, data))
        return pa.Array.from_buffers(strings.type, len(strings), [validity, offsets, tracked],
                                     null_count=strings.null_count, offset=strings.offset)

    def _taken(self) -> None:
        with self._changed:
            self._outstanding += 1

    def _released(self) -> None:
        with self._changed:
            self._outstanding -= 1
            self._changed.notify_all()


class _Release:
    """Owns a batch's buffer for the tracked copy; its end is the batch's release."""

    def __init__(self, gate: ReleaseGate, buffer: pa.Buffer) -> None:
        self._gate = gate
        self._buffer = buffer
        gate._taken()

    def __del__(self) -> None:
        self._gate._released()
