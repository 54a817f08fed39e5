"""Fuzzing ingest: random and mutated lines against an independent oracle (Python's json + the JSON Schema).

Every example writes a small trace file (random records, byte-level mutations, hostile lines; CRLF endings,
a BOM, a missing final newline), ingests it into a real DuckDB store and checks, line by line, that each line
the oracle calls valid was stored and each one it calls invalid was rejected with a one-line reason naming a
field the schema also complains about. Further properties: A then B equals A+B, re-ingesting changes
nothing, and the order of a span's start and end lines does not matter.

The default run is small and deterministic (derandomized, ~40 examples per property). The long run:

    AGENTTRACE_LONG_FUZZ=1 python -m pytest -m long_fuzz -p no:randomly tests/test_fuzz_ingest.py

(`AGENTTRACE_FUZZ_EXAMPLES=N` sets its examples per property, default 2000.)

Ingest bugs found by this file that the ingest owner has yet to fix are listed in KNOWN_INGEST_BUGS: lines
that hit one are still ingested (no crash, counted) but their verdict is not compared; each bug also has a
strict xfail test below with its exact input, which starts failing (XPASS) once the bug is fixed.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from agenttrace_tui.format import json_schema
from agenttrace_tui.store import IngestResult, Store

LONG = bool(os.environ.get("AGENTTRACE_LONG_FUZZ"))
LONG_EXAMPLES = int(os.environ.get("AGENTTRACE_FUZZ_EXAMPLES", "2000"))

DEFAULT_SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
STORE_PROPERTY_SETTINGS = settings(DEFAULT_SETTINGS, max_examples=10)
"""The whole-store properties ingest four or five times per example: fewer examples by default."""
LONG_SETTINGS = settings(
    max_examples=LONG_EXAMPLES, deadline=None, derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
long_fuzz = pytest.mark.long_fuzz
skip_unless_long = pytest.mark.skipif(not LONG, reason="long fuzz run: set AGENTTRACE_LONG_FUZZ=1 (docs/reliability.md)")

VALIDATOR = Draft202012Validator(json_schema(), format_checker=FormatChecker())

INT32 = (-(2**31), 2**31 - 1)
INT64_MAX = 2**63 - 1
TYPED_NUMBERS = ("duration_ms", "first_token_ms", "cost_usd")
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")


# -- the oracle ---------------------------------------------------------------------------------------------


class _NonStandardConstant(ValueError):
    """NaN, Infinity and -Infinity: Python's json accepts them, JSON (RFC 8259) does not."""


def _refuse_constant(name: str) -> Any:
    raise _NonStandardConstant(name)


def _strings_encodable(value: Any) -> bool:
    """Lone surrogates (`"\\ud800"`) parse in Python but cannot be stored as UTF-8: rejecting them is right."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_strings_encodable(k) and _strings_encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_strings_encodable(v) for v in value)
    return True


def _within_store_limits(record: dict[str, Any]) -> bool:
    """What the store's typed columns can hold, beyond the schema: finite doubles, 32-bit status codes,
    64-bit token counts. (The schema has no bounds there; see docs/reliability.md.)"""
    if record.get("type") == "session":
        return True
    for name in TYPED_NUMBERS:
        value = record.get(name)
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1.7e308:
            return False  # an integer literal beyond any double (10**400)
    code = record.get("status_code")
    if isinstance(code, (int, float)) and not isinstance(code, bool) and not INT32[0] <= code <= INT32[1]:
        return False
    usage = record.get("usage")
    if isinstance(usage, dict):
        for name in TOKEN_FIELDS:
            tokens = usage.get(name)
            if isinstance(tokens, (int, float)) and not isinstance(tokens, bool) and tokens > INT64_MAX:
                return False
    return True


@dataclass(frozen=True)
class Verdict:
    valid: bool
    fields: frozenset[str]  # top-level fields the schema complains about (for an invalid object)


def _complaint_fields(record: Any) -> frozenset[str]:
    fields: set[str] = set()

    def walk(error: Any) -> None:
        if error.absolute_path:
            fields.add(str(error.absolute_path[0]))
        elif error.validator == "required":
            fields.update(str(name) for name in error.validator_value)
        for sub in error.context or ():
            walk(sub)

    for error in VALIDATOR.iter_errors(record):
        walk(error)
    return frozenset(fields)


def oracle(raw: bytes, *, file_start: bool = False) -> Verdict | None:
    """What the format says about one line (without its newline); None for a blank line, which carries nothing."""
    if file_start and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a BOM opening the file is dropped (docs/store.md)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Verdict(False, frozenset())
    if text.strip(" \t\r\n") == "":
        return None
    try:
        record = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return Verdict(False, frozenset())
    if not isinstance(record, dict):
        return Verdict(False, frozenset())
    if not _strings_encodable(record):
        return Verdict(False, frozenset())  # DuckDB's parser calls it not JSON: no field to name
    if not _within_store_limits(record):  # a field the line has, or one the schema misses, may be named
        return Verdict(False, frozenset(record) | _complaint_fields(record))
    fields = _complaint_fields(record)
    return Verdict(not fields and VALIDATOR.is_valid(record), fields)


# -- ingest bugs the ingest owner has yet to fix (each has a strict xfail test below) -------------------------

def _ambiguous(text: str) -> bool:
    """Not bugs, just undefined: duplicate keys (RFC 8259 leaves the winner open), and two spellings of the
    Helicone-Session-Id header in one record."""
    pairs: list[list[tuple[str, Any]]] = []
    try:
        json.loads(text, object_pairs_hook=lambda p: pairs.append(p) or dict(p))
    except (ValueError, RecursionError):
        return False
    for members in pairs:
        keys = [k for k, _ in members]
        lowered = [k.lower() for k in keys]
        if len(set(keys)) != len(keys) or lowered.count("helicone-session-id") > 1:
            return True
    return False


KNOWN_INGEST_BUGS: dict[str, Callable[[str], bool]] = {}
"""Bugs found by the fuzz and not fixed yet (description → predicate); the fuzz skips what they match.
Empty: the impossible times, NaN/Infinity, trailing commas and leading tabs it found are fixed, and
BUG_CASES below keep them fixed."""


def known_bug(raw: bytes) -> bool:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _ambiguous(text) or any(hits(text) for hits in KNOWN_INGEST_BUGS.values())


# -- generators ---------------------------------------------------------------------------------------------

SESSION_IDS = ["s1", "s2", "s3", "[bold]s4[/]"]
SPAN_IDS = ["a", "b", "c", "d", "e"]

good_times = st.one_of(
    st.sampled_from(["2025-03-01T12:00:00Z", "2025-03-01t12:00:00.5z", "2025-03-01T13:00:01.25+01:00",
                     "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-02-29T00:00:00-12:00"]),
    st.integers(0, 10**11 - 1), st.integers(10**11, 10**17), st.integers(10**17, 253_402_300_799_999_999_999),
    st.floats(0, 1e11, allow_nan=False, allow_infinity=False),
)
bad_times = st.sampled_from([
    "2025-02-30T00:00:00Z", "2025-13-01T00:00:00Z", "2025-03-01 12:00:00Z", "2025-03-01T12:00:00",
    "2025-01-01T23:59:60Z", "yesterday", "", -1, -0.5, 2.6e20, 253_402_300_800_000_000_000, True, [], {},
    "2025-03-01T12:00:00Z\u202e", "\u0662025-01-01T10:00:00Z", 10**40,
])
hostile_text = st.sampled_from([
    "[bold red]x[/]", "[link=https://evil.example]click[/link]", "\x1b[2J", "\x1b]52;c;ZXZpbA==\x07",
    "\x1b]8;;https://evil.example\x07x\x1b]8;;\x07", "\x07\x08\x08", "\u202eabc\u2066", "\x00", "\ufeff", "é€😀",
    "\r\n", "\\", '"', "",
])
texts = st.one_of(st.text(max_size=12), hostile_text)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False), texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=12,
)


def _maybe_bad(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(good, good, good, good, bad, st.none())


span_fields: dict[str, st.SearchStrategy[Any]] = {
    "span_id": _maybe_bad(st.sampled_from(SPAN_IDS), st.one_of(st.integers(), st.lists(st.integers(), max_size=2))),
    "session_id": _maybe_bad(st.sampled_from(SESSION_IDS), st.sampled_from(["", 5, False, ["s1"]])),
    "start_time": _maybe_bad(good_times, bad_times),
    "end_time": _maybe_bad(good_times, bad_times),
    "duration_ms": _maybe_bad(st.floats(0, 1e9), st.sampled_from([-1, "5", True, 1e400, 10**400])),
    "first_token_ms": _maybe_bad(st.integers(0, 10**6), st.sampled_from([-0.1, "x", [1]])),
    "session_name": _maybe_bad(texts, st.integers()),
    "path": _maybe_bad(st.sampled_from(["/", "/a", "a/b/", "//x//y", " /t ", "/[bold]x[/]"]), st.integers()),
    "parent_id": _maybe_bad(st.sampled_from(SPAN_IDS), st.booleans()),
    "kind": _maybe_bad(st.sampled_from(["llm", "tool", "agent", "retrieval", "embedding", "other"]),
                       st.sampled_from(["LLM", "chain", 3])),
    "name": _maybe_bad(texts, st.dictionaries(texts, texts, max_size=1)),
    "status": _maybe_bad(st.sampled_from(["ok", "error"]), st.sampled_from(["failed", "OK", 1])),
    "status_code": _maybe_bad(st.sampled_from([200, 429, 500, -1, -3, 200.0]),
                              st.sampled_from([200.5, "200", 2**31, -(2**31) - 1, 10**30])),
    "error": _maybe_bad(st.one_of(texts, st.fixed_dictionaries({}, optional={"type": texts, "message": texts,
                                                                             "stack": texts, "code": json_scalars})),
                        st.sampled_from([500, ["x"], {"message": 5}, True])),
    "model": _maybe_bad(st.sampled_from(["gpt-4o", "gpt-4o-mini", "acme-llm-1", "[i]m[/i]"]), st.integers()),
    "provider": _maybe_bad(st.sampled_from(["openai", "anthropic"]), st.booleans()),
    "usage": _maybe_bad(
        st.fixed_dictionaries({}, optional={
            name: st.one_of(st.integers(0, 2**40), st.sampled_from([5.0, 0, None])) for name in TOKEN_FIELDS
        } | {"vendor": json_scalars}),
        st.one_of(st.sampled_from([5, "x", []]), st.fixed_dictionaries({"input_tokens": st.sampled_from(
            [-3, 1.5, "5", True, 2**63, 10**30])})),
    ),
    "cost_usd": _maybe_bad(st.floats(0, 1e6), st.sampled_from([-0.01, "1", float("inf")])),
    "input": json_values,
    "output": json_values,
    "properties": _maybe_bad(st.dictionaries(texts, st.one_of(texts, st.integers(), st.booleans(), st.none(),
                                                              st.floats(allow_nan=False)), max_size=3),
                             st.one_of(st.sampled_from([[], "x", 1]),
                                       st.dictionaries(texts, st.lists(texts, max_size=1), min_size=1, max_size=1))),
    "user_id": _maybe_bad(texts, st.integers()),
    "headers": _maybe_bad(
        st.dictionaries(st.sampled_from(["Helicone-Session-Id", "Helicone-Session-Path", "Helicone-Property-Tier",
                                         "Helicone-User-Id", "X-Other", "Helicone-Request-Id"]),
                        st.one_of(st.sampled_from(SESSION_IDS), texts), max_size=3),
        st.sampled_from([{"X-Retry": 3}, [], "h"]),
    ),
    "type": st.sampled_from(["span", None, "span", "foo", 1]),
    "v": st.sampled_from([1, 1.0, None, 2, "1", True]),
    "extra_field": json_values,
}

session_fields: dict[str, st.SearchStrategy[Any]] = {
    "session_id": _maybe_bad(st.sampled_from(SESSION_IDS), st.sampled_from(["", 7])),
    "name": _maybe_bad(texts, st.integers()),
    "properties": span_fields["properties"],
    "user_id": span_fields["user_id"],
    "tags": _maybe_bad(st.lists(texts, max_size=3), st.sampled_from([["a", 1], "t", 5])),
    "headers": span_fields["headers"],
    "start_time": st.one_of(good_times, bad_times),  # just an extra field on a session record
}


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 9)) == 0:
        chosen = draw(st.sets(st.sampled_from(sorted(session_fields)), max_size=len(session_fields)))
        record: dict[str, Any] = {"type": "session"}
        for name in sorted(chosen):
            record[name] = draw(session_fields[name])
        if draw(st.booleans()):
            record.setdefault("session_id", draw(st.sampled_from(SESSION_IDS)))
        return record
    required = {"session_id", "start_time"} if draw(st.integers(0, 3)) else set()
    chosen = draw(st.sets(st.sampled_from(sorted(span_fields)), max_size=8)) | required
    return {name: draw(span_fields[name]) for name in sorted(chosen)}


def encode(record: dict[str, Any], style: int) -> bytes:
    text = json.dumps(record, ensure_ascii=style == 1, separators=(",", ":") if style == 2 else None)
    return text.encode("utf-8", errors="surrogatepass")


HOSTILE_LINES = [
    b"", b"   ", b"\t", b"{", b"}", b"[]", b"null", b'"x"', b"42", b"{}", b"{} {}", b"\x00", b"\xff\xfe",
    b'{"session_id":"s1","start_time":0,"input":"\xc0\x80"}', b'{"session_id":"s1","start_time":0}\x00',
    b'{"session_id":"s1\x00","start_time":0}', b'{"session_id":"s1","start_time":0,"input":"\\u0000"}',
    b'{"session_id":"\\ud800","start_time":0}', b"\xef\xbb\xbf{}", b'{"session_id":"s1","start_time":0',
    b"{'session_id':'s1','start_time':0}", b'{"session_id":"s1","start_time":0,"input":' + b"[" * 300 + b"]" * 300 + b"}",
    b'{"session_id":"s1","start_time":0,"input":123456789012345678901234567890e123}',
    b'{"session_id":"s1","start_time":1e400}', b'{"session_id":"s1","start_time":0,"status_code":2e2}',
    b'{"session_id":"s1","start_time":0,"input":"\x1b[2J\x1b]52;c;ZXZpbA==\x07"}',
]


@st.composite
def mutated(draw: st.DrawFn, line: bytes) -> bytes:
    """Byte-level damage: truncate, flip, insert or delete bytes, splice in hostile fragments."""
    data = bytearray(line)
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(st.integers(0, 4))
        position = draw(st.integers(0, len(data)))
        if operation == 0:
            del data[position:]
        elif operation == 1 and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif operation == 2:
            data[position:position] = draw(st.sampled_from(
                [b"\x00", b"\xff", b"\xc3", b"\r", b",", b"}", b'"', b"\\", b"NaN", b"\xe2\x80\xae", b"\x1b[2J"]))
        elif operation == 3 and position < len(data):
            del data[position:position + draw(st.integers(1, 8))]
        else:
            data += draw(st.sampled_from([b" ", b"\r", b"\t", b"x", b"}"]))
    return bytes(data).replace(b"\n", b"")


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(0, 9))
    if choice <= 5:
        return encode(draw(records()), draw(st.integers(0, 2)))
    if choice <= 7:
        return draw(mutated(encode(draw(records()), 0)))
    return draw(st.sampled_from(HOSTILE_LINES))


@dataclass(frozen=True)
class TraceFile:
    lines: tuple[bytes, ...]
    newline: bytes
    bom: bool
    final_newline: bool

    def content(self) -> bytes:
        body = self.newline.join(self.lines) + (self.newline if self.final_newline else b"")
        return (b"\xef\xbb\xbf" if self.bom else b"") + body


@st.composite
def trace_files(draw: st.DrawFn, max_lines: int = 12) -> TraceFile:
    return TraceFile(
        lines=tuple(draw(st.lists(lines(), min_size=1, max_size=max_lines))),
        newline=draw(st.sampled_from([b"\n", b"\n", b"\r\n"])),
        bom=draw(st.integers(0, 9)) == 0,
        final_newline=draw(st.integers(0, 4)) != 0,
    )


# -- running ingest -----------------------------------------------------------------------------------------


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as name:
        yield Path(name)


def ingest_bytes(db: Path, trace: Path, content: bytes) -> IngestResult:
    trace.write_bytes(content)
    return Store(db).ingest([str(trace)], force=True)


def expected_outcomes(trace: TraceFile) -> dict[int, Verdict]:
    """Line number → verdict, for non-blank lines; CRLF endings are removed like the reader does."""
    outcomes: dict[int, Verdict] = {}
    for number, line in enumerate(trace.lines, start=1):
        # A line of its own may hold a CR (mutations add them): only the ending one is the newline's.
        verdict = oracle(line, file_start=number == 1 and trace.bom)
        if verdict is not None:
            outcomes[number] = verdict
    return outcomes


def check_file(trace: TraceFile) -> None:
    with workdir() as tmp:
        result = ingest_bytes(tmp / "s.duckdb", tmp / "t.jsonl", trace.content())
        file_result = result.files[0]
        assert file_result.error is None, file_result.error
        expected = expected_outcomes(trace)
        store = Store(tmp / "s.duckdb")
        columns, rows = store.sql("SELECT line, reason, raw FROM rejects ORDER BY line")
        rejected = {int(line): (str(reason), raw) for line, reason, raw in rows}
        assert file_result.lines == len(expected)
        assert file_result.rejected == len(rejected)
        assert file_result.stored + file_result.rejected == file_result.lines
        for number, verdict in expected.items():
            raw_line = trace.lines[number - 1]
            if number == 1 and trace.bom:
                raw_line = raw_line.removeprefix(b"\xef\xbb\xbf")
            if known_bug(raw_line):
                continue
            if verdict.valid:
                assert number not in rejected, (raw_line, rejected.get(number))
                continue
            assert number in rejected, f"line {number} should be rejected: {raw_line!r}"
            reason, kept = rejected[number]
            assert reason and "\n" not in reason, reason
            if verdict.fields:  # a JSON object the schema faults: the reason names one of the faulted fields
                named = reason.split(":")[0].split(".")[0].split(" ")[0]
                assert named in verdict.fields, (raw_line, reason, sorted(verdict.fields))
            try:
                assert kept == raw_line.decode("utf-8").rstrip("\r\n"), "a reject keeps its line verbatim"
            except UnicodeDecodeError:
                assert kept  # an escaped copy
        # The stored lines are rows: spans exist exactly when some valid span line does.
        span_lines = [
            n for n, v in expected.items()
            if v.valid and not known_bug(trace.lines[n - 1])
            and json.loads(trace.lines[n - 1].removeprefix(b"\xef\xbb\xbf")).get("type") != "session"
        ]
        stored_spans = store.sql("SELECT count(*) FROM spans")[1][0][0]
        if not any(known_bug(trace.lines[n - 1]) for n in expected):
            assert (stored_spans > 0) == bool(span_lines)
            assert stored_spans <= len(span_lines)  # lines of one span_id merge into one


@given(trace=trace_files())
@DEFAULT_SETTINGS
def test_every_line_is_stored_or_rejected_as_the_format_says(trace: TraceFile) -> None:
    check_file(trace)


@long_fuzz
@skip_unless_long
@given(trace=trace_files(max_lines=30))
@LONG_SETTINGS
def test_long_every_line_is_stored_or_rejected_as_the_format_says(trace: TraceFile) -> None:
    check_file(trace)


# -- whole-store properties ---------------------------------------------------------------------------------

SNAPSHOT_SQL = {
    "spans": "SELECT * EXCLUDE (source_file, source_line) FROM spans ORDER BY span_id",
    "sessions": "SELECT * FROM sessions ORDER BY session_id",
    "properties": "SELECT * FROM session_properties ORDER BY ALL",
}


def _canonical(value: Any) -> str:
    """JSON objects compare by content: the rollup builds `properties` with json_group_object, whose key order
    follows the hash aggregation, not the data."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            pass
    return repr(value)


def snapshot(db: Path) -> dict[str, list[tuple[str, ...]]]:
    if not db.exists():
        return {}
    with duckdb.connect(str(db), read_only=True) as con:
        return {name: [tuple(map(_canonical, row)) for row in con.execute(sql).fetchall()]
                for name, sql in SNAPSHOT_SQL.items()}


def valid_span_line(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


OPTIONAL_VALID_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "end_time": st.integers(1_740_000_100, 1_740_000_200),
    "model": st.sampled_from(["gpt-4o", "acme-llm-1"]),
    "status_code": st.sampled_from([200, 500, None]),
    "output": json_values,
    "properties": st.dictionaries(st.sampled_from(["Tier", "V", "[b]k[/b]"]), st.sampled_from(["x", "y"]), max_size=2),
    "cost_usd": st.floats(0, 5),
    "name": texts,
}


@st.composite
def valid_records(draw: st.DrawFn) -> dict[str, Any]:
    """Valid spans (and a few session records) from small id pools, so spans and sessions collide."""
    if draw(st.integers(0, 7)) == 0:
        return {"type": "session", "session_id": draw(st.sampled_from(SESSION_IDS)),
                "name": draw(st.one_of(st.none(), texts)),
                "properties": draw(st.one_of(st.none(), st.dictionaries(st.sampled_from(["Tier", "V"]), texts,
                                                                        max_size=2)))}
    record: dict[str, Any] = {
        "span_id": draw(st.sampled_from(SPAN_IDS)),
        "session_id": draw(st.sampled_from(SESSION_IDS)),
        "start_time": draw(st.integers(1_740_000_000, 1_740_000_100)),
    }
    for name, strategy in OPTIONAL_VALID_FIELDS.items():
        if draw(st.booleans()):
            record[name] = draw(strategy)
    if "model" in record:
        record["usage"] = {"input_tokens": draw(st.integers(0, 5000)), "output_tokens": draw(st.integers(0, 500))}
    return record


def mixed_lines() -> st.SearchStrategy[list[bytes]]:
    return st.lists(st.one_of(valid_records().map(valid_span_line), valid_records().map(valid_span_line), lines()),
                    min_size=1, max_size=10)


def check_split_equals_whole(first: list[bytes], second: list[bytes]) -> None:
    with workdir() as tmp:
        (tmp / "a.jsonl").write_bytes(b"\n".join(first) + b"\n")
        (tmp / "b.jsonl").write_bytes(b"\n".join(second) + b"\n")
        (tmp / "ab.jsonl").write_bytes(b"\n".join(first + second) + b"\n")
        Store(tmp / "split.duckdb").ingest([str(tmp / "a.jsonl")])
        Store(tmp / "split.duckdb").ingest([str(tmp / "b.jsonl")])
        whole = Store(tmp / "whole.duckdb").ingest([str(tmp / "ab.jsonl")])
        assert snapshot(tmp / "split.duckdb") == snapshot(tmp / "whole.duckdb")
        before = snapshot(tmp / "whole.duckdb")
        again = Store(tmp / "whole.duckdb").ingest([str(tmp / "ab.jsonl")], force=True)
        assert (again.stored, again.rejected) == (whole.stored, whole.rejected)
        assert snapshot(tmp / "whole.duckdb") == before  # re-ingesting changes nothing
        rejects = Store(tmp / "whole.duckdb").sql("SELECT count(*) FROM rejects")[1][0][0]
        assert rejects == whole.rejected  # and does not duplicate its rejects


@given(first=mixed_lines(), second=mixed_lines())
@STORE_PROPERTY_SETTINGS
def test_ingesting_a_then_b_equals_a_plus_b_and_reingest_changes_nothing(first: list[bytes], second: list[bytes]) -> None:
    check_split_equals_whole(first, second)


@long_fuzz
@skip_unless_long
@given(first=mixed_lines(), second=mixed_lines())
@LONG_SETTINGS
def test_long_ingesting_a_then_b_equals_a_plus_b(first: list[bytes], second: list[bytes]) -> None:
    check_split_equals_whole(first, second)


@st.composite
def start_end_spans(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    """Spans written as the SDK does: a start line, then an end line repeating every field, adding the end."""
    pairs = []
    for index in range(draw(st.integers(1, 5))):
        common: dict[str, Any] = {
            "span_id": f"sp-{index}", "session_id": draw(st.sampled_from(SESSION_IDS)),
            "path": draw(st.sampled_from(["/", "/tools/x", "/iteration/0"])),
            "kind": draw(st.sampled_from(["llm", "tool", "agent"])), "name": draw(texts),
            "start_time": draw(st.integers(1_740_000_000, 1_740_000_100)),
            "input": draw(json_values), "properties": draw(st.dictionaries(st.sampled_from(["A", "B"]), texts, max_size=2)),
        }
        end = dict(common, end_time=draw(st.integers(1_740_000_100, 1_740_000_200)),
                   status=draw(st.sampled_from(["ok", "error"])), output=draw(json_values))
        if draw(st.booleans()):
            end["error"] = {"type": "E", "message": draw(texts)}
        pairs.append((json.dumps(common).encode(), json.dumps(end).encode()))
    return pairs


def check_order_independent(pairs: list[tuple[bytes, bytes]], order: list[int], swapped: list[bool]) -> None:
    in_order = [line for start, end in pairs for line in (start, end)]
    shuffled_pairs = [pairs[i] for i in order]
    reordered = [line for (start, end), swap in zip(shuffled_pairs, swapped) for line in ((end, start) if swap else (start, end))]
    with workdir() as tmp:
        (tmp / "a.jsonl").write_bytes(b"\n".join(in_order) + b"\n")
        (tmp / "b.jsonl").write_bytes(b"\n".join(reordered) + b"\n")
        Store(tmp / "a.duckdb").ingest([str(tmp / "a.jsonl")])
        Store(tmp / "b.duckdb").ingest([str(tmp / "b.jsonl")])
        assert snapshot(tmp / "a.duckdb") == snapshot(tmp / "b.duckdb")
        # The end lines in a second file, after the starts: the same again.
        starts = [start for start, _ in pairs]
        ends = [end for _, end in pairs]
        (tmp / "starts.jsonl").write_bytes(b"\n".join(starts) + b"\n")
        (tmp / "ends.jsonl").write_bytes(b"\n".join(ends) + b"\n")
        Store(tmp / "c.duckdb").ingest([str(tmp / "ends.jsonl")])
        Store(tmp / "c.duckdb").ingest([str(tmp / "starts.jsonl")])
        assert snapshot(tmp / "c.duckdb") == snapshot(tmp / "a.duckdb")


@st.composite
def order_cases(draw: st.DrawFn) -> tuple[list[tuple[bytes, bytes]], list[int], list[bool]]:
    pairs = draw(start_end_spans())
    order = draw(st.permutations(range(len(pairs))))
    swapped = draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    return pairs, list(order), swapped


@given(case=order_cases())
@STORE_PROPERTY_SETTINGS
def test_the_order_of_start_and_end_lines_does_not_change_the_result(
    case: tuple[list[tuple[bytes, bytes]], list[int], list[bool]],
) -> None:
    check_order_independent(*case)


@long_fuzz
@skip_unless_long
@given(case=order_cases())
@LONG_SETTINGS
def test_long_the_order_of_start_and_end_lines_does_not_change_the_result(
    case: tuple[list[tuple[bytes, bytes]], list[int], list[bool]],
) -> None:
    check_order_independent(*case)


# -- the oracle itself can fail -------------------------------------------------------------------------------


def test_the_oracle_tells_good_from_bad() -> None:
    assert oracle(b'{"session_id":"s","start_time":0}') == Verdict(True, frozenset())
    assert oracle(b'{"session_id":"s","start_time":0,"duration_ms":-1}') == Verdict(False, frozenset({"duration_ms"}))
    assert oracle(b"  \r") is None
    assert oracle(b"\xef\xbb\xbf{}", file_start=False) == Verdict(False, frozenset())
    assert not oracle(b'{"session_id":"s","start_time":0,"input":NaN}').valid  # type: ignore[union-attr]
    assert not oracle(b'{"session_id":"\\ud800","start_time":0}').valid  # type: ignore[union-attr]
    assert not oracle(b'{"session_id":"s","start_time":0,"status_code":2147483648}').valid  # type: ignore[union-attr]
    assert oracle(b'{"session_id":"s","start_time":0,"duration_ms":1' + b"0" * 400 + b"}") == Verdict(
        False, frozenset({"session_id", "start_time", "duration_ms"}))


# -- the big and the deep ---------------------------------------------------------------------------------------


def test_ten_megabyte_lines_are_stored_or_rejected_whole(tmp_path: Path) -> None:
    big = "x" * (10 * 1024 * 1024)
    good = json.dumps({"session_id": "big", "span_id": "big-1", "start_time": 0, "input": big}).encode()
    bad = good[:-1] + b'x}'  # almost right, still not JSON
    broken = good[: len(good) // 2]  # cut in the middle of the string
    content = b"\n".join([good, broken, b'{"session_id":"small","start_time":0}']) + b"\n" + bad
    result = ingest_bytes(tmp_path / "s.duckdb", tmp_path / "t.jsonl", content)
    assert (result.files[0].lines, result.files[0].error) == (4, None)
    store = Store(tmp_path / "s.duckdb")
    length = store.sql("SELECT length(input->>'$') FROM spans WHERE span_id = 'big-1'")[1]
    assert length == [(len(big),)]
    reasons = dict(store.sql("SELECT line, reason FROM rejects")[1])
    assert reasons[2] == "not valid JSON"
    assert "truncated last line" in reasons[4]  # no newline after it
    assert store.totals()["sessions"] == 2


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deep_nesting_is_stored_without_a_crash(tmp_path: Path, depth: int) -> None:
    deep = b"[" * depth + b"]" * depth
    line = b'{"session_id":"deep","start_time":0,"input":' + deep + b"}"
    object_deep = b'{"session_id":"deep2","start_time":0,"output":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
    result = ingest_bytes(tmp_path / "s.duckdb", tmp_path / "t.jsonl", line + b"\n" + object_deep + b"\n")
    assert (result.stored, result.rejected, result.files[0].error) == (2, 0, None)


def test_crlf_bom_and_blank_lines(tmp_path: Path) -> None:
    content = (b"\xef\xbb\xbf" + b'{"session_id":"s","start_time":0}\r\n\r\n   \r\n'
               + b'{"session_id":"t","start_time":0}\r\n\xef\xbb\xbf{"session_id":"u","start_time":0}\r\n')
    result = ingest_bytes(tmp_path / "s.duckdb", tmp_path / "t.jsonl", content)
    assert (result.stored, result.rejected) == (2, 1)
    assert result.files[0].rejects[0].line == 5  # a BOM inside the file is not JSON


# -- bugs the fuzz found, fixed: each input stays a regression test -------------------------------------------


def _verdict_of_ingest(tmp_path: Path, line: bytes) -> tuple[int, int]:
    result = ingest_bytes(tmp_path / "s.duckdb", tmp_path / "t.jsonl", line + b"\n")
    return result.stored, result.rejected


BUG_CASES = [
    pytest.param(b'{"session_id":"s","start_time":"2025-01-01T24:00:00Z"}', id="hour-24"),
    pytest.param(b'{"session_id":"s","start_time":"2025-01-01T10:00:00+24:00"}', id="offset-24"),
    pytest.param(b'{"session_id":"s","start_time":"2025-01-01T10:00:00+23:99"}', id="offset-minutes-99"),
    pytest.param(b'{"session_id":"s","start_time":"0000-01-01T00:00:00Z"}', id="year-0000"),
    pytest.param(b'{"session_id":"s","start_time":0,"input":NaN}', id="nan-in-input"),
    pytest.param(b'{"session_id":"s","start_time":0,"input":-Infinity}', id="infinity-in-input"),
    pytest.param(b'{"session_id":"s","start_time":0,"properties":{"a":NaN}}', id="nan-property"),
    pytest.param(b'{"session_id":"s","start_time":0,}', id="trailing-comma-object"),
    pytest.param(b'{"session_id":"s","start_time":0,"input":[1,]}', id="trailing-comma-array"),
    pytest.param(b'\t{"session_id":"s","start_time":0}', id="leading-tab"),
]


@pytest.mark.parametrize("line", BUG_CASES)
def test_fuzz_found_bug_stays_fixed(tmp_path: Path, line: bytes) -> None:
    verdict = oracle(line)
    assert verdict is not None
    assert _verdict_of_ingest(tmp_path, line) == ((1, 0) if verdict.valid else (0, 1))


def test_fixed_bugs_are_no_longer_skipped_by_the_fuzz() -> None:
    """The fuzz generates these inputs again: no predicate excuses them any more."""
    for case in BUG_CASES:
        assert not known_bug(case.values[0]), case.id