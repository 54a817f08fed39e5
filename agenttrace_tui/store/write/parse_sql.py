"""The SQL of ingest: validate and normalize staged lines, merge them into the store, roll sessions up.

Every rule of the trace format (agenttrace_tui.format, docs/trace-format.md) is applied here in one
vectorized pass: DuckDB parses each line once (`from_json` into a struct of JSON values), a CASE chain
gives the first reason a line is bad, and typed columns are derived for the good ones.
"""

from __future__ import annotations

from typing import Final

from agenttrace_tui.format import (
    KINDS,
    MAX_EPOCH_US,
    MIN_EPOCH_US,
    NUMBER_RANGES,
    SESSION_FIELDS,
    SPAN_END_PAST_RANGE,
    SPAN_FIELDS,
    STATUSES,
    TIME_RANGE_TEXT,
    USAGE_FIELDS,
)
from agenttrace_tui.store.sql_parts import sql_literal
from agenttrace_tui.store.write.redaction import (
    NESTING,
    RedactionRules,
    blanked_sql,
    leftover_sql,
    redact_sql,
    scan_pattern,
    unmarked_sql,
)

LINE_BATCH: Final = "line_batch"
"""The Arrow stream of a file's lines (line_no, raw, bad_utf8_at, unterminated), registered for its one parse
query: blocks are read while DuckDB parses the previous ones, and never copied to a table."""

_ALL_FIELDS: Final = tuple(dict.fromkeys(SPAN_FIELDS + SESSION_FIELDS))
_STRUCT_SPEC: Final = "{" + ",".join(f'"{name}":"JSON"' for name in _ALL_FIELDS) + "}"
_PRESENT_FIELDS: Final = "(" + " + ".join(f"(r.{name} IS NOT NULL)::INTEGER" for name in _ALL_FIELDS) + ")"
"""How many known fields a line has (present, even when null)."""
_KNOWN_AS_NULLS: Final = "{" + ",".join(f'"{name}":null' for name in _ALL_FIELDS) + "}"

_STRING_FIELDS: Final = (
    "span_id",
    "session_name",
    "path",
    "parent_id",
    "name",
    "model",
    "provider",
    "user_id",
)


def _sql_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _jtype(expr: str) -> str:
    """The JSON type of a value. A top-level field's type comes from `k`, computed once per line from the
    first character of the field's JSON text (see _KINDS): json_type of `r.input` would parse the payload
    again, once per check."""
    field = expr.removeprefix("r.")
    if expr.startswith("r.") and field in _ALL_FIELDS:
        return f"k.{field}"
    return f"json_type({expr})"


def _kind_of(expr: str) -> str:
    """json_type of a JSON text, from its first character when that tells (strings, objects, arrays: the
    text is yyjson's own writing, with no leading space); only scalars are parsed (they are short)."""
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL WHEN starts_with({expr}, '\"') THEN 'VARCHAR' "
        f"WHEN starts_with({expr}, '{{') THEN 'OBJECT' WHEN starts_with({expr}, '[') THEN 'ARRAY' "
        f"ELSE json_type({expr}) END"
    )


_KINDS: Final = "{" + ", ".join(f"'{name}': {_kind_of('r.' + name)}" for name in _ALL_FIELDS) + "}"


def _present(field: str) -> str:
    """A field is set when it exists and is not JSON null."""
    return f"(r.{field} IS NOT NULL AND {_jtype('r.' + field)} <> 'NULL')"


def _type_name(expr: str) -> str:
    """The JSON type of a value, in words a user knows."""
    return (
        f"CASE {_jtype(expr)} WHEN 'VARCHAR' THEN 'a string' WHEN 'BOOLEAN' THEN 'a boolean' "
        f"WHEN 'ARRAY' THEN 'an array' WHEN 'OBJECT' THEN 'an object' WHEN 'DOUBLE' THEN 'a number' "
        f"WHEN 'UBIGINT' THEN 'a number' WHEN 'BIGINT' THEN 'a number' ELSE lower({_jtype(expr)}) END"
    )


def _is_number(expr: str) -> str:
    return f"{_jtype(expr)} IN ('UBIGINT', 'BIGINT', 'DOUBLE')"


def _is_strict_integer(expr: str) -> str:
    return f"{_jtype(expr)} IN ('UBIGINT', 'BIGINT')"


def _is_integer(expr: str) -> str:
    """Integers, and whole-number floats such as 5.0 (JSON Schema counts those as integers too)."""
    return (
        f"({_is_strict_integer(expr)} OR ({_jtype(expr)} = 'DOUBLE' "
        f"AND try_cast({expr} AS DOUBLE) = floor(try_cast({expr} AS DOUBLE))))"
    )


_RFC3339: Final = (
    # Year 0001-9999 (RFC 3339 has no year 0), hours 00-23, minutes 00-59, seconds 00-60 (a leap second
    # is refused later by the cast), an offset within ±23:59. Day-of-month limits are left to the cast.
    r"^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)


def _epoch_parts(field: str) -> str:
    """A time field as a number, in two parts computed once per line (stage `numbered`): `i`, the integer
    when the number's text is one (beyond 64 bits too: nanoseconds near year 9999 stay exact), else `d`,
    the float."""
    value = f"r.{field}"
    is_integer_text = (
        f"{_is_strict_integer(value)} OR ({_jtype(value)} = 'DOUBLE' "  # DOUBLE: beyond 64 bits, or a float
        f"AND NOT contains({value}, '.') AND regexp_full_match({value}::VARCHAR, '-?[0-9]+'))"
    )
    return (
        f"{{'i': CASE WHEN {is_integer_text} THEN try_cast({value}::VARCHAR AS HUGEINT) END, "
        f"'d': CASE WHEN {_jtype(value)} = 'DOUBLE' THEN try_cast({value} AS DOUBLE) END}}"
    )


def _epoch_us(parts: str) -> str:
    """Microseconds since the epoch from _epoch_parts; the magnitude tells s, ms, µs or ns.
    Integers stay integers (HUGEINT) so nanosecond stamps never pass through a float."""
    i, d = f"{parts}.i", f"{parts}.d"
    return (
        f"CASE WHEN {i} IS NOT NULL THEN "
        f"  CASE WHEN {i} >= 100000000000000000 THEN {i} // 1000"
        f"       WHEN {i} >= 100000000000000 THEN {i}"
        f"       WHEN {i} >= 100000000000 THEN {i} * 1000"
        f"       ELSE {i} * 1000000 END "
        f"WHEN {d} IS NOT NULL THEN try_cast(floor("  # floor: µs precision, as integers
        f"  CASE WHEN abs({d}) >= 1e17 THEN {d} / 1000"
        f"       WHEN abs({d}) >= 1e14 THEN {d}"
        f"       WHEN abs({d}) >= 1e11 THEN {d} * 1000"
        f"       ELSE {d} * 1000000 END) AS HUGEINT) END"
    )


_TIME_FIELDS: Final = ("start_time", "end_time")
_MIN_TIME_SQL: Final = f"make_timestamp({MIN_EPOCH_US})"
_MAX_TIME_SQL: Final = f"make_timestamp({MAX_EPOCH_US})"
_EPOCH_PARTS: Final = "{" + ", ".join(f"'{f}': {_epoch_parts(f)}" for f in _TIME_FIELDS) + "}"
_EPOCH_US: Final = "{" + ", ".join(f"'{f}': {_epoch_us('n.' + f)}" for f in _TIME_FIELDS) + "}"


def _string_problem(field: str) -> str:
    return (
        f"CASE WHEN {_present(field)} AND {_jtype('r.' + field)} <> 'VARCHAR' "
        f"THEN '{field}: must be a string, got ' || {_type_name('r.' + field)} END"
    )


def _non_negative_number_problem(field: str, expr: str | None = None) -> str:
    """A number >= 0 and within format.NUMBER_RANGES."""
    value = expr or f"r.{field}"
    greatest = NUMBER_RANGES[field][1]
    present = f"({value} IS NOT NULL AND {_jtype(value)} <> 'NULL')"
    return (
        f"CASE WHEN {present} AND NOT ({_is_number(value)} AND try_cast({value} AS DOUBLE) >= 0 "
        f"AND isfinite(try_cast({value} AS DOUBLE))) "
        f"THEN '{field}: must be a number >= 0, got ' || left({value}::VARCHAR, 40) "
        f"WHEN {present} AND try_cast({value} AS DOUBLE) > {greatest} "
        f"THEN {_out_of_range(field, value, greatest)} END"
    )


def _out_of_range(field: str, value: str, greatest: int) -> str:
    """format.out_of_range in SQL."""
    return f"'{field}: out of range: ' || left({value}::VARCHAR, 40) || ' (at most {greatest})'"


_USAGE_PATHS: Final = "[" + ", ".join(f"'$.{token}'" for token in USAGE_FIELDS) + "]"
_USAGE_SPEC: Final = "{" + ",".join(f'"{token}":"BIGINT"' for token in USAGE_FIELDS) + "}"


def _token_problem(index: int, token_field: str) -> str:
    """`v.usage_types` holds the JSON types of the token fields, from one parse of `usage`."""
    kind = f"v.usage_types[{index + 1}]"
    greatest = NUMBER_RANGES[f"usage.{token_field}"][1]
    value = f"json_extract(r.usage, '$.{token_field}')"  # only read for a line that fails
    return (
        f"CASE WHEN {kind} IS NULL OR {kind} = 'NULL' THEN NULL "
        f"WHEN {kind} IN ('UBIGINT', 'BIGINT') AND v.usage_values.{token_field} BETWEEN 0 AND {greatest} THEN NULL "
        f"WHEN {kind} = 'DOUBLE' AND {_is_integer(value)} AND try_cast({value} AS BIGINT) BETWEEN 0 AND {greatest} "
        "THEN NULL "
        f"WHEN {kind} IN ('UBIGINT', 'BIGINT', 'DOUBLE') AND {_is_integer(value)} "
        f"AND try_cast({value} AS DOUBLE) > {greatest} THEN {_out_of_range('usage.' + token_field, value, greatest)} "
        f"ELSE 'usage.{token_field}: must be an integer >= 0, got ' || left({value}::VARCHAR, 40) END"
    )


def _properties_problem() -> str:
    # json_type over `$.*` lists the values' types in one parse, without building a map per line.
    bad = (
        "list_filter(json_type(r.properties, '$.*'), "
        "t -> t NOT IN ('VARCHAR', 'UBIGINT', 'BIGINT', 'DOUBLE', 'BOOLEAN', 'NULL'))"
    )
    return (
        f"CASE WHEN NOT {_present('properties')} THEN NULL "
        f"WHEN {_jtype('r.properties')} <> 'OBJECT' "
        f"THEN 'properties: must be an object, got ' || {_type_name('r.properties')} "
        f"WHEN len({bad}) > 0 "
        f"THEN 'properties: values must be strings, numbers or booleans, got ' || lower({bad}[1]) END"
    )


def _headers_problem() -> str:
    values = "json_transform(r.headers, '\"MAP(VARCHAR, JSON)\"')"
    return (
        f"CASE WHEN NOT {_present('headers')} THEN NULL "
        f"WHEN {_jtype('r.headers')} <> 'OBJECT' "
        f"THEN 'headers: must be an object, got ' || {_type_name('r.headers')} "
        f"WHEN len(list_filter(map_values({values}), v -> json_type(v) <> 'VARCHAR')) > 0 "
        f"THEN 'headers: values must be strings' END"
    )


def _error_problem() -> str:
    return (
        f"CASE WHEN NOT {_present('error')} THEN NULL "
        f"WHEN {_jtype('r.error')} NOT IN ('VARCHAR', 'OBJECT') "
        f"THEN 'error: must be a string or an object {{type, message, stack}}, got ' || {_type_name('r.error')} "
        f"WHEN {_jtype('r.error')} = 'OBJECT' AND ("
        + " OR ".join(
            f"coalesce(json_type(json_extract(r.error, '$.{key}')) NOT IN ('VARCHAR', 'NULL'), false)"
            for key in ("type", "message", "stack")
        )
        + ") THEN 'error: type, message and stack must be strings' END"
    )


# Helicone headers, looked up case-insensitively; explicit fields win over them.
_HEADER_ENTRIES: Final = "map_entries(json_transform(r.headers, '\"MAP(VARCHAR, JSON)\"'))"


def _header(name: str) -> str:
    return (
        f"CASE WHEN {_jtype('r.headers')} = 'OBJECT' THEN "
        f"(list_filter({_HEADER_ENTRIES}, e -> lower(e.key) = '{name}')[1]).value->>'$' END"
    )


_HEADER_PROPERTIES: Final = (
    # Built when the module loads, so _jtype (defined above) is called here.
    f"CASE WHEN {_jtype('r.headers')} = 'OBJECT' THEN nullif('{{' || array_to_string(list_transform("
    f"list_filter({_HEADER_ENTRIES}, e -> starts_with(lower(e.key), 'helicone-property-')), "
    "e -> to_json(substr(e.key, 19)) || ':' || e.value::VARCHAR), ',') || '}', '{}') END"
)


def _unquoted(expr: str) -> str:
    """The text of a JSON string: its inside when it has no escapes (most do not), else decoded."""
    return f"CASE WHEN contains({expr}, '\\') THEN {expr}->>'$' ELSE {expr}[2:-2] END"


def _string(field: str) -> str:
    return f"CASE WHEN {_jtype('r.' + field)} = 'VARCHAR' THEN {_unquoted('r.' + field)} END"


def _json(field: str) -> str:
    return f"CASE WHEN {_present(field)} THEN r.{field} END"


def _normalized_path(expr: str) -> str:
    """format.normalize_path in SQL: leading /, no //, no trailing /. Most paths are already
    normal; only the others pay for the regular expression."""
    collapsed = f"rtrim(regexp_replace('/' || trim({expr}), '/+', '/', 'g'), '/')"
    already_normal = (
        f"(starts_with({expr}, '/') AND NOT contains({expr}, '//') "
        f"AND ({expr} = '/' OR NOT ends_with({expr}, '/')) AND {expr} = trim({expr}))"
    )
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL WHEN {already_normal} THEN {expr} "
        f"WHEN {collapsed} = '' THEN '/' ELSE {collapsed} END"
    )


def _time_problem(field: str) -> str:
    """NULL when a time field is fine (or absent), else the reason; `v.{field}` holds the parsed value."""
    value = f"r.{field}"
    return (
        f"CASE WHEN NOT {_present(field)} THEN NULL "
        f"WHEN v.{field} IS NOT NULL THEN CASE WHEN NOT v.{field} BETWEEN {_MIN_TIME_SQL} AND {_MAX_TIME_SQL} "
        f"     THEN '{field}: out of range: ' || left({value}->>'$', 60) || ' (the store holds {TIME_RANGE_TEXT})' END "
        f"WHEN {_jtype(value)} = 'VARCHAR' "
        f"THEN '{field}: not an RFC 3339 timestamp with a UTC offset (e.g. 2025-01-31T12:00:00Z): ' "
        f"     || left({value}->>'$', 60) "
        f"WHEN {_is_number(value)} THEN '{field}: epoch number out of range: ' || left({value}::VARCHAR, 40) "
        f"ELSE '{field}: must be an RFC 3339 string or an epoch number, got ' || {_type_name(value)} END"
    )


def _time_value(field: str) -> str:
    """`us.{field}` holds an epoch number's microseconds (stage `epochs`)."""
    value = f"r.{field}"
    text = _unquoted(value)
    return (
        f"CASE WHEN {_jtype(value)} = 'VARCHAR' AND regexp_full_match({text}, '{_RFC3339}') "
        f"     THEN try_cast(upper({text}) AS TIMESTAMPTZ)::TIMESTAMP "
        f"     WHEN us.{field} BETWEEN {MIN_EPOCH_US} AND {MAX_EPOCH_US} "
        f"     THEN make_timestamp(try_cast(us.{field} AS BIGINT)) END"
    )


# DuckDB's JSON reader also takes NaN, Infinity and trailing commas, which JSON (and every other reader of
# the file) does not. Lines where one could be outside a string are rare: only those pay for blanking
# their strings and looking again.
_LENIENT_TOKEN: Final = r"[:\[,][ \t\r\n]*[-+]?(?i:nan|inf)|,[ \t\r\n]*[}\]]"
_JSON_STRING: Final = r'"(?:[^"\\]|\\.)*"'
_STRICT_JSON: Final = (
    f"CASE WHEN NOT careful THEN true "
    f"ELSE NOT regexp_matches(regexp_replace(raw, '{_JSON_STRING}', '\"\"', 'g'), '{_LENIENT_TOKEN}') END"
)



def _careful_lines(rules: RedactionRules | None) -> str:
    """True for the few lines that need a closer look: a possible credential or a possible non-JSON
    token. One RE2 scan of every line answers both (two scans would cost twice: ~0.5 CPU-s per 200 MB).
    (A SIMD prefilter, Hyperscan/Vectorscan, was tried: 5x faster, but its wheels miss matches, 61 of 3,950
    random strings against Python's re, so it cannot guard redaction.)"""
    return f"regexp_matches(raw, {sql_literal(careful_pattern(rules))})"


def careful_pattern(rules: RedactionRules | None) -> str:
    """The RE2 of `_careful_lines`: a line it does not match is neither redacted nor read as lenient JSON
    (the collector's check, store/write/ingest_check.py, trusts its own reading of such a line only)."""
    patterns = [_LENIENT_TOKEN]
    if rules is not None:
        patterns.append(scan_pattern(rules))
    return "|".join(f"(?:{p})" for p in patterns)


def _redacted_raw(rules: RedactionRules | None) -> str:
    """The line with credentials replaced, before anything reads it: every field, the extras and a
    reject's kept text come from it. (Marks of values not replaced stay, for `_redacted_lines`.)"""
    if rules is None:
        return "raw"
    redacted = redact_sql("raw", rules, as_json=False, decode_when=_STRICT_JSON, keep_marks=True)
    return f"CASE WHEN careful THEN {redacted} ELSE raw END"


_TOO_DEEP: Final = (f"a credential's value is nested deeper than {NESTING} levels: refused rather than stored "
                    "unredacted (values blanked here)")


def _redacted_lines(rules: RedactionRules | None) -> str:
    """The line batch with `raw` redacted; a line whose credential could not be matched whole (`leftover_sql`)
    becomes a reject with its values blanked."""
    redacted = (f"SELECT * REPLACE ({_redacted_raw(rules)} AS raw) "
                f"FROM (SELECT *, {_careful_lines(rules)} AS careful FROM {LINE_BATCH})")
    if rules is None:
        return redacted
    return (f"SELECT * REPLACE (CASE WHEN too_deep THEN {blanked_sql(unmarked_sql('raw'), rules)} "
            f"WHEN careful THEN {unmarked_sql('raw')} ELSE raw END AS raw, "
            f"CASE WHEN too_deep THEN coalesce(known_reason, {sql_literal(_TOO_DEEP)}) ELSE known_reason END AS known_reason) "
            f"FROM (SELECT *, CASE WHEN careful THEN {leftover_sql('raw')} ELSE false END AS too_deep FROM ({redacted}))")


_READ_BEFORE: Final = "(extra_keys IS NOT NULL AND NOT careful)"
"""A long line parsed before this SQL (long_lines.py) is known to be a JSON object, and whether it has extra keys,
unless redaction rewrote it: json_valid and json_keys would each keep a copy of it."""


def parse_lines_sql(redaction: RedactionRules | None = None) -> str:
    """SELECT over the registered line batch → one row per non-blank line: typed columns, and a
    `reason` for bad lines (whose `raw` text is kept; good lines drop it).

    `unterminated` is true on a file's last line when no newline ends it.
    """
    session_id_explicit = _string("session_id")
    span_reasons = [
        "CASE WHEN NOT " + _present("start_time") + " THEN 'start_time: required' END",
        _time_problem("start_time"),
        _time_problem("end_time"),
        _non_negative_number_problem("duration_ms"),
        # A span's end (the spans view adds duration_ms to start_time) stays in the time range too.
        f"CASE WHEN epoch_us(v.start_time)::HUGEINT + try_cast(try_cast(r.duration_ms AS DOUBLE) * 1000 AS HUGEINT) "
        f"> {MAX_EPOCH_US} "
        f"THEN '{SPAN_END_PAST_RANGE}' END",
        _non_negative_number_problem("first_token_ms"),
        *(_string_problem(field) for field in _STRING_FIELDS if field != "user_id"),
        f"CASE WHEN {_present('kind')} AND coalesce(r.kind->>'$', '') NOT IN {_sql_list(KINDS)} "
        f"THEN 'kind: must be one of {', '.join(KINDS)}; got ' || left(r.kind::VARCHAR, 40) END",
        f"CASE WHEN {_present('status')} AND coalesce(r.status->>'$', '') NOT IN {_sql_list(STATUSES)} "
        "THEN 'status: must be \"ok\" or \"error\", got ' || left(r.status::VARCHAR, 40) END",
        f"CASE WHEN {_present('status_code')} AND NOT ({_is_integer('r.status_code')} "
        "AND try_cast(r.status_code AS INTEGER) IS NOT NULL) "
        "THEN 'status_code: must be an integer, got ' || left(r.status_code::VARCHAR, 40) END",
        _error_problem(),
        f"CASE WHEN {_present('usage')} AND {_jtype('r.usage')} <> 'OBJECT' "
        "THEN 'usage: must be an object, got ' || " + _type_name("r.usage") + " END",
        *(
            f"CASE WHEN {_jtype('r.usage')} = 'OBJECT' THEN {_token_problem(index, token)} END"
            for index, token in enumerate(USAGE_FIELDS)
        ),
        _non_negative_number_problem("cost_usd"),
    ]
    reasons = [
        "s.known_reason",
        "CASE WHEN s.bad_utf8_at IS NOT NULL THEN 'not valid UTF-8 (bad byte at column ' || (s.bad_utf8_at + 1) || ')' END",
        "CASE WHEN NOT s.valid_json AND s.unterminated "
        "THEN 'truncated last line: no newline at end of file and not complete JSON "
        "(the writer may have stopped mid-write)' END",
        "CASE WHEN NOT s.valid_json THEN 'not valid JSON' END",
        "CASE WHEN NOT s.is_object THEN 'expected a JSON object, got ' || lower(json_type(s.raw)) END",
        f"CASE WHEN {_present('type')} AND coalesce(r.type->>'$', '') NOT IN {_sql_list(('span', 'session'))} "
        "THEN 'type: must be \"span\" or \"session\", got ' || left(r.type::VARCHAR, 40) END",
        f"CASE WHEN {_present('v')} AND NOT (r.v::VARCHAR IN ('1', '1.0')) "
        "THEN 'v: unsupported format version ' || left(r.v::VARCHAR, 20) || ' (this agenttrace reads 1)' END",
        _headers_problem(),
        f"CASE WHEN {_present('session_id')} AND ({_jtype('r.session_id')} <> 'VARCHAR' OR {session_id_explicit} = '') "
        "THEN 'session_id: must be a non-empty string' END",
        "CASE WHEN v.session_id IS NULL THEN 'session_id: required' "
        "|| CASE WHEN v.is_session THEN '' ELSE ' (or a Helicone-Session-Id header)' END END",
        _string_problem("user_id"),
        _properties_problem(),
        # Span fields are checked on spans only: on a session record they are just extra fields.
        f"CASE WHEN NOT v.is_session THEN coalesce({', '.join(span_reasons)}) END",
        f"CASE WHEN {_present('name')} AND v.is_session AND {_jtype('r.name')} <> 'VARCHAR' "
        "THEN 'name: must be a string' END",
        f"CASE WHEN v.is_session AND {_present('tags')} AND ({_jtype('r.tags')} <> 'ARRAY' OR "
        "len(list_filter(json_transform(r.tags, '[\"JSON\"]'), t -> json_type(t) <> 'VARCHAR')) > 0) "
        "THEN 'tags: must be an array of strings' END",
    ]
    usage = {token: f"v.usage_values.{token}" for token in USAGE_FIELDS}
    header_span_id = _header("helicone-request-id")
    return f"""
WITH lines AS (
    -- A line may end in its newline (and CR): JSON ignores them; the text kept for a reject drops them.
    SELECT line_no, raw, bad_utf8_at, unterminated, known_reason, careful, extra_keys,
           bad_utf8_at IS NULL AND known_reason IS NULL AND {_STRICT_JSON}
           AND CASE WHEN {_READ_BEFORE} THEN true ELSE json_valid(raw) END AS valid_json
    FROM ({_redacted_lines(redaction)})
), staged AS (
    -- Blank lines carry nothing. trim copies the line, so only lines not starting with '{{' pay for it.
    SELECT * FROM lines
    WHERE CASE WHEN starts_with(raw, '{{') THEN true
               ELSE valid_json OR bad_utf8_at IS NOT NULL OR known_reason IS NOT NULL
                    OR trim(raw, ' \t\r\n') <> '' END
), parsed AS (
    -- Valid JSON starting with '{{' is an object: no second parse to ask its type.
    SELECT *, {_KINDS} AS k
    FROM (SELECT *, starts_as_object AND valid_json AS is_object,
                 CASE WHEN starts_as_object AND valid_json THEN from_json(raw, '{_STRUCT_SPEC}') END AS r
          FROM (SELECT *, CASE WHEN starts_with(raw, '{{') THEN true
                               ELSE starts_with(ltrim(raw, ' \t\r\n'), '{{') END AS starts_as_object
                FROM staged))
), numbered AS (
    SELECT *, {_EPOCH_PARTS} AS n FROM parsed
), epochs AS (
    SELECT *, {_EPOCH_US} AS us FROM numbered
), valued AS (
    SELECT s.*, {{
        'is_session': coalesce(r.type->>'$', 'span') = 'session',
        'session_id': CASE WHEN coalesce(r.type->>'$', 'span') = 'session' THEN {session_id_explicit}
                           ELSE coalesce({session_id_explicit}, nullif({_header('helicone-session-id')}, '')) END,
        'usage_types': CASE WHEN {_jtype('r.usage')} = 'OBJECT' THEN json_type(r.usage, {_USAGE_PATHS}) END,
        'usage_values': CASE WHEN {_jtype('r.usage')} = 'OBJECT' THEN from_json(r.usage, '{_USAGE_SPEC}') END,
        'start_time': {_time_value('start_time')},
        'end_time': {_time_value('end_time')}
    }} AS v
    FROM epochs s
), judged AS (
    SELECT s.*, coalesce({", ".join(reasons)}) AS reason FROM valued s
)
SELECT
    s.line_no,
    CASE WHEN s.reason IS NOT NULL THEN rtrim(s.raw, '\r\n') END AS raw,
    s.reason,
    v.is_session,
    v.session_id,
    coalesce({_string('span_id')}, {header_span_id}, 'sha:' || md5(trim(s.raw, ' \t\r\n'))) AS span_id,
    coalesce({_string('session_name')}, {_header('helicone-session-name')}) AS session_name,
    {_normalized_path(f"coalesce({_string('path')}, {_header('helicone-session-path')})")} AS path,
    {_string('parent_id')} AS parent_id,
    {_string('kind')} AS kind,
    {_string('name')} AS name,
    v.start_time,
    v.end_time,
    try_cast(r.duration_ms AS DOUBLE) AS duration_ms,
    try_cast(r.first_token_ms AS DOUBLE) AS first_token_ms,
    {_string('status')} AS status,
    try_cast(r.status_code AS INTEGER) AS status_code,
    {_json('error')} AS error,
    {_string('model')} AS model,
    {_string('provider')} AS provider,
    {usage['input_tokens']} AS input_tokens,
    {usage['output_tokens']} AS output_tokens,
    {usage['cache_read_tokens']} AS cache_read_tokens,
    {usage['cache_write_tokens']} AS cache_write_tokens,
    {usage['reasoning_tokens']} AS reasoning_tokens,
    try_cast(r.cost_usd AS DOUBLE) AS cost_reported,
    CASE WHEN {_HEADER_PROPERTIES} IS NULL THEN {_json('properties')}
         ELSE json_merge_patch({_HEADER_PROPERTIES}, coalesce({_json('properties')}, '{{}}')) END AS properties,
    coalesce({_string('user_id')}, {_header('helicone-user-id')}) AS user_id,
    r.input AS input,  -- JSON null is SQL NULL already (from_json): a CASE here would copy a long prompt
    r.output AS output,
    {_json('tags')} AS tags,
    -- Counting keys is cheaper than naming them, and most lines have only known fields (a line with a key
    -- twice is looked at closer, and has no extras when only known keys repeat).
    CASE WHEN s.reason IS NULL AND CASE WHEN {_READ_BEFORE} THEN s.extra_keys
                                         ELSE len(json_keys(s.raw)) > {_PRESENT_FIELDS} END
         THEN nullif(json_merge_patch(s.raw, '{_KNOWN_AS_NULLS}'), '{{}}') END AS extra,
    -- An OpenTelemetry span's trace (interop/otlp.py puts it there): its pieces are placed together.
    CASE WHEN extra IS NOT NULL THEN extra->'$.otel'->>'trace_id' END AS trace_id
FROM judged s
"""

