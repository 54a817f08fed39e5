"""Plain mistakes and edge values on the command line (issue 18, findings 6 and 14): exit code 0, 1 or 2, an error
is one line (`agenttrace: error: ...`), never a traceback, for any command, option and value."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agenttrace_tui.store import FilterError, compile_filters
from store_helpers import invoke, span, write_jsonl
from fuzz_helpers import long_fuzz, skip_unless_long


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What a user may point a path option at: a real store, a trace file, an empty file, a directory, nothing."""
    tmp = tmp_path_factory.mktemp("cli-errors")
    (tmp / "traces").mkdir()
    trace = write_jsonl(tmp / "traces" / "t.jsonl", [span(span_id="a"), span(span_id="b", status="error")])
    store = tmp / "store.duckdb"
    result = invoke(["ingest", str(trace), "--db", str(store)], env=_env(tmp))
    assert result.returncode == 0, result.stderr
    (tmp / "empty.duckdb").write_bytes(b"")
    return {"store": store, "trace": trace, "empty": tmp / "empty.duckdb", "dir": tmp / "traces",
            "missing": tmp / "missing", "tmp": tmp}


def _env(tmp: Path) -> dict[str, str]:
    """No --db falls back to a store of the test's own, never the user's; no config file."""
    return {**os.environ, "AGENTTRACE_DB": str(tmp / "fallback.duckdb"),
            "AGENTTRACE_CONFIG": str(tmp / "no-config.toml")}


def run(paths: dict[str, Path], *args: str) -> tuple[int, str, str]:
    result = invoke(list(args), env=_env(paths["tmp"]))
    return result.returncode, result.stdout, result.stderr


def assert_one_line_error(code: int, stdout: str, stderr: str, *, saying: str = "") -> None:
    assert code == 2, (code, stdout, stderr)
    assert stderr.startswith("agenttrace: error: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr + stdout
    assert saying in stderr, stderr


# Finding 6: filter values no datetime can hold ------------------------------------------------------------


@pytest.mark.parametrize(("args", "saying"), [
    (["-f", "started > 99999999999d"], "before year 1"),
    (["-f", "started > 99999999999w"], "before year 1"),
    (["-f", "started < 9999-12-31T23:59-01:00"], "outside the years 1 to 9999"),
    (["--since", "0001-01-01T00:00+01:00"], "--since: '0001-01-01T00:00+01:00' is outside the years 1 to 9999"),
    (["--until", "9999-12-31T23:59:59-01:00"], "--until:"),
    (["--since", "99999999999d"], "--since:"),
    (["-f", "errors > nan"], "errors needs a number"),
    (["-f", "cost > inf"], "cost needs a number"),
    (["-f", "duration > " + "9" * 400 + "d"], "duration needs a number"),
])
@pytest.mark.parametrize("command", ["sessions", "stats"])
def test_a_filter_value_out_of_range_is_a_one_line_error(paths: dict[str, Path], command: str, args: list[str],
                                                         saying: str) -> None:
    assert_one_line_error(*run(paths, command, *args, "--db", str(paths["store"])), saying=saying)


NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=10**30).map(str),
    st.sampled_from(["0", "1e400", "nan", "inf", "9" * 400, "99999999999", "0.5", "1.0000001"]),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(repr),
)
TIMES = st.one_of(
    st.tuples(NUMBERS, st.sampled_from(["", "s", "m", "h", "d", "w", "ms"])).map("".join),
    st.datetimes(timezones=st.sampled_from([timezone.utc, None]) | st.timezones()).map(datetime.isoformat),
    st.sampled_from(["0001-01-01T00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01", "9999-12-31",
                     "0001-01-01T00:00:00-23:59", "9999-12-31T23:59+23:59", "2025-13-01", "Z", ""]),
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(field=st.sampled_from(["started", "duration", "cost", "errors", "error_rate", "tokens", "spans",
                              "prop.n"]),
       op=st.sampled_from([">", ">=", "<", "<=", "=", "!="]), value=st.one_of(TIMES, NUMBERS))
def test_any_number_or_time_in_a_filter_compiles_or_is_a_filter_error(field: str, op: str, value: str) -> None:
    """Every numeric and time path of the language: a value compiles (to finite numbers and datetimes), or it is
    a FilterError; nothing else escapes."""
    for args in ({"expressions": [f"{field} {op} {value}"]}, {"expressions": [], "since": value},
                 {"expressions": [], "until": value}):
        try:
            compiled = compile_filters(args.pop("expressions"), now=datetime.now(timezone.utc), **args)  # type: ignore[arg-type]
        except FilterError as exc:
            assert "\n" not in str(exc)
            continue
        for param in compiled.params:
            if isinstance(param, float):
                assert param == param and abs(param) != float("inf")


# Finding 14: plain mistakes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "saying"), [
    (["sessions", "--limit", "-1"], "'--limit': -1 is not in the range x>=0"),
    (["rejects", "--limit", "-1"], "'--limit': -1 is not in the range x>=0"),
    (["sessions", "--limit", "abc"], "'--limit'"),
    (["stats", "--top", "99999999999999999999"], "'--top'"),
    (["sessions", "--wait", "nan"], "'--wait'"),
    (["sessions", "--wait", "-1"], "'--wait'"),
    (["sql", ""], "SQL error: no statement"),
    (["sql", ";"], "SQL error: no statement"),
    (["sql", "  \n "], "SQL error: no statement"),
    (["sessions", "--bogus"], "No such option: --bogus"),
])
def test_a_bad_option_value_is_a_one_line_error(paths: dict[str, Path], args: list[str], saying: str) -> None:
    assert_one_line_error(*run(paths, *args, "--db", str(paths["store"])), saying=saying)


def test_serve_port_out_of_range_is_a_one_line_error(paths: dict[str, Path]) -> None:
    assert_one_line_error(*run(paths, "serve", "--port", "70000", "--db", str(paths["tmp"] / "serve.duckdb")),
                          saying="'--port'")


def test_a_huge_limit_lists_everything(paths: dict[str, Path]) -> None:
    code, stdout, stderr = run(paths, "sessions", "--limit", "9" * 30, "--db", str(paths["store"]), "--json")
    assert code == 0 and stdout.count("session_id") == 1, stderr


def test_limit_zero_is_an_empty_list_not_an_empty_store(paths: dict[str, Path]) -> None:
    code, stdout, stderr = run(paths, "sessions", "--limit", "0", "--db", str(paths["store"]))
    assert code == 0 and stderr == "" and "session id" in stdout


@pytest.mark.parametrize("target", ["trace", "empty", "dir"])
@pytest.mark.parametrize("command", [["sessions"], ["sql", "SELECT 1"], ["rejects"], ["stats"], ["reprice"],
                                     ["show", "s1"]])
def test_db_at_a_file_that_is_not_a_store(paths: dict[str, Path], command: list[str], target: str) -> None:
    assert_one_line_error(*run(paths, *command, "--db", str(paths[target])),
                          saying=f"{paths[target]} is ")
    assert "not an agenttrace store" in run(paths, *command, "--db", str(paths[target]))[2]


def test_ingest_into_a_trace_file_refuses_and_keeps_it(paths: dict[str, Path], tmp_path: Path) -> None:
    """DuckDB opened a trace file given as --db as an empty in-memory database: the ingest reported its lines
    stored and kept none."""
    target = write_jsonl(tmp_path / "other.jsonl", [span(span_id="z")])
    before = target.read_bytes()
    assert_one_line_error(*run(paths, "ingest", str(paths["trace"]), "--db", str(target)),
                          saying=f"{target} is not an agenttrace store")
    assert target.read_bytes() == before


# The property: every command and option, any value ---------------------------------------------------------

PATH_KINDS = ("store", "trace", "empty", "dir", "missing")
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
INTS = st.one_of(st.sampled_from(["-1", "0", "1", "-0", "99999999999999999999", "-99999999999999999999",
                                  "1e400", "nan", "inf", "2.5", "", "٣"]),
                 st.integers().map(str))
FILTERS = st.one_of(
    st.tuples(st.sampled_from(["started", "duration", "cost", "errors", "error_rate", "name", "model", "prop.x",
                               "tokens", "cots"]),
              st.sampled_from([">", "<", "=", "!=", "~", ">="]), st.one_of(TIMES, INTS, TEXT)).map(" ".join),
    TEXT,
)
PATH = st.sampled_from(PATH_KINDS)
VALUES = {"path": PATH, "int": INTS, "seconds": INTS, "text": TEXT, "filter": FILTERS, "time": TIMES,
          "flag": st.just(None)}

COMMANDS: dict[str, tuple[list[str], dict[str, str]]] = {
    "ingest": (["paths"], {"--db": "path", "--strict": "flag", "--force": "flag", "--prices": "path",
                           "--json": "flag", "--wait": "seconds", "--no-redact": "flag",
                           "--max-line-bytes": "int"}),
    "sessions": ([], {"--filter": "filter", "--since": "time", "--until": "time", "--query": "text",
                      "--sort": "text", "--desc": "flag", "--limit": "int", "--db": "path", "--json": "flag",
                      "--csv": "flag", "--wait": "seconds"}),
    "show": (["text"], {"--spans": "int", "--db": "path", "--json": "flag", "--wait": "seconds"}),
    "stats": ([], {"--filter": "filter", "--since": "time", "--until": "time", "--query": "text", "--by": "text",
                   "--top": "int", "--db": "path", "--json": "flag", "--wait": "seconds"}),
    "sql": (["text"], {"--db": "path", "--json": "flag", "--csv": "flag", "--wait": "seconds", "--safe": "flag"}),
    "rejects": ([], {"--clear": "flag", "--limit": "int", "--db": "path", "--json": "flag", "--wait": "seconds"}),
    "reprice": ([], {"--prices": "path", "--db": "path", "--wait": "seconds"}),
    "copy": ([], {"--from": "path", "--to": "path", "--append": "flag", "--json": "flag", "--wait": "seconds"}),
}
"""Every command and option, by the kind of value it takes. Left out: `tui` and `serve` (they run until stopped:
their option checks have tests above) and `ingest --follow` (likewise)."""
LEFT_OUT = {"tui", "serve", ("ingest", "--follow")}


def test_the_property_covers_every_command_and_option() -> None:
    """A new command or option must join COMMANDS (or LEFT_OUT with a reason)."""
    import typer.main

    from agenttrace_tui import cli

    group = typer.main.get_command(cli.app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        if name in LEFT_OUT:
            continue
        assert name in COMMANDS, name
        options = {p.opts[0] for p in command.params if p.param_type_name == "option" and p.opts[0] != "--help"}
        options = {o for o in options if (name, o) not in LEFT_OUT}
        assert options == set(COMMANDS[name][1]), (name, options ^ set(COMMANDS[name][1]))


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[list[str], list[tuple[int, str]]]:
    """An argument list, and where the paths go (index, kind) so each example gets real paths of its own."""
    name = draw(st.sampled_from(sorted(COMMANDS)))
    positionals, options = COMMANDS[name]
    args: list[str | None] = [name]
    path_slots: list[tuple[int, str]] = []

    def value(kind: str) -> None:
        if kind in ("path", "paths"):
            path_slots.append((len(args), draw(PATH)))
            args.append(None)
        else:
            args.append(draw(VALUES[kind]))

    for kind in positionals:
        value(kind)
    for option in draw(st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True)):
        args.append(option)
        if options[option] != "flag":
            value(options[option])
    return [a or "" for a in args], path_slots


def assert_exit_2_says_why(args: list[str], stdout: str, stderr: str) -> None:
    """Exit 2 ends on one `agenttrace: error:` line; `ingest` also exits 2 for a file it could not read or store,
    after the others: then each such file has its `agenttrace: FILE: reason` line before the summary, or with
    --json its reason in the file's "error"."""
    lines = stderr.splitlines()
    if args[0] == "ingest" and "--json" in args and not lines:
        assert any(f["error"] for f in json.loads(stdout)["files"]), (args, stdout)
    elif args[0] == "ingest" and lines and lines[-1].startswith("ingested ") and "unreadable" in lines[-1]:
        assert any(line.startswith("agenttrace: ") for line in lines[:-1]), (args, stderr)
    else:
        assert lines and lines[-1].startswith("agenttrace: error: "), (args, stderr)


def _check_any_command_line(paths: dict[str, Path], line: tuple[list[str], list[tuple[int, str]]]) -> None:
    args, slots = line
    fresh = paths["tmp"] / uuid.uuid4().hex  # a missing path stays missing for the next example
    for index, kind in slots:
        args[index] = str(fresh if kind == "missing" else paths[kind])
    code, stdout, stderr = run(paths, *args)  # an exception propagates: the test fails with it
    assert code in (0, 1, 2), (args, code, stderr)
    assert "Traceback" not in stdout + stderr, args
    assert "╭" not in stderr, (args, stderr)  # no usage box
    if code == 2:
        assert_exit_2_says_why(args, stdout, stderr)


@settings(derandomize=True, max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=command_lines())
@pytest.mark.slow
def test_any_command_line_exits_0_1_or_2_with_one_line_errors(paths: dict[str, Path],
                                                              line: tuple[list[str], list[tuple[int, str]]]) -> None:
    _check_any_command_line(paths, line)


@long_fuzz
@skip_unless_long
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=command_lines())
def test_any_command_line_many_examples(paths: dict[str, Path], line: tuple[list[str], list[tuple[int, str]]]) -> None:
    _check_any_command_line(paths, line)


def test_prices_at_a_store_file_is_a_one_line_error(paths: dict[str, Path]) -> None:
    """Found by the property: a binary --prices file was a UnicodeDecodeError."""
    assert_one_line_error(*run(paths, "reprice", "--prices", str(paths["store"]), "--db", str(paths["store"])),
                          saying="not valid TOML")


def test_every_help_text_shows_its_config_tables() -> None:
    """`[ingest]`, `[store]` in an option's help are config tables, not Rich markup: Rich printed "see  in the
    config" for them."""
    import re

    import typer.main

    from agenttrace_tui import cli

    group = typer.main.get_command(cli.app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        shown = " ".join(invoke([name, "--help"], env={**os.environ, "COLUMNS": "400"}).stdout.split())
        for param in command.params:
            for table in re.findall(r"\[[a-z][^\]]*\]", (param.help or "").replace("\\[", "[")):
                assert table in shown, (name, param.opts, table)


def test_a_store_given_as_a_trace_is_one_error_not_a_reject_per_line(paths: dict[str, Path], tmp_path: Path) -> None:
    """It gave 166 rejects ("not valid UTF-8", "not valid JSON") for a small store; the traces beside it are stored."""
    other = tmp_path / "other.duckdb"
    code, stdout, stderr = run(paths, "ingest", str(paths["store"]), str(paths["trace"]), "--db", str(other))
    assert code == 2, stderr
    assert f"agenttrace: {paths['store']}: a DuckDB database (an agenttrace store?), not a trace file" in stderr
    assert "rejected" in stderr and ", 0 rejected," in stderr and "2 stored" in stderr, stderr
