"""Trace-format lines checked before they are acknowledged, so a client learns at once what is wrong.

One set of rules decides both the collector's answer and the ingest: the ingest's (store/write/parse_sql.py,
docs/trace-format.md). Most lines are judged here in Python, by a reading of those rules that a differential
test (tests/serve/test_serve_rules.py) holds equal to the ingest's; a line this reading could get wrong is
judged by the ingest's own code instead (store/write/ingest_check.py): JSON that Python's reader does not
read as DuckDB's does (a key twice, a lone surrogate, deep nesting, not JSON at all), and lines that redaction
or the strict-JSON check would look at. So the collector answers 200 only for lines the ingest will store.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
from agenttrace_tui.interop import HELICONE_KEYS, OTLP_KEYS, SourceFormat, sniff
from agenttrace_tui.store import IngestCheck, ingest_check

_RFC3339: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_INT32: Final = INT32_RANGE
_STRING_FIELDS: Final = ("span_id", "session_name", "path", "parent_id", "name", "model", "provider")


class _Unsure(Exception):
    """Python's reading of a line could differ from the ingest's (DuckDB's): the ingest judges it."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) < len(pairs):  # a key twice: DuckDB reads the first, Python the last
        raise _Unsure
    return record


def _constant(name: str) -> Any:
    raise _Unsure  # NaN, Infinity: not JSON, though DuckDB's reader takes them


_DECODER: Final = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)
_DOUBTFUL: Final = re.compile(r"(\\u[dD][89a-fA-F])|[0-9]{300}")
"""A surrogate escape (DuckDB refuses a lone one), or a number of 300 digits or more (beyond a float: DuckDB
reads it as one, Python as an integer no float holds)."""


def _read(line: bytes, text: str) -> Any:
    """The JSON value of a line as DuckDB's reader has it, or _Unsure. The stdlib reads integers beyond
    64 bits exactly (DuckDB takes them too; orjson refuses them) but takes lone surrogates, which DuckDB refuses
    (orjson too: it answers for lines with a surrogate escape)."""
    doubt = _DOUBTFUL.search(text)
    if doubt is not None:
        if doubt.group(1) is None:
            raise _Unsure
        try:
            orjson.loads(line)
        except orjson.JSONDecodeError:
            raise _Unsure from None
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise _Unsure from None


def _duckdb_json_type(value: Any) -> str:
    """A value's type as the ingest names it (DuckDB's json_type, lower case)."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else "boolean"
    if isinstance(value, int):
        return "ubigint" if 0 <= value < 2**64 else "bigint" if -(2**63) <= value < 0 else "double"
    return {str: "varchar", float: "double", list: "array"}.get(type(value), "object")


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


def _epoch_us(value: int | float) -> int | float:
    """Microseconds since the epoch, as the ingest's SQL computes them (parse_sql._epoch_us): an integer stays
    an integer (nanoseconds near year 9999 lose their last digits, not their value to a float), a float is
    floored to whole microseconds."""
    if isinstance(value, int):
        if value >= 10**17:
            return value // 1000
        if value >= 10**14:
            return value
        if value >= 10**11:
            return value * 1000
        return value * 1_000_000
    magnitude = abs(value)
    if magnitude >= 1e17:
        return math.floor(value / 1000)
    if magnitude >= 1e14:
        return math.floor(value)
    if magnitude >= 1e11:
        return math.floor(value * 1000)
    return math.floor(value * 1_000_000)


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
    """The first header named Helicone-Session-Id in any case, as the ingest takes it (empty is none)."""
    if not isinstance(headers, dict):
        return None
    for name, value in headers.items():
        if name.lower() == "helicone-session-id":
            return value if isinstance(value, str) and value else None
    return None


def record_problem(record: Any) -> str | None:
    """The first reason a decoded record is not valid trace format, or None."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {_duckdb_json_type(record)}"
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


_OTHER_FORMATS: Final = OTLP_KEYS | HELICONE_KEYS


def _other_format(keys: Any) -> str | None:
    """A line with the top-level keys of an OTLP request or a Helicone log body makes `agenttrace ingest` read
    the file it starts as that format (interop.sniff): refused, whichever line it is."""
    found = sorted(_OTHER_FORMATS.intersection(keys))
    return _read_as_other_format(found[0]) if found else None


def _read_as_other_format(key: str) -> str:
    return (f"{key}: a key of an OTLP request or a Helicone log body, and the ingest reads a file starting "
            "with it as one: post those to /v1/traces or /custom/v1/log")


@dataclass
class Verdicts:
    """The first pass over some lines: `problems[i]` is line i's reason (None: stored), except for the lines
    in `unsure`, which only `settle()` knows (it runs the ingest's SQL: ~40 ms, off the event loop)."""

    lines: Sequence[bytes]
    problems: list[str | None]
    unsure: list[int]

    def settle(self, check: IngestCheck) -> list[str | None]:
        if self.unsure:
            reasons = check.reasons([self.lines[index] for index in self.unsure])
            for index, reason in zip(self.unsure, reasons, strict=True):
                if reason is None and sniff(self.lines[index]) is not SourceFormat.NATIVE:
                    reason = _read_as_other_format("/".join(sorted(_OTHER_FORMATS)))
                self.problems[index] = reason
            self.unsure = []
        return self.problems


def first_pass(lines: Sequence[bytes], check: IngestCheck) -> Verdicts:
    """Judge each line (without its newline) in Python where that reading is the ingest's; set the others
    aside for the ingest's own code. `check`: the ingest's rules now (store.ingest_check())."""
    verdicts = Verdicts(lines, [], [])
    for index, line in enumerate(lines):
        problem: str | None = None
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            verdicts.problems.append(f"not valid UTF-8 (bad byte at column {exc.start + 1})")
            continue
        try:
            if check.needs_ingest(line):
                raise _Unsure
            try:
                record = _read(line, text)
            except ValueError:  # not JSON; DuckDB agrees (tests/serve/test_serve_rules.py holds it)
                verdicts.problems.append("not valid JSON")
                continue
            problem = (_other_format(record) if isinstance(record, dict) else None) or record_problem(record)
        except _Unsure:
            verdicts.unsure.append(index)
        verdicts.problems.append(problem)
    return verdicts


def judge_lines(lines: Sequence[bytes], check: IngestCheck) -> list[str | None]:
    """The reason the ingest would reject each line (without its newline), or None where it stores it."""
    return first_pass(lines, check).settle(check)


def line_problem(line: bytes, check: IngestCheck | None = None) -> str | None:
    """The first reason one line (without its newline) is not a valid trace-format record, or None."""
    return judge_lines([line], check if check is not None else ingest_check())[0]


def split_lines(body: bytes) -> list[bytes]:
    """The body's non-blank lines, stripped of CR and surrounding blanks (the ingest ignores both)."""
    return [stripped for raw in body.split(b"\n") if (stripped := raw.strip(b" \t\r"))]
