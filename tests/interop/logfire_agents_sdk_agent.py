"""Runs of an OpenAI Agents SDK agent under Logfire's `instrument_openai_agents` (the real openai-agents and logfire
packages; the model's client on a mock transport: no network). Each run names its conversation
(`RunConfig(group_id=...)`). The model is the SDK's default, the Responses API (ResponsesServer), or with `--chat`
the Chat Completions one (ChatServer).

  tool:   the model asks for get_weather, the tool runs, the model answers (Runner.run);
  stream: the same, streamed (Runner.run_streamed);
  retry:  the first model request is rate limited twice (429: the client's own retry, max_retries=1, then the run
          raises), the app catches the error and runs again;
  fail:   (not run by default) the tool raises: the SDK answers the model with the error, the model answers.

Prints the finished spans as OTLP JSON requests, one span a line, or posts them with `--collector URL`
(`--grpc HOST:PORT`). Run as a script: logfire.configure and the Agents SDK's trace processors are process-wide."""

from __future__ import annotations

import asyncio
import sys

import httpx
import logfire
import openai
from agent_runs import MODEL, ChatServer, ResponsesServer, SpanOutput
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    function_tool,
)
from agents.tracing import set_trace_processors

output = SpanOutput(sys.argv)
logfire.configure(send_to_logfire=False, console=False, service_name="weather-agent",
                  additional_span_processors=[output.processor])
set_trace_processors([])  # nothing goes to OpenAI's trace endpoint
logfire.instrument_openai_agents()
chat = "--chat" in sys.argv
server = ChatServer(rate_limited={"Oslo": 2}) if chat else ResponsesServer(rate_limited={"Oslo": 2})
client = openai.AsyncOpenAI(api_key="sk-test", base_url="http://mock/v1", max_retries=1,
                            http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)))
runs = sys.argv[1:2] if sys.argv[1:2] and not sys.argv[1].startswith("--") else ["tool", "stream", "retry"]
failing = {"on": False}


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    if failing["on"]:
        raise ValueError("no such city")
    return f"Sunny in {city}"


model = (OpenAIChatCompletionsModel(model=MODEL, openai_client=client) if chat
         else OpenAIResponsesModel(model=MODEL, openai_client=client))
agent = Agent(name="weather-agent", instructions="Be brief.", tools=[get_weather], model=model)


def config(run: str) -> RunConfig:
    return RunConfig(group_id=f"conv-{run}", workflow_name="Weather workflow")


async def tool_run() -> str:
    return str((await Runner.run(agent, "Weather in Paris?", run_config=config("tool"))).final_output)


async def stream_run() -> str:
    result = Runner.run_streamed(agent, "Weather in Rome?", run_config=config("stream"))
    async for _ in result.stream_events():
        pass
    return str(result.final_output)


async def retry_run() -> str:
    try:
        await Runner.run(agent, "Weather in Oslo?", run_config=config("retry"))
    except openai.RateLimitError:
        pass  # the client retried once already: the app runs again
    return str((await Runner.run(agent, "Weather in Oslo?", run_config=config("retry"))).final_output)


async def fail_run() -> str:
    failing["on"] = True
    return str((await Runner.run(agent, "Weather in Paris?", run_config=config("fail"))).final_output)


async def main() -> None:
    for run in runs:
        print(await {"tool": tool_run, "stream": stream_run, "retry": retry_run, "fail": fail_run}[run](),
              file=sys.stderr)


asyncio.run(main())
# A tool run is two requests; the chat model's stream is one (the mock streams text only), the Responses one two.
per_run = {"tool": 2, "stream": 1 if chat else 2, "retry": 4, "fail": 2}
assert len(server.requests) == sum(per_run[run] for run in runs), len(server.requests)
logfire.force_flush()
output.finish()
