"""Seeded synthetic traces shaped like agent traffic, for trying the explorer and ingest at scale.

    python bench/generate.py --sessions 100000 --out /tmp/big.jsonl
    python bench/generate.py --sessions 1 --spans-per-session 10000 --prefix wide --out /tmp/wide.jsonl

Sessions of 5-50 spans: an agent span at / that is the parent of LLM calls and tool calls over
/iteration/N and /tools/NAME paths, a few errors, Agent-Version, Tier and User properties, and payloads of
text drawn from a vocabulary (so they compress like prose, not like runs of one letter): chat messages of
0.1-1.7 KB in, 0.03-0.8 KB out, tool arguments and results of 0.02-0.7 KB; about 1.3 KB per line on average.
The same seed gives the same file.
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
WORDS = tuple(
    "the a an of to in for on with order customer weather forecast refund invoice shipping account search result "
    "results found error retry please could you tell me about and or not is are was were will would should can "
    "database query table row rows column status pending delivered cancelled paid total price amount euro dollar "
    "tomorrow today city temperature rain sunny wind humidity email sent draft subject reply thanks regards plan "
    "step tool call function argument value summary answer question context document page section paragraph "
    "according to policy our we your their it this that these those here there when where why how which who "
    "1 2 3 4 5 10 12 17 42 99 100 250 1000 2024 2025 ok failed timeout upstream service unavailable".split()
)


def text(rng: random.Random, size: int) -> str:
    """About `size` bytes of word salad: realistic enough for compression and JSON parsing costs."""
    return " ".join(rng.choices(WORDS, k=max(1, size // 6)))


def session_records(rng: random.Random, index: int, spans: int, prefix: str = "bench") -> list[bytes]:
    """One session: an agent span at / (the parent of all others), then alternating LLM and tool calls."""
    session_id = f"{prefix}-{index:08d}"
    name = f"{rng.choice(NAMES)} - {index % 97}"
    version = rng.choice(("v1.0", "v1.1"))
    tier = rng.choice(("free", "pro", "enterprise"))
    properties = {"Agent-Version": version, "Tier": tier, "User": f"user-{rng.randint(1, 5000)}"}
    root_id = f"{session_id}-root"
    session_start = clock = BASE_EPOCH + index * 30 + rng.random()
    lines = []
    for n in range(1, spans):
        is_tool = n % 2 == 0
        duration = rng.uniform(0.05, 2.5) if is_tool else rng.uniform(0.3, 6.0)
        record: dict[str, object] = {
            "span_id": f"{session_id}-{n}",
            "session_id": session_id,
            "session_name": name,
            "parent_id": root_id,
            "start_time": round(clock, 6),
            "duration_ms": round(duration * 1000, 3),
            "properties": properties,
        }
        if is_tool:
            tool = rng.choice(TOOLS)
            record.update(kind="tool", name=tool, path=f"/tools/{tool}",
                          input={"query": text(rng, rng.randint(20, 200))},
                          output={"result": text(rng, rng.randint(50, 700))})
            if rng.random() < 0.03:
                record["error"] = {"type": "ToolError", "message": f"{tool} failed: upstream 503"}
        else:
            model = rng.choice(MODELS)
            messages = [{"role": "system", "content": text(rng, rng.randint(50, 300))},
                        {"role": "user", "content": text(rng, rng.randint(50, 1400))}]
            record.update(kind="llm", name=f"chat {model}", model=model, provider="openai" if model != "acme-llm-1" else "acme",
                          path=f"/iteration/{(n - 1) // 2}",
                          usage={"input_tokens": rng.randint(200, 6000), "output_tokens": rng.randint(10, 800),
                                 "cache_read_tokens": rng.choice((0, 0, 512, 1024))},
                          input={"model": model, "messages": messages},
                          output={"choices": [{"message": {"role": "assistant",
                                                           "content": text(rng, rng.randint(30, 800))}}]})
            if rng.random() < 0.02:
                record["status_code"] = rng.choice((429, 500, -1))
        clock += duration + rng.uniform(0.0, 0.5)
        lines.append(orjson.dumps(record))
    root = {"span_id": root_id, "session_id": session_id, "session_name": name, "kind": "agent", "name": "agent run",
            "path": "/", "start_time": round(session_start, 6),
            "duration_ms": round((clock - session_start) * 1000, 3), "properties": properties,
            "input": {"task": text(rng, rng.randint(50, 300))}, "output": {"answer": text(rng, rng.randint(50, 500))}}
    return [orjson.dumps(root), *lines]


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
