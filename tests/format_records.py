"""Example trace records (no tests here): valid ones and invalid ones by name, which the JSON Schema
(tests/format/test_trace_schema.py) and the ingest (tests/format/test_schema_ingest_agree.py) must judge alike."""

from __future__ import annotations

from typing import Any

BASE_SPAN: dict[str, Any] = {"session_id": "s-1", "start_time": "2025-03-01T12:00:00Z"}


_DROP: Any = object()
"""Sentinel: `span(session_id=_DROP)` removes a field from the base span."""


def span(**fields: Any) -> dict[str, Any]:
    record = dict(BASE_SPAN)
    record.update(fields)
    return {k: v for k, v in record.items() if v is not _DROP}


GOOD_RECORDS: dict[str, dict[str, Any]] = {
    "minimal": dict(BASE_SPAN),
    "explicit span type and version": span(type="span", v=1),
    "epoch seconds": span(start_time=1_740_830_400),
    "epoch milliseconds float": span(start_time=1_740_830_400_123.5),
    "epoch nanoseconds": span(start_time=1_740_830_400_123_456_789),
    "lower-case t and z, offset end": span(
        start_time="2025-03-01t12:00:00.5z", end_time="2025-03-01T13:00:01.25+01:00"
    ),
    "header-only session id": span(session_id=_DROP, headers={"Helicone-Session-Id": "h-1"}),
    "header-only session id, any case": span(session_id=None, headers={"HELICONE-SESSION-ID": "h-1"}),
    "explicit session id wins over an empty header": span(headers={"Helicone-Session-Id": ""}),
    "latest representable epoch (ns, year 9999)": span(start_time=253_402_300_799_999_999_999),
    "every bound at its greatest (format.NUMBER_RANGES)": span(
        start_time="1970-01-01T00:00:00Z", duration_ms=253_402_300_799_999, first_token_ms=253_402_300_799_999,
        cost_usd=10**12, status_code=2**31 - 1,
        usage={"input_tokens": 10**12, "output_tokens": 10**12, "cache_read_tokens": 10**12,
               "cache_write_tokens": 10**12, "reasoning_tokens": 10**12},
    ),
    "least status code (32-bit)": span(status_code=-(2**31)),
    "latest written time, year 9999": span(start_time="9999-12-31T23:59:59.999999Z"),
    "nulls mean not set": span(
        span_id=None,
        parent_id=None,
        kind=None,
        status=None,
        status_code=None,
        end_time=None,
        duration_ms=None,
        error=None,
        usage=None,
        cost_usd=None,
        properties=None,
        headers=None,
        type=None,
        v=None,
    ),
    "full llm span": span(
        span_id="sp-1",
        parent_id="sp-0",
        session_name="Support",
        path="/iteration/0",
        kind="llm",
        name="chat gpt-4o",
        end_time="2025-03-01T12:00:01.200Z",
        duration_ms=1200,
        first_token_ms=310.5,
        status="ok",
        status_code=200,
        model="gpt-4o",
        provider="openai",
        usage={
            "input_tokens": 1200,
            "output_tokens": 80,
            "cache_read_tokens": 1024,
            "cache_write_tokens": 0,
            "reasoning_tokens": 0,
            "vendor_specific": {"x": 1},
        },
        cost_usd=0.0031,
        input={"messages": [{"role": "user", "content": "hi"}]},
        output="hello",
        properties={"Agent-Version": "v1.0", "Iteration": 0, "Beta": True, "Unset": None},
        user_id="u-1",
        headers={"Helicone-Session-Path": "/iteration/0"},
        some_extra_field={"kept": "verbatim"},
    ),
    "error as string": span(error="boom", status="error", status_code=-1),
    "error as object with extras": span(error={"type": "ValueError", "message": "bad", "stack": "...", "code": 7}),
    "session record": {
        "type": "session",
        "session_id": "s-1",
        "name": "Support",
        "properties": {"Tier": "gold"},
        "user_id": "u-1",
        "tags": ["demo", "v1"],
        "v": 1,
    },
    "session record minimal": {"type": "session", "session_id": "s-1"},
}

BAD_RECORDS: dict[str, Any] = {
    "not an object": ["session_id", "s-1"],
    "missing session_id": span(session_id=_DROP),
    "empty session_id": span(session_id=""),
    "empty session_id despite header": span(session_id="", headers={"Helicone-Session-Id": "h-1"}),
    "empty header session id": span(session_id=_DROP, headers={"helicone-session-id": ""}),
    "other helicone header is not a session id": span(
        session_id=_DROP, headers={"Helicone-Session-Name": "x"}
    ),
    "missing start_time": span(start_time=_DROP),
    "null start_time": span(start_time=None),
    "bool start_time": span(start_time=True),
    "negative epoch": span(start_time=-5),
    "epoch beyond year 9999": span(start_time=2.6e20),
    "space instead of T": span(start_time="2025-03-01 12:00:00Z"),
    "no offset": span(start_time="2025-03-01T12:00:00"),
    "impossible date": span(start_time="2025-02-30T12:00:00Z"),
    "bad end_time": span(end_time="yesterday"),
    "negative duration": span(duration_ms=-1),
    "duration past the store's range": span(duration_ms=1e16),
    "first token past the store's range": span(first_token_ms=253_402_300_800_000),
    "tokens past 10^12": span(usage={"cache_read_tokens": 10**12 + 1}),
    "tokens past 64 bits": span(usage={"input_tokens": 2**63}),
    "cost past 10^12": span(cost_usd=1e12 + 1),
    "status code past 32 bits": span(status_code=2**31),
    "status code below 32 bits": span(status_code=-(2**31) - 1),
    "time before 1970": span(start_time="1969-12-31T23:59:59Z"),
    "year 0": span(start_time="0000-01-01T00:00:00Z"),
    "bad kind": span(kind="chain"),
    "bad status": span(status="failed"),
    "float status_code": span(status_code=200.5),
    "negative tokens": span(usage={"input_tokens": -3}),
    "float tokens": span(usage={"output_tokens": 1.5}),
    "negative cost": span(cost_usd=-0.01),
    "wrong-typed property": span(properties={"Tier": ["gold"]}),
    "object property": span(properties={"Tier": {"name": "gold"}}),
    "non-string header": span(headers={"X-Retry": 3}),
    "numeric error": span(error=500),
    "error with numeric message": span(error={"message": 5}),
    "type foo": span(type="foo"),
    "version 2": span(v=2),
    "numeric span_id": span(span_id=12),
    "session without session_id": {"type": "session", "name": "x"},
    "session with header-only id": {"type": "session", "headers": {"Helicone-Session-Id": "h-1"}},
    "session with non-string tag": {"type": "session", "session_id": "s-1", "tags": ["a", 1]},
}
