"""Helpers for the serve tests (no tests here): real uvicorn servers on loopback, in a thread or a process."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from agenttrace_tui.serve import ServeOptions, listen, prepare
from agenttrace_tui.store import Store, StoreError

WAIT_SECONDS = 30.0
"""Timeout of a blocking call (joining the server's thread, waiting for its process to exit, an HTTP request):
generous for a loaded 2-core machine; never a timing claim."""
POLL_ROUNDS = 1500
"""Polls for a state (a server started, the store readable, a count reached) are bounded by a number of rounds,
not by the clock: a loaded machine gets as many looks as an idle one."""


@contextmanager
def serve_log_lines(level: int = logging.DEBUG) -> Iterator[list[str]]:
    """The messages the collector logs (logger "agenttrace.serve") at `level` or above, while inside."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Keep(level)
    logger = logging.getLogger("agenttrace.serve")
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


@dataclass
class Running:
    url: str
    db: Path
    spool_dir: Path
    server: uvicorn.Server

    @property
    def grpc_port(self) -> int | None:
        """The OTLP/gRPC listener's port, when serving(..., grpc_port=0) started one."""
        port: int | None = self.server.config.app.state.grpc_port
        return port


def _start_thread(server: uvicorn.Server, sock: Any) -> threading.Thread:
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(POLL_ROUNDS):
        if server.started:
            return thread
        if not thread.is_alive():
            break
        time.sleep(0.02)
    raise RuntimeError("server did not start")


@contextmanager
def serving(tmp_path: Path, **options: Any) -> Iterator[Running]:
    """`agenttrace serve` in a thread on a free loopback port; stopped (spool ingested) on exit."""
    db = Path(options.pop("db", tmp_path / "serve.duckdb"))
    spool_dir = Path(options.pop("spool_dir", tmp_path / "spool"))
    serve_options = ServeOptions(host="127.0.0.1", port=0, db=str(db), spool_dir=str(spool_dir),
                                 log_level=options.pop("log_level", "warning"), **options)
    server, sock, spool = prepare(serve_options, listen("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = _start_thread(server, sock)
    try:
        yield Running(f"http://127.0.0.1:{port}", db, spool_dir, server)
    finally:
        server.should_exit = True
        thread.join(WAIT_SECONDS)
        spool.close()


@contextmanager
def asgi_on_loopback(app: Any) -> Iterator[str]:
    """Any ASGI app (the mock upstream) served by uvicorn in a thread; yields its base URL."""
    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = _start_thread(server, sock)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(WAIT_SECONDS)


class ServerProcess:
    """`agenttrace serve` as a real process (for killing it); port 0, the bound port read from its log."""

    def __init__(self, db: Path, spool_dir: Path, *extra: str) -> None:
        self.log_path = db.with_suffix(f".{time.monotonic_ns()}.log")
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agenttrace_tui.cli", "serve", "--port", "0", "--db", str(db),
             "--spool-dir", str(spool_dir), *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        text = ""
        for _ in range(POLL_ROUNDS):
            text = self.log_path.read_text("utf-8", "replace")
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
            if found and "Application startup complete" in text:
                self.url = found.group(1)
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"server process did not start:\n{text}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(WAIT_SECONDS)
        self.log.close()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(WAIT_SECONDS)
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text("utf-8", "replace")


def stored(db: Path, statement: str = "SELECT count(*) FROM spans") -> list[tuple[Any, ...]]:
    """Read the store; in this process DuckDB refuses a reader while the in-thread ingester writes: retry."""
    for attempt in range(POLL_ROUNDS):
        if not db.exists():
            return []
        try:
            return Store(db).sql(statement)[1]
        except StoreError:
            if attempt == POLL_ROUNDS - 1:
                raise
            time.sleep(0.02)
    return []


def wait_for_count(db: Path, expected: int, statement: str = "SELECT count(*) FROM spans") -> int:
    """Poll the store until the count reaches `expected` (or POLL_ROUNDS polls have not seen it)."""
    count = 0
    for _ in range(POLL_ROUNDS):
        rows = stored(db, statement)
        count = int(rows[0][0]) if rows else 0
        if count >= expected:
            return count
        time.sleep(0.05)
    return count


def spans_by_id(db: Path) -> dict[str, dict[str, Any]]:
    """Every span by id; call it once the server has stopped."""
    columns, rows = Store(db).sql("SELECT * FROM spans")
    return {row[columns.index("span_id")]: dict(zip(columns, row, strict=True)) for row in rows}
