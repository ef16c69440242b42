"""The OpenAI front's pure translation: request → `Request`, events → chunks, `Completion` → chat.completion, errors."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest

from bridge.config.load import load_settings
from bridge.errors import STATUS_OF_KIND, BridgeError
from bridge.fronts.openai.completion import completion_body
from bridge.fronts.openai.errors import error_body, status_of
from bridge.fronts.openai.model_names import model_ids, resolve_alias
from bridge.fronts.openai.reasoning import CLOSE, OPEN, strip_thinking, thinking_section
from bridge.fronts.openai.request import parse_request
from bridge.fronts.openai.stream import OpenAIStreamRenderer
from bridge.model import (
    Completion,
    Event,
    Finish,
    ImagePart,
    Message,
    ReasoningDelta,
    ReasoningPart,
    Request,
    ResponseFormat,
    Target,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    ToolChoice,
    ToolResultPart,
    Usage,
)
from bridge.serving.tiers import resolve
from tests.support.fake_azure.replay import SHARED_DIR

SETTINGS = load_settings(
    {"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com", "BIG_MODEL": "gpt-5", "SMALL_MODEL": "gpt-5-mini"}
)
USER = [{"role": "user", "content": "hi"}]
CURSOR_CORPUS = SHARED_DIR / "wire-corpus" / "cursor-azure-responses"


def parse(**body: Any) -> Request:
    return parse_request({"model": "gpt-high", "messages": USER, **body}).request


def test_messages_of_every_role() -> None:
    request = parse(
        messages=[
            {"role": "system", "content": "Rules."},
            {"role": "developer", "content": [{"type": "text", "text": "More rules."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look:"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
                    {"type": "input_audio", "input_audio": {}},
                ],
            },
            {
                "role": "assistant",
                "content": thinking_section("I should call.") + "Calling.",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
                    {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": {"b": 2}}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "one"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "two"}]},
            {"role": "user", "content": "next"},
        ]
    )
    assert request.messages == [
        Message("system", [TextPart("Rules.")]),
        Message("system", [TextPart("More rules.")]),
        Message("user", [TextPart("Look:"), ImagePart("https://x/y.png")]),
        Message(
            "assistant", [TextPart("Calling."), ToolCallPart("call_1", "f", '{"a":1}'), ToolCallPart("call_2", "g", '{"b":2}')]
        ),
        Message("user", [ToolResultPart("call_1", [TextPart("one")]), ToolResultPart("call_2", [TextPart("two")])]),
        Message("user", [TextPart("next")]),
    ]


def test_assistant_with_only_a_thinking_section_and_null_content() -> None:
    request = parse(
        messages=[
            *USER,
            {"role": "assistant", "content": thinking_section("just thinking")},
            {"role": "assistant", "content": None, "tool_calls": []},
        ]
    )
    assert request.messages[1:] == [Message("assistant", []), Message("assistant", [])]


def test_a_responses_shaped_body_as_cursor_sends_it() -> None:
    body = {
        "model": "gpt-5",
        "instructions": "Rules.",
        "input": [
            {"role": "developer", "content": "More rules."},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look:"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                ],
            },
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Calling."}]},
            {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": '{"a":1}'},
            {"type": "function_call", "call_id": "call_2", "name": "g", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "one"},
            {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "two"}]},
            {"type": "custom_tool_call", "call_id": "call_3", "name": "ApplyPatch", "input": "..."},
        ],
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "reasoning": {"effort": "medium", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "text": {"verbosity": "low"},
        "store": False,
        "max_output_tokens": 900,
        "stream": True,
    }
    request = parse_request(body).request
    assert request.messages == [
        Message("system", [TextPart("Rules.")]),
        Message("system", [TextPart("More rules.")]),
        Message("user", [TextPart("Look:"), ImagePart("data:image/png;base64,AAAA")]),
        Message("assistant", [TextPart("Calling."), ToolCallPart("call_1", "f", '{"a":1}'), ToolCallPart("call_2", "g", "{}")]),
        Message("user", [ToolResultPart("call_1", [TextPart("one")]), ToolResultPart("call_2", [TextPart("two")])]),
    ]
    assert request.tools == [Tool("f", "", {"type": "object"})]
    assert (request.reasoning_effort, request.max_tokens, request.stream) == ("medium", 900, True)
    assert parse_request({"model": "m", "input": "just this"}).request.messages == [Message("user", [TextPart("just this")])]
    with pytest.raises(BridgeError) as caught:
        parse_request({"model": "m", "input": [{"type": "function_call", "name": "f"}]})
    assert error_body(caught.value)["error"]["param"] == "input[0].call_id"


def test_tools_and_tool_choice() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "f",
                "description": "F",
                "parameters": {"type": "object", "properties": {"a": {"type": "string"}}},
                "strict": True,
            },
        },
        {"type": "function", "name": "g", "parameters": {"type": "object"}},
        {"type": "function", "function": {"name": "h"}},
        {"type": "custom", "name": "ApplyPatch", "format": {"type": "grammar"}},
    ]
    request = parse(tools=tools, tool_choice={"type": "function", "function": {"name": "f"}}, parallel_tool_calls=False)
    assert request.tools == [
        Tool("f", "F", {"type": "object", "properties": {"a": {"type": "string"}}}),
        Tool("g", "", {"type": "object"}),
        Tool("h", "", {"type": "object", "properties": {}}),
    ]
    assert request.tool_choice == ToolChoice("tool", "f") and request.parallel_tool_calls is False
    for choice in ("auto", "none", "required"):
        assert parse(tool_choice=choice).tool_choice == ToolChoice(choice)  # type: ignore[arg-type]
    assert parse(tool_choice={"type": "function", "name": "g"}).tool_choice == ToolChoice("tool", "g")


def test_sampling_limits_and_identity() -> None:
    long_user = "u" * 100
    request = parse(
        max_tokens=10,
        max_completion_tokens=20,
        temperature=0,
        top_p=0.5,
        stop="END",
        user=long_user,
        prompt_cache_key="k",
        stream=True,
    )
    assert (request.max_tokens, request.temperature, request.top_p, request.stop) == (20, 0.0, 0.5, ["END"])
    assert request.user == hashlib.sha256(long_user.encode()).hexdigest() and request.cache_key == "k" and request.stream
    assert parse(max_tokens=7, stop=["a", "", "b"], user="me").max_tokens == 7
    assert parse(stop=["a", "", "b"]).stop == ["a", "b"]
    assert parse_request(
        {"model": "m", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}
    ).include_usage


def test_reasoning_effort_and_response_format() -> None:
    assert parse(reasoning_effort="low").reasoning_effort == "low"
    assert parse(reasoning={"effort": "minimal", "summary": "auto"}).reasoning_effort == "minimal"
    assert parse(reasoning_effort="high", reasoning={"effort": "low"}).reasoning_effort == "high"
    assert parse().reasoning_effort is None
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    assert parse(
        response_format={"type": "json_schema", "json_schema": {"name": "X", "schema": schema, "strict": True}}
    ).response_format == ResponseFormat(schema, "X", True)
    assert parse(response_format={"type": "json_object"}).response_format == ResponseFormat(
        {"type": "object"}, "json_object", False
    )
    assert parse(response_format={"type": "text"}).response_format is None


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"messages": USER}, "model", "missing_required_parameter"),
        ({"model": "m"}, "messages", "missing_required_parameter"),
        ({"model": "  ", "messages": USER}, "model", "invalid_value"),
        ({"model": "m", "messages": "hi"}, "messages", "invalid_type"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "invalid_value"),
        ({"model": "m", "messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content", "invalid_type"),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages[0].content[0].image_url.url",
            "missing_required_parameter",
        ),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
            "missing_required_parameter",
        ),
        (
            {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {}}]}]},
            "messages[0].tool_calls[0].function.name",
            "missing_required_parameter",
        ),
        (
            {"model": "m", "messages": USER, "tools": [{"type": "function", "function": {"description": "no name"}}]},
            "tools[0].function.name",
            "missing_required_parameter",
        ),
        ({"model": "m", "messages": USER, "tool_choice": "sometimes"}, "tool_choice", "invalid_value"),
        ({"model": "m", "messages": USER, "reasoning_effort": "extreme"}, "reasoning_effort", "invalid_value"),
        ({"model": "m", "messages": USER, "reasoning": {"effort": "extreme"}}, "reasoning.effort", "invalid_value"),
        ({"model": "m", "messages": USER, "max_tokens": 0}, "max_tokens", "invalid_value"),
        ({"model": "m", "messages": USER, "max_completion_tokens": "9"}, "max_completion_tokens", "invalid_type"),
        ({"model": "m", "messages": USER, "temperature": "hot"}, "temperature", "invalid_type"),
        ({"model": "m", "messages": USER, "stop": [1]}, "stop", "invalid_type"),
        ({"model": "m", "messages": USER, "stream": "yes"}, "stream", "invalid_type"),
        ({"model": "m", "messages": USER, "n": 2}, "n", "unsupported_value"),
        ({"model": "m", "messages": USER, "response_format": {"type": "yaml"}}, "response_format.type", "invalid_value"),
    ],
)
def test_invalid_requests_name_the_param(body: dict[str, Any], param: str, code: str) -> None:
    with pytest.raises(BridgeError) as caught:
        parse_request(body)
    error = error_body(caught.value)["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert param in error["message"] or code == "unsupported_value"


def test_every_recorded_cursor_request_parses() -> None:
    folders = sorted(CURSOR_CORPUS.glob("*/downstream_request.json")) if CURSOR_CORPUS.is_dir() else []
    if not folders:
        pytest.skip("../shared/wire-corpus not present")
    for path in folders:
        body = json.loads(path.read_text())
        request = parse_request(body).request
        assert request.reasoning_effort == body["reasoning"]["effort"] and request.stream
        sent_calls = [c["id"] for m in body["messages"] if m["role"] == "assistant" for c in m.get("tool_calls", [])]
        calls = [p.id for m in request.messages for p in m.parts if isinstance(p, ToolCallPart)]
        results = [p.call_id for m in request.messages for p in m.parts if isinstance(p, ToolResultPart)]
        assert calls == sent_calls == results, path.parent.name
        assert len(request.tools) == len(body.get("tools") or [])


def test_aliases_tiers_and_pass_through() -> None:
    for alias, effort in (("gpt-high", "high"), ("GPT-Medium", "medium"), ("gpt-low", "low"), ("gpt-minimal", "minimal")):
        routed = resolve_alias(Request(alias, []))
        assert (routed.model, routed.reasoning_effort) == ("opus", effort)
    assert resolve_alias(Request("gpt-high", [], reasoning_effort="low")).reasoning_effort == "low"

    async def no_tokens(_: Target) -> int:
        return 0

    assert asyncio.run(resolve(resolve_alias(Request("gpt-5", [])), SETTINGS, no_tokens))[0].setting == "BIG_MODEL"
    assert asyncio.run(resolve(resolve_alias(Request("gpt-5-mini", [])), SETTINGS, no_tokens))[0].setting == "SMALL_MODEL"
    assert resolve_alias(Request("claude-sonnet-4-6", [])).model == "claude-sonnet-4-6"
    assert resolve_alias(Request("my-deployment", [])) == Request("my-deployment", [])
    assert model_ids(SETTINGS) == ["gpt-high", "gpt-medium", "gpt-low", "gpt-minimal", "gpt-5", "gpt-5-mini"]


def chunks_of(writer: OpenAIStreamRenderer, *batches: list[Event]) -> list[Any]:
    raw = writer.opening() + b"".join(writer.render(batch) for batch in batches)
    payloads = [line[len("data: ") :] for line in raw.decode().splitlines() if line.startswith("data: ")]
    return [payload if payload == "[DONE]" else json.loads(payload) for payload in payloads]


def deltas(chunks: list[Any]) -> list[dict[str, Any]]:
    return [chunk["choices"][0]["delta"] for chunk in chunks[1:] if chunk != "[DONE]" and chunk["choices"]]


def test_parallel_calls_interleaved_keep_one_index_each() -> None:
    writer = OpenAIStreamRenderer("chatcmpl-1", "gpt-high", 1, include_usage=False)
    chunks = chunks_of(
        writer,
        [ToolCallStart(3, "call_a", "f"), ToolCallStart(7, "call_b", "g")],
        [ToolCallDelta(3, '{"x"'), ToolCallDelta(7, '{"y"'), ToolCallDelta(3, ":1}"), ToolCallDelta(7, ":2}")],
        [Finish("tool_use")],
    )
    assert deltas(chunks) == [
        {"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}]},
        {"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"x"'}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": '{"y"'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": ":2}"}}]},
        {},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls" and chunks[-1] == "[DONE]" and writer.finished


def test_a_batch_merges_adjacent_fragments_and_closes_the_thinking_section() -> None:
    writer = OpenAIStreamRenderer("chatcmpl-1", "gpt-high", 1, include_usage=True)
    chunks = chunks_of(
        writer,
        [
            ReasoningDelta("Let me "),
            ReasoningDelta("think."),
            TextDelta("Hel"),
            TextDelta("lo."),
            ToolCallStart(0, "c", "f"),
            ToolCallDelta(0, "{}"),
        ],
        [Usage(input_tokens=10, output_tokens=5, cached_tokens=4, reasoning_tokens=2), Finish("end_turn")],
    )
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""} and chunks[0]["usage"] is None
    assert deltas(chunks) == [
        {"content": OPEN + "Let me think." + CLOSE + "Hello."},
        {"tool_calls": [{"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {},
    ]
    assert chunks[-2]["choices"] == [] and chunks[-2]["usage"] == {
        "prompt_tokens": 14,
        "completion_tokens": 5,
        "total_tokens": 19,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_finish_reasons(reason: Any, expected: str) -> None:
    writer = OpenAIStreamRenderer("chatcmpl-1", "m", 1, include_usage=False)
    assert chunks_of(writer, [Finish(reason)])[-2]["choices"][0]["finish_reason"] == expected
    body = completion_body(Completion([TextPart("x")], Finish(reason), Usage()), "chatcmpl-1", "m", 1)
    assert body["choices"][0]["finish_reason"] == expected


def test_completion_body() -> None:
    completion = Completion(
        [ReasoningPart("Plan.", "sig"), TextPart("Doing it."), ToolCall("call_1", "f", '{"a":1}'), ToolCall("call_2", "g", "{}")],
        Finish("tool_use"),
        Usage(input_tokens=3, output_tokens=4, cached_tokens=1, reasoning_tokens=2),
    )
    body = completion_body(completion, "chatcmpl-1", "gpt-high", 123)
    assert body["object"] == "chat.completion" and body["model"] == "gpt-high" and body["created"] == 123
    message = body["choices"][0]["message"]
    assert message["content"] == OPEN + "Plan." + CLOSE + "Doing it."
    assert strip_thinking(message["content"]) == "Doing it."
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    assert body["usage"]["prompt_tokens"] == 4 and body["usage"]["total_tokens"] == 8
    only_calls = completion_body(Completion([ToolCall("c", "f", "{}")], Finish("tool_use"), Usage()), "i", "m", 1)
    assert only_calls["choices"][0]["message"]["content"] is None
    assert completion_body(Completion([], Finish("end_turn"), Usage()), "i", "m", 1)["choices"][0]["message"]["content"] == ""


def test_every_error_kind_has_an_openai_shape() -> None:
    for kind in STATUS_OF_KIND:
        error = BridgeError(kind, "m")
        body = error_body(error)
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert status_of(error) == {"overloaded_error": 503}.get(kind, STATUS_OF_KIND[kind])
    assert error_body(BridgeError("api_error", "m"))["error"]["type"] == "server_error"
