"""Unit tests of the pure pieces behind the Responses upstream: thinking and effort, signatures, adaptation, bodies."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from bridge.fronts.anthropic.request import parse_request, strict_schema
from bridge.model import Message, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from bridge.serving.inbound import AGENT_HEADER, SESSION_HEADER, cache_key_of
from bridge.upstreams.adapt import Adaptation, learn, step_effort
from bridge.upstreams.chat.request import build_body as chat_body
from bridge.upstreams.failures import ErrorReport
from bridge.upstreams.responses.request import input_items
from bridge.upstreams.responses.signature import decode, encode

USER = [{"role": "user", "content": "hi"}]


def parsed(**fields: Any) -> Any:
    return parse_request({"model": "claude-opus-4-8", "max_tokens": 100, "messages": USER, **fields})


@pytest.mark.parametrize(
    ("fields", "effort"),
    [
        ({}, None),
        ({"thinking": {"type": "disabled"}, "output_config": {"effort": "high"}}, "minimal"),
        ({"thinking": {"type": "adaptive"}}, "high"),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}, "low"),
        ({"output_config": {"effort": "medium"}}, "medium"),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"}}, "xhigh"),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}, "xhigh"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "low"),
        ({"thinking": {"type": "enabled", "budget_tokens": 4000}}, "low"),
        ({"thinking": {"type": "enabled", "budget_tokens": 10000}}, "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": 31999}}, "high"),
    ],
)
def test_thinking_and_effort_map_onto_reasoning_effort(fields: dict[str, Any], effort: str | None) -> None:
    assert parsed(**fields).reasoning_effort == effort


def test_display_omitted_hides_the_summary() -> None:
    assert parsed(thinking={"type": "adaptive", "display": "omitted"}).reasoning_summary is False
    assert parsed(thinking={"type": "adaptive", "display": "summarized"}).reasoning_summary is True


@pytest.mark.parametrize(
    ("header", "user_id", "key"),
    [
        ("abc-123", None, "abc-123"),
        (None, json.dumps({"device_id": "d", "account_uuid": "", "session_id": "s-1"}), "s-1"),
        (None, "user_0a1b_account__session_9f8e-77", "9f8e-77"),
        (None, "plain-user", None),
        ("x" * 100, None, None),
    ],
)
def test_cache_key_is_the_session(header: str | None, user_id: str | None, key: str | None) -> None:
    metadata = {"metadata": {"user_id": user_id}} if user_id else {}
    parsed = parse_request({"model": "m", "max_tokens": 1, "messages": USER, **metadata})
    request = cache_key_of({SESSION_HEADER: header} if header else {}, parsed)
    if header and len(header) > 64:
        assert request.cache_key is not None and len(request.cache_key) == 64
    else:
        assert request.cache_key == key


def test_billing_header_line_is_stripped_inside_a_block() -> None:
    request = parsed(system="x-anthropic-billing-header: cc_version=1; cch=abc;\nYou are Claude Code.")
    assert request.messages[0].parts == [TextPart("You are Claude Code.")]


def test_web_search_and_structured_output_are_read() -> None:
    tool = {
        "type": "web_search_20250305",
        "name": "web_search",
        "max_uses": 3,
        "blocked_domains": ["x.com"],
        "user_location": {"type": "approximate", "city": "Oslo"},
    }
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False}
    request = parsed(tools=[tool], output_config={"format": {"type": "json_schema", "schema": schema}})
    assert request.tools == [] and request.web_search is not None
    assert (request.web_search.max_uses, request.web_search.blocked_domains, request.web_search.user_location) == (
        3,
        ["x.com"],
        tool["user_location"],
    )
    assert request.response_format is not None and request.response_format.strict is True


@pytest.mark.parametrize(
    ("schema", "strict"),
    [
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False}, True),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, False),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}, False),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "object", "properties": {}}},
                "required": ["a"],
                "additionalProperties": False,
            },
            False,
        ),
        ({"type": "array", "items": {"type": "string"}}, True),
    ],
)
def test_strict_schema(schema: dict[str, Any], strict: bool) -> None:
    assert strict_schema(schema) is strict


def test_signature_round_trip_and_foreign_signatures() -> None:
    signature = encode("rs_0ca3f598125653cf", "gAAAAABpPB8lbpM3jnQ-g_yo=")
    item = decode(signature)
    assert item is not None and (item.id, item.encrypted_content) == ("rs_0ca3f598125653cf", "gAAAAABpPB8lbpM3jnQ-g_yo=")
    for foreign in (
        None,
        "",
        "EqQBCkYIBxgCKkA1",
        "azure-reasoning.v1.",
        "azure-reasoning.v1.rs_1",
        "azure-reasoning.v1.rs 1.gAAA",
        "azure-reasoning.v1.rs_1.gA AA",
    ):
        assert decode(foreign) is None


def test_only_the_bridges_reasoning_goes_upstream_in_order() -> None:
    ours = encode("rs_1", "gAAAAAB1")
    messages = [
        Message("user", [TextPart("go")]),
        Message(
            "assistant",
            [
                ReasoningPart("plan", ours),
                TextPart("Running."),
                ToolCallPart("toolu_" + "x" * 60, "Bash", "{}"),
                ReasoningPart("x", "EqQ"),
            ],
        ),
        Message("user", [ToolResultPart("toolu_" + "x" * 60, [TextPart("done")])]),
        Message("assistant", [ToolCallPart("toolu_2", "Read", "")]),
    ]
    items = input_items(messages)
    assert [item["type"] for item in items] == [
        "message",
        "reasoning",
        "message",
        "function_call",
        "function_call_output",
        "function_call",
        "function_call_output",
    ]
    assert items[1] == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "plan"}],
        "encrypted_content": "gAAAAAB1",
    }
    assert len(items[3]["call_id"]) <= 40 and items[3]["call_id"] == items[4]["call_id"]
    assert items[5]["arguments"] == "{}" and items[6]["output"] == "No result was returned for this tool call."


@pytest.mark.parametrize(
    ("wanted", "refused", "stepped"),
    [
        ("xhigh", {"xhigh"}, "high"),
        ("minimal", {"minimal", "xhigh"}, "none"),
        ("minimal", {"none", "minimal"}, "low"),
        ("high", set(), "high"),
        ("low", {"none", "minimal", "low", "medium", "high", "xhigh"}, None),
    ],
)
def test_effort_steps_to_the_nearest_accepted(wanted: str, refused: set[str], stepped: str | None) -> None:
    assert step_effort(wanted, frozenset(refused)) == stepped


def _learn(current: Adaptation, error: dict[str, Any], sent: dict[str, Any]) -> Adaptation | None:
    lesson = learn(current, ErrorReport.of(400, error), sent)
    return lesson.adaptation if lesson is not None else None


def test_adaptation_learns_nested_responses_parameters() -> None:
    body = {
        "model": "m",
        "reasoning": {"effort": "xhigh", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "max_output_tokens": 200000,
    }
    effort = {
        "message": "Unsupported value: 'reasoning.effort' does not support 'xhigh' with this model. Supported values are: 'low', 'medium', and 'high'.",
        "param": "reasoning.effort",
        "code": "unsupported_value",
    }
    adapted = _learn(Adaptation(), effort, body)
    assert adapted is not None and adapted.apply(body)["reasoning"] == {"effort": "high", "summary": "auto"}
    not_reasoning = {
        "message": "Unsupported parameter: 'reasoning.effort' is not supported with this model.",
        "param": "reasoning.effort",
        "code": "unsupported_parameter",
    }
    assert "reasoning" not in (_learn(Adaptation(), not_reasoning, body) or Adaptation()).apply(body)
    summary = _learn(Adaptation(), {"message": "no", "param": "reasoning.summary", "code": "unsupported_parameter"}, body)
    assert summary is not None and summary.apply(body)["reasoning"] == {"effort": "xhigh"}
    encrypted = _learn(
        Adaptation(), {"message": "Encrypted content is not supported with this model.", "param": None, "code": None}, body
    )
    assert encrypted is not None and "include" not in encrypted.apply(body)
    cap = _learn(
        Adaptation(),
        {"message": "This model supports at most 128000 output tokens", "param": "max_output_tokens", "code": "invalid_value"},
        body,
    )
    assert cap is not None and cap.apply(body)["max_output_tokens"] == 128000


def test_responses_api_hint_is_left_for_the_api_switch() -> None:
    hint = {
        "message": "Function tools with reasoning_effort are not supported for gpt-5.4 in /v1/chat/completions. Please use /v1/responses instead.",
        "param": "reasoning_effort",
        "code": None,
    }
    assert _learn(Adaptation(), hint, {"reasoning_effort": "high"}) is None


def test_chat_body_carries_effort_and_response_format() -> None:
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    request = parsed(
        thinking={"type": "adaptive"}, output_config={"effort": "low", "format": {"type": "json_schema", "schema": schema}}
    )
    body = chat_body(replace(request, max_tokens=100), "gpt-5", True)
    assert body["reasoning_effort"] == "low"
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema, "strict": True},
    }


def test_documents_become_input_files() -> None:
    from bridge.model import FilePart, Message, Request, TextPart
    from bridge.upstreams.responses.request import build_body

    request = Request(
        "claude-opus-4-8",
        [
            Message(
                "user",
                [
                    FilePart("data:application/pdf;base64,JVBERi0=", "a.pdf"),
                    FilePart("https://example.com/b.pdf", "b.pdf"),
                    TextPart("?"),
                ],
            )
        ],
        max_tokens=100,
    )
    content = build_body(replace(request, max_tokens=100), "gpt-5", True)["input"][0]["content"]
    assert content[0] == {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}
    assert content[1] == {"type": "input_file", "file_url": "https://example.com/b.pdf"}


def test_each_agent_of_a_session_has_its_own_stable_cache_key() -> None:
    parsed = parse_request({"model": "m", "max_tokens": 1, "messages": USER})
    session = {SESSION_HEADER: "1b368a6e-2c52-4605-9363-e7947fdabc64"}
    main = cache_key_of(session, parsed).cache_key
    agent = cache_key_of({**session, AGENT_HEADER: "acbdd6b3936148614"}, parsed).cache_key
    other = cache_key_of({**session, AGENT_HEADER: "a0000000000000001"}, parsed).cache_key
    assert main == session[SESSION_HEADER]
    assert len({main, agent, other}) == 3, "a subagent does not evict the main agent's cached prefix"
    assert agent == cache_key_of({**session, AGENT_HEADER: "acbdd6b3936148614"}, parsed).cache_key, "stable per agent"
    assert agent is not None and len(agent) <= 64
