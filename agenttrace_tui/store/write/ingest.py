"""`agenttrace ingest`: trace files into the store, one transaction per file.

Per file: lines are staged in Arrow batches, validated and normalized in one SQL pass, bad lines go to
`rejects` with their number and reason, good ones merge into `span_data` (later non-null wins), costs are
computed for the models seen, and the touched sessions are rolled up. A crash or Ctrl-C rolls the file
back; the write lock is released between files so readers (the TUI) get in.
"""

from __future__ import annotations

import glob
import io
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

import duckdb
import orjson
import pyarrow as pa

from agenttrace_tui import config as config_file
from agenttrace_tui.interop import SNIFF_BYTES, Converted, SourceFormat, convert_file, sniff
from agenttrace_tui.store.backend import StoreTarget, WriteSession, open_backend
from agenttrace_tui.store.backend.connection import DEFAULT_WAIT_SECONDS, DUCKDB_MAGIC
from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.write import long_lines, merge_sql, preload
from agenttrace_tui.store.write import parse_sql
from agenttrace_tui.store.write.backpressure import ReleaseGate
from agenttrace_tui.store.write.direct_udfs import ASIDE_FIELDS, AsideFull, LinesAside, PriceLookup
from agenttrace_tui.store.write.interrupts import interrupts_to_duckdb, raise_if_requested
from agenttrace_tui.store.write.lines import (
    MAX_LINE_BYTES,
    FileReadState,
    LineBatch,
    PrefixedStream,
    Readable,
    open_binary,
    read_line_batches,
)
from agenttrace_tui.store.write.pricing import PriceOverrides, load_overrides, resolve_prices
from agenttrace_tui.store.write.redaction import RedactionRules, load_rules
from agenttrace_tui.store.write.trace_assembly import assemble_traces

STDIN_NAME: Final = "<stdin>"
TRACE_SUFFIXES: Final = (".jsonl", ".jsonl.gz")
PRELOAD_BYTES: Final = 8 * 1024 * 1024
"""Inputs this large load what pricing needs while their lines are parsed (store/write/preload.py)."""
REJECTS_SHOWN_PER_FILE: Final = 20
"""Rejects returned per file for display; all of them are kept in the store's rejects table."""


@dataclass(frozen=True)
class Reject:
    file: str
    line: int
    reason: str
    raw: str

    def one_line(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class FileResult:
    path: str
    lines: int = 0
    stored: int = 0
    rejected: int = 0
    spans: int = 0
    sessions_touched: int = 0
    skipped_unchanged: bool = False
    strict_refused: bool = False
    error: str | None = None
    rejects: list[Reject] = field(default_factory=list)


@dataclass
class IngestResult:
    files: list[FileResult] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    bytes_read: int = 0

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    @property
    def stored(self) -> int:
        return sum(f.stored for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def sessions_touched(self) -> int:
        return sum(f.sessions_touched for f in self.files)

    @property
    def failed_files(self) -> list[FileResult]:
        return [f for f in self.files if f.error is not None]

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and not self.failed_files


@dataclass(frozen=True)
class InputSource:
    """One thing to ingest: a file path, or standard input."""

    name: str
    path: Path | None  # None for stdin
    key: str | None = None
    """What the store names a file by (rejects, ingested_files) when not its path: `serve` names a spool
    segment, deleted once stored, `serve:SEGMENT`."""

    def size(self) -> int:
        if self.path is None:
            return 0
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


def expand_inputs(arguments: Sequence[str]) -> tuple[list[InputSource], list[str]]:
    """Files, directories (recursively: *.jsonl, *.jsonl.gz), globs and `-` → sources, and errors."""
    sources: dict[str, InputSource] = {}
    problems: list[str] = []
    for argument in arguments:
        if argument == "-":
            sources[STDIN_NAME] = InputSource(STDIN_NAME, None)
            continue
        # A path that exists is taken as named, even when it looks like a glob (`run[1].jsonl`).
        literal = Path(argument)
        candidates = [Path(p) for p in sorted(glob.glob(argument, recursive=True))] if (
            glob.has_magic(argument) and not literal.exists()
        ) else [literal]
        if not candidates:
            problems.append(f"{argument}: no file matches")
        for candidate in candidates:
            if candidate.is_dir():
                found = sorted(
                    p for p in candidate.rglob("*") if p.is_file() and p.name.endswith(TRACE_SUFFIXES)
                )
                if not found:
                    problems.append(f"{candidate}: no *.jsonl or *.jsonl.gz files in this directory")
                for path in found:
                    sources.setdefault(str(path.resolve()), InputSource(str(path), path))
            elif candidate.is_file():
                sources.setdefault(str(candidate.resolve()), InputSource(str(candidate), candidate))
            else:
                problems.append(f"{candidate}: no such file or directory")
    return list(sources.values()), problems


@dataclass(frozen=True)
class _Settings:
    """What every file of one ingest is read with."""

    overrides: PriceOverrides
    redaction: RedactionRules | None  # None: --no-redact
    max_line_bytes: int = MAX_LINE_BYTES


def _settings(prices_file: Path | None, redact: bool, max_line_bytes: int | None) -> _Settings:
    return _Settings(load_overrides(prices_file), load_rules() if redact else None,
                     max_line_bytes if max_line_bytes is not None else configured_max_line_bytes())


MAX_LINE_BYTES_KEY: Final = "max_line_bytes"


def configured_max_line_bytes(config: Path | None = None) -> int:
    """The config file's `[ingest] max_line_bytes`, else lines.MAX_LINE_BYTES."""
    path = config if config is not None else config_file.config_path()
    try:
        value = config_file.table("ingest", path).get(MAX_LINE_BYTES_KEY, MAX_LINE_BYTES)
    except config_file.ConfigError as exc:
        raise StoreError(str(exc)) from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StoreError(f"{path}: [ingest] {MAX_LINE_BYTES_KEY} must be a whole number of bytes >= 1, "
                         f"got {str(value)[:40]!r}")
    return value


def ingest(
    store: StoreTarget,
    sources: Sequence[InputSource],
    *,
    strict: bool = False,
    force: bool = False,
    prices_file: Path | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    on_bytes: Callable[[int], None] | None = None,
    stdin: BinaryIO | None = None,
    redact: bool = True,
    on_stage: Callable[[str], None] | None = None,
    max_line_bytes: int | None = None,
) -> IngestResult:
    """Ingest each source in its own transaction; per-file problems are reported, not raised.

    `redact`: credentials (API keys, auth headers, key-shaped strings) are replaced before anything is
    stored, by the rules of agenttrace_tui.store.write.redaction and the config's `[redact]` table.
    `on_stage`: told "parsing" when a file's lines start being read and checked, "storing" when its writes
    start (merge, pricing, rollups, commit: a second or two for a large file, with no bytes read).
    `max_line_bytes`: a longer line is rejected unread (store/write/lines.py); None: the config's
    `[ingest] max_line_bytes`, else 64 MiB."""
    settings = _settings(prices_file, redact, max_line_bytes)
    result = IngestResult()
    started = time.perf_counter()
    if sum(source.size() for source in sources) >= PRELOAD_BYTES:
        preload.start()
    writer = open_backend(store).write_session(wait_seconds)
    with interrupts_to_duckdb(lambda: writer.con) as interrupts:
        try:
            for index, source in enumerate(sources):
                file_result = FileResult(path=source.name)
                result.files.append(file_result)
                try:
                    if source.path is None:
                        stream: BinaryIO = stdin or sys.stdin.buffer
                        state = _ingest_one(writer, writer.backend.file_key(source.name), stream, file_result, strict, settings,
                                            on_bytes, fingerprint=None, sniff_format=True, on_stage=on_stage)
                        result.bytes_read += state.bytes_read
                    else:
                        try:
                            result.bytes_read += _ingest_path(
                                writer, source.path, file_result, strict, force, settings, on_bytes, on_stage,
                                source.key)
                        except duckdb.OutOfMemoryException:
                            # The memory cap that keeps big files small is too tight for a file of giant lines
                            # (a 100 MB prompt): read it again without the cap. (The file was rolled back.)
                            if not writer.lift_memory_limit():
                                raise
                            file_result = result.files[-1] = FileResult(path=source.name)
                            result.bytes_read += _ingest_path(
                                writer, source.path, file_result, strict, force, settings, on_bytes, on_stage,
                                source.key)
                except OSError as exc:
                    file_result.error = f"{source.name}: cannot read: {exc.strerror or exc}"
                except NotATraceFile as exc:
                    file_result.error = f"{source.name}: {exc}"
                except EOFError as exc:  # gzip stream cut short
                    file_result.error = f"{source.name}: cannot read: {exc}"
                except duckdb.Error as exc:
                    _rolled_back(file_result, f"{source.name}: store error: {str(exc).splitlines()[0]}")
                interrupts.check()  # Ctrl-C: the file was rolled back (or had just committed)
                writer.after_file(more_to_come=index < len(sources) - 1)
        finally:
            writer.close()
    result.elapsed_seconds = time.perf_counter() - started
    return result


class NotATraceFile(Exception):
    """A file that is certainly no trace (a DuckDB database: a store given where traces go): one error, not a
    reject for each of its lines."""


def _rolled_back(file_result: FileResult, error: str) -> None:
    """A file whose transaction failed stored nothing: its counts say so (the summary must not claim them)."""
    file_result.error = error
    file_result.stored = file_result.spans = file_result.rejected = file_result.sessions_touched = 0
    file_result.rejects = []


@dataclass(frozen=True)
class Chunk:
    """Complete lines of a growing file from `first_line` on (follow mode)."""

    name: str
    key: str  # the backend's key of the file (its resolved path): rejects and ingested_files use it
    data: bytes
    first_line: int
    fingerprint: tuple[int, int] | None  # (size, mtime_ns) when the chunk reaches the file's end


def ingest_chunks(
    store: StoreTarget,
    chunks: Sequence[Chunk],
    *,
    prices_file: Path | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    redact: bool = True,
    max_line_bytes: int | None = None,
) -> IngestResult:
    """Ingest the new lines of followed files, each chunk in its own transaction, under one short hold
    of the write lock."""
    settings = _settings(prices_file, redact, max_line_bytes)
    result = IngestResult()
    started = time.perf_counter()
    writer = open_backend(store).write_session(wait_seconds)
    with interrupts_to_duckdb(lambda: writer.con) as interrupts:
        try:
            for chunk in chunks:
                file_result = FileResult(path=chunk.name)
                result.files.append(file_result)
                try:
                    state = _ingest_one(writer, chunk.key, io.BytesIO(chunk.data), file_result, False, settings,
                                        None, chunk.fingerprint, first_line=chunk.first_line, sniff_format=True)
                    result.bytes_read += state.bytes_read
                except duckdb.Error as exc:
                    _rolled_back(file_result, f"{chunk.name}: store error: {str(exc).splitlines()[0]}")
                interrupts.check()
        finally:
            writer.close()
    result.elapsed_seconds = time.perf_counter() - started
    return result


def _ingest_path(
    writer: WriteSession,
    path: Path,
    file_result: FileResult,
    strict: bool,
    force: bool,
    settings: _Settings,
    on_bytes: Callable[[int], None] | None,
    on_stage: Callable[[str], None] | None = None,
    key_name: str | None = None,
) -> int:
    stat = path.stat()
    key = writer.backend.file_key(key_name or str(path.resolve()))
    con = writer.get()
    if not force and ingested_unchanged(con, key, stat.st_size, stat.st_mtime_ns):
        file_result.skipped_unchanged = True
        if on_bytes is not None:
            on_bytes(stat.st_size)
        return 0
    fingerprint = (stat.st_size, stat.st_mtime_ns)
    with open_binary(path) as stream:
        head = stream.read(SNIFF_BYTES)
        if head[8:12] == DUCKDB_MAGIC:
            raise NotATraceFile("a DuckDB database (an agenttrace store?), not a trace file: read it with --db, "
                                "or add its sessions to another store with `agenttrace copy --from`")
        if _direct_suits(writer, con, key, head, stat.st_size, strict):
            direct = _ingest_directly(writer, key, PrefixedStream(head, stream), file_result, settings, on_bytes,
                                      fingerprint, on_stage)
            if direct is not None:
                return direct.bytes_read
            on_bytes = None  # read again below: its bytes were counted once
        else:
            state = _ingest_one(writer, key, PrefixedStream(head, stream), file_result, strict, settings, on_bytes,
                                fingerprint=fingerprint, sniff_format=True, on_stage=on_stage)
            return state.bytes_read
    with open_binary(path) as stream:
        state = _ingest_one(writer, key, stream, file_result, strict, settings, on_bytes,
                            fingerprint=fingerprint, sniff_format=True, on_stage=on_stage)
    return state.bytes_read


DIRECT_MIN_BYTES: Final = 8 * 1024 * 1024
"""Files this large, in the trace format, are inserted from their parse (`_ingest_directly`) when they suit."""


def _direct_suits(writer: WriteSession, con: duckdb.DuckDBPyConnection, key: str, head: bytes, size: int,
                  strict: bool) -> bool:
    """Whether a file is likely to be all new spans, once each: never ingested before, and no span twice or
    started without an end in its first lines (the SDK writes a start and an end line per span; those merge
    better in the classic ingest). A wrong guess costs a second read, never a wrong store: see
    `_ingest_directly`. `--strict` files take the classic path, which stores nothing when a line is bad."""
    if not writer.direct_insert or strict or size < DIRECT_MIN_BYTES or sniff(head) is not SourceFormat.NATIVE:
        return False
    row = con.execute("SELECT count(*) FROM ingested_files WHERE path = ?", [key]).fetchone()
    return not (row and row[0]) and not _head_has_merging_spans(head)


def _head_has_merging_spans(head: bytes) -> bool:
    seen: set[str | None] = set()
    for line in head.split(b"\n")[:-1]:  # the last piece may be cut
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(record, dict) or record.get("type") == "session":
            continue
        span_id = record.get("span_id")
        if not isinstance(span_id, str):
            span_id = None  # a bad line: the parse says why
        if span_id in seen or (record.get("end_time") is None and record.get("duration_ms") is None):
            return True
        if span_id is not None:
            seen.add(span_id)
    return False


class _SpansRepeat(Exception):
    """A direct insert met a span the store held already, or one the file has twice: it is rolled back."""


PRICE_FUNCTION: Final = "agenttrace_price"
ASIDE_FUNCTION: Final = "agenttrace_aside"


def _ingest_directly(
    writer: WriteSession,
    file_key: str,
    stream: Readable,
    file_result: FileResult,
    settings: _Settings,
    on_bytes: Callable[[int], None] | None,
    fingerprint: tuple[int, int],
    on_stage: Callable[[str], None] | None,
) -> FileReadState | None:
    """One file in one transaction, its span lines inserted into `span_data` by the parse itself.

    The classic ingest parses a file into a temp table, then inserts from it: on the bench's 250 MB file the
    table's last copy and spill keep one core busy alone for 0.5 s, and the insert's scan of its two unequal
    row groups for 0.3 s more. Inserting from the parse writes each row group as it fills, on both threads.
    The lines that are not spans (bad lines, session records) are handed aside during the parse and written
    by the classic SQL; costs are computed per distinct model as lines name them (direct_udfs.py).

    Returns None, having rolled back, when a span turned out to be in the store already or twice in the file,
    or when too many lines were set aside (direct_udfs.ASIDE_MAX_BYTES): the caller then ingests the file the
    classic way, which merges spans and keeps its parsed lines under DuckDB's memory cap."""
    state = FileReadState()
    con = writer.get()
    prices = PriceLookup(settings.overrides)
    aside = LinesAside()
    prices.register(con, PRICE_FUNCTION)
    aside.register(con, ASIDE_FUNCTION)
    params = {"source_file": file_key}

    def body() -> None:
        statement = merge_sql.direct_insert_sql(parse_sql.parse_lines_sql(settings.redaction), PRICE_FUNCTION,
                                                ASIDE_FUNCTION, ASIDE_FIELDS)
        try:
            inserted = _run_over_lines(con, read_line_batches(stream, state, on_bytes, max_line_bytes=settings.max_line_bytes),
                                       statement, params, writer.lift_memory_limit)
        except duckdb.Error:
            # DuckDB's error hides what a function raised. Giving up on the direct way, and a KeyboardInterrupt
            # (where store/write/interrupts.py is not in place), must stay themselves; other failures are the file's.
            failure = aside.failure or prices.failure
            if isinstance(failure, AsideFull) or (failure is not None and not isinstance(failure, Exception)):
                raise failure from None
            raise
        if on_stage is not None:
            on_stage("storing")
        repeats = con.execute(merge_sql.DIRECT_REPEATS_SQL, params).fetchone()
        if repeats and repeats[0]:
            raise _SpansRepeat
        con.register(merge_sql.LINES_ASIDE, aside.table())
        try:
            con.execute(merge_sql.ASIDE_PARSED_LINES_SQL)
        finally:
            con.unregister(merge_sql.LINES_ASIDE)
        _record_rejects(con, file_key, file_result)
        set_aside = con.execute("SELECT count(*), count(*) FILTER (WHERE reason IS NULL) FROM parsed_lines").fetchone()
        assert set_aside is not None
        file_result.lines = inserted + int(set_aside[0])
        file_result.stored = inserted + int(set_aside[1])
        file_result.spans = inserted
        con.execute(merge_sql.DIRECT_FILE_SPANS_SQL, params)
        con.execute(merge_sql.NO_EXISTING_SPANS_SQL)
        file_result.sessions_touched = _merge_session_records_and_roll_up(con, params)
        _record_file(con, file_key, file_result, fingerprint)
        raise_if_requested()  # before COMMIT: a Ctrl-C between two statements rolls the file back

    if on_stage is not None:
        on_stage("parsing")
    try:
        writer.backend.transaction(con, body, writer.wait_seconds)
    except (_SpansRepeat, AsideFull):
        file_result.lines = file_result.stored = file_result.spans = file_result.rejected = 0
        file_result.rejects = []
        return None
    finally:
        for name in (PRICE_FUNCTION, ASIDE_FUNCTION):
            con.remove_function(name)
        _drop_temporaries(con)
    return state


def ingested_unchanged(con: duckdb.DuckDBPyConnection, key: str, size: int, mtime_ns: int) -> bool:
    row = con.execute(
        "SELECT count(*) FROM ingested_files WHERE path = ? AND size = ? AND mtime_ns = ?",
        [key, size, mtime_ns],
    ).fetchone()
    return bool(row and row[0])


def _ingest_one(
    writer: WriteSession,
    file_key: str,
    stream: Readable,
    file_result: FileResult,
    strict: bool,
    settings: _Settings,
    on_bytes: Callable[[int], None] | None,
    fingerprint: tuple[int, int] | None,
    first_line: int = 1,
    sniff_format: bool = False,
    on_stage: Callable[[str], None] | None = None,
) -> FileReadState:
    """`first_line` > 1: the stream is the rest of a file from that line on (follow mode); rejects of
    earlier lines are kept. `sniff_format`: an OpenTelemetry (OTLP JSON) or Helicone log file is
    converted to trace-format records first (agenttrace_tui.interop), then validated like any file."""
    state = FileReadState()
    batches: Iterator[LineBatch]
    if sniff_format:
        head = stream.read(SNIFF_BYTES)
        kind = sniff(head)
        if kind is SourceFormat.NATIVE:
            batches = read_line_batches(PrefixedStream(head, stream), state, on_bytes, first_line=first_line,
                                        max_line_bytes=settings.max_line_bytes)
        else:
            data = head + stream.read()
            state.bytes_read = len(data)
            if on_bytes is not None:
                on_bytes(len(data))
            batches = iter([converted_batch(convert_file(kind, data), first_line)])
    else:
        batches = read_line_batches(stream, state, on_bytes, first_line=first_line,
                                    max_line_bytes=settings.max_line_bytes)
    con = writer.get()
    if on_stage is not None:
        on_stage("parsing")
    try:
        # Parsed outside the transaction (into a temp table, local to this connection), so that a team
        # store's retry after a write conflict runs the writes again without reading the stream again.
        _parse_file(con, batches, settings.redaction, writer.lift_memory_limit)
        if on_stage is not None:
            on_stage("storing")
        def write() -> None:
            _write_file(con, file_key, file_result, strict, settings, fingerprint, first_line)
            raise_if_requested()  # before COMMIT: a Ctrl-C between two statements rolls the file back

        writer.backend.transaction(con, write, writer.wait_seconds)
    finally:
        _drop_temporaries(con)
    return state


def _write_file(
    con: duckdb.DuckDBPyConnection,
    file_key: str,
    file_result: FileResult,
    strict: bool,
    settings: _Settings,
    fingerprint: tuple[int, int] | None,
    first_line: int,
) -> None:
    """One file's writes, inside its transaction: rejects, spans, session records, costs, rollups."""
    _record_rejects(con, file_key, file_result, first_line)
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE reason IS NULL) FROM parsed_lines"
    ).fetchone()
    assert counts is not None
    file_result.lines = int(counts[0])
    if strict and file_result.rejected:
        file_result.strict_refused = True
    else:
        file_result.stored = int(counts[1])
        _merge(con, file_key, settings.overrides, file_result)
    if fingerprint is not None:
        _record_file(con, file_key, file_result, fingerprint)


def _record_file(con: duckdb.DuckDBPyConnection, file_key: str, file_result: FileResult,
                 fingerprint: tuple[int, int]) -> None:
    """The file's size and modification time, so that an unchanged file is skipped next time."""
    con.execute("DELETE FROM ingested_files WHERE path = ?", [file_key])
    con.execute(
        "INSERT INTO ingested_files VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
        [file_key, fingerprint[0], fingerprint[1], file_result.lines, file_result.stored, file_result.rejected],
    )


def _drop_temporaries(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables and views of one file's ingest, so the next file starts clean."""
    rows = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = 'temp'"
    ).fetchall()
    for name, table_type in rows:
        con.execute(f"DROP {'VIEW' if table_type == 'VIEW' else 'TABLE'} IF EXISTS temp.\"{name}\"")


LINE_SCHEMA: Final = pa.schema(
    [("line_no", pa.int64()), ("raw", pa.large_string()), ("bad_utf8_at", pa.int64()), ("unterminated", pa.bool_()),
     ("known_reason", pa.string()), ("extra_keys", pa.bool_())]
)


def _parse_file(con: duckdb.DuckDBPyConnection, batches: Iterator[LineBatch], redaction: RedactionRules | None = None,
                before_long_line: Callable[[], object] | None = None) -> None:
    """Validate and normalize a whole file's lines into `parsed_lines`, in one query over an Arrow stream."""
    _run_over_lines(con, batches, f"CREATE OR REPLACE TEMP TABLE parsed_lines AS {parse_sql.parse_lines_sql(redaction)}",
                    before_long_line=before_long_line)


def _run_over_lines(con: duckdb.DuckDBPyConnection, batches: Iterator[LineBatch], statement: str,
                    params: Mapping[str, object] | None = None,
                    before_long_line: Callable[[], object] | None = None) -> int:
    """Run `statement` (which reads parse_sql.LINE_BATCH) over a file's lines: one query, not one per block;
    returns the rows it wrote.

    One query: the big parse SQL is planned once (~40 ms), and DuckDB's workers pull blocks (read and split
    here, ~1 MB each) and parse them in parallel. Memory stays flat: blocks are produced as they are consumed:
    the scanner DuckDB puts over the stream would read ahead without bound, so a gate holds the reader back
    (agenttrace_tui.store.write.backpressure). (Reading ahead in a thread of ours was tried: no faster.)
    """
    failure: list[BaseException] = []
    gate = ReleaseGate()

    def record_batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in batches:
                gate.wait()
                length = long_lines.long_line_bytes(batch)
                if length >= long_lines.LIFT_CAP_BYTES and before_long_line is not None:
                    before_long_line()
                if length >= long_lines.CHECKED_BYTES:
                    batch = long_lines.with_extra_keys(batch)
                batch.lines = gate.track(batch.lines)
                yield from line_table(batch).to_batches()
        except BaseException as exc:  # raised again below: DuckDB would turn it into its own error
            failure.append(exc)
            raise

    reader = pa.RecordBatchReader.from_batches(LINE_SCHEMA, record_batches())
    con.register(parse_sql.LINE_BATCH, reader)
    # A filter gathers the few rows of a small chunk into a cache, copying them: a long line comes alone in its
    # block, so each filter of the parse copied it whole. Full blocks gain nothing from the cache.
    con.execute("SET enable_caching_operators = false")
    try:
        row = con.execute(statement, params or {}).fetchone()
    except duckdb.Error:
        if failure:
            raise failure[0] from None
        raise
    finally:
        con.execute("RESET enable_caching_operators")
        con.unregister(parse_sql.LINE_BATCH)
    if failure:
        raise failure[0]
    return int(row[0]) if row and row[0] is not None else 0


def line_table(batch: LineBatch) -> pa.Table:
    """A batch as the registered table of parse_sql.LINE_BATCH."""
    count = len(batch.lines)
    numbers = batch.line_numbers
    return pa.table(
        {
            "line_no": numbers if numbers is not None else pa.array(range(batch.first_line, batch.first_line + count),
                                                                     pa.int64()),
            "raw": batch.lines,
            "bad_utf8_at": batch.bad_utf8_at if batch.bad_utf8_at is not None else pa.nulls(count, pa.int64()),
            # Only a file's last line can lack its newline; read_line_batches yields it alone.
            "unterminated": pa.repeat(not batch.terminated, count) if count else pa.array([], pa.bool_()),
            "known_reason": batch.reasons if batch.reasons is not None else pa.nulls(count, pa.string()),
            "extra_keys": batch.extra_keys if batch.extra_keys is not None else pa.nulls(count, pa.bool_()),
        },
        schema=LINE_SCHEMA,
    )


def converted_batch(converted: Converted, first_line: int = 1) -> LineBatch:
    """A converted file's records (numbered by the source line they came from) and its conversion
    rejects, as one batch; `first_line` when the data starts mid-file (follow mode). Not the hot path:
    converted files go through Python anyway."""
    shift = first_line - 1
    rows = sorted(
        [(number + shift, record.decode("utf-8", "replace"), None) for number, record in converted.records]
        + [(number + shift, raw, reason) for number, reason, raw in converted.rejects],
        key=lambda row: row[0],
    )
    return LineBatch(
        first_line=1,
        lines=pa.array([row[1] for row in rows], pa.large_string()),
        line_numbers=pa.array([row[0] for row in rows], pa.int64()),
        reasons=pa.array([row[2] for row in rows], pa.string()),
    )


def _record_rejects(
    con: duckdb.DuckDBPyConnection, file_key: str, file_result: FileResult, first_line: int = 1
) -> None:
    con.execute("DELETE FROM rejects WHERE file = ? AND line >= ?", [file_key, first_line])
    con.execute(
        "INSERT INTO rejects SELECT ?, line_no, reason, raw, now()::TIMESTAMP "
        "FROM parsed_lines WHERE reason IS NOT NULL",
        [file_key],
    )
    row = con.execute("SELECT count(*) FROM parsed_lines WHERE reason IS NOT NULL").fetchone()
    file_result.rejected = int(row[0]) if row else 0
    shown = con.execute(
        "SELECT line_no, reason, raw FROM parsed_lines WHERE reason IS NOT NULL ORDER BY line_no LIMIT ?",
        [REJECTS_SHOWN_PER_FILE],
    ).fetchall()
    file_result.rejects = [Reject(file_result.path, int(n), str(reason), str(raw)) for n, reason, raw in shown]


def _merge(
    con: duckdb.DuckDBPyConnection, file_key: str, overrides: PriceOverrides, file_result: FileResult
) -> None:
    params = {"source_file": file_key}
    duplicates = con.execute(merge_sql.DUPLICATE_IDS_SQL).fetchone()
    con.execute(merge_sql.FILE_SPANS_MERGED_SQL if duplicates and duplicates[0] else merge_sql.FILE_SPANS_VIEW_SQL)
    con.execute(merge_sql.EXISTING_SPANS_SQL)
    existing = con.execute("SELECT count(*) FROM existing_spans").fetchone()
    merging = bool(existing and existing[0])
    pairs = con.execute(merge_sql.DISTINCT_MODELS_SQL).fetchall()
    if merging:
        con.execute(merge_sql.MERGE_EXISTING_SPANS_SQL, params)
        pairs += con.execute(merge_sql.MERGED_DISTINCT_MODELS_SQL).fetchall()
    con.register("prices", resolve_prices(dict.fromkeys((p, m) for p, m in pairs), overrides))
    try:
        if merging:
            con.execute(merge_sql.REPLACE_EXISTING_SPANS_SQL)
            con.execute(merge_sql.apply_prices_sql(merge_sql.MERGED_SCOPE))
        con.execute(merge_sql.INSERT_NEW_SPANS_SQL, params)
    finally:
        con.unregister("prices")
    spans = con.execute("SELECT count(*) FROM file_spans").fetchone()
    file_result.spans = int(spans[0]) if spans else 0
    file_result.sessions_touched = _merge_session_records_and_roll_up(con, params)


def _merge_session_records_and_roll_up(con: duckdb.DuckDBPyConnection, params: Mapping[str, object]) -> int:
    """The file's session records merged into the store, then every session it touched rolled up again (from
    `file_spans`, `existing_spans` and the records); returns how many sessions that was."""
    con.execute(merge_sql.MERGE_SESSION_RECORDS_SQL, params)
    con.execute(merge_sql.REPLACE_SESSION_RECORDS_SQL)
    con.execute(merge_sql.TOUCHED_SESSIONS_SQL)
    assemble_traces(con)  # OpenTelemetry traces that arrived in pieces, placed together (adds to touched_sessions)
    con.execute(merge_sql.ROLLUP_SQL)
    touched = con.execute("SELECT count(*) FROM touched_sessions").fetchone()
    return int(touched[0]) if touched else 0


def price_models(
    con: duckdb.DuckDBPyConnection, overrides: PriceOverrides, scope: str, distinct_models_sql: str
) -> None:
    """Resolve prices once per distinct (provider, model) in scope, then cost every span in SQL."""
    pairs = [(provider, model) for provider, model in con.execute(distinct_models_sql).fetchall()]
    if not pairs:
        return
    prices = resolve_prices(pairs, overrides)
    con.register("prices", prices)
    try:
        con.execute(merge_sql.apply_prices_sql(scope))
    finally:
        con.unregister("prices")
