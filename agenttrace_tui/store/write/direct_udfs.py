"""The two Python functions a direct ingest (ingest.py, `_ingest_directly`) gives DuckDB's parse.

A direct ingest inserts a file's span lines into `span_data` from the parse itself, so two things that the
classic ingest reads from its table of parsed lines must be had on the way:

- `PriceLookup`: the price of each line's (provider, model), resolved once per distinct pair the first time a
  line names it (store/write/pricing.py decides, overrides first), so the cost is computed as the span is inserted.
- `LinesAside`: the lines that are not spans (bad lines and session records), which the parse hands over instead
  of inserting; they are few, and become the temp table the classic SQL for rejects and session records reads.

Both are called by DuckDB's workers, one Arrow chunk (2,048 rows at most) at a time.
"""

from __future__ import annotations

import threading
from typing import Final

import duckdb
import pyarrow as pa
from duckdb import func, sqltypes

from agenttrace_tui.store.write.pricing import PRICE_CLASSES, PriceOverrides, resolve_prices

PRICE_FIELDS: Final = (("tier_start", "BIGINT"),) + tuple(
    (f"{prefix}{c}_mtok", "DOUBLE") for prefix in ("", "tier_") for c in PRICE_CLASSES
)
"""What `PriceLookup` returns per line: the columns of pricing.resolve_prices' table the cost formula reads."""

ASIDE_FIELDS: Final = (
    ("line_no", "BIGINT"), ("raw", "VARCHAR"), ("reason", "VARCHAR"), ("is_session", "BOOLEAN"),
    ("session_id", "VARCHAR"), ("name", "VARCHAR"), ("properties", "VARCHAR"), ("user_id", "VARCHAR"),
    ("tags", "VARCHAR"), ("extra", "VARCHAR"),
)
"""The parsed columns a line set aside keeps: those the SQL for rejects and session records reads (JSON as text)."""


ASIDE_MAX_BYTES: Final = 32 * 1024 * 1024
"""Lines set aside are held in Python, outside DuckDB's memory cap: past this much, the file goes the classic
way (a file of mostly bad lines or session records would otherwise hold them all)."""


class AsideFull(Exception):
    """More lines were set aside than ASIDE_MAX_BYTES: the direct ingest of the file is given up."""


class _Recorded:
    """DuckDB turns whatever a function raises into its own error, a KeyboardInterrupt included: the first
    exception is kept here, so the caller can raise it again as it was."""

    def __init__(self) -> None:
        self.failure: BaseException | None = None

    def _record(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc


def _struct_type(fields: tuple[tuple[str, str], ...]) -> sqltypes.DuckDBPyType:
    return duckdb.struct_type({name: sqltypes.DuckDBPyType(kind) for name, kind in fields})


class PriceLookup(_Recorded):
    """(provider, model) → price fields, or null when nobody prices the pair."""

    def __init__(self, overrides: PriceOverrides) -> None:
        super().__init__()
        self._overrides = overrides
        self._index: dict[tuple[str | None, str], int | None] = {}
        self._rows: list[dict[str, object]] = []
        self._table = pa.StructArray.from_arrays(
            [pa.array([], pa.int64())] + [pa.array([], pa.float64())] * (len(PRICE_FIELDS) - 1),
            names=[name for name, _ in PRICE_FIELDS],
        )
        self._lock = threading.Lock()

    def register(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        con.create_function(name, self, [sqltypes.VARCHAR, sqltypes.VARCHAR], _struct_type(PRICE_FIELDS),
                            type=func.PythonUDFType.ARROW, null_handling=func.FunctionNullHandling.SPECIAL,
                            side_effects=False)

    def __call__(self, providers: pa.Array, models: pa.Array) -> pa.Array:
        try:
            pairs = list(zip(providers.to_pylist(), models.to_pylist()))
            # One lock over lookup and take: a worker resolving a new pair changes the index and the table together.
            with self._lock:
                missing = [pair for pair in dict.fromkeys(pairs) if pair not in self._index and pair[1] is not None]
                if missing:
                    self._resolve(missing)
                indices = [self._index.get(pair) if pair[1] is not None else None for pair in pairs]
                return self._table.take(pa.array(indices, pa.int64()))
        except BaseException as exc:
            self._record(exc)
            raise

    def _resolve(self, pairs: list[tuple[str | None, str]]) -> None:
        priced = {(row["provider"], row["model"]): row for row in resolve_prices(pairs, self._overrides).to_pylist()}
        for pair in pairs:
            row = priced.get(pair)
            if row is None:
                self._index[pair] = None
                continue
            self._index[pair] = len(self._rows)
            self._rows.append({name: row[name] for name, _ in PRICE_FIELDS})
        self._table = pa.array(self._rows, type=self._table.type)


class LinesAside(_Recorded):
    """Collects the rows the parse does not insert; `table()` gives them back as one Arrow table."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[pa.StructArray] = []
        self._bytes = 0
        self._max_bytes = ASIDE_MAX_BYTES
        self._lock = threading.Lock()

    def register(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        con.create_function(name, self, [_struct_type(ASIDE_FIELDS)], sqltypes.BOOLEAN,
                            type=func.PythonUDFType.ARROW, null_handling=func.FunctionNullHandling.SPECIAL,
                            side_effects=True)

    def __call__(self, rows: pa.Array) -> pa.Array:
        try:
            with self._lock:
                self._bytes += rows.nbytes
                if self._bytes > self._max_bytes:
                    raise AsideFull(f"more than {self._max_bytes:,} bytes of lines set aside")
                self._chunks.append(rows)
            return pa.array([False] * len(rows), pa.bool_())
        except BaseException as exc:
            self._record(exc)
            raise

    def table(self) -> pa.Table:
        struct = pa.struct([(name, pa.int64() if kind == "BIGINT" else pa.bool_() if kind == "BOOLEAN" else
                             pa.string()) for name, kind in ASIDE_FIELDS])
        chunks = [chunk.cast(struct) for chunk in self._chunks] or [pa.array([], struct)]
        return pa.Table.from_struct_array(pa.chunked_array(chunks, struct))
