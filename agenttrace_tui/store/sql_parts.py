"""SQL fragments that several store queries share, written once."""

from __future__ import annotations

from typing import Final


def sql_literal(text: str) -> str:
    """A string as an SQL literal (for text that can't be a bound parameter: patterns inside a
    generated statement, ATTACH and LOAD arguments)."""
    return "'" + text.replace("'", "''") + "'"


def covered_until(partition: str, order: str) -> str:
    """The window column `covered_until`: the latest end (`end_us`) of the spans before this one in `order`
    within its `partition` group. With BUSY_US, the one form of busy time (the union of a group's span
    intervals, idle gaps left out): the explorer's and `show`'s folders (store/read/tree.py), agents, the
    session breakdown and the stats rollup (store/backend/session_groups.py)."""
    return (f"max(end_us) OVER (PARTITION BY {partition} ORDER BY {order} "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_until")


BUSY_US: Final = "sum(greatest(0, end_us - greatest(start_us, coalesce(covered_until, start_us))))"
"""A group's busy time in whole microseconds, over rows carrying `start_us`, `end_us` and `covered_until`: in
start order each span adds the part of it that ends after every earlier one (the order of spans that start
together doesn't change the sum). One window, no islands aggregate or join: on 100k spans 0.41 -> 0.29 s
against summing islands of overlapping spans (two windows and an aggregate), which gives the same union."""


def busy_time_ctes(source: str, partition: str) -> str:
    """Two CTEs, `covered` and `busy`: `busy` has the `partition` columns and `busy_ms`, the busy time of the
    spans of `source` per `partition` group (covered_until and BUSY_US). `source` needs span_id, start_time and
    end_time (an unfinished span's end is its start)."""
    return f"""covered AS (
    SELECT *, {covered_until(partition, "start_us, span_id")}
    FROM (SELECT {partition}, span_id, epoch_us(start_time) AS start_us, epoch_us(end_time) AS end_us FROM {source})
), busy AS (
    SELECT {partition}, {BUSY_US} / 1000.0 AS busy_ms FROM covered GROUP BY {partition}
)"""
