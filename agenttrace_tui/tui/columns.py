"""The session list's display columns, computed on whole Arrow columns (no Python loop per session).

The store hands over raw figures; this turns them into what the table shows: sanitised names, short
durations, cost with its unpriced count, errors with their rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from agenttrace_tui.format import UNNAMED_SESSION
from agenttrace_tui.textsafe import sanitize, sanitize_arrow


@dataclass(frozen=True)
class Column:
    key: str  # the sort field the store understands, or "" when not sortable
    label: str


BASE_COLUMNS: Final = (
    Column("name", "name"),
    Column("start", "started"),
    Column("duration", "duration"),
    Column("spans", "spans"),
    Column("llm_calls", "llm"),
    Column("tool_calls", "tools"),
    Column("errors", "errors"),
    Column("cost", "cost"),
    Column("tokens", "tokens in/out"),
)


def _text(array: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(array, pa.string())


def _join(*parts: pa.ChunkedArray | str) -> pa.ChunkedArray:
    return pc.binary_join_element_wise(*parts, "")


def _rounded(array: pa.ChunkedArray, digits: int) -> pa.ChunkedArray:
    return _text(pc.round(array, digits))


def duration(ms: pa.ChunkedArray) -> pa.ChunkedArray:
    """850ms, 12.3s, 4.2m, 1.5h."""
    seconds = pc.divide(ms, 1000.0)
    return pc.if_else(
        pc.less(ms, 1000.0),
        _join(_text(pc.cast(pc.round(ms, 0), pa.int64())), "ms"),
        pc.if_else(
            pc.less(seconds, 60.0),
            _join(_rounded(seconds, 1), "s"),
            pc.if_else(
                pc.less(seconds, 3600.0),
                _join(_rounded(pc.divide(seconds, 60.0), 1), "m"),
                _join(_rounded(pc.divide(seconds, 3600.0), 1), "h"),
            ),
        ),
    )


def cost(usd: pa.ChunkedArray, unpriced: pa.ChunkedArray) -> pa.ChunkedArray:
    """$0.0123 below a cent, $1.23 above; `+ N unpriced` when some calls have no price (never a bare $0)."""
    amount = pc.if_else(
        pc.equal(usd, 0.0),
        pa.scalar("$0"),
        _join("$", pc.if_else(pc.less(usd, 0.01), _rounded(usd, 4), _rounded(usd, 2))),
    )
    return pc.if_else(
        pc.greater(unpriced, 0), _join(amount, " + ", _text(unpriced), " unpriced"), amount
    )


def count(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """1,234 stays as is; 12.3k above ten thousand; 1.2M above a million."""
    as_float = pc.cast(values, pa.float64())
    return pc.if_else(
        pc.greater_equal(as_float, 1_000_000.0),
        _join(_rounded(pc.divide(as_float, 1_000_000.0), 1), "M"),
        pc.if_else(
            pc.greater_equal(as_float, 10_000.0),
            _join(_rounded(pc.divide(as_float, 1000.0), 1), "k"),
            _text(values),
        ),
    )


def errors(count_: pa.ChunkedArray, rate: pa.ChunkedArray) -> pa.ChunkedArray:
    percent = _text(pc.cast(pc.round(pc.multiply(rate, 100.0), 0), pa.int64()))
    return pc.if_else(pc.greater(count_, 0), _join(_text(count_), " (", percent, "%)"), pa.scalar("0"))


def display_table(raw: pa.Table, property_names: tuple[str, ...]) -> pa.Table:
    """The store's session list → the strings and numbers the table shows, same row order."""
    name = sanitize_arrow(pc.fill_null(raw["name"], UNNAMED_SESSION))
    in_progress = pc.greater(raw["in_progress"], 0)
    columns: dict[str, pa.ChunkedArray] = {
        "name": pc.if_else(in_progress, _join("… ", name), name),
        "started": pc.strftime(raw["start_time"], format="%Y-%m-%d %H:%M"),
        "duration": duration(raw["duration_ms"]),
        "spans": raw["spans"],
        "llm": raw["llm_calls"],
        "tools": raw["tool_calls"],
        "errors": errors(raw["errors"], raw["error_rate"]),
        "cost": cost(raw["cost_usd"], raw["unpriced"]),
        "tokens in/out": _join(count(raw["input_tokens"]), "/", count(raw["output_tokens"])),
    }
    for index, property_name in enumerate(property_names):
        columns[sanitize(property_name)[:24]] = sanitize_arrow(pc.fill_null(raw[f"prop_{index}"], ""))
    columns["session id"] = sanitize_arrow(raw["session_id"])
    return pa.table(columns)
