"""Slow and too many clients (issue 18: 4): half-sent headers and bodies are closed by the server, connections
beyond the cap get 503 and are closed, the cap stays under the descriptor limit, and the log says so once per
burst. Real sockets against a real server on port 0; short timeouts set in the test; waits poll bounded rounds.
"""

from __future__ import annotations

import json
import logging
import re
import selectors
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_helpers import POLL_ROUNDS, WAIT_SECONDS, serve_log_lines, serving, wait_for_count

from agenttrace_tui.serve import ServeError, ServeOptions
from agenttrace_tui.serve import connections as connections_module
from agenttrace_tui.serve.connections import FloodLog
from agenttrace_tui.serve.server import connection_limits

LINE = json.dumps({"span_id": "legit", "session_id": "s", "kind": "tool", "name": "x",
                   "start_time": 1740830400, "duration_ms": 5}).encode() + b"\n"
HALF_HEADERS = b"POST /v1/spans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le"
HALF_BODY = b"POST /v1/spans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"span_id\":"


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def open_clients(url: str, count: int, first_bytes: bytes) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        sock = socket.create_connection(address(url), timeout=WAIT_SECONDS)
        sock.sendall(first_bytes)
        clients.append(sock)
    return clients


def answers_when_closed(clients: list[socket.socket], until: int | None = None) -> dict[socket.socket, bytes]:
    """What the server sent each client before closing it, once `until` (default: all) are closed; polls bounded
    rounds (clients left open are absent)."""
    received = {sock: b"" for sock in clients}
    closed: dict[socket.socket, bytes] = {}
    with selectors.DefaultSelector() as selector:
        for sock in clients:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        for _ in range(POLL_ROUNDS):
            if len(closed) >= (len(clients) if until is None else until):
                break
            for key, _ in selector.select(timeout=0.02):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    data = b""
                if data:
                    received[sock] += data
                    continue
                closed[sock] = received[sock]
                selector.unregister(sock)
    return closed


def error_of(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower() and b"connection: close" in head.lower(), head
    return int(head.split()[1]), json.loads(body)["error"]


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    with serve_log_lines(logging.WARNING) as lines:
        yield lines


def test_half_sent_requests_are_closed_by_the_server(tmp_path: Path, warnings: list[str]) -> None:
    with serving(tmp_path, header_timeout=0.3, body_timeout=0.3) as server:
        slow_headers = open_clients(server.url, 30, HALF_HEADERS)
        slow_bodies = open_clients(server.url, 10, HALF_BODY)
        idle = open_clients(server.url, 5, b"")  # connected, never a byte
        # Keep-alive: one whole request answered, then the next one's headers trickle in.
        kept = socket.create_connection(address(server.url), timeout=WAIT_SECONDS)
        kept.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert kept.recv(65536).startswith(b"HTTP/1.1 200")
        kept.sendall(b"GET /hea")
        everyone = [*slow_headers, *slow_bodies, *idle, kept]
        try:
            closed = answers_when_closed(everyone)
            assert len(closed) == len(everyone)  # before: none of them, ever
            for sock in slow_headers:
                assert error_of(closed[sock]) == (408, "request headers not complete within 0.3 s")
            for sock in slow_bodies:
                assert error_of(closed[sock]) == (408, "request body not received within 0.3 s")
            assert error_of(closed[kept])[0] == 408
            assert httpx.post(f"{server.url}/v1/spans", content=LINE).status_code == 200
        finally:
            for sock in everyone:
                sock.close()
    slow_lines = [line for line in warnings if "request headers not complete" in line]
    assert 1 <= len(slow_lines) <= 2, warnings  # a burst is logged once (a loaded machine may split it), not 36 times


def test_a_legitimate_post_succeeds_while_slow_clients_are_held(tmp_path: Path, warnings: list[str]) -> None:
    with serving(tmp_path, header_timeout=600, max_connections=40) as server:
        held = open_clients(server.url, 35, HALF_HEADERS)
        try:
            posted = httpx.post(f"{server.url}/v1/spans", content=LINE, timeout=WAIT_SECONDS)
            assert posted.status_code == 200 and posted.json() == {"accepted": 1}
            assert wait_for_count(server.db, 1) == 1
            # Beyond the cap: answered 503 and closed at once, so descriptors stay free.
            extra = open_clients(server.url, 25, HALF_HEADERS)
            held += extra
            refused = answers_when_closed(extra, until=20)  # 5 fit under the cap (4 while the post's one closes)
            assert len(refused) >= 20
            assert all(error_of(answer) == (503, "too many connections: 40 are open") for answer in refused.values())
        finally:
            for sock in held:
                sock.close()
    assert len([line for line in warnings if "connections refused" in line]) == 1, warnings


def test_the_connection_cap_stays_under_the_descriptor_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connections_module, "descriptor_limit", lambda: 1024)
    monkeypatch.setattr("agenttrace_tui.serve.server.descriptor_limit", lambda: 1024)
    assert connection_limits(ServeOptions()).max_connections == 512
    assert connection_limits(ServeOptions(max_connections=5000)).max_connections == 1024 - 64 - 2 * 128
    monkeypatch.setattr("agenttrace_tui.serve.server.descriptor_limit", lambda: 500)
    assert connection_limits(ServeOptions(upstream="https://api.openai.com")).max_connections == 500 - 64 - 256 - 100
    monkeypatch.setattr("agenttrace_tui.serve.server.descriptor_limit", lambda: 256)
    with pytest.raises(ServeError, match=r"ulimit -n\) is 256: .* raise it to at least 336"):
        connection_limits(ServeOptions())


def test_a_flood_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    flood = FloodLog(interval=10, clock=lambda: now[0])
    logger = logging.getLogger("agenttrace.serve")
    logger.addHandler(caplog.handler)
    try:
        for step in range(1000):
            now[0] = step / 100  # 1,000 events in 10 s
            flood.note("slow", "connections closed")
        now[0] = 10.5
        flood.note("slow", "connections closed")
    finally:
        logger.removeHandler(caplog.handler)
    assert [record.getMessage() for record in caplog.records] == [
        "connections closed", "connections closed (1000 times in the last 10 s)"]
    assert flood.totals["slow"] == 1001


SERVER_UNDER_LIMIT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
from agenttrace_tui.serve import ServeOptions, run
run(ServeOptions(port=0, db=sys.argv[2], spool_dir=sys.argv[3], header_timeout=float(sys.argv[4])))
"""


@pytest.mark.slow  # a server process, 500 clients and a 3 s deadline: ~10 s on the loaded 2-core machine
@pytest.mark.skipif(sys.platform == "win32", reason="sets RLIMIT_NOFILE")
def test_more_slow_clients_than_descriptors(tmp_path: Path) -> None:
    """The finding itself: at `ulimit -n` 1,024, 1,050 half-sent requests exhausted the descriptors (posts timed
    out, the ingester failed, 161 MB of log in 30 s). Here the limit is 420 and 500 clients come."""
    limit, log_path = 420, tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-c", SERVER_UNDER_LIMIT, str(limit), str(tmp_path / "s.duckdb"),
                                    str(tmp_path / "spool"), "3"], stdout=log, stderr=subprocess.STDOUT)
    clients: list[socket.socket] = []
    try:
        url = ""
        for _ in range(POLL_ROUNDS):
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", log_path.read_text("utf-8", "replace"))
            if found and "startup complete" in log_path.read_text("utf-8", "replace"):
                url = found.group(1)
                break
            assert process.poll() is None, log_path.read_text()
            time.sleep(0.02)
        assert url, log_path.read_text()
        clients = open_clients(url, 500, HALF_HEADERS)
        # The cap is 420 - 64 - 2 * 128 = 100: the clients over it get 503 at once, the others 408 at 3 s.
        closed = answers_when_closed(clients)
        statuses = Counter(error_of(answer)[0] for answer in closed.values())
        assert len(closed) == 500 and set(statuses) == {503, 408} and statuses[408] >= 100, statuses
        posted = httpx.post(f"{url}/v1/spans", content=LINE, timeout=WAIT_SECONDS)
        assert posted.status_code == 200 and wait_for_count(tmp_path / "s.duckdb", 1) == 1
    finally:
        for sock in clients:
            sock.close()
        process.terminate()
        process.wait(WAIT_SECONDS)
    text = log_path.read_text("utf-8", "replace")
    assert "Too many open files" not in text and "out of system resource" not in text
    assert len(text.splitlines()) < 30, text
