"""A weather agent of the OpenAI Agents SDK run streamed (the real openai-agents package, its Responses model on
a mock transport serving SSE: no network) under OpenInference's OpenAIAgentsInstrumentor; prints the finished
spans as OTLP JSON requests, one span a line. Run as a script: the instrumentation is process-wide."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx
from agent_runs import print_otlp
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool
from agents.tracing import set_trace_processors
from openai import AsyncOpenAI
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
set_trace_processors([])  # nothing goes to OpenAI's trace endpoint
OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)



def sse(events: list[dict[str, Any]]) -> str:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)

turn = {"n": 0}


def response(output: list[dict[str, Any]], status: str = "completed") -> dict[str, Any]:
    return {"id": f"resp_{turn['n']}", "object": "response", "created_at": 1, "status": status,
            "model": "gpt-4o-mini-2024-07-18", "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
            "tools": [], "usage": {"input_tokens": 40, "output_tokens": 6, "total_tokens": 46,
                                   "input_tokens_details": {"cached_tokens": 0},
                                   "output_tokens_details": {"reasoning_tokens": 0}}}

def handler(request: httpx.Request) -> httpx.Response:
    """A function call first, then the answer: each a Responses stream."""
    turn["n"] += 1
    if turn["n"] == 1:
        item = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}", "status": "completed"}
    else:
        item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "Sunny in Paris.", "annotations": []}]}
    final = response([item])
    events = [{"type": "response.created", "sequence_number": 0, "response": {**response([], "in_progress"), "usage": None}},
              {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": item},
              {"type": "response.output_item.done", "sequence_number": 2, "output_index": 0, "item": item},
              {"type": "response.completed", "sequence_number": 3, "response": final}]
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(events).encode())



@function_tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"Sunny in {city}"



client = AsyncOpenAI(api_key="sk-test", base_url="http://mock/v1", http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
agent = Agent(name="weather-agent", instructions="Be brief.", tools=[get_weather], model=OpenAIResponsesModel(model="gpt-4o-mini", openai_client=client))


async def main() -> None:
    result = Runner.run_streamed(agent, "Weather in Paris?", run_config=RunConfig(group_id="conv-9"))
    async for _ in result.stream_events():
        pass
    print(result.final_output, file=sys.stderr)


asyncio.run(main())
print_otlp(exporter.get_finished_spans())
