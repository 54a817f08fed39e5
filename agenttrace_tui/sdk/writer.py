"""The append-only JSONL writer: one `os.write()` of one complete line per record.

POSIX appends on an `O_APPEND` descriptor position and write atomically, so threads and processes sharing
a trace file never interleave lines. The writer holds no buffer and no lock: a crash loses nothing already
returned from `write`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import orjson

FILE_MODE: Final = 0o600
"""Traces hold prompts and tool output: readable by their owner only."""

DUMPS_OPTIONS: Final = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
"""The newline is part of the single write; non-string keys (ints in tool output) become strings."""


def _to_jsonable(value: Any) -> Any:
    """orjson's `default=`: pydantic models as their JSON dump, containers as lists, anything else as str."""
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump) and not isinstance(value, type):
        try:
            return model_dump(mode="json", exclude_unset=True)
        except Exception:  # a half-built or exotic model: its str still says something
            return str(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars, without importing numpy
    if callable(tolist):
        try:
            return tolist()
        except Exception:
            return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return str(value)


def dumps(value: Any, *, newline: bool = False) -> bytes:
    """Serialize anything: what orjson can't (cycles, ints over 64 bits, broken models) degrades to repr.

    Tracing must never be the reason an agent crashes, so this does not raise.
    """
    options = DUMPS_OPTIONS if newline else orjson.OPT_NON_STR_KEYS
    try:
        return orjson.dumps(value, default=_to_jsonable, option=options)
    except TypeError:
        pass
    if isinstance(value, Mapping):  # keep the record's other fields: degrade only the bad ones
        cleaned = {str(k): orjson.Fragment(dumps(v)) for k, v in value.items()}
        return orjson.dumps(cleaned, option=options)
    return orjson.dumps(repr(value), option=options)


def fragment(value: Any) -> orjson.Fragment:
    """Serialize now and embed later: a snapshot unaffected by later mutation, serialized once."""
    return orjson.Fragment(dumps(value))


class JsonlWriter:
    """Appends records to one JSONL file. Opened at construction so a bad path fails where it was given."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = self._open()
        self._open_lock = threading.Lock()
        self._warned = False

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        return os.open(self.path, flags, FILE_MODE)

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record as one line. I/O errors warn once and drop the record rather than raise."""
        line = dumps(record, newline=True)
        try:
            fd = self._fd
            if fd is None:  # closed earlier: reopen, so a late span from a worker thread isn't lost
                with self._open_lock:
                    if self._fd is None:
                        self._fd = self._open()
                    fd = self._fd
            written = os.write(fd, line)
            # A short write only happens on a full disk or a signal; finish the line rather than leave half.
            while written < len(line):
                written += os.write(fd, line[written:])
        except OSError as exc:
            if not self._warned:
                self._warned = True
                warnings.warn(f"agenttrace: cannot write to {self.path}: {exc}", RuntimeWarning, stacklevel=3)

    def close(self) -> None:
        with self._open_lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
