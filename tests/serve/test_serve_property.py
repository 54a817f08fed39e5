"""Issue 18, the serve property: any body to any collector endpoint is answered 2xx (and then stored whole: the
collector's ingester rejects none of it) or 4xx with a one-line reason, never a 500 or a traceback. Bodies:
random bytes, random JSON, byte-mutated valid bodies, deep nesting, a wrong value at every place of the OTLP
JSON shape and of a Helicone body, protobuf that is valid protobuf of the wrong message; plain or gzipped."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span, TracesData
from starlette.testclient import TestClient

from fuzz_helpers import (
    DEFAULT_SETTINGS, json_values, long_fuzz, mutated, skip_unless_long,
    valid_records, valid_span_line, workdir,
)
from interop_helpers import TOOL, make_spans, spec_dict
from test_serve_rules import collector

FAST_EXAMPLES = 100
LONG = int(os.environ.get("AGENTTRACE_FUZZ_EXAMPLES", "2000"))

SPANS = make_spans()
OTLP_JSON = spec_dict(SPANS)
OTLP_PROTOBUF = encode_spans(SPANS).SerializeToString()
NATIVE = b"\n".join(valid_span_line(record) for record in [
    {"session_id": "s", "span_id": "a", "start_time": 1_740_000_000, "model": "gpt-4o",
     "usage": {"input_tokens": 5}}, {"type": "session", "session_id": "s", "name": "n"}])
WRONG_MESSAGES = [
    ExportTraceServiceResponse().SerializeToString(), Span(name="x", trace_id=b"\x01" * 16).SerializeToString(),
    TracesData(resource_spans=encode_spans(SPANS).resource_spans).SerializeToString(),
    AnyValue(kvlist_value=KeyValueList()).SerializeToString(), AnyValue(string_value="x" * 40).SerializeToString(),
]
EVENT_NAME_OBJECT = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{
    "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "chat",
    "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
    "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}],
    "events": [{"timeUnixNano": "1700000000000000000", "name": {"x": 1}}]}]}]}]})
"""An llm span whose event name is an object: a 500 (`unhashable type: 'dict'`) before."""
ENDPOINTS = [("/v1/spans", "application/x-ndjson"), ("/v1/traces", "application/json"),
             ("/v1/traces", "application/x-protobuf"), ("/custom/v1/log", "application/json")]


def _dumps(value: Any) -> bytes:
    """JSON of a generated value (integers beyond 64 bits too, which orjson refuses)."""
    return json.dumps(value, ensure_ascii=False).encode()


def _places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _places(item, (*path, index))


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)  # type: ignore[index]
    return copy


def _wrong_value_at(document: Any) -> st.SearchStrategy[bytes]:
    places = list(_places(document))
    return st.builds(lambda path, new: _dumps(_replaced(document, path, new)),
                     st.sampled_from(places), st.one_of(json_values, st.sampled_from(
                         [{}, [], "", -1, 2**64, 1e308, "ab", {"stringValue": {}}, [{}], None])))


def _deep(depth: int) -> bytes:
    return b'{"session_id":"s","start_time":0,"input":' + b"[" * depth + b"]" * depth + b"}"


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(_dumps),
    st.lists(st.one_of(valid_records().map(valid_span_line), json_values.map(_dumps)), min_size=1,
             max_size=4).map(b"\n".join),
    mutated(NATIVE), mutated(orjson.dumps(OTLP_JSON)), mutated(OTLP_PROTOBUF), mutated(orjson.dumps(TOOL)),
    _wrong_value_at(OTLP_JSON), _wrong_value_at(TOOL),
    st.sampled_from([*WRONG_MESSAGES, _deep(1_100), _deep(50_000), b'{"resourceSpans":' + b"[" * 5000 + b"]" * 5000 + b"}",
                     NATIVE, orjson.dumps(OTLP_JSON), OTLP_PROTOBUF, orjson.dumps(TOOL)]),
)


def _check(client: TestClient, body: bytes, endpoint: int, gzipped: bool, counts: dict[str, int]) -> None:
    path, content_type = ENDPOINTS[endpoint]
    headers = {"content-type": content_type}
    if gzipped:
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    response = client.post(path, content=body, headers=headers)
    counts["bodies"] += 1
    assert response.status_code < 500, (path, response.status_code, response.text[:500], body[:300])
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        reason = response.json()["error"]
        assert isinstance(reason, str) and reason and "\n" not in reason, reason
    else:
        assert 200 <= response.status_code < 300
        counts["accepted"] += 1


def _run(examples: int, derandomize: bool) -> dict[str, int]:
    counts = {"bodies": 0, "accepted": 0}
    with workdir() as directory:
        with collector(directory) as client:

            @settings(DEFAULT_SETTINGS, max_examples=examples, derandomize=derandomize)
            @given(bodies, st.integers(0, len(ENDPOINTS) - 1), st.integers(0, 5).map(lambda n: n == 0))
            def answered(body: bytes, endpoint: int, gzipped: bool) -> None:
                _check(client, body, endpoint, gzipped, counts)

            answered()
            for body in (_deep(1_100), _deep(50_000), EVENT_NAME_OBJECT, *WRONG_MESSAGES):  # each to every endpoint
                for endpoint in range(len(ENDPOINTS)):
                    _check(client, body, endpoint, False, counts)
            for endpoint in range(len(ENDPOINTS)):  # the known-good bodies, accepted by their endpoint
                body = [NATIVE, orjson.dumps(OTLP_JSON), OTLP_PROTOBUF, orjson.dumps(TOOL)][endpoint]
                response = client.post(ENDPOINTS[endpoint][0], content=body,
                                       headers={"content-type": ENDPOINTS[endpoint][1]})
                assert response.status_code == 200, response.text
        ingester = client.app_state.ingester  # type: ignore[attr-defined]
        # What was acknowledged is stored whole: the ingester rejected no line and no segment failed.
        assert (ingester.counts.rejected, ingester.counts.failures) == (0, 0)
        assert ingester.counts.stored > 0
    print(f"serve property: {counts['bodies']} bodies, {counts['accepted']} accepted")
    return counts


def test_any_body_is_answered_2xx_or_4xx() -> None:
    _run(FAST_EXAMPLES, derandomize=True)


@long_fuzz
@skip_unless_long
def test_long_any_body_is_answered_2xx_or_4xx() -> None:
    _run(LONG, derandomize=False)
