"""gzip bodies of several members (`cat a.gz b.gz`) are decoded whole, as `gzip -d` does, under one size limit;
anything after the last member but zero padding is refused (issue 18: 8)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from serve_helpers import serving, wait_for_count

from agenttrace_tui.serve.body import MAX_BODY_BYTES, BodyError, gunzip


def line(span_id: str) -> bytes:
    return json.dumps({"span_id": span_id, "session_id": "gz", "kind": "tool", "name": "x",
                       "start_time": 1740830400, "duration_ms": 5}).encode() + b"\n"


def post_gzip(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/v1/spans", content=body, headers={"Content-Encoding": "gzip"})


def test_every_member_of_a_concatenated_gzip_body_is_stored(tmp_path: Path) -> None:
    members = b"".join(gzip.compress(line(f"m{index}")) for index in range(3))
    with serving(tmp_path) as server:
        response = post_gzip(server.url, members)
        assert response.status_code == 200 and response.json() == {"accepted": 3}  # before: 1
        padded = post_gzip(server.url, gzip.compress(line("padded")) + b"\0" * 512)  # gzip -d ignores zeros
        assert padded.json() == {"accepted": 1}
        assert wait_for_count(server.db, 4) == 4


@pytest.mark.parametrize("tail", [b"garbage", b"\n", b"\x1f\x8b", b"\0\0junk", gzip.compress(b"x", mtime=0)[:-4]],
                         ids=["garbage", "newline", "magic", "zeros-then-junk", "truncated-member"])
def test_bytes_after_a_member_are_refused(tmp_path: Path, tail: bytes) -> None:
    with serving(tmp_path) as server:
        response = post_gzip(server.url, gzip.compress(line("kept-out")) + tail)
        assert response.status_code == 400, response.text  # before: 200, the tail ignored
        assert "not valid gzip" in response.json()["error"]
        assert httpx.get(f"{server.url}/health").json()["spooled"] == 0


def test_the_size_limit_holds_across_members() -> None:
    half = gzip.compress(b" " * (MAX_BODY_BYTES // 2 + 1))  # two members: each under the limit, together over
    with pytest.raises(BodyError) as refused:
        gunzip(half + half)
    assert refused.value.status == 413
    assert gunzip(half) == b" " * (MAX_BODY_BYTES // 2 + 1)
    many = gzip.compress(b"") * 10_001
    with pytest.raises(BodyError, match="members"):
        gunzip(many)


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=6), st.sampled_from([0, 1, 9]))
def test_members_decode_to_their_concatenation(parts: list[bytes], level: int) -> None:
    body = b"".join(gzip.compress(part, compresslevel=level) for part in parts)
    assert gunzip(body) == b"".join(parts)


@given(st.binary(max_size=400))
def test_any_bytes_decode_or_are_refused_with_a_reason(body: bytes) -> None:
    try:
        assert isinstance(gunzip(body), bytes)
    except BodyError as exc:
        assert exc.status in (400, 413) and "\n" not in exc.reason
