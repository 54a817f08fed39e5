"""What the ingest does before DuckDB parses a long line (a 60 MB prompt), so that memory stays a few times the line.

DuckDB's JSON functions each keep their own copy of a line they parsed until the next block: json_valid, json_keys
and from_json over one 100 MB line held three. A line past CHECKED_BYTES is parsed once here instead (orjson, then
freed) to learn that it is a JSON object and whether it has keys beyond the format's (`extra_keys`), so that the
parse SQL (parse_sql.py) runs only from_json on it. And DuckDB's JSON writer reserves ~9x the longest string of a
value it writes out (input, output), counted against the ingest's memory cap: a line past LIFT_CAP_BYTES lifts the
cap first (a 60 MB line needed a 512 MiB block under the 512 MB cap: `ingest -` failed, a file was read twice).
"""

from __future__ import annotations

from typing import Final

import orjson
import pyarrow as pa

from agenttrace_tui.format import SESSION_FIELDS, SPAN_FIELDS
from agenttrace_tui.store.write.lines import LineBatch

CHECKED_BYTES: Final = 1024 * 1024
LIFT_CAP_BYTES: Final = 8 * 1024 * 1024
_FIELD_NAMES: Final = frozenset(SPAN_FIELDS + SESSION_FIELDS)


def long_line_bytes(batch: LineBatch) -> int:
    """The length of a batch's one line, when the reader handed it over alone (a line longer than a block); else 0."""
    return batch.lines.nbytes if len(batch.lines) == 1 else 0


def with_extra_keys(batch: LineBatch) -> LineBatch:
    """The batch of one long line, with `extra_keys` set when orjson reads it as an object."""
    if batch.bad_utf8_at is not None or batch.reasons is not None:
        return batch  # not UTF-8, or known bad: the SQL says why
    extra = extra_keys(memoryview(batch.lines[0].as_buffer()))
    if extra is not None:
        batch.extra_keys = pa.array([extra], pa.bool_())
    return batch


def extra_keys(line: bytes | memoryview) -> bool | None:
    """Whether a line, strict JSON holding an object, has keys outside the format's fields; None when orjson does
    not read it as an object. The SQL then judges the line itself: orjson refuses more than DuckDB does (a control
    character in a string, 1e400, nesting past 1,024), but all it reads DuckDB reads too, so its yes stands."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return not _FIELD_NAMES.issuperset(record) if isinstance(record, dict) else None
