"""Issue 18, finding 7: one set of rules decides the collector's answer and the ingest. For every line, the
collector answers 200 iff `agenttrace ingest` of that line (a file holding it) stores it, with the same reason
when it does not; and what the collector accepted is stored by its own ingester with no reject. Generated
lines: valid ones, lines at every type's edge, the finding's quirks, byte-mutated and random JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from agenttrace_tui.serve.app import AppSettings, build_app
from agenttrace_tui.serve.spool import Spool
from agenttrace_tui.interop import SourceFormat, sniff
from agenttrace_tui.store import InputSource, Store, ingest

from fuzz_helpers import (
    DEFAULT_SETTINGS, LONG_EXAMPLES, json_values, lines, long_fuzz,
    skip_unless_long, valid_records, valid_span_line, workdir,
)

HOST = "http://127.0.0.1"
B = b'"session_id":"s","start_time":0'
QUIRKS = {
    "lone surrogate in a field": b'{' + B + b',"name":"\\ud83d"}',
    "lone surrogate in the payload": b'{' + B + b',"input":"\\ud83d"}',
    "lone surrogate in the session header": b'{"start_time":0,"headers":{"Helicone-Session-Id":"\\ud83d"}}',
    "a surrogate pair": b'{' + B + b',"input":"\\ud83d\\ude00"}',
    "duplicate key, the first bad": b'{"session_id":5,' + B + b'}',
    "duplicate key, the last bad": b'{' + B + b',"session_id":5}',
    "duplicate type": b'{"type":"span","type":"session","session_id":"s"}',
    "duplicate token count": b'{' + B + b',"usage":{"input_tokens":-1,"input_tokens":5}}',
    "duplicate kind": b'{' + B + b',"kind":"llm","kind":"x"}',
    "two spellings of the session header, the first empty":
        b'{"start_time":0,"headers":{"helicone-session-id":"","Helicone-Session-Id":"x"}}',
    "two spellings of the session header": b'{"start_time":0,"headers":{"Helicone-Session-Id":"x","helicone-session-id":"y"}}',
    "a BOM": b'\xef\xbb\xbf{' + B + b'}',
    "nested 2,000 deep": b'{' + B + b',"input":' + b'[' * 2000 + b']' * 2000 + b'}',
    "nested 100,000 deep": b'{' + B + b',"input":' + b'[' * 100_000 + b']' * 100_000 + b'}',
    "NaN": b'{' + B + b',"input":NaN}',
    "a trailing comma": b'{' + B + b',"input":[1,]}',
    "1e400": b'{' + B + b',"input":1e400}',
    "an integer beyond 64 bits": b'{' + B + b',"input":123456789012345678901234567890}',
    "an escaped key": b'{"sess\\u0069on_id":"s","start_time":0}',
    "a credential key with a number": b'{' + B + b',"headers":{"Authorization":5}}',
    "a credential key with bad JSON": b'{' + B + b',"api_key":01}',
    "an OTLP key": b'{' + B + b',"resourceSpans":[]}',
    "a Helicone key": b'{' + B + b',"providerRequest":{}}',
    "not UTF-8": b'{' + B + b',"input":"\xed\xa0\xbd"}',
}


@contextmanager
def collector(directory: Path) -> Iterator[TestClient]:
    """The real app in process (its ingester stores into directory/serve.duckdb when the client closes)."""
    spool = Spool(directory / "spool")
    spool.open()
    app = build_app(AppSettings(db_path=directory / "serve.duckdb", spool_dir=directory / "spool",
                                ingest_interval=3600), spool)
    try:
        with TestClient(app, base_url=HOST, raise_server_exceptions=False) as client:
            client.app_state = app.state  # type: ignore[attr-defined]
            yield client
    finally:
        spool.close()


def _answer(client: TestClient, body: bytes) -> str | None:
    """None for 200, else the reason (without the collector's `line N: ` and `(and N more ...)`)."""
    response = client.post("/v1/spans", content=body, headers={"content-type": "application/x-ndjson"})
    assert response.status_code in (200, 400), (response.status_code, response.text, body[:200])
    if response.status_code == 200:
        return None
    reason: str = response.json()["error"]
    return reason.split(": ", 1)[1].split(" (and ")[0] if reason.startswith("line ") else reason


PROBE = b'{"session_id":"probe","start_time":0}'
BOM = b"\xef\xbb\xbf"


def _ingested(directory: Path, bodies: Sequence[bytes]) -> list[str | None]:
    """`agenttrace ingest` of each body as a file: None when all of it is stored, else the first reason. Bodies
    a file reads the same anywhere in it share one file after a valid first line (one ingest is ~1 s on a busy
    machine); a body starting with a BOM or read as another format (interop.sniff) is a file of its own."""
    alone = [index for index, body in enumerate(bodies) if body.startswith(BOM) or sniff(body) is not SourceFormat.NATIVE]
    shared = [index for index in range(len(bodies)) if index not in alone]
    files = [directory / "shared.jsonl", *(directory / f"alone{index}.jsonl" for index in alone)]
    files[0].write_bytes(b"\n".join([PROBE, *(bodies[index] for index in shared)]) + b"\n")
    for path, index in zip(files[1:], alone, strict=True):
        path.write_bytes(bodies[index] + b"\n")
    db = directory / "ingest.duckdb"
    result = ingest(db, [InputSource(str(path), path) for path in files])
    for file in result.files:
        assert file.error is None, file.error  # no line may fail its whole file
    rejects = {(str(Path(file).name), int(line)): str(reason)
               for file, line, reason in Store(db).sql("SELECT file, line, reason FROM rejects")[1]}
    verdicts: list[str | None] = [None] * len(bodies)
    for position, index in enumerate(shared, 2):
        verdicts[index] = rejects.get(("shared.jsonl", position))
    for file, index in zip(result.files[1:], alone, strict=True):
        reason = next((r for (name, _), r in rejects.items() if name == f"alone{index}.jsonl"), None)
        verdicts[index] = reason or (None if file.stored == file.lines == 1 else "not stored")
    assert rejects.get(("shared.jsonl", 1)) is None
    return verdicts


def _check_agreement(directory: Path, generated: Sequence[bytes]) -> None:
    lines = [line for line in generated if line.strip(b" \t\r")]  # a blank body is refused as empty
    with collector(directory) as client:
        answers = [_answer(client, line) for line in lines]
    ingester = client.app_state.ingester  # type: ignore[attr-defined]
    assert (ingester.counts.rejected, ingester.counts.failures) == (0, 0)  # accepted means stored
    assert ingester.counts.stored == sum(answer is None for answer in answers)
    verdicts = _ingested(directory, lines)
    for line, answer, verdict in zip(lines, answers, verdicts, strict=True):
        assert (answer is None) == (verdict is None), (line[:300], answer, verdict)
        if verdict is not None and sniff(line) is SourceFormat.NATIVE:
            assert answer.split(":")[0] == verdict.split(":")[0], (line[:300], answer, verdict)


def test_the_collector_answers_as_the_ingest_stores(tmp_path: Path) -> None:
    _check_agreement(tmp_path, list(QUIRKS.values()))


def test_a_bom_mid_body_is_refused_as_the_ingest_rejects_it(tmp_path: Path) -> None:
    body = b'{' + B + b'}\n\xef\xbb\xbf{' + B + b'}\n'
    with collector(tmp_path) as client:
        assert _answer(client, body) == "not valid JSON"
        assert _answer(client, b'\xef\xbb\xbf{' + B + b'}\n{' + B + b'}') is None  # a file's BOM is dropped
    trace = tmp_path / "body.jsonl"
    trace.write_bytes(body)
    store = Store(tmp_path / "ingest.duckdb")
    store.ingest([str(trace)])
    assert [(r["line"], r["reason"]) for r in store.rejects()] == [(2, "not valid JSON")]


def test_a_line_with_an_otlp_key_is_refused_not_read_as_otlp(tmp_path: Path) -> None:
    """The ingester reads a spool segment starting with it as an OTLP request: the lines after it were lost."""
    with collector(tmp_path) as client:
        reason = _answer(client, b'{' + B + b',"resource_spans":[]}\n{' + B + b'}')
    assert reason is not None and reason.startswith("resource_spans: a key of an OTLP request"), reason


def _random_objects() -> st.SearchStrategy[bytes]:
    return st.dictionaries(st.sampled_from(["session_id", "start_time", "type", "usage", "headers", "v", "kind",
                                            "name", "duration_ms", "tags", "error", "x"]),
                           json_values, max_size=5).map(lambda value: json.dumps(value).encode())


generated_lines = st.one_of(
    valid_records().map(valid_span_line), lines(), lines(), _random_objects(),
    st.sampled_from(list(QUIRKS.values())),
)


@settings(DEFAULT_SETTINGS, max_examples=6)
@given(st.lists(generated_lines, min_size=1, max_size=10))
def test_generated_lines_are_answered_as_the_ingest_stores_them(generated: list[bytes]) -> None:
    with workdir() as directory:
        _check_agreement(directory, generated)


@long_fuzz
@skip_unless_long
@settings(DEFAULT_SETTINGS, max_examples=LONG_EXAMPLES // 10, derandomize=False)
@given(st.lists(generated_lines, min_size=1, max_size=12))
def test_long_generated_lines_are_answered_as_the_ingest_stores_them(generated: list[bytes]) -> None:
    with workdir() as directory:
        _check_agreement(directory, generated)
