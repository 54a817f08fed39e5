"""The config file, read once per process: each table (`[store]`, `[ingest]`, `[prices]`, `[redact]`, `[stats]`, `[keys]`) handed to its user.

The file is `$AGENTTRACE_CONFIG`, else the user config dir (`~/.config/agenttrace/config.toml` on Linux).
A missing file, or a missing table, is an empty table. A file that cannot be read, is not TOML, or holds
something other than a table where one is expected is a `ConfigError` with one line naming the file:

    /home/me/.config/agenttrace/config.toml: not valid TOML: Expected '=' after a key ... (at line 3, column 5)

Who uses which table: `[store]` store/backend/location.py, `[ingest]` store/write/ingest.py, `[prices]`
store/write/pricing.py, `[redact]` store/write/redaction.py, `[stats]` store/read/analytics.py, `[keys]`
tui/app.py. Each checks its own table's keys; the store turns a `ConfigError` into its one-line `StoreError`.

Cheap to import: the standard library only (platformdirs is imported when the default location is needed).
"""

from __future__ import annotations

import copy
import functools
import os
import tomllib
from pathlib import Path
from typing import Any, Final

CONFIG_ENV: Final = "AGENTTRACE_CONFIG"
TABLES: Final = ("store", "ingest", "prices", "redact", "stats", "keys")


class ConfigError(Exception):
    """The config file (or a `--prices` file) cannot be read, is not TOML, or a table is not a table."""


def config_path() -> Path:
    """`$AGENTTRACE_CONFIG`, else the user config dir (`~/.config/agenttrace/config.toml`)."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_path

    return user_config_path("agenttrace", appauthor=False) / "config.toml"


def table(name: str, path: Path | None = None) -> dict[str, Any]:
    """The config file's `[name]` table (a deep copy: the caller may change it, nested tables too); `{}` when
    the file or the table is missing.

    `path` stands for the config file (tests, callers given a file); by default `config_path()`.
    """
    config = path if path is not None else config_path()
    value = read(config).get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{config}: [{name}] must be a table")
    return copy.deepcopy(value)


def read(path: Path) -> dict[str, Any]:
    """The whole config file as TOML; `{}` when it does not exist. Parsed once per version of the file:
    the cache is keyed on the path, its modification time and size, so a file rewritten (or another
    `$AGENTTRACE_CONFIG`) is read again."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    return dict(_parsed(str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino))


def read_toml(path: Path, what: str = "config file") -> dict[str, Any]:
    """Any TOML file (uncached), with the config's error format; `what` names it (e.g. "price file")."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:  # a binary file (a store given as --prices): tomllib reads UTF-8 only
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text") from None


@functools.lru_cache(maxsize=8)
def _parsed(path: str, mtime_ns: int, size: int, inode: int) -> dict[str, Any]:
    return read_toml(Path(path))
