"""Write the sample trace files: one file per scenario, each run in its own seeded world."""

from __future__ import annotations

from pathlib import Path

from agenttrace_tui.demo.scenarios import SCENARIOS
from agenttrace_tui.demo.world import World

DEFAULT_SEED = 7
"""The seed of the committed sample_traces/."""


def generate(out_dir: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """(Re)write `<out_dir>/<scenario>.jsonl` for every scenario; the same seed gives identical bytes.

    Only the files the demo owns are replaced; anything else in `out_dir` is left alone.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem, scenario in SCENARIOS.items():
        path = out_dir / f"{stem}.jsonl"
        path.unlink(missing_ok=True)  # the tracer appends: start from an empty file
        world = World.create(path, seed, stem)
        try:
            scenario(world)
        finally:
            world.close()
        written.append(path)
    return written
