"""Three runs of a weather agent under OpenLLMetry (traceloop-sdk: `Traceloop.init` with its OpenAI
instrumentation only, opentelemetry-instrumentation-openai; the real packages, the openai client on a mock
transport: no network). Each run is a `@workflow` whose session is set with
`Traceloop.set_association_properties({"session_id": ...})` inside it (so on the spans started after, not on
the workflow span itself); the tool is a `@tool` function.

  tool:   the model asks for get_weather, the tool runs, the model answers;
  stream: one streamed call (usage in the stream);
  retry:  the first call is rate limited twice (429: the client's own retry, max_retries=1, then it raises), the
          app catches the error and calls again.

Traceloop.init is given our span processor (no exporter of its own), metrics and logs off, and prints its banner
on stdout: sent to stderr here. Prints the finished spans as OTLP JSON requests, one span a line, or posts them
with `--collector URL`. Run as a script: Traceloop.init is process-wide and patches the openai classes."""

from __future__ import annotations

import contextlib
import json
import os
import sys

os.environ["TRACELOOP_METRICS_ENABLED"] = "false"
os.environ["TRACELOOP_LOGGING_ENABLED"] = "false"
os.environ["TRACELOOP_TELEMETRY"] = "false"

import httpx
import openai
from agent_runs import MODEL, WEATHER_TOOL, ChatServer, SpanOutput
from traceloop.sdk import Traceloop
from traceloop.sdk.decorators import tool, workflow
from traceloop.sdk.instruments import Instruments

output = SpanOutput(sys.argv)
with contextlib.redirect_stdout(sys.stderr):
    Traceloop.init(app_name="weather-agent", processor=output.processor, telemetry_enabled=False,
                   instruments={Instruments.OPENAI})
server = ChatServer(rate_limited={"Oslo": 2})
client = openai.OpenAI(api_key="sk-test", base_url="http://mock/v1", max_retries=1,
                       http_client=httpx.Client(transport=httpx.MockTransport(server)))
runs = sys.argv[1:2] if sys.argv[1:2] and not sys.argv[1].startswith("--") else ["tool", "stream", "retry"]


@tool(name="get_weather")
def get_weather(city: str) -> str:
    return f"Sunny in {city}"


@workflow(name="weather")
def tool_run(question: str) -> str | None:
    Traceloop.set_association_properties({"session_id": "sess-tool", "user_id": "user-7"})
    messages: list[dict[str, object]] = [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": question}]
    reply = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    call = reply.choices[0].message.tool_calls[0]
    result = get_weather(**json.loads(call.function.arguments))
    messages += [reply.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": result}]
    return client.chat.completions.create(model=MODEL, messages=messages,
                                          tools=[WEATHER_TOOL]).choices[0].message.content


@workflow(name="weather")
def stream_run(question: str) -> str:
    Traceloop.set_association_properties({"session_id": "sess-stream"})
    stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": question}],
                                            stream=True, stream_options={"include_usage": True})
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


@workflow(name="weather")
def retry_run(question: str) -> str | None:
    Traceloop.set_association_properties({"session_id": "sess-retry"})
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
    print(function(question), file=sys.stderr)
assert len(server.requests) == sum({"tool": 2, "stream": 1, "retry": 3}[run] for run in runs)  # 429, retry, again
output.finish()
