"""Helpers for store and CLI tests: writing trace files (small and big), running the CLI in this process
(`invoke`) or as a real process (`run_cli`, `ingest_process`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_traces"


def write_jsonl(path: Path, records: Iterable[dict[str, Any] | str], *, final_newline: bool = True) -> Path:
    """Records (dicts are JSON-encoded, strings written as they are) one per line."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    text = "\n".join(lines) + ("\n" if final_newline else "")
    path.write_text(text, encoding="utf-8")
    return path


def span(session_id: str = "s1", **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"session_id": session_id, "start_time": "2025-01-01T10:00:00Z"}
    record.update(fields)
    return record


def run_cli(args: Sequence[str], *, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real `agenttrace` entry point in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "agenttrace_tui.cli", *args],
        input=stdin, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env,
    )


@contextmanager
def _as_a_process_would(env: dict[str, str] | None) -> Iterator[None]:
    """What `run_cli`'s subprocess gets: the working directory REPO, exactly `env` as its environment (keys
    missing from it are unset), and cli.py's consoles as a process whose output is piped builds them."""
    from rich.console import Console

    from agenttrace_tui import cli

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_consoles = cli.stdout, cli.stderr
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        os.chdir(REPO)
        # cli.py sizes its stdout console at import (240 columns unless stdout is a terminal) and rich picks a
        # color system then: rebuild both for a pipe, so `pytest -s` on a terminal gets the same bytes.
        cli.stdout = Console(highlight=False, width=240, force_terminal=False)
        cli.stderr = Console(stderr=True, highlight=False, soft_wrap=True, force_terminal=False)
        yield
    finally:
        cli.stdout, cli.stderr = saved_consoles
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def invoke(args: Sequence[str], *, stdin: str | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`agenttrace ARGS` in this process (Typer's test runner), answering like `run_cli`: exit code, stdout,
    stderr. For tests of what a command does; `run_cli` stays for what only a process shows (its umask, signals,
    os._exit, imports at startup, a terminal, other processes at once). An unexpected exception propagates
    (a real process would print a traceback) instead of becoming exit code 1."""
    from typer.testing import CliRunner

    from agenttrace_tui import cli

    with _as_a_process_would(env):
        result = CliRunner().invoke(cli.app, list(args), input=stdin, catch_exceptions=False,
                                    prog_name="agenttrace")
    return subprocess.CompletedProcess(["agenttrace", *args], result.exit_code, result.stdout, result.stderr)


def big_trace(path: Path, sessions: int, spans_per_session: int, prefix: str) -> Path:
    with open(path, "w") as handle:
        for s in range(sessions):
            for i in range(spans_per_session):
                handle.write(json.dumps({
                    "span_id": f"{prefix}-{s}-{i}", "session_id": f"{prefix}-{s}", "path": f"/step/{i % 4}",
                    "start_time": 1735725600 + s * 60 + i, "duration_ms": 500, "model": "gpt-4o-mini",
                    "usage": {"input_tokens": 100, "output_tokens": 10},
                    "input": {"messages": [{"role": "user", "content": "x" * 200}]},
                }) + "\n")
    return path


def ingest_process(db: Path, trace: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "agenttrace_tui.cli", "ingest", str(trace), "--db", str(db), "--json", *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def old_store(tmp_path: Path) -> Path:
    """Issue 18: a store made by ingest, then given what earlier versions stored (values the ingest now refuses), its
    rollups as those versions computed them, and the schema version they wrote."""
    import duckdb

    from agenttrace_tui.store import Store

    db = tmp_path / "old.duckdb"
    Store(db).ingest([str(write_jsonl(tmp_path / "t.jsonl", [*(span("good", span_id=f"g{i}", duration_ms=5) for i in range(3)), span("x", span_id="x0")]))])
    con = duckdb.connect(str(db))
    try:
        con.execute("""
            INSERT INTO span_data (span_id, session_id, start_time, end_time, duration_ms, input_tokens, model) VALUES
              ('y0', 'year0', make_timestamp(-62135600400000000), NULL, 5, NULL, NULL),
              ('y1', 'year10000', make_timestamp(253402304399000000), NULL, NULL, NULL, NULL),
              ('d1', 'long', TIMESTAMP '2025-01-01', NULL, 1e15, NULL, NULL),
              ('d2', 'x', TIMESTAMP '2025-01-01', NULL, 1e17, 9223372036854775807, 'm'),
              ('e1', 'x', TIMESTAMP '2025-01-01', TIMESTAMP '10000-01-01', NULL, NULL, NULL)
        """)
        con.execute("""
            INSERT INTO session_stats (session_id, start_time, end_time, duration_ms, spans, llm_calls, tool_calls,
                                       errors, error_rate, in_progress, input_tokens, output_tokens,
                                       cache_read_tokens, reasoning_tokens, cost_usd, unpriced, models, tools,
                                       user_ids, names)
            SELECT session_id, min(start_time), max(coalesce(end_time, start_time)),
                   (epoch_us(max(coalesce(end_time, start_time))) - epoch_us(min(start_time))) / 1000.0,
                   count(*), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, [], [], [], []
            FROM span_data WHERE session_id IN ('year0', 'year10000', 'long') GROUP BY session_id
        """)
        con.execute("UPDATE session_stats SET end_time = TIMESTAMP '10000-01-01' WHERE session_id = 'x'")
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    finally:
        con.close()
    return db
