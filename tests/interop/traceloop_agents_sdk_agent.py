"""Three runs of an OpenAI Agents SDK agent under OpenLLMetry (traceloop-sdk `Traceloop.init` with its OpenAI and
OpenAI Agents instrumentations, as its default would enable both; the real openai-agents package, its Responses
model on a mock transport: no network). The SDK's own trace processors are removed first (nothing goes to
OpenAI's trace endpoint); OpenLLMetry's is added by the instrumentation.

  tool:   the model asks for get_weather, the tool runs, the model answers (Runner.run);
  stream: the same, streamed (Runner.run_streamed);
  retry:  the first model request is rate limited twice (429: the client's own retry, max_retries=1, then the run
          raises), the app catches the error and runs again.

Prints the finished spans as OTLP JSON requests, one span a line, or posts them with `--collector URL`. Run as a
script: Traceloop.init and the Agents SDK's trace processors are process-wide."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

os.environ["TRACELOOP_METRICS_ENABLED"] = "false"
os.environ["TRACELOOP_LOGGING_ENABLED"] = "false"

import httpx
import openai
from agent_runs import MODEL, ResponsesServer, SpanOutput
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool
from agents.tracing import set_trace_processors
from traceloop.sdk import Traceloop
from traceloop.sdk.instruments import Instruments

set_trace_processors([])
output = SpanOutput(sys.argv)
with contextlib.redirect_stdout(sys.stderr):
    Traceloop.init(app_name="weather-agent", processor=output.processor,
                   instruments={Instruments.OPENAI, Instruments.OPENAI_AGENTS})
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
