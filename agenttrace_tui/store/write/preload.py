"""What a large ingest will need later, loaded early on a thread of its own.

`pyarrow.dataset` (~45 ms to import; DuckDB imports it to scan the line stream) and genai-prices' table (~0.17 s:
its import and first lookup, needed to price the file's models after the parse) would otherwise load on the
main thread, one after the other, while nothing else runs. Started when an ingest begins, they load while
the store opens and then while DuckDB parses (its workers hold no GIL). Whoever needs one of them meanwhile
waits for the thread (Python's import lock does the same for the modules).
"""

from __future__ import annotations

import threading

_thread: threading.Thread | None = None
_lock = threading.Lock()


def start() -> None:
    """Begin loading, once per process."""
    global _thread
    with _lock:
        if _thread is None:
            # Not a daemon: an interpreter shutting down under an import in progress can crash.
            _thread = threading.Thread(target=_load, name="agenttrace-preload")
            _thread.start()


def wait() -> None:
    """Return once loading, if started, has finished."""
    thread = _thread
    if thread is not None and thread is not threading.current_thread():
        thread.join()


def _load() -> None:
    from agenttrace_tui.store.write.pricing import load_price_table

    try:
        import pyarrow.dataset  # noqa: F401

        load_price_table()
    except Exception:  # only a head start: whoever needs these loads them again and sees the error
        pass
