"""A weather agent traced by Langfuse's own SDK (the real langfuse package: `@observe` and its `langfuse.openai`
wrapper, the client on a mock transport: no network): a call that asks for a tool, the tool, the answer. Langfuse
exports through the span exporter it is given (an in-memory one here); prints the finished spans as OTLP JSON
requests, one span a line. Run as a script: Langfuse's client is process-wide."""

from __future__ import annotations

import json
import sys

import httpx
from agent_runs import print_otlp, tool_then_answer
from langfuse import Langfuse, observe
from langfuse.openai import OpenAI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
langfuse = Langfuse(public_key="pk-lf-test", secret_key="sk-lf-test", base_url="http://127.0.0.1:9",
                    span_exporter=exporter, flush_at=1)
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}]
USAGE = {"prompt_tokens": 126, "completion_tokens": 9, "total_tokens": 135,  # OpenAI's, details included
         "completion_tokens_details": {"reasoning_tokens": 0}, "prompt_tokens_details": {"cached_tokens": 0}}
handler = tool_then_answer({"city": "Paris"}, "Sunny in Paris.", USAGE)
client = OpenAI(api_key="sk-test", base_url="http://mock/v1",
                http_client=httpx.Client(transport=httpx.MockTransport(handler)))


@observe(as_type="tool")
def get_weather(city: str) -> str:
    return f"Sunny in {city}"


@observe()
def weather_agent(question: str) -> str | None:
    messages: list[dict[str, object]] = [{"role": "user", "content": question}]
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    call = reply.choices[0].message.tool_calls[0]
    result = get_weather(**json.loads(call.function.arguments))
    messages += [reply.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": result}]
    return client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS).choices[0].message.content


print(weather_agent("Weather in Paris?"), file=sys.stderr)
langfuse.flush()
print_otlp(exporter.get_finished_spans())
