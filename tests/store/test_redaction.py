"""The redaction SQL (agenttrace_tui.store.write.redaction) in a real DuckDB: credentials at any depth, key-shaped
strings anywhere, the record's shape kept, extra rules from the config file. Not wired into ingest yet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from store_helpers import span, write_jsonl

from agenttrace_tui.store import Store, StoreError
from agenttrace_tui.store.write.redaction import (
    DEFAULT_RULES,
    REPLACEMENT,
    RedactionRules,
    load_rules,
    redact_sql,
    redact_text,
    rules_from_table,
)

SECRETS = {
    "openai": "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD",
    "project": "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
    "anthropic": "sk-ant-api03-Zyx8wvu7tsr6qpo5nml4kji3hgf2",
    "helicone": "sk-helicone-abc1234-def5678-ghi9012-jkl3456",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "google": "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "github": "ghp_" + "a1B2c3D4e5" * 4,
    "bearer-only": "opaque.token.value-1234567890",  # no provider shape: only its key or "Bearer" gives it away
}


def record() -> dict[str, Any]:
    return {
        "headers": {"Authorization": f"Bearer {SECRETS['bearer-only']}", "HELICONE-AUTH": f"Bearer {SECRETS['helicone']}",
                    "x-api-key": SECRETS["anthropic"], "Helicone-Session-Id": "s-1"},
        "config": {"deep": [{"apiKey": SECRETS["google"]}, {"api_key": 1234567890}, {"Api_Key": None}]},
        "messages": [{"role": "user", "content": f"my key is {SECRETS['openai']}, and {SECRETS['aws']} too"}],
        "tool_calls": [{"function": {"name": "login", "arguments": json.dumps({"api_key": SECRETS["project"], "user": "bo"})}}],
        "note": f"token {SECRETS['github']}",
        "harmless": "sk-short, task-manager, AKIA-not, the bearer of news",
    }


def redacted(con: duckdb.DuckDBPyConnection, value: Any, rules: RedactionRules = DEFAULT_RULES) -> Any:
    con.execute("CREATE OR REPLACE TABLE t (v JSON)")
    con.execute("INSERT INTO t VALUES (?)", [json.dumps(value)])
    row = con.execute(f"SELECT {redact_sql('v', rules)}, json_valid({redact_sql('v', rules)}) FROM t").fetchone()
    assert row is not None and row[1] is True
    return json.loads(row[0])


def test_credentials_and_key_shaped_strings_are_redacted_and_the_shape_kept() -> None:
    with duckdb.connect() as con:
        result = redacted(con, record())
    text = json.dumps(result)
    for name, secret in SECRETS.items():
        assert secret not in text, name
    assert result["headers"]["Authorization"] == REPLACEMENT
    assert result["headers"]["HELICONE-AUTH"] == REPLACEMENT
    assert result["headers"]["Helicone-Session-Id"] == "s-1"  # not a credential
    assert result["config"]["deep"][0]["apiKey"] == REPLACEMENT and result["config"]["deep"][1]["api_key"] == REPLACEMENT
    assert result["config"]["deep"][2]["Api_Key"] is None
    assert result["messages"][0]["content"] == f"my key is {REPLACEMENT}, and {REPLACEMENT} too"
    arguments = json.loads(result["tool_calls"][0]["function"]["arguments"])
    assert arguments == {"api_key": REPLACEMENT, "user": "bo"}
    assert result["harmless"] == record()["harmless"]


def test_null_and_plain_text_columns() -> None:
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT {redact_sql('v', as_json=False)} FROM (VALUES (NULL), ('Authorization: Bearer {SECRETS['openai']}'),"
            f" ('nothing here')) AS t(v)"
        ).fetchall()
    assert rows == [(None,), (f"Authorization: {REPLACEMENT}",), ("nothing here",)]


def test_whole_column_in_one_statement() -> None:
    """Vectorized: one UPDATE over many rows (no Python per row)."""
    with duckdb.connect() as con:
        con.execute("CREATE TABLE spans AS SELECT i, json_object('n', i, 'api_key', 'k' || i, 'msg', "
                    f"'x {SECRETS['openai']} ' || i)::JSON AS input FROM range(50000) r(i)")
        con.execute(f"UPDATE spans SET input = {redact_sql('input')}")
        leaked = con.execute("SELECT count(*) FROM spans WHERE contains(input::VARCHAR, 'sk-') "
                             "OR (input->>'api_key') <> ?", [REPLACEMENT]).fetchone()
        kept = con.execute("SELECT count(*) FROM spans WHERE (input->>'n')::INT = i").fetchone()
    assert leaked == (0,) and kept == (50000,)


def test_python_and_sql_agree() -> None:
    text = json.dumps(record())
    with duckdb.connect() as con:
        assert json.loads(redact_text(text)) == redacted(con, record())


def test_config_adds_keys_and_patterns(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[redact]\nkeys = ["X-Internal-Token"]\npatterns = [\'acme_[a-z0-9]{8}\']\nreplacement = "<gone>"\n')
    rules = load_rules(config)
    value = {"x-internal-token": "t0p", "msg": "acme_0123abcd and sk-" + "z" * 30, "authorization": "b"}
    with duckdb.connect() as con:
        assert redacted(con, value, rules) == {"x-internal-token": "<gone>", "msg": "<gone> and <gone>",
                                               "authorization": "<gone>"}
    only_mine = rules_from_table({"defaults": False, "keys": ["pin"]})
    with duckdb.connect() as con:
        assert redacted(con, {"pin": 1234, "authorization": "b"}, only_mine) == {"pin": REPLACEMENT, "authorization": "b"}
    assert load_rules(tmp_path / "missing.toml") == DEFAULT_RULES


@pytest.mark.parametrize(("table", "message"), [
    ({"patterns": ["(unclosed"]}, "patterns[0]"),
    ({"patterns": ["(?=lookahead)"]}, "patterns[0]"),  # Python's re has it, RE2 does not
    ({"keys": "authorization"}, "keys must be a list"),
    ({"replacement": 'say "x"'}, "replacement"),
    ({"defaults": "no"}, "defaults"),
])
def test_bad_config_is_one_clear_error(table: dict[str, Any], message: str) -> None:
    with pytest.raises(StoreError, match=message.replace("[", r"\[").replace("]", r"\]")) as caught:
        rules_from_table(table)
    assert "\n" not in str(caught.value)


def test_no_secret_lands_in_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    store.ingest([str(write_jsonl(tmp_path / "t.jsonl", [span(input=record(), output=SECRETS["openai"],
                                                               properties={"Note": SECRETS["aws"]},
                                                               error={"message": f"bad key {SECRETS['project']}"},
                                                               extra_field={"apiKey": SECRETS["google"]})]))])
    with duckdb.connect(str(store.path), read_only=True) as con:
        tables = [row[0] for row in con.execute("SELECT table_name FROM information_schema.tables "
                                                "WHERE table_type = 'BASE TABLE'").fetchall()]
        for table in tables:
            dump = str(con.execute(f'SELECT * FROM "{table}"').fetchall())
            for name, secret in SECRETS.items():
                if name != "bearer-only":
                    assert secret not in dump, (table, name)
