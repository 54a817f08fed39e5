"""The commands that run until stopped (`tui`, `serve`, `ingest --follow`) under the same property as the others
(tests/cli/test_cli_errors.py): for any option values, exit code 0, 1 or 2, an error is one line, never a traceback.

Everything up to the long run is the real code: the option checks, opening the store, the spool and the socket,
the explorer's first screen with its loads. Only the long run is cut short, so one example takes a moment:
`serve` stops before uvicorn's loop (the app is built, the port bound), `ingest --follow` does one round, and
the explorer runs headless until its workers have settled, then quits.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.test_cli_errors import INTS, PATH, TEXT, _env, assert_exit_2_says_why, paths  # noqa: F401  (a fixture)
from store_helpers import invoke
from fuzz_helpers import long_fuzz, skip_unless_long

SETTLED_ROUNDS = 5
"""Rounds with no worker running before the headless explorer quits (rounds, not seconds: see tui_helpers)."""
MAX_ROUNDS = 20_000

COMMANDS: dict[str, tuple[list[str], dict[str, str]]] = {
    "tui": (["paths?"], {"--db": "path", "--wait": "seconds", "--follow": "flag", "--upstream": "text"}),
    "serve": ([], {"--host": "host", "--port": "port", "--db": "path", "--token": "text", "--upstream": "text",
                   "--spool-dir": "path", "--allow-origin": "text", "--allow-host": "text", "--grpc-port": "port",
                   "--no-grpc": "flag"}),
    "ingest --follow": (["paths"], {"--db": "path", "--prices": "path", "--json": "flag", "--wait": "seconds",
                                    "--no-redact": "flag", "--strict": "flag", "--force": "flag",
                                    "--max-line-bytes": "int"}),
}
"""Left out: `tui --serve`, which starts `agenttrace serve` as a child on the fixed port 8585 (another test
process may hold it); the child's options are `serve`'s, checked here, and its errors are the explorer's
notifications."""
LEFT_OUT = {("tui", "--serve")}

HOSTS = st.sampled_from(["127.0.0.1", "localhost", "::1", "0.0.0.0", "", "no-such-host.invalid", "999.1.1.1",
                         "127.0.0.1:80", "[::1]", "ä"])
PORTS = st.one_of(st.just("0"), INTS)
VALUES = {"int": INTS, "seconds": INTS, "text": TEXT, "host": HOSTS, "port": PORTS, "flag": st.just(None)}


def test_the_property_covers_every_option_of_the_long_running_commands() -> None:
    """A new option of `tui`, `serve` or `ingest` must join COMMANDS (or LEFT_OUT with a reason)."""
    import typer.main

    from agenttrace_tui import cli
    from cli.test_cli_errors import COMMANDS as SHORT_COMMANDS

    group = typer.main.get_command(cli.app)
    for name in ("tui", "serve", "ingest"):
        command = group.commands[name]  # type: ignore[attr-defined]
        options = {p.opts[0] for p in command.params if p.param_type_name == "option" and p.opts[0] != "--help"}
        key = "ingest --follow" if name == "ingest" else name
        covered = set(COMMANDS[key][1]) | {"--follow"} if name == "ingest" else set(COMMANDS[key][1])
        if name == "ingest":  # every ingest option is in both properties
            assert options == set(SHORT_COMMANDS["ingest"][1]) | {"--follow"}, options
        assert options - {o for n, o in LEFT_OUT if n == name} == covered, (name, options ^ covered)


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[list[str], list[tuple[int, str]]]:
    name = draw(st.sampled_from(sorted(COMMANDS)))
    positionals, options = COMMANDS[name]
    args: list[str | None] = name.split()
    slots: list[tuple[int, str]] = []
    for kind in positionals:
        if kind == "paths?" and draw(st.booleans()):
            continue
        slots.append((len(args), draw(PATH)))
        args.append(None)
    for option in draw(st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True)):
        args.append(option)
        kind = options[option]
        if kind == "path":
            slots.append((len(args), draw(PATH)))
            args.append(None)
        elif kind != "flag":
            args.append(draw(VALUES[kind]))
    if name == "serve" and "--port" not in args:
        args += ["--port", "0"]  # the default port may be another process's
    return [a or "" for a in args], slots


@pytest.fixture
def cut_short(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Cut each long run short (see the module's docstring); yields the explorers that ran."""
    import uvicorn

    from agenttrace_tui.store.write.follow import Follower
    from agenttrace_tui.tui.app import AgentTraceApp
    from tui_helpers import busy

    explorers: list[Any] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)

    def one_round(self: Follower, on_result: Callable[[Any], None], stop: Any, poll_seconds: float = 0) -> None:
        result = self.poll()
        if result is not None:
            on_result(result)

    monkeypatch.setattr(Follower, "run", one_round)
    run_app = AgentTraceApp.run

    async def settle_then_quit(pilot: Any) -> None:
        idle = rounds = 0
        while idle < SETTLED_ROUNDS and rounds < MAX_ROUNDS:
            await pilot.pause()
            idle = 0 if busy(pilot.app) else idle + 1
            rounds += 1
            await asyncio.sleep(0.02)
        pilot.app.exit()

    def headless(self: AgentTraceApp, **_: Any) -> Any:
        explorers.append(self)
        return run_app(self, headless=True, size=(120, 40), auto_pilot=settle_then_quit)

    monkeypatch.setattr(AgentTraceApp, "run", headless)
    yield explorers


def _check(paths: dict[str, Path], explorers: list[Any], line: tuple[list[str], list[tuple[int, str]]]) -> None:
    args, slots = line
    fresh = paths["tmp"] / uuid.uuid4().hex
    for index, kind in slots:
        args[index] = str(fresh if kind == "missing" else paths[kind])
    if args[0] == "serve" and "--spool-dir" not in args:
        args += ["--spool-dir", str(paths["tmp"] / f"spool-{uuid.uuid4().hex}")]  # one spool per example
    explorers.clear()
    # serve's log handler holds the stderr of the run that added it: a process runs once, this test many times
    logging.getLogger("agenttrace.serve").handlers.clear()
    result = invoke(args, env=_env(paths["tmp"]))
    code, out = result.returncode, result.stdout + result.stderr
    assert code in (0, 1, 2), (args, code, out)
    assert "Traceback" not in out, (args, out)
    assert "╭" not in result.stderr, (args, result.stderr)
    if code == 2:
        assert_exit_2_says_why(args, result.stdout, result.stderr)
    for explorer in explorers:  # an exception inside the explorer ends it with return code 1 and a traceback
        assert explorer.return_code in (0, None), (args, explorer.return_code, explorer._exception)


@settings(derandomize=True, max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(line=command_lines())
def test_any_long_running_command_line_exits_0_1_or_2(paths: dict[str, Path], cut_short: list[Any],  # noqa: F811
                                                      line: tuple[list[str], list[tuple[int, str]]]) -> None:
    _check(paths, cut_short, line)


@long_fuzz
@skip_unless_long
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(line=command_lines())
def test_any_long_running_command_line_many_examples(paths: dict[str, Path], cut_short: list[Any],  # noqa: F811
                                                     line: tuple[list[str], list[tuple[int, str]]]) -> None:
    _check(paths, cut_short, line)
