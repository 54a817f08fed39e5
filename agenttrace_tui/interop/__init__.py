"""Other tools' trace files → trace-format v1 records: OpenTelemetry OTLP JSON and Helicone log bodies.

Pure Python over orjson (no DuckDB, no Textual): `agenttrace ingest` converts a file before validating it,
and the HTTP collector converts each posted body.

    kind = sniff(head)                       # NATIVE, OTLP or HELICONE, from the first line's keys
    converted = convert_file(kind, data)     # records and rejects, with source line numbers

docs/interop.md describes the mapping.
"""

from __future__ import annotations

import enum
import gc
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import orjson

from agenttrace_tui.interop.errors import ShapeError

if TYPE_CHECKING:
    from agenttrace_tui.interop.otlp import OtelSpan
    from agenttrace_tui.interop.otlp_logs import OtelLog

# The converters (interop.otlp, interop.helicone) are imported where they are used: `agenttrace ingest` needs
# only `sniff` for a file in the trace format, and the converters' imports cost ~20 ms at every start.

__all__ = [
    "Converted",
    "ShapeError",
    "SourceFormat",
    "convert_file",
    "helicone_body_to_records",
    "is_logs_request",
    "otlp_request_to_records",
    "sniff",
]

SNIFF_BYTES: Final = 64 * 1024
OTLP_KEYS: Final = frozenset({"resourceSpans", "resource_spans", "resourceLogs", "resource_logs"})
"""An OTLP trace export, or a log export (interop/otlp_logs.py): a file may hold both."""
HELICONE_KEYS: Final = frozenset({"providerRequest"})
_FIRST_KEY: Final = re.compile(rb'\A\s*[\[{]?\s*\{?\s*"((?:[^"\\]|\\.)*)"\s*:')
_BOM: Final = b"\xef\xbb\xbf"
MAX_REASON_CHARS: Final = 300


class SourceFormat(enum.StrEnum):
    NATIVE = "native"
    OTLP = "otlp"
    HELICONE = "helicone"


@dataclass
class Converted:
    records: list[tuple[int, bytes]] = field(default_factory=list)
    """(source line number, one trace-format JSON record without newline), in source order."""
    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    """(source line number, one-line reason, the raw line text)."""


def _by_keys(keys: Any) -> SourceFormat:
    if not isinstance(keys, (dict, list, set, frozenset)):
        return SourceFormat.NATIVE
    if OTLP_KEYS.intersection(keys):
        return SourceFormat.OTLP
    if HELICONE_KEYS.intersection(keys):
        return SourceFormat.HELICONE
    return SourceFormat.NATIVE


def sniff(head: bytes) -> SourceFormat:
    """The format of a file from its first (up to 64 KiB of) bytes: the top-level keys of the first non-blank
    line, or of a whole pretty-printed document. Never raises; anything unknown is NATIVE."""
    try:
        head = head[:SNIFF_BYTES]
        if head.startswith(_BOM):
            head = head[len(_BOM):]
        stripped = head.lstrip()
        if not stripped:
            return SourceFormat.NATIVE
        first_line = stripped.split(b"\n", 1)[0]
        try:
            value = orjson.loads(first_line)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value = value[0]
        if isinstance(value, dict):
            return _by_keys(value)
        try:  # a pretty-printed document that fits in the head
            value = orjson.loads(stripped)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                value = value[0]
            if isinstance(value, dict):
                return _by_keys(value)
        except orjson.JSONDecodeError:
            pass
        match = _FIRST_KEY.match(stripped)  # a document too big for the head: its first key decides
        if match is not None:
            first_key = match.group(1).decode("utf-8", "replace")
            if first_key in OTLP_KEYS:
                return SourceFormat.OTLP
            if first_key in HELICONE_KEYS or (
                    first_key in ("providerResponse", "timing") and b'"providerRequest"' in stripped):
                return SourceFormat.HELICONE
        return SourceFormat.NATIVE
    except Exception:  # sniffing is a guess: a strange head goes to the validator, which says what is wrong
        return SourceFormat.NATIVE


def is_logs_request(request: Any) -> bool:
    """An OTLP logs export (resourceLogs), not a trace export."""
    return isinstance(request, Mapping) and (request.get("resourceLogs") is not None
                                             or request.get("resource_logs") is not None)


def otlp_request_to_records(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The records of one decoded ExportTraceServiceRequest or ExportLogsServiceRequest (trees within this
    request only; the store places the pieces of a trace together). Raises ShapeError (a ValueError) with a
    one-line reason when the request has the wrong shape."""
    if is_logs_request(request):
        from agenttrace_tui.interop.otlp_logs import build_records_with_logs, decode_logs

        return [record for _, record in build_records_with_logs([], decode_logs(request))]
    from agenttrace_tui.interop.otlp import request_to_records

    return request_to_records(request)


def helicone_body_to_records(body: Mapping[str, Any], headers: Mapping[str, str] | None = None, *,
                             provider: str | None = None, received_ns: int | None = None) -> list[dict[str, Any]]:
    """The record of one Helicone manual-logger body; HTTP `headers` win over `providerRequest.meta`
    (names case-insensitive). Raises ShapeError (a ValueError) when the body has the wrong shape."""
    from agenttrace_tui.interop.helicone import body_to_records

    return body_to_records(body, headers, provider=provider, received_ns=received_ns)


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.strip():
            yield number, line.rstrip(b"\r")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:MAX_REASON_CHARS]


def _documents(data: bytes, rejects: list[tuple[int, str, str]]) -> Iterator[tuple[int, bytes, Any]]:
    """(line number, raw text, parsed value) per JSON line, or once for a whole pretty-printed document.
    Lines that are not JSON go to `rejects`."""
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    lines = list(_lines(data))
    if not lines:
        return
    first_number, first_line = lines[0]
    try:
        orjson.loads(first_line)
        whole = False
    except orjson.JSONDecodeError:
        whole = first_line.strip() in (b"{", b"[") or len(lines) == 1
    if whole:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            rejects.append((first_number, f"not valid JSON: {_reason(exc)}", _text(data)))
            return
        items = value if isinstance(value, list) else [value]
        for item in items:
            yield first_number, data, item
        return
    for number, line in lines:
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            rejects.append((number, f"not valid JSON: {_reason(exc)}", _text(line)))
            continue
        yield number, line, value


def _dumps(record: Mapping[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS)


def _convert_otlp(data: bytes) -> Converted:
    from agenttrace_tui.interop.otlp import decode_request
    from agenttrace_tui.interop.otlp_logs import build_records_with_logs, decode_logs

    converted = Converted()
    spans: list[OtelSpan] = []
    logs: list[OtelLog] = []
    for number, raw, value in _documents(data, converted.rejects):
        logs_request = is_logs_request(value)
        try:
            if logs_request:
                logs.extend(decode_logs(value, number))
            else:
                spans.extend(decode_request(value, number))
        except ShapeError as exc:
            what = "an OTLP logs request" if logs_request else "an OTLP trace request"
            converted.rejects.append((number, f"not {what}: {_reason(exc)}", _text(raw)))
    _emit(converted, build_records_with_logs(spans, logs), {})
    return converted


def _convert_helicone(data: bytes) -> Converted:
    from agenttrace_tui.interop.helicone import body_to_records

    converted = Converted()
    raws: dict[int, bytes] = {}
    produced: list[tuple[int, dict[str, Any]]] = []
    for number, raw, value in _documents(data, converted.rejects):
        try:
            produced.extend((number, record) for record in body_to_records(value))
        except ShapeError as exc:
            converted.rejects.append((number, f"not a Helicone log body: {_reason(exc)}", _text(raw)))
        raws[number] = raw
    _emit(converted, produced, raws)
    return converted


def _emit(converted: Converted, produced: list[tuple[int, dict[str, Any]]], raws: Mapping[int, bytes]) -> None:
    for number, record in produced:
        try:
            converted.records.append((number, _dumps(record)))
        except (TypeError, orjson.JSONEncodeError) as exc:  # e.g. an integer beyond 64 bits in an attribute
            converted.rejects.append((number, f"cannot write the converted record: {_reason(exc)}",
                                      _text(raws.get(number, b""))))
    converted.records.sort(key=lambda item: item[0])
    converted.rejects.sort(key=lambda item: item[0])


CONVERTERS: Final[dict[SourceFormat, Callable[[bytes], Converted]]] = {
    SourceFormat.OTLP: _convert_otlp,
    SourceFormat.HELICONE: _convert_helicone,
}


def convert_file(kind: SourceFormat, data: bytes) -> Converted:
    """Convert a whole (decompressed) file. Bad lines become rejects with a reason, good lines around them are
    kept; trees are built after every line is read. Never raises."""
    converter = CONVERTERS.get(kind)
    if converter is None:
        return Converted(rejects=[(1, f"no converter for {kind} files: they are validated as trace-format lines",
                                   "")])
    collecting = gc.isenabled()
    gc.disable()  # a file's spans are one growing heap of acyclic objects: cyclic GC passes cost 40% of the time
    try:
        return converter(data)
    except Exception as exc:  # a bug of ours must not stop an ingest: the whole file is reported, not lost
        return Converted(rejects=[(1, f"conversion failed ({type(exc).__name__}: {_reason(exc)})",
                                   _text(data[:1_000_000]))])
    finally:
        if collecting:
            gc.enable()
