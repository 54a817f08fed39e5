"""The `agenttrace` command as a user runs it: exit codes, output formats (in this process, through Typer's runner;
the startup-imports probe is a real subprocess)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from store_helpers import SAMPLES, invoke, span, write_jsonl

CORE_SESSION_KEYS = [
    "session_id", "name", "start_time", "end_time", "duration_ms", "spans", "llm_calls", "tool_calls", "errors",
    "error_rate", "input_tokens", "output_tokens", "cost_usd", "unpriced", "properties",
]


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("cli") / "samples.duckdb"
    result = invoke(["ingest", str(SAMPLES), "--db", str(db)])
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("ingested 6 files, 933 lines, 933 stored, 0 rejected")
    return db


@pytest.mark.parametrize("command", ["ingest", "sessions", "show", "sql", "rejects", "reprice", "tui"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = invoke([command, "--help"])
    assert result.returncode == 0
    assert "Example" in result.stdout and "--db" in result.stdout


def test_help_and_ingest_do_not_import_textual(tmp_path: Path) -> None:
    trace = write_jsonl(tmp_path / "t.jsonl", [span()])
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['agenttrace'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('agenttrace_tui.cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('TEXTUAL' if 'textual' in sys.modules else 'NO-TEXTUAL', file=sys.stderr)\n"
    )
    import subprocess
    import sys

    for args in (["--help"], ["ingest", str(trace), "--db", str(tmp_path / "s.duckdb")]):
        result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
        assert result.stderr.strip().splitlines()[-1] == "NO-TEXTUAL", (args, result.stderr)


def test_ingest_exit_codes_and_summary(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    good = write_jsonl(tmp_path / "good.jsonl", [span(span_id="a")])
    bad = write_jsonl(tmp_path / "bad.jsonl", [span(span_id="b"), "{oops"])
    ok = invoke(["ingest", str(good), "--db", str(db)])
    assert ok.returncode == 0 and "1 stored, 0 rejected" in ok.stderr
    rejected = invoke(["ingest", str(bad), "--db", str(db)])
    assert rejected.returncode == 1
    assert f"{bad}:2: not valid JSON" in rejected.stderr
    assert "Traceback" not in rejected.stderr
    missing = invoke(["ingest", str(tmp_path / "nope.jsonl"), "--db", str(db)])
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr


def test_ingest_json_and_stdin(tmp_path: Path) -> None:
    result = invoke(["ingest", "-", "--db", str(tmp_path / "s.duckdb"), "--json"],
                     stdin=json.dumps(span("from-stdin")) + "\nnope\n")
    assert result.returncode == 1 and result.stderr == ""
    summary = json.loads(result.stdout)
    assert (summary["stored"], summary["rejected"]) == (1, 1)
    assert summary["files"][0]["path"] == "<stdin>" and summary["files"][0]["rejects"][0]["line"] == 2


@pytest.mark.slow
def test_sessions_json_keys_and_csv(sample_db: Path) -> None:
    result = invoke(["sessions", "--db", str(sample_db), "--json"])
    rows = json.loads(result.stdout)
    assert len(rows) == 58
    assert list(rows[0])[: len(CORE_SESSION_KEYS)] == CORE_SESSION_KEYS
    assert rows[0]["start_time"].endswith("Z")
    table = list(csv.reader(io.StringIO(invoke(["sessions", "--db", str(sample_db), "--csv"]).stdout)))
    assert table[0][: len(CORE_SESSION_KEYS)] == CORE_SESSION_KEYS and len(table) == 59


def test_sessions_filters_sort_and_query(sample_db: Path) -> None:
    errors = json.loads(invoke(["sessions", "--db", str(sample_db), "--json", "-f", "errors > 0",
                                 "--sort", "cost", "--desc"]).stdout)
    assert errors and all(row["errors"] > 0 for row in errors)
    costs = [row["cost_usd"] for row in errors]
    assert costs == sorted(costs, reverse=True)
    v10 = json.loads(invoke(["sessions", "--db", str(sample_db), "--json", "--query",
                              '{"filter": {"properties": {"Agent-Version": "v1.0"}}}']).stdout)
    assert v10 and all(row["properties"]["Agent-Version"] == "v1.0" for row in v10)
    bad = invoke(["sessions", "--db", str(sample_db), "-f", "cots > 1"])
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "agenttrace: error: bad filter 'cots > 1' at column 1: unknown field 'cots'; fields: name, id, cost, "
        "duration, errors, error_rate, spans, llm_calls, tool_calls, tokens, unpriced, model, tool, path, user, "
        "started, prop.NAME")


def test_show_tree_text_and_json(sample_db: Path) -> None:
    first = json.loads(invoke(["sessions", "--db", str(sample_db), "--json", "-f", "errors > 0",
                                "--limit", "1"]).stdout)[0]
    text = invoke(["show", first["session_id"], "--db", str(sample_db)])
    assert text.returncode == 0 and first["session_id"] in text.stdout and "busy" in text.stdout
    tree = json.loads(invoke(["show", first["session_id"], "--db", str(sample_db), "--json"]).stdout)
    assert tree["session"]["session_id"] == first["session_id"]
    assert tree["tree"]["spans"] == first["spans"] and tree["tree"]["errors"] == first["errors"]
    missing = invoke(["show", "no-such-session", "--db", str(sample_db)])
    assert missing.returncode == 2 and "no session 'no-such-session'" in missing.stderr


def test_sql_formats_and_read_only(sample_db: Path) -> None:
    out = json.loads(invoke(["sql", "SELECT count(*) AS n FROM spans", "--db", str(sample_db), "--json"]).stdout)
    assert out == [{"n": 446}]
    denied = invoke(["sql", "DROP TABLE span_data", "--db", str(sample_db)])
    assert denied.returncode == 2 and "read-only" in denied.stderr.lower() and "Traceback" not in denied.stderr


def test_markup_and_control_sequences_in_names_are_shown_literally(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    evil = "[bold red]boom[/] \x1b[2J\x1b]52;c;aGk=\x07"
    invoke(["ingest", str(write_jsonl(tmp_path / "t.jsonl", [span("evil", session_name=evil, name=evil)])),
             "--db", str(db)])
    for args in (["sessions"], ["show", "evil"]):
        out = invoke([*args, "--db", str(db)]).stdout
        assert "\x1b" not in out and "\x07" not in out
        assert "[bold red]boom[/] ␛[2J␛]52;c;aGk=␇" in out


@pytest.mark.slow
def test_reprice_and_rejects_commands(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    invoke(["ingest", str(write_jsonl(tmp_path / "t.jsonl", [span(model="acme-llm-1", usage={"input_tokens": 10**6}),
                                                             "bad line"])), "--db", str(db)])
    listed = json.loads(invoke(["rejects", "--db", str(db), "--json"]).stdout)
    assert [(r["line"], r["reason"]) for r in listed] == [(2, "not valid JSON")]
    prices = tmp_path / "p.toml"
    prices.write_text('[models."acme-llm-1"]\ninput_mtok = 2\noutput_mtok = 4\n')
    repriced = invoke(["reprice", "--prices", str(prices), "--db", str(db)])
    assert repriced.returncode == 0 and "total $2.00 over 1 sessions" in repriced.stderr
    assert invoke(["rejects", "--clear", "--db", str(db)]).returncode == 0
    assert json.loads(invoke(["rejects", "--db", str(db), "--json"]).stdout) == []


def test_default_store_location_from_env(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "AGENTTRACE_DB": str(tmp_path / "env.duckdb")}
    result = invoke(["ingest", str(write_jsonl(tmp_path / "t.jsonl", [span()]))], env=env)
    assert result.returncode == 0 and (tmp_path / "env.duckdb").exists()
    env_xdg = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    env_xdg.pop("AGENTTRACE_DB", None)
    result = invoke(["ingest", str(tmp_path / "t.jsonl")], env=env_xdg)
    assert result.returncode == 0 and (tmp_path / "xdg" / "agenttrace" / "traces.duckdb").exists()


def test_ingest_redacts_credentials_unless_told_not_to(tmp_path: Path) -> None:
    secret = "sk-ant-" + "api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2"
    trace = write_jsonl(tmp_path / "t.jsonl", [span(input={"headers": {"Authorization": "Bearer abc.def.ghi.jkl.mno"},
                                                            "note": f"my key is {secret}"})])
    redacted, raw = tmp_path / "redacted.duckdb", tmp_path / "raw.duckdb"
    assert invoke(["ingest", "--db", str(redacted), str(trace)]).returncode == 0
    assert invoke(["ingest", "--db", str(raw), "--no-redact", str(trace)]).returncode == 0
    query = "SELECT input::VARCHAR FROM spans"
    kept = invoke(["sql", "--db", str(redacted), "--json", query]).stdout
    assert secret not in kept and "abc.def" not in kept and kept.count("[REDACTED]") == 2
    assert secret in invoke(["sql", "--db", str(raw), "--json", query]).stdout


def test_property_filters_ignore_the_case_of_the_name(tmp_path: Path) -> None:
    trace = write_jsonl(tmp_path / "t.jsonl", [span("lower", properties={"agent-version": "v2"}),
                                               span("title", properties={"Agent-Version": "v2"}),
                                               span("other", properties={"Agent-Version": "v1"})])
    db = str(tmp_path / "s.duckdb")
    assert invoke(["ingest", "--db", db, str(trace)]).returncode == 0
    listed = json.loads(invoke(["sessions", "--db", db, "--json", "--filter", "prop.AGENT-VERSION = v2"]).stdout)
    assert sorted(row["session_id"] for row in listed) == ["lower", "title"]
