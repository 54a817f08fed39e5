"""The real helicone-helpers HeliconeManualLogger, pointed at agenttrace serve by logging_endpoint alone."""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
from helicone_helpers import HeliconeManualLogger
from serve_helpers import serving, spans_by_id, wait_for_count

HELICONE_KEY = "sk-helicone-test-key-abcdef"
TOKEN = "helicone-test-token-0123456789"


class AgentWithTools:
    """The seed's AgentWithTools; only the logger's logging_endpoint is added."""

    def __init__(self, endpoint: str, api_key: str = HELICONE_KEY):
        self.logger = HeliconeManualLogger(
            api_key=api_key,
            headers={},
            logging_endpoint=endpoint,
        )
        self.session_id = f"agent-{int(time.time())}"

    def execute_tool(self, tool_name: str, parameters: dict[str, Any]) -> Any:
        def tool_operation(result_recorder: Any) -> Any:
            try:
                if tool_name == "search_database":
                    result = self.search_database(**parameters)
                elif tool_name == "fetch_weather":
                    result = self.fetch_weather(**parameters)
                else:
                    result = {"error": f"Unknown tool: {tool_name}"}
                result_recorder.append_results(result)
                return result
            except Exception as e:
                error = {"error": str(e)}
                result_recorder.append_results(error)
                return error

        return self.logger.log_request(
            request={"_type": "tool", "toolName": tool_name, "input": parameters},
            operation=tool_operation,
            additional_headers={
                "Helicone-Session-Id": self.session_id,
                "Helicone-Session-Path": f"/tools/{tool_name}",
                "Helicone-Property-Tool-Category": self.get_tool_category(tool_name),
            },
        )

    def search_database(self, query: str, limit: int = 10) -> dict[str, Any]:
        return {"results": [query], "count": limit}

    def fetch_weather(self, location: str) -> dict[str, Any]:
        return {"temp": 72, "condition": "sunny"}

    def get_tool_category(self, tool_name: str) -> str:
        categories = {"search_database": "data", "fetch_weather": "external-api", "send_email": "notification"}
        return categories.get(tool_name, "general")


def _quietly(call: Any) -> tuple[Any, str]:
    """The logger prints (never raises) when the endpoint refuses a log: capture what it says."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = call()
    return result, printed.getvalue()


def test_the_seed_tool_agent_and_an_llm_call_are_logged(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        agent = AgentWithTools(server.url)
        result, said = _quietly(lambda: agent.execute_tool("search_database", {"query": "boots", "limit": 3}))
        assert result == {"results": ["boots"], "count": 3} and said == ""
        _, said = _quietly(lambda: agent.execute_tool("fetch_weather", {"location": "SF"}))
        assert said == ""

        def llm_operation(recorder: Any) -> str:
            recorder.append_results({
                "id": "chatcmpl-9", "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Boots are in stock."}}],
                "usage": {"prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129},
            })
            return "done"

        answer, said = _quietly(lambda: agent.logger.log_request(
            request={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Any boots?"}]},
            operation=llm_operation, provider="openai",
            additional_headers={"Helicone-Session-Id": agent.session_id, "Helicone-Session-Path": "/answer",
                                "Helicone-User-Id": "user-7"},
        ))
        assert answer == "done" and said == ""
        assert wait_for_count(server.db, 3) == 3
    spans = list(spans_by_id(server.db).values())
    tools = {span["name"]: span for span in spans if span["kind"] == "tool"}
    assert set(tools) == {"search_database", "fetch_weather"}
    search = tools["search_database"]
    assert (search["session_id"], search["path"]) == (agent.session_id, "/tools/search_database")
    assert json.loads(search["properties"]) == {"Tool-Category": "data"}  # the case the logger wrote
    assert json.loads(search["input"]) == {"query": "boots", "limit": 3}
    assert json.loads(search["output"])["count"] == 3 and search["status"] == "ok"
    (llm,) = [span for span in spans if span["kind"] == "llm"]
    assert (llm["model"], llm["input_tokens"], llm["output_tokens"]) == ("gpt-4o-mini", 120, 9)
    assert (llm["path"], llm["user_id"], llm["provider"]) == ("/answer", "user-7", "openai")
    for path in [server.db, *server.spool_dir.iterdir()]:
        if path.is_file():
            assert HELICONE_KEY.encode() not in path.read_bytes()


def test_with_a_token_the_logger_sends_it_as_its_api_key(tmp_path: Path) -> None:
    with serving(tmp_path, token=TOKEN) as server:
        _, said = _quietly(lambda: AgentWithTools(server.url, api_key="wrong-key").execute_tool("fetch_weather", {"location": "x"}))
        assert "Error making request to Helicone log endpoint" in said and "unauthorized" in said
        _, said = _quietly(lambda: AgentWithTools(server.url, api_key=TOKEN).execute_tool("fetch_weather", {"location": "x"}))
        assert said == ""
        assert wait_for_count(server.db, 1) == 1
    for path in [server.db, *server.spool_dir.iterdir()]:
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes()


def test_malformed_log_bodies_get_400_with_the_reason(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        cases = {
            b"{": "Helicone log body: not valid JSON",
            b"[1]": "Helicone log body: expected a JSON object",
            b'{"providerResponse": {}}': "Helicone log body: no providerRequest object",
            b'{"providerRequest": {"json": {}}, "timing": {"startTime": "yesterday"}}': "Helicone log body: timing.startTime",
        }
        for body, reason in cases.items():
            response = httpx.post(f"{server.url}/custom/v1/log", content=body)
            assert response.status_code == 400 and response.json()["error"].startswith(reason), response.text
        ok = httpx.post(f"{server.url}/anthropic/v1/log", json={
            "providerRequest": {"url": "custom-model-nopath", "json": {"_type": "data", "name": "load"},
                                "meta": {"Helicone-Session-Id": "from-meta", "Helicone-Session-Path": "/meta"}},
            "providerResponse": {"json": {"rows": 3}, "status": 200, "headers": {}},
            "timing": {"startTime": {"seconds": 1740830400, "milliseconds": 5},
                       "endTime": {"seconds": 1740830401, "milliseconds": 0}},
        }, headers={"Helicone-Session-Path": "/header-wins"})
        assert ok.status_code == 200 and ok.json() == {"ok": True, "spans": 1}
        assert wait_for_count(server.db, 1) == 1
    (span,) = spans_by_id(server.db).values()
    assert (span["session_id"], span["path"], span["duration_ms"]) == ("from-meta", "/header-wins", 995)
