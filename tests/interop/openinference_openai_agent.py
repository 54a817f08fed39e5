"""Three runs of a weather agent under OpenInference's OpenAI instrumentation (the real
openinference-instrumentation-openai and openai packages; the client on a mock transport: no network). Each run is
an `@tracer.agent` function of OpenInference's own tracer inside `using_session(...)` (which copies `session.id`
onto every span started inside); the tool is an `@tracer.tool` function; the LLM spans come from the instrumentor.

  tool:   the model asks for get_weather, the tool runs, the model answers;
  stream: one streamed call (usage in the stream);
  retry:  the first call is rate limited twice (429: the client's own retry, max_retries=1, then it raises), the
          app catches the error and calls again.

Prints the finished spans as OTLP JSON requests, one span a line, or posts them with `--collector URL`. Run as a
script: the instrumentation patches the openai classes for the whole process."""

from __future__ import annotations

import json
import sys

import httpx
import openai
from agent_runs import MODEL, WEATHER_TOOL, ChatServer, SpanOutput
from openinference.instrumentation import TracerProvider, using_session
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.resources import Resource

output = SpanOutput(sys.argv)
provider = TracerProvider(resource=Resource.create({"service.name": "weather-agent"}))
provider.add_span_processor(output.processor)
OpenAIInstrumentor().instrument(tracer_provider=provider)
tracer = provider.get_tracer("weather-agent")
server = ChatServer(rate_limited={"Oslo": 2})
client = openai.OpenAI(api_key="sk-test", base_url="http://mock/v1", max_retries=1,
                       http_client=httpx.Client(transport=httpx.MockTransport(server)))
runs = sys.argv[1:2] if sys.argv[1:2] and not sys.argv[1].startswith("--") else ["tool", "stream", "retry"]


@tracer.tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


@tracer.agent(name="weather-agent")
def tool_run(question: str) -> str | None:
    messages: list[dict[str, object]] = [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": question}]
    reply = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    call = reply.choices[0].message.tool_calls[0]
    result = get_weather(**json.loads(call.function.arguments))
    messages += [reply.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": result}]
    return client.chat.completions.create(model=MODEL, messages=messages,
                                          tools=[WEATHER_TOOL]).choices[0].message.content


@tracer.agent(name="weather-agent")
def stream_run(question: str) -> str:
    stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": question}],
                                            stream=True, stream_options={"include_usage": True})
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


@tracer.agent(name="weather-agent")
def retry_run(question: str) -> str | None:
    messages = [{"role": "user", "content": question}]
    try:
        client.chat.completions.create(model=MODEL, messages=messages)
    except openai.RateLimitError:
        pass  # the client retried once already: the app tries again
    return client.chat.completions.create(model=MODEL, messages=messages).choices[0].message.content


QUESTIONS = {"tool": (tool_run, "Weather in Paris?"), "stream": (stream_run, "Weather in Rome?"),
             "retry": (retry_run, "Weather in Oslo?")}
for run in runs:
    function, question = QUESTIONS[run]
    with using_session(f"sess-{run}"):
        print(function(question), file=sys.stderr)
assert len(server.requests) == sum({"tool": 2, "stream": 1, "retry": 3}[run] for run in runs)  # 429, retry, again
output.finish()
