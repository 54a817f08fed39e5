"""A multi-agent run: a coordinator plans, researchers work, the coordinator writes the answer (streamed).

All agents share one session, as in the seed's multi-agent example: every LLM call carries Agent-Name,
Agent-Role and Parent-Agent properties. This scenario also uses the SDK's own API: `tracer.session(...)`
writes the session record, and `session.span(..., kind="agent")` wraps each agent's work, so the LLM and
tool spans inside get a `parent_id` and the explorer shows who called whom.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from openai import OpenAI

from agenttrace_tui.demo.agents import AgentWithTools, CompleteAgent
from agenttrace_tui.demo.tools import ToolBox
from agenttrace_tui.sdk import ManualLogger, Session

COORDINATOR_MODEL: Final = "o3-mini"
RESEARCHER_MODEL: Final = "gpt-4o-mini"
WRITER_MODEL: Final = "gpt-4o"

COORDINATOR_HEADERS: Final = {
    "Helicone-Property-Agent-Name": "coordinator",
    "Helicone-Property-Agent-Role": "coordinator",
}
RESEARCHER_HEADERS: Final = {
    "Helicone-Property-Agent-Name": "research-agent",
    "Helicone-Property-Agent-Role": "researcher",
    "Helicone-Property-Parent-Agent": "coordinator",
}
"""The seed's multi-agent headers."""


class Coordinator:
    """Plans research topics, delegates each to a researcher, then streams the final answer."""

    def __init__(
        self,
        client: OpenAI,
        session: Session,
        logger: ManualLogger,
        toolbox: ToolBox,
        *,
        agent_version: str,
    ) -> None:
        self.client = client
        self.session = session
        self.logger = logger
        self.toolbox = toolbox
        self.agent_version = agent_version

    def headers(self, path: str, agent: dict[str, str]) -> dict[str, str]:
        return {
            "Helicone-Session-Id": self.session.session_id,
            "Helicone-Session-Name": self.session.name or "Research Assistant",
            "Helicone-Session-Path": path,
            "Helicone-Property-Agent-Version": self.agent_version,
            **agent,
        }

    def run(self, request: str) -> str:
        properties = {"Agent-Name": "coordinator", "Agent-Role": "coordinator"}
        with self.session.span(
            "/coordinator", name="coordinator", kind="agent", input={"request": request}, properties=properties
        ) as coordinator_span:
            topics = self.plan(request)
            findings = [self.research(topic) for topic in topics]
            answer = self.write_answer(request, findings)
            coordinator_span.set_output(answer)
        return answer

    def plan(self, request: str) -> list[str]:
        response = self.client.chat.completions.create(
            model=COORDINATOR_MODEL,
            messages=[
                {"role": "system", "content": "Split the request into research topics. Reply as JSON."},
                {"role": "user", "content": request},
            ],
            response_format={"type": "json_object"},
            reasoning_effort="low",
            extra_headers=self.headers("/coordinator/plan", COORDINATOR_HEADERS),
        )
        plan = json.loads(response.choices[0].message.content or "{}")
        return [str(topic) for topic in plan.get("topics", [])]

    def research(self, topic: str) -> str:
        properties = {"Agent-Name": "research-agent", "Agent-Role": "researcher", "Parent-Agent": "coordinator"}
        with self.session.span(
            "/researcher", name="research-agent", kind="agent", input={"topic": topic}, properties=properties
        ) as researcher_span:
            agent_headers = {"Helicone-Property-Agent-Version": self.agent_version, **RESEARCHER_HEADERS}
            executor = AgentWithTools(
                self.logger, self.toolbox, self.session.session_id, path_prefix="/researcher", headers=agent_headers
            )
            researcher = CompleteAgent(
                self.client,
                executor,
                self.session.session_id,
                model=RESEARCHER_MODEL,
                session_name=self.session.name or "Research Assistant",
                path_prefix="/researcher",
                headers=agent_headers,
            )
            researcher.max_iterations = 3
            finding = researcher.run(f"Research this for the customer: {topic}")
            researcher_span.set_output(finding)
        return finding

    def write_answer(self, request: str, findings: Sequence[str]) -> str:
        stream = self.client.chat.completions.create(
            model=WRITER_MODEL,
            messages=[
                {"role": "system", "content": "Write the final answer from the researchers' findings."},
                {"role": "user", "content": request},
                {"role": "assistant", "content": "\n".join(f"- {finding}" for finding in findings)},
            ],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=self.headers("/coordinator/answer", COORDINATOR_HEADERS),
        )
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
