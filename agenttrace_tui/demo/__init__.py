"""Demo agents that write the bundled sample traces (sample_traces/*.jsonl).

Regenerate the samples (byte-identical for the same seed) with:

    python -m agenttrace_tui.demo --out sample_traces --seed 7

The agents are the ones our users wrote for Helicone (../shared/seed: TrackedAgent, AgentWithTools,
CompleteAgent), run through the SDK (`wrap_openai(client, tracer)`, `ManualLogger`, `tracer.session` and
`session.span`) and the real `openai` client. The client talks to a scripted mock LLM over an httpx mock
transport, so there is no network; a fake clock advances by simulated latencies and every random choice
comes from `random.Random` seeded per file. Scenarios: see `agenttrace_tui.demo.scenarios`.

Needs the `openai` extra (pip install 'agenttrace-tui[openai]').
"""

from __future__ import annotations

from agenttrace_tui.demo.generate import DEFAULT_SEED, generate

__all__ = ["DEFAULT_SEED", "generate"]
