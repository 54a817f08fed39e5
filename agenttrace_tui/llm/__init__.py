"""Shared LLM vocabulary: usage, reported cost, OpenAI chat/responses payloads and streams, Helicone request rules.

Used by the SDK (sdk/), the importers (interop/), the collector (serve/) and the explorer (tui/), so none of
them imports another for these rules. Pure Python: never DuckDB, pyarrow, Textual, rich, openai or the SDK.

- usage.py            provider usage objects → the format's `usage`; a provider-reported cost
- openai_streams.py   Chat Completions chunks / Responses API events → the final response
- payloads.py         OpenAI chat/responses payloads read as messages, tool calls and their results
- helicone.py         Helicone manual-logger request rules (`_type` → kind, name, input)
"""
