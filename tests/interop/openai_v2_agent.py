"""Three runs of a weather agent under the official GenAI instrumentation, opentelemetry-instrumentation-openai-v2
with opentelemetry-util-genai (the real packages; the openai client on a mock transport: no network), content
captured on the spans (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY`): each run is an
`invoke_agent` of util-genai with its own conversation id, the chat spans come from openai-v2, the tool span from
util-genai's `handler.tool`.

  tool:   the model asks for get_weather, the tool runs, the model answers;
  stream: one streamed call (usage in the stream);
  retry:  the first call is rate limited twice (429: the client's own retry, max_retries=1, then it raises), the
          app catches the error and calls again.

Prints the finished spans as OTLP JSON requests, one span a line, or posts them with `--collector URL`. Run as a
script: the instrumentation patches the openai classes for the whole process."""

from __future__ import annotations

import json
import os
import sys

os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
# util-genai ≥ 1.1b0 is always on the latest experimental conventions (is_experimental_mode() is True); older
# releases needed this opt-in, which is kept so the script means the same with them.
os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"

import httpx
import openai
from agent_runs import MODEL, WEATHER_TOOL, ChatServer, SpanOutput
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.util.genai.handler import TelemetryHandler
from opentelemetry.util.genai.invocation import AgentInvocation

output = SpanOutput(sys.argv)
provider = TracerProvider(resource=Resource.create({"service.name": "weather-agent"}))
provider.add_span_processor(output.processor)
OpenAIInstrumentor().instrument(tracer_provider=provider)
handler = TelemetryHandler(tracer_provider=provider)
server = ChatServer(rate_limited={"Oslo": 2})
client = openai.OpenAI(api_key="sk-test", base_url="http://mock/v1", max_retries=1,
                       http_client=httpx.Client(transport=httpx.MockTransport(server)))
runs = sys.argv[1:2] if sys.argv[1:2] and not sys.argv[1].startswith("--") else ["tool", "stream", "retry"]


def get_weather(city: str) -> str:
    return f"Sunny in {city}"


def agent(conversation: str) -> AgentInvocation:
    """An invoke_agent span naming its conversation (util-genai 1.1b0 writes it on this span only)."""
    invocation = handler.invoke_local_agent(agent_name="weather-agent", request_model=MODEL)
    invocation.conversation_id = conversation
    return invocation


def tool_run() -> None:
    with agent("conv-tool"):
        messages: list[dict[str, object]] = [{"role": "system", "content": "Be brief."},
                                             {"role": "user", "content": "Weather in Paris?"}]
        reply = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
        call = reply.choices[0].message.tool_calls[0]
        with handler.tool(call.function.name, tool_call_id=call.id) as tool:
            tool.arguments = json.loads(call.function.arguments)
            tool.tool_result = get_weather(**tool.arguments)
        messages += [reply.choices[0].message.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": call.id, "content": tool.tool_result}]
        answer = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
        print(answer.choices[0].message.content, file=sys.stderr)


def stream_run() -> None:
    with agent("conv-stream"):
        stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Weather in Rome?"}],
                                                stream=True, stream_options={"include_usage": True})
        print("".join(c.choices[0].delta.content or "" for c in stream if c.choices), file=sys.stderr)


def retry_run() -> None:
    with agent("conv-retry"):
        messages = [{"role": "user", "content": "Weather in Oslo?"}]
        try:
            client.chat.completions.create(model=MODEL, messages=messages)
        except openai.RateLimitError:
            pass  # the client retried once already: the app tries again
        print(client.chat.completions.create(model=MODEL, messages=messages).choices[0].message.content,
              file=sys.stderr)


for run in runs:
    {"tool": tool_run, "stream": stream_run, "retry": retry_run}[run]()
assert len(server.requests) == sum({"tool": 2, "stream": 1, "retry": 3}[run] for run in runs)  # 429, retry, again
output.finish()
