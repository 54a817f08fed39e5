"""What an ingest loads, and when: converters only for files that need them, the price table early and aside."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agenttrace_tui.store.write import ingest as ingest_module
from agenttrace_tui.store.write import preload
from agenttrace_tui.store.write.ingest import expand_inputs, ingest

SPAN = (
    '{{"session_id": "s{n}", "span_id": "p{n}", "start_time": "2025-01-31T12:00:00Z", "kind": "llm", '
    '"model": "gpt-4o", "usage": {{"input_tokens": 1000, "output_tokens": 10}}}}\n'
)


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_the_ingest_module_leaves_the_converters_unloaded() -> None:
    """OTLP and Helicone conversion (and the SDK they share code with) load only for a file in those formats."""
    loaded = _run(
        "import sys; import agenttrace_tui.store.write.ingest; "
        "print(sorted(m for m in ('agenttrace_tui.interop.otlp', 'agenttrace_tui.interop.helicone', "
        "'agenttrace_tui.sdk') if m in sys.modules))"
    )
    assert loaded == "[]"


def test_a_converted_file_still_loads_its_converter(tmp_path: Path) -> None:
    otlp = tmp_path / "export.json"
    otlp.write_text(
        '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "0af7651916cd43dd8448eb211c80319c", '
        '"spanId": "b7ad6b7169203331", "name": "chat", "startTimeUnixNano": "1738324800000000000", '
        '"endTimeUnixNano": "1738324801000000000"}]}]}]}\n'
    )
    result = ingest(tmp_path / "s.duckdb", expand_inputs([str(otlp)])[0])
    assert result.ok and result.stored == 1
    assert "agenttrace_tui.interop.otlp" in sys.modules


def test_preload_loads_what_pricing_and_the_parse_need() -> None:
    loaded = _run(
        "import sys; from agenttrace_tui.store.write import preload; "
        "before = [m in sys.modules for m in ('genai_prices', 'pyarrow.dataset')]; "
        "preload.start(); preload.wait(); "
        "print(before, [m in sys.modules for m in ('genai_prices', 'pyarrow.dataset')])"
    )
    assert loaded == "[False, False] [True, True]"


@pytest.mark.parametrize(("threshold", "started"), [(0, True), (1 << 40, False)])
def test_only_a_large_input_starts_the_preload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: int,
                                               started: bool) -> None:
    trace = tmp_path / "run.jsonl"
    trace.write_text("".join(SPAN.format(n=n) for n in range(20)))
    starts: list[str] = []
    monkeypatch.setattr(ingest_module, "PRELOAD_BYTES", threshold)
    monkeypatch.setattr(preload, "start", lambda: starts.append("started"))
    result = ingest(tmp_path / "s.duckdb", expand_inputs([str(trace)])[0])
    assert result.ok and result.stored == 20
    assert starts == (["started"] if started else [])


def test_pricing_waits_for_a_preload_in_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lookup while the table loads waits for it instead of loading it a second time at once."""
    from agenttrace_tui.store.write.pricing import PriceOverrides, resolve_prices

    release = threading.Event()
    order: list[str] = []

    def slow_load() -> None:
        release.wait(5)
        order.append("loaded")

    monkeypatch.setattr(preload, "_thread", None)
    monkeypatch.setattr(preload, "_load", slow_load)
    preload.start()
    threading.Timer(0.2, release.set).start()
    prices = resolve_prices([("openai", "gpt-4o")], PriceOverrides())
    order.append("priced")
    assert order == ["loaded", "priced"]
    assert prices.num_rows == 1
