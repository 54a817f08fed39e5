"""`agenttrace serve`: native trace-format lines, limits, bad bodies, the token, the spool's recovery."""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_helpers import serving, spans_by_id, stored, wait_for_count

from agenttrace_tui.serve import ServeError, ServeOptions, listen, prepare
from agenttrace_tui.serve.server import settings_for
from agenttrace_tui.serve.validate import line_problem
from agenttrace_tui.store import Store

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"
TOKEN = "a-test-token-long-enough-0123456789"


def jsonl(*records: dict[str, object]) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def span(span_id: str, **fields: object) -> dict[str, object]:
    return {"span_id": span_id, "session_id": "native-1", "start_time": "2025-03-01T12:00:00Z", **fields}


def test_lines_are_acknowledged_then_stored_and_merged(tmp_path: Path) -> None:
    body = jsonl(
        {"type": "session", "session_id": "native-1", "name": "Native", "tags": ["t"]},
        span("s1", path="/tools/search", kind="tool", name="search"),
        span("s1", end_time="2025-03-01T12:00:01Z", output={"count": 3}),
        {"start_time": 1740830400, "model": "gpt-4o-mini",
         "headers": {"Helicone-Session-Id": "native-1", "Helicone-Property-Agent-Version": "v1"}},
    )
    with serving(tmp_path) as server:
        response = httpx.post(f"{server.url}/v1/spans", content=body)
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 4}
        assert wait_for_count(server.db, 2) == 2
    spans = spans_by_id(server.db)
    assert spans["s1"]["duration_ms"] == 1000 and json.loads(spans["s1"]["output"]) == {"count": 3}
    (other,) = [s for key, s in spans.items() if key != "s1"]
    assert other["kind"] == "llm" and json.loads(other["properties"]) == {"Agent-Version": "v1"}
    assert stored(server.db, "SELECT name FROM sessions") == [("Native",)]
    assert list(server.spool_dir.glob("*.jsonl")) == [] and list(server.spool_dir.glob("*.open")) == []


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"{not json}\n", "line 2: not valid JSON"),
        (b"[1, 2]\n", "line 2: expected a JSON object, got array"),
        (jsonl(span("a"), {"session_id": "x"}), "line 3: start_time: required"),
        (jsonl(span("a", kind="banana")), "line 2: kind: must be one of llm, tool, agent, retrieval, embedding, other; got banana"),
        (jsonl(span("a", start_time="2025-03-01 12:00:00")), "line 2: start_time: not an RFC 3339 timestamp"),
        (jsonl(span("a", usage={"input_tokens": -1})), "line 2: usage.input_tokens: must be an integer >= 0"),
        (jsonl({"start_time": 1}), "line 2: session_id: required (or a Helicone-Session-Id header)"),
        (b"\xff\xfe{}\n", "line 2: not valid UTF-8 (bad byte at column 1)"),
        (b"{}\n[]\n", "line 2: session_id: required (or a Helicone-Session-Id header) (and 1 more bad lines)"),
    ],
)
def test_a_bad_line_refuses_the_whole_body(tmp_path: Path, bad: bytes, reason: str) -> None:
    with serving(tmp_path) as server:
        response = httpx.post(f"{server.url}/v1/spans", content=jsonl(span("good")) + bad)
        assert response.status_code == 400
        assert response.json()["error"].startswith(reason)
        empty = httpx.post(f"{server.url}/v1/spans", content=b"\n  \n")
        assert empty.status_code == 400 and empty.json()["error"].startswith("empty body")
        assert httpx.post(f"{server.url}/v1/spans", content=jsonl(span("after"))).status_code == 200
        assert wait_for_count(server.db, 1) == 1
    assert set(spans_by_id(server.db)) == {"after"}
    assert Store(server.db).rejects() == []


def test_gzip_bodies_are_accepted(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        response = httpx.post(f"{server.url}/v1/spans", content=gzip.compress(jsonl(span("gz"))),
                              headers={"Content-Encoding": "gzip"})
        assert response.status_code == 200
        bad = httpx.post(f"{server.url}/v1/spans", content=b"not gzip", headers={"Content-Encoding": "gzip"})
        assert bad.status_code == 400 and "not valid gzip" in bad.json()["error"]
        assert httpx.post(f"{server.url}/v1/spans", content=b"x", headers={"Content-Encoding": "br"}).status_code == 415
        assert wait_for_count(server.db, 1) == 1


def _big_body() -> bytes:
    line = json.dumps(span("big", input="x" * 1_000_000)).encode() + b"\n"
    return line * 11  # 11 MB of valid lines


def test_bodies_over_10_mb_get_413_with_or_without_content_length(tmp_path: Path) -> None:
    body = _big_body()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    with serving(tmp_path) as server:
        declared = httpx.post(f"{server.url}/v1/spans", content=body)
        assert declared.status_code == 413
        streamed = httpx.post(f"{server.url}/v1/spans", content=chunks())  # chunked: no Content-Length
        assert streamed.status_code == 413 and "larger than 10 MB" in streamed.json()["error"]
        bomb = gzip.compress(b" " * (11 * 1024 * 1024))  # 11 MB of blanks in a few kB
        inflated = httpx.post(f"{server.url}/v1/spans", content=bomb, headers={"Content-Encoding": "gzip"})
        assert inflated.status_code == 413
        assert httpx.post(f"{server.url}/v1/spans", content=jsonl(span("small"))).status_code == 200
        assert wait_for_count(server.db, 1) == 1
    assert set(spans_by_id(server.db)) == {"small"}


def test_the_token_is_required_when_set(tmp_path: Path) -> None:
    body = jsonl(span("t1"))
    with serving(tmp_path, token=TOKEN) as server:
        assert httpx.post(f"{server.url}/v1/spans", content=body).status_code == 401
        wrong = httpx.post(f"{server.url}/v1/spans", content=body, headers={"X-Agenttrace-Token": TOKEN[:-1] + "x"})
        assert wrong.status_code == 401
        assert httpx.get(f"{server.url}/health").status_code == 401
        ok = httpx.post(f"{server.url}/v1/spans", content=body, headers={"X-Agenttrace-Token": TOKEN})
        assert ok.status_code == 200
        bearer = httpx.post(f"{server.url}/v1/spans", content=jsonl(span("t2")),
                            headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 200
        # On the gateway Authorization is the provider key: our token must come in its own header.
        gateway = httpx.post(f"{server.url}/v1/chat/completions", json={"model": "m"},
                             headers={"Authorization": f"Bearer {TOKEN}"})
        assert gateway.status_code == 401 and "X-Agenttrace-Token" in gateway.json()["error"]
        assert wait_for_count(server.db, 2) == 2


def test_binding_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(ServeError, match="--host 0.0.0.0 is reachable from other machines: set --token"):
        settings_for(ServeOptions(host="0.0.0.0", db=str(tmp_path / "x.duckdb")))
    with pytest.raises(ServeError, match="too short"):
        settings_for(ServeOptions(host="0.0.0.0", token="short", db=str(tmp_path / "x.duckdb")))
    assert settings_for(ServeOptions(host="0.0.0.0", token=TOKEN, db=str(tmp_path / "x.duckdb"))).token == TOKEN
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert settings_for(ServeOptions(host=host, db=str(tmp_path / "x.duckdb"))).token is None
    result = subprocess.run(
        [sys.executable, "-m", "agenttrace_tui.cli", "serve", "--host", "0.0.0.0", "--db", str(tmp_path / "x.duckdb")],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "agenttrace: error: --host 0.0.0.0 is reachable from other machines: set --token (or $AGENTTRACE_TOKEN) too"
    ]


def test_a_taken_port_and_a_shared_spool_are_one_line_errors(tmp_path: Path) -> None:
    taken = listen("127.0.0.1", 0)
    port = taken.getsockname()[1]
    with pytest.raises(ServeError, match=rf"cannot listen on 127.0.0.1:{port}: Address already in use"):
        prepare(ServeOptions(port=port, db=str(tmp_path / "a.duckdb"), spool_dir=str(tmp_path / "spool-a")))
    taken.close()
    with serving(tmp_path, spool_dir=tmp_path / "shared") as _server:
        with pytest.raises(ServeError, match="is in use by another agenttrace serve"):
            prepare(ServeOptions(port=0, db=str(tmp_path / "b.duckdb"), spool_dir=str(tmp_path / "shared")))


def test_segments_left_by_a_crash_are_ingested_first_and_a_torn_line_is_dropped(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    complete = json.dumps(span("left-1", name="before the crash")).encode() + b"\n"
    (spool_dir / "00000000000000000001-1-000000.open").write_bytes(complete + b'{"span_id": "torn", "sess')
    (spool_dir / "00000000000000000000-1-000000.jsonl").write_bytes(jsonl(span("left-0")))
    with serving(tmp_path, spool_dir=spool_dir) as server:
        assert wait_for_count(server.db, 2) == 2
    assert set(spans_by_id(server.db)) == {"left-0", "left-1"}
    assert Store(server.db).rejects() == []
    assert sorted(p.name for p in spool_dir.iterdir()) == [".agenttrace-spool", ".lock"]


def test_the_log_has_no_secrets(tmp_path: Path) -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("agenttrace.serve")
    logger.addHandler(handler)
    try:
        with serving(tmp_path, token=TOKEN, log_level="info") as server:
            httpx.post(f"{server.url}/v1/spans?api_key=sk-secret-in-query", content=jsonl(span("l")),
                       headers={"X-Agenttrace-Token": TOKEN, "Authorization": "Bearer sk-secret-key"})
            httpx.post(f"{server.url}/v1/spans", content=b"{", headers={"X-Agenttrace-Token": "sk-wrong-token"})
            httpx.post(f"{server.url}/v1/spans", content=b'{"api_key": "sk-secret-in-body"}',
                       headers={"X-Agenttrace-Token": TOKEN})
            assert wait_for_count(server.db, 1) == 1
    finally:
        logger.removeHandler(handler)
    text = "\n".join(record.getMessage() for record in records)
    assert all(f"POST /v1/spans {status}" in text for status in (200, 401, 400))
    for secret in ("sk-secret", TOKEN, "sk-wrong-token"):
        assert secret not in text


# The validator and the ingest say the same thing ---------------------------------------------------

AGREEMENT_LINES = [
    b'{"session_id": "a", "start_time": "2025-03-01T12:00:00Z"}',
    b'{"session_id": "a", "start_time": "2025-02-30T12:00:00Z"}',
    b'{"session_id": "a", "start_time": "2025-03-01T12:00:00"}',
    b'{"session_id": "a", "start_time": 1740830400250000000}',
    b'{"session_id": "a", "start_time": 99999999999999999999999}',
    b'{"session_id": "a", "start_time": -1}',
    b'{"session_id": "a", "start_time": true}',
    b'{"session_id": "", "start_time": 1}',
    b'{"session_id": 5, "start_time": 1}',
    b'{"start_time": 1, "headers": {"helicone-session-id": "h"}}',
    b'{"start_time": 1, "headers": {"Helicone-Session-Id": 5}}',
    b'{"session_id": "a", "start_time": 1, "status_code": 200.0}',
    b'{"session_id": "a", "start_time": 1, "status_code": 200.5}',
    b'{"session_id": "a", "start_time": 1, "duration_ms": -3}',
    b'{"session_id": "a", "start_time": 1, "cost_usd": "1"}',
    b'{"session_id": "a", "start_time": 1, "error": {"type": 3}}',
    b'{"session_id": "a", "start_time": 1, "error": ["x"]}',
    b'{"session_id": "a", "start_time": 1, "properties": {"k": [1]}}',
    b'{"session_id": "a", "start_time": 1, "properties": {"k": null, "b": true}}',
    b'{"session_id": "a", "start_time": 1, "usage": {"input_tokens": 1.0, "output_tokens": 2}}',
    b'{"session_id": "a", "start_time": 1, "usage": {"input_tokens": 1.5}}',
    b'{"session_id": "a", "start_time": 1, "usage": []}',
    b'{"session_id": "a", "start_time": 1, "kind": "tool", "status": "bad"}',
    b'{"session_id": "a", "start_time": 1, "model": 4}',
    b'{"session_id": "a", "start_time": 1, "v": 2}',
    b'{"session_id": "a", "start_time": 1, "v": 1}',
    b'{"session_id": "a", "start_time": 1, "type": "event"}',
    b'{"type": "session", "session_id": "a", "tags": ["x", 1]}',
    b'{"type": "session", "session_id": "a", "name": 3}',
    b'{"type": "session", "headers": {"Helicone-Session-Id": "h"}}',
    b'{"type": "session", "session_id": "a", "start_time": "nonsense"}',
    b'"just a string"',
    b'{"session_id": "a", "start_time": 1, "user_id": 7}',
]


def test_the_validator_agrees_with_the_ingest(tmp_path: Path) -> None:
    sample_lines = [line for path in sorted(SAMPLES.glob("*.jsonl")) for line in path.read_bytes().splitlines()]
    assert all(line_problem(line) is None for line in sample_lines)
    trace = tmp_path / "agreement.jsonl"
    trace.write_bytes(b"\n".join(AGREEMENT_LINES) + b"\n")
    store = Store(tmp_path / "agree.duckdb")
    store.ingest([str(trace)])
    ingest_rejects = {reject["line"]: reject["reason"] for reject in store.rejects()}
    for number, line in enumerate(AGREEMENT_LINES, 1):
        ours = line_problem(line)
        assert (ours is None) == (number not in ingest_rejects), (line, ours, ingest_rejects.get(number))
        if ours is not None:
            field = ours.split(":")[0].split(",")[0]  # the field at fault (type names may be worded apart)
            assert field == ingest_rejects[number].split(":")[0].split(",")[0], (line, ours, ingest_rejects[number])


def test_a_team_store_url_is_accepted_and_its_spool_is_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agenttrace_tui.store.backend.location import LakeLocation

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = settings_for(ServeOptions(db="ducklake:postgres:dbname=traces host=db.internal data_path=/shared/lake/"))
    assert isinstance(settings.db_path, LakeLocation)
    assert settings.spool_dir.parent == tmp_path / "data" / "agenttrace"
    with pytest.raises(ServeError, match="unsupported store URL"):
        settings_for(ServeOptions(db="ducklake:sqlite:x.db"))
