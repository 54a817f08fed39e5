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

import sys

from agent_runs import SpanOutput
from agents.tracing import set_trace_processors
from agents_sdk_runs import run_weather_agent
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

output = SpanOutput(sys.argv)
provider = TracerProvider(resource=Resource.create({"service.name": "weather-agent"}))
provider.add_span_processor(output.processor)
set_trace_processors([])  # nothing goes to OpenAI's trace endpoint
OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)
run_weather_agent(sys.argv)
output.finish()
