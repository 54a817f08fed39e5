"""Three runs of a weather agent traced by Langfuse's own SDK (the real langfuse package, 5.2.0: `@observe` and
its `langfuse.openai` wrapper; the client on a mock transport: no network). Each run is an `@observe` function
inside `propagate_attributes(session_id=..., user_id=...)` (copied onto every span started inside); the tool is an
`@observe(as_type="tool")` function; the LLM spans come from `langfuse.openai`.

  tool:   the model asks for get_weather, the tool runs, the model answers;
  stream: one streamed call (usage in the stream);
  retry:  the first call is rate limited twice (429: the client's own retry, max_retries=1, then it raises), the
          app catches the error and calls again.

Langfuse exports through the span exporter it is given: an in-memory one (the spans printed as OTLP JSON requests,
one span a line), or with `--collector URL` (`--grpc HOST:PORT`) the real OTLPSpanExporter. Run as a script:
Langfuse's client is process-wide."""

from __future__ import annotations

import json
import sys

import httpx
import openai
from agent_runs import MODEL, WEATHER_TOOL, ChatServer, SpanOutput
from langfuse import Langfuse, observe, propagate_attributes
from langfuse.openai import OpenAI

output = SpanOutput(sys.argv)
langfuse = Langfuse(public_key="pk-lf-test", secret_key="sk-lf-test", base_url="http://127.0.0.1:9",
                    span_exporter=output.exporter, flush_at=1)
server = ChatServer(rate_limited={"Oslo": 2})
client = OpenAI(api_key="sk-test", base_url="http://mock/v1", max_retries=1,
                http_client=httpx.Client(transport=httpx.MockTransport(server)))
runs = sys.argv[1:2] if sys.argv[1:2] and not sys.argv[1].startswith("--") else ["tool", "stream", "retry"]


@observe(as_type="tool")
def get_weather(city: str) -> str:
    return f"Sunny in {city}"


@observe(name="weather-agent", as_type="agent")
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


@observe(name="weather-agent", as_type="agent")
def stream_run(question: str) -> str:
    stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": question}],
                                            stream=True, stream_options={"include_usage": True})
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


@observe(name="weather-agent", as_type="agent")
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
    with propagate_attributes(session_id=f"sess-{run}", user_id="user-7"):
        print(function(question), file=sys.stderr)
assert len(server.requests) == sum({"tool": 2, "stream": 1, "retry": 3}[run] for run in runs)  # 429, retry, again
langfuse.flush()
output.finish()
