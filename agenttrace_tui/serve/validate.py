"""Trace-format lines checked before they are acknowledged, so a client learns at once what is wrong.

The rules and reasons are the ingest's (store/write/parse_sql.py, docs/trace-format.md), applied per line in
Python: the collector refuses a bad body with 400 instead of storing a reject it was never told about. A test
holds the two in agreement on the format's examples and on bad lines of every kind.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import orjson

from agenttrace_tui.format import (
    INT32_RANGE,
    KINDS,
    MAX_EPOCH_US,
    MAX_TIME,
    MIN_EPOCH_US,
    MIN_TIME,
    NUMBER_RANGES,
    SPAN_END_PAST_RANGE,
    STATUSES,
    USAGE_FIELDS,
    out_of_range,
    time_out_of_range,
)

_RFC3339: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_INT32: Final = INT32_RANGE
_STRING_FIELDS: Final = ("span_id", "session_name", "path", "parent_id", "name", "model", "provider")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(line: bytes) -> Any:
    """orjson, and the stdlib for the integers beyond 64 bits orjson refuses (and DuckDB accepts)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line, parse_constant=_reject_constant)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    return "an object"


def dumps_line(record: Any) -> bytes:
    """One record as one JSON line (no newline); integers beyond 64 bits, which orjson refuses, kept exact."""
    try:
        return orjson.dumps(record)
    except TypeError:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _short(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else dumps_line(value).decode()
    return text[:limit]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    """Integers, and whole-number floats such as 5.0 (JSON Schema counts those as integers too)."""
    return _is_number(value) and (isinstance(value, int) or (math.isfinite(value) and value == math.floor(value)))


def _epoch_us(value: int | float) -> float:
    magnitude = abs(value)
    if magnitude >= 1e17:
        return value / 1000
    if magnitude >= 1e14:
        return value
    if magnitude >= 1e11:
        return value * 1000
    return value * 1_000_000


def _parse_rfc3339(text: str) -> datetime | None:
    match = _RFC3339.match(text)
    if match is None:
        return None
    date, clock, fraction, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{date}T{clock}{(fraction or '')[:7]}{offset}")
    except ValueError:
        return None


def _in_time_range(moment: datetime) -> bool:
    """Within format.MIN_TIME..MAX_TIME in UTC (compared without converting: year 0 or 10000 in UTC has no
    datetime)."""
    try:
        return MIN_TIME <= moment <= MAX_TIME
    except OverflowError:  # pragma: no cover - aware comparisons go through utcoffset, not a conversion
        return False


def _time_problem(record: Mapping[str, Any], field: str) -> str | None:
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, str):
        moment = _parse_rfc3339(value)
        if moment is not None:
            return None if _in_time_range(moment) else time_out_of_range(field, value[:60])
        return f"{field}: not an RFC 3339 timestamp with a UTC offset (e.g. 2025-01-31T12:00:00Z): {value[:60]}"
    if _is_number(value):
        if isinstance(value, float) and not math.isfinite(value):
            return f"{field}: epoch number out of range: {_short(value)}"
        if MIN_EPOCH_US <= _epoch_us(value) <= MAX_EPOCH_US:
            return None
        return f"{field}: epoch number out of range: {_short(value)}"
    return f"{field}: must be an RFC 3339 string or an epoch number, got {_type_name(value)}"


def _non_negative_problem(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not (_is_number(value) and math.isfinite(value) and value >= 0):
        return f"{field}: must be a number >= 0, got {_short(value)}"
    greatest = NUMBER_RANGES[field][1]
    return out_of_range(field, _short(value), greatest) if value > greatest else None


def _span_end_problem(record: Mapping[str, Any]) -> str | None:
    """A span's end, start_time + duration_ms, stays within the time range (the ingest's rule)."""
    start: Any = record.get("start_time")
    duration: Any = record.get("duration_ms")
    if not _is_number(duration) or not math.isfinite(duration):
        return None
    if isinstance(start, str):
        moment = _parse_rfc3339(start)
        if moment is None:
            return None
        delta = moment - MIN_TIME
        start_us = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    elif _is_number(start):
        start_us = math.floor(_epoch_us(start))
    else:
        return None
    return SPAN_END_PAST_RANGE if start_us + round(duration * 1000) > MAX_EPOCH_US else None


def _string_problem(field: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return None
    return f"{field}: must be a string, got {_type_name(value)}"


def _error_problem(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return None
    if not isinstance(value, dict):
        return f"error: must be a string or an object {{type, message, stack}}, got {_type_name(value)}"
    if any(value.get(key) is not None and not isinstance(value.get(key), str) for key in ("type", "message", "stack")):
        return "error: type, message and stack must be strings"
    return None


def _usage_problem(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"usage: must be an object, got {_type_name(value)}"
    for token in USAGE_FIELDS:
        count = value.get(token)
        if count is None:
            continue
        if not (_is_integer(count) and count >= 0):
            return f"usage.{token}: must be an integer >= 0, got {_short(count)}"
        greatest = NUMBER_RANGES[f"usage.{token}"][1]
        if count > greatest:
            return out_of_range(f"usage.{token}", _short(count), greatest)
    return None


def _status_code_problem(value: Any) -> str | None:
    if value is None:
        return None
    if _is_integer(value) and _INT32[0] <= value <= _INT32[1]:
        return None
    return f"status_code: must be an integer, got {_short(value)}"


def _span_problem(record: Mapping[str, Any]) -> str | None:
    checks: list[Callable[[], str | None]] = [
        lambda: "start_time: required" if record.get("start_time") is None else None,
        lambda: _time_problem(record, "start_time"),
        lambda: _time_problem(record, "end_time"),
        lambda: _non_negative_problem("duration_ms", record.get("duration_ms")),
        lambda: _span_end_problem(record),
        lambda: _non_negative_problem("first_token_ms", record.get("first_token_ms")),
        *(lambda field=field: _string_problem(field, record.get(field)) for field in _STRING_FIELDS),
        lambda: (
            f"kind: must be one of {', '.join(KINDS)}; got {_short(record['kind'])}"
            if record.get("kind") is not None and record.get("kind") not in KINDS else None
        ),
        lambda: (
            f'status: must be "ok" or "error", got {_short(record["status"])}'
            if record.get("status") is not None and record.get("status") not in STATUSES else None
        ),
        lambda: _status_code_problem(record.get("status_code")),
        lambda: _error_problem(record.get("error")),
        lambda: _usage_problem(record.get("usage")),
        lambda: _non_negative_problem("cost_usd", record.get("cost_usd")),
    ]
    for check in checks:
        problem = check()
        if problem is not None:
            return problem
    return None


def _header_session_id(headers: Any) -> str | None:
    if not isinstance(headers, dict):
        return None
    for name, value in headers.items():
        if name.lower() == "helicone-session-id" and isinstance(value, str) and value:
            return value
    return None


def record_problem(record: Any) -> str | None:
    """The first reason a decoded record is not valid trace format, or None."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {_type_name(record).split(' ')[-1]}"
    record_type = record.get("type")
    if record_type is not None and record_type not in ("span", "session"):
        return f'type: must be "span" or "session", got {_short(record_type)}'
    version = record.get("v")
    if version is not None and not (_is_number(version) and version == 1):
        return f"v: unsupported format version {_short(version, 20)} (this agenttrace reads 1)"
    headers = record.get("headers")
    if headers is not None:
        if not isinstance(headers, dict):
            return f"headers: must be an object, got {_type_name(headers)}"
        if any(not isinstance(value, str) for value in headers.values()):
            return "headers: values must be strings"
    is_session = record_type == "session"
    session_id = record.get("session_id")
    if session_id is not None and (not isinstance(session_id, str) or session_id == ""):
        return "session_id: must be a non-empty string"
    if session_id is None and (is_session or _header_session_id(headers) is None):
        return "session_id: required" + ("" if is_session else " (or a Helicone-Session-Id header)")
    user_problem = _string_problem("user_id", record.get("user_id"))
    if user_problem is not None:
        return user_problem
    properties = record.get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            return f"properties: must be an object, got {_type_name(properties)}"
        for value in properties.values():
            if isinstance(value, (list, dict)):
                return f"properties: values must be strings, numbers or booleans, got {_type_name(value).split(' ')[-1]}"
    if not is_session:
        return _span_problem(record)
    if record.get("name") is not None and not isinstance(record.get("name"), str):
        return "name: must be a string"
    tags = record.get("tags")
    if tags is not None and (not isinstance(tags, list) or any(not isinstance(tag, str) for tag in tags)):
        return "tags: must be an array of strings"
    return None


def line_problem(line: bytes) -> str | None:
    """The first reason one line (without its newline) is not a valid trace-format record, or None."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (bad byte at column {exc.start + 1})"
    try:
        record = _loads(line)
    except ValueError:
        return "not valid JSON"
    return record_problem(record)


def split_lines(body: bytes) -> list[bytes]:
    """The body's non-blank lines, stripped of CR and surrounding blanks (the ingest ignores both)."""
    return [stripped for raw in body.split(b"\n") if (stripped := raw.strip(b" \t\r"))]
