"""The OpenAI Agents SDK weather agent that the Agents SDK instrumentation scripts run (OpenInference's,
OpenLLMetry's), on the Responses model with its client on a mock transport (no network). Imported only by those
scripts, after they set up their instrumentation: it imports the Agents SDK.

  tool:   the model asks for get_weather, the tool runs, the model answers (Runner.run);
  stream: the same, streamed (Runner.run_streamed: SSE);
  retry:  the first model request is rate limited twice (429: the client's own retry, max_retries=1, then the run
          raises), the app catches the error and runs again.

Each run names its conversation (`RunConfig(group_id=...)`)."""

from __future__ import annotations

import asyncio
import sys

import httpx
import openai
from agent_runs import MODEL, ResponsesServer
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool

REQUESTS = {"tool": 2, "stream": 2, "retry": 4}
"""Model requests per run: the tool call and the answer; the retry's 429, its retry, and the run again."""


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


def run_weather_agent(argv: list[str]) -> None:
    """The runs named by argv[1] (else all three), each answer printed to stderr."""
    server = ResponsesServer(rate_limited={"Oslo": 2})
    client = openai.AsyncOpenAI(api_key="sk-test", base_url="http://mock/v1", max_retries=1,
                                http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)))
    agent = Agent(name="weather-agent", instructions="Be brief.", tools=[get_weather],
                  model=OpenAIResponsesModel(model=MODEL, openai_client=client))
    runs = argv[1:2] if argv[1:2] and not argv[1].startswith("--") else list(REQUESTS)

    async def tool_run() -> str:
        return str((await Runner.run(agent, "Weather in Paris?", run_config=RunConfig(group_id="conv-tool"))
                    ).final_output)

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
        return str((await Runner.run(agent, "Weather in Oslo?", run_config=RunConfig(group_id="conv-retry"))
                    ).final_output)

    async def main() -> None:
        for run in runs:
            print(await {"tool": tool_run, "stream": stream_run, "retry": retry_run}[run](), file=sys.stderr)

    asyncio.run(main())
    assert len(server.requests) == sum(REQUESTS[run] for run in runs), len(server.requests)
