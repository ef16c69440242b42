"""Every request Claude Code 2.1.197 really sent (../shared/claude-code-traffic) gets a 200 and a valid stream."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.anthropic_grammar import check_grammar, parse_sse
from tests.support.bridge import CLIENT_TOKEN, RunningBridge
from tests.support.fake_azure import Deployment, FakeAzure, ToolCalls
from tests.support.paths import ROOT

TRAFFIC = ROOT.parent / "shared" / "claude-code-traffic" / "2.1.197"
CAPTURES = sorted(path.name for path in TRAFFIC.glob("*.json")) if TRAFFIC.is_dir() else []
pytestmark = pytest.mark.skipif(
    not CAPTURES, reason="../shared/claude-code-traffic not present (a user's clone): captured-traffic tests skipped"
)
DROPPED_HEADERS = {"content-length", "host", "accept-encoding", "connection"}


def capture(name: str) -> dict[str, Any]:
    return json.loads((TRAFFIC / name).read_text())


def replay(bridge: RunningBridge, captured: dict[str, Any]) -> httpx.Response:
    headers = {k: v for k, v in captured["headers"].items() if k.lower() not in DROPPED_HEADERS}
    headers["Authorization"] = f"Bearer {CLIENT_TOKEN}"
    content = json.dumps(captured["body"]).encode() if captured["body"] is not None else None
    return httpx.request(captured["method"], bridge.url + captured["path"], headers=headers, content=content, timeout=30)


@pytest.mark.parametrize("name", CAPTURES)
def test_captured_request_gets_a_valid_answer(name: str, bridge: RunningBridge, fake_azure: FakeAzure) -> None:
    captured = capture(name)
    requested = (captured["body"] or {}).get("model", "")
    passed_through = not any(family in requested for family in ("opus", "sonnet", "haiku"))
    if passed_through:
        fake_azure.add_deployment(Deployment(requested))
    response = replay(bridge, captured)
    assert response.status_code == 200, response.text
    if captured["method"] == "HEAD":
        return
    assert captured["body"]["stream"] is True
    check_grammar(parse_sse(response.content))
    sent = fake_azure.requests[-1].body
    assert sent["model"] == (requested if passed_through else "gpt-5")
    assert len(sent["tools"]) == len(captured["body"]["tools"])
    assert "x-anthropic-billing-header" not in json.dumps(sent)


def test_tool_loop_follow_up_keeps_the_call_answered(bridge: RunningBridge, fake_azure: FakeAzure) -> None:
    follow_up = next(capture(n) for n in CAPTURES if n.startswith("tool-loop") and _has_tool_result(capture(n)))
    fake_azure.enqueue(ToolCalls([("Bash", {"command": "ls"})]))
    response = replay(bridge, follow_up)
    assert response.status_code == 200
    messages = fake_azure.requests[-1].body["messages"]
    for position, message in enumerate(messages):
        if message.get("tool_calls"):
            answered = [m["tool_call_id"] for m in messages[position + 1 : position + 1 + len(message["tool_calls"])]]
            assert answered == [c["id"] for c in message["tool_calls"]]
    final = next(data for event, data in parse_sse(response.content) if event == "message_delta")
    assert final["delta"]["stop_reason"] == "tool_use"


def _has_tool_result(captured: dict[str, Any]) -> bool:
    body = captured.get("body") or {}
    return any(
        isinstance(m.get("content"), list) and any(b.get("type") == "tool_result" for b in m["content"])
        for m in body.get("messages", [])
    )


def test_count_tokens_on_the_real_request(bridge: RunningBridge) -> None:
    body = capture("hello-02.json")["body"]
    counted = {k: v for k, v in body.items() if k in ("model", "messages", "system", "tools")}
    response = httpx.post(bridge.url + "/v1/messages/count_tokens?beta=true", headers={"x-api-key": CLIENT_TOKEN}, json=counted)
    assert response.status_code == 200
    tokens = response.json()["input_tokens"]
    assert 10_000 < tokens < 40_000, tokens
