"""SQL from outside (issue 18, finding 12): a restricted read (`store.read(restricted=True)`, `store.query(...,
restricted=True)`, `agenttrace sql --safe`) reads the store and nothing else. Every way out that DuckDB offers is
refused with one line, and nothing is written or read; the unrestricted default still has them (the local user's
own shell), and a team store refuses the restricted mode outright."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from store_helpers import span, write_jsonl

from agenttrace_tui.store import Store, StoreError
from agenttrace_tui.store.backend.location import LakeLocation

SECRET = "root-secret-7f3a"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    tmp = tmp_path_factory.mktemp("restricted")
    trace = write_jsonl(tmp / "t.jsonl", [span(span_id=f"s{i}", model="m", cost_usd=0.5) for i in range(3)])
    db = Store(tmp / "store.duckdb")
    db.ingest([str(trace)])
    return db


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the store with files no restricted SQL may read: a CSV, a DuckDB database."""
    (tmp_path / "private.csv").write_text(f"name,value\nsecret,{SECRET}\n")
    duckdb.connect(str(tmp_path / "other.duckdb")).execute(f"CREATE TABLE t AS SELECT '{SECRET}' AS v").close()
    return tmp_path


def extension_file() -> str:
    """A real, loadable DuckDB extension on this machine (the team store's)."""
    import duckdb_extension_ducklake

    folder = Path(duckdb_extension_ducklake.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    return str(folder / "ducklake.duckdb_extension")


def extension_dirs() -> set[str]:
    root = Path.home() / ".duckdb"
    return {str(p) for p in root.rglob("*")} if root.exists() else set()


REFUSED = "restricted SQL reads the store and nothing else"
LOCKED = "the configuration has been locked"

# Each way out: the SQL, what must not exist afterwards (written), and the words of its refusal. Without the
# restriction, each of them succeeds or fails otherwise (tries the network, writes, reads).
ESCAPES: dict[str, Callable[[Path], tuple[str, Path | None, str]]] = {
    "copy to a file": lambda d: (f"COPY (SELECT * FROM spans) TO '{d}/out.csv'", d / "out.csv", REFUSED),
    "copy a table to a file": lambda d: (f"COPY span_data TO '{d}/t.parquet' (FORMAT parquet)", d / "t.parquet",
                                         REFUSED),
    "export the database": lambda d: (f"EXPORT DATABASE '{d}/export'", d / "export", REFUSED),
    "read_csv": lambda d: (f"SELECT * FROM read_csv('{d}/private.csv')", None, REFUSED),
    "a file as a table": lambda d: (f"SELECT * FROM '{d}/private.csv'", None, REFUSED),
    "read_text": lambda d: (f"SELECT content FROM read_text('{d}/private.csv')", None, REFUSED),
    "read_blob": lambda d: (f"SELECT content FROM read_blob('{d}/*')", None, REFUSED),
    "glob": lambda d: (f"SELECT * FROM glob('{d}/*')", None, REFUSED),
    "/etc/passwd": lambda d: ("SELECT * FROM read_csv('/etc/passwd', sep = ':')", None, REFUSED),
    "attach another database": lambda d: (f"ATTACH '{d}/other.duckdb' AS other (READ_ONLY)", None, REFUSED),
    "install from a file": lambda d: (f"INSTALL '{extension_file()}'", None, REFUSED),
    "load a local extension": lambda d: (f"LOAD '{extension_file()}'", None, REFUSED),
    "install from the network": lambda d: ("INSTALL inet", None, REFUSED),
    "autoinstall on use": lambda d: ("SELECT '127.0.0.1'::INET", None, "is not in the catalog, but it exists in"),
    "a URL": lambda d: ("SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')", None, REFUSED),
    "lift the restriction": lambda d: ("SET enable_external_access = true", None, LOCKED),
    "unlock": lambda d: ("SET lock_configuration = false", None, LOCKED),
    "a second statement": lambda d: (f"SELECT 1; COPY (SELECT 1) TO '{d}/second.csv'", d / "second.csv", REFUSED),
}


@pytest.mark.parametrize("route", list(ESCAPES))
def test_every_way_out_is_refused_in_one_line_and_nothing_is_written(store: Store, outside: Path,
                                                                      route: str) -> None:
    sql, target, words = ESCAPES[route](outside)
    before, files = extension_dirs(), sorted(os.listdir(outside))
    with pytest.raises(StoreError) as refused:
        store.query(sql, restricted=True)
    message = str(refused.value)
    assert message.startswith("SQL ") and words in message and "\n" not in message and SECRET not in message
    assert target is None or not target.exists()
    assert sorted(os.listdir(outside)) == files
    assert extension_dirs() == before  # nothing installed


def test_restricted_reads_the_store_and_keeps_its_rows_to_the_limit(store: Store) -> None:
    result = store.query("SELECT span_id, cost_usd FROM spans ORDER BY span_id", restricted=True)
    assert result.rows == [("s0", "0.5"), ("s1", "0.5"), ("s2", "0.5")] and not result.truncated
    limited = store.query("SELECT * FROM range(1000000000000)", restricted=True, limit=2, json_values=True)
    assert limited.rows == [(0,), (1,)] and limited.truncated and limited.types == ["BIGINT"]
    with store.read(restricted=True) as r:  # one connection, several questions
        assert r.sessions()[0]["session_id"] == "s1"
        assert r.query("SELECT count(*) AS n FROM spans").rows == [("3",)]


def test_a_statement_past_its_time_is_stopped(store: Store) -> None:
    endless = "SELECT count(*) FROM range(1000000000000) a, range(1000000000000) b"
    with pytest.raises(StoreError, match="limit and was stopped"):
        store.query(endless, restricted=True, timeout_seconds=0.05)
    assert store.query("SELECT 1 AS one", restricted=True, timeout_seconds=60).rows == [("1",)]


def test_unrestricted_sql_keeps_the_users_rights(store: Store, outside: Path) -> None:
    """The default of `agenttrace sql` is the local user's own shell: the same SQL writes and reads files."""
    store.query(f"COPY (SELECT span_id FROM spans) TO '{outside}/mine.csv'", restricted=False)
    assert (outside / "mine.csv").read_text().splitlines()[0] == "span_id"
    rows = store.query(f"SELECT value FROM read_csv('{outside}/private.csv')", restricted=False).rows
    assert rows == [(SECRET,)]


def test_a_team_store_refuses_the_restricted_mode_before_connecting() -> None:
    # No server at this address: the refusal comes first, in one line.
    lake = Store(LakeLocation("dbname=nowhere host=127.0.0.1 port=9 connect_timeout=1", None))
    with pytest.raises(StoreError, match="restricted SQL is not available on a team store"):
        lake.query("SELECT 1", restricted=True)
    with pytest.raises(StoreError, match="restricted SQL is not available on a team store"), \
            lake.read(restricted=True):
        pass


def test_every_json_value_is_strict_json(store: Store) -> None:
    """What an MCP server hands on: json.dumps without NaN, any integer exact."""
    sql = ("SELECT 'nan'::DOUBLE AS n, 'inf'::DOUBLE AS i, 170141183460469231731687303715884105727::HUGEINT AS h, "
           "now() AS t, [1.5, 'nan'::DOUBLE] AS l, {'a': 'infinity'::DATE} AS s, NULL AS z")
    row = store.query(sql, restricted=True, json_values=True).rows[0]
    text = json.dumps(row, allow_nan=False)
    assert json.loads(text)[:3] == ["NaN", "Infinity", 170141183460469231731687303715884105727]
    assert row[4:] == ([1.5, "NaN"], {"a": "infinity"}, None) and str(row[3]).endswith("+00")
