"""Helicone property names keep the case the client wrote (`Helicone-Property-Agent-Version` → `Agent-Version`).

ASGI servers lowercase header names, so the case would be lost before the app sees it; property names are
case-sensitive in the trace format (and the SDK keeps them). The HTTP protocol below reads h11's raw names and
hands the `Helicone-*` ones to the app in one extra header, which `helicone_headers()` uses to restore them.
A client cannot forge it: the protocol drops any copy the request carried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from agenttrace_tui.format import HELICONE_PREFIX, SECRET_HEADERS

CASE_HEADER: Final = "x-agenttrace-helicone-names"
_CASE_HEADER_BYTES: Final = CASE_HEADER.encode()


class _CaseRecordingConnection:
    """An h11 connection whose requests carry their Helicone header names, as written, in CASE_HEADER."""

    def __init__(self, connection: h11.Connection) -> None:
        self._connection = connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def next_event(self) -> Any:
        event = self._connection.next_event()
        if not isinstance(event, h11.Request):
            return event
        raw = [(name, value) for name, value in event.headers.raw_items() if name.lower() != _CASE_HEADER_BYTES]
        written = [name for name, _ in raw if name.lower().startswith(HELICONE_PREFIX.encode()) and name != name.lower()]
        if written:
            raw.append((_CASE_HEADER_BYTES, b",".join(written)))
        return h11.Request(method=event.method, target=event.target, headers=raw, http_version=event.http_version)


class CaseKeepingH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _CaseRecordingConnection(self.conn)  # type: ignore[assignment]


def helicone_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request's `Helicone-*` headers (credentials excluded) under the names the client wrote."""
    written = {name.lower(): name for name in headers.get(CASE_HEADER, "").split(",") if name}
    return {
        written.get(name.lower(), name): value for name, value in headers.items()
        if name.lower().startswith(HELICONE_PREFIX) and name.lower() not in SECRET_HEADERS
    }
