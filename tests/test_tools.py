"""Tools Azure would refuse or must not see: names with dots (MCP servers), tool search's deferred tools.

Through the bridge with the anthropic and openai SDKs, on both upstream APIs: a tool named
`github.create_issue` reaches Azure under a safe name and comes back under its own; deferred tools
are offered only once tool search found them, `DeferredToolPlaceholder` never.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from bridge.model import Message, Request, TextPart, Tool, ToolCallPart, ToolChoice, ToolReference, ToolResultPart
from bridge.upstreams.tool_order import result_text
from bridge.upstreams.tools import PLACEHOLDER, for_upstream, offered, safe_name
from tests.support.bridge import CLIENT_TOKEN, RunningBridge, bridge_env, running_bridge
from tests.support.fake_azure import FakeAzure, ResponsesToolCalls, ToolCalls

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}}
MCP = "github.create_issue"
USER = [{"role": "user", "content": "file it"}]


def tool(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "a tool", "input_schema": SCHEMA, **extra}


# --- the pure part ---------------------------------------------------------------------------------------------


def test_safe_names_are_stable_valid_and_distinct() -> None:
    names = [MCP, "github_create_issue", "fs/read file", "x" * 80, "a.b", "a_b"]
    safe = [safe_name(name) for name in names]
    assert safe == [safe_name(name) for name in names], "the same name gives the same upstream name every turn"
    assert all(len(name) <= 64 and name.replace("_", "").replace("-", "").isalnum() for name in safe)
    assert len(set(safe)) == len(names), "two client names never share an upstream name"
    assert safe_name("Bash") == "Bash" and safe_name("mcp__github__create-issue") == "mcp__github__create-issue"


def test_unsafe_names_are_renamed_everywhere_and_given_back() -> None:
    request = Request(
        "claude-opus-4-8",
        [
            Message("user", [TextPart("go")]),
            Message("assistant", [ToolCallPart("c1", MCP, "{}")]),
            Message("user", [ToolResultPart("c1", [TextPart("done")])]),
        ],
        tools=[Tool(MCP, "", SCHEMA), Tool("Bash", "", SCHEMA)],
        tool_choice=ToolChoice("tool", MCP),
    )
    upstream, client_names = for_upstream(request)
    safe = safe_name(MCP)
    assert [t.name for t in upstream.tools] == [safe, "Bash"]
    assert upstream.tool_choice == ToolChoice("tool", safe)
    assert upstream.messages[1].parts == [ToolCallPart("c1", safe, "{}")]
    assert client_names == {safe: MCP}
    assert for_upstream(Request("m", [], tools=[Tool("Bash", "", SCHEMA)]))[1] == {}


def test_deferred_tools_are_offered_once_found_and_the_placeholder_never() -> None:
    tools = [Tool("ToolSearch", "", SCHEMA), Tool("WebFetch", "", SCHEMA, True), Tool(PLACEHOLDER, "", SCHEMA, True)]
    before = Request("m", [Message("user", [TextPart("fetch it")])], tools=tools)
    assert [t.name for t in offered(before)] == ["ToolSearch"]
    found = ToolResultPart("s1", [ToolReference("WebFetch"), ToolReference(PLACEHOLDER)])
    after = Request(
        "m",
        [*before.messages, Message("assistant", [ToolCallPart("s1", "ToolSearch", "{}")]), Message("user", [found])],
        tools=tools,
    )
    assert [t.name for t in offered(after)] == ["ToolSearch", "WebFetch"]
    assert "WebFetch" in result_text(found) and "(no output)" not in result_text(found)


# --- through the bridge ------------------------------------------------------------------------------------------


@pytest.fixture(params=["chat", "responses"])
def tier(request: pytest.FixtureRequest, fake_azure: FakeAzure, tmp_path: Path) -> Iterator[tuple[str, RunningBridge]]:
    api = request.param
    tiers = {f"{name}_API": api for name in ("BIG_MODEL", "MIDDLE_MODEL", "SMALL_MODEL")}
    with running_bridge(bridge_env(fake_azure, **tiers), tmp_path / "bridge.log", in_process=True) as bridge:
        yield api, bridge


@pytest.fixture
def claude(tier: tuple[str, RunningBridge]) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=tier[1].url, api_key=CLIENT_TOKEN, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def cursor(tier: tuple[str, RunningBridge]) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=tier[1].url + "/v1", api_key=CLIENT_TOKEN, max_retries=0) as sdk:
        yield sdk


def call_reply(api: str, name: str, arguments: dict[str, Any]) -> ToolCalls | ResponsesToolCalls:
    return ToolCalls([(name, arguments)]) if api == "chat" else ResponsesToolCalls([(name, arguments)])


def upstream_tool_names(body: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] if "function" in t else t["name"] for t in body.get("tools") or ()]


def test_a_dotted_mcp_tool_round_trips_on_the_anthropic_front(
    tier: tuple[str, RunningBridge], claude: anthropic.Anthropic, fake_azure: FakeAzure
) -> None:
    api, client = tier[0], claude
    fake_azure.enqueue(call_reply(api, safe_name(MCP), {"title": "bug"}))
    with client.messages.stream(model="claude-opus-4-8", max_tokens=500, messages=USER, tools=[tool(MCP)]) as stream:
        message = stream.get_final_message()
    [use] = [block for block in message.content if block.type == "tool_use"]
    assert (use.name, use.input) == (MCP, {"title": "bug"})
    assert upstream_tool_names(fake_azure.requests[-1].body) == [safe_name(MCP)]
    history = [
        *USER,
        {"role": "assistant", "content": [{"type": "tool_use", "id": use.id, "name": MCP, "input": use.input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "filed"}]},
    ]
    again = client.messages.create(model="claude-opus-4-8", max_tokens=500, messages=history, tools=[tool(MCP)])
    assert again.stop_reason == "end_turn", "Azure accepted the renamed call in the history"
    assert MCP not in json.dumps(fake_azure.requests[-1].body)


def test_a_dotted_tool_round_trips_on_the_openai_front(
    tier: tuple[str, RunningBridge], cursor: openai.OpenAI, fake_azure: FakeAzure
) -> None:
    api, client = tier[0], cursor
    fake_azure.enqueue(call_reply(api, safe_name(MCP), {"title": "bug"}))
    function = {"name": MCP, "description": "file an issue", "parameters": SCHEMA}
    completion = client.chat.completions.create(
        model="gpt-high", messages=[{"role": "user", "content": "file it"}], tools=[{"type": "function", "function": function}]
    )
    [call] = completion.choices[0].message.tool_calls or []
    assert call.function.name == MCP and json.loads(call.function.arguments) == {"title": "bug"}


def test_tool_search_offers_found_tools_and_never_the_placeholder(
    tier: tuple[str, RunningBridge], claude: anthropic.Anthropic, fake_azure: FakeAzure
) -> None:
    api, client = tier[0], claude
    tools = [
        tool("ToolSearch"),
        tool("WebFetch", defer_loading=True),
        tool("NotebookEdit", defer_loading=True),
        tool(PLACEHOLDER, defer_loading=True),
    ]
    fake_azure.enqueue(call_reply(api, "ToolSearch", {"query": "select:WebFetch"}))
    first = client.messages.create(model="claude-opus-4-8", max_tokens=500, messages=USER, tools=tools)
    assert upstream_tool_names(fake_azure.requests[-1].body) == ["ToolSearch"]
    [search] = [block for block in first.content if block.type == "tool_use"]
    found = [{"type": "tool_reference", "tool_name": "WebFetch"}]
    history = [
        *USER,
        {"role": "assistant", "content": [search.to_dict()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": search.id, "content": found}]},
    ]
    fake_azure.enqueue(call_reply(api, "WebFetch", {"url": "https://example.com"}))
    second = client.messages.create(model="claude-opus-4-8", max_tokens=500, messages=history, tools=tools)
    body = fake_azure.requests[-1].body
    assert upstream_tool_names(body) == ["ToolSearch", "WebFetch"]
    assert "WebFetch" in json.dumps(body["messages" if api == "chat" else "input"][-1])
    assert [block.name for block in second.content if block.type == "tool_use"] == ["WebFetch"]
