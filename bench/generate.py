"""Seeded synthetic traces shaped like agent traffic, for trying the explorer and ingest at scale.

    python bench/generate.py --sessions 100000 --out /tmp/big.jsonl
    python bench/generate.py --sessions 1 --spans-per-session 10000 --prefix wide --out /tmp/wide.jsonl

Sessions of 5-50 spans (LLM calls and tool calls over /iteration/N and /tools/NAME paths), a few errors,
Agent-Version and Tier properties, payloads of a few hundred bytes. The same seed gives the same file.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import orjson

TOOLS = ("search_database", "fetch_weather", "send_email", "lookup_order", "calculator")
MODELS = ("gpt-4o", "gpt-4o-mini", "o3-mini", "acme-llm-1")
NAMES = ("Customer Support", "Research Assistant", "Trip Planner", "Order Desk")
BASE_EPOCH = 1_740_000_000.0


def session_records(rng: random.Random, index: int, spans: int, prefix: str = "bench") -> list[bytes]:
    session_id = f"{prefix}-{index:08d}"
    name = f"{rng.choice(NAMES)} - {index % 97}"
    version = rng.choice(("v1.0", "v1.1"))
    tier = rng.choice(("free", "pro", "enterprise"))
    clock = BASE_EPOCH + index * 30 + rng.random()
    lines = []
    for n in range(spans):
        is_tool = n % 2 == 1
        duration = rng.uniform(0.05, 2.5) if is_tool else rng.uniform(0.3, 6.0)
        record: dict[str, object] = {
            "span_id": f"{session_id}-{n}",
            "session_id": session_id,
            "session_name": name,
            "start_time": round(clock, 6),
            "duration_ms": round(duration * 1000, 3),
            "properties": {"Agent-Version": version, "Tier": tier},
        }
        if is_tool:
            tool = rng.choice(TOOLS)
            record.update(kind="tool", name=tool, path=f"/tools/{tool}", input={"query": "x" * rng.randint(20, 200)},
                          output={"result": "y" * rng.randint(50, 400)})
            if rng.random() < 0.03:
                record["error"] = {"type": "ToolError", "message": f"{tool} failed: upstream 503"}
        else:
            model = rng.choice(MODELS)
            record.update(kind="llm", name=f"chat {model}", model=model, provider="openai" if model != "acme-llm-1" else "acme",
                          path=f"/iteration/{n // 2}",
                          usage={"input_tokens": rng.randint(200, 6000), "output_tokens": rng.randint(10, 800),
                                 "cache_read_tokens": rng.choice((0, 0, 512, 1024))},
                          input={"messages": [{"role": "user", "content": "q" * rng.randint(100, 600)}]},
                          output={"choices": [{"message": {"role": "assistant", "content": "a" * rng.randint(50, 400)}}]})
            if rng.random() < 0.02:
                record["status_code"] = rng.choice((429, 500, -1))
        clock += duration + rng.uniform(0.0, 0.5)
        lines.append(orjson.dumps(record))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--spans-per-session", type=int, default=0, help="fixed count (default: 5-50 at random)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--prefix", default="bench", help="session id prefix, so several files can share a store")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "wb") as handle:
        for index in range(args.sessions):
            spans = args.spans_per_session or rng.randint(5, 50)
            handle.write(b"\n".join(session_records(rng, index, spans, args.prefix)) + b"\n")


if __name__ == "__main__":
    main()
