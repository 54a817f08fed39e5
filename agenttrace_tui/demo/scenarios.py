"""The demo's scenarios, one trace file each: what runs, in which order, with which scripted failures.

- support.jsonl (24 sessions): the seed's support loop. Agent-Version v1.0 (gpt-4o, Helicone headers only),
  then v1.1 (gpt-4o-mini, session records, a /classify-query step first).
- max_iterations.jsonl (6): the model never answers; the loop stops after 5 iterations.
- error_recovery.jsonl (8): tool failures, /error-recovery calls (Error-Type, Recovery-Strategy), retries;
  in 2 sessions the retry fails too.
- llm_errors.jsonl (8): HTTP 429 retried with backoff, 500 retried (once fatal), timeouts falling back to
  gpt-4o-mini.
- model_canary.jsonl (4): an experiment, o3-mini (priced) against acme-llm-1 (no price table knows it).
- multi_agent.jsonl (8): a coordinator (o3-mini) and research agents sharing a session; streamed final answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Final

import openai

from agenttrace_tui.demo.agents import MAX_ITERATIONS_ANSWER, AgentWithTools, CompleteAgent, TrackedAgent
from agenttrace_tui.demo.cases import (
    CITIES,
    RESEARCH_REQUESTS,
    SUPPORT_CASES,
    SupportCase,
    endless_search,
    return_policy,
)
from agenttrace_tui.demo.mock_llm import Reply, ToolCall
from agenttrace_tui.demo.multi_agent import Coordinator
from agenttrace_tui.demo.resilience import RecoveringToolExecutor, ResilientAgent
from agenttrace_tui.demo.world import World
from agenttrace_tui.sdk import Session

FAILED_ANSWER: Final = "Sorry, our assistant is having trouble right now. A human will follow up by email."

SESSION_GAP_S: Final = 240.0
"""Mean time between two customers' sessions (4 minutes)."""


@dataclass
class SupportRun:
    """One support session: the case, the agent's configuration and the model's full script."""

    case: SupportCase
    model: str
    agent_version: str
    replies: list[Reply]
    session_record: bool = False
    classify: bool = False
    resilient: bool = False
    tool_failures: list[tuple[str, str]] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


def run_support(world: World, run: SupportRun) -> str:
    """Run one support session through the seed's agents; return its outcome."""
    case = run.case
    session_id = world.new_session_id()
    user_id = world.new_user_id()
    name = f"Customer Support - {case.intent}"
    world.mock.push(*run.replies)
    for tool_name, failure in run.tool_failures:
        world.toolbox.fail_next(tool_name, failure)
    headers = {
        "Helicone-User-Id": user_id,
        "Helicone-Property-Agent-Version": run.agent_version,
        **{f"Helicone-Property-{key}": value for key, value in run.properties.items()},
    }
    session = (
        world.tracer.session(
            name=name,
            session_id=session_id,
            properties={"Agent-Version": run.agent_version, **run.properties},
            user_id=user_id,
            tags=run.tags,
        )
        if run.session_record
        else nullcontext()
    )
    with session:
        if run.classify:
            classifier = TrackedAgent(
                world.client,
                session_id,
                model=run.model,
                agent_version=run.agent_version,
                session_name=name,
                headers=headers,
            )
            classifier.make_request("/classify-query", [{"role": "user", "content": case.query}])
            world.think()
        executor: AgentWithTools
        agent: CompleteAgent
        if run.resilient:
            recovering = RecoveringToolExecutor(world.logger, world.toolbox, session_id, headers=headers)
            executor = recovering
            agent = ResilientAgent(
                world.client,
                recovering,
                session_id,
                sleep=world.clock.advance,
                model=run.model,
                session_name=name,
                headers=headers,
            )
        else:
            executor = AgentWithTools(world.logger, world.toolbox, session_id, headers=headers)
            agent = CompleteAgent(
                world.client, executor, session_id, model=run.model, session_name=name, headers=headers
            )
        try:
            answer = agent.run(case.query)
            outcome = "max-iterations" if answer == MAX_ITERATIONS_ANSWER else "answered"
        except openai.APIError:
            answer, outcome = FAILED_ANSWER, "failed"
        world.think()
        log_answer(world, session_id, headers, answer, outcome)
    if world.mock.script:
        raise AssertionError(f"{world.name}: {len(world.mock.script)} scripted replies left unused in {session_id}")
    return outcome


def log_answer(world: World, session_id: str, headers: Mapping[str, str], answer: str, outcome: str) -> None:
    """The app's reply to the customer, as a data step at /answer with an Outcome property."""
    world.logger.log_request(
        request={"_type": "data", "name": "reply-to-customer"},
        operation=lambda recorder: recorder.append_results({"answer": answer, "outcome": outcome}),
        additional_headers={
            **headers,
            "Helicone-Session-Id": session_id,
            "Helicone-Session-Path": "/answer",
            "Helicone-Property-Outcome": outcome,
        },
    )


def _draw_case(world: World, *, needs_tools: bool = False) -> SupportCase:
    while True:
        case = world.rng.choice(SUPPORT_CASES)(world.rng)
        if case.rounds or not needs_tools:
            return case


# -- the files -------------------------------------------------------------------------------------


def support(world: World) -> None:
    """24 sessions of the seed's loop; v1.1 rolls out after the 10th."""
    for index in range(24):
        case = _draw_case(world) if index != 3 else return_policy(world.rng)
        if index < 10:
            run = SupportRun(case, "gpt-4o", "v1.0", case.replies())
        else:
            classify = Reply.answer(json.dumps({"intent": case.intent}))
            run = SupportRun(
                case,
                "gpt-4o-mini",
                "v1.1",
                [classify, *case.replies()],
                session_record=True,
                classify=True,
                tags=["support", case.intent.lower().replace(" ", "-")],
            )
        run_support(world, run)
        world.idle(SESSION_GAP_S)


def max_iterations(world: World) -> None:
    """6 sessions where the model keeps searching: CompleteAgent stops after max_iterations (5)."""
    for index in range(6):
        case = endless_search(world.rng)
        version, model = ("v1.0", "gpt-4o") if index % 2 == 0 else ("v1.1", "gpt-4o-mini")
        replies = case.replies()[: CompleteAgent.max_iterations]
        run = SupportRun(case, model, version, replies, session_record=version == "v1.1", tags=["support"])
        run_support(world, run)
        world.idle(SESSION_GAP_S)


def error_recovery(world: World) -> None:
    """8 sessions with a failing tool: the seed's /error-recovery call, then a retry (2 retries fail too)."""
    for index in range(8):
        case = _draw_case(world, needs_tools=True)
        tools_used = [call.name for calls in case.rounds for call in calls]
        failing_tool = world.rng.choice(tools_used)
        failure = "timeout" if failing_tool == "fetch_weather" or index % 3 == 0 else "unavailable"
        failures = [(failing_tool, failure)] * (2 if index in (2, 6) else 1)
        first_round = next(i for i, calls in enumerate(case.rounds) if any(c.name == failing_tool for c in calls))
        replies = case.replies()
        recovery = Reply.answer(f"Transient {failure} in {failing_tool}: retry once, then continue without it.")
        replies.insert(first_round + 1, recovery)
        version = "v1.0" if index < 4 else "v1.1"
        run = SupportRun(
            case, "gpt-4o", version, replies, session_record=True, resilient=True, tool_failures=failures,
            tags=["support", "tool-failure"],
        )
        run_support(world, run)
        world.idle(SESSION_GAP_S)


LLM_FAILURES: Final[Sequence[tuple[str, Sequence[Reply]]]] = (
    ("rate-limited", (Reply.http_error(429),)),
    ("rate-limited", (Reply.http_error(429),)),
    ("rate-limited twice", (Reply.http_error(429), Reply.http_error(429))),
    ("server error, retried", (Reply.http_error(500),)),
    ("server error, fatal", (Reply.http_error(500), Reply.http_error(500))),
    ("timeout, fallback", (Reply.timeout(),)),
    ("timeout, fallback", (Reply.timeout(),)),
    ("rate-limited then timeout", (Reply.http_error(429), Reply.timeout())),
)
"""(label, failing replies inserted before one decision) for each session of llm_errors.jsonl."""


def llm_errors(world: World) -> None:
    """8 sessions whose LLM calls fail: 429 retried with backoff, 500 retried (once fatal), timeouts."""
    for index, (label, failures) in enumerate(LLM_FAILURES):
        case = _draw_case(world, needs_tools=True)
        replies = case.replies()
        at = world.rng.randrange(len(replies))
        if label == "server error, fatal":
            replies = [*replies[:at], *failures]  # the agent gives up: the rest is never asked for
        else:
            replies[at:at] = failures
        version = "v1.0" if index % 2 == 0 else "v1.1"
        run = SupportRun(
            case, "gpt-4o", version, replies, session_record=version == "v1.1", resilient=True,
            properties={"Failure-Scenario": label}, tags=["support", "llm-error"],
        )
        run_support(world, run)
        world.idle(SESSION_GAP_S)


def model_canary(world: World) -> None:
    """4 v1.1 sessions of an experiment: o3-mini against acme-llm-1, a model no price table knows."""
    for index, model in enumerate(("acme-llm-1", "o3-mini", "acme-llm-1", "o3-mini")):
        case = _draw_case(world, needs_tools=index % 2 == 0)
        run = SupportRun(
            case, model, "v1.1", case.replies(), session_record=True,
            properties={"Experiment": "model-canary", "Variant": model}, tags=["support", "experiment"],
        )
        run_support(world, run)
        world.idle(SESSION_GAP_S)


def multi_agent(world: World) -> None:
    """8 sessions of a coordinator delegating to research agents in the same session."""
    for index in range(8):
        template, topics = world.rng.choice(RESEARCH_REQUESTS)
        city = world.rng.choice(CITIES)
        request = template.format(city=city)
        world.mock.push(Reply.answer(json.dumps({"topics": list(topics)})))
        findings = []
        for topic in topics:
            rounds = _research_rounds(world, topic, city)
            world.mock.push(*(Reply.tools(*calls) for calls in rounds))
            finding = f"{topic.capitalize()}: {world.rng.choice(_FINDINGS)}"
            world.mock.push(Reply.answer(finding))
            findings.append(finding)
        world.mock.push(Reply.answer(f"Here is the plan for {city}. " + " ".join(findings)))
        version = "v1.0" if index < 4 else "v1.1"
        session: Session = world.tracer.session(
            name="Research Assistant",
            session_id=world.new_session_id(),
            properties={"Agent-Version": version},
            user_id=world.new_user_id(),
            tags=["multi-agent"],
        )
        with session:
            Coordinator(world.client, session, world.logger, world.toolbox, agent_version=version).run(request)
        if world.mock.script:
            raise AssertionError(f"multi_agent: scripted replies left unused in {session.session_id}")
        world.idle(SESSION_GAP_S)


_FINDINGS: Final = (
    "two in-stock options fit the budget.",
    "conditions are dry with cold nights.",
    "the catalog covers it; one item is back-ordered.",
    "expect rain on day two; pack shells.",
)


def _research_rounds(world: World, topic: str, city: str) -> list[tuple[ToolCall, ...]]:
    """One or two rounds of tool calls a research agent makes for a topic."""
    if "weather" in topic or "conditions" in topic:
        rounds: list[tuple[ToolCall, ...]] = [(ToolCall("fetch_weather", {"location": city}),)]
    else:
        rounds = [(ToolCall("search_database", {"query": topic, "limit": 5}),)]
    if world.rng.random() < 0.5:
        rounds.append((ToolCall("search_database", {"query": f"{topic} alternatives", "limit": 3}),))
    return rounds


Scenario = Callable[[World], None]

SCENARIOS: Final[Mapping[str, Scenario]] = {
    "support": support,
    "max_iterations": max_iterations,
    "error_recovery": error_recovery,
    "llm_errors": llm_errors,
    "model_canary": model_canary,
    "multi_agent": multi_agent,
}
"""File stem → scenario, in generation order."""

SESSIONS_PER_FILE: Final[Mapping[str, int]] = {
    "support": 24,
    "max_iterations": 6,
    "error_recovery": 8,
    "llm_errors": 8,
    "model_canary": 4,
    "multi_agent": 8,
}


def describe() -> list[dict[str, Any]]:
    """The scenario table, for `--list`."""
    return [
        {"file": f"{stem}.jsonl", "sessions": SESSIONS_PER_FILE[stem], "about": (fn.__doc__ or "").strip()}
        for stem, fn in SCENARIOS.items()
    ]
