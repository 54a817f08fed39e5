"""Helicone headers → a span placed in the right session: shared by the openai wrapper and the manual logger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agenttrace_tui.format import fields_from_headers, public_headers
from agenttrace_tui.sdk._context import current_session
from agenttrace_tui.sdk.span import Span
from agenttrace_tui.sdk.tracer import Session, Tracer


def merge_headers(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge header mappings, later layers winning, names compared case-insensitively (as HTTP does).

    Non-string values (openai's `Omit`, None) remove the header, as they do in the openai client.
    """
    merged: dict[str, tuple[str, Any]] = {}
    for layer in layers:
        for name, value in (layer or {}).items():
            if isinstance(value, str):
                merged[name.lower()] = (name, value)
            else:
                merged.pop(name.lower(), None)
    return dict(merged.values())


def span_from_headers(
    tracer: Tracer,
    bound: Session | None,
    headers: Mapping[str, Any],
    *,
    kind: str,
    name: str | None,
    input: Any = None,
    **fields: Any,
) -> Span:
    """An unstarted span placed by Helicone headers.

    Session: Helicone-Session-Id if present (reusing the bound or current session when the id matches, so
    their properties apply), else the bound session, else the current one, else a fresh id. Path, user,
    properties and span id (Helicone-Request-Id) come from the headers when they set them.
    """
    mapped = fields_from_headers(headers)
    header_session_id = mapped.get("session_id")
    session: Session | None = None
    candidates = [candidate for candidate in (bound, current_session()) if candidate is not None]
    if header_session_id is not None:
        session_id = str(header_session_id)
        session = next((c for c in candidates if c.session_id == session_id), None)
        if session is None:
            session = Session(tracer, session_id=session_id, write_record=False)
    elif candidates:
        session = candidates[0]
    else:
        session = Session(tracer, session_id=tracer.new_id(), write_record=False)
    span = Span(
        tracer,
        session,
        mapped.get("path"),
        name=name,
        kind=kind,
        input=input,
        properties=mapped.get("properties"),
        user_id=mapped.get("user_id"),
        span_id=str(mapped["span_id"]) if mapped.get("span_id") is not None else None,
        headers=public_headers(headers) or None,
        **fields,
    )
    if mapped.get("session_name") is not None:
        span.set(session_name=mapped["session_name"])
    return span
