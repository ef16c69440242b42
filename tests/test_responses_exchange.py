"""The Responses upstream against the fake Azure: reasoning continuity, effort, web search, structured output, ends.

These drive `exchange.open_stream` on the Responses API
directly (a `Bridge` built from settings that point at the fake supplies the
pool and the adaptation memory), then render the events with the Anthropic
stream writer and read them back with the anthropic SDK's accumulator, the
way Claude Code would, turn after turn.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bridge.config.load import load_settings
from bridge.errors import BridgeError
from bridge.fronts.anthropic.message import message_body
from bridge.fronts.anthropic.request import parse_request
from bridge.fronts.anthropic.stream import AnthropicStreamRenderer
from bridge.http import close_session
from bridge.model import Target
from bridge.serving.collect import collect
from bridge.serving.inbound import SESSION_HEADER, cache_key_of
from bridge.serving.process import Bridge
from bridge.upstreams.exchange import open_stream
from bridge.upstreams.responses.signature import PREFIX, decode, encode
from tests.support.anthropic_grammar import accumulate, check_grammar, parse_sse, render
from tests.support.bridge import QUICK_RETRIES
from tests.support.fake_azure import (
    MISSING_REASON,
    Deployment,
    FakeAzure,
    RawSSE,
    ResponsesFailure,
    ResponsesText,
    ResponsesToolCalls,
    Search,
    recorded_dir,
    verify_encrypted,
)
from tests.test_responses_recorded import assert_matches_source, expected_from_source

SESSION = "1c057d60-b411-4364-a2b1-6ed21a59e6e4"
BASH = {
    "name": "Bash",
    "description": "Run a command",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
}
SYSTEM = [
    {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.9aa; cc_entrypoint=cli;"},
    {"type": "text", "text": "You are Claude Code."},
]
GPT_51 = Deployment("gpt-5.1", reasoning=True, max_output_tokens=128000, efforts=("none", "low", "medium", "high"))
NO_SEARCH = Deployment("gpt-5-nosearch", reasoning=True, max_output_tokens=128000, web_search=False)


def claude_code_body(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-opus-4-8",
        "max_tokens": 64000,
        "stream": True,
        "system": SYSTEM,
        "tools": [BASH],
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
        "metadata": {"user_id": json.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": SESSION})},
        "messages": messages,
        **extra,
    }


async def _turn(fake: FakeAzure, body: dict[str, Any], deployment: str, session: str | None) -> list[tuple[str, dict[str, Any]]]:
    bridge = Bridge(
        load_settings({"AZURE_OPENAI_ENDPOINT": str(fake.url), "AZURE_OPENAI_API_KEY": fake.api_key, **QUICK_RETRIES})
    )
    request = cache_key_of({SESSION_HEADER: session} if session else {}, parse_request(body))
    assert bridge.pool is not None
    target = Target(deployment, "BIG_MODEL")
    try:
        stream = await open_stream(request, target, "responses", bridge.pool, bridge.knowledge, bridge.deadline())
        return parse_sse(await render(AnthropicStreamRenderer("msg_test", request.model), stream))
    finally:
        await close_session()


def turn(fake: FakeAzure, body: dict[str, Any], deployment: str = "gpt-5", session: str | None = SESSION) -> Any:
    """One request through the Responses upstream; the SDK's message (grammar checked)."""
    events = asyncio.run(_turn(fake, body, deployment, session))
    check_grammar(events)
    return accumulate(events)


def sent(fake: FakeAzure, index: int = -1) -> dict[str, Any]:
    request = fake.requests[index]
    assert request.api == "responses" and request.path == "/openai/v1/responses"
    body: dict[str, Any] = request.body
    return body


def history(message: Any) -> dict[str, Any]:
    """The assistant turn as Claude Code sends it back."""
    return {"role": "assistant", "content": [block.to_dict() for block in message.content]}


def test_tool_loop_carries_the_encrypted_reasoning_to_the_next_turn(fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(
        ResponsesToolCalls([("Bash", {"command": "ls"})], reasoning=["First I list the files.", "Then I read them."])
    )
    fake_azure.enqueue(ResponsesText("Two files.", reasoning=["Counting."]))
    ask = {"role": "user", "content": "What is here?"}
    first = turn(fake_azure, claude_code_body([ask]))
    thinking, call = first.content
    assert thinking.type == "thinking" and thinking.thinking == "First I list the files.\n\nThen I read them."
    assert thinking.signature.startswith(PREFIX) and decode(thinking.signature) is not None
    assert (call.type, call.name, call.input) == ("tool_use", "Bash", {"command": "ls"})
    assert first.stop_reason == "tool_use"
    assert first.usage.output_tokens_details.thinking_tokens == 64

    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "a.txt b.txt"}]}
    second = turn(fake_azure, claude_code_body([ask, history(first), result]))
    assert [block.type for block in second.content] == ["thinking", "text"] and second.content[1].text == "Two files."

    items = sent(fake_azure)["input"]
    assert [item["type"] for item in items] == ["message", "reasoning", "function_call", "function_call_output"]
    reasoning = items[1]
    assert reasoning["id"] == fake_azure.issued_reasoning[0], "the reasoning item Azure issued on turn 1 came back"
    assert verify_encrypted(reasoning["id"], reasoning["encrypted_content"])
    assert reasoning["summary"] == [{"type": "summary_text", "text": "First I list the files.\n\nThen I read them."}]
    assert items[2]["call_id"] == items[3]["call_id"] == call.id and items[3]["output"] == "a.txt b.txt"


def test_request_mapping(fake_azure: FakeAzure) -> None:
    turn(fake_azure, claude_code_body([{"role": "user", "content": "hi"}], max_tokens=1, temperature=1), session=None)
    body = sent(fake_azure)
    assert body["instructions"] == "You are Claude Code."
    assert body["store"] is False and body["stream"] is True and body["include"] == ["reasoning.encrypted_content"]
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["prompt_cache_key"] == SESSION, "the session id inside metadata.user_id keys the prompt cache"
    assert body["max_output_tokens"] == 16, "Azure's minimum"
    assert body["tools"] == [
        {"type": "function", "name": "Bash", "description": "Run a command", "parameters": BASH["input_schema"], "strict": False}
    ]
    assert body["safety_identifier"] and len(body["safety_identifier"]) <= 64
    assert "temperature" in body


def test_foreign_and_tampered_signatures_never_break_a_turn(fake_azure: FakeAzure) -> None:
    call = {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "ls"}}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "ok"}]}
    anthropic = {"type": "thinking", "thinking": "Claude's own thought", "signature": "EqQBCkYIBxgCKkA" + "x" * 80}
    turn(
        fake_azure,
        claude_code_body([{"role": "user", "content": "go"}, {"role": "assistant", "content": [anthropic, call]}, result]),
    )
    assert [item["type"] for item in sent(fake_azure)["input"]] == ["message", "function_call", "function_call_output"]

    forged = {"type": "thinking", "thinking": "", "signature": encode("rs_forged", "gAAAAABnot-issued-here")}
    fake_azure.reset()
    message = turn(
        fake_azure,
        claude_code_body([{"role": "user", "content": "go"}, {"role": "assistant", "content": [forged, call]}, result]),
    )
    assert message.stop_reason == "end_turn"
    first, second = (r.body for r in fake_azure.requests)
    assert [i["type"] for i in first["input"]][1] == "reasoning" and "reasoning" not in [i["type"] for i in second["input"]]


def test_effort_steps_down_to_what_the_deployment_accepts(fake_azure: FakeAzure) -> None:
    fake_azure.add_deployment(GPT_51)
    turn(fake_azure, claude_code_body([{"role": "user", "content": "hi"}], output_config={"effort": "max"}), deployment="gpt-5.1")
    assert [r.body["reasoning"]["effort"] for r in fake_azure.requests] == ["xhigh", "high"]
    fake_azure.reset()
    turn(fake_azure, claude_code_body([{"role": "user", "content": "hi"}], thinking={"type": "disabled"}), deployment="gpt-5.1")
    assert [r.body["reasoning"]["effort"] for r in fake_azure.requests] == ["minimal", "none"]


def test_a_deployment_without_reasoning_gets_no_reasoning_parameters(fake_azure: FakeAzure) -> None:
    message = turn(fake_azure, claude_code_body([{"role": "user", "content": "hi"}]), deployment="gpt-4o")
    assert message.content[-1].text == "Hello from fake Azure."
    last = sent(fake_azure)
    assert "reasoning" not in last and "include" not in last


def test_omitted_display_gives_a_signed_thinking_block_with_no_text(fake_azure: FakeAzure) -> None:
    body = claude_code_body([{"role": "user", "content": "hi"}], thinking={"type": "adaptive", "display": "omitted"})
    message = turn(fake_azure, body)
    thinking = message.content[0]
    assert (thinking.type, thinking.thinking) == ("thinking", "") and decode(thinking.signature) is not None
    assert "summary" not in sent(fake_azure)["reasoning"]


def test_web_search_streams_server_tool_blocks_citations_and_usage(fake_azure: FakeAzure) -> None:
    sources = [("https://learn.microsoft.com/azure", "Azure docs"), ("https://example.com/news", "News")]
    text = "Azure OpenAI offers the Responses API. It streams events."
    fake_azure.enqueue(
        ResponsesText(
            text,
            searches=[Search("azure responses api", sources)],
            citations=[("offers the Responses API", sources[0][0], sources[0][1])],
        )
    )
    search_tool = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5, "allowed_domains": ["microsoft.com"]}
    body = claude_code_body([{"role": "user", "content": "search"}], tools=[search_tool])
    message = turn(fake_azure, body)
    kinds = [block.type for block in message.content]
    assert kinds == ["thinking", "server_tool_use", "web_search_tool_result", "text"]
    use, result, answer = message.content[1:]
    assert (use.name, use.input) == ("web_search", {"query": "azure responses api"})
    assert result.tool_use_id == use.id and [r.url for r in result.content] == [url for url, _ in sources]
    assert answer.text == text
    assert [(c.url, c.cited_text) for c in answer.citations] == [(sources[0][0], "offers the Responses API")]
    assert message.usage.server_tool_use.web_search_requests == 1
    request = sent(fake_azure)
    assert request["tools"] == [{"type": "web_search", "filters": {"allowed_domains": ["microsoft.com"]}}]
    assert request["max_tool_calls"] == 5 and "web_search_call.action.sources" in request["include"]


def test_a_deployment_without_web_search_says_so(fake_azure: FakeAzure) -> None:
    fake_azure.add_deployment(NO_SEARCH)
    body = claude_code_body(
        [{"role": "user", "content": "search"}], tools=[{"type": "web_search_20260209", "name": "web_search"}]
    )
    with pytest.raises(BridgeError) as refused:
        turn(fake_azure, body, deployment=NO_SEARCH.name)
    assert refused.value.kind == "invalid_request_error" and "does not offer web search" in refused.value.message


@pytest.mark.parametrize("strict", [True, False])
def test_structured_output_becomes_a_json_schema_text_format(fake_azure: FakeAzure, strict: bool) -> None:
    schema: dict[str, Any] = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    if strict:
        schema["additionalProperties"] = False
    fake_azure.enqueue(ResponsesText('{"answer": "42"}'))
    body = claude_code_body(
        [{"role": "user", "content": "json"}],
        output_config={"effort": "low", "format": {"type": "json_schema", "schema": schema}},
    )
    assert turn(fake_azure, body).content[-1].text == '{"answer": "42"}'
    assert sent(fake_azure)["text"] == {"format": {"type": "json_schema", "name": "response", "schema": schema, "strict": strict}}


@pytest.mark.parametrize(("cause", "stop_reason"), [("max_output_tokens", "max_tokens"), ("content_filter", "refusal")])
def test_incomplete_responses_stop_as_anthropic_does(fake_azure: FakeAzure, cause: str, stop_reason: str) -> None:
    fake_azure.enqueue(ResponsesText("cut short", incomplete=cause))
    message = turn(fake_azure, claude_code_body([{"role": "user", "content": "hi"}]))
    assert message.stop_reason == stop_reason and message.content[-1].text == "cut short"


def test_a_failed_response_ends_in_an_error_event(fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(ResponsesFailure("The server had an error.", text="Partial"))
    events = asyncio.run(_turn(fake_azure, claude_code_body([{"role": "user", "content": "hi"}]), "gpt-5", SESSION))
    check_grammar(events, allow_error=True)
    assert events[-1][0] == "error" and "The server had an error." in events[-1][1]["error"]["message"]


def test_non_streaming_message_keeps_thinking_signature_and_search_blocks(fake_azure: FakeAzure) -> None:
    sources = [("https://example.com/a", "A")]
    fake_azure.enqueue(
        ResponsesText("Found A.", searches=[Search("a", sources)], citations=[("Found A", "https://example.com/a", "A")])
    )

    async def gather() -> dict[str, Any]:
        env = {"AZURE_OPENAI_ENDPOINT": str(fake_azure.url), "AZURE_OPENAI_API_KEY": fake_azure.api_key, **QUICK_RETRIES}
        bridge = Bridge(load_settings(env))
        request = parse_request(
            claude_code_body(
                [{"role": "user", "content": "a"}], stream=False, tools=[{"type": "web_search_20250305", "name": "web_search"}]
            )
        )
        assert bridge.pool is not None
        try:
            stream = await open_stream(
                request, Target("gpt-5", "BIG_MODEL"), "responses", bridge.pool, bridge.knowledge, bridge.deadline()
            )
            return message_body(await collect(stream), "msg_x", request.model)
        finally:
            await close_session()

    body = asyncio.run(gather())
    thinking, use, result, text = body["content"]
    assert thinking["type"] == "thinking" and decode(thinking["signature"]) is not None
    assert use == {"type": "server_tool_use", "id": result["tool_use_id"], "name": "web_search", "input": {"query": "a"}}
    assert result["content"][0]["url"] == "https://example.com/a"
    assert text["citations"][0]["cited_text"] == "Found A"
    assert (
        body["usage"]["server_tool_use"]["web_search_requests"] == 1
        and body["usage"]["output_tokens_details"]["thinking_tokens"] == 64
    )


@pytest.mark.parametrize(
    "folder", ["sse_without_closing_new_lines", "reply_single_tool_call", "reply_parallel_tool_call", "response_error"]
)
def test_recorded_azure_streams_over_http(fake_azure: FakeAzure, folder: str) -> None:
    cursor = recorded_dir()
    if cursor is None:
        pytest.skip(MISSING_REASON)
    raw = (cursor.parent / "cursor-azure-responses" / folder / "upstream_response.sse").read_bytes()
    expected = expected_from_source(raw)
    body = claude_code_body([{"role": "user", "content": "replay"}])
    if expected["error"]:
        fake_azure.enqueue(*[RawSSE(raw)] * 4)
        with pytest.raises(BridgeError) as failed:
            asyncio.run(_turn(fake_azure, body, "gpt-5", SESSION))
        assert failed.value.kind == "api_error" and expected["error"]["message"] in failed.value.message
        assert len(fake_azure.requests) == 4, "a server error before any output is retried"
        fake_azure.reset()
        fake_azure.enqueue(RawSSE(raw))
        check_grammar(asyncio.run(_turn(fake_azure, body, "gpt-5", SESSION)))
        assert len(fake_azure.requests) == 2
        return
    fake_azure.enqueue(RawSSE(raw))
    events = asyncio.run(_turn(fake_azure, body, "gpt-5", SESSION))
    check_grammar(events)
    assert_matches_source(accumulate(events), expected)
