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

import contextlib
import os
import sys

os.environ["TRACELOOP_METRICS_ENABLED"] = "false"
os.environ["TRACELOOP_LOGGING_ENABLED"] = "false"

from agent_runs import SpanOutput
from agents.tracing import set_trace_processors
from agents_sdk_runs import run_weather_agent
from traceloop.sdk import Traceloop
from traceloop.sdk.instruments import Instruments

set_trace_processors([])
output = SpanOutput(sys.argv)
with contextlib.redirect_stdout(sys.stderr):
    Traceloop.init(app_name="weather-agent", processor=output.processor,
                   instruments={Instruments.OPENAI, Instruments.OPENAI_AGENTS})
run_weather_agent(sys.argv)
output.finish()
