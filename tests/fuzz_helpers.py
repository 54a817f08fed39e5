"""The fuzz's generators and settings (no tests here): random records, byte-level mutations, hostile lines and
whole trace files for tests/store/test_fuzz_ingest.py (whose oracle judges them) and
tests/store/test_ingest_direct.py; plus a canonical snapshot of a store's tables."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

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

TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")


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


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as name:
        yield Path(name)


# -- whole-store snapshots and valid lines ----------------------------------------------------------------

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
