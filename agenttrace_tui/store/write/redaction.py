"""Secrets redaction: SQL that blanks credentials in JSON or text columns, one vectorized pass per column.

Two kinds of rule, both applied by DuckDB's `regexp_replace` (RE2), so a whole Arrow batch is redacted
without a Python object per value:

- **keys**: the value of any object member whose name is a credential (`Authorization`, `Helicone-Auth`,
  `api_key`, `apiKey`, `x-api-key`, …; case-insensitive, at any depth, also inside a JSON string holding
  JSON such as tool-call arguments) becomes `"[REDACTED]"`. The member stays, so the shape of the record does.
- **patterns**: substrings shaped like provider keys (`sk-…`, `sk-ant-…`, `sk-proj-…`, `sk-helicone-…`,
  AWS `AKIA…`, Google `AIza…`, GitHub `ghp_…`, bearer tokens) become `[REDACTED]` wherever they occur.

Extra rules come from the config file's `[redact]` table (the file `agenttrace_tui.config.config_path` finds):

    [redact]
    keys = ["X-Internal-Token", "password"]       # added to the default keys
    patterns = ['acme_[a-z0-9]{32}']              # RE2 syntax; added to the default patterns
    defaults = true                               # false: only your keys and patterns

Use: `redact_sql("input", rules)` is an SQL expression to put where the column was:
`SELECT {redact_sql('r.input', rules)} AS input ...`. The replacement is plain text; it is never parsed as
markup (nothing in agenttrace parses data as markup).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import duckdb

from agenttrace_tui import config as config_file
from agenttrace_tui.format import SECRET_HEADERS
from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.sql_parts import sql_literal

REPLACEMENT: Final = "[REDACTED]"
SAFE_REPLACEMENT: Final = re.compile(r'[^"\\\x00-\x1f\x7f]{1,64}')
"""A replacement goes into JSON strings and RE2 rewrites as is: no quote, backslash or control character."""

DEFAULT_KEYS: Final = tuple(
    sorted({"authorization", "helicone-auth", "api_key", "apikey", "x-api-key", "api-key", "openai-api-key",
            "proxy-authorization", "x-goog-api-key", "anthropic-api-key"} | set(SECRET_HEADERS))
)
"""Member names (compared case-insensitively) whose values are credentials."""

DEFAULT_PATTERNS: Final = (
    r"\bsk-ant-[A-Za-z0-9_-]{16,}",  # Anthropic
    r"\bsk-proj-[A-Za-z0-9_-]{16,}",  # OpenAI project keys
    r"\b[sp]k-helicone-[A-Za-z0-9_-]{7,}",  # Helicone (sk-helicone-…, pk-helicone-…)
    r"\bsk-[A-Za-z0-9_-]{20,}",  # OpenAI and other sk- keys
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
    r"\bAIza[0-9A-Za-z_-]{35}",  # Google API keys
    r"\bgh[pousr]_[A-Za-z0-9]{36,}",  # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{22,}",  # GitHub fine-grained tokens
    r"(?i:\bbearer\s+)[A-Za-z0-9._~+/-]{16,}=*",  # a bearer token written out in text
)
"""Secret-shaped substrings (RE2). Character classes hold no quote or backslash, so JSON stays valid."""


@dataclass(frozen=True)
class RedactionRules:
    keys: tuple[str, ...] = DEFAULT_KEYS
    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    replacement: str = REPLACEMENT


DEFAULT_RULES: Final = RedactionRules()



def _key_alternatives(keys: Iterable[str]) -> str:
    return "|".join(re.escape(key.lower()).replace("\\-", "-") for key in keys)


def key_patterns(keys: Iterable[str]) -> tuple[str, str]:
    """RE2 patterns for a credential member and its value: in plain JSON, and inside a JSON-encoded string
    (`"{\\"api_key\\": \\"…\\"}"`, as tool-call arguments are). Group 1 is everything before the value."""
    names = _key_alternatives(keys)
    scalar = r'-?[0-9][0-9.eE+-]*|true|false'  # null stays null: nothing to hide
    plain = rf'("(?i:{names})"\s*:\s*)(?:"(?:[^"\\]|\\.)*"|{scalar})'
    escaped = rf'(\\"(?i:{names})\\"\s*:\s*)(?:\\"(?:[^\\]|\\[^"])*?\\"|{scalar})'
    return plain, escaped


def redact_sql(expr: str, rules: RedactionRules = DEFAULT_RULES, *, as_json: bool = True) -> str:
    """An SQL expression: `expr` (a JSON or VARCHAR column expression) with credentials replaced.

    NULL stays NULL. With `as_json` the result is cast back to JSON (replacements keep JSON valid).
    """
    result = f"({expr})::VARCHAR"
    replacement = rules.replacement  # no quote, backslash or control character: checked where rules are made
    if rules.keys:
        plain, escaped = key_patterns(rules.keys)
        plain_value = "\\1" + f'"{replacement}"'  # RE2 rewrite: \1 is the member name and colon
        escaped_value = "\\1" + f'\\\\"{replacement}\\\\"'  # inside a JSON string: \"…\"
        result = f"regexp_replace({result}, {sql_literal(plain)}, {sql_literal(plain_value)}, 'g')"
        result = f"regexp_replace({result}, {sql_literal(escaped)}, {sql_literal(escaped_value)}, 'g')"
    if rules.patterns:
        combined = "|".join(f"(?:{pattern})" for pattern in rules.patterns)
        result = f"regexp_replace({result}, {sql_literal(combined)}, {sql_literal(replacement)}, 'g')"
    return f"({result})::JSON" if as_json else result


def redact_text(text: str, rules: RedactionRules = DEFAULT_RULES) -> str:
    """The same redaction on one Python string (for callers outside SQL; tests check both agree)."""
    with duckdb.connect() as con:
        row = con.execute(f"SELECT {redact_sql('$text', rules, as_json=False)}", {"text": text}).fetchone()
    return str(row[0]) if row else text


def rules_from_table(table: Mapping[str, Any], *, source: str = "config") -> RedactionRules:
    """`[redact]`: `keys` and `patterns` lists added to the defaults (`defaults = false` drops them),
    `replacement` text. Every pattern is checked by DuckDB's RE2 here, so a bad one fails at load."""
    def strings(name: str) -> tuple[str, ...]:
        value = table.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise StoreError(f"{source}: [redact] {name} must be a list of non-empty strings")
        return tuple(value)

    use_defaults = table.get("defaults", True)
    if not isinstance(use_defaults, bool):
        raise StoreError(f"{source}: [redact] defaults must be true or false")
    replacement = table.get("replacement", REPLACEMENT)
    if not isinstance(replacement, str) or not SAFE_REPLACEMENT.fullmatch(replacement):
        raise StoreError(f"{source}: [redact] replacement must be a short text without quotes, backslashes "
                         "or control characters")
    patterns = strings("patterns")
    _check_patterns(patterns, source)
    return RedactionRules(
        keys=(DEFAULT_KEYS if use_defaults else ()) + tuple(k.lower() for k in strings("keys")),
        patterns=(DEFAULT_PATTERNS if use_defaults else ()) + patterns,
        replacement=replacement,
    )


def _check_patterns(patterns: tuple[str, ...], source: str) -> None:
    with duckdb.connect() as con:
        for index, pattern in enumerate(patterns):
            try:
                con.execute("SELECT regexp_matches('', ?)", [pattern]).fetchone()
            except duckdb.Error as exc:
                first = str(exc).strip().splitlines()[0]
                raise StoreError(f"{source}: [redact] patterns[{index}] {pattern!r}: {first}") from None


def load_rules(config: Path | None = None) -> RedactionRules:
    """The config file's `[redact]` rules over the defaults; the defaults when there is no file or table."""
    path = config if config is not None else config_file.config_path()
    try:
        table = config_file.table("redact", path)
    except config_file.ConfigError as exc:
        raise StoreError(str(exc)) from None
    if not table:
        return DEFAULT_RULES
    return rules_from_table(table, source=f"config {path}")
