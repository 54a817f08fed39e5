"""Provider usage objects → the format's `usage` (OpenTelemetry GenAI semantics) and a reported cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sub(usage: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = usage.get(key)
    return value if isinstance(value, Mapping) else {}


def normalize_usage(usage: Mapping[str, Any] | None) -> dict[str, int] | None:
    """Map OpenAI chat (`prompt_tokens`...), OpenAI Responses (`input_tokens` + details) or Anthropic usage.

    input_tokens includes cached tokens and output_tokens includes reasoning tokens. Anthropic reports
    cached tokens apart from `input_tokens`, so they are added back in. Returns None when nothing is known.
    """
    if not usage:
        return None
    result: dict[str, int | None]
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        prompt_details = _sub(usage, "prompt_tokens_details")
        completion_details = _sub(usage, "completion_tokens_details")
        result = {
            "input_tokens": _int(usage.get("prompt_tokens")),
            "output_tokens": _int(usage.get("completion_tokens")),
            "cache_read_tokens": _int(prompt_details.get("cached_tokens")),
            "cache_write_tokens": _int(prompt_details.get("cache_write_tokens")),
            "reasoning_tokens": _int(completion_details.get("reasoning_tokens")),
        }
    elif "cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage:
        cache_read = _int(usage.get("cache_read_input_tokens"))
        cache_write = _int(usage.get("cache_creation_input_tokens"))
        uncached = _int(usage.get("input_tokens"))
        total_input = None if uncached is None else uncached + (cache_read or 0) + (cache_write or 0)
        result = {
            "input_tokens": total_input,
            "output_tokens": _int(usage.get("output_tokens")),
            "cache_read_tokens": cache_read,
            "cache_write_tokens": cache_write,
        }
    else:
        input_details = _sub(usage, "input_tokens_details")
        output_details = _sub(usage, "output_tokens_details")
        result = {
            "input_tokens": _int(usage.get("input_tokens")),
            "output_tokens": _int(usage.get("output_tokens")),
            "cache_read_tokens": _int(input_details.get("cached_tokens")),
            "cache_write_tokens": _int(input_details.get("cache_write_tokens")),
            "reasoning_tokens": _int(output_details.get("reasoning_tokens")),
        }
    known = {key: value for key, value in result.items() if value is not None}
    return known or None


def reported_cost(usage: Mapping[str, Any] | None) -> float | None:
    """A cost the provider itself reported (OpenRouter's `usage.cost`, Helicone's logs); never estimated."""
    if not usage:
        return None
    cost = usage.get("cost")
    if isinstance(cost, (int, float)) and not isinstance(cost, bool):
        return float(cost)
    return None
