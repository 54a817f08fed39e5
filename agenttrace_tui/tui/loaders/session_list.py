"""The session list's read: the filtered, sorted sessions as one Arrow table, their property columns and totals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from agenttrace_tui.store import Store, compile_filters


@dataclass(frozen=True)
class SessionList:
    raw: pa.Table  # the store's columns, for ids and exports
    properties: tuple[str, ...]
    totals: dict[str, Any]  # over every session the filter selects, even when `raw` is a first page
    complete: bool = True  # False: `raw` is the first page only, the whole list is still to come


def read_session_list(
    store: Store, filters: Sequence[str], sort: str | None, descending: bool,
    properties: tuple[str, ...] | None = None, limit: int | None = None,
) -> SessionList:
    """`properties`: the property columns of an earlier load, so a re-sort doesn't choose them again.
    `limit`: only the first rows (a first page, quick to draw); `complete` says whether that was all.
    A bad filter fails (FilterError) before the store is opened."""
    where = compile_filters(filters)
    with store.read() as r:
        if properties is None:
            properties = r.informative_properties()
        raw = r.sessions_table(where, sort=sort, descending=descending, properties=properties, limit=limit)
        totals = r.totals(where)
    return SessionList(raw, properties, totals, complete=limit is None or raw.num_rows < limit)
