"""Request bodies read with a size limit (also when streamed without Content-Length) and gunzipped safely.

A gzip body may hold several members (`cat a.gz b.gz`): all are decoded, as `gzip -d` does, under one size
limit; zero bytes after the last member are padding (gzip ignores them too); anything else after it is refused.
"""

from __future__ import annotations

import zlib
from typing import Final

from starlette.requests import Request

MAX_BODY_BYTES: Final = 10 * 1024 * 1024
"""Largest body accepted, compressed or not: bigger ones get 413 before they fill memory."""
BODY_TIMEOUT: Final = 60.0
"""Seconds from a request's headers to its body's last byte (10 MB at 1.4 Mbit/s): then 408 (app.py)."""
GZIP_MAGIC: Final = b"\x1f\x8b"
GZIP_PIECE_BYTES: Final = 16 * 1024
MAX_GZIP_MEMBERS: Final = 10_000
"""More is not a file someone concatenated; each member costs a decompressor and a copy of a piece."""


class BodyError(Exception):
    """A request the server refuses: the HTTP status and a one-line reason for the client."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _too_large(limit: int) -> BodyError:
    return BodyError(413, f"body larger than {limit // (1024 * 1024)} MB")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BodyError(400, "bad Content-Length")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_content(request: Request, body: bytes, limit: int = MAX_BODY_BYTES) -> bytes:
    """Undo Content-Encoding (identity or gzip); the decompressed size is limited too (no gzip bombs)."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise BodyError(415, f"unsupported Content-Encoding {encoding[:40]!r}: send identity or gzip")
    return gunzip(body, limit)


def gunzip(body: bytes, limit: int = MAX_BODY_BYTES) -> bytes:
    """Every gzip member of `body`, joined; 413 past `limit` bytes in all, 400 for anything but gzip in it."""
    view = memoryview(body)
    parts: list[bytes] = []
    size = position = 0
    for member in range(1, MAX_GZIP_MEMBERS + 1):
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        while not decompressor.eof:  # in pieces: zlib copies whatever follows a member's end
            piece = view[position: position + GZIP_PIECE_BYTES]
            if not piece:
                raise BodyError(400, f"body is not valid gzip (member {member}): truncated stream")
            position += len(piece)
            try:
                data = decompressor.decompress(piece, limit - size + 1)
            except zlib.error as exc:
                raise BodyError(400, f"body is not valid gzip (member {member}): {exc}") from exc
            size += len(data)
            if size > limit:
                raise _too_large(limit)
            parts.append(data)
        position -= len(decompressor.unused_data)
        rest = view[position:]
        if bytes(rest[:2]) == GZIP_MAGIC:
            continue
        if bytes(rest).strip(b"\0"):
            raise BodyError(400, f"body is not valid gzip: {len(rest):,} bytes after member {member} "
                                 "are not another gzip member")
        return b"".join(parts)
    raise BodyError(400, f"body is not valid gzip: more than {MAX_GZIP_MEMBERS:,} members")
