"""The trace format, version 1: field names, kinds, Helicone header mapping, path and time rules.

This module is the one definition both sides share. The SDK uses it to write records; the store's
vectorized ingest implements the same rules in SQL (tests check the two agree). It imports nothing
heavier than the standard library, so the SDK import path stays light.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib import resources
from typing import Any, Final

FORMAT_VERSION: Final = 1

KINDS: Final = ("llm", "tool", "agent", "retrieval", "embedding", "other")
"""Span kinds. When a record has none: `model` present means llm, else other."""

STATUSES: Final = ("ok", "error")

RECORD_TYPES: Final = ("span", "session")

USAGE_FIELDS: Final = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
"""input_tokens includes cached tokens; output_tokens includes reasoning tokens (OTel GenAI semantics)."""

SPAN_FIELDS: Final = (
    "v",
    "type",
    "span_id",
    "session_id",
    "session_name",
    "path",
    "parent_id",
    "kind",
    "name",
    "start_time",
    "end_time",
    "duration_ms",
    "first_token_ms",
    "status",
    "status_code",
    "error",
    "model",
    "provider",
    "usage",
    "cost_usd",
    "input",
    "output",
    "properties",
    "user_id",
    "headers",
)
"""Fields the format defines for span records. Any other field is kept verbatim as an extra."""

SESSION_FIELDS: Final = ("v", "type", "session_id", "name", "properties", "user_id", "tags", "headers")

# What a missing name reads as: a session without a name, a tool span without one, an llm span without a model
# or provider is grouped and shown under these keys (the store's figures and `--json` keys, the CLI and the
# explorer alike), never dropped.
UNNAMED_SESSION: Final = "(unnamed)"
UNNAMED_TOOL: Final = "(unnamed tool)"
NO_MODEL: Final = "(no model)"
NO_PROVIDER: Final = "(no provider)"

# Epoch numbers: the magnitude says the unit. 1e11 s is the year 5138, so anything at or above it
# cannot be seconds; the same argument separates ms, µs and ns.
EPOCH_UNIT_THRESHOLDS: Final = ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3), (0.0, 1.0))
"""(lower bound, divisor to seconds), checked in order: ≥1e17 ns, ≥1e14 µs, ≥1e11 ms, else seconds."""

# The values the store holds: one table, used by the ingest's SQL (store/write/parse_sql.py), the collector's
# check (serve/validate.py) and the tests. A line with a value outside is rejected with the field and the bound,
# and the lines beside it are stored. Why each bound:
# - times (start_time, end_time, and a span's end, start_time + duration_ms): 1970-01-01T00:00:00Z to
#   9999-12-31T23:59:59.999999Z, in UTC after the offset is applied. Python's datetime ends at year 9999 and
#   begins at year 1, so a time that an offset moves past either (0001-01-01T00:00:00+01:00 is year 0) cannot be
#   read back; epoch numbers start at 0, so 1970 makes the two spellings cover the same range. DuckDB's TIMESTAMP
#   and epoch_us (µs in 64 bits, ±292,000 years) hold all of it with room to spare.
# - duration_ms, first_token_ms: 0 to the whole range above in ms (253,402,300,799,999 ms, about 8,000 years):
#   ×1000 it fits 64-bit microseconds (the store adds it to start_time as an INTERVAL), and a span that starts
#   in range and lasts that long ends in DuckDB's range (the span's end is then checked against the time range).
# - usage.* token counts: 0 to 10^12 per field (a trillion tokens in one call, 10^5 times today's largest
#   context windows), so a session's sums (BIGINT columns, summed as HUGEINT) fit 64 bits for 9 million spans at
#   the bound; the rollups saturate at 2^63-1 beyond that instead of failing.
# - cost_usd: 0 to 10^12 (a trillion dollars per call): sums of a store's costs stay far from a double's limit.
# - status_code: a 32-bit integer (the INTEGER column).
MIN_TIME: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_TIME: Final = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
MIN_EPOCH_US: Final = 0
MAX_EPOCH_US: Final = 253402300799999999
"""MAX_TIME in microseconds since the epoch."""
MAX_DURATION_MS: Final = 253402300799999
MAX_TOKENS: Final = 10**12
MAX_COST_USD: Final = 10**12
INT32_RANGE: Final = (-(2**31), 2**31 - 1)
NUMBER_RANGES: Final = {
    "duration_ms": (0, MAX_DURATION_MS),
    "first_token_ms": (0, MAX_DURATION_MS),
    "cost_usd": (0, MAX_COST_USD),
    **{f"usage.{token}": (0, MAX_TOKENS) for token in USAGE_FIELDS},
    "status_code": INT32_RANGE,
}
"""Numeric field → (least, greatest) value the store holds, both included."""
TIME_FIELDS: Final = ("start_time", "end_time")
TIME_RANGE_TEXT: Final = "1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z"


def out_of_range(field: str, value: object, greatest: object) -> str:
    """The reject reason for a value beyond its bound (the ingest's SQL writes the same words)."""
    return f"{field}: out of range: {value} (at most {greatest})"


def time_out_of_range(field: str, value: object) -> str:
    """The reject reason for a time outside the range the store holds."""
    return f"{field}: out of range: {value} (the store holds {TIME_RANGE_TEXT})"


SPAN_END_PAST_RANGE: Final = "duration_ms: start_time + duration_ms ends past 9999-12-31T23:59:59.999999Z"


STATUS_CODE_TIMEOUT: Final = -1
STATUS_CODE_CANCELLED: Final = -3
"""Helicone's conventions: negative status codes are client-side failures, and count as errors."""

HELICONE_PREFIX: Final = "helicone-"
HELICONE_PROPERTY_PREFIX: Final = "helicone-property-"
AGENT_PROPERTIES: Final = ("Agent-Name", "Parent-Agent")
"""The properties that place a span in a multi-agent run (Helicone's convention): the agent it works for, and that
agent's parent. Importers set them from agent spans (interop/otlp.py, store/write/trace_assembly.py)."""
REQUEST_MODEL_PROPERTY: Final = "Request-Model"
"""The model a call asked for, kept as a property when the response names another (a dated version of it)."""
HELICONE_HEADER_FIELDS: Final = {
    "helicone-session-id": "session_id",
    "helicone-session-name": "session_name",
    "helicone-session-path": "path",
    "helicone-user-id": "user_id",
    "helicone-request-id": "span_id",
}
"""Helicone header (lower-cased) → trace-format field. Property-* headers map to `properties`."""

SECRET_HEADERS: Final = frozenset({"authorization", "helicone-auth", "x-api-key", "api-key", "openai-api-key"})
"""Headers that carry credentials: never written by the SDK, never kept from a record's `headers`."""


def normalize_path(path: str | None) -> str:
    """Normalize a Helicone session path: leading `/`, no `//`, no trailing `/`; `/` when empty.

    Paths are case-sensitive and otherwise kept as given.
    """
    if path is None:
        return "/"
    collapsed = re.sub(r"/+", "/", "/" + path.strip(" "))  # spaces only, as SQL trim() does
    if len(collapsed) > 1 and collapsed.endswith("/"):
        collapsed = collapsed[:-1]
    return collapsed


def path_prefixes(path: str) -> list[str]:
    """Every ancestor folder of a normalized path, root first: `/a/b` → [`/`, `/a`, `/a/b`]."""
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def fields_from_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Map Helicone headers to trace-format fields (header names are case-insensitive).

    Returns only the fields the headers set; `properties` keeps each property name's case as written.
    Credential headers are ignored.
    """
    fields: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for raw_name, value in headers.items():
        name = raw_name.lower()
        if name in HELICONE_HEADER_FIELDS:
            fields[HELICONE_HEADER_FIELDS[name]] = value
        elif name.startswith(HELICONE_PROPERTY_PREFIX):
            properties[raw_name[len(HELICONE_PROPERTY_PREFIX) :]] = value
    if properties:
        fields["properties"] = properties
    return fields


def public_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """The headers worth keeping on a record: Helicone ones, never credentials."""
    return {
        k: v
        for k, v in headers.items()
        if k.lower().startswith(HELICONE_PREFIX) and k.lower() not in SECRET_HEADERS
    }


def epoch_to_seconds(value: float) -> float:
    """Convert an epoch number in s, ms, µs or ns (told apart by magnitude) to seconds."""
    for lower_bound, divisor in EPOCH_UNIT_THRESHOLDS:
        if abs(value) >= lower_bound:
            return value / divisor
    return value


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, the form the SDK writes."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one trace-format line, shipped in the package."""
    text = resources.files("agenttrace_tui.trace_schema").joinpath("trace-v1.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
