"""Helicone manual-logger bodies (`POST /custom/v1/log`) → trace-format span records.

The body is `{"providerRequest": {"url", "json", "meta"}, "providerResponse": {"json" | "textBody", "status",
"headers", "cost"}, "timing": {"startTime": {"seconds", "milliseconds"}, "endTime", "timeToFirstToken"}}`.
The request's `_type` gives the kind by the rules the SDK's `ManualLogger` uses too (llm/helicone.py), so a
step logged through Helicone's logger and one logged through ours look the same.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from agenttrace_tui.format import (
    SECRET_HEADERS,
    STATUS_CODE_CANCELLED,
    STATUS_CODE_TIMEOUT,
    fields_from_headers,
    normalize_path,
    public_headers,
)
from agenttrace_tui.interop.errors import ShapeError
from agenttrace_tui.interop.messages import maybe_json
from agenttrace_tui.interop.otlp_values import MAX_FORMAT_EPOCH_NS, rfc3339_ns, to_int
from agenttrace_tui.llm.helicone import describe_request
from agenttrace_tui.llm.usage import normalize_usage, reported_cost

PROVIDER_HOSTS: Final = {
    "api.openai.com": "openai", "api.anthropic.com": "anthropic", "generativelanguage.googleapis.com": "google",
    "api.mistral.ai": "mistral", "api.groq.com": "groq", "openrouter.ai": "openrouter",
    "api.deepseek.com": "deepseek", "api.x.ai": "xai", "api.together.xyz": "together",
}
"""Provider from the logged request's URL host; `custom-model-nopath` and unknown hosts give none."""

HIDDEN_RESPONSE_HEADERS: Final = SECRET_HEADERS | {"set-cookie", "cookie"}
NANOS_PER_MS: Final = 1_000_000
RFC3339: Final = re.compile(
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")
"""The trace format's time pattern (schema `timestamp`), so a converted record never fails on its times."""


def merge_headers(*layers: Mapping[str, Any] | None) -> dict[str, str]:
    """Later layers win, names compared case-insensitively; the later layer's spelling is kept."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in (layer or {}).items():
            if isinstance(name, str) and value is not None:
                merged[name.lower()] = (name, value if isinstance(value, str) else str(value))
    return dict(merged.values())


def _moment(value: Any, where: str) -> int | str | float | None:
    """Helicone's `{seconds, milliseconds}` as an RFC 3339 string (exact); an epoch number (any unit, told
    apart by magnitude as the format does) or an RFC 3339 string as given."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        seconds = to_int(value.get("seconds"), f"{where}.seconds")
        if seconds is None:
            raise ShapeError(f"{where} has no seconds")
        milliseconds = to_int(value.get("milliseconds"), f"{where}.milliseconds") or 0
        return rfc3339_ns(seconds * 1_000_000_000 + milliseconds * NANOS_PER_MS)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value <= MAX_FORMAT_EPOCH_NS:
            raise ShapeError(f"{where} {value} is not an epoch time")
        return value
    if isinstance(value, str):
        try:
            valid = RFC3339.match(value) is not None and datetime.fromisoformat(value.upper()) is not None
        except ValueError:
            valid = False
        if not valid:
            raise ShapeError(f"{where} {value[:40]!r} is not an RFC 3339 time")
        return value
    raise ShapeError(f"{where} is {type(value).__name__}, not {{seconds, milliseconds}}")


def _status_error(status: int, response: Any) -> dict[str, Any] | None:
    if status == STATUS_CODE_TIMEOUT:
        return {"type": "timeout", "message": "the request timed out (Helicone status -1)"}
    if status == STATUS_CODE_CANCELLED:
        return {"type": "cancelled", "message": "the request was cancelled (Helicone status -3)"}
    if status < 0:
        return {"type": f"client error {status}"}
    if status < 400:
        return None
    found: dict[str, Any] = {"type": f"HTTP {status}"}
    detail = response.get("error") if isinstance(response, Mapping) else None
    if isinstance(detail, Mapping):  # OpenAI {"error": {message, type}}, Anthropic {"error": {type, message}}
        if isinstance(detail.get("type"), str):
            found["type"] = detail["type"]
        if detail.get("message") is not None:
            found["message"] = str(detail["message"])
    elif isinstance(detail, str):
        found["message"] = detail
    elif isinstance(response, str) and response:
        found["message"] = response[:2000]
    return found


def _stable_id(body: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The same body and headers give the same span id, so a body logged twice is stored once."""
    try:
        canonical = orjson.dumps([body, headers], option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:
        canonical = repr((body, sorted(headers.items()))).encode()
    return "helicone-" + hashlib.blake2b(canonical, digest_size=10).hexdigest()


def _provider(url: Any) -> str | None:
    if not isinstance(url, str) or "://" not in url:
        return None
    host = (urlsplit(url).hostname or "").lower()
    return PROVIDER_HOSTS.get(host) or next(
        (name for known, name in PROVIDER_HOSTS.items() if host.endswith("." + known)), None)


def body_to_records(body: Any, headers: Mapping[str, str] | None = None, *, provider: str | None = None,
                    received_ns: int | None = None) -> list[dict[str, Any]]:
    """One manual-logger body as one span record. `headers` are the HTTP request's: they win over
    `providerRequest.meta`. `received_ns` stands in for a missing `timing.startTime` (a collector knows it)."""
    if not isinstance(body, Mapping):
        raise ShapeError(f"a Helicone log body is a JSON object, not {type(body).__name__}")
    provider_request = body.get("providerRequest")
    if not isinstance(provider_request, Mapping):
        raise ShapeError("no providerRequest object")
    request = maybe_json(provider_request.get("json"))
    if not isinstance(request, Mapping):
        request = {} if request is None else {"body": request}
    meta = provider_request.get("meta")
    if meta is not None and not isinstance(meta, Mapping):
        raise ShapeError(f"providerRequest.meta is {type(meta).__name__}, not an object")
    merged = merge_headers(meta, headers)
    response_part = body.get("providerResponse")
    if response_part is None:
        response_part = {}
    if not isinstance(response_part, Mapping):
        raise ShapeError(f"providerResponse is {type(response_part).__name__}, not an object")
    response = response_part.get("json")
    if response is None and response_part.get("textBody") is not None:
        response = maybe_json(response_part["textBody"])
    status = to_int(response_part.get("status"), "providerResponse.status")
    status = 200 if status is None else status
    timing = body.get("timing") or {}
    if not isinstance(timing, Mapping):
        raise ShapeError(f"timing is {type(timing).__name__}, not an object")
    start = _moment(timing.get("startTime"), "timing.startTime")
    end = _moment(timing.get("endTime"), "timing.endTime")
    if start is None:
        start = rfc3339_ns(received_ns) if received_ns is not None else end
    if start is None:
        raise ShapeError("no timing.startTime (nor endTime): a span needs a start time")

    kind, name, span_input = describe_request(request)
    mapped = fields_from_headers(merged)
    span_id = str(mapped["span_id"]) if mapped.get("span_id") else _stable_id(body, merged)
    usage_raw = response.get("usage") if isinstance(response, Mapping) else None
    usage = normalize_usage(usage_raw) if isinstance(usage_raw, Mapping) else None
    cost = response_part.get("cost")
    if not (isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0):
        cost = reported_cost(usage_raw) if isinstance(usage_raw, Mapping) else None
    model = request.get("model")
    if kind == "llm" and isinstance(response, Mapping) and isinstance(response.get("model"), str):
        model = response["model"]
    first_token = timing.get("timeToFirstToken")
    error = _status_error(status, response)
    response_headers = response_part.get("headers")
    helicone_extra = {"url": provider_request.get("url")}
    if isinstance(response_headers, Mapping) and response_headers:
        helicone_extra["response_headers"] = {
            k: v for k, v in response_headers.items() if str(k).lower() not in HIDDEN_RESPONSE_HEADERS}
    record: dict[str, Any] = {
        "span_id": span_id,
        "session_id": str(mapped.get("session_id") or span_id),
        "session_name": mapped.get("session_name"),
        "path": normalize_path(str(mapped["path"])) if mapped.get("path") is not None else None,
        "kind": kind,
        "name": name,
        "start_time": start,
        "end_time": end,
        "first_token_ms": first_token if isinstance(first_token, (int, float)) and not isinstance(
            first_token, bool) and first_token >= 0 else None,
        "status": "error" if error is not None else "ok",
        "status_code": status,
        "error": error,
        "model": model if isinstance(model, str) else None,
        "provider": provider or _provider(provider_request.get("url")),
        "usage": usage,
        "cost_usd": cost,
        "input": span_input,
        "output": response,
        "properties": mapped.get("properties"),
        "user_id": mapped.get("user_id"),
        "headers": public_headers(merged) or None,
        "helicone": {k: v for k, v in helicone_extra.items() if v is not None} or None,
    }
    return [{k: v for k, v in record.items() if v is not None}]
