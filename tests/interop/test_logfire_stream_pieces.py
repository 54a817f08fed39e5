"""A Logfire streamed call is one call however its two spans travel (issue 19, finding 4): the request span,
which ends when the stream opens, and the log written when the stream ends may come in different requests (one
per span with SimpleSpanProcessor; a batch boundary in between with the default 5 s batches). The importer merges
them within a batch, the store's trace assembly when they come apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agent_runs import collected, ingested, run_script

from agenttrace_tui.store import Store

AGENT = Path(__file__).with_name("logfire_agent.py")
CALLS = ("SELECT name, model, input_tokens, output_tokens, round(cost_usd, 9), properties->>'Request-Model', "
         "output IS NOT NULL, (extra->'$.otel.stream_log') IS NOT NULL FROM spans WHERE kind = 'llm' ORDER BY start_time")


def _calls(store: Store) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in store.sql(CALLS)[1]]


@pytest.mark.slow
@pytest.mark.parametrize("semconv", ["1", "2"])
def test_a_stream_sent_one_span_per_request_is_one_call(tmp_path: Path, semconv: str) -> None:
    (tmp_path / "file").mkdir()
    whole = _calls(ingested(run_script(AGENT, "stream", "--semconv", semconv), tmp_path / "file"))
    assert len(whole) == 2 and whole[0][7]  # the streamed call and the plain one; the stream's log merged
    (tmp_path / "collector").mkdir()
    collected(AGENT, tmp_path / "collector", 3, "stream", "--semconv", semconv)
    assert _calls(Store(tmp_path / "collector" / "serve.duckdb")) == whole
