"""The `agenttrace` command line: one verb per command, `--json`/`--csv` on reads, one-line errors.

Textual is imported only inside `tui`, so `--help`, `ingest` and the query commands start fast.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, NoReturn

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # Typer's own Click
from typer.core import TyperGroup

from agenttrace_tui import display
from agenttrace_tui.format import UNNAMED_SESSION
from agenttrace_tui.stats_view import stats_renderables
from agenttrace_tui.textsafe import escape_json, sanitize

if TYPE_CHECKING:  # the store is imported by the commands that use it: `--help` starts without DuckDB
    from agenttrace_tui.store import IngestResult, NodeStats, Store, StoreLocation, TreeNode


class _OneLineUsageErrors(TyperGroup):
    """A usage error (an option value out of range or of the wrong type, a missing argument, an unknown option) is
    one line on stderr and exit code 2, like every other error, instead of Click's usage box."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except NoArgsIsHelpError as exc:  # the help is shown already
            sys.exit(exc.exit_code)
        except UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "agenttrace"
            message = " ".join(exc.format_message().split())
            stderr.print(Text(f"agenttrace: error: {sanitize(message)} (see {sanitize(command)} --help)"))
            sys.exit(exc.exit_code)
        except ClickException as exc:
            stderr.print(Text(f"agenttrace: error: {sanitize(' '.join(exc.format_message().split()))}"))
            sys.exit(exc.exit_code)
        except typer.Abort:
            stderr.print("agenttrace: aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="agenttrace",
    cls=_OneLineUsageErrors,
    help="Local-first trace explorer for AI agents: ingest JSONL traces into DuckDB, query them, browse "
    "them in the terminal.\n\nStart with: agenttrace ingest sample_traces/ && agenttrace sessions",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Piped output keeps whole rows (rich would otherwise assume 80 columns); messages never wrap, so each
# error stays one line for grep and logs.
stdout = Console(highlight=False, width=None if sys.stdout.isatty() else 240)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

LARGE_INPUT_BYTES: Final = 8 * 1024 * 1024
"""Show a progress bar on a terminal when the inputs add up to more than this."""

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Store file, or a team store URL ducklake:postgres:CONNINFO (docs/team-store.md); default: "
                 "$AGENTTRACE_DB, else the config's \\[store] db, else ~/.local/share/agenttrace/traces.duckdb.",
                 show_default=False),
]


def _seconds(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise typer.BadParameter(f"{value!r} is not a number of seconds >= 0")
    return value


WaitOption = Annotated[
    float, typer.Option("--wait", help="Seconds to wait for another agenttrace process to release the store.",
                        callback=_seconds)
]
MAX_ROWS: Final = 2**63 - 1
"""A --limit past what the store counts in (BIGINT) lists everything, as no limit does."""
MAX_TOP: Final = 999_999
"""--top's largest value: DuckDB's min_by(…, n) takes n < 1,000,000."""
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
CsvOption = Annotated[bool, typer.Option("--csv", help="CSV on stdout.")]


def fail(message: str, code: int = 2) -> NoReturn:
    stderr.print(Text(f"agenttrace: error: {sanitize(message)}"))
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Store and filter errors are the user's to fix: one line, no traceback."""
    from agenttrace_tui.store import StoreError

    try:
        yield
    except StoreError as exc:
        fail(str(exc))


def _json_bytes(value: Any) -> bytes:
    """The value as one JSON line; control and invisible characters inside strings as \\u escapes (the same data,
    and nothing that acts on a terminal the JSON is printed to)."""
    return escape_json(orjson.dumps(
        value, option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE, default=str
    ))


def emit_json(value: Any) -> None:
    sys.stdout.buffer.write(_json_bytes(value))
    sys.stdout.flush()


def emit_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """CSV as stored when piped; on a terminal, like `ls`, control and invisible characters as stand-ins (CSV has
    no escape for them, and a value must not act on the terminal)."""
    on_terminal = sys.stdout.isatty()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([sanitize(c) for c in columns] if on_terminal else columns)
    for row in rows:
        cells = [orjson.dumps(v, default=str).decode() if isinstance(v, (dict, list)) else v for v in row]
        writer.writerow([sanitize(c) if isinstance(c, str) else c for c in cells] if on_terminal else cells)
    sys.stdout.write(buffer.getvalue())


def _store(db: str | None, wait: float) -> Store:
    from agenttrace_tui.store import Store

    with user_errors():  # a bad store URL or config file
        return Store(db, wait_seconds=wait)


# ingest -----------------------------------------------------------------------------------------


@app.command(epilog="Example: agenttrace ingest sample_traces/ 'runs/**/*.jsonl.gz' --db team.duckdb")
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, directories (recursive *.jsonl, *.jsonl.gz), globs, or - for stdin.",
                                               show_default=False)],
    db: DbOption = None,
    strict: Annotated[bool, typer.Option("--strict", help="Store nothing from a file that has a bad line.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Re-read files that are unchanged since their last ingest.")] = False,
    prices: Annotated[Path | None, typer.Option("--prices", help="TOML price overrides (\\[models.\"name\"] input_mtok=…, output_mtok=…).")] = None,
    json_output: JsonOption = False,
    wait: WaitOption = 30.0,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep reading: new lines of the files, and new files "
                                         "in followed directories, are ingested as they are written (Ctrl-C stops).")] = False,
    no_redact: Annotated[bool, typer.Option("--no-redact", help="Store credentials as written (API keys, auth headers "
                                            "and key-shaped strings are replaced by default; see \\[redact] in the config).")] = False,
    max_line_bytes: Annotated[int | None, typer.Option("--max-line-bytes", min=1, show_default=False,
                              help="Reject longer lines unread (default: \\[ingest] max_line_bytes in the config, "
                              "else 67108864, 64 MiB).")] = None,
) -> None:
    """Load trace files into the store. Bad lines are reported (file:line: reason) and kept in
    `agenttrace rejects`; the good lines next to them are stored. Exit 1 when any line was rejected,
    2 when a file could not be read or stored (or for a usage error)."""
    from agenttrace_tui.store import StoreError, expand_inputs, location_text, resolve_store
    from agenttrace_tui.store import ingest as run_ingest

    try:
        db_path = resolve_store(db)
    except StoreError as exc:
        fail(str(exc))
    if follow:
        _follow(db_path, paths, prices, wait, json_output, redact=not no_redact, max_line_bytes=max_line_bytes)
        return
    sources, problems = expand_inputs(paths)
    for problem in problems:
        stderr.print(Text(f"agenttrace: {sanitize(problem)}"))
    if not sources:
        fail("nothing to ingest")
    total_bytes = sum(source.size() for source in sources)
    show_progress = not json_output and stderr.is_terminal and total_bytes > LARGE_INPUT_BYTES
    try:
        if show_progress:
            from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

            with Progress(
                "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                TimeRemainingColumn(), console=stderr, transient=True,
            ) as progress:
                task = progress.add_task("parsing", total=total_bytes)
                # The stage is one of ingest's two fixed words, never a file name: a description is Rich markup.
                result = run_ingest(db_path, sources, strict=strict, force=force, prices_file=prices,
                                    wait_seconds=wait, on_bytes=lambda n: progress.advance(task, n),
                                    redact=not no_redact, max_line_bytes=max_line_bytes,
                                    on_stage=lambda stage: progress.update(task, description=stage))
        else:
            result = run_ingest(db_path, sources, strict=strict, force=force, prices_file=prices,
                                wait_seconds=wait, redact=not no_redact, max_line_bytes=max_line_bytes)
    except StoreError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        stderr.print("agenttrace: interrupted; the file being ingested was rolled back, earlier files are stored")
        _exit_now(130)

    if json_output:
        emit_json(
            {
                "db": location_text(db_path),
                "files": [
                    {
                        "path": f.path, "lines": f.lines, "stored": f.stored, "rejected": f.rejected,
                        "spans": f.spans, "sessions_touched": f.sessions_touched,
                        "skipped_unchanged": f.skipped_unchanged, "strict_refused": f.strict_refused,
                        "error": f.error,
                        "rejects": [{"line": r.line, "reason": r.reason} for r in f.rejects],
                    }
                    for f in result.files
                ],
                "lines": result.lines, "stored": result.stored, "rejected": result.rejected,
                "sessions_touched": result.sessions_touched, "elapsed_seconds": result.elapsed_seconds,
            }
        )
    else:
        _report(result, rejects_per_file=None)
    # A file that could not be read or stored is an error (2), like a busy store; rejected lines are 1.
    raise typer.Exit(2 if result.failed_files else 0 if result.ok else 1)


def _follow(db_path: StoreLocation, paths: list[str], prices: Path | None, wait: float, json_output: bool, *,
            redact: bool, max_line_bytes: int | None) -> None:
    """`ingest --follow`: one report per round that stored something; with --json, one JSON object per line
    (what `tui --follow` reads to know when to refresh)."""
    import threading

    from agenttrace_tui.store import Follower, StoreError, location_text

    follower = Follower(db_path, paths, prices_file=prices, wait_seconds=wait, redact=redact,
                        max_line_bytes=max_line_bytes)
    for problem in follower.problems:
        stderr.print(Text(f"agenttrace: {sanitize(problem)}"))

    def report(result: IngestResult) -> None:
        if json_output:
            emit_json({"lines": result.lines, "stored": result.stored, "rejected": result.rejected,
                       "sessions_touched": result.sessions_touched,
                       "files": [f.path for f in result.files if f.lines or f.error],
                       "errors": [f.error for f in result.files if f.error]})
        else:
            _report(result, rejects_per_file=None)

    if not json_output:
        stderr.print(Text(f"agenttrace: following {sanitize(', '.join(paths))} into "
                          f"{sanitize(location_text(db_path))} (Ctrl-C stops)"))
    try:
        follower.run(report, threading.Event())
    except StoreError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def _exit_now(code: int) -> NoReturn:
    """Exit at once after an interrupted ingest (its store connection is closed and the file rolled back).
    DuckDB's and Arrow's worker threads may still be unwinding calls into Python when Ctrl-C stops a query, and
    the interpreter's shutdown under them can abort the process (seen once in eight interrupted runs)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _report(result: IngestResult, rejects_per_file: int | None) -> None:
    """Per-file problems, then the one-line summary, on stderr."""
    for file_result in result.files:
        if file_result.error:
            stderr.print(Text(f"agenttrace: {sanitize(file_result.error)}"))
        shown = file_result.rejects[:rejects_per_file]
        for reject in shown:
            stderr.print(Text(sanitize(reject.one_line())))
        if file_result.rejected > len(shown):
            stderr.print(Text(f"{sanitize(file_result.path)}: … {file_result.rejected - len(shown)} "
                              "more rejected lines (agenttrace rejects)"))
        if file_result.strict_refused:
            stderr.print(Text(f"{sanitize(file_result.path)}: --strict: nothing stored from this file"))
    stderr.print(Text(_summary(result)))


def _summary(result: IngestResult) -> str:
    files = len(result.files)
    skipped = sum(1 for f in result.files if f.skipped_unchanged)
    rate = result.lines / result.elapsed_seconds if result.elapsed_seconds > 0 else 0.0
    parts = [
        f"{files} file{'s' if files != 1 else ''}",
        f"{result.lines:,} lines",
        f"{result.stored:,} stored",
        f"{result.rejected:,} rejected",
        f"{result.sessions_touched:,} sessions touched",
    ]
    if skipped:
        parts.append(f"{skipped} unchanged (skipped; --force re-reads)")
    if result.failed_files:
        parts.append(f"{len(result.failed_files)} unreadable")
    return f"ingested {', '.join(parts)} in {result.elapsed_seconds:.2f} s ({rate:,.0f} lines/s)"


# sessions ---------------------------------------------------------------------------------------


@app.command(epilog="Examples: agenttrace sessions --filter 'errors > 0' --sort cost --desc --limit 20\n\n"
             "agenttrace sessions --filter 'prop.Agent-Version = v1.0' --since 7d --json")
def sessions(
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="FIELD OP VALUE (OP: = != > >= < <= ~); repeat to AND. "
                       "Fields: name id cost duration errors error_rate spans llm_calls tool_calls tokens unpriced "
                       "model tool path user started prop.NAME.")] = None,
    since: Annotated[str | None, typer.Option(help="Sessions that started at or after T (ISO 8601, or 30m/2h/7d ago).")] = None,
    until: Annotated[str | None, typer.Option(help="Sessions that started before T.")] = None,
    query: Annotated[str | None, typer.Option("--query", help="Helicone's session query body: '{\"filter\": {\"properties\": {\"K\": \"V\"}}}'.")] = None,
    sort: Annotated[str | None, typer.Option(help="Sort field: start, name, duration, spans, errors, error_rate, cost, tokens, …")] = None,
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending (default when --sort is not given: newest first).")] = False,
    limit: Annotated[int | None, typer.Option(help="At most N sessions.", min=0)] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
    csv_output: CsvOption = False,
    wait: WaitOption = 30.0,
) -> None:
    """List sessions with their rollups: duration (first start → last end), spans, calls, errors, cost."""
    from agenttrace_tui.store import SESSION_COLUMNS

    store = _store(db, wait)
    descending = desc if sort else True
    with user_errors():
        rows = store.sessions(filter_ or [], since=since, until=until, query=query, sort=sort,
                              descending=descending, limit=None if limit is None else min(limit, MAX_ROWS))
    if json_output:
        emit_json(rows)
        return
    if csv_output:
        emit_csv(SESSION_COLUMNS, [[row[c] for c in SESSION_COLUMNS] for row in rows])
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column, justify in (("name", "left"), ("session id", "left"), ("started", "left"), ("duration", "right"),
                            ("spans", "right"), ("llm", "right"), ("tools", "right"), ("errors", "right"),
                            ("cost", "right"), ("tokens in/out", "right")):
        table.add_column(column, justify=justify, no_wrap=column != "name",  # type: ignore[arg-type]
                         overflow="ellipsis", max_width=40 if column == "name" else None)
    for row in rows:
        errors = f"{row['errors']} ({display.rate(row['error_rate'])})" if row["errors"] else "0"
        table.add_row(
            Text(sanitize(row["name"] or UNNAMED_SESSION)),
            Text(sanitize(row["session_id"])),
            display.timestamp(row["start_time"]),
            display.duration(row["duration_ms"]),
            display.count(row["spans"]),
            display.count(row["llm_calls"]),
            display.count(row["tool_calls"]),
            Text(errors, style="red" if row["errors"] else ""),
            display.cost(row["cost_usd"], row["unpriced"]),
            f"{display.count(row['input_tokens'])}/{display.count(row['output_tokens'])}",
        )
    stdout.print(table)
    if not rows and limit != 0:  # --limit 0 asked for none: an empty list says nothing about the store
        stderr.print("no sessions match" if (filter_ or since or until or query) else
                     "no sessions yet: agenttrace ingest FILE (try sample_traces/)")


# show -------------------------------------------------------------------------------------------


@app.command(epilog="Example: agenttrace show agent-1718000000 --spans 5")
def show(
    session_id: Annotated[str, typer.Argument(help="The session's id.", show_default=False)],
    spans: Annotated[int, typer.Option("--spans", help="Spans listed per path (0: none; -1: all).")] = 10,
    db: DbOption = None,
    json_output: JsonOption = False,
    wait: WaitOption = 30.0,
) -> None:
    """A session's path tree: per node its spans, busy time and wall span, cost, tokens and errors."""
    store = _store(db, wait)
    with user_errors(), store.read() as reader:
        summary = reader.session(session_id)
        tree = reader.tree(session_id, spans_per_node=None if spans < 0 else spans)
    if summary is None or tree is None:
        fail(f"no session {session_id!r} in {store.display()}")
    if json_output:
        emit_json({"session": summary, "tree": tree.to_json()})
        return
    header = Text()
    header.append(sanitize(summary["name"] or UNNAMED_SESSION), style="bold")
    header.append(f"  {sanitize(session_id)}  ", style="dim")
    header.append(
        f"{display.duration(summary['duration_ms'])} · {summary['spans']} spans · "
        f"{display.cost(summary['cost_usd'], summary['unpriced'])} · {summary['errors']} errors"
    )
    if summary["name_conflict"]:
        header.append(f"  (also named: {sanitize(', '.join(summary['names']))})", style="yellow")
    rich_tree = Tree(header)
    _add_node(rich_tree, tree, spans)
    stdout.print(rich_tree)


def _node_label(node: NodeStats) -> Text:
    label = Text()
    label.append(sanitize(node.path if node.path == "/" else node.name), style="bold red" if node.errors else "bold")
    figures = [
        f"{node.spans} span{'s' if node.spans != 1 else ''}",
        f"busy {display.duration(node.busy_ms)} / wall {display.duration(node.wall_ms)}",
    ]
    if node.llm_calls:  # a folder of tool calls has no cost or tokens to show
        figures.append(display.cost(node.cost_usd, node.unpriced))
        figures.append(f"{display.count(node.input_tokens)}/{display.count(node.output_tokens)} tok")
    label.append("  " + " · ".join(figures), style="dim")
    if node.errors:
        label.append(f" · {node.errors} error{'s' if node.errors != 1 else ''}", style="red")
    return label


def _span_label(span: dict[str, Any]) -> Text:
    label = Text()
    marker = "✗ " if span["status"] == "error" else ("… " if span["in_progress"] else "")
    label.append(marker, style="red" if span["status"] == "error" else "yellow")
    label.append(f"{sanitize(span['kind']):<9}", style="cyan")
    label.append(sanitize(span["name"] or span["model"] or span["span_id"]))
    label.append(f"  {display.duration(span['duration_ms'])}", style="dim")
    if span["cost_source"] == "unpriced":
        label.append("  unpriced", style="yellow")
    elif span["cost_usd"] is not None:
        label.append(f"  {display.cost(span['cost_usd'])}", style="dim")
    if span["status"] == "error":
        reason = span["error_message"] or span["error_type"] or "error"
        label.append(f"  {sanitize(reason)[:120]}", style="red")
    return label


def _add_node(branch: Tree, node: TreeNode, spans_shown: int) -> None:
    target = branch.add(_node_label(node)) if node.path != "/" else branch
    if node.path == "/":
        target.label = Text.assemble(target.label, "\n", _node_label(node))  # type: ignore[arg-type]
    for span in node.span_rows:
        target.add(_span_label(span))
    hidden = node.self_spans - len(node.span_rows)
    if hidden > 0 and spans_shown != 0:
        target.add(Text(f"… {hidden} more (--spans -1 shows all)", style="dim"))
    for child in node.children:
        _add_node(target, child, spans_shown)


@app.command(epilog="Examples: agenttrace stats --by prop.Agent-Version\n\n"
             "agenttrace stats --filter 'name ~ support' --since 7d --json")
def stats(
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="FIELD OP VALUE, as in `sessions`; selects whole sessions; repeat to AND.")] = None,
    since: Annotated[str | None, typer.Option(help="Sessions that started at or after T (ISO 8601, or 30m/2h/7d ago).")] = None,
    until: Annotated[str | None, typer.Option(help="Sessions that started before T.")] = None,
    query: Annotated[str | None, typer.Option("--query", help="Helicone's session query body: '{\"filter\": {\"properties\": {\"K\": \"V\"}}}'.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Compare the values of a field side by side: prop.NAME (e.g. prop.Agent-Version), name or user.")] = None,
    top: Annotated[int, typer.Option("--top", help="Rows per list.", max=MAX_TOP)] = 10,
    db: DbOption = None,
    json_output: JsonOption = False,
    wait: WaitOption = 30.0,
) -> None:
    """Analytics across sessions: cost, latency, errors and recovery, bottlenecks, and a compare by property
    (figures and --json keys: docs/analytics.md)."""
    store = _store(db, wait)
    with user_errors():
        result = store.stats(filter_ or [], since=since, until=until, query=query, by=by, top=top)
    if json_output:
        emit_json(result.to_json())
        return
    for renderable in stats_renderables(result):
        stdout.print(renderable)
    if result.sessions == 0:
        stderr.print("no sessions match" if (filter_ or since or until or query) else
                     "no sessions yet: agenttrace ingest FILE (try sample_traces/)")


# sql, rejects, reprice ----------------------------------------------------------------------------


@app.command(
    help="SQL on the store, which it cannot change (tables and views: docs/store.md).\n\n"
    "The SQL runs with your rights, like DuckDB's own shell: it can read any file you can (read_csv, glob), write "
    "one (COPY ... TO), and install and load extensions (network). Use --safe for SQL you did not write yourself "
    "(docs/reliability.md).\n\nEvery value prints as DuckDB shows it (TIMESTAMPTZ in UTC, with its +00); --json "
    "keeps numbers and nested values as JSON.",
    epilog="Example: agenttrace sql \"SELECT model, count(*), sum(cost_usd) FROM spans GROUP BY ALL\"",
)
def sql(
    statement: Annotated[str, typer.Argument(help="A query over the views spans, sessions, rejects, session_properties.",
                                             show_default=False)],
    db: DbOption = None,
    json_output: JsonOption = False,
    csv_output: CsvOption = False,
    wait: WaitOption = 30.0,
    safe: Annotated[bool, typer.Option("--safe", help="Read the store and nothing else: no other file, no network, "
                                       "no extension (a store file only).")] = False,
) -> None:
    store = _store(db, wait)
    with user_errors():
        result = store.query(statement, restricted=safe, json_values=json_output)
    if json_output:
        records = [dict(zip(result.columns, row)) for row in result.rows]
        try:
            emit_json(records)
        except orjson.JSONEncodeError:  # an integer past 64 bits (HUGEINT): orjson can't, the stdlib can
            document = json.dumps(records, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            sys.stdout.buffer.write(escape_json(document))
            sys.stdout.flush()
    elif csv_output:
        emit_csv(result.columns, result.rows)
    else:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in result.columns:
            table.add_column(Text(sanitize(column)))
        for row in result.rows:
            table.add_row(*(Text(sanitize("NULL" if v is None else v)) for v in row))
        stdout.print(table)


@app.command(epilog="Example: agenttrace rejects --json | jq .")
def rejects(
    clear: Annotated[bool, typer.Option("--clear", help="Delete the recorded rejects.")] = False,
    limit: Annotated[int | None, typer.Option(help="At most N.", min=0)] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
    wait: WaitOption = 30.0,
) -> None:
    """Lines that failed validation: file, line, reason, and the line itself."""
    store = _store(db, wait)
    with user_errors():
        if clear:
            cleared = store.clear_rejects()
            stderr.print(f"cleared {cleared} rejected line{'s' if cleared != 1 else ''}")
            return
        rows = store.rejects(None if limit is None else min(limit, MAX_ROWS))
    if json_output:
        emit_json(rows)
        return
    for row in rows:
        stdout.print(Text(sanitize(f"{row['file']}:{row['line']}: {row['reason']}")))
        stdout.print(Text("    " + sanitize(row["raw"])[:200], style="dim"))
    if not rows:
        stderr.print("no rejected lines")


@app.command(epilog="Example: agenttrace reprice --prices prices.toml")
def reprice(
    prices: Annotated[Path | None, typer.Option("--prices", help="TOML price overrides (else the config file's \\[prices]).")] = None,
    db: DbOption = None,
    wait: WaitOption = 30.0,
) -> None:
    """Recompute stored costs after price overrides change (reported costs are kept)."""
    store = _store(db, wait)
    with user_errors():
        if not store.exists():
            fail(f"no store at {store.display()} yet")
        priced = store.reprice(prices)
        totals = store.totals()
    stderr.print(
        f"repriced {priced:,} spans; total {display.cost(totals['cost_usd'], totals['unpriced'])} "
        f"over {totals['sessions']:,} sessions"
    )


@app.command(name="copy", epilog="Example: agenttrace copy --from traces.duckdb --to "
             "'ducklake:postgres:dbname=traces host=db.internal'")
def copy_(
    from_: Annotated[str, typer.Option("--from", help="The store to read: a file or a team store URL.", show_default=False)],
    to: Annotated[str, typer.Option("--to", help="The store to write (created if need be).", show_default=False)],
    append: Annotated[bool, typer.Option("--append", help="Merge into a non-empty target: spans and sessions it "
                                         "has already (same id) are kept as they are there.")] = False,
    json_output: JsonOption = False,
    wait: WaitOption = 30.0,
) -> None:
    """Copy a whole store into another, e.g. a local file into the team store and back (docs/team-store.md)."""
    from agenttrace_tui.store import copy_store

    source, target = _store(from_, wait), _store(to, wait)
    with user_errors():
        result = copy_store(source, target, append=append)
    if json_output:
        emit_json({"from": source.display(), "to": target.display(), "rows": result.rows,
                   "elapsed_seconds": result.elapsed_seconds})
        return
    rows = ", ".join(f"{table} {count:,}" for table, count in result.rows.items())
    stderr.print(Text(f"copied {sanitize(source.display())} -> {sanitize(target.display())} in "
                      f"{result.elapsed_seconds:.2f} s: {rows}"))


# tui --------------------------------------------------------------------------------------------


@app.command(epilog="Example: agenttrace tui sample_traces/")
def tui(
    paths: Annotated[list[str] | None, typer.Argument(help="Trace files to ingest first (optional).", show_default=False)] = None,
    db: DbOption = None,
    wait: WaitOption = 30.0,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep ingesting the paths as agents write them; "
                                         "open screens update live.")] = False,
    serve: Annotated[bool, typer.Option("--serve", help="Also run the collector (`agenttrace serve` on 127.0.0.1:8585, "
                                        "into this store) while the explorer is open.")] = False,
    upstream: Annotated[str | None, typer.Option("--upstream", show_default=False,
                                                 help="With --serve: the OpenAI-compatible server its gateway forwards to.")] = None,
) -> None:
    """Browse sessions in the terminal: session list → path tree → span detail. Open screens follow the
    store as other processes write to it."""
    from agenttrace_tui.store import StoreError

    try:
        from agenttrace_tui.tui.app import run
    except ImportError:
        fail("the explorer is not built in this version yet; use `agenttrace sessions` and `agenttrace show`")
    if paths:
        from agenttrace_tui.store import expand_inputs, resolve_store
        from agenttrace_tui.store import ingest as run_ingest

        sources, problems = expand_inputs(paths)
        for problem in problems:
            stderr.print(Text(f"agenttrace: {sanitize(problem)}"))
        try:
            result = run_ingest(resolve_store(db), sources, wait_seconds=wait)
        except StoreError as exc:
            fail(str(exc))
        _report(result, rejects_per_file=5)
    if follow and not paths:
        fail("--follow needs the files or directories to follow")
    run(db=db, wait_seconds=wait, follow=list(paths or []) if follow else None,
        serve=(["--upstream", upstream] if upstream else []) if serve else None)


@app.command(epilog="Examples: agenttrace serve --upstream https://api.openai.com\n\n"
             "agenttrace serve --host 0.0.0.0 --token \"$AGENTTRACE_TOKEN\"  (a token is required off loopback)")
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on; anything but loopback needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port (0: any free one).", min=0, max=65535)] = 8585,
    db: DbOption = None,
    token: Annotated[str | None, typer.Option("--token", envvar="AGENTTRACE_TOKEN", show_default=False,
                                              help="Required in X-Agenttrace-Token on every request.")] = None,
    upstream: Annotated[str | None, typer.Option("--upstream", show_default=False,
                                                 help="OpenAI-compatible server the gateway forwards to.")] = None,
    spool_dir: Annotated[str | None, typer.Option("--spool-dir", show_default=False,
                                                  help="Where accepted records wait for the store (default: DB.spool).")] = None,
    allow_origin: Annotated[list[str] | None, typer.Option(
        "--allow-origin", envvar="AGENTTRACE_ALLOW_ORIGINS", show_default=False,
        help="A web page origin (https://app.example, or *) allowed to call the server; repeatable.")] = None,
    allow_host: Annotated[list[str] | None, typer.Option(
        "--allow-host", envvar="AGENTTRACE_ALLOW_HOSTS", show_default=False,
        help="A Host name answered besides localhost and the bound address; repeatable.")] = None,
    grpc_port: Annotated[int | None, typer.Option(
        "--grpc-port", min=0, max=65535, show_default=False,
        help="OTLP/gRPC port (default 4317, skipped with a warning if taken; 0: any free one).")] = None,
    no_grpc: Annotated[bool, typer.Option("--no-grpc", help="No OTLP/gRPC listener.")] = False,
) -> None:
    """Collect traces over HTTP (Helicone logger, OTLP, trace-format lines) and OTLP/gRPC, and proxy OpenAI calls
    into the store."""
    from agenttrace_tui.serve import DEFAULT_GRPC_PORT, ServeError, ServeOptions, run

    try:
        with user_errors():  # e.g. a team store URL, which serve's settings do not take yet
            run(ServeOptions(host=host, port=port, db=db, token=token, upstream=upstream, spool_dir=spool_dir,
                             allow_origins=tuple(allow_origin or ()), allow_hosts=tuple(allow_host or ()),
                             grpc_port=None if no_grpc else (DEFAULT_GRPC_PORT if grpc_port is None else grpc_port),
                             grpc_required=grpc_port is not None))
    except ServeError as exc:
        fail(str(exc))


def main() -> None:
    # Every file this process creates (the store, DuckDB's .wal, exports) is the owner's only: traces hold
    # prompts and outputs, and DuckDB takes no file mode. (The process-wide form of store.backend.connection.owner_only_files.)
    os.umask(os.umask(0o077) | 0o077)
    app()


if __name__ == "__main__":
    main()
