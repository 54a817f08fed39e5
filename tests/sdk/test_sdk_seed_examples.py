"""The seed's three Python examples (shared/seed/helicone-agent-tracing.txt), copied as users have them.

The only changes are the ones the SDK promises: the OpenAI client construction is wrapped in
`wrap_openai(..., Tracer())`, and `from helicone_helpers import HeliconeManualLogger` becomes
`from agenttrace_tui import ManualLogger as HeliconeManualLogger`. (`search_database`'s body is the seed's
placeholder `[...]`, which json.dumps can't encode; it is filled in, as a user's would be.)
The network is replaced underneath: httpx2's real HTTP transport is patched to the fake API.
"""

from __future__ import annotations

import json
import os
import random
import string
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from openai import OpenAI
from sdk_helpers import (
    API_KEY,
    HELICONE_KEY,
    FakeOpenAI,
    assert_no_secrets,
    chat_completion,
    merged_spans,
    read_lines,
    tool_call,
    validate,
)

from agenttrace_tui import ManualLogger as HeliconeManualLogger
from agenttrace_tui import Tracer, wrap_openai

# ---- seed: Initialize Agent with Session Tracking (Python) ----------------------------------------------


class TrackedAgent:
    def __init__(self):
        self.client = wrap_openai(OpenAI(
            api_key=os.getenv("OPENAI_API_KEY"),
            base_url="https://oai.helicone.ai/v1",
            default_headers={
                "Helicone-Auth": f"Bearer {os.getenv('HELICONE_API_KEY')}"
            }
        ), Tracer())
        random_id = ''.join(random.choices(string.ascii_lowercase + string.digits, k=9))
        self.session_id = f"agent-{int(time.time())}-{random_id}"

    def make_request(self, path: str, messages: list):
        return self.client.chat.completions.create(
            model="gpt-4o",
            messages=messages,
            extra_headers={
                "Helicone-Session-Id": self.session_id,
                "Helicone-Session-Name": "AI Agent",
                "Helicone-Session-Path": path,
                "Helicone-Property-Agent-Version": "v1.0"
            }
        )


# ---- seed: Track Tool Calls with Manual Logger (Python) -------------------------------------------------


class AgentWithTools:
    def __init__(self):
        self.logger = HeliconeManualLogger(
            api_key=os.getenv("HELICONE_API_KEY"),
            headers={}
        )
        self.session_id = f"agent-{int(time.time())}"

    def execute_tool(self, tool_name: str, parameters: dict):
        """Track custom tool execution"""
        def tool_operation(result_recorder):
            try:
                # Execute your tool logic here
                if tool_name == "search_database":
                    result = self.search_database(**parameters)
                elif tool_name == "fetch_weather":
                    result = self.fetch_weather(**parameters)
                else:
                    result = {"error": f"Unknown tool: {tool_name}"}

                result_recorder.append_results(result)
                return result
            except Exception as e:
                error = {"error": str(e)}
                result_recorder.append_results(error)
                return error

        return self.logger.log_request(
            request={
                "_type": "tool",
                "toolName": tool_name,
                "input": parameters
            },
            operation=tool_operation,
            additional_headers={
                "Helicone-Session-Id": self.session_id,
                "Helicone-Session-Path": f"/tools/{tool_name}",
                "Helicone-Property-Tool-Category": self.get_tool_category(tool_name)
            }
        )

    def search_database(self, query: str, limit: int = 10):
        # Your database search logic
        return {"results": [f"{query}-{n}" for n in range(limit)], "count": limit}

    def fetch_weather(self, location: str):
        # Your weather API logic
        return {"temp": 72, "condition": "sunny"}

    def get_tool_category(self, tool_name: str) -> str:
        categories = {
            "search_database": "data",
            "fetch_weather": "external-api",
            "send_email": "notification"
        }
        return categories.get(tool_name, "general")


# ---- seed: Build Complete Agent Loop (Python) -----------------------------------------------------------


class CompleteAgent:
    def __init__(self):
        self.client = wrap_openai(OpenAI(
            api_key=os.getenv("OPENAI_API_KEY"),
            base_url="https://oai.helicone.ai/v1",
            default_headers={
                "Helicone-Auth": f"Bearer {os.getenv('HELICONE_API_KEY')}"
            }
        ), Tracer())
        self.tool_executor = AgentWithTools()
        self.session_id = f"agent-{int(time.time())}"
        self.conversation_history = []

    def run(self, user_query: str) -> str:
        """Main agent loop with full tracing"""
        self.conversation_history.append({
            "role": "user",
            "content": user_query
        })

        max_iterations = 5
        for i in range(max_iterations):
            # Get LLM decision
            response = self.client.chat.completions.create(
                model="gpt-4o",
                messages=self.conversation_history,
                tools=self.get_tool_definitions(),
                extra_headers={
                    "Helicone-Session-Id": self.session_id,
                    "Helicone-Session-Name": "Complete Agent",
                    "Helicone-Session-Path": f"/iteration/{i}",
                    "Helicone-Property-Iteration": str(i)
                }
            )

            message = response.choices[0].message

            # If no tool calls, we have final answer
            if not message.tool_calls:
                return message.content

            # Execute tool calls
            self.conversation_history.append(message)
            for tool_call in message.tool_calls:
                tool_result = self.tool_executor.execute_tool(
                    tool_call.function.name,
                    json.loads(tool_call.function.arguments)
                )
                self.conversation_history.append({
                    "role": "tool",
                    "tool_call_id": tool_call.id,
                    "content": json.dumps(tool_result)
                })

        return "Agent exceeded maximum iterations"

    def get_tool_definitions(self):
        return [
            {
                "type": "function",
                "function": {
                    "name": "search_database",
                    "description": "Search the product database",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "query": {"type": "string"},
                            "limit": {"type": "integer"}
                        },
                        "required": ["query"]
                    }
                }
            },
            {
                "type": "function",
                "function": {
                    "name": "fetch_weather",
                    "description": "Get current weather for a location",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "location": {"type": "string"}
                        },
                        "required": ["location"]
                    }
                }
            }
        ]


# ---- the tests ------------------------------------------------------------------------------------------


@pytest.fixture
def trace_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "agent.jsonl"
    monkeypatch.setenv("AGENTTRACE_FILE", str(path))
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("HELICONE_API_KEY", HELICONE_KEY)
    return path


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """Every httpx2 HTTP request in the process goes to the fake API instead of the network."""
    fake = FakeOpenAI()
    mock = httpx2.MockTransport(fake)
    monkeypatch.setattr(httpx2.HTTPTransport, "handle_request", lambda self, request: mock.handle_request(request))
    yield fake


def records_of(trace_file: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records = read_lines(trace_file)
    validate(records)
    assert_no_secrets(trace_file)
    spans = list(merged_spans(records).values())
    return [s for s in spans if s["kind"] == "llm"], [s for s in spans if s["kind"] == "tool"]


def test_tracked_agent(trace_file: Path, fake_api: FakeOpenAI) -> None:
    agent = TrackedAgent()
    response = agent.make_request("/initial-query", [{"role": "user", "content": "Reset my password"}])
    agent.make_request("/classify-query", [{"role": "user", "content": "Reset my password"}])
    assert response.choices[0].message.content == "Hello!"
    assert fake_api.requests[0].url == "https://oai.helicone.ai/v1/chat/completions"

    llm_spans, tool_spans = records_of(trace_file)
    assert tool_spans == []
    assert [s["path"] for s in llm_spans] == ["/initial-query", "/classify-query"]
    for span in llm_spans:
        assert span["session_id"] == agent.session_id
        assert span["session_name"] == "AI Agent"
        assert span["properties"] == {"Agent-Version": "v1.0"}
        assert span["name"] == "chat.completions gpt-4o" and span["model"] == "gpt-4o-2024-08-06"
        assert span["usage"]["input_tokens"] == 120 and span["status"] == "ok"


def test_agent_with_tools(trace_file: Path) -> None:
    tools = AgentWithTools()
    found = tools.execute_tool("search_database", {"query": "laptops", "limit": 2})
    weather = tools.execute_tool("fetch_weather", {"location": "SF"})
    unknown = tools.execute_tool("send_email", {"to": "a@b.c"})
    failed = tools.execute_tool("fetch_weather", {"city": "SF"})  # wrong argument: the seed catches it

    assert found == {"results": ["laptops-0", "laptops-1"], "count": 2}
    assert weather == {"temp": 72, "condition": "sunny"}
    _, spans = records_of(trace_file)
    assert [s["name"] for s in spans] == ["search_database", "fetch_weather", "send_email", "fetch_weather"]
    assert [s["path"] for s in spans] == [
        "/tools/search_database", "/tools/fetch_weather", "/tools/send_email", "/tools/fetch_weather",
    ]
    assert [s["properties"]["Tool-Category"] for s in spans] == ["data", "external-api", "notification", "external-api"]
    assert all(s["session_id"] == tools.session_id for s in spans)
    assert spans[0]["input"] == {"query": "laptops", "limit": 2}
    assert spans[0]["output"] == found
    assert spans[2]["output"] == unknown == {"error": "Unknown tool: send_email"}
    assert "unexpected keyword argument 'city'" in spans[3]["output"]["error"] == failed["error"]
    assert all(s["status"] == "ok" for s in spans)  # the seed turns failures into results, not exceptions


def test_complete_agent_loop(trace_file: Path, fake_api: FakeOpenAI) -> None:
    fake_api.reply(
        chat_completion(
            content=None, tool_calls=[tool_call("call_1", "search_database", {"query": "umbrellas", "limit": 2})]
        ),
        chat_completion(
            content=None, tool_calls=[tool_call("call_2", "fetch_weather", {"location": "San Francisco"})]
        ),
        chat_completion(content="It's sunny, 72°F: no umbrella needed."),
    )
    agent = CompleteAgent()
    result = agent.run("What's the weather like in San Francisco?")
    assert result == "It's sunny, 72°F: no umbrella needed."

    llm_spans, tool_spans = records_of(trace_file)
    assert [s["path"] for s in llm_spans] == ["/iteration/0", "/iteration/1", "/iteration/2"]
    assert [s["properties"] for s in llm_spans] == [{"Iteration": "0"}, {"Iteration": "1"}, {"Iteration": "2"}]
    assert all(s["session_id"] == agent.session_id and s["session_name"] == "Complete Agent" for s in llm_spans)
    first_calls = llm_spans[0]["output"]["choices"][0]["message"]["tool_calls"]
    assert first_calls[0]["function"]["name"] == "search_database"
    assert [t["function"]["name"] for t in llm_spans[0]["input"]["tools"]] == ["search_database", "fetch_weather"]
    # the last call saw the whole conversation, tool results included
    last_messages = llm_spans[2]["input"]["messages"]
    assert [m["role"] for m in last_messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert json.loads(last_messages[2]["content"]) == {"results": ["umbrellas-0", "umbrellas-1"], "count": 2}

    assert [s["path"] for s in tool_spans] == ["/tools/search_database", "/tools/fetch_weather"]
    assert [s["properties"] for s in tool_spans] == [{"Tool-Category": "data"}, {"Tool-Category": "external-api"}]
    assert all(s["session_id"] == agent.tool_executor.session_id for s in tool_spans)
    assert tool_spans[1]["output"] == {"temp": 72, "condition": "sunny"}

    starts = [s["start_time"] for s in sorted(llm_spans + tool_spans, key=lambda s: s["start_time"])]
    assert starts == sorted(starts)
    assert [s["path"] for s in sorted(llm_spans + tool_spans, key=lambda s: s["start_time"])] == [
        "/iteration/0", "/tools/search_database", "/iteration/1", "/tools/fetch_weather", "/iteration/2",
    ]


def test_complete_agent_hits_the_iteration_limit(trace_file: Path, fake_api: FakeOpenAI) -> None:
    fake_api.reply(*[
        chat_completion(content=None, tool_calls=[tool_call(f"call_{i}", "search_database", {"query": f"q{i}"})])
        for i in range(5)
    ])
    assert CompleteAgent().run("loop forever") == "Agent exceeded maximum iterations"
    llm_spans, tool_spans = records_of(trace_file)
    assert [s["path"] for s in llm_spans] == [f"/iteration/{i}" for i in range(5)]
    assert len(tool_spans) == 5 and tool_spans[4]["output"]["count"] == 10
