"""Agents that survive failures: the seed's error-recovery pattern, retries on HTTP 429/500, model fallback.

The seed logs a failed tool with an LLM call at /error-recovery carrying Error-Type and Recovery-Strategy
properties; `ResilientAgent` does that and then retries the tool. It also retries rate-limited and failed
LLM calls with backoff (each attempt is its own span, with a Retry-Attempt property) and falls back to a
smaller model at /iteration/<i>/fallback when a call times out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import openai
from openai import OpenAI
from openai.types.chat import ChatCompletion

from agenttrace_tui.demo.agents import AgentWithTools, CompleteAgent
from agenttrace_tui.demo.tools import ToolFailure, ToolTimeout
from agenttrace_tui.sdk import ResultRecorder

RATE_LIMIT_RETRIES: Final = 3
"""Attempts after a 429 before giving up: rate limits clear within seconds."""

SERVER_ERROR_RETRIES: Final = 1
"""Attempts after a 5xx: one retry, then the failure is the answer."""

FALLBACK_MODEL: Final = "gpt-4o-mini"
"""The smaller, faster model a timed-out decision falls back to."""


class RecoveringToolExecutor(AgentWithTools):
    """AgentWithTools whose operation lets tool exceptions propagate: the tool span records the error
    (the seed's version catches it, which hides the failure inside an "ok" span)."""

    def execute_tool(self, tool_name: str, parameters: dict[str, Any], attempt: int = 0) -> dict[str, Any]:
        def tool_operation(result_recorder: ResultRecorder) -> dict[str, Any]:
            result = self.run(tool_name, parameters)
            result_recorder.append_results(result)
            return result

        extra = {"Helicone-Property-Retry-Attempt": str(attempt)} if attempt else None
        return self.log_tool(tool_name, parameters, tool_operation, extra)


class ResilientAgent(CompleteAgent):
    """CompleteAgent with error recovery for tools and retries/fallback for LLM calls."""

    def __init__(
        self,
        client: OpenAI,
        tool_executor: RecoveringToolExecutor,
        session_id: str,
        *,
        sleep: Callable[[float], None],
        model: str = "gpt-4o",
        session_name: str = "Complete Agent",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            client, tool_executor, session_id, model=model, session_name=session_name, headers=headers
        )
        self.recovering_executor = tool_executor
        self.sleep = sleep

    # -- tools: the seed's error-recovery pattern, then one retry ------------------------------------

    def run_tool(self, tool_name: str, parameters: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.recovering_executor.execute_tool(tool_name, parameters)
        except ToolFailure as e:
            strategy = "retry-with-backoff" if isinstance(e, ToolTimeout) else "retry-with-fallback"
            # Log the error
            self.client.chat.completions.create(
                model=FALLBACK_MODEL,
                messages=[{"role": "system", "content": f"Error recovery for: {e}"}],
                extra_headers={
                    "Helicone-Session-Id": self.session_id,
                    "Helicone-Session-Path": "/error-recovery",
                    "Helicone-Property-Error-Type": type(e).__name__,
                    "Helicone-Property-Recovery-Strategy": strategy,
                },
            )
            self.sleep(2.0 if strategy == "retry-with-backoff" else 0.5)
            try:
                return self.recovering_executor.execute_tool(tool_name, parameters, attempt=1)
            except ToolFailure as retry_error:
                return {"error": f"{tool_name} failed twice, continuing without it: {retry_error}"}

    # -- LLM calls: retry 429 and 5xx, fall back on timeout ---------------------------------------

    def decide(self, iteration: int) -> ChatCompletion:
        attempt = 0
        while True:
            retry = {"Retry_Attempt": str(attempt)} if attempt else {}
            try:
                return self.client.chat.completions.create(
                    model=self.model,
                    messages=self.conversation_history,
                    tools=self.get_tool_definitions(),  # type: ignore[arg-type]  # plain dicts, as in the seed
                    extra_headers=self.iteration_headers(iteration, **retry),
                )
            except openai.RateLimitError:
                attempt += 1
                if attempt > RATE_LIMIT_RETRIES:
                    raise
                self.sleep(2.0**attempt)
            except openai.InternalServerError:
                attempt += 1
                if attempt > SERVER_ERROR_RETRIES:
                    raise
                self.sleep(1.0)
            except openai.APITimeoutError:
                return self.fallback(iteration)

    def fallback(self, iteration: int) -> ChatCompletion:
        headers = self.iteration_headers(iteration, Recovery_Strategy="fallback-model")
        headers["Helicone-Session-Path"] += "/fallback"
        return self.client.chat.completions.create(
            model=FALLBACK_MODEL,
            messages=self.conversation_history,
            tools=self.get_tool_definitions(),  # type: ignore[arg-type]
            extra_headers=headers,
        )
