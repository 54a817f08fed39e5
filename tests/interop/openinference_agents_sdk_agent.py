"""Three runs of an OpenAI Agents SDK agent under OpenInference's OpenAIAgentsInstrumentor (the real
openinference-instrumentation-openai-agents and openai-agents packages; the Responses model's client on a mock
transport: no network). Each run names its conversation (`RunConfig(group_id=...)`), which the instrumentation
does not record: a run is a session by its trace.

  tool:   the model asks for get_weather, the tool runs, the model answers (Runner.run);
  stream: the same, streamed (Runner.run_streamed: SSE);
  retry:  the first model request is rate limited twice (429: the client's own retry, max_retries=1, then the run
          raises), the app catches the error and runs again.

Prints the finished spans as OTLP JSON requests, one span a line, or posts them with `--collector URL`
(`--grpc HOST:PORT`). Run as a script: the instrumentation replaces the Agents SDK's processors, process-wide."""

from __future__ import annotations

import asyncio
import sys

import httpx
import openai
from agent_runs import MODEL, ResponsesServer, SpanOutput
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool
from agents.tracing import set_trace_processors
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

output = SpanOutput(sys.argv)
provider = TracerProvider(resource=Resource.create({"service.name": "weather-agent"}))
provider.add_span_processor(output.processor)
set_trace_processors([])  # nothing goes to OpenAI's trace endpoint
OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)
server = ResponsesServer(rate_limited={"Oslo": 2})
client = openai.AsyncOpenAI(api_key="sk-test", base_url="http://mock/v1", max_retries=1,
                            http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)))
runs = sys.argv[1:2] if sys.argv[1:2] and not sys.argv[1].startswith("--") else ["tool", "stream", "retry"]


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


agent = Agent(name="weather-agent", instructions="Be brief.", tools=[get_weather],
              model=OpenAIResponsesModel(model=MODEL, openai_client=client))


async def tool_run() -> str:
    return str((await Runner.run(agent, "Weather in Paris?", run_config=RunConfig(group_id="conv-tool"))).final_output)


async def stream_run() -> str:
    result = Runner.run_streamed(agent, "Weather in Rome?", run_config=RunConfig(group_id="conv-stream"))
    async for _ in result.stream_events():
        pass
    return str(result.final_output)


async def retry_run() -> str:
    try:
        await Runner.run(agent, "Weather in Oslo?", run_config=RunConfig(group_id="conv-retry"))
    except openai.RateLimitError:
        pass  # the client retried once already: the app runs again
    return str((await Runner.run(agent, "Weather in Oslo?", run_config=RunConfig(group_id="conv-retry"))).final_output)


async def main() -> None:
    for run in runs:
        print(await {"tool": tool_run, "stream": stream_run, "retry": retry_run}[run](), file=sys.stderr)


asyncio.run(main())
assert len(server.requests) == sum({"tool": 2, "stream": 2, "retry": 4}[run] for run in runs), len(server.requests)
output.finish()
