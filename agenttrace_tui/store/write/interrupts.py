"""Ctrl-C during an ingest, handed to DuckDB as its own interrupt.

Python raises KeyboardInterrupt wherever the main thread happens to be when it handles the signal, and during an
ingest that is often a bad place: inside a block's release hook (store/write/backpressure.py), where an exception is
printed and swallowed, so the ingest went on; inside DuckDB's `execute`, which then raises `RuntimeError: Query
interrupted` (a traceback past the CLI's handler); or inside a Python function the parse calls, which DuckDB
wraps as an error of the file. So while an ingest runs on the main thread, SIGINT only records itself and
interrupts the running query; the ingest raises KeyboardInterrupt once that file has stopped and rolled back.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import duckdb


class Interrupts:
    """Whether Ctrl-C was pressed; pressing it interrupts the query running on `connection()`."""

    def __init__(self, connection: Callable[[], duckdb.DuckDBPyConnection | None]) -> None:
        self.requested = False
        self._connection = connection

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        con = self._connection()
        if con is not None:
            con.interrupt()

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C was pressed."""
        if self.requested:
            raise KeyboardInterrupt


_active: Interrupts | None = None
"""The Interrupts of the ingest running on the main thread, if any."""


def raise_if_requested() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed during the running ingest: called last in a file's
    transaction, so that a Ctrl-C that landed between two of its statements rolls the file back too."""
    if _active is not None:
        _active.check()


@contextmanager
def interrupts_to_duckdb(connection: Callable[[], duckdb.DuckDBPyConnection | None]) -> Iterator[Interrupts]:
    """Route SIGINT through `Interrupts` while the block runs, when this is the main thread and Python's own
    handler is in place (an application that installed its own keeps it)."""
    interrupts = Interrupts(connection)
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield interrupts
        return
    global _active
    previous = signal.signal(signal.SIGINT, interrupts.handle)
    _active = interrupts
    try:
        yield interrupts
    finally:
        _active = None
        signal.signal(signal.SIGINT, previous)
