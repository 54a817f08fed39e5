"""`agenttrace stats`: the real command on a crafted store: JSON keys and figures, tables, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from store_helpers import invoke, write_jsonl
from analytics_records import RECORDS, sp


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("stats")
    records: list[dict[str, Any]] = [
        *RECORDS,
        # A name that looks like markup and carries a control character: shown as text, never parsed.
        sp("M", "m1", "/iteration/0", 13, 0, 1, kind="llm", model="m-a", cost_usd=0.25,
           session_name="[bold red]Evil\x1b[2J[/]"),
    ]
    environment = {**os.environ, "AGENTTRACE_DB": str(tmp / "s.duckdb"),
                   "AGENTTRACE_CONFIG": str(tmp / "no-config.toml")}
    result = invoke(["ingest", str(write_jsonl(tmp / "t.jsonl", records))], env=environment)
    assert result.returncode == 0, result.stderr
    return environment


def test_json_keys_and_figures(env: dict[str, str]) -> None:
    result = invoke(["stats", "--json", "--by", "prop.Agent-Version", "-f", "id != M"], env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["sessions", "spans", "wall_ms", "cost", "latency", "errors", "bottlenecks", "compare"]
    assert (data["sessions"], data["spans"], data["wall_ms"]) == (3, 11, 21000)
    cost = data["cost"]
    assert list(cost) == ["total_usd", "unpriced", "sessions_with_unpriced", "per_session", "by_model",
                          "by_provider", "by_tool", "by_path_prefix", "by_session_name"]
    assert cost["total_usd"] == pytest.approx(0.875) and cost["unpriced"] == 1
    assert cost["per_session"]["p95_usd"] == pytest.approx(0.475)
    assert [b["sessions"] for b in cost["per_session"]["histogram"]] == [1, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    assert data["latency"]["by_tool"][0]["p95_ms"] == pytest.approx(2850)
    errors = data["errors"]
    assert (errors["errors"], errors["sessions_with_errors"]) == (3, 3)
    assert errors["recovery"]["recovered"] == 2 and len(errors["recovery"]["by_strategy"]) == 2
    assert errors["top_messages"][0]["errors"] == 2
    bottlenecks = data["bottlenecks"]
    assert bottlenecks["repeated_inputs"]["wasted_cost_usd"] == pytest.approx(0.0625)
    assert bottlenecks["iteration_limit"]["sessions"] == 2 and bottlenecks["needed_human"]["sessions"] == 1
    assert bottlenecks["rules"]["iteration_limit"] == 5
    compare = data["compare"]
    assert compare["by"] == "prop.Agent-Version"
    assert [v["value"] for v in compare["values"]] == ["v1", "v2"]
    assert compare["values"][1]["diff"]["cost_per_session"] == pytest.approx(-0.25)


def test_time_range_selects_whole_sessions(env: dict[str, str]) -> None:
    result = invoke(["stats", "--json", "--since", "2025-01-01T10:00:03Z", "--until", "2025-01-01T12:30:00Z"],
                     env=env)
    data = json.loads(result.stdout)
    assert (data["sessions"], data["spans"], data["compare"]) == (2, 7, None)


def test_tables_show_every_section_and_untrusted_text_verbatim(env: dict[str, str]) -> None:
    result = invoke(["stats", "--by", "prop.Agent-Version"], env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("4 sessions · 12 spans · $1.12 + 1 unpriced")
    for title in ("Cost per session", "Cost by model", "Cost by session name", "Latency by tool", "Latency by path",
                  "Error rate by tool", "Top error messages", "Recovery", "Slowest tools", "Repeated inputs",
                  "Most expensive paths", "Hit the iteration limit: 2 sessions", "Needed a human: 1 session",
                  "Compare by prop.Agent-Version"):
        assert title in out, title
    assert "█" in out
    assert "[bold red]Evil␛[2J[/]" in out and "\x1b[2J" not in out
    assert 'Rate limit N: "…" exceeded (request <id>)' in out


@pytest.mark.parametrize(("args", "message"), [
    (["-f", "cots > 1"], "agenttrace: error: bad filter 'cots > 1' at column 1: unknown field 'cots'"),
    (["--by", "color"], "agenttrace: error: --by: unknown field 'color'"),
    (["--since", "yesterday"], "agenttrace: error: --since: 'yesterday' is not a time"),
    (["--top", "0"], "agenttrace: error: --top must be at least 1"),
])
def test_user_errors_are_one_line(env: dict[str, str], args: list[str], message: str) -> None:
    result = invoke(["stats", *args], env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_bad_rules_in_the_config_file(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[stats]\niteration_limit = "five"\n')
    result = invoke(["stats"], env={**env, "AGENTTRACE_CONFIG": str(config)})
    assert result.returncode == 2
    assert "[stats]: iteration_limit must be a whole number >= 1" in result.stderr


def test_no_sessions_match(env: dict[str, str]) -> None:
    result = invoke(["stats", "-f", "name = nobody"], env=env)
    assert result.returncode == 0
    assert result.stdout.startswith("0 sessions") and "no sessions match" in result.stderr
