"""An OpenTelemetry trace that arrives in pieces (issue 19, finding 1): however its spans are split across files,
requests or follow rounds, and in whatever order, the store ends as if the whole trace had come at once. Spans
are made by the real OpenTelemetry SDK and written by its OTLP encoder; the collector is fed by the real
OTLPSpanExporter with SimpleSpanProcessor (one request per span, children first)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from serve_helpers import serving, wait_for_count

from agenttrace_tui.store import Store
from agenttrace_tui.store.write.follow import Follower
from agenttrace_tui.store.write.ingest import expand_inputs, ingest
from interop_helpers import protobuf_dict, spec_dict

CONVERSATION = "conv-7"


def _run(tracer: trace.Tracer) -> None:
    """A weather agent handing over to a summarizer; only the root names the conversation (as the GenAI
    instrumentation does with gen_ai.conversation.id)."""
    with tracer.start_as_current_span("invoke_agent weather-agent", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "weather-agent",
            "gen_ai.conversation.id": CONVERSATION}):
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 8}):
            pass
        with tracer.start_as_current_span("execute_tool get_weather", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"}):
            with tracer.start_as_current_span("GET /forecast"):
                pass
        with tracer.start_as_current_span("invoke_agent summarizer", attributes={
                "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "summarizer"}):
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 300, "gen_ai.usage.output_tokens": 40}):
                pass


def _finished_spans() -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "weather"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _run(provider.get_tracer("test"))
    return list(exporter.get_finished_spans())  # in the order they ended: children first


SPANS = _finished_spans()


def _placement(db: Path | Store) -> tuple[dict[str, tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Each span's session, path, properties and orphan mark; each session's rollup."""
    store = db if isinstance(db, Store) else Store(db)
    _, spans = store.sql("SELECT span_id, session_id, session_name, path, properties, extra->'$.orphan_of' "
                         "FROM spans ORDER BY span_id")
    _, sessions = store.sql("SELECT session_id, name, spans, llm_calls, tool_calls, input_tokens, output_tokens "
                            "FROM sessions ORDER BY session_id")
    return {str(row[0]): tuple(row[1:]) for row in spans}, [tuple(row) for row in sessions]


def _ingest_pieces(tmp_path: Path, pieces: Sequence[Sequence[ReadableSpan]], name: str, encode: Any = protobuf_dict,
                   ) -> Path:
    """Each piece a file of its own (one OTLP request), ingested one after the other."""
    db = tmp_path / f"{name}.duckdb"
    for index, piece in enumerate(pieces):
        path = tmp_path / f"{name}-{index}.jsonl"
        path.write_bytes(orjson.dumps(encode(list(piece))) + b"\n")
        result = ingest(db, expand_inputs([str(path)])[0])
        assert result.ok and result.stored == len(piece), result
    return db


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The trace in one request: what every split must end as."""
    return _placement(_ingest_pieces(tmp_path_factory.mktemp("whole"), [SPANS], "whole"))


def test_the_whole_trace_is_one_named_session_with_paths_and_agents(whole: Any) -> None:
    spans, sessions = whole
    by_name = {SPANS[i].name + ("" if SPANS[i].parent else " (root)"): spans[format(s.context.span_id, "016x")]
               for i, s in enumerate(SPANS)}
    assert sessions == [(CONVERSATION, "weather-agent", 6, 2, 1, 420, 48)]
    assert {row[0] for row in spans.values()} == {CONVERSATION}
    assert by_name["GET /forecast"][2] == "/invoke_agent weather-agent/execute_tool get_weather/GET ∕forecast"
    assert by_name["invoke_agent weather-agent (root)"][2] == "/invoke_agent weather-agent"
    summarizer_chat = next(row for row in spans.values() if row[2].endswith("summarizer/chat gpt-4o-mini"))
    assert orjson.loads(summarizer_chat[3]) == {"Agent-Name": "summarizer", "Parent-Agent": "weather-agent"}
    assert all(row[4] is None for row in spans.values())  # no orphans


def _splits() -> list[Any]:
    """One request per span in the order they ended (children first, as SimpleSpanProcessor sends them), the
    reverse, and random groupings in random orders."""
    cases = [pytest.param([[s] for s in SPANS], id="one-per-request-children-first"),
             pytest.param([[s] for s in reversed(SPANS)], id="one-per-request-root-first")]
    for seed in range(4):
        rng = random.Random(seed)
        shuffled = rng.sample(SPANS, len(SPANS))
        cuts = sorted(rng.sample(range(1, len(SPANS)), 2))
        pieces = [shuffled[:cuts[0]], shuffled[cuts[0]:cuts[1]], shuffled[cuts[1]:]]
        cases.append(pytest.param(pieces, id=f"three-pieces-seed{seed}"))
    return cases


@pytest.mark.parametrize("pieces", _splits())
def test_a_trace_in_pieces_ends_as_the_whole_trace(tmp_path: Path, whole: Any, pieces: list[list[ReadableSpan]]
                                                   ) -> None:
    assert _placement(_ingest_pieces(tmp_path, pieces, "pieces", encode=spec_dict)) == whole


def test_a_trace_in_pieces_on_each_backend(new_store: Callable[[], Store], tmp_path: Path, whole: Any) -> None:
    """A team store (DuckLake on PostgreSQL, in the slow run) places the pieces as a file store does."""
    store = new_store()
    for index, span in enumerate(SPANS):  # one request per span, children first
        path = tmp_path / f"piece-{index}.jsonl"
        path.write_bytes(orjson.dumps(protobuf_dict([span])) + b"\n")
        assert store.ingest([str(path)]).ok
    assert _placement(store) == whole


def test_a_followed_file_settles_each_round(tmp_path: Path, whole: Any) -> None:
    trace_file = tmp_path / "followed.jsonl"
    trace_file.write_bytes(b"")
    db = tmp_path / "followed.duckdb"
    follower = Follower(db, [str(trace_file)])
    for span in SPANS:  # children first, one request a round
        with open(trace_file, "ab") as handle:
            handle.write(orjson.dumps(protobuf_dict([span])) + b"\n")
        result = follower.poll()
        assert result is not None and result.stored == 1
    assert _placement(db) == whole


def test_the_collector_places_spans_posted_one_request_each_children_first(tmp_path: Path, whole: Any) -> None:
    """The real exporter with SimpleSpanProcessor: a request per span as it ends; each one stored (a spool segment
    ingested) before the next is sent, as when a run's spans arrive minutes apart."""
    with serving(tmp_path) as server:
        provider = TracerProvider(resource=Resource.create({"service.name": "weather"}))
        processor = _WaitingProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", timeout=30), server.db)
        provider.add_span_processor(processor)
        _run(provider.get_tracer("test"))
        provider.shutdown()
        assert processor.exported == len(SPANS)
    placed, sessions = _placement(server.db)
    expected_spans, expected_sessions = whole
    assert sessions == expected_sessions
    # Span ids differ from run to run: compare the placements.
    assert sorted(placed.values(), key=repr) == sorted(expected_spans.values(), key=repr)


class _WaitingProcessor(SimpleSpanProcessor):
    """SimpleSpanProcessor, then a wait until the collector stored the span (polled, bounded by rounds)."""

    def __init__(self, exporter: OTLPSpanExporter, db: Path) -> None:
        super().__init__(exporter)
        self.db = db
        self.exported = 0

    def on_end(self, span: ReadableSpan) -> None:
        super().on_end(span)
        self.exported += 1
        assert wait_for_count(self.db, self.exported) == self.exported


@pytest.mark.parametrize("split", ["one-batch", "child-first"])
def test_a_session_named_by_its_root_reads_logfires_rendered_name(tmp_path: Path, split: str) -> None:
    """Logfire names a span by its template and renders it in `logfire.msg`: the session's name is the rendered
    one, whether the root comes with its child or after it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("logfire")
    with tracer.start_as_current_span("handling request {id}", attributes={
            "logfire.msg_template": "handling request {id}", "logfire.msg": "handling request 42",
            "logfire.span_type": "span"}):
        with tracer.start_as_current_span("lookup"):
            pass
    spans = list(exporter.get_finished_spans())  # the child first
    db = _ingest_pieces(tmp_path, [spans] if split == "one-batch" else [[s] for s in spans], "logfire")
    _, rows = Store(db).sql("SELECT name FROM sessions")
    assert [row[0] for row in rows] == ["handling request 42"]
