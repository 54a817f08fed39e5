"""A weather agent of the OpenAI Agents SDK (the real openai-agents package, its model on a mock transport: no
network) under Logfire's instrument_openai_agents; `fail` as the first argument makes its tool fail. Prints the
finished spans as OTLP JSON requests, one span a line. Run as a script: logfire.configure is process-wide."""

from __future__ import annotations

import asyncio
import sys

import httpx
import logfire
from agent_runs import print_otlp, tool_then_answer
from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner, function_tool
from agents.tracing import set_trace_processors
from openai import AsyncOpenAI
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

CITY = "Nowhere" if sys.argv[1:] == ["fail"] else "Paris"

exporter = InMemorySpanExporter()
logfire.configure(send_to_logfire=False, console=False, additional_span_processors=[SimpleSpanProcessor(exporter)])
set_trace_processors([])  # nothing goes to OpenAI's trace endpoint
logfire.instrument_openai_agents()


@function_tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    if city == "Nowhere":
        raise ValueError("no such city")
    return f"Sunny in {city}"


handler = tool_then_answer({"city": CITY}, "It is sunny in Paris.",
                           {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57})
client = AsyncOpenAI(api_key="sk-test", base_url="http://mock/v1",
                     http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
agent = Agent(name="weather-agent", instructions="Be brief.", tools=[get_weather],
              model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client))
asyncio.run(Runner.run(agent, f"Weather in {CITY}?",
                       run_config=RunConfig(group_id="conv-42", workflow_name="Weather workflow")))
logfire.force_flush()
print_otlp(exporter.get_finished_spans())
