"""A weather agent of the OpenAI Agents SDK (the real openai-agents package, its model on a mock transport: no
network) under Logfire's instrument_openai_agents; `fail` as the first argument makes its tool fail. Prints the
finished spans as OTLP JSON requests, one span a line. Run as a script: logfire.configure is process-wide."""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
import logfire
from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner, function_tool
from agents.tracing import set_trace_processors
from google.protobuf.json_format import MessageToDict
from openai import AsyncOpenAI
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

CITY = "Nowhere" if sys.argv[1:] == ["fail"] else "Paris"

exporter = InMemorySpanExporter()
logfire.configure(send_to_logfire=False, console=False, additional_span_processors=[SimpleSpanProcessor(exporter)])
set_trace_processors([])  # nothing goes to OpenAI's trace endpoint
logfire.instrument_openai_agents()
answers = 0


def handler(request: httpx.Request) -> httpx.Response:
    """A tool call first, then the answer."""
    global answers
    answers += 1
    if answers == 1:
        message = {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": CITY})}}]}
    else:
        message = {"role": "assistant", "content": "It is sunny in Paris."}
    return httpx.Response(200, json={
        "id": f"c{answers}", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if answers == 1 else "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}})


@function_tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    if city == "Nowhere":
        raise ValueError("no such city")
    return f"Sunny in {city}"


client = AsyncOpenAI(api_key="sk-test", base_url="http://mock/v1",
                     http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
agent = Agent(name="weather-agent", instructions="Be brief.", tools=[get_weather],
              model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client))
asyncio.run(Runner.run(agent, f"Weather in {CITY}?",
                       run_config=RunConfig(group_id="conv-42", workflow_name="Weather workflow")))
logfire.force_flush()
for span in exporter.get_finished_spans():
    print(json.dumps(MessageToDict(encode_spans([span]))))
