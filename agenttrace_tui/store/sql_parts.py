"""SQL fragments that several store queries share, written once."""

from __future__ import annotations


def sql_literal(text: str) -> str:
    """A string as an SQL literal (for text that can't be a bound parameter: patterns inside a
    generated statement, ATTACH and LOAD arguments)."""
    return "'" + text.replace("'", "''") + "'"


def busy_time_ctes(source: str, partition: str, total_by: str | None = None) -> str:
    """Two CTEs, `islands` and `busy`: the busy time of the spans of `source` per `partition` group.

    Overlapping spans of a group form one island (a span joins the island while it starts before the
    latest end so far); summing island lengths leaves idle gaps out. `busy` has the `total_by` columns
    (default: the partition) and `busy_ms`. `source` needs span_id, start_time and end_time.
    """
    total = total_by or partition
    return f"""islands AS (
    SELECT {partition}, start_time, end_time,
           sum(CASE WHEN previous_end IS NULL OR start_time > previous_end THEN 1 ELSE 0 END)
               OVER (PARTITION BY {partition} ORDER BY start_time, span_id) AS island
    FROM (SELECT *, max(end_time) OVER (PARTITION BY {partition} ORDER BY start_time, span_id
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_end
          FROM {source})
), busy AS (
    SELECT {total}, sum(island_ms) AS busy_ms FROM (
        SELECT {partition}, island, (epoch_us(max(end_time)) - epoch_us(min(start_time))) / 1000.0 AS island_ms
        FROM islands GROUP BY {partition}, island
    ) GROUP BY {total}
)"""
