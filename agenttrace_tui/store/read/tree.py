"""One session's path tree: folders with figures for their whole subtree (NodeStats), read a page of sub-folders
at a time for the explorer (FolderPage) or whole for `agenttrace show` (TreeNode); where a folder stands among
its parent's; and the chains through the spans (critical path, parent links)."""

from __future__ import annotations

import bisect
from typing import Any, Final

import duckdb

from agenttrace_tui.store.read.rows import dict_rows
from agenttrace_tui.store.read.sessions import session_start
from agenttrace_tui.store.records import FolderPage, NodeStats, TreeNode
from agenttrace_tui.store.sql_parts import BUSY_US, covered_until

SUB_FOLDER_NAMES: Final = 20
"""Sub-folder paths a folder's figures carry (`NodeStats.child_paths`): the first ones, which the detail lists."""

NODE_FIGURES: Final = f"""
    node AS path,
    count(*) AS spans,
    count(*) FILTER (WHERE own) AS self_spans,
    count(*) FILTER (WHERE failed) AS errors,
    count(*) FILTER (WHERE llm) AS llm_calls,
    count(*) FILTER (WHERE tool) AS tool_calls,
    coalesce(sum(cost_usd), 0) AS cost_usd,
    count(*) FILTER (WHERE unpriced) AS unpriced,
    least(coalesce(sum(input_tokens), 0), 9223372036854775807)::BIGINT AS input_tokens,
    least(coalesce(sum(output_tokens), 0), 9223372036854775807)::BIGINT AS output_tokens,
    coalesce({BUSY_US} / 1000.0, 0) AS busy_ms,
    coalesce((max(end_us) - min(start_us)) / 1000.0, 0) AS wall_ms,
    (min(start_us) - epoch_us($t0)) / 1000.0 AS start_ms,
    (max(end_us) - epoch_us($t0)) / 1000.0 AS end_ms,
    count(*) FILTER (WHERE in_progress) AS running"""
"""NodeStats' figures (path to running, in its order) per `node`, over rows of a folder's subtree carrying `own`
(the span is at the folder itself), `failed`, `llm`, `tool`, `cost_usd`, `unpriced`, the tokens, `in_progress`,
`start_us`, `end_us` and `covered_until` (busy time: store/sql_parts.py). Times are ms from `$t0`."""

NODE_STATS_SQL: Final = f"""
WITH s AS (
    SELECT path, epoch_us(start_time) AS start_us, epoch_us(coalesce(end_time, start_time)) AS end_us,
           status = 'error' AS failed, kind = 'llm' AS llm, kind = 'tool' AS tool, cost_usd,
           cost_source = 'unpriced' AS unpriced, input_tokens, output_tokens, in_progress,
           row_number() OVER (ORDER BY start_time, span_id) AS seq
    FROM spans WHERE session_id = $session_id
), parts AS (
    SELECT *, list_filter(string_split(path, '/'), p -> p <> '') AS segments FROM s
), expanded AS (
    SELECT *, unnest(list_concat(['/'], list_transform(range(1, len(segments) + 1),
                     i -> '/' || array_to_string(segments[1:i], '/')))) AS node
    FROM parts
), covered AS (
    SELECT *, path = node AS own, {covered_until("node", "seq")}
    FROM expanded
)
SELECT {NODE_FIGURES}
FROM covered
GROUP BY node
ORDER BY min(start_us), node
"""
"""Per path folder of one session: figures for its whole subtree (a span counts in every ancestor), in order of
first start, then path. Busy time in one pass with an integer order key (`seq`): 100k spans 0.41 -> 0.29 s
against islands of overlapping spans."""

FOLDER_PAGE_SQL: Final = f"""
WITH s AS MATERIALIZED (
    SELECT row_number() OVER (ORDER BY start_time, span_id) AS seq,
           epoch_us(start_time) AS start_us, epoch_us(coalesce(end_time, start_time)) AS end_us,
           len(segments) = $depth AS at_folder, len(segments) = $depth + 1 AS at_child,
           CASE WHEN len(segments) > $depth THEN $under || segments[$depth + 1] END AS child,
           CASE WHEN len(segments) > $depth + 1 THEN $under || segments[$depth + 1] || '/' || segments[$depth + 2]
           END AS grandchild,
           status = 'error' AS failed, kind = 'llm' AS llm, kind = 'tool' AS tool, cost_usd,
           cost_source = 'unpriced' AS unpriced, input_tokens, output_tokens, in_progress
    FROM (SELECT *, list_filter(string_split(path, '/'), p -> p <> '') AS segments FROM spans
          WHERE session_id = $session_id AND (path = $folder OR starts_with(path, $under)))
), children AS (
    SELECT child AS path, min(start_us) AS first_start FROM s WHERE child IS NOT NULL GROUP BY child
), page AS (
    SELECT path FROM children ORDER BY first_start, path LIMIT $limit OFFSET $offset
), nodes AS (
    SELECT child AS node, at_child AS own, seq, start_us, end_us, failed, llm, tool, cost_usd, unpriced,
           input_tokens, output_tokens, in_progress
    FROM s WHERE child IN (SELECT path FROM page)
    UNION ALL
    SELECT $folder AS node, at_folder AS own, seq, start_us, end_us, failed, llm, tool, cost_usd, unpriced,
           input_tokens, output_tokens, in_progress
    FROM s WHERE $with_folder
), covered AS (
    SELECT *, {covered_until("node", "seq")}
    FROM nodes
), figures AS (
    SELECT {NODE_FIGURES},
           min(start_us) AS first_start
    FROM covered GROUP BY node
), sub AS (
    SELECT parent, count(*) AS sub_folders, min_by(path, {{'t': first_start, 'p': path}}, $names) AS sub_paths
    FROM (
        SELECT child AS parent, grandchild AS path, min(start_us) AS first_start FROM s
        WHERE grandchild IS NOT NULL AND child IN (SELECT path FROM page) GROUP BY ALL
        UNION ALL
        SELECT $folder AS parent, path, first_start FROM children WHERE $with_folder
    ) GROUP BY parent
)
SELECT figures.* EXCLUDE (first_start), coalesce(sub.sub_folders, 0) AS sub_folders,
       coalesce(sub.sub_paths, []) AS sub_paths, (SELECT count(*) FROM children) AS total
FROM figures LEFT JOIN sub ON sub.parent = figures.path
ORDER BY figures.path <> $folder, figures.first_start, figures.path
"""
"""One page of a folder's sub-folders with their subtree figures (and the folder's own when `$with_folder`),
the same figures as NODE_STATS_SQL gives them (NODE_FIGURES): the explorer reads a session's folders a page at
a time, when they are shown, instead of every folder of the session up front (50k folders for a 100k-span
session).

Parameters: `$folder` (a normalized path), `$under` (`$folder` + '/', or '/' for the root), `$depth` (its
number of segments), `$offset`/`$limit` (the page, sub-folders in order of first start, then path), `$names`
(sub-folder paths kept per folder, first ones in the same order), `$t0` (the session's start: times become
ms from it). Each row also counts its folder's own sub-folders and names the first `$names` of them; `total`
is the number of sub-folders of `$folder`. The folder's own row (if asked) comes first."""

FOLDER_RANK_SQL: Final = """
WITH children AS (
    SELECT $under || list_filter(string_split(path, '/'), p -> p <> '')[$depth + 1] AS path,
           min(start_time) AS first_start
    FROM spans WHERE session_id = $session_id AND starts_with(path, $under) AND path <> $folder
    GROUP BY 1
)
SELECT count(*) FILTER (WHERE children.first_start < c.first_start
                        OR (children.first_start = c.first_start AND children.path < c.path))
FROM children, (SELECT first_start, path FROM children WHERE path = $child) c
GROUP BY c.path
"""
"""Where `$child` stands among the sub-folders of `$folder` (0 = first) in FOLDER_PAGE_SQL's order; no row
when it is not one of them."""

SPAN_LIST_COLUMNS: Final = (
    "span_id, path, parent_id, kind, name, model, status, error_type, error_message, start_time, end_time, "
    "duration_ms, in_progress, input_tokens, output_tokens, cost_usd, cost_source"
)
"""The columns of a span under its folder in `agenttrace show`."""


def _node_name(path: str) -> str:
    return "/" if path == "/" else path.rsplit("/", 1)[1]


def _figures(row: tuple[Any, ...], child_paths: tuple[str, ...]) -> tuple[Any, ...]:
    """NodeStats' fields, in order, from a row of NODE_FIGURES (path … running)."""
    (path, spans, self_spans, errors, llm_calls, tool_calls, cost_usd, unpriced, input_tokens, output_tokens,
     busy_ms, wall_ms, start_ms, end_ms, running) = row
    return (path, _node_name(path), spans, self_spans, errors, llm_calls, tool_calls, cost_usd, unpriced,
            input_tokens, output_tokens, busy_ms, wall_ms, start_ms, end_ms, child_paths, running)


def _folder_depth(folder: str) -> tuple[str, int]:
    """`$under` and `$depth` of FOLDER_PAGE_SQL for a normalized path."""
    return ("/" if folder == "/" else folder + "/"), len([part for part in folder.split("/") if part])


def folder_page(
    con: duckdb.DuckDBPyConnection, session_id: str, folder: str, *, offset: int = 0, limit: int = 200,
    with_folder: bool = False,
) -> FolderPage | None:
    """Sub-folders `offset` … `offset + limit - 1` of `folder` with their figures (and the folder's own with
    `with_folder`); None when the session has no spans at or under `folder`.

    A folder's figures cost a scan of its own subtree only, so the explorer reads the root and its first
    sub-folders when a session opens and each folder's when it is opened."""
    start = session_start(con, session_id)
    if start is None:
        return None
    under, depth = _folder_depth(folder)
    rows = con.execute(FOLDER_PAGE_SQL, {
        "session_id": session_id, "folder": folder, "under": under, "depth": depth, "offset": offset,
        "limit": limit, "with_folder": with_folder, "names": SUB_FOLDER_NAMES, "t0": start,
    }).fetchall()
    if not rows:
        if with_folder:
            return None
        total = folder_count(con, session_id, folder)
        return FolderPage(folder, offset, (), total, {}, {})
    stats: dict[str, NodeStats] = {}
    sub_folders: dict[str, int] = {}
    children: list[str] = []
    for row in rows:
        path, subs, sub_paths = row[0], row[-3], row[-2]
        stats[path] = NodeStats(*_figures(row[:-3], tuple(sub_paths)))
        sub_folders[path] = subs
        if path != folder:
            children.append(path)
    return FolderPage(folder, offset, tuple(children), int(rows[0][-1]), stats, sub_folders)


def folder_count(con: duckdb.DuckDBPyConnection, session_id: str, folder: str) -> int:
    """How many sub-folders `folder` has."""
    under, depth = _folder_depth(folder)
    row = con.execute(
        "SELECT count(DISTINCT list_filter(string_split(path, '/'), p -> p <> '')[$depth + 1]) FROM spans "
        "WHERE session_id = $session_id AND starts_with(path, $under) AND path <> $folder",
        {"session_id": session_id, "folder": folder, "under": under, "depth": depth},
    ).fetchone()
    return int(row[0]) if row else 0


def folder_rank(con: duckdb.DuckDBPyConnection, session_id: str, folder: str, child: str) -> int | None:
    """The index of `child` among the sub-folders of `folder` (FolderPage order); None if it isn't one."""
    under, depth = _folder_depth(folder)
    row = con.execute(FOLDER_RANK_SQL, {
        "session_id": session_id, "folder": folder, "under": under, "depth": depth, "child": child,
    }).fetchone()
    return int(row[0]) if row else None


def session_tree(
    con: duckdb.DuckDBPyConnection, session_id: str, *, spans_per_node: int | None = None
) -> TreeNode | None:
    """The session's whole path tree with subtree figures; each node lists its own spans in start order (the
    first `spans_per_node` of them, or all)."""
    start = session_start(con, session_id)
    if start is None:
        return None
    rows = con.execute(NODE_STATS_SQL, {"session_id": session_id, "t0": start}).fetchall()
    if not rows:
        return None
    children: dict[str, list[str]] = {}
    for row in rows:  # in order of first start, then path: so is each folder's list of sub-folders
        if row[0] != "/":
            children.setdefault(row[0].rsplit("/", 1)[0] or "/", []).append(row[0])
    nodes = {row[0]: TreeNode(*_figures(row, tuple(children.get(row[0], ())[:SUB_FOLDER_NAMES])), session_start=start)
             for row in rows}
    for parent, paths in children.items():
        nodes[parent].children.extend(nodes[path] for path in paths)
    span_sql = (
        f"SELECT {SPAN_LIST_COLUMNS}, row_number() OVER (PARTITION BY path ORDER BY start_time, span_id) AS n "
        "FROM spans WHERE session_id = ? "
    )
    params: list[Any] = [session_id]
    if spans_per_node is not None:
        span_sql = f"SELECT * FROM ({span_sql}) WHERE n <= ?"
        params.append(spans_per_node)
    for span in dict_rows(con.execute(span_sql + " ORDER BY start_time, span_id", params)):
        span.pop("n")
        nodes[span["path"]].span_rows.append(span)
    return nodes["/"]


def has_parent_links(con: duckdb.DuckDBPyConnection, session_id: str) -> bool:
    """Whether any span of the session names a parent (the causal view has something to show)."""
    row = con.execute(
        "SELECT count(*) FROM span_data WHERE session_id = ? AND parent_id IS NOT NULL", [session_id]
    ).fetchone()
    return bool(row and row[0])


def critical_path(con: duckdb.DuckDBPyConnection, session_id: str) -> list[str]:
    """The chain of spans that set the session's end time, first to last.

    From the span that ends last, step back to the span that ended latest at or before its start, and
    so on. Only leaf spans count (a span some other span names as parent is a container, whose own
    interval is explained by its children). A step is a binary search over the leaves sorted by end,
    so a 100k-span session costs one query and a few dozen steps, not a loop over its spans.
    """
    rows = con.execute(
        """
        SELECT span_id, epoch_us(start_time) AS start_us, epoch_us(coalesce(end_time, start_time)) AS end_us
        FROM spans s
        WHERE session_id = ? AND NOT EXISTS (
            SELECT 1 FROM span_data c WHERE c.session_id = s.session_id AND c.parent_id = s.span_id)
        ORDER BY end_us, start_us, span_id
        """,
        [session_id],
    ).fetchall()
    if not rows:
        return []
    ends = [row[2] for row in rows]
    chain: list[str] = []
    index = len(rows) - 1
    while True:
        span_id, start_us, _ = rows[index]
        chain.append(span_id)
        # the latest end at or before this start, among the spans before this one in end order
        before = bisect.bisect_right(ends, start_us, 0, index) - 1
        if before < 0:
            break
        index = before
    chain.reverse()
    return chain
