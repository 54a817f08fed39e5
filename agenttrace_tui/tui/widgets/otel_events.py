"""A span's OpenTelemetry events and links in the span detail: when each event happened after the span started
(the first token, an exception with its stack, a retry), and the spans it links to. They are read from the
span's `extra.otel` (interop/otlp.py keeps them verbatim); all their text is data, shown sanitized."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from rich.text import Text

from agenttrace_tui import display
from agenttrace_tui.llm.payloads import compact_json
from agenttrace_tui.textsafe import sanitize, single_line
from agenttrace_tui.tui.widgets import chat

MAX_SHOWN: Final = 50
"""Events (and links) listed; the rest are in the raw view (r)."""
STACK_LINES: Final = 3
"""The last lines of an exception's stack shown under it (the raw view has all)."""
_EXCEPTION_KEYS: Final = ("exception.type", "exception.message", "exception.stacktrace", "exception.escaped")


def append_events(out: Text, extra: Mapping[str, Any], started: datetime, section_style: str,
                  label_style: str) -> None:
    """EVENTS and LINKS sections, when the span has any."""
    otel = extra.get("otel")
    if not isinstance(otel, Mapping):
        return
    events = [e for e in otel.get("events") or () if isinstance(e, Mapping)]
    links = [link for link in otel.get("links") or () if isinstance(link, Mapping)]
    start_ns = _epoch_ns(started)
    if events:
        out.append("\n\n")
        out.append("EVENTS", section_style)
        for event in events[:MAX_SHOWN]:
            _append_event(out, event, start_ns, label_style)
        _append_rest(out, len(events))
    if links:
        out.append("\n\n")
        out.append("LINKS", section_style)
        for link in links[:MAX_SHOWN]:
            out.append("\n  ")
            out.append("trace ", label_style)
            out.append(sanitize(str(link.get("trace_id", "?"))))
            out.append("  span ", label_style)
            out.append(sanitize(str(link.get("span_id", "?"))))
            attributes = link.get("attributes")
            if isinstance(attributes, Mapping) and attributes:
                out.append("  " + _clipped(compact_json(attributes)), label_style)
        _append_rest(out, len(links))


def _append_event(out: Text, event: Mapping[str, Any], start_ns: int, label_style: str) -> None:
    out.append("\n  ")
    when = event.get("time")
    offset = display.duration((when - start_ns) / 1e6) if isinstance(when, int) and when >= start_ns else "?"
    out.append(f"+{offset:<8}", label_style)
    out.append(single_line(str(event.get("name") or "(unnamed)"), 120))
    attributes = event.get("attributes")
    if not isinstance(attributes, Mapping):
        return
    if "exception.type" in attributes or "exception.message" in attributes:
        kind, message = attributes.get("exception.type"), attributes.get("exception.message")
        said = ": ".join(str(part) for part in (kind, message) if part not in (None, ""))
        out.append("  " + single_line(said, 300), "bold red")
        stack = attributes.get("exception.stacktrace")
        if isinstance(stack, str) and stack.strip():
            lines = stack.rstrip("\n").split("\n")
            for line in lines[-STACK_LINES:]:
                out.append("\n" + " " * 12 + _clipped(line), label_style)
        rest = {key: value for key, value in attributes.items() if key not in _EXCEPTION_KEYS}
    else:
        rest = dict(attributes)
    if rest:
        out.append("  " + _clipped(compact_json(rest)), label_style)


def _append_rest(out: Text, count: int) -> None:
    if count > MAX_SHOWN:
        out.append(f"\n  {count - MAX_SHOWN:,} more: r for raw", "dim italic")


def _clipped(text: str) -> str:
    kept, hidden = chat.clip(text, 300)
    return sanitize(kept) + (" " + chat.more_note(hidden) if hidden else "")


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _epoch_ns(started: datetime) -> int:
    moment = started if started.tzinfo else started.replace(tzinfo=timezone.utc)  # the store's times are UTC
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1_000  # whole numbers: no float in between
