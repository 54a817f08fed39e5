"""Fuzzing ingest: random and mutated lines against an independent oracle (Python's json + the JSON Schema).

Every example writes a small trace file (random records, byte-level mutations, hostile lines; CRLF endings,
a BOM, a missing final newline), ingests it into a real DuckDB store and checks, line by line, that each line
the oracle calls valid was stored and each one it calls invalid was rejected with a one-line reason naming a
field the schema also complains about. Further properties: A then B equals A+B, re-ingesting changes
nothing, and the order of a span's start and end lines does not matter.

The default run is small and deterministic (derandomized, ~40 examples per property). The long run:

    AGENTTRACE_LONG_FUZZ=1 python -m pytest -m long_fuzz -p no:randomly tests/store/test_fuzz_ingest.py

(`AGENTTRACE_FUZZ_EXAMPLES=N` sets its examples per property, default 2000.)

Ingest bugs found by this file that the ingest owner has yet to fix are listed in KNOWN_INGEST_BUGS: lines
that hit one are still ingested (no crash, counted) but their verdict is not compared; each bug also has a
strict xfail test below with its exact input, which starts failing (XPASS) once the bug is fixed.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from agenttrace_tui.format import MAX_EPOCH_US, MAX_TIME, MIN_TIME, NUMBER_RANGES, epoch_to_seconds, json_schema
from agenttrace_tui.store import IngestResult, Store
from fuzz_helpers import (
    DEFAULT_SETTINGS,
    LONG_SETTINGS,
    SESSION_IDS,
    STORE_PROPERTY_SETTINGS,
    TOKEN_FIELDS,
    TraceFile,
    json_values,
    long_fuzz,
    mixed_lines,
    skip_unless_long,
    snapshot,
    texts,
    trace_files,
    workdir,
)

VALIDATOR = Draft202012Validator(json_schema(), format_checker=FormatChecker())

INT32 = (-(2**31), 2**31 - 1)
TYPED_NUMBERS = ("duration_ms", "first_token_ms", "cost_usd")


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
            if _is_number(tokens) and tokens > NUMBER_RANGES[f"usage.{name}"][1]:
                return False
    for name in TYPED_NUMBERS:  # the ranges the store holds (format.NUMBER_RANGES, docs/trace-format.md)
        value = record.get(name)
        if _is_number(value) and math.isfinite(value) and value > NUMBER_RANGES[name][1]:
            return False
    start_us = _time_us(record.get("start_time"))
    if any(us is not None and not 0 <= us <= MAX_EPOCH_US
           for us in (start_us, _time_us(record.get("end_time")))):
        return False
    duration = record.get("duration_ms")
    if start_us is not None and _is_number(duration) and math.isfinite(duration) \
            and start_us + round(duration * 1000) > MAX_EPOCH_US:
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _time_us(value: Any) -> int | None:
    """A time's µs since the epoch in UTC (None when it is no time: the schema speaks for those)."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            return None
        if not MIN_TIME <= moment <= MAX_TIME:
            return -1
        return (moment - MIN_TIME) // timedelta(microseconds=1)
    if _is_number(value) and math.isfinite(value) and value >= 0:
        return math.floor(epoch_to_seconds(value) * 1_000_000) if value < 1e14 else (
            int(value) if value < 1e17 else int(value) // 1000)
    return None


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


# -- running ingest -----------------------------------------------------------------------------------------


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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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