"""The ingest's own verdict on lines before they are ingested, for the collector, which answers first.

The collector judges most lines in Python (serve/validate.py), which is fast but is a second reading of the
rules. Where that reading could differ from the ingest's, the line is judged here by the ingest itself: its
line reader (lines.py: BOM, line length, UTF-8) and its parse SQL (parse_sql.py: DuckDB's JSON reader,
redaction, every field rule) on an in-memory connection. That costs the SQL's planning, whatever the lines
(~40 ms on an idle core; 1.5-2.8 s for 1 or 1,000 lines measured on 2 cores at load 13), so it is kept for
the lines that need it: a possible credential or lenient token (redaction and the strict-JSON check read
those), a line past the longest the ingest reads, and JSON Python does not read as DuckDB does (a key twice,
a lone surrogate, nesting deeper than Python recurses, a number beyond a float).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import re2

from agenttrace_tui import config as config_file
from agenttrace_tui.store.write import parse_sql
from agenttrace_tui.store.write.ingest import LINE_SCHEMA, configured_max_line_bytes, line_table
from agenttrace_tui.store.write.lines import FileReadState, read_line_batches
from agenttrace_tui.store.write.redaction import RedactionRules, load_rules


@lru_cache(maxsize=8)
def _careful_regex(pattern: str) -> Any:
    """The ingest's RE2 pattern, compiled by RE2 as DuckDB compiles it (UTF-8, case-sensitive): the same
    answers. None: it does not compile (DuckDB refuses it too), so every line goes to the ingest."""
    try:
        return re2.compile(pattern)
    except re2.error:
        return None


@dataclass(frozen=True)
class IngestCheck:
    """The rules `agenttrace ingest` reads lines with now: the config's redaction and longest line."""

    redaction: RedactionRules
    max_line_bytes: int
    _regex: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", _careful_regex(parse_sql.careful_pattern(self.redaction)))

    def needs_ingest(self, line: bytes) -> bool:
        """Whether the ingest could read this line (valid UTF-8) otherwise than plain JSON would: too long, or
        a possible credential or lenient token (the ingest's own test, parse_sql.careful_pattern)."""
        return len(line) > self.max_line_bytes or self._regex is None or self._regex.search(line) is not None

    def reasons(self, lines: Sequence[bytes]) -> list[str | None]:
        """The ingest's reason to reject each line (None: it would be stored), as if each were a line of a
        file in the trace format."""
        if not lines:
            return []
        # A first blank line: a BOM the ingest strips only at a file's start stays on a line of ours.
        data = b"\n" + b"\n".join(lines) + b"\n"
        batches = read_line_batches(io.BytesIO(data), FileReadState(), max_line_bytes=self.max_line_bytes)
        tables = [line_table(batch) for batch in batches]
        with duckdb.connect() as con:
            con.register(parse_sql.LINE_BATCH, pa.concat_tables(tables) if tables else LINE_SCHEMA.empty_table())
            rows = con.execute(f"SELECT line_no, reason FROM ({parse_sql.parse_lines_sql(self.redaction)}) "
                               "WHERE reason IS NOT NULL").fetchall()
            found = {int(number): str(reason) for number, reason in rows}
        return [found.get(index) for index in range(2, len(lines) + 2)]


def ingest_check() -> IngestCheck:
    """The rules of the config file as it is now (a StoreError when it is not valid: the ingest would fail
    too). Built again only when the file changed (size, modification time, inode), as config.read keys its
    parse: the rules and the RE2 pattern cost ~1 ms a request otherwise."""
    path = config_file.config_path()
    try:
        stat = path.stat()
        version = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    except OSError:
        version = None
    return _check_for(path, version)


@lru_cache(maxsize=1)
def _check_for(path: Path, version: tuple[int, int, int] | None) -> IngestCheck:
    return IngestCheck(load_rules(path), configured_max_line_bytes(path))
