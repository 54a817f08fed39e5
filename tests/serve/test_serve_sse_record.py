"""The gateway's stream recorder looks for event boundaries in new bytes only: an SSE line that never ends
costs each byte once, not a copy of everything buffered per chunk (issue 18: 13; it stalled 350 ms a chunk)."""

from __future__ import annotations

import subprocess
import sys

from agenttrace_tui.serve.gateway_record import MAX_RECORDED_BYTES, CallRecorder

FEED_ENDLESS_EVENT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_CPU, (int(sys.argv[1]), int(sys.argv[1]) + 1))
from agenttrace_tui.serve.gateway_record import MAX_RECORDED_BYTES, CallRecorder
recorder = CallRecorder("chat.completions", streaming=True, started=0.0)
chunk = b"x" * 256
recorder.feed(b'data: {"choices": [{"delta": {"content": "', 0.0)
for _ in range(MAX_RECORDED_BYTES // len(chunk) - 1):  # just under the limit: recorded to the end
    recorder.feed(chunk, 0.0)
print("fed", flush=True)
"""


def test_a_line_that_never_ends_costs_linear_work() -> None:
    # 10 MB in 40,959 chunks: 0.04 s of CPU (after 1 s of imports) when each byte is looked at once; ~200 GB of
    # copying (minutes) when the buffer is re-split per chunk. A CPU-time limit, not a clock: a loaded machine
    # gives the same CPU seconds.
    cpu_seconds = 30
    done = subprocess.run([sys.executable, "-c", FEED_ENDLESS_EVENT, str(cpu_seconds)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "fed", (done.returncode, done.stderr[-500:])
    # ... and still sees every line, however the stream is cut, and stops recording past the limit.
    events = [b'data: {"choices": [{"delta": {"content": "%d "}}]}\n\n' % index for index in range(50)]
    stream = b"".join(events) + b"data: [DONE]\n\n"
    for size in (1, 2, 7, 64, len(stream)):
        recorder = CallRecorder("chat.completions", streaming=True, started=0.0)
        for start in range(0, len(stream), size):
            recorder.feed(stream[start:start + size], 1.0)
        output = recorder.output()
        assert "".join(str(index) + " " for index in range(50)) in str(output), (size, output)
        assert recorder.first_token_ms == 1000.0
    recorder = CallRecorder("chat.completions", streaming=True, started=0.0)
    recorder.feed(b'data: {"choices": [{"delta": {"content": "a"}}]}\n', 0.0)
    for _ in range(MAX_RECORDED_BYTES // 65536 + 2):
        recorder.feed(b"y" * 65536, 0.0)
    recorder.feed(b'\ndata: {"choices": [{"delta": {"content": "b"}}]}\n', 0.0)
    output = recorder.output()
    assert output["choices"][0]["message"]["content"] == "a" and not recorder._buffer
