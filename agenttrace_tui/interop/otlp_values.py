"""OTLP JSON scalars: ids (hex or base64), 64-bit integers (string or number), enums (number or name),
AnyValue and key-value lists. Both the spec's JSON (camelCase, hex ids) and Python protobuf's
`MessageToDict` output (base64 ids, enum names, optionally snake_case field names) are read.

Nothing here goes through a float unless the value was a double to begin with: nanosecond timestamps
(≈1.7e18) are beyond 2**53.
"""

from __future__ import annotations

import binascii
import time
from collections.abc import Iterator, Mapping
from typing import Any, Final

from agenttrace_tui.interop.errors import ShapeError

HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")

SPAN_KINDS: Final = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUS_CODES: Final = ("unset", "ok", "error")

MAX_FORMAT_EPOCH_NS: Final = 253402300799999999999
"""The trace format's largest epoch (9999-12-31 in ns); integers at or above 1e17 read as nanoseconds."""
NANOSECOND_EPOCH_FLOOR: Final = 10**17


def field(message: Mapping[str, Any], camel: str, snake: str) -> Any:
    """A protobuf JSON field under its JSON name, or its proto name (`preserving_proto_field_name`)."""
    value = message.get(camel)
    if value is None:
        value = message.get(snake)
    return value


def as_list(value: Any, where: str) -> list[Any]:
    """A repeated field: absent is empty, anything but a list is a ShapeError naming `where`."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ShapeError(f"{where} is {type(value).__name__}, not a list")
    return value


def as_object(value: Any, where: str) -> Mapping[str, Any]:
    """A message field: absent is empty, anything but an object is a ShapeError naming `where`."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ShapeError(f"{where} is {type(value).__name__}, not an object")
    return value


def scoped_items(blocks: Any, signal: str, items: tuple[str, str]
                 ) -> Iterator[tuple[dict[str, Any], dict[str, Any], str, Mapping[str, Any]]]:
    """(resource attributes, scope, where, item) for every item of an export request's `resource<signal>` blocks
    (`Spans`, `Logs`): their `scope<signal>` (or the older `instrumentationLibrary<signal>`) blocks' `items`
    (camel and snake name). ShapeError names the first thing that is not a list or an object."""
    snake = signal.lower()
    for r, block in enumerate(as_list(blocks, f"resource{signal}")):
        where = f"resource{signal}[{r}]"
        block = as_object(block, where)
        resource = key_values(as_object(block.get("resource"), f"{where}.resource").get("attributes"))
        scope_blocks = field(block, f"scope{signal}", f"scope_{snake}")
        if scope_blocks is None:
            scope_blocks = field(block, f"instrumentationLibrary{signal}", f"instrumentation_library_{snake}")
        for s, scope_block in enumerate(as_list(scope_blocks, f"{where}.scope{signal}")):
            scope_where = f"{where}.scope{signal}[{s}]"
            scope_block = as_object(scope_block, scope_where)
            scope = decode_scope(scope_block, scope_where)
            for n, raw in enumerate(as_list(field(scope_block, *items), f"{scope_where}.{items[0]}")):
                item_where = f"{scope_where}.{items[0]}[{n}]"
                yield resource, scope, item_where, as_object(raw, item_where)


def decode_scope(scope_block: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A scope block's instrumentation scope (or the older instrumentationLibrary): name, version, attributes."""
    raw_scope = as_object(scope_block.get("scope") or scope_block.get("instrumentationLibrary"), f"{where}.scope")
    scope = {k: v for k, v in (("name", raw_scope.get("name")), ("version", raw_scope.get("version")))
             if v not in (None, "")}
    scope_attributes = key_values(raw_scope.get("attributes"))
    if scope_attributes:
        scope["attributes"] = scope_attributes
    return scope


def decode_id(value: Any, size: int, what: str) -> str | None:
    """A trace id (16 bytes) or span id (8 bytes) as lowercase hex; None for absent, empty or all-zero ids.

    Hex is tried first: a 2*size-character hex string can't be base64 of `size` bytes (that is 4*ceil(size/3)
    characters), so the two encodings never collide.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ShapeError(f"{what} is {type(value).__name__}, not a string")
    if len(value) == 2 * size and HEX_DIGITS.issuperset(value):
        hex_id = value.lower()
    else:
        try:
            raw = binascii.a2b_base64(value.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError):
            raw = b""
        if len(raw) != size:
            raise ShapeError(f"{what} {value[:48]!r} is neither {2 * size} hex digits nor base64 of {size} bytes")
        hex_id = raw.hex()
    return None if hex_id.strip("0") == "" else hex_id


def to_int(value: Any, what: str) -> int | None:
    """A 64-bit integer written as a decimal string or a JSON number; None when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ShapeError(f"{what} is a boolean, not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ShapeError(f"{what} {value[:40]!r} is not an integer") from None
    if isinstance(value, float) and value.is_integer():
        return int(value)  # a writer that went through a double already lost precision; take what is left
    raise ShapeError(f"{what} is {type(value).__name__}, not an integer")


def enum_index(value: Any, names: tuple[str, ...], prefix: str, what: str) -> int:
    """An enum given as its number or its protobuf name (`SPAN_KIND_CLIENT`, `STATUS_CODE_ERROR`)."""
    if value is None:
        return 0
    if isinstance(value, str):
        short = value[len(prefix):] if value.startswith(prefix) else value
        try:
            return names.index(short.lower())
        except ValueError:
            pass
        if value.isdigit():
            return int(value)
        raise ShapeError(f"{what} {value[:40]!r} is not one of {', '.join(prefix + n.upper() for n in names)}")
    number = to_int(value, what)
    return number if number is not None else 0


def enum_name(index: int, names: tuple[str, ...]) -> str:
    return names[index] if 0 <= index < len(names) else str(index)


def any_value(value: Any) -> Any:
    """An AnyValue as plain JSON: strings, bools, ints (exact), doubles, base64 bytes as their string,
    arrays and kvlists nested; an empty AnyValue is None. Unknown shapes are kept as given."""
    if not isinstance(value, Mapping):
        return value
    for key, kind in _VALUE_KEYS:
        if key in value:
            raw = value[key]
            if kind == "int":
                try:
                    return to_int(raw, "intValue")
                except ShapeError:
                    return raw
            if kind == "double":
                return raw if not isinstance(raw, str) else _special_double(raw)
            if kind == "array":
                items = raw.get("values") if isinstance(raw, Mapping) else None
                return [any_value(item) for item in items] if isinstance(items, list) else []
            if kind == "kvlist":
                items = raw.get("values") if isinstance(raw, Mapping) else None
                return key_values(items)
            return raw
    return None


_VALUE_KEYS: Final = (
    ("stringValue", "str"), ("string_value", "str"),
    ("intValue", "int"), ("int_value", "int"),
    ("boolValue", "bool"), ("bool_value", "bool"),
    ("doubleValue", "double"), ("double_value", "double"),
    ("arrayValue", "array"), ("array_value", "array"),
    ("kvlistValue", "kvlist"), ("kvlist_value", "kvlist"),
    ("bytesValue", "bytes"), ("bytes_value", "bytes"),
)


def _special_double(raw: str) -> Any:
    """protobuf JSON writes NaN and infinities as strings; keep them as strings (JSON has no such numbers)."""
    try:
        number = float(raw)
    except ValueError:
        return raw
    return number if number == number and abs(number) != float("inf") else raw


def key_values(items: Any) -> dict[str, Any]:
    """A list of `{key, value}` as a dict (a later duplicate key wins, as OTel SDKs do)."""
    result: dict[str, Any] = {}
    if not isinstance(items, list):
        return result
    for item in items:
        if isinstance(item, Mapping):
            key = item.get("key")
            if isinstance(key, str):
                result[key] = any_value(item.get("value"))
    return result


def time_ns(value: Any, what: str) -> int | None:
    """A nanosecond timestamp field: None when absent, a ShapeError naming the field when it is not an integer or
    not in the trace format's years 1970..9999 (so the line is rejected with that reason, not the file)."""
    ns = to_int(value, what)
    if ns is not None and not 0 <= ns <= MAX_FORMAT_EPOCH_NS:
        shown = str(ns) if len(str(ns)) <= 24 else str(ns)[:20] + f"... ({len(str(ns))} digits)"
        raise ShapeError(f"{what} {shown} is outside 1970..9999")
    return ns


def format_timestamp(ns: int) -> int | str:
    """A nanosecond epoch as the trace format reads it: the integer itself when its magnitude says
    nanoseconds, else an RFC 3339 string with all nine fractional digits (no float on the way)."""
    if NANOSECOND_EPOCH_FLOOR <= ns <= MAX_FORMAT_EPOCH_NS:
        return ns
    return rfc3339_ns(ns)


def rfc3339_ns(ns: int) -> str:
    if not 0 <= ns <= MAX_FORMAT_EPOCH_NS:
        raise ShapeError(f"time {ns} ns is outside 1970..9999")
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"
