"""The detail pane under a real Textual app: what a span, a folder and a message look like on screen.

Records are built by hand (and from sample_traces/support.jsonl); assertions read the text the pane paints
(its strips, line by line, exactly as the terminal gets them) and `rendered_text()`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot

from agenttrace_tui.store.records import NodeStats, SpanDetail, SpanRow
from agenttrace_tui.tui.widgets.detail import DetailPane

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"
START = datetime(2025, 3, 3, 9, 0, 0, 250000, tzinfo=timezone.utc)
EVIL = "[bold]x[/bold] [link=https://evil.example]click[/link] \x1b[2J\x1b]52;c;ZXZpbA==\x07 end"
"""Markup and terminal control sequences: must appear as text, never interpreted."""


# -- building records --------------------------------------------------------------------------------------


def make_row(**fields: Any) -> SpanRow:
    values: dict[str, Any] = dict(
        span_id="llm-1", session_id="s1", path="/iteration/0", parent_id=None, kind="llm",
        name="chat.completions gpt-4o", model="gpt-4o-2024-08-06", status="ok", error_type=None,
        error_message=None, start_time=START, start_ms=0.0, end_ms=726.0, duration_ms=726.0, in_progress=False,
        cost_usd=0.0123, cost_source="computed", input_tokens=1656, output_tokens=31,
    )
    values.update(fields)
    return SpanRow(**values)


def make_detail(row: SpanRow | None = None, **fields: Any) -> SpanDetail:
    values: dict[str, Any] = dict(
        row=row or make_row(), provider="openai", status_code=200, error=None, first_token_ms=None,
        cache_read_tokens=1536, cache_write_tokens=None, reasoning_tokens=0,
        properties={"Iteration": "0", "Agent-Version": "v1.0"}, user_id="user-1045",
        input=None, output=None,
    )
    values.update(fields)
    return SpanDetail(**values)


def tool_row(span_id: str, name: str, **fields: Any) -> SpanRow:
    values: dict[str, Any] = dict(
        span_id=span_id, path=f"/tools/{name}", kind="tool", name=name, model=None, duration_ms=73.0,
        end_ms=800.0, start_ms=727.0, cost_usd=None, cost_source=None, input_tokens=None, output_tokens=None,
    )
    values.update(fields)
    return make_row(**values)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def detail_from_record(record: dict[str, Any], session_start: datetime, line: int) -> SpanDetail:
    """A trace line's fields as the store hands them to the explorer (cost as the ingest would label it)."""
    start = _time(record["start_time"])
    start_ms = (start - session_start).total_seconds() * 1000
    usage = record.get("usage") or {}
    error = record.get("error")
    duration = record.get("duration_ms")
    row = SpanRow(
        span_id=record["span_id"], session_id=record["session_id"], path=record.get("path", "/"),
        parent_id=record.get("parent_id"), kind=record.get("kind", "other"), name=record.get("name"),
        model=record.get("model"), status=record.get("status", "ok"),
        error_type=error.get("type") if isinstance(error, dict) else None,
        error_message=error.get("message") if isinstance(error, dict) else None,
        start_time=start, start_ms=start_ms, end_ms=start_ms + (duration or 0), duration_ms=duration,
        in_progress="end_time" not in record,
        cost_usd=0.0045 if record.get("kind") == "llm" else None,
        cost_source="computed" if record.get("kind") == "llm" else None,
        input_tokens=usage.get("input_tokens"), output_tokens=usage.get("output_tokens"),
    )
    return SpanDetail(
        row=row, provider=record.get("provider"), status_code=record.get("status_code"), error=error,
        first_token_ms=record.get("first_token_ms"), cache_read_tokens=usage.get("cache_read_tokens"),
        cache_write_tokens=usage.get("cache_write_tokens"), reasoning_tokens=usage.get("reasoning_tokens"),
        properties=record.get("properties") or {}, user_id=record.get("user_id"), input=record.get("input"),
        output=record.get("output"), source_file="sample_traces/support.jsonl", source_line=line,
    )


# -- the app -------------------------------------------------------------------------------------------------


class DetailApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.requested: list[str] = []

    def compose(self) -> ComposeResult:
        yield DetailPane(id="detail")

    def on_detail_pane_tool_span_requested(self, message: DetailPane.ToolSpanRequested) -> None:
        self.requested.append(message.span_id)


def painted(pane: DetailPane) -> list[str]:
    """Every wrapped line of the pane, rendered as for the terminal (scroll position 0)."""
    assert pane.scroll_offset.y == 0
    return [pane.render_line(y).text.rstrip() for y in range(pane.virtual_size.height)]


def segments(pane: DetailPane) -> Iterator[Any]:
    for y in range(pane.virtual_size.height):
        yield from pane.render_line(y)


def visible(pane: DetailPane) -> list[str]:
    """The lines on screen now, through Textual's own line rendering (padding and styles included)."""
    strips = pane.render_lines(Region(0, 0, pane.size.width, pane.size.height))
    return [strip.text.rstrip() for strip in strips]


async def show(pilot: Pilot[None], detail: SpanDetail, tool_spans: dict[str, SpanRow] | None = None) -> DetailPane:
    pane = pilot.app.query_one(DetailPane)
    pane.show_span(detail, tool_spans or {})
    await pilot.pause()
    return pane


def line_of(lines: list[str], text: str) -> int:
    return next(index for index, line in enumerate(lines) if text in line)


# -- chat payloads -----------------------------------------------------------------------------------------


CONVERSATION: dict[str, Any] = {
    "model": "gpt-4o",
    "temperature": 0.2,
    "messages": [
        {"role": "system", "content": "You are the support assistant."},
        {"role": "user", "content": "Which tent should I get?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "search_database", "arguments": "{\"query\": \"tent\", \"limit\": 5}"}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"results\": [{\"sku\": \"SKU-1\"}], \"count\": 1}"},
    ],
    "tools": [{"type": "function", "function": {"name": "search_database", "parameters": {}}},
              {"type": "function", "function": {"name": "fetch_weather", "parameters": {}}}],
}

COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "tool_calls": [
            {"id": "call_2", "type": "function",
             "function": {"name": "fetch_weather", "arguments": "{\"location\": \"Denver\"}"}},
            {"id": "call_3", "type": "function",
             "function": {"name": "send_email", "arguments": "{\"to\": \"a@b.c\"}"}},
        ]}}],
}


async def test_chat_messages_by_role_in_order_with_tool_calls() -> None:
    async with DetailApp().run_test(size=(110, 80)) as pilot:
        pane = await show(pilot, make_detail(input=CONVERSATION, output=COMPLETION))
        lines = painted(pane)
        roles = [line.split()[0] for line in lines if line.startswith("▍")]
        assert roles == ["▍system", "▍user", "▍assistant", "▍tool", "▍assistant"]
        text = "\n".join(lines)
        assert "INPUT" in text and "OUTPUT" in text
        assert text.index("INPUT") < text.index("▍system") < text.index("OUTPUT")
        assert '→ search_database({"query": "tent", "limit": 5})' in text
        assert '→ fetch_weather({"location": "Denver"})' in text
        assert '→ send_email({"to": "a@b.c"})' in text
        assert "tools   search_database, fetch_weather" in text
        assert "params  model=gpt-4o · temperature=0.2" in text
        # a tool message says which call it answers; its JSON result is pretty-printed
        assert "▍tool  #4  answers search_database (call_1)" in text
        assert '  "count": 1' in text
        assert "finish_reason: tool_calls" in text
        # roles have distinct colors
        colors = {}
        for segment in segments(pane):
            if segment.text.startswith("▍"):
                colors[segment.text] = segment.style.color
        assert len(set(colors.values())) == len(colors) == 4


async def test_answered_by_link_and_click_posts_tool_span_requested() -> None:
    tools = {
        "call_2": tool_row("tool-weather", "fetch_weather", duration_ms=319.0),
        "call_3": tool_row("tool-email", "send_email", duration_ms=5067.0, status="error",
                           error_type="ToolTimeout"),
    }
    app = DetailApp()
    async with app.run_test(size=(110, 24)) as pilot:  # short: the links must be scrolled to
        pane = await show(pilot, make_detail(input=CONVERSATION, output=COMPLETION), tools)
        lines = painted(pane)
        text = "\n".join(lines)
        assert "↳ answered by fetch_weather (319ms, ok)" in text
        assert "↳ answered by send_email (5.1s, error: ToolTimeout)" in text
        # an unanswered call shows its id instead of a link
        assert "search_database" in text and "answered by search_database" not in text

        async def click_link(label: str) -> None:
            pane.scroll_to(y=line_of(lines, label), animate=False, immediate=True)
            await pilot.pause()
            on_screen = visible(pane)
            row = line_of(on_screen, label)
            await pilot.click(pane, offset=(on_screen[row].index(label) + 2, row))
            await pilot.pause()

        await click_link("answered by send_email")
        assert app.requested == ["tool-email"]
        await click_link("answered by fetch_weather")
        assert app.requested == ["tool-email", "tool-weather"]


async def test_sample_span_from_support_jsonl() -> None:
    records = [json.loads(line) for line in (SAMPLES / "support.jsonl").read_text("utf-8").splitlines()]
    llm_line = next(number for number, record in enumerate(records, 1)
                    if record.get("kind") == "llm" and "end_time" in record and isinstance(record.get("output"), dict)
                    and len(record["output"]["choices"][0]["message"].get("tool_calls") or []) == 2)
    llm = records[llm_line - 1]
    session_start = _time(next(r for r in records if r.get("session_id") == llm["session_id"])["start_time"])
    calls = llm["output"]["choices"][0]["message"]["tool_calls"]
    tool_spans: dict[str, SpanRow] = {}
    for call in calls:
        number, record = next((n, r) for n, r in enumerate(records, 1) if n > llm_line and "end_time" in r
                              and r.get("kind") == "tool" and r.get("name") == call["function"]["name"]
                              and r.get("session_id") == llm["session_id"])
        tool_spans[call["id"]] = detail_from_record(record, session_start, number).row

    async with DetailApp().run_test(size=(110, 60)) as pilot:
        pane = await show(pilot, detail_from_record(llm, session_start, llm_line), tool_spans)
        text = "\n".join(painted(pane))
        assert text.startswith("LLM  chat.completions gpt-4o")
        assert "model      gpt-4o-2024-08-06 · openai" in text
        assert f"start      {_time(llm['start_time']):%Y-%m-%d %H:%M:%S}." in text and " UTC" in text
        assert "tokens     in 1,665 (cached 1,536) · out 81 (reasoning 0)" in text
        assert "cost       $0.0045 computed" in text
        assert "user       user-1003" in text and "source     sample_traces/support.jsonl:" in text
        assert "Agent-Version  v1.0" in text
        assert "▍system  #1" in text and "▍user  #2" in text
        for call in calls:
            arguments = json.dumps(json.loads(call["function"]["arguments"]), ensure_ascii=False)
            assert f"→ {call['function']['name']}({arguments})" in text
            row = tool_spans[call["id"]]
            assert f"answered by {row.name} (" in text

        # the next iteration's input answers both calls with tool messages
        follow_up = next((n, r) for n, r in enumerate(records, 1) if n > llm_line and "end_time" in r
                         and r.get("kind") == "llm" and r.get("session_id") == llm["session_id"])
        pane = await show(pilot, detail_from_record(follow_up[1], session_start, follow_up[0]), tool_spans)
        text = "\n".join(painted(pane))
        for call in calls:
            assert f"answers {call['function']['name']} ({call['id']})" in text


# -- figures -----------------------------------------------------------------------------------------------


async def test_header_figures_times_tokens_and_first_token() -> None:
    detail = make_detail(first_token_ms=495.4, cache_write_tokens=12, reasoning_tokens=64)
    async with DetailApp().run_test(size=(110, 40)) as pilot:
        text = "\n".join(painted(await show(pilot, detail)))
        assert "start      2025-03-03 09:00:00.250 UTC" in text
        assert "end        2025-03-03 09:00:00.976 UTC · 726ms · first token 495ms" in text
        assert "tokens     in 1,656 (cached 1,536, cache write 12) · out 31 (reasoning 64)" in text
        assert "status     ✓ ok  200" in text
        assert "path       /iteration/0" in text and "span       llm-1" in text


async def test_unpriced_cost_is_never_zero_dollars() -> None:
    async with DetailApp().run_test(size=(100, 40)) as pilot:
        for cost in (None, 0.0):
            row = make_row(model="acme-llm-1", cost_usd=cost, cost_source="unpriced")
            text = "\n".join(painted(await show(pilot, make_detail(row))))
            assert "cost       unpriced" in text
            assert "$0" not in text
        # a call that reported no usage: its cost is unknown for that reason (issue 19, finding 3)
        no_usage = make_row(span_id="n", model="gpt-4o-mini", cost_usd=None, cost_source="unpriced",
                            input_tokens=None, output_tokens=None)
        text = "\n".join(painted(await show(pilot, make_detail(no_usage, cache_read_tokens=None,
                                                                reasoning_tokens=None))))
        assert "cost       unpriced: no usage reported" in text and "tokens" not in text
        reported = make_detail(make_row(span_id="r", cost_usd=0.42, cost_source="reported"))
        text = "\n".join(painted(await show(pilot, reported)))
        assert "cost       $0.42 reported" in text
        # a tool span has no cost line at all
        text = "\n".join(painted(await show(pilot, make_detail(tool_row("t", "search_database")))))
        assert "cost" not in text


async def test_error_type_message_and_collapsed_stack() -> None:
    stack = "Traceback (most recent call last):\n" + "".join(
        f'  File "agent.py", line {n}, in step{n}\n    do_step_{n}()\n' for n in range(1, 6)
    ) + "ToolTimeout: upstream did not answer within 5.0 s\n"
    row = tool_row("t-err", "search_database", status="error", error_type="ToolTimeout",
                   error_message="upstream did not answer within 5.0 s")
    detail = make_detail(row, status_code=-1, error={"type": "ToolTimeout", "message": "upstream did not answer "
                                                     "within 5.0 s", "stack": stack, "retryable": True},
                         input={"query": "tents"})
    async with DetailApp().run_test(size=(100, 50)) as pilot:
        pane = await show(pilot, detail)
        text = "\n".join(painted(pane))
        assert "status     ✗ error  -1 (timeout)" in text
        assert "ERROR  ToolTimeout\nupstream did not answer within 5.0 s" in text
        assert "retryable  true" in text
        assert "▸ stack: last 3 of 12 lines (x: full)" in text
        assert "do_step_5()" in text and "do_step_1()" not in text
        pane.focus()
        await pilot.press("x")
        text = "\n".join(painted(pane))
        assert "do_step_1()" in text and "▾ stack: 12 lines (x: collapse)" in text
        # a plain-string error
        plain_error = make_detail(make_row(span_id="e2", status="error"), error="model overloaded")
        text = "\n".join(painted(await show(pilot, plain_error)))
        assert "ERROR  error\nmodel overloaded" in text


async def test_properties_table() -> None:
    properties = {"Agent-Version": "v1.1", "Tool-Category": "data", "Retry-Attempt": 1, "Canary": True}
    async with DetailApp().run_test(size=(100, 40)) as pilot:
        text = "\n".join(painted(await show(pilot, make_detail(properties=properties))))
        assert "PROPERTIES" in text
        assert "  Agent-Version  v1.1" in text
        assert "  Tool-Category  data" in text
        assert "  Retry-Attempt  1" in text
        assert "  Canary         true" in text


async def test_show_node_figures() -> None:
    node = NodeStats(path="/tools", name="tools", spans=12, self_spans=0, errors=2, llm_calls=0, tool_calls=12,
                     cost_usd=0.0, unpriced=0, input_tokens=0, output_tokens=0, busy_ms=1200.0, wall_ms=4500.0,
                     start_ms=700.0, end_ms=5200.0, child_paths=("/tools/search_database", "/tools/fetch_weather"))
    async with DetailApp().run_test(size=(100, 30)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show_node(node)
        await pilot.pause()
        text = "\n".join(painted(pane))
        assert text.startswith("FOLDER  /tools")
        assert "spans      12 in subtree · 0 here" in text
        assert "calls      0 llm · 12 tool" in text
        assert "busy       1.2s of 4.5s wall (27% busy)" in text
        assert "cost       $0" in text
        assert "errors     2 (17% of spans)" in text
        assert "/tools/search_database, /tools/fetch_weather" in text
        pane.show_node(dataclasses.replace(node, cost_usd=0.0, unpriced=3))
        await pilot.pause()
        assert "cost       3 unpriced" in "\n".join(painted(pane))
        pane.show_node(dataclasses.replace(node, cost_usd=0.5, unpriced=3))
        await pilot.pause()
        assert "cost       $0.50 + 3 unpriced" in "\n".join(painted(pane))


async def test_messages_and_empty_state() -> None:
    async with DetailApp().run_test(size=(80, 20)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        assert visible(pane)[0].strip() == "No span selected"
        pane.show_message("Loading…")
        await pilot.pause()
        assert painted(pane) == ["Loading…"]
        pane.focus()
        await pilot.press("r")  # nothing to show raw: a no-op, not a crash
        assert not pane.raw and painted(pane) == ["Loading…"]
        detail = make_detail(make_row(in_progress=True, duration_ms=None, status="ok"), output=None,
                             input={"query": "x"})
        text = "\n".join(painted(await show(pilot, detail)))
        assert "status     in progress" in text and "end        in progress" in text
        assert "OUTPUT\n(in progress)" in text


# -- raw JSON ----------------------------------------------------------------------------------------------


async def test_raw_toggle_shows_pretty_json_and_back() -> None:
    detail = make_detail(input=CONVERSATION, output=COMPLETION, extra={"custom_field": [1, 2]})
    async with DetailApp().run_test(size=(100, 40)) as pilot:
        pane = await show(pilot, detail)
        pane.focus()
        await pilot.press("r")
        assert pane.raw
        text = "\n".join(painted(pane))
        assert "raw JSON (r: rendered view)" in text
        assert 'INPUT\n{\n  "model": "gpt-4o",\n  "temperature": 0.2,\n  "messages": [' in text
        assert '"finish_reason": "tool_calls"' in text
        assert 'EXTRA\n{\n  "custom_field": [\n    1,\n    2\n  ]\n}' in text
        assert "▍" not in text  # not the chat rendering
        # highlighted: JSON keys and strings are styled
        styled = {segment.text: segment.style for segment in segments(pane)}
        assert styled['"model"'].color is not None
        # raw persists to the next span, and toggles back
        await show(pilot, make_detail(make_row(span_id="other"), input={"a": 1}))
        assert pane.raw and '{\n  "a": 1\n}' in "\n".join(painted(pane))
        await pilot.press("r")
        assert not pane.raw and "INPUT\n{\n  \"a\": 1\n}" in "\n".join(painted(pane))


def test_bindings_have_ids_and_descriptions() -> None:
    bindings = {binding.id: binding for binding in DetailPane.BINDINGS if not isinstance(binding, tuple)}
    assert bindings["detail.raw"].key == "r" and bindings["detail.raw"].action == "toggle_raw"
    assert {"detail.raw", "detail.down", "detail.up", "detail.top", "detail.bottom", "detail.stack"} <= set(bindings)
    assert all(binding.description for binding in bindings.values())


@pytest.mark.slow
async def test_keys_scroll_the_pane() -> None:
    long_output = "\n".join(f"line {n}" for n in range(200))
    async with DetailApp().run_test(size=(80, 20)) as pilot:
        pane = await show(pilot, make_detail(output=long_output))
        pane.focus()
        await pilot.press("j", "j", "j")
        assert pane.scroll_offset.y == 3
        await pilot.press("k")
        assert pane.scroll_offset.y == 2
        await pilot.press("pagedown")
        assert pane.scroll_offset.y > 10
        await pilot.press("G")
        await pilot.pause()
        assert "line 199" in visible(pane)[-1]
        await pilot.press("g")
        await pilot.pause()
        assert pane.scroll_offset.y == 0


# -- untrusted text ----------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_markup_and_control_sequences_are_shown_literally() -> None:
    row = make_row(name=EVIL, model=EVIL, status="error", error_type=EVIL, path="/x/" + EVIL)
    detail = make_detail(
        row, provider=EVIL, user_id=EVIL, error={"type": EVIL, "message": EVIL, "stack": EVIL},
        properties={EVIL: EVIL},
        input={"messages": [{"role": "user", "content": EVIL},
                            {"role": "assistant", "content": None, "tool_calls": [
                                {"id": EVIL, "function": {"name": EVIL, "arguments": json.dumps({"q": EVIL})}}]},
                            {"role": "tool", "tool_call_id": EVIL, "content": EVIL}]},
        output=EVIL, extra={EVIL: EVIL},
    )
    tools = {EVIL: tool_row("t", EVIL, error_type=EVIL, status="error")}
    async with DetailApp().run_test(size=(120, 80)) as pilot:
        pane = await show(pilot, detail, tools)
        for raw in (False, True):
            if raw:
                pane.toggle_raw()
                await pilot.pause()
            lines = painted(pane) + visible(pane)
            text = "\n".join(lines)
            assert "[bold]x[/bold]" in text and "[link=https://evil.example]click[/link]" in text
            assert "␛[2J" in text or "\\u001b[2J" in text
            assert "␛]52;c;ZXZpbA==␇" in text or "\\u001b]52;c;ZXZpbA==\\u0007" in text
            for segment in segments(pane):
                assert "\x1b" not in segment.text and "\x07" not in segment.text
                assert segment.style is None or segment.style.link is None
                assert not (segment.style and segment.style.bold and segment.text == "x")
        # in the rendered view, the ESC of every field is the visible ␛
        pane.toggle_raw()
        await pilot.pause()
        assert "\n".join(painted(pane)).count("␛[2J") >= 10


# -- size ----------------------------------------------------------------------------------------------------


async def test_one_megabyte_output_is_truncated_with_a_note() -> None:
    huge = "x" * 1_000_000
    async with DetailApp().run_test(size=(100, 40)) as pilot:
        pane = await show(pilot, make_detail(output=huge))
        text = pane.rendered_text()
        assert "… 980,000 more characters (r for raw)" in text
        assert len(text) < 30_000
        assert "… 980,000 more characters (r for raw)" in "\n".join(painted(pane))
        # a giant string inside JSON and inside a chat message is cut the same way
        pane = await show(pilot, make_detail(make_row(span_id="b"), output={"result": huge},
                                             input={"messages": [{"role": "user", "content": huge}]}))
        text = pane.rendered_text()
        assert text.count("980,000 more characters (r for raw)") == 2 and len(text) < 60_000
        # the raw view shows more of it, still bounded
        pane.toggle_raw()
        await pilot.pause()
        text = pane.rendered_text()
        assert "900,000 more characters (cut in the raw view)" in text and len(text) < 250_000


def chat_span(messages: int, span_id: str = "many") -> SpanDetail:
    conversation: list[dict[str, Any]] = [{"role": "system", "content": "Be helpful. " * 100}]
    for n in range(messages):
        if n % 3 == 0:
            conversation.append({"role": "user", "content": f"question {n} " + "words " * 80})
        elif n % 3 == 1:
            conversation.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{n}", "function": {"name": "search_database", "arguments": f'{{"n": {n}}}'}}]})
        else:
            rows = ",".join(f'{{"sku": "SKU-{k}", "price": {k}.5}}' for k in range(12))
            conversation.append({"role": "tool", "tool_call_id": f"call_{n - 1}",
                                 "content": f'{{"results": [{rows}]}}'})
    return make_detail(make_row(span_id=span_id), input={"messages": conversation},
                       output={"choices": [{"message": {"role": "assistant", "content": "final answer"}}]})


@pytest.mark.slow
async def test_two_hundred_messages_collapse_to_fit() -> None:
    # What keeps a long chat quick to draw is that the oldest messages are collapsed, not rendered in full:
    # checked here by what is rendered (tests assert no timings; the bench measures them).
    async with DetailApp().run_test(size=(120, 50)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        await pilot.pause()
        pane.show_span(chat_span(200, span_id="many"))
        visible(pane)
        await pilot.pause()
        text = pane.rendered_text()
        roles = [line.split()[0] for line in text.splitlines() if line.startswith("▍")]
        assert len(roles) == 202  # every message keeps its header line, in order
        assert roles[:3] == ["▍system", "▍user", "▍assistant"] and roles[-1] == "▍assistant"
        assert "messages collapsed to fit" in text
        assert "final answer" in text
        # the newest messages are in full; the oldest collapsed ones can be opened with a click
        assert "question 198 words" in text
        lines = painted(pane)
        index = line_of(lines, "▸ show all")
        pane.scroll_to(y=index, animate=False, immediate=True)
        await pilot.pause()
        before = text.count("▸ show all")
        column = lines[index].index("▸ show all")
        await pilot.click(pane, offset=(pane.styles.padding.left + column + 2, 0))
        await pilot.pause()
        assert pane.rendered_text().count("▸ show all") == before - 1


# -- other shapes ------------------------------------------------------------------------------------------


async def test_responses_api_shapes() -> None:
    request = {"model": "gpt-4.1", "instructions": "be brief", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "find laptops"}]},
        {"type": "function_call", "call_id": "call_s", "name": "search_database", "arguments": '{"query": "laptops"}'},
        {"type": "function_call_output", "call_id": "call_s", "output": '{"count": 2}'},
    ]}
    response = {"id": "resp_1", "object": "response", "status": "completed", "output": [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking about laptops"}]},
        {"type": "function_call", "call_id": "call_t", "name": "fetch_weather", "arguments": '{"location": "Oslo"}'},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Here you go."}]},
    ]}
    tools = {"call_t": tool_row("tool-t", "fetch_weather")}
    async with DetailApp().run_test(size=(100, 60)) as pilot:
        text = "\n".join(painted(await show(pilot, make_detail(input=request, output=response), tools)))
        roles = [line.split()[0] for line in text.splitlines() if line.startswith("▍")]
        assert roles == ["▍instructions", "▍user", "▍assistant", "▍tool",
                         "▍reasoning", "▍assistant", "▍assistant"]
        assert "find laptops" in text and "be brief" in text
        assert '→ search_database({"query": "laptops"})' in text
        assert "answers search_database (call_s)" in text
        assert "↳ answered by fetch_weather (73ms, ok)" in text
        assert "Here you go." in text and "thinking about laptops" in text


async def test_tool_span_payloads_are_pretty_json_and_text_is_text() -> None:
    row = tool_row("t1", "search_database")
    detail = make_detail(row, input={"query": "insulated jacket", "limit": 5},
                         output={"results": [{"sku": "SKU-2210", "in_stock": True}], "count": 1})
    async with DetailApp().run_test(size=(100, 40)) as pilot:
        text = "\n".join(painted(await show(pilot, detail)))
        assert text.startswith("TOOL  search_database")
        assert 'INPUT\n{\n  "query": "insulated jacket",\n  "limit": 5\n}' in text
        assert '"in_stock": true' in text
        assert "▍" not in text
        agent = make_detail(make_row(span_id="a1", kind="agent", name="research-agent", model=None),
                            input={"topic": "winter gear"}, output="Expect rain;\npack shells.")
        text = "\n".join(painted(await show(pilot, agent)))
        assert "OUTPUT\nExpect rain;\npack shells." in text


@pytest.mark.parametrize("output", [
    {"role": "assistant", "content": "bare message"},
    [{"role": "assistant", "content": "bare message"}],
])
async def test_bare_assistant_message_outputs(output: Any) -> None:
    async with DetailApp().run_test(size=(100, 40)) as pilot:
        text = "\n".join(painted(await show(pilot, make_detail(output=output))))
        assert "OUTPUT\n▍assistant  #1\nbare message" in text


async def test_otel_events_and_links_are_listed_after_the_output() -> None:
    """A span's OpenTelemetry events (issue 19): when each came after the start, an exception with its message and
    the end of its stack, other attributes compact; its links; hostile text sanitized."""
    start_ns = int(START.timestamp()) * 1_000_000_000 + START.microsecond * 1_000
    stack = "Traceback (most recent call last):\n" + "".join(f'  File "a.py", line {n}\n' for n in range(1, 9)) \
        + "TimeoutError: upstream\x1b[2J"
    otel = {"events": [
        {"time": start_ns + 312_500_000, "name": "First Token Stream Event", "attributes": {}},
        {"time": start_ns + 1_500_000_000, "name": "exception", "attributes": {
            "exception.type": "TimeoutError", "exception.message": "upstream did not answer", "exception.stacktrace": stack,
            "exception.escaped": "False"}},
        {"time": start_ns + 2_000_000_000, "name": "retry\x1b]52;c;aGk=\x07", "attributes": {"attempt": 2}},
    ], "links": [{"trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174",
                  "attributes": {"link.kind": "previous_turn"}}]}
    async with DetailApp().run_test(size=(120, 60)) as pilot:
        text = "\n".join(painted(await show(pilot, make_detail(extra={"otel": otel}))))
    events = text[text.index("EVENTS"):text.index("EXTRA")]
    assert "+312ms   First Token Stream Event" in events
    assert "+1.5s    exception  TimeoutError: upstream did not answer" in events
    assert '  File "a.py", line 8' in events and "line 6" not in events  # the last 3 lines of the stack
    assert "TimeoutError: upstream␛[2J" in events
    assert '+2.0s    retry␛]52;c;aGk=␇  {"attempt": 2}' in events  # control characters shown, not sent
    assert "trace 5b8efff798038103d269b633813fc60c  span eee19b7ec3c1b174" in events and "previous_turn" in events
    assert "\x1b" not in text and "\x07" not in text
    assert text.index("OUTPUT") < text.index("EVENTS") < text.index("LINKS") < text.index("EXTRA")
