"""The shared format rules in agenttrace_tui.format: paths, Helicone headers, epoch units, times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from agenttrace_tui.format import (
    epoch_to_seconds,
    fields_from_headers,
    format_time,
    json_schema,
    normalize_path,
    path_prefixes,
    public_headers,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "/"),
        ("", "/"),
        ("/", "/"),
        ("///", "/"),
        ("a", "/a"),
        ("a/b", "/a/b"),
        ("/a/b/", "/a/b"),
        ("//a//b//", "/a/b"),
        ("/tools/search_database", "/tools/search_database"),
        ("/Iteration/0", "/Iteration/0"),
        ("  /a/b  ", "/a/b"),
        ("/a b/c", "/a b/c"),
    ],
)
def test_normalize_path(raw: str | None, expected: str) -> None:
    assert normalize_path(raw) == expected


def test_normalize_path_is_case_sensitive_and_idempotent() -> None:
    assert normalize_path("/Tools") != normalize_path("/tools")
    for raw in ["a//b/", "/x", "", "//"]:
        once = normalize_path(raw)
        assert normalize_path(once) == once


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", ["/"]),
        ("/a", ["/", "/a"]),
        ("/a/b/c", ["/", "/a", "/a/b", "/a/b/c"]),
        ("/tools/search_database", ["/", "/tools", "/tools/search_database"]),
    ],
)
def test_path_prefixes(path: str, expected: list[str]) -> None:
    assert path_prefixes(path) == expected


def test_fields_from_headers_maps_every_helicone_header() -> None:
    headers = {
        "Helicone-Session-Id": "s-1",
        "Helicone-Session-Name": "Support",
        "Helicone-Session-Path": "/tools/x",
        "Helicone-User-Id": "u-1",
        "Helicone-Request-Id": "req-1",
        "Helicone-Property-Agent-Version": "v1.0",
        "Helicone-Property-Iteration": "2",
    }
    assert fields_from_headers(headers) == {
        "session_id": "s-1",
        "session_name": "Support",
        "path": "/tools/x",
        "user_id": "u-1",
        "span_id": "req-1",
        "properties": {"Agent-Version": "v1.0", "Iteration": "2"},
    }


def test_fields_from_headers_names_are_case_insensitive_property_case_kept() -> None:
    headers = {
        "helicone-session-id": "s-1",
        "HELICONE-SESSION-PATH": "/a",
        "helicone-property-agent-name": "researcher",
        "HELICONE-PROPERTY-Parent-Agent": "coordinator",
    }
    assert fields_from_headers(headers) == {
        "session_id": "s-1",
        "path": "/a",
        "properties": {"agent-name": "researcher", "Parent-Agent": "coordinator"},
    }


def test_fields_from_headers_ignores_credentials_and_other_headers() -> None:
    headers = {"Helicone-Auth": "Bearer sk-x", "Authorization": "Bearer y", "Content-Type": "application/json"}
    assert fields_from_headers(headers) == {}
    assert fields_from_headers({}) == {}


def test_public_headers_keeps_helicone_drops_credentials() -> None:
    headers = {"Helicone-Auth": "Bearer sk-x", "Helicone-Session-Id": "s", "Authorization": "Bearer y", "X-Other": "1"}
    assert public_headers(headers) == {"Helicone-Session-Id": "s"}


SECONDS = 1_740_830_400.25  # 2025-03-01T12:00:00.25Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0.0),
        (SECONDS, SECONDS),
        (99_999_999_999, 99_999_999_999.0),  # just below 1e11: still seconds (year 5138)
        (1e11, 1e8),  # 1e11 and above: milliseconds
        (1_740_830_400_250, SECONDS),
        (99_999_999_999_999, 99_999_999_999.999),  # just below 1e14: still milliseconds
        (1e14, 1e8),  # microseconds from here
        (1_740_830_400_250_000, SECONDS),
        (1e17, 1e8),  # nanoseconds from here
        (1_740_830_400_250_000_000, SECONDS),
    ],
)
def test_epoch_to_seconds(value: float, expected: float) -> None:
    assert epoch_to_seconds(value) == pytest.approx(expected, rel=1e-12)


def test_format_time_is_rfc3339_utc_and_schema_valid() -> None:
    moment = datetime(2025, 3, 1, 13, 0, 0, 250_000, tzinfo=timezone(timedelta(hours=1)))
    text = format_time(moment)
    assert text == "2025-03-01T12:00:00.250000Z"
    validator = Draft202012Validator(json_schema(), format_checker=FormatChecker())
    assert validator.is_valid({"session_id": "s", "start_time": text})
