"""Secrets redaction: SQL that blanks credentials in JSON or text columns, one vectorized pass per column.

The rules are applied by DuckDB's `regexp_replace` (RE2), so a whole Arrow batch is redacted without a
Python object per value:

- **keys**: the value of any object member whose name is a credential becomes `"[REDACTED]"`, whole (a
  string, number, or an array or object nested up to `NESTING` levels; deeper, the line is refused, see
  `leftover_sql`). The member stays, so the shape of the record does. Names are compared case-insensitively,
  at any depth, also inside a JSON string holding JSON such as tool-call arguments, and after JSON escapes
  are decoded (`"Authoriz\u0061tion"` is `Authorization`). A name is a credential when it is one of `keys`
  (also as the last part of a dotted name: OpenTelemetry's `http.request.header.authorization`), or when its
  last words are one of `words` (`x-api-key`, `OPENAI_API_KEY`, `db.password`, `set-cookie`, `githubToken`).
- **contexts**: a secret after something that announces it, in any text: a URL's password
  (`https://user:PASS@host`), a query parameter (`?api_key=…`, `&token=…`, `&sig=…`), `password=…`,
  `Authorization: Basic …`, `Cookie: …` in a message or an error.
- **patterns**: substrings shaped like provider keys (`sk-…`, `sk-ant-…`, AWS `AKIA…`, Google `AIza…`,
  GitHub `ghp_…`, Slack `xoxb-…`, JWTs, PEM private keys, bearer tokens, …) become `[REDACTED]` anywhere.

Where the lists come from: the key words follow Sentry's default data scrubbing list (password, secret,
passwd, api_key, apikey, auth, credentials, mysql_pwd, privatekey, private_key, token, bearer), matched as
whole words of a name, not substrings: `author`, `max_tokens`, `input_tokens`, `token_count` are kept. A name
that is just `token` is kept too: LLM logprobs (`{"token": "Hello", "logprob": …}`) and tokenizer settings
(`eos_token`) use it for text, not credentials. The key shapes follow gitleaks' rules for the same providers.

Extra rules come from the config file's `[redact]` table (the file `agenttrace_tui.config.config_path` finds):

    [redact]
    keys = ["X-Internal-Token", "pin"]            # added to the default keys
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
            "proxy-authorization", "x-goog-api-key", "anthropic-api-key", "cookie", "set-cookie"}
           | set(SECRET_HEADERS))
)
"""Member names (compared case-insensitively) whose values are credentials."""

DEFAULT_KEY_WORDS: Final = (
    "authorization", "auth", "bearer", "cookie", "credentials?",
    "password", "passwd", "pwd", "passphrase", "secret",
    "api[_-]?key", "(?:access|private|secret|signing|encryption|client)[_-]?key",
    "(?:access|refresh|id|auth|api|bearer|session|security|oauth|github|gitlab|slack|csrf|xsrf)[_-]?token",
)
"""RE2 for the last words of a credential's name (case-insensitive), after any `word.`, `word-`, `word_`."""

_CAMEL_WORDS: Final = (
    "Authorization|Password|Passwd|Secret|Credentials?|Api[Kk]ey|APIKey|AccessKey|PrivateKey|SecretKey|Cookie"
    "|(?:Access|Refresh|Id|Auth|Api|Bearer|Session|Security)Token"
)
"""The same names ending a camelCase name (`githubToken`, `dbPassword`): case-sensitive, after a lowercase start."""


@dataclass(frozen=True)
class Context:
    """A secret after text that announces it: RE2 for both, no groups; `after` is plain text that must follow
    the secret and stays (a URL's password ends at its `@`)."""

    before: str
    secret: str
    after: str = ""


_CONTEXT_NAMES: Final = (
    r"password|passwd|pwd|passphrase|secret|client[_-]?secret|api[_ -]?key|apikey|private[_-]?key"
    r"|(?:access|refresh|id|auth|api|session)[_-]?token|authorization|helicone-auth|x-auth-token"
)
DEFAULT_CONTEXTS: Final = (
    # https://user:PASS@host (also redis://:PASS@host): the password, up to the authority's last '@'
    Context(r'[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:"\\]*:', r'[^\s/?#"\\]+', "@"),
    # ?api_key=…&token=… in a URL (Google's ?key=, signed URLs' sig= and X-Amz-Signature=)
    Context(r"[?&;](?i:api[_-]?key|apikey|key|token|access[_-]?token|refresh[_-]?token|id[_-]?token|auth"
            r"|auth[_-]?token|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|password"
            r"|passwd|pwd|secret|client[_-]?secret|session[_-]?token|private[_-]?key|jwt)=",
            r'[^&#\s"\\]+'),
    # Cookie: a=1; b=2 (to the end of the line or string)
    Context(r"(?:^|[^A-Za-z0-9]|\\[nrt])(?i:cookie|set-cookie)'?\s*[:=]\s*", r'[^"\\\r\n]+'),
    # password=…, api_key: …, Authorization: Basic … in text such as an error message ('…' for Python reprs)
    Context(rf"(?:^|[^A-Za-z0-9]|\\[nrt])(?i:{_CONTEXT_NAMES})'?\s*[:=]\s*'?",
            r"""(?:(?i:bearer|basic|digest|token)\s+)?[^\s"'\\,;&]+"""),
)
"""Secrets in running text. At most 4: an RE2 rewrite names groups \\1 to \\9 only."""

DEFAULT_PATTERNS: Final = (
    r"\bsk-ant-[A-Za-z0-9_-]{16,}",  # Anthropic
    r"\bsk-proj-[A-Za-z0-9_-]{16,}",  # OpenAI project keys
    r"\b[sp]k-helicone-[A-Za-z0-9_-]{7,}",  # Helicone (sk-helicone-…, pk-helicone-…)
    r"\bsk-[A-Za-z0-9_-]{20,}",  # OpenAI and other sk- keys (Langfuse sk-lf-…)
    r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",  # AWS access key ids (gitleaks aws-access-token)
    r"\bAIza[0-9A-Za-z_-]{35}",  # Google API keys
    r"\bya29\.[0-9A-Za-z_-]{20,}",  # Google OAuth access tokens
    r"\bgh[pousr]_[A-Za-z0-9]{36,}",  # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{22,}",  # GitHub fine-grained tokens
    r"\bglpat-[0-9A-Za-z_-]{20,}",  # GitLab personal access tokens
    r"\bxox[baprse]-[0-9A-Za-z-]{10,}",  # Slack tokens
    r"\bxapp-[0-9]-[A-Za-z0-9-]{10,}",  # Slack app tokens
    r"\b[rs]k_(?:live|test|prod)_[0-9A-Za-z]{10,}",  # Stripe
    r"\bhf_[A-Za-z0-9]{30,}",  # Hugging Face
    r"\bnpm_[A-Za-z0-9]{36}",  # npm
    r"\bgsk_[A-Za-z0-9]{20,}",  # Groq
    r"\bey[A-Za-z0-9_-]{10,}\.ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",  # JWTs (header.payload.signature)
    r"-----BEGIN[A-Z ]*PRIVATE KEY[A-Z ]*-----(?:[^\"\\]|\\.)*",  # a PEM private key, to the end of its string
    r"(?i:\bbearer\s+)[A-Za-z0-9._~+/-]{16,}=*",  # a bearer token written out in text
)
"""Secret-shaped substrings (RE2). Character classes hold no quote or backslash (or take a backslash with the
character after it), so JSON stays valid."""

NESTING: Final = 4
"""How deep an array or object under a credential key is matched whole; a deeper one refuses its line."""
ASCII_ESCAPE: Final = r"\\u00(?:[46][1-9a-fA-F]|[57][0-9aA]|3[0-9]|2[dDeE]|5[fF])"
"""A JSON escape of a letter, digit, `-`, `.` or `_`: it could spell a credential's name (`Authoriz\\u0061tion`).
(Not `<`, `>`, `&`: Go's encoder escapes those in every string.)"""


@dataclass(frozen=True)
class RedactionRules:
    keys: tuple[str, ...] = DEFAULT_KEYS
    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    replacement: str = REPLACEMENT
    words: tuple[str, ...] = DEFAULT_KEY_WORDS
    contexts: tuple[Context, ...] = DEFAULT_CONTEXTS


DEFAULT_RULES: Final = RedactionRules()


def _key_alternatives(keys: Iterable[str]) -> str:
    return "|".join(re.escape(key.lower()).replace("\\-", "-") for key in keys)


def name_pattern(rules: RedactionRules) -> str:
    """RE2 for a credential member's whole name (without its quotes); never matches nothing-at-all."""
    parts = []
    if rules.keys:
        parts.append(rf"(?i:(?:[a-z0-9_-]+\.)*(?:{_key_alternatives(rules.keys)}))")
    if rules.words:
        parts.append(rf"(?i:(?:[a-z0-9]+[._-])*(?:{'|'.join(rules.words)}))")
        parts.append(rf"[a-z][a-zA-Z0-9]*(?:{_CAMEL_WORDS})")
    return "|".join(parts) or "[^\\x00-\\x{10FFFF}]"


_STRING: Final = r'"(?:[^"\\]|\\.)*"'
# Inside a JSON string holding JSON: its strings are \"…\", their own escapes doubled (\\n, \\\", \\\\).
_ESCAPED_STRING: Final = r'\\"(?:[^\\]|\\[^"\\]|\\\\[^"\\]|\\\\\\\\|\\\\\\")*\\"'
_SCALAR: Final = r"-?[0-9][0-9.eE+-]*|true|false"  # null stays null: nothing to hide
_SPACE: Final = r"\s*"
_ESCAPED_SPACE: Final = r"(?:\s|\\[nrt])*"


def _value(string: str, space: str) -> str:
    """RE2 for one JSON value other than null: a scalar, or an array or object nested up to NESTING deep.
    Members need not be separated by commas here: the line is JSON already, this only has to find its end."""
    value = f"{string}|{_SCALAR}|null"
    for level in range(NESTING):
        inner = f"(?:{value})"
        array = rf"\[{space}(?:{inner}{space},?{space})*\]"
        members = rf"\{{{space}(?:{string}{space}:{space}{inner}{space},?{space})*\}}"
        value = f"{string}|{_SCALAR}|{array}|{members}" + ("" if level == NESTING - 1 else "|null")
    return value


def _key_openings(rules: RedactionRules) -> tuple[str, str]:
    """RE2 for a credential member up to its colon: in plain JSON, and inside a JSON-encoded string."""
    names = name_pattern(rules)
    return rf'"(?:{names})"{_SPACE}:', rf'\\"(?:{names})\\"{_ESCAPED_SPACE}:'


def scan_pattern(rules: RedactionRules) -> str:
    """RE2 that matches wherever redaction could change a text (and more): a line it does not match can skip
    the redaction. Cheaper than the rules themselves: names and announcing text, not the values after them."""
    parts = [*_key_openings(rules), ASCII_ESCAPE, *_MARKS, *(context.before for context in rules.contexts),
             *rules.patterns]
    return "|".join(f"(?:{part})" for part in parts if part)


# A member's value is found in two steps, so no step needs RE2's submatches (an NFA run over the whole
# program per match: with ~40 names, 12 µs a match against 1 µs): a cheap pass puts a mark after each
# credential's colon, a second replaces a mark and the value after it. The marks are Unicode noncharacters
# ("for internal use"); one already in the text is first written as its JSON escape (the same string in JSON).
# RE2 scans for them slowly (no memchr for a multi-byte character), so `contains` says first whether to.
_PLAIN_MARK: Final = "\ufdd0"
_ESCAPED_MARK: Final = "\ufdd1"
_MARKS: Final = (_PLAIN_MARK, _ESCAPED_MARK)


def _sub(expr: str, pattern: str, rewrite: str) -> str:
    return f"regexp_replace({expr}, {sql_literal(pattern)}, {sql_literal(rewrite)}, 'g')"


def _marks_in(expr: str) -> str:
    return " OR ".join(f"contains({expr}, {sql_literal(mark)})" for mark in _MARKS)


def _if_marked(expr: str, then: str) -> str:
    return f"CASE WHEN {_marks_in(expr)} THEN {then} ELSE {expr} END"


def _unmarked_input_sql(expr: str) -> str:
    """`expr` with any of our marks it holds written as JSON escapes."""
    escaped = expr
    for mark in _MARKS:
        escaped = _sub(escaped, mark, f"\\\\u{ord(mark):04x}")
    return _if_marked(expr, escaped)


def _marked_sql(expr: str, rules: RedactionRules) -> str:
    """`expr` with a mark after every credential member's colon."""
    plain, escaped = _key_openings(rules)
    return _sub(_sub(expr, plain, "\\0" + _PLAIN_MARK), escaped, "\\0" + _ESCAPED_MARK)


def _values_replaced_sql(marked: str, replacement: str) -> str:
    """A mark and the value after it become the replacement (a mark before null or a too deep value stays)."""
    plain = _sub(marked, rf"{_PLAIN_MARK}{_SPACE}(?:{_value(_STRING, _SPACE)})", f'"{replacement}"')
    escaped_value = rf"{_ESCAPED_MARK}{_ESCAPED_SPACE}(?:{_value(_ESCAPED_STRING, _ESCAPED_SPACE)})"
    escaped = _sub(plain, escaped_value, f'\\\\"{replacement}\\\\"')
    return _if_marked(marked, escaped)


def leftover_sql(expr: str) -> str:
    """SQL: true when a text redacted with `keep_marks` still has a mark after a credential's colon
    before an array or object (nested deeper than NESTING, so not matched whole). Such a line is refused."""
    deep = rf"{_PLAIN_MARK}{_SPACE}[\[{{]|{_ESCAPED_MARK}{_ESCAPED_SPACE}[\[{{]"
    return f"CASE WHEN {_marks_in(expr)} THEN regexp_matches({expr}, {sql_literal(deep)}) ELSE false END"


def unmarked_sql(expr: str) -> str:
    """SQL: `expr` without the marks `keep_marks` left."""
    return _if_marked(expr, _sub(expr, "[" + "".join(_MARKS) + "]", ""))


def blanked_sql(expr: str, rules: RedactionRules = DEFAULT_RULES) -> str:
    """SQL: `expr` with every string value and number replaced (member names kept): the text kept for a
    line refused by `leftover_sql`, which tells what was there without any of its values."""
    quoted = f'"{rules.replacement}"'
    strings = _sub(expr, _STRING_VALUE, quoted + _GROUP_1)
    return _sub(strings, _NUMBER_VALUE, _GROUP_1 + quoted)


_STRING_VALUE: Final = _STRING + r"(\s*[,}\]]|\s*$)"  # a string followed by what ends a value, not by ':'
_NUMBER_VALUE: Final = r"([:\[,]\s*)-?[0-9][0-9.eE+-]*"
_GROUP_1: Final = "\\1"


def decoded_sql(expr: str, when: str = "true") -> str:
    """SQL: `expr` rewritten by DuckDB's JSON writer when it holds an escaped ASCII character and is valid
    JSON (and `when` holds), so the rules see names and values as decoded. Same values, same member order,
    duplicates kept; only the spelling changes (escapes written out, spaces dropped)."""
    return (f"CASE WHEN NOT regexp_matches({expr}, {sql_literal(ASCII_ESCAPE)}) THEN {expr} "
            f"WHEN json_valid({expr}) AND ({when}) THEN json({expr})::VARCHAR ELSE {expr} END")


def redact_sql(expr: str, rules: RedactionRules = DEFAULT_RULES, *, as_json: bool = True,
               decode_when: str = "true", keep_marks: bool = False) -> str:
    """An SQL expression: `expr` (a JSON or VARCHAR column expression) with credentials replaced.

    NULL stays NULL. With `as_json` the result is cast back to JSON (replacements keep JSON valid).
    `decode_when`: an SQL condition under which a valid JSON text with escapes is decoded first (see
    `decoded_sql`); ingest passes its strict-JSON check, so a lenient line is not made strict by the rewrite.
    `keep_marks`: leave the marks of values not replaced, for `leftover_sql`; then `unmarked_sql` removes them.
    """
    result = _unmarked_input_sql(decoded_sql(f"({expr})::VARCHAR", decode_when))
    replacement = rules.replacement  # no quote, backslash or control character: checked where rules are made
    if rules.keys or rules.words:
        result = _values_replaced_sql(_marked_sql(result, rules), replacement)
        if not keep_marks:
            result = unmarked_sql(result)
    if rules.contexts or rules.patterns:
        result = _texts_sql(result, rules)
    return f"({result})::JSON" if as_json else result


def _texts_sql(expr: str, rules: RedactionRules) -> str:
    """Contexts and patterns in one RE2 (one scan of the text): each context `(before)secret(after)` first,
    so its groups are 2n-1 and 2n whatever groups a configured pattern has; rewritten to every context's
    before, the replacement, every after (groups of alternatives that did not match are empty). RE2 pays
    for submatches only where something matched."""
    contexts = [f"({c.before}){c.secret}({re.escape(c.after)})" for c in rules.contexts]
    pattern = "|".join(contexts + [f"(?:{p})" for p in rules.patterns])
    befores = "".join(f"\\{2 * index + 1}" for index in range(len(contexts)))
    afters = "".join(f"\\{2 * index + 2}" for index in range(len(contexts)))
    return _sub(expr, pattern, befores + rules.replacement + afters)


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
        words=DEFAULT_KEY_WORDS if use_defaults else (),
        contexts=DEFAULT_CONTEXTS if use_defaults else (),
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
