"""The session filter language: `FIELD OP VALUE`, AND-ed, compiled to SQL over the `sessions` view.

OP is one of `= != > >= < <= ~` (`~`: case-insensitive contains). Session fields compare the
session's own figures; span-level fields (model, tool, path, user, prop.NAME) select sessions having
at least one such span, and the totals shown stay those of the whole session.

A property name or a value may be quoted, `prop."my key" = 'a and b'`, a quote inside written twice
(`'it''s'`): then it holds any text, spaces, operators and ` and ` included. The parser reads each character a
bounded number of times: its regular expressions are possessive, so none backtracks across a run of spaces (a
filter of 20,000 spaces took 1.3 s to parse when it did).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final, NoReturn

import orjson

from agenttrace_tui.store.errors import FilterError

OPERATORS: Final = ("!=", ">=", "<=", "=", ">", "<", "~")
_SQL_OPERATOR: Final = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}

NUMBER_FIELDS: Final = {
    "cost": "s.cost_usd",
    "errors": "s.errors",
    "spans": "s.spans",
    "llm_calls": "s.llm_calls",
    "tool_calls": "s.tool_calls",
    "tokens": "(s.input_tokens + s.output_tokens)",
    "unpriced": "s.unpriced",
}
"""Session figures compared as numbers."""

TEXT_FIELDS: Final = {"name": "s.name", "id": "s.session_id"}
LIST_FIELDS: Final = {"model": "s.models", "tool": "s.tools", "user": "s.user_ids"}
"""Span-level values already rolled up per session as lists: a session matches when any element does."""

FIELDS: Final = (
    "name", "id", "cost", "duration", "errors", "error_rate", "spans", "llm_calls", "tool_calls",
    "tokens", "unpriced", "model", "tool", "path", "user", "started", "prop.NAME",
)

_SPACE: Final = re.compile(r"\s*+")
_WORD: Final = re.compile(r"[A-Za-z_]++")
_BARE_NAME: Final = re.compile(r"[^\s=!<>~]++")
"""A property name as written without quotes: up to a space or an operator."""
_OPERATOR: Final = re.compile(r"!=|>=|<=|=|>|<|~")
_QUOTED: Final = {quote: re.compile(f"{quote}((?:[^{quote}]++|{quote}{quote})*+){quote}") for quote in "\"'"}
"""A quoted name or value; the quote inside written twice. Possessive: an unclosed quote fails in one pass."""
_AND: Final = re.compile(r"(?<!\s)\s++and\s", re.IGNORECASE)
"""The explorer's separator between conditions (a whitespace run is tried once, from its start)."""
_QUOTES: Final = "\"'"
_DURATION: Final = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d)?$")
_UNIT_MS: Final = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0, "d": 86_400_000.0}


@dataclass(frozen=True)
class Compiled:
    """A WHERE clause over `sessions s` and its parameters."""

    sql: str
    params: list[Any]


@dataclass(frozen=True)
class Condition:
    """One parsed condition: `field` is `prop` for a property, named by `prop`; positions are for errors."""

    field: str
    op: str
    value: str
    prop: str | None = None
    field_at: int = 0
    op_at: int = 0
    value_at: int = 0

    def text(self) -> str:
        """The condition written in the filter language, quoted where it needs to be (parses back to itself)."""
        field = f"prop.{_quoted_name(self.prop)}" if self.prop is not None else self.field
        return f"{field} {self.op} {_quoted_value(self.value)}"


def _property_condition(name: str, op: str, value: str) -> Condition:
    """A property condition given as data (--query), with the columns of its `text()` for errors."""
    op_at = len("prop.") + len(_quoted_name(name)) + 1
    return Condition("prop", op, value, name, field_at=0, op_at=op_at, value_at=op_at + len(op) + 1)


def _quote(text: str) -> str:
    quote = '"' if '"' not in text or "'" in text else "'"
    return quote + text.replace(quote, quote * 2) + quote


def _quoted_name(name: str) -> str:
    bare = _BARE_NAME.fullmatch(name) is not None and name[0] not in _QUOTES
    return name if bare else _quote(name)


def _quoted_value(value: str) -> str:
    bare = (value != "" and value == value.strip() and value[0] not in _QUOTES and _AND.search(value) is None)
    return value if bare else _quote(value)


def compile_filters(
    expressions: Sequence[str],
    *,
    since: str | None = None,
    until: str | None = None,
    query_json: str | None = None,
    now: datetime | None = None,
) -> Compiled:
    clauses: list[str] = []
    params: list[Any] = []
    for expression in expressions:
        clause, values = compile_one(expression)
        clauses.append(clause)
        params.extend(values)
    if query_json:
        # Compiled as parsed data, never written out and read back: a name holding `=` or quotes stays whole.
        for condition in conditions_from_query(query_json):
            clause, values = compile_condition(condition.text(), condition)
            clauses.append(clause)
            params.extend(values)
    moment = now or datetime.now(timezone.utc)
    # A time range selects whole sessions by their start, so none is cut in two.
    if since:
        clauses.append("s.start_time >= ?")
        params.append(parse_time(since, moment, "--since"))
    if until:
        clauses.append("s.start_time < ?")
        params.append(parse_time(until, moment, "--until"))
    return Compiled(" AND ".join(clauses) if clauses else "TRUE", params)


def _bad(expression: str, position: int, message: str) -> FilterError:
    return FilterError(f"bad filter {expression!r} at column {position + 1}: {message}")


def compile_one(expression: str) -> tuple[str, list[Any]]:
    """One `FIELD OP VALUE` (a whole --filter: an unquoted value runs to the end, ` and ` included)."""
    try:
        condition, _, _ = _parse(expression, 0, many=False)
    except _Unparsed as exc:
        raise _bad(expression, exc.at, exc.message) from None
    return compile_condition(expression, condition)


class _Unparsed(Exception):
    """Where and why a condition does not parse; the message quoting the whole expression is built only when
    shown (the explorer's split meets many, and must not copy its whole line for each)."""

    def __init__(self, at: int, message: str) -> None:
        super().__init__(message)
        self.at, self.message = at, message


def split_conditions(text: str) -> list[str]:
    """The explorer's filter line cut at each ` and ` between conditions, not inside a quoted name or value.

    Never raises: a piece that does not parse is cut at the next ` and ` and left for `compile_one` to report."""
    pieces: list[str] = []
    at = 0
    while _skip_spaces(text, at) < len(text):
        try:
            _, stop, at_next = _parse(text, at, many=True)
        except _Unparsed:
            separator = _AND.search(text, at)
            stop, at_next = (separator.start(), separator.end()) if separator is not None else (len(text), len(text))
        pieces.append(text[at:stop].strip())
        at = at_next
    return [piece for piece in pieces if piece]


def _parse(text: str, start: int, *, many: bool) -> tuple[Condition, int, int]:
    """The condition at `start`, where it stops, and where the next one starts: the end of the text, or with
    `many` just past the ` and ` after it. One pass, each character read a bounded number of times."""
    at = _skip_spaces(text, start)
    field_at = at
    word = _WORD.match(text, at)
    if word is None:
        return _fail_syntax(text, start, many)
    field, at, prop = word.group(), word.end(), None
    if field == "prop" and text.startswith(".", at):
        prop, at = _property_name(text, at + 1)
    at = _skip_spaces(text, at)
    operator = _OPERATOR.match(text, at)
    if operator is None:
        return _fail_syntax(text, start, many)
    op, op_at = operator.group(), at
    at = _skip_spaces(text, operator.end())
    value_at = at
    quoted = _quoted_value_at(text, at, many)
    if quoted is not None:
        value, stop, end = quoted
    else:  # as written, up to the end or the next ` and `: also a value whose quote is not closed (`'s Bakery`)
        separator = _AND.search(text, operator.end()) if many else None
        stop, end = (separator.start(), separator.end()) if separator is not None else (len(text), len(text))
        value = text[at:stop].rstrip()
    return Condition(field, op, value, prop, field_at, op_at, value_at), stop, end


def _skip_spaces(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match is not None else at


def _quoted_value_at(text: str, at: int, many: bool) -> tuple[str, int, int] | None:
    """A value quoted whole at `at` (its closing quote followed by the end, or with `many` by ` and `): the text,
    where it stops and where the next condition starts. Else None, and the value is read as written."""
    if at == len(text) or text[at] not in _QUOTES:
        return None
    quote = text[at]
    match = _QUOTED[quote].match(text, at)
    if match is None:
        return None
    value = match[1].replace(quote * 2, quote)
    separator = _AND.match(text, match.end()) if many else None
    if separator is not None:
        return value, separator.start(), separator.end()
    rest = _skip_spaces(text, match.end())
    return (value, rest, rest) if rest == len(text) else None


def _property_name(text: str, at: int) -> tuple[str, int]:
    if at < len(text) and text[at] in _QUOTES:
        name, end = _quoted(text, at)
    else:
        bare = _BARE_NAME.match(text, at)
        name, end = (bare.group(), bare.end()) if bare is not None else ("", at)
    if name == "":
        raise _Unparsed(at, 'expected a property name after prop. (quote one with spaces: prop."my key")')
    return name, end


def _quoted(text: str, at: int) -> tuple[str, int]:
    quote = text[at]
    match = _QUOTED[quote].match(text, at)
    if match is None:
        raise _Unparsed(at, f"unclosed {quote}: end the quoted text with {quote} (a {quote} inside is "
                        f"written twice: {quote}{quote})")
    return match[1].replace(quote * 2, quote), match.end()


def _fail_syntax(text: str, start: int, many: bool) -> NoReturn:
    separator = _AND.search(text, start) if many else None
    piece = text[start:separator.start() if separator is not None else len(text)]
    if any(op in piece for op in OPERATORS):
        raise _Unparsed(start, "expected a field name before the operator")
    raise _Unparsed(start + len(piece), "expected FIELD OP VALUE with OP one of " + " ".join(OPERATORS))


def compile_condition(expression: str, condition: Condition) -> tuple[str, list[Any]]:
    """A parsed condition as SQL; `expression` is what errors quote."""
    field, op, value = condition.field, condition.op, condition.value
    value_at = condition.value_at
    if value == "":
        return _raise(expression, value_at, "missing value after the operator")
    if field in NUMBER_FIELDS or field in ("duration", "error_rate"):
        if op == "~":
            return _raise(expression, condition.op_at, f"'~' compares text; {field} is a number")
        number = _number(field, value)
        if number is None:
            hint = {"duration": " (e.g. 500ms, 30s, 2m)", "error_rate": " (e.g. 0.1 or 10%)"}.get(field, "")
            return _raise(expression, value_at, f"{field} needs a number{hint}, got {value!r}")
        column = {"duration": "s.duration_ms", "error_rate": "s.error_rate"}.get(field) or NUMBER_FIELDS[field]
        return f"{column} {_SQL_OPERATOR[op]} ?", [number]
    if field == "started":
        if op == "~":
            return _raise(expression, condition.op_at, "'~' compares text; started is a time")
        try:
            moment = parse_time(value, datetime.now(timezone.utc), "started")
        except FilterError as exc:
            return _raise(expression, value_at, str(exc))
        return f"s.start_time {_SQL_OPERATOR[op]} ?", [moment]
    if field in TEXT_FIELDS:
        return _text_clause(TEXT_FIELDS[field], op, value)
    if field in LIST_FIELDS:
        element, values = _text_clause("x", op, value)
        return f"len(list_filter(coalesce({LIST_FIELDS[field]}, []), x -> {element})) > 0", values
    if field == "path":
        element, values = _text_clause("d.path", op, value)
        return (
            f"EXISTS (SELECT 1 FROM span_data d WHERE d.session_id = s.session_id AND {element})",
            values,
        )
    if condition.prop is not None:
        name = condition.prop
        number = _plain_number(value)
        if op in (">", ">=", "<", "<=") and number is not None:
            element, values = f"try_cast(p.value AS DOUBLE) {_SQL_OPERATOR[op]} ?", [number]
        else:
            element, values = _text_clause("p.value", op, value)
        return (
            # Names compare case-insensitively: they come from HTTP headers, and clients differ (the openai
            # client lowercases `Helicone-Property-Agent-Version`; the manual logger keeps its case).
            "EXISTS (SELECT 1 FROM session_properties p WHERE p.session_id = s.session_id "
            f"AND lower(p.key) = lower(?) AND {element})",
            [name, *values],
        )
    return _raise(expression, condition.field_at, f"unknown field {field!r}; fields: {', '.join(FIELDS)}")


def _raise(expression: str, position: int, message: str) -> tuple[str, list[Any]]:
    raise _bad(expression, position, message)


def _text_clause(column: str, op: str, value: str) -> tuple[str, list[Any]]:
    if op == "~":
        return f"contains(lower({column}), lower(?))", [value]
    return f"{column} {_SQL_OPERATOR[op]} ?", [value]


def _plain_number(value: str) -> float | None:
    """A finite number, else None: `nan`, `inf` and `1e400` (inf as a float) compare nothing meaningfully."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _number(field: str, value: str) -> float | None:
    if field == "duration":
        match = _DURATION.match(value.strip())
        if not match:
            return None
        milliseconds = float(match["number"]) * _UNIT_MS[match["unit"] or "s"]
        return milliseconds if math.isfinite(milliseconds) else None
    if field == "error_rate" and value.endswith("%"):
        number = _plain_number(value[:-1])
        return None if number is None else number / 100
    if field == "cost":
        value = value.removeprefix("$")
    return _plain_number(value)


def parse_time(value: str, now: datetime, label: str) -> datetime:
    """An ISO 8601 date or time (UTC unless it says otherwise), or a span ago: 30m, 2h, 7d, 1w.

    A time the language accepts but no datetime can hold (`99999999999d` ago, `0001-01-01T00:00+01:00`, which
    is year 0 in UTC) is a FilterError like any other bad value, not an OverflowError."""
    text = value.strip()
    relative = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)", text)
    if relative:
        amount = float(relative[1])
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[relative[2]]
        try:
            return (now - timedelta(**{unit: amount})).astimezone(timezone.utc).replace(tzinfo=None)
        except (OverflowError, ValueError):
            raise FilterError(
                f"{label}: {value!r} ago is before year 1; use a shorter span (e.g. 30d) or a date"
            ) from None
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise FilterError(
                f"{label}: {value!r} is not a time; use ISO 8601 (2025-01-31, 2025-01-31T12:00Z) "
                "or a span ago (30m, 2h, 7d)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise FilterError(
            f"{label}: {value!r} is outside the years 1 to 9999 in UTC"
        ) from None


def conditions_from_query(query_json: str) -> Iterable[Condition]:
    """Helicone's session query body, `{"filter": {"properties": {"Agent-Version": "v1.0"}}}`, as conditions.

    A property's value may be a string, or `{"equals": v}`, `{"not-equals": v}`, `{"contains": v}`.
    """
    try:
        body = orjson.loads(query_json)
    except orjson.JSONDecodeError as exc:
        raise FilterError(f"--query is not valid JSON: {exc}") from None
    filter_ = body.get("filter") if isinstance(body, dict) else None
    if not isinstance(filter_, dict):
        raise FilterError('--query needs an object like {"filter": {"properties": {"NAME": "VALUE"}}}')
    unknown = sorted(set(filter_) - {"properties"})
    if unknown:
        raise FilterError(f"--query: unsupported filter key {unknown[0]!r}; supported: properties")
    properties = filter_.get("properties", {})
    if not isinstance(properties, dict):
        raise FilterError("--query: filter.properties must be an object of NAME: VALUE")
    operators = {"equals": "=", "not-equals": "!=", "contains": "~"}
    conditions: list[Condition] = []
    for name, condition in properties.items():
        if isinstance(condition, dict) and len(condition) == 1 and next(iter(condition)) in operators:
            key, value = next(iter(condition.items()))
            op = operators[key]
        else:
            op, value = "=", condition
        if not isinstance(value, str | int | float) or isinstance(value, bool) or name == "":
            raise FilterError(
                f"--query: property {name!r} needs a name and a value (text or number) or one of "
                '{"equals": v}, {"not-equals": v}, {"contains": v}'
            )
        conditions.append(_property_condition(name, op, value if isinstance(value, str) else str(value)))
    return conditions
