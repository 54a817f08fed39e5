"""Helicone manual-logger request rules: a request's `_type` (or its `model`) → span kind, name and input.

Shared by the SDK's `ManualLogger` (sdk/manual_logger.py) and the Helicone log-body importer
(interop/helicone.py), so a step logged through Helicone's logger and one logged through ours look the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

REQUEST_KINDS: Final = {"tool": ("tool", "toolName"), "vector_db": ("retrieval", "operation"),
                         "data": ("other", "name")}
"""Helicone's request `_type` → (span kind, the request field that names the span); a request of none of these
with a `model` is an llm call."""


def describe_request(request: Mapping[str, Any]) -> tuple[str, str | None, Any]:
    """(kind, name, input) of a Helicone manual-logger request (also used to import logged bodies)."""
    request_type = request.get("_type")
    if isinstance(request_type, str) and request_type in REQUEST_KINDS:  # a logged body's `_type` may be anything
        kind, name_field = REQUEST_KINDS[request_type]
        span_input = request.get("input") if request_type == "tool" else dict(request)  # others: the whole request
        return kind, _str_or_none(request.get(name_field)), span_input
    if request.get("model") is not None:
        return "llm", _str_or_none(request.get("model")), dict(request)
    name = request.get("name") or request_type
    return "other", _str_or_none(name), dict(request)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
