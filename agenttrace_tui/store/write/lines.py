"""Reading trace files as numbered lines in Arrow batches, without a Python object per line.

Files are read in large blocks cut at the last newline. A block becomes an Arrow string array without
copying: numpy finds the newlines, and their positions are the array's offsets over the block's bytes
(each line keeps its trailing newline, which JSON parsing ignores). Only a block that is not valid
UTF-8 falls back to a per-line decode, so that the bad lines can be rejected by number while their
neighbours are kept.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Protocol, cast

import numpy as np
import pyarrow as pa

BLOCK_BYTES: Final = 1024 * 1024
"""Bytes read per block: large enough that per-block overhead vanishes (~1,000 lines), small enough that
the allocator reuses its memory: a fresh 32 MB block costs more in page faults than in reading (measured
0.41 s against 0.14 s to split 191 MB)."""



@dataclass
class LineBatch:
    """Lines `first_line` … `first_line + len(lines) - 1` of a file (1-based)."""

    first_line: int
    lines: pa.Array  # large_string
    bad_utf8_at: pa.Array | None = None  # int64 byte offset of the first bad byte, null when fine
    terminated: bool = True  # False for a file's last line when no newline ends it
    line_numbers: pa.Array | None = None  # int64, when not consecutive from first_line (converted files)
    reasons: pa.Array | None = None  # why a line is already known to be bad (a conversion failed), else null

    @property
    def last_line(self) -> int:
        return self.first_line + len(self.lines) - 1


@dataclass
class FileReadState:
    """What the reader learnt about the whole file, filled in as it goes."""

    total_lines: int = 0
    bytes_read: int = 0
    ends_with_newline: bool = True


class PrefixedStream:
    """A stream whose first bytes were already read (to sniff its format), served again first."""

    def __init__(self, prefix: bytes, rest: Readable) -> None:
        self._prefix = prefix
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            if size < 0:
                data, self._prefix = self._prefix + self._rest.read(), b""
                return data
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return self._rest.read(size)


def open_binary(path: Path) -> BinaryIO:
    """A file, transparently gunzipped when its name ends in .gz."""
    if path.name.endswith(".gz"):
        return cast(BinaryIO, gzip.open(path, "rb"))
    return open(path, "rb")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_line_batches(
    stream: Readable,
    state: FileReadState,
    on_bytes: Callable[[int], None] | None = None,
    block_bytes: int = BLOCK_BYTES,
    first_line: int = 1,
) -> Iterator[LineBatch]:
    """Yield numbered line batches of a stream; CRLF endings and a leading BOM are removed.

    `first_line`: the number of the stream's first line, when it starts mid-file (follow mode).
    """
    pieces: list[bytes] = []  # the start of a line longer than a block, kept until its newline comes
    next_line = first_line
    first_block = first_line == 1
    while True:
        block = stream.read(block_bytes)
        if not block:
            break
        state.bytes_read += len(block)
        if on_bytes is not None:
            on_bytes(len(block))
        cut = block.rfind(b"\n")
        if cut < 0:
            pieces.append(block)
            continue
        head = block[: cut + 1]
        complete = b"".join((*pieces, head)) if pieces else head
        pieces = [block[cut + 1 :]] if cut + 1 < len(block) else []
        if first_block and complete.startswith(b"\xef\xbb\xbf"):
            complete = complete[3:]
        first_block = False
        lines, bad = _split(complete)
        yield LineBatch(next_line, lines, bad)
        next_line += len(lines)
    carry = b"".join(pieces)
    if first_block and carry.startswith(b"\xef\xbb\xbf"):
        carry = carry[3:]
    if carry:
        state.ends_with_newline = False
        lines, bad = _split(carry)
        yield LineBatch(next_line, lines, bad, terminated=False)
        next_line += len(lines)
    state.total_lines = next_line - first_line


NEWLINE: Final = 10


def _split(data: bytes) -> tuple[pa.Array, pa.Array | None]:
    """Lines of a block (each with its newline, except an unterminated last one), zero-copy."""
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == NEWLINE) + 1
    if len(ends) == 0 or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    offsets = np.concatenate((np.zeros(1, np.int64), ends.astype(np.int64)))
    lines = pa.Array.from_buffers(pa.large_string(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    try:
        lines.validate(full=True)  # checks UTF-8 in C++
    except pa.ArrowInvalid:
        return _split_slow(data)
    return lines, None


def _split_slow(data: bytes) -> tuple[pa.Array, pa.Array]:
    """Per-line decode, only for a block holding invalid UTF-8: bad lines keep an escaped copy."""
    decoded: list[str] = []
    bad_at: list[int | None] = []
    for raw in data.removesuffix(b"\n").split(b"\n"):
        try:
            decoded.append(raw.decode("utf-8"))
            bad_at.append(None)
        except UnicodeDecodeError as exc:
            decoded.append(raw.decode("utf-8", errors="backslashreplace"))
            bad_at.append(exc.start)
    return pa.array(decoded, pa.large_string()), pa.array(bad_at, pa.int64())
