"""Property-based tests of the translators: valid input always gives valid output."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.fronts.anthropic.request import parse_request
from bridge.fronts.anthropic.stream import AnthropicStreamRenderer
from bridge.upstreams.adapt import Adaptation
from bridge.upstreams.chat.request import build_body
from tests.support.anthropic_grammar import accumulate, check_grammar, parse_sse, render
from tests.support.anthropic_grammar import upstream_stream as stream_of
from tests.support.bridge import CLIENT_TOKEN, RunningBridge
from tests.support.fake_azure import Deployment
from tests.support.fake_azure.rules import validate_chat_request
from tests.support.strategies import examples, messages_request, upstream_stream

ANY_OUTPUT = Deployment("any", max_output_tokens=1_000_000)
NO_REASONING = Adaptation(dropped=frozenset({"reasoning_effort"}))
"""What the bridge learns from a non-reasoning deployment's first 400."""


@given(messages_request())
@settings(max_examples=examples(300), deadline=None)
def test_every_valid_request_becomes_a_body_azure_accepts(body: dict[str, Any]) -> None:
    request = replace(parse_request(body), web_search=None)
    chat = NO_REASONING.apply(build_body(request, "any", True))
    error = validate_chat_request(chat, ANY_OUTPUT)
    assert error is None, (error, json.dumps(chat)[:2000])


async def _render(chunks: list[dict[str, Any]], split: int) -> bytes:
    raw = b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks) + b"data: [DONE]\n\n"
    return await render(AnthropicStreamRenderer("msg_prop", "claude-opus-4-8"), stream_of(raw, split, "chat"))


@given(upstream_stream(), st.integers(1, 300))
@settings(max_examples=examples(300), deadline=None)
def test_every_stream_obeys_the_grammar_and_keeps_the_content(
    stream: tuple[list[dict[str, Any]], dict[str, Any]], split: int
) -> None:
    chunks, expected = stream
    events = parse_sse(asyncio.run(_render(chunks, split)))
    check_grammar(events)
    message = accumulate(events)
    assert "".join(b.text for b in message.content if b.type == "text") == expected["text"]
    calls = [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]
    assert calls == expected["calls"]
    reasons = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
    assert message.stop_reason == reasons[expected["finish"]]


@given(messages_request(), st.booleans())
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_valid_requests_never_get_a_5xx(bridge: RunningBridge, body: dict[str, Any], stream: bool) -> None:
    body = {**body, "stream": stream}
    response = httpx.post(bridge.url + "/v1/messages", headers={"x-api-key": CLIENT_TOKEN}, json=body, timeout=30)
    if any(str(tool.get("type", "")).startswith("web_search") for tool in body.get("tools") or ()):
        assert response.status_code == 400 and "web_search" in response.json()["error"]["message"], "the chat tier says so"
        return
    assert response.status_code == 200, response.text
    if stream:
        check_grammar(parse_sse(response.content))
    else:
        assert response.json()["type"] == "message"
