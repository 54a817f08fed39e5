"""Who can reach the collector: web pages (Origin, Sec-Fetch-Site), foreign Host names (DNS rebinding), the
token's characters, every error answered as JSON, and no password in the start-up line (issue 18: 3, 13)."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_helpers import serve_log_lines, serving
from store_helpers import invoke

from agenttrace_tui.serve import ServeError, ServeOptions, listen, prepare
from agenttrace_tui.serve.auth import Exposure
from agenttrace_tui.serve.server import settings_for

TOKEN = "a-test-token-long-enough-0123456789"
LINE = json.dumps({"span_id": "page", "session_id": "web", "kind": "tool", "name": "x",
                   "start_time": 1740830400, "duration_ms": 5}).encode() + b"\n"
HELICONE = json.dumps({"providerRequest": {"url": "https://api.openai.com/v1/chat/completions",
                                           "json": {"model": "gpt-4o-mini", "messages": []}, "meta": {}},
                       "providerResponse": {"json": {}, "status": 200, "headers": {}},
                       "timing": {"startTime": {"seconds": 1740830400, "milliseconds": 0},
                                  "endTime": {"seconds": 1740830401, "milliseconds": 0}}}).encode()
PAGE_POSTS = [("/v1/spans", LINE), ("/custom/v1/log", HELICONE)]


def spooled(url: str) -> int:
    return int(httpx.get(f"{url}/health").json()["spooled"])


def assert_error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    reason = response.json()["error"]
    assert isinstance(reason, str) and reason and "\n" not in reason
    assert all(word in reason for word in words), reason
    return reason


@pytest.mark.parametrize(("path", "body"), PAGE_POSTS)
def test_a_web_page_cannot_post_a_simple_request(tmp_path: Path, path: str, body: bytes) -> None:
    # What a page on any site can send to 127.0.0.1 without a preflight: text/plain, its Origin attached.
    with serving(tmp_path) as server:
        page = httpx.post(server.url + path, content=body,
                          headers={"Content-Type": "text/plain", "Origin": "https://evil.example"})
        assert_error(page, 403, "https://evil.example", "--allow-origin")
        fetch = httpx.post(server.url + path, content=body, headers={"Sec-Fetch-Site": "cross-site"})
        assert_error(fetch, 403, "cross-site")
        null = httpx.post(server.url + path, content=body, headers={"Origin": "null"})  # sandboxed frames, file://
        assert_error(null, 403)
        assert spooled(server.url) == 0
        assert httpx.post(server.url + path, content=body).status_code == 200  # a program (no Origin) is served


def test_a_foreign_host_name_is_refused(tmp_path: Path) -> None:
    # DNS rebinding: the page's own name now points at 127.0.0.1, so its requests are same-origin to the browser.
    with serving(tmp_path) as server:
        port = server.url.rsplit(":", 1)[1]
        for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.nip.io", "0.0.0.0"):
            response = httpx.post(f"{server.url}/v1/spans", content=LINE, headers={"Host": host})
            assert_error(response, 403, "--allow-host")
        assert httpx.get(f"{server.url}/health", headers={"Host": "attacker.example"}).status_code == 403
        for host in ("localhost", f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST.",
                     "app.localhost", "127.0.0.2"):
            assert httpx.get(f"{server.url}/health", headers={"Host": host}).status_code == 200, host
        assert httpx.post(f"{server.url}/v1/spans", content=LINE, headers={"Host": "localhost"}).status_code == 200


def test_allowed_origins_and_hosts_are_served(tmp_path: Path) -> None:
    with serving(tmp_path, allow_origins=("https://app.example", "http://localhost:3000"),
                 allow_hosts=("traces.internal",)) as server:
        posted = httpx.post(f"{server.url}/v1/spans", content=LINE, headers={"Origin": "https://app.example"})
        assert posted.status_code == 200
        assert posted.headers["access-control-allow-origin"] == "https://app.example"
        # A page posting JSON is preflighted first, without the token: answered for an allowed origin only.
        preflight = httpx.options(f"{server.url}/v1/spans", headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-agenttrace-token"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
        refused = httpx.options(f"{server.url}/v1/spans", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert_error(refused, 403)
        assert httpx.post(f"{server.url}/v1/spans", content=LINE,
                          headers={"Host": "traces.internal:8585"}).status_code == 200
        assert_error(httpx.post(f"{server.url}/v1/spans", content=LINE, headers={"Host": "other.internal"}), 403)


def test_the_host_check_follows_the_bind() -> None:
    loopback = Exposure.for_bind("127.0.0.1")
    assert loopback.refusal(["evil.example"], [], []) is not None
    assert loopback.refusal(["127.0.0.1:8585"], [], []) is None
    # Bound elsewhere a token is required, which a page cannot know: any Host name, unless --allow-host narrows it.
    anywhere = Exposure.for_bind("0.0.0.0")
    assert anywhere.refusal(["my-box.lan:8585"], [], []) is None
    assert anywhere.refusal(["my-box.lan"], ["https://evil.example"], []) is not None  # pages still refused
    narrowed = Exposure.for_bind("0.0.0.0", hosts=["my-box.lan"])
    assert narrowed.refusal(["my-box.lan:8585"], [], []) is None
    assert narrowed.refusal(["evil.example"], [], []) is not None
    assert narrowed.refusal(["localhost"], [], []) is None
    named = Exposure.for_bind("my-box.lan")
    assert named.refusal(["my-box.lan"], [], []) is None and named.allowed_hosts is None
    listed = Exposure.for_bind("127.0.0.1", origins=["https://a.example, https://b.example/"], hosts=["x y"])
    assert listed.allowed_origins == {"https://a.example", "https://b.example"}
    assert listed.refusal(["y"], ["https://B.example"], ["cross-site"]) is None
    assert Exposure.for_bind("127.0.0.1", origins=["*"]).refusal([], ["https://any.example"], []) is None


def test_with_a_token_a_page_is_refused_before_the_token_is_checked(tmp_path: Path) -> None:
    with serving(tmp_path, token=TOKEN) as server:
        page = httpx.post(f"{server.url}/v1/spans", content=LINE,
                          headers={"Origin": "https://evil.example", "X-Agenttrace-Token": TOKEN})
        assert_error(page, 403, "cross-origin")
        assert_error(httpx.post(f"{server.url}/v1/spans", content=LINE), 401, "X-Agenttrace-Token")


# The token ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["tökén-long-enough-0123456789", "a token with spaces 0123456789",
                                   "tab\tinside-long-enough-0123456789", "emoji-🔑-long-enough-0123456789"])
def test_a_token_no_client_could_send_is_refused_at_start(tmp_path: Path, token: str) -> None:
    with pytest.raises(ServeError, match="visible ASCII"):
        settings_for(ServeOptions(db=str(tmp_path / "s.duckdb"), token=token))
    result = invoke(["serve", "--port", "0", "--db", str(tmp_path / "s.duckdb"), "--token", token])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "visible ASCII" in lines[0] and "Traceback" not in result.stderr


# Every error is JSON --------------------------------------------------------------------------------

def raw_exchange(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_every_error_is_json_with_a_one_line_reason(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        assert_error(httpx.get(f"{server.url}/no/such/path"), 404, "/no/such/path")
        assert_error(httpx.get(f"{server.url}/v1/spans"), 405, "GET")
        assert_error(httpx.post(f"{server.url}/v1/spans", content=b"{"), 400)
        assert_error(httpx.post(f"{server.url}/v1/traces", content=b"{}", headers={"Content-Type": "text/x"}), 415)
        answer = raw_exchange(server.url, b"NOT HTTP AT ALL\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
        assert "invalid HTTP request" in json.loads(body)["error"]


# No secret in the start-up line ---------------------------------------------------------------------

@pytest.fixture
def serve_log() -> Iterator[list[str]]:
    with serve_log_lines(logging.DEBUG) as lines:
        yield lines


@pytest.mark.parametrize("db", ["ducklake:postgres:dbname=traces host=db.internal password=hunter2-secret",
                                "ducklake:postgres:dbname=traces password='hunter2-secret x' host=db",
                                "ducklake:postgres:postgresql://agent:hunter2-secret@db.internal/traces"])
def test_the_start_up_line_masks_the_store_password(tmp_path: Path, serve_log: list[str], db: str) -> None:
    _, sock, spool = prepare(ServeOptions(db=db, spool_dir=str(tmp_path / "spool"), log_level="info",
                                          upstream="https://user:hunter2-key@llm.internal/v1"),
                             listen("127.0.0.1", 0))
    try:
        started = [line for line in serve_log if line.startswith("listening on")]
        assert len(started) == 1 and "traces" in started[0] and "https://user:***@llm.internal/v1" in started[0]
        assert "hunter2" not in started[0] and "***" in started[0]
    finally:
        sock.close()
        spool.close()
