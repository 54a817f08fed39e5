"""The demo's tools (the seed's search_database, fetch_weather, send_email): fake, seeded, with latency.

Each call advances the fake clock by a simulated latency. A scenario can make the next call of a tool fail
(`fail_next`) to exercise error recovery.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any, Final

from agenttrace_tui.demo.clock import FakeClock

TOOL_CATEGORIES: Final = {
    "search_database": "data",
    "fetch_weather": "external-api",
    "send_email": "notification",
}
"""The seed's AgentWithTools.get_tool_category table."""

TOOL_LATENCY_S: Final = {"search_database": 0.12, "fetch_weather": 0.45, "send_email": 0.6}
"""Mean simulated latency per tool."""

PRODUCTS: Final = (
    ("SKU-1042", "Trailhead 2 hiking boots", 129.0),
    ("SKU-2210", "Summit 40L backpack", 89.5),
    ("SKU-3307", "Drift insulated jacket", 159.0),
    ("SKU-4415", "Canyon trekking poles", 49.0),
    ("SKU-5120", "Ridge waterproof tent", 249.0),
    ("SKU-6001", "Basecamp sleeping bag", 119.0),
)

CONDITIONS: Final = ("sunny", "partly cloudy", "overcast", "light rain", "fog", "windy")


class ToolFailure(Exception):
    """Base for simulated tool failures."""


class ToolTimeout(ToolFailure, TimeoutError):
    """The tool's backend did not answer in time."""


class UpstreamUnavailable(ToolFailure, ConnectionError):
    """The tool's backend refused the connection."""


FAILURES: Final[dict[str, type[ToolFailure]]] = {
    "timeout": ToolTimeout,
    "unavailable": UpstreamUnavailable,
}


class ToolBox:
    """Fake implementations of the demo's tools, sharing the demo's clock and random generator."""

    def __init__(self, clock: FakeClock, rng: random.Random) -> None:
        self.clock = clock
        self.rng = rng
        self._failures: dict[str, deque[str]] = {}

    def fail_next(self, tool_name: str, failure: str) -> None:
        """Make the next call of `tool_name` raise (`failure` is a key of FAILURES)."""
        self._failures.setdefault(tool_name, deque()).append(failure)

    def call(self, tool_name: str, **parameters: Any) -> dict[str, Any]:
        """Run one tool: wait its latency, then fail if scripted to, else answer."""
        self.clock.advance(round(TOOL_LATENCY_S.get(tool_name, 0.2) * self.rng.lognormvariate(0.0, 0.4), 6))
        pending = self._failures.get(tool_name)
        if pending:
            failure = pending.popleft()
            if failure == "timeout":
                self.clock.advance(5.0)
                raise ToolTimeout(f"{tool_name}: upstream did not answer within 5.0 s")
            raise FAILURES[failure](f"{tool_name}: connection refused by upstream")
        if tool_name == "search_database":
            return self.search_database(**parameters)
        if tool_name == "fetch_weather":
            return self.fetch_weather(**parameters)
        if tool_name == "send_email":
            return self.send_email(**parameters)
        return {"error": f"Unknown tool: {tool_name}"}

    def search_database(self, query: str, limit: int = 10) -> dict[str, Any]:
        count = self.rng.randint(0, min(limit, 3))
        picks = self.rng.sample(PRODUCTS, count)
        results = [
            {"sku": sku, "name": name, "price_usd": price, "in_stock": self.rng.random() > 0.2}
            for sku, name, price in picks
        ]
        return {"results": results, "count": count}

    def fetch_weather(self, location: str) -> dict[str, Any]:
        return {
            "location": location,
            "temp": self.rng.randint(38, 88),
            "unit": "F",
            "condition": self.rng.choice(CONDITIONS),
        }

    def send_email(self, to: str, subject: str, body: str = "") -> dict[str, Any]:
        message_id = "".join(self.rng.choice("0123456789abcdef") for _ in range(12))
        return {"status": "sent", "to": to, "message_id": f"<{message_id}@mail.demo>"}
