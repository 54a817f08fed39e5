"""Follow mode: tail growing trace files (and new files in followed directories) into the store.

Each poll reads what was appended to a file since the last one, up to its last newline: a partial last
line waits for its newline instead of being rejected, unless it is already longer than the line limit: then
it is skipped to its newline, unheld, and stored as a reject. A file that shrank or was replaced (another inode)
is read again from the start; ingest merges by span id, so nothing is stored twice. Gzipped files cannot
be tailed: they are ingested whole whenever they change.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from agenttrace_tui.store.backend import StoreTarget, open_backend
from agenttrace_tui.store.backend.connection import DEFAULT_WAIT_SECONDS
from agenttrace_tui.store.backend.schema import needs_setup
from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.write.ingest import (
    Chunk,
    IngestResult,
    InputSource,
    configured_max_line_bytes,
    expand_inputs,
    ingest,
    ingest_chunks,
    ingested_unchanged,
)
from agenttrace_tui.store.write.lines import BLOCK_BYTES

POLL_SECONDS: Final = 0.25
"""How often files are checked: new lines show up within about this, plus the ingest itself."""
RESCAN_SECONDS: Final = 1.0
"""How often followed directories and globs are listed again for new files."""
MAX_CHUNK_BYTES: Final = 64 * 1024 * 1024
"""A file that grew by more than this is taken in several polls, so memory stays bounded."""


@dataclass
class _Tail:
    """Where reading a plain file stopped: after the last complete line taken."""

    inode: tuple[int, int]
    offset: int
    next_line: int
    no_newline_before: int = 0  # the file has no newline from `offset` up to here (a line past the limit)


class Follower:
    """Polls the inputs; `poll()` ingests what is new and returns the result, or None when nothing was."""

    def __init__(
        self,
        store: StoreTarget,
        arguments: Sequence[str],
        *,
        prices_file: Path | None = None,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        redact: bool = True,
        max_line_bytes: int | None = None,
    ) -> None:
        self.backend = open_backend(store)
        self.redact = redact
        self.given_max_line_bytes = max_line_bytes
        self.max_line_bytes = 0  # known at the first poll (reading the config can fail: a StoreError)
        self.arguments = list(arguments)
        self.prices_file = prices_file
        self.wait_seconds = wait_seconds
        self.problems: list[str] = []
        self._tails: dict[str, _Tail] = {}
        self._sources: list[InputSource] = []
        self._scanned_at = -RESCAN_SECONDS
        self._gz_seen: dict[str, tuple[int, int]] = {}

    # One round ---------------------------------------------------------------------------------------

    def poll(self) -> IngestResult | None:
        if not self.max_line_bytes:
            self.max_line_bytes = self.given_max_line_bytes or configured_max_line_bytes()
        now = time.monotonic()
        if now - self._scanned_at >= RESCAN_SECONDS:
            self._sources, self.problems = expand_inputs(self.arguments)
            self._scanned_at = now
        chunks: list[Chunk] = []
        gz_changed: list[InputSource] = []
        for source in self._sources:
            if source.path is None:
                continue
            try:
                if source.path.name.endswith(".gz"):
                    if self._gz_changed(source.path):
                        gz_changed.append(source)
                    continue
                chunk = self._read_new_lines(source)
            except OSError:
                continue  # gone between listing and reading (rotated): the next scan sees what is there
            if chunk is not None:
                chunks.append(chunk)
        results: list[IngestResult] = []
        if chunks:
            results.append(ingest_chunks(self.backend, chunks, prices_file=self.prices_file,
                                         wait_seconds=self.wait_seconds, redact=self.redact,
                                         max_line_bytes=self.max_line_bytes))
        if gz_changed:
            results.append(ingest(self.backend, gz_changed, prices_file=self.prices_file,
                                  wait_seconds=self.wait_seconds, redact=self.redact,
                                  max_line_bytes=self.max_line_bytes))
        if not results:
            return None
        merged = IngestResult()
        for result in results:
            merged.files.extend(result.files)
            merged.bytes_read += result.bytes_read
            merged.elapsed_seconds += result.elapsed_seconds
        return merged

    def run(self, on_result: Callable[[IngestResult], None], stop: threading.Event,
            poll_seconds: float = POLL_SECONDS) -> None:
        """Poll until `stop` is set; report every round that ingested something."""
        while not stop.is_set():
            result = self.poll()
            if result is not None:
                on_result(result)
            stop.wait(poll_seconds)

    # Files -------------------------------------------------------------------------------------------

    def _read_new_lines(self, source: InputSource) -> Chunk | None:
        assert source.path is not None
        key = self.backend.file_key(str(source.path.resolve()))
        with open(source.path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            inode = (stat.st_dev, stat.st_ino)
            tail = self._tails.get(key)
            if tail is None:
                tail = self._tails[key] = self._first_tail(key, handle, stat.st_size, stat.st_mtime_ns, inode)
            elif tail.inode != inode or stat.st_size < tail.offset:
                # Replaced or truncated: everything in it is new again.
                tail = self._tails[key] = _Tail(inode, 0, 1)
            if stat.st_size <= tail.offset:
                return None
            data, cut, skipped = b"", -1, 0
            if not tail.no_newline_before:  # else: inside a line past the limit, only its end is looked for
                handle.seek(tail.offset)
                # + 2: a line of the limit and its CRLF fit one read
                data = handle.read(min(stat.st_size - tail.offset, max(MAX_CHUNK_BYTES, self.max_line_bytes + 2)))
                cut = data.rfind(b"\n")
            if tail.no_newline_before or (cut < 0 and len(data) > self.max_line_bytes + 1):
                end = _next_newline(handle, max(tail.offset + len(data), tail.no_newline_before))
                if end < 0:
                    tail.no_newline_before = handle.tell()
                    return None  # past the limit, its end not written yet
                # The line's start and a newline: enough for the ingest to reject it as too long.
                handle.seek(tail.offset)
                data = handle.read(self.max_line_bytes + 2) + b"\n"
                cut, skipped = len(data) - 1, end + 1 - tail.offset - len(data)
        if cut < 0:
            return None  # a partial line: wait for its newline
        complete = data[: cut + 1]
        first_line = tail.next_line
        tail.offset += len(complete) + skipped
        tail.next_line += complete.count(b"\n")
        tail.no_newline_before = 0
        at_end = tail.offset == stat.st_size
        return Chunk(source.name, key, complete, first_line,
                     (stat.st_size, stat.st_mtime_ns) if at_end else None)

    def _first_tail(self, key: str, handle: BinaryIO, size: int, mtime_ns: int, inode: tuple[int, int]) -> _Tail:
        """A file already ingested unchanged resumes after its last complete line; any other is read whole."""
        if not self._ingested_unchanged(key, size, mtime_ns):
            return _Tail(inode, 0, 1)
        handle.seek(0)
        offset, lines = 0, 0
        for block in iter(lambda: handle.read(1 << 24), b""):
            lines += block.count(b"\n")
            last = block.rfind(b"\n")
            if last >= 0:
                offset = handle.tell() - len(block) + last + 1
        return _Tail(inode, offset, lines + 1)

    def _ingested_unchanged(self, key: str, size: int, mtime_ns: int) -> bool:
        if not self.backend.exists():
            return False
        try:
            with self.backend.reader(self.wait_seconds) as con:
                return not needs_setup(con) and ingested_unchanged(con, key, size, mtime_ns)
        except StoreError:
            return False  # no team store yet: the first ingest creates it

    def _gz_changed(self, path: Path) -> bool:
        stat = path.stat()
        fingerprint = (stat.st_size, stat.st_mtime_ns)
        changed = self._gz_seen.get(str(path)) != fingerprint
        self._gz_seen[str(path)] = fingerprint
        return changed


def _next_newline(handle: BinaryIO, start: int) -> int:
    """The position of the first newline at or after `start`, or -1 (the handle is left at the end)."""
    handle.seek(start)
    for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
        found = block.find(b"\n")
        if found >= 0:
            return handle.tell() - len(block) + found
    return -1
