"""Three runs of a weather agent under Logfire's OpenAI instrumentation (`logfire.instrument_openai`; the real
logfire and openai packages, the client on a mock transport: no network). Each run is a Logfire span
`agent run {name}` naming its agent and its conversation with the GenAI keys (`gen_ai.agent.name`,
`gen_ai.conversation.id`, attributes the app sets: Logfire has no session key of its own, and its default scrubbing
replaces a `session.id` value, which matches its pattern `session`); the tool is a Logfire span written with the GenAI tool keys (`gen_ai.operation.name` execute_tool,
`gen_ai.tool.name`, `gen_ai.tool.call.id`, `.arguments`, `.result`): Logfire has no tool span of its own.

  tool:   the model asks for get_weather, the tool runs, the model answers;
  stream: one streamed call (usage in the stream), then a plain call in the same run;
  retry:  the first call is rate limited twice (429: the client's own retry, max_retries=1, then it raises), the
          app catches the error and calls again.

`--semconv 1` writes Logfire's first attribute format (`request_data` / `response_data`), else its default, 2
(GenAI `gen_ai.input.messages` / `gen_ai.output.messages`): `instrument_openai(version=...)`. Prints the finished
spans as OTLP JSON requests, one span a line, or posts them with `--collector URL` (`--grpc HOST:PORT`). Run as a
script: logfire.configure is process-wide."""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx
import logfire
import openai
from agent_runs import MODEL, WEATHER_TOOL, ChatServer, SpanOutput

output = SpanOutput(sys.argv)
semconv = int(sys.argv[sys.argv.index("--semconv") + 1]) if "--semconv" in sys.argv else 2
logfire.configure(send_to_logfire=False, console=False, service_name="weather-agent",
                  additional_span_processors=[output.processor])
server = ChatServer(rate_limited={"Oslo": 2})
client = openai.OpenAI(api_key="sk-test", base_url="http://mock/v1", max_retries=1,
                       http_client=httpx.Client(transport=httpx.MockTransport(server)))
logfire.instrument_openai(client, version=semconv)  # type: ignore[arg-type]
runs = sys.argv[1:2] if sys.argv[1:2] and not sys.argv[1].startswith("--") else ["tool", "stream", "retry"]


def get_weather(call: Any) -> str:
    arguments = json.loads(call.function.arguments)
    with logfire.span("execute_tool {gen_ai.tool.name}", **{
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": call.function.name,
            "gen_ai.tool.call.id": call.id, "gen_ai.tool.call.arguments": call.function.arguments}) as span:
        result = f"Sunny in {arguments['city']}"
        span.set_attribute("gen_ai.tool.call.result", result)
    return result


def tool_run() -> str | None:
    messages: list[dict[str, object]] = [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "Weather in Paris?"}]
    reply = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    call = reply.choices[0].message.tool_calls[0]
    result = get_weather(call)
    messages += [reply.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": result}]
    return client.chat.completions.create(model=MODEL, messages=messages,
                                          tools=[WEATHER_TOOL]).choices[0].message.content


def stream_run() -> str | None:
    stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Weather in Rome?"}],
                                            stream=True, stream_options={"include_usage": True})
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    return text + " / " + str(client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "And tomorrow in Rome?"}]).choices[0].message.content)


def retry_run() -> str | None:
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    try:
        client.chat.completions.create(model=MODEL, messages=messages)
    except openai.RateLimitError:
        pass  # the client retried once already: the app tries again
    return client.chat.completions.create(model=MODEL, messages=messages).choices[0].message.content


for run in runs:
    with logfire.span("agent run {name}", name="weather", **{"gen_ai.agent.name": "weather-agent",
                                                              "gen_ai.conversation.id": f"conv-{run}"}):
        print({"tool": tool_run, "stream": stream_run, "retry": retry_run}[run](), file=sys.stderr)
assert len(server.requests) == sum({"tool": 2, "stream": 2, "retry": 3}[run] for run in runs)  # 429, retry, again
logfire.force_flush()
output.finish()
