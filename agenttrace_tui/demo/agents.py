"""The seed's agents, as our users wrote them for Helicone: TrackedAgent, AgentWithTools, CompleteAgent.

The code follows ../shared/seed/helicone-agent-tracing.txt: Helicone session headers in `extra_headers`,
tools logged through the manual logger's `log_request(request, operation, additional_headers)`. What the
demo changes: the openai client and the logger are passed in (built on the mock LLM and the demo's tracer
instead of from environment variables), time and randomness come from the demo's clock and generator, the
tool set includes send_email, and headers/paths can be extended (multi-agent runs, experiments).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from openai import OpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessageFunctionToolCall

from agenttrace_tui.demo.mock_llm import ELIDED_POLICY_MARKER
from agenttrace_tui.demo.tools import TOOL_CATEGORIES, ToolBox
from agenttrace_tui.sdk import ManualLogger, ResultRecorder

SYSTEM_PROMPT: Final = (
    "You are the support assistant of Trailhead Outfitters. Use the tools to look up products, "
    f"weather and to email customers. {ELIDED_POLICY_MARKER}"
)

MAX_ITERATIONS_ANSWER: Final = "Agent exceeded maximum iterations"
"""What the seed's CompleteAgent returns when the loop runs out."""

TOOL_DEFINITIONS: Final[list[dict[str, Any]]] = [
    {
        "type": "function",
        "function": {
            "name": "search_database",
            "description": "Search the product database",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "fetch_weather",
            "description": "Get current weather for a location",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "send_email",
            "description": "Email the customer",
            "parameters": {
                "type": "object",
                "properties": {"to": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}},
                "required": ["to", "subject"],
            },
        },
    },
]
"""The seed's get_tool_definitions(), plus send_email."""


class TrackedAgent:
    """The seed's TrackedAgent: one LLM request per call, placed by Helicone session headers."""

    def __init__(
        self,
        client: OpenAI,
        session_id: str,
        *,
        model: str = "gpt-4o",
        agent_version: str = "v1.0",
        session_name: str = "AI Agent",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.session_id = session_id
        self.model = model
        self.agent_version = agent_version
        self.session_name = session_name
        self.headers = dict(headers or {})

    def make_request(self, path: str, messages: list[Any]) -> ChatCompletion:
        return self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            extra_headers={
                "Helicone-Session-Id": self.session_id,
                "Helicone-Session-Name": self.session_name,
                "Helicone-Session-Path": path,
                "Helicone-Property-Agent-Version": self.agent_version,
                **self.headers,
            },
        )


class AgentWithTools:
    """The seed's AgentWithTools: each tool call is logged with the manual logger under /tools/<name>.

    As in the seed, a failing tool is caught inside the operation and reported as {"error": ...}.
    `path_prefix` and `headers` extend the seed for multi-agent runs (e.g. /researcher/tools/<name>).
    """

    def __init__(
        self,
        logger: ManualLogger,
        toolbox: ToolBox,
        session_id: str,
        *,
        path_prefix: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.logger = logger
        self.toolbox = toolbox
        self.session_id = session_id
        self.path_prefix = path_prefix
        self.headers = dict(headers or {})

    def execute_tool(self, tool_name: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """Track custom tool execution."""

        def tool_operation(result_recorder: ResultRecorder) -> dict[str, Any]:
            try:
                result = self.run(tool_name, parameters)
                result_recorder.append_results(result)
                return result
            except Exception as e:
                error = {"error": str(e)}
                result_recorder.append_results(error)
                return error

        return self.log_tool(tool_name, parameters, tool_operation)

    def log_tool(
        self,
        tool_name: str,
        parameters: dict[str, Any],
        operation: Callable[[ResultRecorder], dict[str, Any]],
        extra_headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return self.logger.log_request(
            request={"_type": "tool", "toolName": tool_name, "input": parameters},
            operation=operation,
            additional_headers={
                "Helicone-Session-Id": self.session_id,
                "Helicone-Session-Path": f"{self.path_prefix}/tools/{tool_name}",
                "Helicone-Property-Tool-Category": self.get_tool_category(tool_name),
                **self.headers,
                **(extra_headers or {}),
            },
        )

    def run(self, tool_name: str, parameters: dict[str, Any]) -> dict[str, Any]:
        return self.toolbox.call(tool_name, **parameters)

    def get_tool_category(self, tool_name: str) -> str:
        return TOOL_CATEGORIES.get(tool_name, "general")


class CompleteAgent:
    """The seed's CompleteAgent: ask the model, run the tools it asks for, repeat until an answer.

    Each decision is a chat completion at /iteration/<i> with Helicone headers; tools go through the
    AgentWithTools executor. Subclasses change how a decision is made (`decide`) or a tool is run
    (`run_tool`), e.g. with retries.
    """

    max_iterations = 5

    def __init__(
        self,
        client: OpenAI,
        tool_executor: AgentWithTools,
        session_id: str,
        *,
        model: str = "gpt-4o",
        session_name: str = "Complete Agent",
        path_prefix: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.tool_executor = tool_executor
        self.session_id = session_id
        self.model = model
        self.session_name = session_name
        self.path_prefix = path_prefix
        self.headers = dict(headers or {})
        self.conversation_history: list[Any] = [{"role": "system", "content": SYSTEM_PROMPT}]

    def run(self, user_query: str) -> str:
        """Main agent loop with full tracing."""
        self.conversation_history.append({"role": "user", "content": user_query})
        for i in range(self.max_iterations):
            # Get LLM decision
            response = self.decide(i)
            message = response.choices[0].message
            # If no tool calls, we have final answer
            if not message.tool_calls:
                return message.content or ""
            # Execute tool calls
            self.conversation_history.append(message)
            for tool_call in message.tool_calls:
                if not isinstance(tool_call, ChatCompletionMessageFunctionToolCall):
                    continue
                tool_result = self.run_tool(tool_call.function.name, json.loads(tool_call.function.arguments))
                self.conversation_history.append(
                    {"role": "tool", "tool_call_id": tool_call.id, "content": json.dumps(tool_result)}
                )
        return MAX_ITERATIONS_ANSWER

    def decide(self, iteration: int) -> ChatCompletion:
        return self.client.chat.completions.create(
            model=self.model,
            messages=self.conversation_history,
            tools=self.get_tool_definitions(),  # type: ignore[arg-type]  # plain dicts, as in the seed
            extra_headers=self.iteration_headers(iteration),
        )

    def iteration_headers(self, iteration: int, **properties: str) -> dict[str, str]:
        headers = {
            "Helicone-Session-Id": self.session_id,
            "Helicone-Session-Name": self.session_name,
            "Helicone-Session-Path": f"{self.path_prefix}/iteration/{iteration}",
            "Helicone-Property-Iteration": str(iteration),
            **self.headers,
        }
        headers.update((f"Helicone-Property-{name.replace('_', '-')}", value) for name, value in properties.items())
        return headers

    def run_tool(self, tool_name: str, parameters: dict[str, Any]) -> dict[str, Any]:
        return self.tool_executor.execute_tool(tool_name, parameters)

    def get_tool_definitions(self) -> list[dict[str, Any]]:
        return TOOL_DEFINITIONS
