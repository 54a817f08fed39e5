"""Files agenttrace creates are the owner's only; stores it cannot read are refused in one line, not crashed on.

- Modes: the SDK's trace file, the store, and DuckDB's write-ahead log (.wal), under a permissive umask.
- A store written by a newer agenttrace: refused with one clear line by the CLI, in place of the list by the
  explorer.
- Damaged store files (random bytes, a truncated file, a zeroed or garbled middle, an empty file): every
  command answers in one line without a traceback (exit 0 when the damage is in blocks it never reads), and
  the explorer shows the problem instead of crashing.
"""

from __future__ import annotations

import os
import random
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from store_helpers import REPO, SAMPLES, big_trace, run_cli, span, write_jsonl
from textual.widgets import Static
from tui_helpers import wait_for

from agenttrace_tui import Tracer
from agenttrace_tui.store import Store, StoreError
from agenttrace_tui.store.backend.connection import connection
from agenttrace_tui.tui.app import AgentTraceApp
from agenttrace_tui.tui.screens.sessions import SessionTable


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- modes -----------------------------------------------------------------------------------------------------


def test_sdk_trace_file_is_owner_only(tmp_path: Path, permissive_umask: None) -> None:
    tracer = Tracer(tmp_path / "runs" / "t.jsonl")
    with tracer.session(name="s") as session, session.span("/x"):
        pass
    assert mode(tmp_path / "runs" / "t.jsonl") == 0o600


def test_store_and_its_wal_are_owner_only_in_process(tmp_path: Path, permissive_umask: None) -> None:
    db = tmp_path / "s.duckdb"
    Store(db).ingest([str(write_jsonl(tmp_path / "t.jsonl", [span()]))])
    assert mode(db) == 0o600
    with connection(db, read_only=False) as con:
        con.execute("CREATE TABLE scratch AS SELECT range AS n FROM range(100000)")
        wal = Path(f"{db}.wal")
        assert wal.exists(), "nothing written to the WAL: this test would prove nothing"
        assert mode(wal) == 0o600
    assert os.umask(0o022) == 0o022  # the caller's umask is back
    (tmp_path / "after").write_text("x")
    assert mode(tmp_path / "after") == 0o644


def test_cli_ingest_creates_store_and_wal_owner_only(tmp_path: Path, permissive_umask: None) -> None:
    db = tmp_path / "s.duckdb"
    trace = big_trace(tmp_path / "big.jsonl", 1500, 20, "big")
    process = subprocess.Popen([sys.executable, "-m", "agenttrace_tui.cli", "ingest", str(trace), "--db", str(db)],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    modes: dict[str, int] = {}
    while process.poll() is None:  # watch the files while they exist: the WAL is removed at the last checkpoint
        for name in (db.name, f"{db.name}.wal"):
            try:
                modes[name] = mode(tmp_path / name)
            except FileNotFoundError:
                pass
        time.sleep(0.002)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    assert modes.get(db.name) == 0o600 and mode(db) == 0o600
    assert modes.get(f"{db.name}.wal") == 0o600, f"WAL seen with modes {modes}"


# -- a store from a newer agenttrace ---------------------------------------------------------------------------------


@pytest.fixture
def newer_store(tmp_path: Path) -> Path:
    db = tmp_path / "newer.duckdb"
    Store(db).ingest([str(write_jsonl(tmp_path / "t.jsonl", [span()]))])
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    return db


@pytest.mark.parametrize("command", [["sessions"], ["show", "s1"], ["stats"], ["sql", "SELECT 1"], ["rejects"],
                                     ["ingest", str(SAMPLES / "support.jsonl")], ["reprice"]])
def test_cli_refuses_a_newer_store_in_one_line(newer_store: Path, command: list[str]) -> None:
    result = run_cli([*command, "--db", str(newer_store)])
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert "written by a newer agenttrace (schema 99" in result.stderr and "upgrade agenttrace" in result.stderr
    with duckdb.connect(str(newer_store), read_only=True) as con:  # and left it alone
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("99",)


async def test_explorer_shows_a_newer_store_refusal(newer_store: Path) -> None:
    app = AgentTraceApp(Store(newer_store, wait_seconds=2), keymap={})
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: "newer agenttrace" in " ".join(
            str(s.render()) for s in app.screen.query(Static)))
        assert not app.screen.query(SessionTable)


# -- damaged store files ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_store_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    db = tmp_path_factory.mktemp("good") / "s.duckdb"
    assert Store(db).ingest([str(SAMPLES)]).ok
    return db.read_bytes()


def damaged(kind: str, good: bytes) -> bytes:
    size = len(good)
    rng = random.Random(kind)
    if kind == "random bytes":
        return rng.randbytes(200_000)
    if kind == "empty":
        return b""
    if kind == "header only":
        return good[:4096]
    if kind == "truncated to 12 KB":
        return good[:12_288]
    if kind == "truncated to half":
        return good[: size // 2]
    if kind == "zeroed middle":
        return good[: size // 3] + bytes(size // 3) + good[2 * (size // 3):]
    if kind == "garbled middle":
        return good[: size // 3] + rng.randbytes(size // 3) + good[2 * (size // 3):]
    raise ValueError(kind)


DAMAGE = ["random bytes", "empty", "header only", "truncated to 12 KB", "truncated to half", "zeroed middle",
          "garbled middle"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", DAMAGE)
def test_cli_reports_a_damaged_store_in_one_line(tmp_path: Path, good_store_bytes: bytes, kind: str) -> None:
    db = tmp_path / "damaged.duckdb"
    for command in (["sessions"], ["stats"], ["sql", "SELECT count(*), sum(length(input::VARCHAR)) FROM spans"],
                    ["ingest", str(SAMPLES / "support.jsonl"), "--force"]):
        db.write_bytes(damaged(kind, good_store_bytes))
        result = run_cli([*command, "--db", str(db)])
        assert "Traceback" not in result.stderr, f"{kind}, {command[0]}: {result.stderr[-2000:]}"
        if result.returncode == 2 and command[0] == "ingest" and "store error" in result.stderr:
            assert result.stderr.startswith("agenttrace:"), result.stderr  # reported per file, then the summary
        elif result.returncode == 2:  # refused: one line saying why
            assert result.stderr.count("\n") == 1 and result.stderr.startswith("agenttrace: error:"), result.stderr
        else:  # the damage was where this command does not read
            assert result.returncode in (0, 1), (kind, command, result.returncode, result.stderr)
            if result.returncode == 1:
                assert "agenttrace:" in result.stderr


@pytest.mark.parametrize("kind", ["random bytes", "zeroed middle", "header only"])
async def test_explorer_reports_a_damaged_store(tmp_path: Path, good_store_bytes: bytes, kind: str) -> None:
    db = tmp_path / "damaged.duckdb"
    db.write_bytes(damaged(kind, good_store_bytes))
    app = AgentTraceApp(Store(db, wait_seconds=2), keymap={})
    async with app.run_test(size=(120, 30)) as pilot:
        def shows_problem_or_list() -> bool:
            texts = " ".join(str(s.render()) for s in app.screen.query(Static))
            return "store" in texts and ("damaged" in texts or "cannot" in texts) or bool(app.screen.query(SessionTable))
        await wait_for(pilot, shows_problem_or_list)
        if app.screen.query(SessionTable):  # the list loaded: opening the sessions must not crash either
            await pilot.press("enter")
            await pilot.pause(0.5)
    # run_test re-raises an exception that crashed the app: reaching here means it did not.


def test_store_api_raises_only_store_errors_for_damage(tmp_path: Path, good_store_bytes: bytes) -> None:
    """Zero each eighth of a good store in turn: every read either answers or raises a one-line StoreError."""
    size = len(good_store_bytes)
    refused = []
    for eighth in range(1, 8):
        db = tmp_path / f"damaged{eighth}.duckdb"
        start, end = eighth * size // 8, (eighth + 1) * size // 8
        db.write_bytes(good_store_bytes[:start] + bytes(end - start) + good_store_bytes[end:])
        store = Store(db)
        for read in (lambda: store.sessions(), lambda: store.stats(),
                     lambda: store.sql("SELECT sum(length(input::VARCHAR)) FROM spans")):
            try:
                read()
            except StoreError as exc:
                assert "\n" not in str(exc)
                refused.append(str(exc))
    assert refused, "no damage was ever noticed: this test would prove nothing"
    assert any("damaged" in message for message in refused), refused


def test_a_file_whose_name_looks_like_a_glob_is_ingested_by_name(tmp_path: Path) -> None:
    trace = write_jsonl(tmp_path / "run[1].jsonl", [span()])
    result = Store(tmp_path / "s.duckdb").ingest([str(trace)])
    assert result.stored == 1
