"""The session filter language: `FIELD OP VALUE`, AND-ed, compiled to SQL over the `sessions` view.

OP is one of `= != > >= < <= ~` (`~`: case-insensitive contains). Session fields compare the
session's own figures; span-level fields (model, tool, path, user, prop.NAME) select sessions having
at least one such span, and the totals shown stay those of the whole session.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

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

_EXPRESSION: Final = re.compile(
    r"^\s*(?P<field>prop\.[^\s=!<>~]+|[A-Za-z_]+)\s*(?P<op>!=|>=|<=|=|>|<|~)\s*(?P<value>.*?)\s*$"
)
_DURATION: Final = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d)?$")
_UNIT_MS: Final = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0, "d": 86_400_000.0}


@dataclass(frozen=True)
class Compiled:
    """A WHERE clause over `sessions s` and its parameters."""

    sql: str
    params: list[Any]


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
        for expression in expressions_from_query(query_json):
            clause, values = compile_one(expression)
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
    match = _EXPRESSION.match(expression)
    if not match:
        position = _first_operator_position(expression)
        if position is None:
            return _raise(expression, len(expression), "expected FIELD OP VALUE with OP one of "
                          + " ".join(OPERATORS))
        return _raise(expression, 0, "expected a field name before the operator")
    field, op, value = match["field"], match["op"], _unquote(match["value"])
    value_at = match.start("value")
    if value == "":
        return _raise(expression, value_at, "missing value after the operator")
    if field in NUMBER_FIELDS or field in ("duration", "error_rate"):
        if op == "~":
            return _raise(expression, match.start("op"), f"'~' compares text; {field} is a number")
        number = _number(field, value)
        if number is None:
            hint = {"duration": " (e.g. 500ms, 30s, 2m)", "error_rate": " (e.g. 0.1 or 10%)"}.get(field, "")
            return _raise(expression, value_at, f"{field} needs a number{hint}, got {value!r}")
        column = {"duration": "s.duration_ms", "error_rate": "s.error_rate"}.get(field) or NUMBER_FIELDS[field]
        return f"{column} {_SQL_OPERATOR[op]} ?", [number]
    if field == "started":
        if op == "~":
            return _raise(expression, match.start("op"), "'~' compares text; started is a time")
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
    if field.startswith("prop."):
        name = field[len("prop."):]
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
    return _raise(expression, match.start("field"), f"unknown field {field!r}; fields: {', '.join(FIELDS)}")


def _raise(expression: str, position: int, message: str) -> tuple[str, list[Any]]:
    raise _bad(expression, position, message)


def _text_clause(column: str, op: str, value: str) -> tuple[str, list[Any]]:
    if op == "~":
        return f"contains(lower({column}), lower(?))", [value]
    return f"{column} {_SQL_OPERATOR[op]} ?", [value]


def _first_operator_position(expression: str) -> int | None:
    positions = [expression.find(op) for op in OPERATORS if op in expression]
    return min(positions) if positions else None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


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


def expressions_from_query(query_json: str) -> Iterable[str]:
    """Helicone's session query body, `{"filter": {"properties": {"Agent-Version": "v1.0"}}}`, as filters.

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
    expressions: list[str] = []
    for name, condition in properties.items():
        if isinstance(condition, dict) and len(condition) == 1 and next(iter(condition)) in operators:
            key, value = next(iter(condition.items()))
            expressions.append(f"prop.{name} {operators[key]} {value}")
        elif isinstance(condition, str | int | float) and not isinstance(condition, bool):
            expressions.append(f"prop.{name} = {condition}")
        else:
            raise FilterError(
                f"--query: property {name!r} needs a value or one of "
                '{"equals": v}, {"not-equals": v}, {"contains": v}'
            )
    return expressions
