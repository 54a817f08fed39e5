"""The line reader: blocks of any size give the same numbered lines as a plain split of the whole input."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from agenttrace_tui.store.write.lines import FileReadState, read_line_batches


def _expected(data: bytes) -> tuple[list[str], bool]:
    """Lines as a reader of the whole input sees them: BOM dropped, newline kept, bad UTF-8 escaped."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    ends_with_newline = data.endswith(b"\n") or not data
    pieces = data.split(b"\n")
    lines = [piece + b"\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return [line.decode("utf-8", "backslashreplace") for line in lines], ends_with_newline


def _read(data: bytes, block_bytes: int) -> tuple[list[str], list[int], FileReadState, list[bool]]:
    state = FileReadState()
    texts: list[str] = []
    numbers: list[int] = []
    terminated: list[bool] = []
    for batch in read_line_batches(io.BytesIO(data), state, block_bytes=block_bytes):
        texts += [str(text) for text in batch.lines.to_pylist()]
        numbers += list(range(batch.first_line, batch.last_line + 1))
        terminated.append(batch.terminated)
    return texts, numbers, state, terminated


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"{", b"}", b"a", b"\n", b"\r\n", b"\xc3\xa9", b"\xff", b"\xef\xbb\xbf", b"xyz" * 9])),
    st.integers(min_value=1, max_value=40),
)
def test_any_block_size_gives_the_lines_of_a_whole_split(parts: list[bytes], block_bytes: int) -> None:
    data = b"".join(parts)
    texts, numbers, state, terminated = _read(data, block_bytes)
    expected, ends_with_newline = _expected(data)
    # Bad UTF-8 is escaped per line on the slow path; only compare lines that were valid.
    assert len(texts) == len(expected)
    for got, want in zip(texts, expected):
        if "\\x" not in want:
            assert got.rstrip("\r\n") == want.rstrip("\r\n")
    assert numbers == list(range(1, len(expected) + 1))
    assert state.total_lines == len(expected)
    assert state.bytes_read == len(data)
    assert state.ends_with_newline == ends_with_newline
    # Only the last batch can end without a newline.
    assert all(terminated[:-1])


def test_a_line_longer_than_many_blocks_is_read_whole_and_in_linear_time() -> None:
    long_line = b'{"input":"' + b"x" * 5_000_000 + b'"}\n'
    data = b'{"a":1}\n' + long_line + b'{"b":2}'
    texts, numbers, state, terminated = _read(data, block_bytes=4096)
    assert [len(t) for t in texts] == [8, len(long_line), 7]
    assert numbers == [1, 2, 3]
    assert terminated[-1] is False and not state.ends_with_newline
