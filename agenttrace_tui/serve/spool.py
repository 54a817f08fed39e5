"""The spool: acknowledged records, appended to segment files and fsync'd before the client hears "ok".

Segments are named by creation time so that a later segment is ingested later (the format's "a later ingest
wins"), and never reused, so the store's skip-unchanged-file check (path, size, mtime) can never mistake a new
segment for an old one. The segment being written ends in `.open`; `rotate()` closes it as `.jsonl`, ready
for the batch ingester, which deletes it once stored. After a crash, `recover()` closes every `.open` segment
left behind, cutting a half-written last line (never acknowledged) so that it is not stored as a reject.

The directory is ours only when it says so: a marker file (MARKER_NAME, with the spool's format) is written into a
directory that is new or empty, and a directory with other files and no marker is refused, so that `--spool-dir`
pointed at the wrong place ingests, cuts and deletes nothing. A spool of an earlier release (no marker, nothing
in it but our lock and segments) is adopted. Only files named like our segments are ever cut, renamed or
deleted; anything else put into the spool is left alone. A segment the store cannot take is moved into
QUARANTINE_DIR, kept (serve/ingester.py decides when).

Appends are group-committed: concurrent requests wait on one write and one fsync, which is what lets many
clients be acknowledged durably at a few hundred fsyncs a second.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

from agenttrace_tui.textsafe import sanitize

OPEN_SUFFIX: Final = ".open"
CLOSED_SUFFIX: Final = ".jsonl"
LOCK_NAME: Final = ".lock"
MARKER_NAME: Final = ".agenttrace-spool"
QUARANTINE_DIR: Final = "quarantine"
FORMAT: Final = 1
"""The spool's layout, written in its marker; a spool of a newer format is refused, not guessed at."""
_MARKER_FIRST_LINE: Final = re.compile(r"agenttrace serve spool, format (\d+)")
_SEGMENT_NAME: Final = re.compile(r"\d{20}-\d+-\d{6,}(?:\.open|\.jsonl)")
"""`_open_segment`'s names: creation time in ns, process id, counter."""


class SpoolError(Exception):
    """The spool cannot be used (in use by another server, or not writable): a one-line message."""


def _fsync_directory(directory: Path) -> None:
    """A created or renamed file survives a crash only once its directory entry is on disk too."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()  # the open segment, shared by the writer and the ingester's rotate()
        self._descriptor: int | None = None
        self._segment: Path | None = None
        self._segment_bytes = 0
        self._counter = itertools.count()
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._dir_lock: int | None = None
        # One thread of its own: fsyncs never queue behind request parsing in the default pool.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agenttrace-spool")
        self.appended_records = 0

    # Lifecycle ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the directory (owner only), make sure it is a spool (ours, or new, or empty), take its lock
        (one server per spool), and mark it ours."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            marked = self._check_ours()
            descriptor = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise SpoolError(f"spool {self.directory}: cannot create: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(descriptor)
            raise SpoolError(
                f"spool {self.directory} is in use by another agenttrace serve; give this one its own --spool-dir"
            ) from exc
        self._dir_lock = descriptor
        if not marked:
            try:
                self._write_marker()
            except OSError as exc:
                self.close()
                raise SpoolError(f"spool {self.directory}: cannot write {MARKER_NAME}: {exc.strerror or exc}") from exc

    def _check_ours(self) -> bool:
        """Whether the marker is there already; raises SpoolError for a directory that is not a spool of ours
        (before anything is written into it)."""
        marker = self.directory / MARKER_NAME
        if marker.is_file():
            with open(marker, "rb") as handle:
                text = handle.read(256).decode("utf-8", "replace")
            found = _MARKER_FIRST_LINE.match(text)
            if found and int(found.group(1)) > FORMAT:
                raise SpoolError(f"spool {self.directory} was made by a newer agenttrace (format {found.group(1)}): "
                                 "serve it with that version, or give this one another --spool-dir")
            if found or not text:  # empty: our own write, cut by a crash
                return bool(found)
            raise SpoolError(f"spool {self.directory}: {MARKER_NAME} is not an agenttrace spool marker; "
                             "give --spool-dir a new or empty directory")
        foreign = sorted(entry.name for entry in self.directory.iterdir()
                         if entry.name != LOCK_NAME and not _SEGMENT_NAME.fullmatch(entry.name))
        if foreign:
            raise SpoolError(
                f"spool {self.directory} is not empty and not an agenttrace spool (no {MARKER_NAME}; "
                f"{len(foreign)} other file(s), e.g. '{sanitize(foreign[0])}'): serve would ingest and delete "
                "what it finds there; give --spool-dir a new or empty directory"
            )
        return False  # new, empty, or an earlier release's spool (our lock and segments only): adopted

    def _write_marker(self) -> None:
        marker = self.directory / MARKER_NAME
        descriptor = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(descriptor, (
                f"agenttrace serve spool, format {FORMAT}\n"
                "Records `agenttrace serve` accepted, waiting for the store. Put no other files here.\n"
            ).encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        _fsync_directory(self.directory)

    def close(self) -> None:
        self.rotate()
        with self._lock:
            if self._descriptor is not None and self._segment is not None:  # opened, never written
                os.close(self._descriptor)
                self._segment.unlink(missing_ok=True)
                self._descriptor = self._segment = None
        self._executor.shutdown(wait=True)
        if self._dir_lock is not None:
            os.close(self._dir_lock)
            self._dir_lock = None

    # Writing -----------------------------------------------------------------------------------

    async def append(self, data: bytes, records: int) -> None:
        """Return once `data` (whole lines) is on disk; raises OSError if it could not be written."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((data, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        await done
        self.appended_records += records

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, self._write, b"".join(data for data, _ in batch)
                )
            except OSError as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def _write(self, data: bytes) -> None:
        with self._lock:
            descriptor = self._open_segment()
            view = memoryview(data)
            try:
                while view:
                    written = os.write(descriptor, view)
                    view = view[written:]
                os.fsync(descriptor)
            except OSError:
                # Nothing of a failed batch is acknowledged, so nothing of it may be ingested either.
                os.ftruncate(descriptor, self._segment_bytes)
                raise
            self._segment_bytes += len(data)

    def _open_segment(self) -> int:
        if self._descriptor is None:
            name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._counter):06d}"
            self._segment = self.directory / (name + OPEN_SUFFIX)
            self._descriptor = os.open(self._segment, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            self._segment_bytes = 0
            _fsync_directory(self.directory)
        return self._descriptor

    # Handing over to the ingester ------------------------------------------------------------------

    def rotate(self) -> None:
        """Close the segment being written (if it holds anything) so that it can be ingested."""
        with self._lock:
            if self._descriptor is None or self._segment is None:
                return
            if self._segment_bytes == 0:
                return
            os.close(self._descriptor)
            self._descriptor = None
            self._segment.rename(self._segment.with_suffix(CLOSED_SUFFIX))
            self._segment = None
            _fsync_directory(self.directory)

    def closed_segments(self) -> list[Path]:
        """Segments ready for the store, oldest first."""
        return _segments(self.directory, CLOSED_SUFFIX)

    def quarantined_segments(self) -> list[Path]:
        return _segments(self.directory / QUARANTINE_DIR, CLOSED_SUFFIX)

    def quarantine_path(self, segment: Path) -> Path:
        """Where `quarantine(segment)` keeps it."""
        return self.directory / QUARANTINE_DIR / segment.name

    def quarantine(self, segment: Path) -> Path:
        """Move a closed segment the store could not take out of the ingester's way, keeping it; returns where."""
        kept = self.quarantine_path(segment)
        kept.parent.mkdir(mode=0o700, exist_ok=True)
        segment.rename(kept)
        _fsync_directory(kept.parent)
        _fsync_directory(self.directory)
        return kept

    def recover(self) -> int:
        """Close the `.open` segments a previous server left (crash): returns how many."""
        recovered = 0
        with self._lock:
            for segment in _segments(self.directory, OPEN_SUFFIX):
                if segment == self._segment:
                    continue
                _cut_partial_line(segment)
                segment.rename(segment.with_suffix(CLOSED_SUFFIX))
                recovered += 1
            if recovered:
                _fsync_directory(self.directory)
        return recovered


def _segments(directory: Path, suffix: str) -> list[Path]:
    """Our segments in `directory`, oldest first: files of other names are never ours to ingest, cut or delete."""
    return sorted(path for path in directory.glob("*" + suffix) if _SEGMENT_NAME.fullmatch(path.name))


def _cut_partial_line(segment: Path) -> None:
    """Drop the bytes after the last newline: a write the crash interrupted, which nobody was told was kept."""
    with open(segment, "r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        position = size
        while position > 0:
            step = min(65536, position)
            handle.seek(position - step)
            chunk = handle.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                position = position - step + newline + 1
                break
            position -= step
        if position != size:
            handle.truncate(position)
            handle.flush()
            os.fsync(handle.fileno())
