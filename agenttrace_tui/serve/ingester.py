"""The batch ingester: a thread that moves closed spool segments into the store, every INTERVAL_SECONDS.

Each cycle rotates the spool, ingests the closed segments through the store's own ingest (one transaction per
segment, the write lock released at the end of the call, so an open TUI gets in between cycles), and deletes the
segments that were stored. Re-ingesting a segment after a crash between commit and delete is harmless: spans are
keyed by span_id and merge. Rejects of a segment's lines are named `serve:SEGMENT` in the store (the segment is
deleted once stored; the rejected line itself is in the rejects table).

A failure is the store's or one segment's, and the two are treated apart:
- the store's (busy with another writer, out of disk, a team store's database unreachable: a StoreError, an I/O,
  memory or connection error, a segment that cannot be read) leaves the segments in place, tried again with a
  backoff up to MAX_BACKOFF_SECONDS, never given up;
- a segment's (any other error, while the store took other writes in the same call: the segments next to it, or
  an empty `probe` ingest added when a segment is retried) is a strike against it. At QUARANTINE_STRIKES it is
  moved into the spool's quarantine directory, kept, logged once, recorded in the store's rejects with what to
  do, and not tried again: a segment the store cannot take holds back none after it.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from agenttrace_tui.serve.spool import Spool
from agenttrace_tui.store import (
    IngestResult,
    InputSource,
    Reject,
    StoreError,
    StoreLocation,
    ingest,
    reject_file,
)
from agenttrace_tui.textsafe import sanitize

INTERVAL_SECONDS: Final = 0.5
"""Time between cycles. An ingest call costs ~130 ms (open, merge, roll up, checkpoint on close) however small:
every 0.5 s keeps a posted span visible within ~0.7 s while leaving most of a core to the requests."""
STORE_WAIT_SECONDS: Final = 5.0
"""How long one cycle waits for another process's lock on the store before trying again later."""
MAX_BACKOFF_SECONDS: Final = 8.0
"""A failed store or segment is tried again after the interval, doubled per failure up to this: a store down for
an hour costs a try (and a log line) every 8 s, and is back in use within 8 s of its return."""
QUARANTINE_STRIKES: Final = 3
"""Failures of one segment, each while the store took other writes, before it is quarantined. An error its
content causes comes back every time; a passing one (a write conflict, a moment without disk) seldom thrice."""
SOURCE_PREFIX: Final = "serve:"
"""How the store names a segment: `serve:00000017...-4242-000003.jsonl` (rejects, ingested_files)."""
PROBE_NAME: Final = "serve:probe"
"""An empty ingest next to a retried segment: when it commits and the segment fails, the segment is at fault."""
_STORE_SIDE_ERRORS: Final = (
    "io error", "out of memory error", "connection error", "interrupt error", "fatal error",
    "transactioncontext error", "permission error", "http error",
)
"""DuckDB's kinds of error that come from the store's surroundings (disk, memory, network), not from the data."""

log = logging.getLogger("agenttrace.serve")


@dataclass
class IngestCounts:
    segments: int = 0
    stored: int = 0
    rejected: int = 0
    failures: int = 0
    quarantined: int = 0


@dataclass(frozen=True)
class _Stored:
    stored: int
    rejected: int
    rejects: list[Reject] = field(default_factory=list)


@dataclass(frozen=True)
class _Failure:
    error: str
    store_side: bool
    """Not the segment's fault: never a strike."""


@dataclass
class _Trouble:
    """A segment that failed: how often, whether it was its own fault, and when to try it again."""

    attempts: int = 0
    strikes: int = 0
    error: str = ""
    store_side: bool = True
    retry_at: float = 0.0


class BatchIngester:
    def __init__(self, spool: Spool, db_path: StoreLocation, interval: float = INTERVAL_SECONDS, *,
                 wait_seconds: float = STORE_WAIT_SECONDS) -> None:
        self.spool = spool
        self.db_path = db_path
        self.interval = interval
        self.wait_seconds = wait_seconds
        self.counts = IngestCounts()
        self._troubles: dict[str, _Trouble] = {}  # by segment name
        self._store_failures = 0  # in a row
        self._store_retry_at = 0.0
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
        self._guarded_cycle(final=True)

    def _guarded_cycle(self, final: bool = False) -> None:
        try:
            self.cycle(final=final)
        except Exception as exc:  # the thread must outlive one bad cycle; the segments stay for the next
            self.counts.failures += 1
            log.error("ingest cycle failed, will retry: %s", sanitize(f"{type(exc).__name__}: {exc}"))

    def cycle(self, *, final: bool = False) -> None:
        """One round; `final` (at stop) tries every segment, backoffs or not."""
        self.spool.rotate()
        now = time.monotonic()
        if not final and now < self._store_retry_at:
            return
        segments = [segment for segment in self.spool.closed_segments()
                    if final or segment.name not in self._troubles or self._troubles[segment.name].retry_at <= now]
        if not segments:
            return
        probe = any(not self._troubles[s.name].store_side for s in segments if s.name in self._troubles)
        try:
            outcomes, took_writes = self._ingest(segments, probe)
        except StoreError as exc:
            self._store_failed(str(exc), now)
            return
        self._store_failures = 0
        for segment, outcome in outcomes.items():
            if isinstance(outcome, _Failure):
                self._failed(segment, outcome, took_writes, now)
            else:
                self._stored(segment, outcome)
        log.debug("ingest cycle: %d segment(s)", len(segments))

    # Ingesting ---------------------------------------------------------------------------------

    def _ingest(self, segments: list[Path], probe: bool) -> tuple[dict[Path, _Stored | _Failure], bool]:
        """Each segment's outcome, and whether the store took any write (a segment, or the probe)."""
        sources = [_source(segment) for segment in segments]
        if probe:
            sources.append(InputSource(PROBE_NAME, None))
        try:
            result = ingest(self.db_path, sources, wait_seconds=self.wait_seconds, stdin=io.BytesIO(b""))
        except StoreError:
            raise
        except Exception as exc:  # which segment raised is not known: each alone, so that it holds back no other
            log.warning("ingest failed, trying the segments one by one: %s",
                        sanitize(f"{type(exc).__name__}: {exc}"))
            return self._ingest_each(segments)
        outcomes = {segment: _outcome(result, index, source)
                    for index, (segment, source) in enumerate(zip(segments, sources, strict=False))}
        return outcomes, any(file_result.error is None for file_result in result.files)

    def _ingest_each(self, segments: list[Path]) -> tuple[dict[Path, _Stored | _Failure], bool]:
        outcomes: dict[Path, _Stored | _Failure] = {}
        for segment in segments:
            source = _source(segment)
            try:
                # force: a segment the failed call had committed before it raised is counted again, not skipped
                result = ingest(self.db_path, [source], force=True, wait_seconds=self.wait_seconds)
            except StoreError:
                raise
            except Exception as exc:
                outcomes[segment] = _Failure(f"{type(exc).__name__}: {exc}", isinstance(exc, (OSError, MemoryError)))
            else:
                outcomes[segment] = _outcome(result, 0, source)
        stored_any = any(isinstance(outcome, _Stored) for outcome in outcomes.values())
        return outcomes, stored_any or self._probe()

    def _probe(self) -> bool:
        try:
            result = ingest(self.db_path, [InputSource(PROBE_NAME, None)], wait_seconds=self.wait_seconds,
                            stdin=io.BytesIO(b""))
        except Exception:  # the store took no write: that is all a probe asks
            return False
        return not result.failed_files

    # Outcomes ----------------------------------------------------------------------------------

    def _stored(self, segment: Path, stored: _Stored) -> None:
        for reject in stored.rejects:
            log.warning("rejected: %s", sanitize(reject.one_line()))
        self.counts.segments += 1
        self.counts.stored += stored.stored
        self.counts.rejected += stored.rejected
        segment.unlink(missing_ok=True)
        self._troubles.pop(segment.name, None)

    def _store_failed(self, error: str, now: float) -> None:
        self.counts.failures += 1
        self._store_failures += 1
        self._store_retry_at = now + self._backoff(self._store_failures)
        log.warning("ingest failed, will retry: %s", sanitize(error))

    def _failed(self, segment: Path, failure: _Failure, took_writes: bool, now: float) -> None:
        self.counts.failures += 1
        trouble = self._troubles.setdefault(segment.name, _Trouble())
        trouble.attempts += 1
        trouble.error, trouble.store_side = failure.error, failure.store_side
        trouble.retry_at = now + self._backoff(trouble.attempts)
        if took_writes and not failure.store_side:
            trouble.strikes += 1
        if trouble.strikes >= QUARANTINE_STRIKES:
            self._quarantine(segment, trouble)
        else:
            log.warning("spool segment %s not stored (attempt %d), will retry: %s",
                        segment.name, trouble.attempts, sanitize(failure.error))

    def _quarantine(self, segment: Path, trouble: _Trouble) -> None:
        kept = self.spool.quarantine_path(segment).resolve()
        reason = (f"spool segment not stored after {trouble.attempts} attempts ({trouble.error}); "
                  "kept in this file: `agenttrace ingest` it once the cause is fixed")
        try:
            reject_file(self.db_path, str(kept), reason, wait_seconds=self.wait_seconds)
            self.spool.quarantine(segment)
        except (StoreError, OSError) as exc:  # tried again at its next failure
            log.warning("could not quarantine spool segment %s, will retry: %s", segment.name, sanitize(str(exc)))
            return
        del self._troubles[segment.name]
        self.counts.quarantined += 1
        log.error("quarantined %s: %s", sanitize(str(kept)), sanitize(reason))

    def _backoff(self, failures: int) -> float:
        return min(self.interval * (1 << min(failures, 16)), max(self.interval, MAX_BACKOFF_SECONDS))


def _source(segment: Path) -> InputSource:
    return InputSource(SOURCE_PREFIX + segment.name, segment, key=SOURCE_PREFIX + segment.name)


def _outcome(result: IngestResult, index: int, source: InputSource) -> _Stored | _Failure:
    file_result = result.files[index]
    if file_result.error is None:
        return _Stored(file_result.stored, file_result.rejected, file_result.rejects)
    error = file_result.error.removeprefix(source.name + ": ")
    kind = error.removeprefix("store error: ").lower()
    # A segment that cannot be read (too many open files, a failing disk) is no fault of its content.
    return _Failure(error, not error.startswith("store error: ") or kind.startswith(_STORE_SIDE_ERRORS))
