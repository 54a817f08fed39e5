"""Request bodies read with a size limit (also when streamed without Content-Length) and gunzipped safely."""

from __future__ import annotations

import zlib
from typing import Final

from starlette.requests import Request

MAX_BODY_BYTES: Final = 10 * 1024 * 1024
"""Largest body accepted, compressed or not: bigger ones get 413 before they fill memory."""


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
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BodyError(400, f"body is not valid gzip: {exc}") from exc
    if len(data) > limit:
        raise _too_large(limit)
    if not decompressor.eof:
        raise BodyError(400, "body is not valid gzip: truncated stream")
    return data
