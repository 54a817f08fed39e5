"""What customers ask the demo's support agent, and how the scripted model answers: rounds of tool calls,
then a final answer. Each case is drawn with the demo's random generator, which fills in cities and
products."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from agenttrace_tui.demo.mock_llm import Reply, ToolCall

CITIES: Final = ("San Francisco", "Denver", "Seattle", "Boulder", "Portland", "Salt Lake City", "Asheville")
PRODUCTS: Final = ("hiking boots", "backpack", "insulated jacket", "trekking poles", "waterproof tent", "sleeping bag")


@dataclass(frozen=True)
class SupportCase:
    """One customer question, the tool rounds the model asks for, and its final answer."""

    intent: str
    """Used in the session name, as Helicone's best practice suggests ("Customer Support - Weather")."""
    query: str
    rounds: tuple[tuple[ToolCall, ...], ...]
    answer: str

    def replies(self) -> list[Reply]:
        """The scripted model turns: one per tool round, then the answer."""
        return [Reply.tools(*calls) for calls in self.rounds] + [Reply.answer(self.answer)]


CLOSINGS: Final = (
    "",
    " Anything else I can help with?",
    " Happy trails!",
    " Let me know if you'd like me to email you a summary.",
)
"""Real answers vary from call to call; a random closing line gives the scripted ones some of that."""


def _closing(rng: random.Random) -> str:
    return rng.choice(CLOSINGS)


def _email(rng: random.Random) -> str:
    name = rng.choice(("ana", "bo", "chen", "dmitri", "eli", "fatima", "gus", "hana"))
    return f"{name}{rng.randint(1, 99)}@example.com"


def weather(rng: random.Random) -> SupportCase:
    city = rng.choice(CITIES)
    return SupportCase(
        intent="Weather",
        query=f"What's the weather like in {city}?",
        rounds=((ToolCall("fetch_weather", {"location": city}),),),
        answer=f"Here is the current weather in {city}. Pack a layer: mountain weather changes fast." + _closing(rng),
    )


def product_search(rng: random.Random) -> SupportCase:
    product = rng.choice(PRODUCTS)
    return SupportCase(
        intent="Product Search",
        query=f"Do you have a {product} in stock?",
        rounds=((ToolCall("search_database", {"query": product, "limit": 5}),),),
        answer=f"I found these {product} options; the ones marked in stock ship today." + _closing(rng),
    )


def trip_planning(rng: random.Random) -> SupportCase:
    city = rng.choice(CITIES)
    return SupportCase(
        intent="Trip Planning",
        query=f"I'm hiking near {city} this weekend. What should I bring?",
        rounds=(
            (
                ToolCall("fetch_weather", {"location": city}),
                ToolCall("search_database", {"query": "day hiking essentials", "limit": 5}),
            ),
        ),
        answer=f"Given the forecast for {city}, bring boots, a shell and poles; all three are in stock."
        + _closing(rng),
    )


def email_specs(rng: random.Random) -> SupportCase:
    product = rng.choice(PRODUCTS)
    address = _email(rng)
    return SupportCase(
        intent="Email Specs",
        query=f"Can you email me the specs of your {product} at {address}?",
        rounds=(
            (ToolCall("search_database", {"query": product, "limit": 3}),),
            (
                ToolCall(
                    "send_email",
                    {
                        "to": address,
                        "subject": f"Your {product} specs",
                        "body": f"Specs for the {product} you asked about.",
                    },
                ),
            ),
        ),
        answer=f"Done: the {product} specs are on their way to {address}." + _closing(rng),
    )


def return_policy(rng: random.Random) -> SupportCase:
    days = rng.choice((30, 60))
    return SupportCase(
        intent="Returns",
        query="What's your return policy?",
        rounds=(),
        answer=f"Unused items can be returned within {days} days for a full refund; worn boots within 30 days."
        + _closing(rng),
    )


def gear_comparison(rng: random.Random) -> SupportCase:
    city = rng.choice(CITIES)
    return SupportCase(
        intent="Gear Comparison",
        query=f"Which tent and sleeping bag should I get for a spring trip to {city}?",
        rounds=(
            (ToolCall("search_database", {"query": "tent", "limit": 5}),),
            (ToolCall("search_database", {"query": "sleeping bag", "limit": 5}),),
            (ToolCall("fetch_weather", {"location": city}),),
        ),
        answer=f"For {city} in spring: the Ridge tent and the Basecamp bag (rated to 20F) are the pair I'd pick."
        + _closing(rng),
    )


def endless_search(rng: random.Random) -> SupportCase:
    """A request the catalog can't satisfy: the model keeps rephrasing its search and never answers."""
    size = rng.choice(("XXS", "4XL", "kids 2T"))
    queries = (
        f"waterproof jacket {size} under $50",
        f"rain jacket size {size}",
        f"cheap waterproof shell {size}",
        "waterproof jacket clearance",
        f"jacket {size}",
        "rain poncho",
    )
    return SupportCase(
        intent="Product Search",
        query=f"I need a waterproof jacket in size {size} for under $50.",
        rounds=tuple((ToolCall("search_database", {"query": q, "limit": 10}),) for q in queries),
        answer="(never reached)",
    )


SUPPORT_CASES: Final[tuple[Callable[[random.Random], SupportCase], ...]] = (
    weather,
    product_search,
    trip_planning,
    email_specs,
    return_policy,
    gear_comparison,
)
"""The everyday mix; `endless_search` is kept apart for the max-iteration scenario."""

RESEARCH_REQUESTS: Final = (
    ("Plan a 3-day backpacking trip in {city} for a beginner.", ("trail conditions", "beginner gear list")),
    ("Compare our two best tents for a family trip to {city}.", ("tent comparison", "weather outlook")),
    (
        "What should a trail-running club in {city} order for winter?",
        ("winter running gear", "weather outlook", "bulk pricing"),
    ),
)
"""Multi-agent requests: the text and the research topics the coordinator splits it into."""
