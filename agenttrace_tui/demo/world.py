"""Everything one demo trace file is written with: a fake clock, a seeded generator, the mock LLM behind a
real wrapped openai client, the manual logger and the tools, all sharing one tracer."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from pathlib import Path

from openai import OpenAI

from agenttrace_tui.demo.clock import FakeClock
from agenttrace_tui.demo.mock_llm import MockLLM
from agenttrace_tui.demo.portable import DemoTracer
from agenttrace_tui.demo.tools import ToolBox
from agenttrace_tui.sdk import ManualLogger, Tracer, wrap_openai


@dataclass
class World:
    name: str
    clock: FakeClock
    rng: random.Random
    tracer: Tracer
    mock: MockLLM
    client: OpenAI
    logger: ManualLogger
    toolbox: ToolBox

    @classmethod
    def create(cls, path: Path, seed: int, name: str) -> World:
        """A world for one file. Its generators are seeded by (seed, name), so files are independent:
        changing one scenario never reshuffles another file."""
        clock = FakeClock()
        rng = random.Random(f"{seed}:{name}")
        id_rng = random.Random(f"{seed}:{name}:ids")
        tracer = DemoTracer(path, clock=clock, ids=lambda: f"{id_rng.getrandbits(64):016x}")
        mock = MockLLM(clock, rng)
        client = wrap_openai(mock.client(), tracer)
        logger = ManualLogger(api_key=None, headers={}, tracer=tracer)
        return cls(name, clock, rng, tracer, mock, client, logger, ToolBox(clock, rng))

    def new_session_id(self) -> str:
        """The seed's session id: f"agent-{int(time.time())}-{9 random characters}"."""
        random_id = "".join(self.rng.choices(string.ascii_lowercase + string.digits, k=9))
        return f"agent-{int(self.clock.timestamp())}-{random_id}"

    def new_user_id(self) -> str:
        return f"user-{self.rng.randint(1000, 1060)}"

    def idle(self, mean_s: float) -> None:
        """Time between two sessions (exponential: arrivals of independent customers)."""
        self.clock.advance(round(self.rng.expovariate(1.0 / mean_s), 3))

    def think(self) -> None:
        """The agent's own work between calls: parsing, prompt building (a few milliseconds)."""
        self.clock.advance(round(self.rng.uniform(0.002, 0.03), 6))

    def close(self) -> None:
        self.tracer.close()
