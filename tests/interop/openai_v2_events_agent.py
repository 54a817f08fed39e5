"""The weather agent's tool run under opentelemetry-instrumentation-openai-v2 with util-genai, message content
captured as log events only (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=EVENT_ONLY`): the chat spans carry
no content, util-genai emits a `gen_ai.client.inference.operation.details` log record per call, in the call's
span context. Prints the spans and the log records as OTLP JSON requests (one span or record a line), the logs
first, as a logs exporter (1 s batches) sends them before the spans (5 s). Run as a script: the instrumentation
patches the openai classes for the whole process."""

from __future__ import annotations

import json
import os
import sys

os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "EVENT_ONLY"
os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"

import httpx
import openai
import orjson
from agent_runs import MODEL, WEATHER_TOOL, ChatServer, print_otlp
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util.genai.handler import TelemetryHandler

resource = Resource.create({"service.name": "weather-agent"})
spans = InMemorySpanExporter()
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
logs = InMemoryLogRecordExporter()
logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
handler = TelemetryHandler(tracer_provider=tracer_provider, logger_provider=logger_provider)
server = ChatServer()
client = openai.OpenAI(api_key="sk-test", base_url="http://mock/v1", max_retries=0,
                       http_client=httpx.Client(transport=httpx.MockTransport(server)))

invocation = handler.invoke_local_agent(agent_name="weather-agent", request_model=MODEL)
invocation.conversation_id = "conv-events"
with invocation:
    messages: list[dict[str, object]] = [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "Weather in Paris?"}]
    reply = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    call = reply.choices[0].message.tool_calls[0]
    with handler.tool(call.function.name, tool_call_id=call.id) as tool:
        tool.arguments = json.loads(call.function.arguments)
        tool.tool_result = f"Sunny in {tool.arguments['city']}"
    messages += [reply.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": tool.tool_result}]
    client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])

tracer_provider.force_flush()
logger_provider.force_flush()
for record in logs.get_finished_logs():
    print(orjson.dumps(MessageToDict(encode_logs([record]))).decode())
print_otlp(spans.get_finished_spans())
