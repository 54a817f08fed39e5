"""The batch ingester: a thread that moves closed spool segments into the store, every INTERVAL_SECONDS.

Each cycle rotates the spool, ingests every closed segment through the store's own ingest (one transaction
per segment, the write lock released at the end of the call, so an open TUI gets in between cycles), and
deletes the segments that were stored. A segment whose ingest failed (store busy, disk full) stays and is
tried again next cycle. Re-ingesting a segment after a crash between commit and delete is harmless: spans
are keyed by span_id and merge.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Final

from agenttrace_tui.serve.spool import Spool
from agenttrace_tui.store import InputSource, StoreError, StoreLocation, ingest
from agenttrace_tui.textsafe import sanitize

INTERVAL_SECONDS: Final = 0.5
"""Time between cycles. An ingest call costs ~130 ms (open, merge, roll up, checkpoint on close) however small:
every 0.5 s keeps a posted span visible within ~0.7 s while leaving most of a core to the requests."""
STORE_WAIT_SECONDS: Final = 5.0
"""How long one cycle waits for another process's lock on the store before trying again next cycle."""

log = logging.getLogger("agenttrace.serve")


@dataclass
class IngestCounts:
    segments: int = 0
    stored: int = 0
    rejected: int = 0
    failures: int = 0


class BatchIngester:
    def __init__(self, spool: Spool, db_path: StoreLocation, interval: float = INTERVAL_SECONDS) -> None:
        self.spool = spool
        self.db_path = db_path
        self.interval = interval
        self.counts = IngestCounts()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agenttrace-ingester", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ingest what is left, then end the thread."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        recovered = self.spool.recover()
        if recovered:
            log.info("recovered %d spool segment(s) left by an earlier run", recovered)
        self._guarded_cycle()  # leftovers first, before anything posted to this run
        while not self._stop.wait(self.interval):
            self._guarded_cycle()
        self._guarded_cycle()

    def _guarded_cycle(self) -> None:
        try:
            self.cycle()
        except Exception as exc:  # the thread must outlive one bad cycle; the segments stay for the next
            self.counts.failures += 1
            log.error("ingest cycle failed, will retry: %s", sanitize(f"{type(exc).__name__}: {exc}"))

    def cycle(self) -> None:
        self.spool.rotate()
        segments = self.spool.closed_segments()
        if not segments:
            return
        sources = [InputSource(str(segment), segment) for segment in segments]
        try:
            result = ingest(self.db_path, sources, wait_seconds=STORE_WAIT_SECONDS)
        except StoreError as exc:
            self.counts.failures += 1
            log.warning("ingest failed, will retry: %s", sanitize(str(exc)))
            return
        for segment, file_result in zip(segments, result.files, strict=True):
            if file_result.error is not None:
                self.counts.failures += 1
                log.warning("ingest failed, will retry: %s", sanitize(file_result.error))
                continue
            for reject in file_result.rejects:
                log.warning("rejected: %s", sanitize(reject.one_line()))
            self.counts.segments += 1
            self.counts.stored += file_result.stored
            self.counts.rejected += file_result.rejected
            segment.unlink(missing_ok=True)
        log.debug("ingested %d segment(s), %d record(s)", len(segments), result.stored)
