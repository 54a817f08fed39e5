"""Where the store lives: --db, else $AGENTTRACE_DB, else the user data dir."""

from __future__ import annotations

import os
from pathlib import Path

DB_ENV = "AGENTTRACE_DB"
DEFAULT_DB_NAME = "traces.duckdb"


def default_db_path() -> Path:
    """XDG data dir (`~/.local/share/agenttrace/traces.duckdb` on Linux), via platformdirs."""
    from platformdirs import user_data_path

    return user_data_path("agenttrace", appauthor=False) / DEFAULT_DB_NAME


def resolve_db_path(db: str | os.PathLike[str] | None = None) -> Path:
    if db is not None and str(db) != "":
        return Path(db).expanduser()
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser()
    return default_db_path()
