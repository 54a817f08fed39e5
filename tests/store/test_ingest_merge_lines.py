"""Lines of one span within a file merge in file order, later non-null wins, whichever way ingest takes:
the last line alone (it repeats every field, as the SDK's end line does) or the column-by-column merge."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agenttrace_tui.store import Store

FIELDS: dict[str, Any] = {
    "name": st.sampled_from(["plan", "search", "answer"]),
    "kind": st.sampled_from(["llm", "tool", "agent"]),
    "model": st.sampled_from(["gpt-4o", "gpt-4o-mini"]),
    "path": st.sampled_from(["/", "/tools/search", "/iteration/1"]),
    "duration_ms": st.integers(min_value=0, max_value=10_000),
    "input": st.dictionaries(st.sampled_from(["q", "messages"]), st.text(max_size=5), max_size=2),
    "output": st.dictionaries(st.sampled_from(["result"]), st.text(max_size=5), max_size=1),
}
STORED = {"name": "name", "kind": "kind", "model": "model", "path": "path", "duration_ms": "duration_ms",
          "input": "input", "output": "output"}

line_fields = st.fixed_dictionaries({}, optional=FIELDS)
span_lines = st.lists(line_fields, min_size=1, max_size=3)


def _expected(lines: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for line in lines:
        merged.update({k: v for k, v in line.items() if v is not None})
    return merged


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(span_lines, min_size=1, max_size=6), st.randoms())
def test_merged_spans_match_a_python_merge(tmp_path: Path, spans: list[list[dict[str, Any]]], rnd: Any) -> None:
    records = []
    for index, lines in enumerate(spans):
        for line in lines:
            records.append({"span_id": f"s{index}", "session_id": "sess", "start_time": 1_740_000_000 + index,
                            **line})
    # Lines of different spans interleave; each span's own lines keep their order.
    order = sorted(range(len(records)), key=lambda i: (rnd.random(), i))
    by_span: dict[str, list[int]] = {}
    for position in order:
        by_span.setdefault(records[position]["span_id"], []).append(position)
    layout = sorted(order, key=lambda i: (by_span[records[i]["span_id"]].index(i), rnd.random()))
    run = uuid.uuid4().hex  # tmp_path is shared by the examples
    trace = tmp_path / f"t{run}.jsonl"
    trace.write_text("".join(json.dumps(records[i]) + "\n" for i in layout))
    db = tmp_path / f"s{run}.duckdb"
    assert Store(db).ingest([str(trace)]).ok
    # The file order of one span's lines is the order of `layout`.
    expected = {}
    for index in range(len(spans)):
        in_file = [records[i] for i in layout if records[i]["span_id"] == f"s{index}"]
        expected[f"s{index}"] = _expected([{k: v for k, v in r.items() if k in FIELDS} for r in in_file])
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            f"SELECT span_id, {', '.join(STORED.values())} FROM span_data ORDER BY span_id"
        ).fetchall()
    assert len(rows) == len(spans)
    for row in rows:
        got = dict(zip(STORED, row[1:]))
        want = expected[row[0]]
        for field in FIELDS:
            value = got[field]
            if field in ("input", "output") and value is not None:
                value = json.loads(value)
            if field == "duration_ms" and value is not None:
                value = int(value)
            assert value == want.get(field), (row[0], field)
