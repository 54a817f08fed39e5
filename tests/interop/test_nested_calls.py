"""One call recorded twice, a framework's LLM span around the client library's (OpenLLMetry's Agents SDK and
OpenAI instrumentations, both on in a default Traceloop.init), counts once however its spans arrive: in one
batch (the importer) or apart, child first as SimpleSpanProcessor sends them (the store's trace assembly)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from agent_runs import collected
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agenttrace_tui.store import Store
from agenttrace_tui.store.write.ingest import expand_inputs, ingest
from interop_helpers import protobuf_dict

SCRIPT = Path(__file__).with_name("traceloop_agents_sdk_agent.py")


def _run(inner_id: str | None, outer_id: str | None) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")

    def call(name: str, response_id: str | None) -> dict[str, object]:
        attributes: dict[str, object] = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                                         "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}
        if response_id is not None:
            attributes["gen_ai.response.id"] = response_id
        return attributes

    with tracer.start_as_current_span("agent", attributes={"session.id": "nested-1"}):
        with tracer.start_as_current_span("openai.response", attributes=call("outer", outer_id)):
            with tracer.start_as_current_span("openai.chat", attributes=call("inner", inner_id)):
                pass
    return list(exporter.get_finished_spans())  # children first


def _session(tmp_path: Path, pieces: list[list[ReadableSpan]]) -> tuple[object, ...]:
    db = tmp_path / "nested.duckdb"
    for index, piece in enumerate(pieces):
        path = tmp_path / f"piece-{index}.jsonl"
        path.write_bytes(orjson.dumps(protobuf_dict(piece)) + b"\n")
        assert ingest(db, expand_inputs([str(path)])[0]).ok
    _, rows = Store(db).sql("SELECT spans, llm_calls, input_tokens, output_tokens FROM sessions")
    return tuple(rows[0])


@pytest.mark.parametrize("ids", [("resp_1", "resp_1"), (None, "resp_1"), (None, None)],
                         ids=["same-id", "one-id", "no-ids"])
@pytest.mark.parametrize("split", ["one-batch", "child-first", "parent-first"])
def test_a_call_inside_a_call_counts_once(tmp_path: Path, ids: tuple[str | None, str | None], split: str) -> None:
    spans = _run(*ids)
    pieces = {"one-batch": [spans], "child-first": [[s] for s in spans],
              "parent-first": [[s] for s in reversed(spans)]}[split]
    assert _session(tmp_path, pieces) == (3, 1, 100, 10)


@pytest.mark.parametrize("split", ["one-batch", "child-first"])
def test_two_responses_are_two_calls(tmp_path: Path, split: str) -> None:
    spans = _run("resp_2", "resp_1")
    assert _session(tmp_path, [spans] if split == "one-batch" else [[s] for s in spans]) == (3, 2, 200, 20)


@pytest.mark.slow
def test_the_agents_sdk_run_over_the_collector_counts_each_call_once(tmp_path: Path) -> None:
    """The real instrumentations, one request per span, children first."""
    spans = collected(SCRIPT, tmp_path, 23)
    calls = [s for s in spans.values() if s["kind"] == "llm"]
    wrappers = [s for s in spans.values() if s["kind"] == "other" and s["name"] == "openai.response"]
    assert wrappers and all(w["input_tokens"] is None for w in wrappers)
    assert sum(c["input_tokens"] or 0 for c in calls) == 3 * 120  # three runs with a tool call, as from a file
