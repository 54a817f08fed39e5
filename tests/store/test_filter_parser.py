"""Issue 18, finding 13 (filters): quoted property names and values, `--query` taken as data, a linear parser.

`--query`'s property names went into filter text unquoted (`a=b` filtered property `a`, quotes in a value were
stripped) and a name with a space could not be filtered at all: a name or value may now be quoted,
`prop."my key" = 'a and b'`, a quote inside written twice, in `--filter` and the explorer's `/` line alike, and
`--query` compiles its names and values as data. The parser was quadratic (20,000 spaces took 1.3 s, 200,000 would
have taken minutes): the inputs below, 200,000 spaces and 20,000 conditions, are checked for their result only
(tests never assert on timings).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agenttrace_tui.store import FilterError, Store, compile_filters, split_conditions
from agenttrace_tui.store.read.filters import Condition, compile_one

from store_helpers import invoke, span, write_jsonl

PROPERTIES = {
    "spaced": {"my key": "v1"},
    "equals": {"a=b": "c"},
    "a": {"a": "b = c"},
    "quotes": {"it's \"x\"": "'quoted'"},
    "and": {"x and y": "rock and roll"},
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("filters")
    store = Store(folder / "s.duckdb")
    records = [{"type": "session", "session_id": sid, "properties": props} for sid, props in PROPERTIES.items()]
    records += [span(sid, span_id=f"{sid}-1") for sid in PROPERTIES]
    assert store.ingest([str(write_jsonl(folder / "t.jsonl", records))]).ok
    return store


def ids(rows: list[dict[str, object]]) -> list[str]:
    return sorted(str(row["session_id"]) for row in rows)


@pytest.mark.parametrize(("expression", "expected"), [
    ('prop."my key" = v1', ["spaced"]),
    ("prop.'my key' ~ V", ["spaced"]),
    ("prop.'a=b' = c", ["equals"]),
    ("prop.\"it's \"\"x\"\"\" = \"'quoted'\"", ["quotes"]),
    ("prop.'it''s \"x\"' = '''quoted'''", ["quotes"]),
    ('prop."x and y" = "rock and roll"', ["and"]),
])
def test_quoted_names_and_values_filter_what_they_say(store: Store, expression: str, expected: list[str]) -> None:
    assert ids(store.sessions([expression])) == expected


def test_the_explorer_line_splits_at_and_outside_quotes(store: Store) -> None:
    line = 'prop."x and y" = "rock and roll" AND  name ~ it\'s and errors >= 0'
    assert split_conditions(line) == ['prop."x and y" = "rock and roll"', "name ~ it's", "errors >= 0"]
    assert split_conditions('prop."x and y" = "rock and roll" and errors >= 0') == \
        ['prop."x and y" = "rock and roll"', "errors >= 0"]
    assert ids(store.sessions(split_conditions('prop."x and y" ~ "k and r" and errors >= 0'))) == ["and"]
    # A piece that does not parse is cut at the next ` and ` and reported alone.
    assert split_conditions("bogus and name = x") == ["bogus", "name = x"]
    # As before: an unquoted value runs to the end of a --filter; a quote never closed is part of the value.
    assert ids(store.sessions(["prop.a = b = c"])) == ids(store.sessions(["prop.a = 'b = c'"])) == ["a"]
    assert compile_one("name ~ 's bakery")[1] == ["'s bakery"]


@pytest.mark.parametrize(("properties", "expected"), [
    ({"a=b": "c"}, ["equals"]),
    ({"it's \"x\"": "'quoted'"}, ["quotes"]),
    ({"it's \"x\"": {"equals": "'quoted'"}}, ["quotes"]),
    ({"my key": {"contains": "V1"}}, ["spaced"]),
    ({"x and y": {"not-equals": "rock and roll"}}, []),
])
def test_query_names_and_values_are_data(store: Store, properties: dict[str, object], expected: list[str]) -> None:
    """Helicone's body through `sessions --query` (the CLI, a real store): a name with `=`, quotes or spaces."""
    body = json.dumps({"filter": {"properties": properties}})
    result = invoke(["sessions", "--query", body, "--json", "--db", str(store.path)])
    assert result.returncode == 0, result.stderr
    assert ids(json.loads(result.stdout)) == expected


def test_a_200000_space_filter_parses_whole(store: Store) -> None:
    spaces = " " * 200_000
    assert compile_one("name = x" + spaces + "y")[1] == ["x" + spaces + "y"]
    assert compile_one(spaces + "name" + spaces + "=" + spaces + "x" + spaces)[1] == ["x"]
    assert compile_one(f'prop."my{spaces}key" = v')[1] == [f"my{spaces}key", "v"]
    with pytest.raises(FilterError, match="missing value"):
        compile_one("name =" + spaces)
    with pytest.raises(FilterError, match="expected FIELD OP VALUE"):
        compile_one(spaces)
    with pytest.raises(FilterError, match="unclosed"):
        compile_one('prop."' + spaces + " = x")
    assert split_conditions(spaces) == []
    assert split_conditions("errors >= 0" + spaces + "and" + spaces + "prop.'my key' = v1") == \
        ["errors >= 0", "prop.'my key' = v1"]
    assert ids(store.sessions(split_conditions("errors >= 0" + spaces + "and" + spaces + "prop.'my key' = v1"))) \
        == ["spaced"]


def test_deep_inputs_parse_whole(store: Store) -> None:
    """20,000 conditions in one line, a name of 100,000 doubled quotes, a --query nested past JSON's depth limit."""
    conditions = split_conditions(" and ".join(["errors >= 0"] * 20_000))
    assert conditions == ["errors >= 0"] * 20_000
    assert compile_filters(conditions).params == [0.0] * 20_000
    assert compile_one("prop." + "'" + "''" * 100_000 + "' = v")[1] == ["'" * 100_000, "v"]
    assert split_conditions("name = x" + " and" * 100_000)[0] == "name = x"
    assert ids(store.sessions(conditions[:200])) == sorted(PROPERTIES)
    with pytest.raises(FilterError, match="--query is not valid JSON"):
        compile_filters([], query_json='{"filter": {"properties": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}}")


NAMES = st.text(min_size=1, max_size=20)
VALUES = st.text(min_size=1, max_size=20)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(name=NAMES, value=VALUES, op=st.sampled_from(["=", "!=", "~"]))
def test_any_name_and_value_can_be_written(name: str, value: str, op: str) -> None:
    """Every property name and value has a written form that reads back as itself, alone and between ` and `."""
    text = Condition("prop", op, value, prop=name).text()
    assert compile_one(text)[1] == [name, value]
    pieces = split_conditions(f"errors > 0 and {text} and {text}")
    assert pieces[1:] == [text, text] and compile_one(pieces[2])[1] == [name, value]


def test_a_query_value_that_is_not_text_or_a_number_is_refused(store: Store) -> None:
    """It was written into the filter as Python shows it (`prop.a = [1]`) and compared as that text."""
    result = invoke(["sessions", "--query", '{"filter": {"properties": {"a": {"equals": [1]}}}}',
                     "--db", str(store.path)])
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "needs a name and a value" in result.stderr
