"""One session's agent tree: who coordinated whom, and what each agent spent.

Spans name their agent with properties (Helicone's multi-agent convention): `Agent-Name`, `Agent-Role` and
`Parent-Agent`. Within a session:

- an **agent** is a distinct `Agent-Name` (an empty name is no name); spans without one are not counted;
- its **role** is its most frequent `Agent-Role`, its declared parent its most frequent `Parent-Agent`
  (ties: the value seen first, then the smaller value);
- an agent whose declared parent never appears as an agent, or names itself, is a **root**; a cycle of
  parents (a → b → a) is broken at the member that started first, which becomes a root;
- `AgentNode.parent` is the parent in the tree as built (None for every root), so it always agrees with
  `children`.

Figures per agent, over its own spans (not its sub-agents'): `spans`, `llm_calls`, `tool_calls`, `errors`
(status `error`), `cost_usd` with `unpriced` calls counted apart, `busy_ms` (the union of its span intervals:
idle gaps excluded; an unfinished span counts from its start) and `wall_ms` (its first start → last end).
`first_start_ms` is milliseconds from the session's start (the first start of any of its spans).
Roots and each agent's children are in order of first start, then name.
"""

from __future__ import annotations

from typing import Any, Final

import duckdb

from agenttrace_tui.store.records import AgentNode
from agenttrace_tui.store.sql_parts import busy_time_ctes

_BUSY_AGENTS_SQL: Final = busy_time_ctes('a', 'agent')

AGENTS_SQL: Final = f"""
WITH s AS (
    SELECT span_id, kind, status, cost_usd, cost_source, start_time,
           coalesce(end_time, start_time) AS end_time,
           nullif(json_extract_string(properties, '$."Agent-Name"'), '') AS agent,
           nullif(json_extract_string(properties, '$."Agent-Role"'), '') AS role,
           nullif(json_extract_string(properties, '$."Parent-Agent"'), '') AS parent
    FROM spans WHERE session_id = $session_id
), t0 AS (
    SELECT min(start_time) AS t0 FROM s
), a AS (
    SELECT * FROM s WHERE agent IS NOT NULL
), {_BUSY_AGENTS_SQL}, roles AS (
    SELECT agent, first(role ORDER BY times DESC, first_seen, role) AS role
    FROM (SELECT agent, role, count(*) AS times, min(start_time) AS first_seen
          FROM a WHERE role IS NOT NULL GROUP BY agent, role)
    GROUP BY agent
), parents AS (
    SELECT agent, first(parent ORDER BY times DESC, first_seen, parent) AS parent
    FROM (SELECT agent, parent, count(*) AS times, min(start_time) AS first_seen
          FROM a WHERE parent IS NOT NULL GROUP BY agent, parent)
    GROUP BY agent
)
SELECT a.agent AS name,
       any_value(r.role) AS role,
       any_value(p.parent) AS parent,
       count(*) AS spans,
       count(*) FILTER (WHERE a.kind = 'llm') AS llm_calls,
       count(*) FILTER (WHERE a.kind = 'tool') AS tool_calls,
       count(*) FILTER (WHERE a.status = 'error') AS errors,
       coalesce(sum(a.cost_usd), 0) AS cost_usd,
       count(*) FILTER (WHERE a.cost_source = 'unpriced') AS unpriced,
       coalesce(any_value(b.busy_ms), 0) AS busy_ms,
       (epoch_us(max(a.end_time)) - epoch_us(min(a.start_time))) / 1000.0 AS wall_ms,
       (epoch_us(min(a.start_time)) - epoch_us(any_value(t0.t0))) / 1000.0 AS first_start_ms
FROM a CROSS JOIN t0
LEFT JOIN busy b ON b.agent = a.agent
LEFT JOIN roles r ON r.agent = a.agent
LEFT JOIN parents p ON p.agent = a.agent
GROUP BY a.agent
ORDER BY first_start_ms, name
"""
"""One row per agent of a session, in order of first start."""


def _tree_parents(rows: dict[str, dict[str, Any]]) -> dict[str, str | None]:
    """Each agent's parent in the tree: declared parents that are agents, with every cycle broken."""
    parent: dict[str, str | None] = {
        name: row["parent"] if row["parent"] in rows and row["parent"] != name else None
        for name, row in rows.items()
    }

    def started(name: str) -> tuple[float, str]:
        return (float(rows[name]["first_start_ms"]), name)

    for start in sorted(rows, key=started):
        # Walk up; meeting a name already on this walk means a cycle: cut it at its first starter.
        while True:
            seen: list[str] = []
            node: str | None = start
            while node is not None and node not in seen:
                seen.append(node)
                node = parent[node]
            if node is None:
                break
            cycle = seen[seen.index(node):]
            parent[min(cycle, key=started)] = None
    return parent


def agent_tree(con: duckdb.DuckDBPyConnection, session_id: str) -> list[AgentNode]:
    """The session's root agents with their sub-agents; empty when no span carries `Agent-Name`."""
    cursor = con.execute(AGENTS_SQL, {"session_id": session_id})
    names = [d[0] for d in cursor.description or []]
    rows: dict[str, dict[str, Any]] = {}
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        rows[row["name"]] = row
    if not rows:
        return []

    parent = _tree_parents(rows)
    children: dict[str | None, list[str]] = {}
    for name in rows:  # already in order of first start, then name
        children.setdefault(parent[name], []).append(name)

    def build(name: str) -> AgentNode:
        row = rows[name]
        return AgentNode(
            name=name,
            role=row["role"],
            parent=parent[name],
            spans=row["spans"],
            llm_calls=row["llm_calls"],
            tool_calls=row["tool_calls"],
            errors=row["errors"],
            cost_usd=float(row["cost_usd"]),
            unpriced=row["unpriced"],
            busy_ms=float(row["busy_ms"]),
            wall_ms=float(row["wall_ms"]),
            first_start_ms=float(row["first_start_ms"]),
            children=tuple(build(child) for child in children.get(name, ())),
        )

    # Every agent is reachable from a root once cycles are broken, so nothing is lost.
    return [build(name) for name in children.get(None, ())]
