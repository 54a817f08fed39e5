"""Langfuse's own SDK (issue 19, findings 2 and 7): `langfuse.openai` writes OpenAI's usage object, read as such
(it was null: $0); its output is the assistant's message itself, read as a response so its tool call links to the
`@observe(as_type="tool")` span that answered it; the tool's input is its arguments, not `{args, kwargs}`. The spans
come from the real langfuse package (tests/interop/langfuse_agent.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agenttrace_tui.store import Store
from agenttrace_tui.store.write.ingest import expand_inputs, ingest
from agenttrace_tui.tui.loaders.session import SessionLoader

AGENT = Path(__file__).with_name("langfuse_agent.py")


def test_a_langfuse_run_has_its_tokens_and_its_tool_call_answered(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(AGENT)], capture_output=True, check=False, timeout=300)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    trace = tmp_path / "langfuse.jsonl"
    trace.write_bytes(run.stdout)
    assert ingest(tmp_path / "store.duckdb", expand_inputs([str(trace)])[0]).ok
    store = Store(tmp_path / "store.duckdb")
    _, sessions = store.sql("SELECT session_id, llm_calls, tool_calls, input_tokens, output_tokens FROM sessions")
    (session_id, llm_calls, tool_calls, input_tokens, output_tokens), = sessions
    assert (llm_calls, tool_calls, input_tokens, output_tokens) == (2, 1, 252, 18)
    _, calls = store.sql("SELECT span_id FROM spans WHERE kind = 'llm' ORDER BY start_time")
    _, tools = store.sql("SELECT span_id, name, input FROM spans WHERE kind = 'tool'")
    (tool_id, tool_name, tool_input), = tools
    assert tool_name == "get_weather" and tool_input == '{"city":"Paris"}'
    detail, links = SessionLoader(store, str(session_id)).read_detail(str(calls[0][0]))
    assert detail is not None and {call_id: row.span_id for call_id, row in links.items()} == {"call_1": tool_id}
