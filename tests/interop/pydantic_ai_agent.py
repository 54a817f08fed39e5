"""Three runs of a Pydantic AI agent instrumented through Logfire (`logfire.instrument_pydantic_ai()`; the real
pydantic-ai-slim, logfire and openai packages, the OpenAI model's client on a mock transport: no network). Each
run names its conversation (`conversation_id=`, Pydantic AI's `gen_ai.conversation.id`).

  tool:   the model asks for get_weather, the tool runs, the model answers;
  stream: one streamed run (`run_stream`, usage in the stream);
  retry:  the model request is rate limited twice (429: the client's own retry, max_retries=1, then the agent
          run raises ModelHTTPError), the app catches the error and runs the agent again (a tool run).

Prints the finished spans as OTLP JSON requests, one span a line, or posts them with `--collector URL`. Run as a
script: logfire.configure is process-wide."""

from __future__ import annotations

import asyncio
import sys

import httpx
import logfire
import openai
from agent_runs import MODEL, ChatServer, SpanOutput
from pydantic_ai import Agent
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

output = SpanOutput(sys.argv)
logfire.configure(send_to_logfire=False, console=False, service_name="weather-agent",
                  additional_span_processors=[output.processor])
logfire.instrument_pydantic_ai()
server = ChatServer(rate_limited={"Oslo": 2})
client = openai.AsyncOpenAI(api_key="sk-test", base_url="http://mock/v1", max_retries=1,
                            http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)))
model = OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=client))
agent = Agent(model, name="weather-agent", instructions="Be brief.")
runs = sys.argv[1:2] if sys.argv[1:2] and not sys.argv[1].startswith("--") else ["tool", "stream", "retry"]


@agent.tool_plain
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


async def tool_run() -> str:
    return (await agent.run("Weather in Paris?", conversation_id="conv-tool")).output


async def stream_run() -> str:
    async with agent.run_stream("Weather in Rome?", conversation_id="conv-stream") as result:
        return "".join([piece async for piece in result.stream_text(delta=True)])


async def retry_run() -> str:
    try:
        await agent.run("Weather in Oslo?", conversation_id="conv-retry")
    except ModelHTTPError:
        pass  # the client retried once already: the app runs the agent again
    return (await agent.run("Weather in Oslo?", conversation_id="conv-retry")).output


async def main() -> None:
    for run in runs:
        print(await {"tool": tool_run, "stream": stream_run, "retry": retry_run}[run](), file=sys.stderr)


asyncio.run(main())
# The retried run: 429, the client's retry (429), then the run again: a tool call and the answer.
assert len(server.requests) == sum({"tool": 2, "stream": 1, "retry": 4}[run] for run in runs)
logfire.force_flush()
output.finish()
