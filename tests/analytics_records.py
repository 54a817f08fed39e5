"""Three crafted sessions for the analytics tests (no tests here): tests/store/test_store_analytics.py works
out every expected number by hand from them, and tests/cli/test_cli_stats.py renders them."""

from __future__ import annotations

from typing import Any


def at(hour: int, second: float) -> str:
    return f"2025-01-01T{hour:02d}:00:{second:06.3f}Z"


def sp(session: str, span_id: str, path: str, hour: int, start: float, end: float, **fields: Any) -> dict[str, Any]:
    return {"session_id": session, "span_id": span_id, "path": path,
            "start_time": at(hour, start), "end_time": at(hour, end), **fields}


RATE_LIMIT_B = 'Rate limit 429: "user-123" exceeded (request 123e4567-e89b-12d3-a456-426614174000)'
RATE_LIMIT_C = 'Rate limit 500: "user-999" exceeded (request 00000000-0000-0000-0000-000000000001)'

RECORDS: list[dict[str, Any]] = [
    # A "Alpha", v1, 10:00:00 → 10:00:06 (6 s), cost 0.25, one tool error recovered by a retry with the
    # same input (a repeat that costs nothing: tools are not priced).
    {"type": "session", "session_id": "A", "name": "Alpha", "properties": {"Agent-Version": "v1"}},
    sp("A", "a1", "/iteration/0", 10, 0, 2, kind="llm", model="m-a", provider="p1", cost_usd=0.125,
       input={"q": 1}),
    sp("A", "a2", "/tools/search", 10, 2, 3, kind="tool", name="search", input={"q": "x"},
       error={"type": "Timeout", "message": "timeout after 5000 ms for id 0xdeadbeef12"}),
    sp("A", "a3", "/tools/search", 10, 3, 5, kind="tool", name="search", input={"q": "x"},
       properties={"Recovery-Strategy": "retry"}),
    sp("A", "a4", "/iteration/1", 10, 5, 6, kind="llm", model="m-a", provider="p1", cost_usd=0.125,
       input={"q": 2}),
    # B "Beta", v2, 11:00:00 → 11:00:05 (5 s), cost 0.125 + 1 unpriced; the same LLM input twice (wasted
    # 0.0625), an unpriced failing call at /iteration/4 (5 iterations: the limit), a human review tool.
    {"type": "session", "session_id": "B", "name": "Beta", "properties": {"Agent-Version": "v2"}},
    sp("B", "b1", "/iteration/0", 11, 0, 1, kind="llm", model="m-b", provider="p2", cost_usd=0.0625,
       input={"q": 1}),
    sp("B", "b2", "/iteration/0", 11, 1, 2, kind="llm", model="m-b", provider="p2", cost_usd=0.0625,
       input={"q": 1}),
    sp("B", "b3", "/iteration/4", 11, 2, 4, kind="llm", model="acme-llm-1", provider="p2",
       usage={"input_tokens": 10, "output_tokens": 5}, error=RATE_LIMIT_B),
    sp("B", "b4", "/tools/human_review", 11, 4, 5, kind="tool", name="human_review"),
    # C "Alpha", v1, 12:00:00 → 12:00:10 (10 s), cost 0.5, Outcome=max-iterations; two overlapping tool
    # calls (busy 1 → 5 s = 4 s), the first failing and recovered by the second.
    {"type": "session", "session_id": "C", "name": "Alpha",
     "properties": {"Agent-Version": "v1", "Outcome": "max-iterations"}},
    sp("C", "c1", "/iteration/0", 12, 0, 10, kind="llm", model="m-a", provider="p1", cost_usd=0.5,
       input={"q": 9}),
    sp("C", "c2", "/tools/search", 12, 1, 3, kind="tool", name="search", input={"q": "y"}, error=RATE_LIMIT_C),
    sp("C", "c3", "/tools/search", 12, 2, 5, kind="tool", name="search", input={"q": "z"}),
]
