"""`agenttrace sql` prints every DuckDB type (issue 18, finding 12): one query per type, as text, --json and --csv,
exit 0 and no traceback, each value as DuckDB shows it (no pytz needed for a TIMESTAMPTZ, no 9999-12-31 for
'infinity', no integer cut to 64 bits); and `--safe` is the restricted read, the default documented as the user's
own rights."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from store_helpers import invoke, span, write_jsonl

from agenttrace_tui.store import Store, StoreError

BIG = 170141183460469231731687303715884105727
NOW = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00$")

# name: (the SQL of one value v, DuckDB's text of it, the value --json gives)
TYPES: dict[str, tuple[str, str, Any]] = {
    "hugeint": (f"{BIG}::HUGEINT", str(BIG), BIG),
    "hugeint negative": (f"(-{BIG})::HUGEINT", f"-{BIG}", -BIG),
    "uhugeint": ("340282366920938463463374607431768211455::UHUGEINT", "340282366920938463463374607431768211455",
                 340282366920938463463374607431768211455),
    "ubigint": ("18446744073709551615::UBIGINT", "18446744073709551615", 18446744073709551615),
    "bignum": ("'123456789012345678901234567890123456789012345'::VARINT",
               "123456789012345678901234567890123456789012345", 123456789012345678901234567890123456789012345),
    "decimal(38)": ("12345678901234567890123456789.123456789::DECIMAL(38,9)",
                    "12345678901234567890123456789.123456789", 1.2345678901234568e28),
    "decimal": ("1.25::DECIMAL(4,2)", "1.25", 1.25),
    "interval": ("INTERVAL '1 year 2 months 3 days 04:05:06.789'", "1 year 2 months 3 days 04:05:06.789",
                 "1 year 2 months 3 days 04:05:06.789"),
    "interval negative": ("-INTERVAL '1 month 1 microsecond'", "-1 month -00:00:00.000001",
                          "-1 month -00:00:00.000001"),
    "blob": ("'\\xAA\\x00\\x1B[2J'::BLOB", "\\xAA\\x00\\x1B[2J", "\\xAA\\x00\\x1B[2J"),
    "uuid": ("'123e4567-e89b-12d3-a456-426614174000'::UUID", "123e4567-e89b-12d3-a456-426614174000",
             "123e4567-e89b-12d3-a456-426614174000"),
    "list": ("[1, 2, NULL]", "[1, 2, NULL]", [1, 2, None]),
    "struct": ("{'a': 1, 'b': ['x', NULL]}", "{'a': 1, 'b': [x, NULL]}", {"a": 1, "b": ["x", None]}),
    "map": ("MAP {'k': 1.5, 'x': 'nan'::DOUBLE}", "{k=1.5, x=nan}", {"k": 1.5, "x": "NaN"}),
    "array": ("[1.0, 2.0]::DOUBLE[2]", "[1.0, 2.0]", [1.0, 2.0]),
    "union": ("union_value(n := 1)::UNION(n INT, s VARCHAR)", "1", {"n": 1}),
    "nan": ("'nan'::DOUBLE", "nan", "NaN"),
    "inf": ("'inf'::DOUBLE", "inf", "Infinity"),
    "-inf float": ("'-inf'::FLOAT", "-inf", "-Infinity"),
    "timestamptz": ("'2026-01-02 03:04:05.678+02'::TIMESTAMPTZ", "2026-01-02 01:04:05.678+00",
                    "2026-01-02 01:04:05.678+00"),
    "timestamptz infinity": ("'infinity'::TIMESTAMPTZ", "infinity", "infinity"),
    "time with time zone": ("'12:34:56+05:30'::TIMETZ", "12:34:56+05:30", "12:34:56+05:30"),
    "time_ns": ("'12:00:00.123456789'::TIME_NS", "12:00:00.123456789", "12:00:00.123456789"),
    "bit": ("'10101'::BIT", "10101", "10101"),
    "enum": ("'b'::ENUM('a', 'b')", "b", "b"),
    "date 10000": ("'10000-01-01'::DATE", "10000-01-01", "10000-01-01"),
    "date BC": ("'-0044-03-15'::DATE", "0045-03-15 (BC)", "0045-03-15 (BC)"),
    "date infinity": ("'-infinity'::DATE", "-infinity", "-infinity"),
    "timestamp infinity": ("'infinity'::TIMESTAMP", "infinity", "infinity"),
    "timestamp 10000": ("'10000-01-01 00:00:00'::TIMESTAMP", "10000-01-01 00:00:00", "10000-01-01 00:00:00"),
    "timestamp_ns": ("'2026-01-01 00:00:00.123456789'::TIMESTAMP_NS", "2026-01-01 00:00:00.123456789",
                     "2026-01-01 00:00:00.123456789"),
    "json": ("'{\"a\": [1, 2]}'::JSON", '{"a": [1, 2]}', {"a": [1, 2]}),
    "nested infinity": ("[{'x': 'infinity'::DATE}]", "[{'x': infinity}]", [{"x": "infinity"}]),
    "boolean": ("true", "true", True),
    "null": ("NULL", "NULL", None),
    "control characters": ("E'a\\x1b[31mred'", "a\x1b[31mred", "a\x1b[31mred"),
}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli-sql")
    store = tmp / "store.duckdb"
    trace = write_jsonl(tmp / "t.jsonl", [span(span_id="a")])
    assert invoke(["ingest", str(trace), "--db", str(store)]).returncode == 0
    return store


def sql(db: Path, statement: str, *options: str) -> tuple[int, str, str]:
    result = invoke(["sql", statement, "--db", str(db), *options])
    assert "Traceback" not in result.stdout + result.stderr
    return result.returncode, result.stdout, result.stderr


def test_every_duckdb_type_renders_as_duckdb_prints_it(db: Path) -> None:
    """One query per type, as text and as JSON, on one read connection: a list of what went wrong, not the first."""
    wrong = []
    with Store(db).read() as r:
        for name, (expression, text, value) in TYPES.items():
            for json_values, expected in ((False, text if text != "NULL" else None), (True, value)):
                try:
                    rows = r.query(f"SELECT {expression} AS v", json_values=json_values).rows
                except StoreError as exc:
                    rows = [(f"StoreError: {exc}",)]
                if rows != [(expected,)]:
                    wrong.append(f"{name} ({'json' if json_values else 'text'}): {rows!r}, not {expected!r}")
    assert not wrong, "\n".join(wrong)


def test_every_duckdb_type_prints_in_every_mode_of_the_command(db: Path) -> None:
    """All the types in one query (one process each for the table, --json and --csv): exit 0, no traceback."""
    names = list(TYPES)
    statement = "SELECT " + ", ".join(f"{expression} AS c{i}" for i, (expression, _, _) in enumerate(TYPES.values()))
    code, out, err = sql(db, statement)
    assert code == 0 and out.split()[:len(names)] == [f"c{i}" for i in range(len(names))], err
    shown = sql(db, "SELECT E'a\\x1b[31mred' AS v")[1]
    assert "a␛[31mred" in shown and "\x1b" not in shown  # the table shows control characters, never sends them
    code, out, err = sql(db, statement, "--json")
    assert code == 0, err
    assert json.loads(out) == [{f"c{i}": TYPES[name][2] for i, name in enumerate(names)}]
    code, out, err = sql(db, statement, "--csv")
    assert code == 0, err
    texts = ["" if text == "NULL" else text for _, text, _ in TYPES.values()]
    assert list(csv.reader(io.StringIO(out)))[1] == texts


def test_now_is_shown_in_utc_without_pytz(db: Path) -> None:
    code, out, _ = sql(db, "SELECT now() AS t")
    assert code == 0 and NOW.match(out.splitlines()[1].strip())
    code, out, _ = sql(db, "SELECT now() AS t, 1::HUGEINT * 10 ** 30 AS big", "--json")
    assert code == 0 and NOW.match(json.loads(out)[0]["t"])


def test_json_of_a_huge_integer_is_exact_and_valid(db: Path) -> None:
    code, out, _ = sql(db, f"SELECT {BIG}::HUGEINT AS h, 'x' AS s", "--json")
    assert code == 0 and out == f'[{{"h":{BIG},"s":"x"}}]\n'


def test_safe_refuses_to_write_a_file_and_the_default_may(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    code, _, err = sql(db, f"COPY (SELECT 1 AS x) TO '{target}'", "--safe")
    assert code == 2 and not target.exists()
    assert err.startswith("agenttrace: error: SQL refused: ") and err.count("\n") == 1
    code, _, err = sql(db, f"SELECT * FROM read_csv('{os.devnull}')", "--safe")
    assert code == 2 and "restricted SQL reads the store and nothing else" in err
    assert sql(db, "SELECT count(*) AS n FROM spans", "--safe")[1].splitlines()[1].strip() == "1"
    code, _, _ = sql(db, f"COPY (SELECT 1 AS x) TO '{target}'")
    assert code == 0 and target.read_text() == "x\n1\n"


def test_safe_on_a_team_store_is_a_one_line_refusal() -> None:
    code, _, err = sql(Path(), "SELECT 1", "--safe", "--db", "ducklake:postgres:dbname=nowhere host=127.0.0.1 port=9")
    assert code == 2 and "restricted SQL is not available on a team store" in err and err.count("\n") == 1


def test_help_says_what_the_default_can_do_and_offers_safe() -> None:
    text = " ".join(invoke(["sql", "--help"]).stdout.replace("│", " ").split())
    for words in ("runs with your rights", "read any file you can", "COPY ... TO", "extensions (network)",
                  "--safe", "no other file, no network"):
        assert words in text, words
