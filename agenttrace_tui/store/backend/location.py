"""Where the store lives: --db, else $AGENTTRACE_DB, else the config file's `[store] db`, else the user data dir.

A location is a local DuckDB file (a Path) or a team store URL, `ducklake:postgres:CONNINFO`: a DuckLake whose
catalog is the PostgreSQL database CONNINFO names (libpq key=value words) and whose data are Parquet files under
a data path (a shared directory or s3://...). The data path is needed once, to create the store; DuckLake
records it in the catalog. It is a `data_path=...` word in the URL, else $AGENTTRACE_DATA_PATH, else the
config file's `[store] data_path`. docs/team-store.md.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeAlias

from agenttrace_tui import config as config_file
from agenttrace_tui.store.errors import StoreError

DB_ENV: Final = "AGENTTRACE_DB"
DATA_PATH_ENV: Final = "AGENTTRACE_DATA_PATH"
DEFAULT_DB_NAME: Final = "traces.duckdb"
LAKE_PREFIX: Final = "ducklake:"
POSTGRES_PREFIX: Final = "ducklake:postgres:"

_DATA_PATH_WORD = re.compile(r"(?:^|\s)data_path=(?:'((?:[^'\\]|\\.)*)'|(\S+))")
_PASSWORD_WORD = re.compile(r"(password=)(?:'(?:[^'\\]|\\.)*'|\S+)")
_URL_PASSWORD = re.compile(r"(://[^\s/@:]*:)[^\s/@]*(@)")


@dataclass(frozen=True)
class LakeLocation:
    """A team store: a DuckLake with a PostgreSQL catalog."""

    conninfo: str
    """libpq connection words for the catalog database, e.g. `dbname=traces host=db.internal`."""
    data_path: str | None = None
    """Where new Parquet files go; None: the one recorded in the catalog when it was created."""

    @property
    def catalog(self) -> str:
        """What DuckDB's ATTACH takes."""
        return f"{POSTGRES_PREFIX}{self.conninfo}"

    def __str__(self) -> str:
        """The URL again, parsed back to the same location (a child process gets it as --db)."""
        if self.data_path is None:
            return self.catalog
        return f"{self.catalog} data_path={_quote(self.data_path)}"

    def display(self) -> str:
        """For messages and logs: a password in the URL is masked."""
        return mask_password(str(self))


def mask_password(text: str) -> str:
    """A `password=...` word (in a URL, or an error quoting it) as `password=***`, and `user:PASS@` in a
    postgresql:// URL as `user:***@`."""
    return _URL_PASSWORD.sub(r"\1***\2", _PASSWORD_WORD.sub(r"\1***", text))


StoreLocation: TypeAlias = Path | LakeLocation
"""A local store file, or a team store."""


def location_text(location: StoreLocation) -> str:
    """A store location for messages, logs and --json: a team store's password masked."""
    return location.display() if isinstance(location, LakeLocation) else str(location)


def is_store_url(text: str) -> bool:
    return text.startswith(LAKE_PREFIX)


def parse_store(text: str, *, data_path: str | None = None) -> StoreLocation:
    """A path, or a `ducklake:postgres:` URL; `data_path` applies when the URL names none."""
    if not is_store_url(text):
        return Path(text).expanduser()
    if not text.startswith(POSTGRES_PREFIX):
        raise StoreError(
            f"unsupported store URL {text.split(' ', 1)[0]!r}: a team store is ducklake:postgres:CONNINFO "
            "(docs/team-store.md)"
        )
    words = text[len(POSTGRES_PREFIX):]
    found = _DATA_PATH_WORD.search(words)
    if found:
        quoted = found.group(1)
        data_path = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else found.group(2)
        words = (words[: found.start()] + " " + words[found.end():])
    conninfo = " ".join(words.split()) if "'" not in words else words.strip()
    if not conninfo:
        raise StoreError("store URL ducklake:postgres: needs the catalog's connection words, e.g. "
                         "ducklake:postgres:dbname=traces host=db.internal")
    return LakeLocation(conninfo, data_path or None)


def default_db_path() -> Path:
    """XDG data dir (`~/.local/share/agenttrace/traces.duckdb` on Linux), via platformdirs."""
    from platformdirs import user_data_path

    return user_data_path("agenttrace", appauthor=False) / DEFAULT_DB_NAME


def resolve_store(db: str | os.PathLike[str] | None = None) -> StoreLocation:
    """--db, else $AGENTTRACE_DB, else the config's `[store] db`, else the default file."""
    config = _config_store_table()
    fallback_data_path = os.environ.get(DATA_PATH_ENV) or _str_or_none(config.get("data_path"))
    for candidate in (db, os.environ.get(DB_ENV), _str_or_none(config.get("db"))):
        if candidate is not None and str(candidate) != "":
            return parse_store(str(candidate), data_path=fallback_data_path)
    return default_db_path()


def resolve_db_path(db: str | os.PathLike[str] | None = None) -> Path:
    """A local store file only (callers that need a file, such as the collector's spool next to it)."""
    location = resolve_store(db)
    if isinstance(location, LakeLocation):
        raise StoreError(f"{location.display()} is a team store URL; this needs a local store file")
    return location


def _config_store_table() -> dict[str, object]:
    try:
        return config_file.table("store")
    except config_file.ConfigError as exc:
        raise StoreError(str(exc)) from None


def _str_or_none(value: object) -> str | None:
    return str(value) if isinstance(value, str) and value else None


def _quote(value: str) -> str:
    if value and not any(c.isspace() or c in "'\\" for c in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
