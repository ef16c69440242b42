"""Unit tests of the pure pieces: SSE decoding, settings, routing, adaptation, stop sequences, tool ordering, errors."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from bridge.model import Event, Finish, Message, Request, TextDelta, TextPart, ToolCallPart, ToolResultPart
from bridge.settings import load_settings
from bridge.sse import DataReader
from bridge.stops import StopSequences
from bridge.tiers import Target, resolve
from bridge.upstreams.adapt import Adaptation, learn
from bridge.upstreams.chat.request import chat_messages
from bridge.upstreams.failures import UpstreamError, describe
from bridge.upstreams.tool_order import UNANSWERED_CALL, call_id
from bridge.upstreams.transport import retry_delay
from tests.fake_azure import load_transcript, recorded_dir


def test_sse_reader_handles_real_framing() -> None:
    reader = DataReader()
    raw = 'event: a\r\ndata: {"x":\r\ndata: 1}\r\n\r\n: comment\n\ndata: caf\u00e9\n\ndata: last'.encode()
    events = []
    for i in range(len(raw)):
        events += reader.feed(raw[i : i + 1])
    events += reader.close()
    assert events == [b'{"x":\n1}', "caf\u00e9".encode(), b"last"]


def test_settings_normalise_and_report() -> None:
    settings = load_settings(
        {
            "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com/openai/v1/",
            "AZURE_API_VERSION": "2024-10-21",
            "BIG_MODEL": "gpt-5",
            "REQUEST_TIMEOUT": "soon",
            "MAX_TOKENS_LIMIT": "-3",
            "CUSTOM_HEADER_X_API_KEY": "abc",
            "CUSTOM_HEADER_X_TEAM": "<placeholder>",
            "AZURE_OPENAI_API_KEY": "<API key of the resource>",
        }
    )
    primary = settings.upstreams[0]
    assert primary.base_url == "https://res.openai.azure.com"
    assert primary.api_version == "2024-10-21" and not primary.uses_v1_api
    assert primary.api_key is None
    assert settings.tier("MIDDLE_MODEL") == settings.tier("SMALL_MODEL") == settings.tiers["BIG_MODEL"]
    assert settings.custom_headers == {"X-API-KEY": "abc"}
    assert any("REQUEST_TIMEOUT" in p for p in settings.problems) and any("MAX_TOKENS_LIMIT" in p for p in settings.problems)
    assert load_settings({}).problems and any("AZURE_OPENAI_ENDPOINT" in p for p in load_settings({}).problems)


def counted(tokens: int) -> Callable[[Target], Awaitable[int]]:
    async def count(_: Target) -> int:
        return tokens

    return count


def _route(model: str, settings: object, effort: str | None = None, tokens: int = 10) -> tuple[str, str]:
    route, _ = asyncio.run(resolve(Request(model, [], reasoning_effort=effort), settings, counted(tokens)))  # type: ignore[arg-type]
    return route.deployment, route.setting


def test_routing_by_family_and_pass_through() -> None:
    settings = load_settings({"BIG_MODEL": "big", "SMALL_MODEL": "small"})
    assert _route("claude-opus-4-8", settings) == ("big", "BIG_MODEL")
    assert _route("claude-sonnet-4-6", settings) == ("big", "BIG_MODEL")
    assert _route("claude-3-5-haiku-latest", settings) == ("small", "SMALL_MODEL")
    assert _route("small", settings) == ("small", "SMALL_MODEL"), "a tier's deployment name takes that tier"
    assert _route("my-deployment", settings) == ("my-deployment", "model")


def test_think_long_context_and_overrides() -> None:
    settings = load_settings(
        {
            "BIG_MODEL": "big",
            "SMALL_MODEL": "small",
            "THINK_MODEL": "thinker",
            "LONG_CONTEXT_MODEL": "long",
            "LONG_CONTEXT_THRESHOLD": "1000",
            "THINK_MODEL_TEMPERATURE": "0.3",
            "THINK_MODEL_MAX_TOKENS": "500",
            "THINK_MODEL_API": "responses",
        }
    )
    assert _route("claude-opus-4-8", settings, effort="high") == ("thinker", "THINK_MODEL")
    assert _route("claude-opus-4-8", settings, effort="minimal") == ("big", "BIG_MODEL")
    assert _route("claude-haiku-4-5", settings, effort="high") == ("small", "SMALL_MODEL")
    assert _route("claude-opus-4-8", settings, effort="high", tokens=5000) == ("long", "LONG_CONTEXT_MODEL")
    route, request = asyncio.run(
        resolve(Request("claude-opus-4-8", [], max_tokens=64000, temperature=1.0, reasoning_effort="high"), settings, counted(1))
    )
    assert (route.api, request.temperature, request.max_tokens) == ("responses", 0.3, 500)
    assert load_settings({"BIG_MODEL": "b", "BIG_MODEL_API": "grpc"}).problems


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {
                "message": "Unsupported parameter: 'max_tokens' is not supported with this model.",
                "param": "max_tokens",
                "code": "unsupported_parameter",
            },
            None,
        ),
        (
            {
                "message": "Unsupported value: 'temperature' does not support 0.5 with this model.",
                "param": "temperature",
                "code": "unsupported_value",
            },
            Adaptation(dropped=frozenset({"temperature"})),
        ),
        (
            {"message": "Unrecognized request argument supplied: max_completion_tokens", "param": None, "code": None},
            Adaptation(token_key="max_tokens"),
        ),
        (
            {"message": "Unrecognized request argument supplied: top_p", "param": None, "code": None},
            Adaptation(dropped=frozenset({"top_p"})),
        ),
        (
            {
                "message": "max_tokens is too large: 64000. This model supports at most 16384 completion tokens, whereas you provided 64000.",
                "param": "max_tokens",
                "code": "invalid_value",
            },
            Adaptation(token_cap=16384),
        ),
        ({"message": "Invalid 'messages[1].content'", "param": "messages", "code": "invalid_value"}, None),
    ],
)
def test_adaptation_learns_from_azure_400s(error: dict[str, Any], expected: Adaptation | None) -> None:
    sent = {"max_completion_tokens": 64000, "temperature": 0.5, "top_p": 0.9}
    lesson = learn(Adaptation(), UpstreamError.of(400, error), sent)
    assert (lesson.adaptation if lesson is not None else None) == expected


def test_adaptation_applies_every_fix() -> None:
    adaptation = Adaptation(dropped=frozenset({"temperature"}), token_key="max_tokens", token_cap=100)
    assert adaptation.apply({"model": "m", "temperature": 1, "max_completion_tokens": 500}) == {"model": "m", "max_tokens": 100}


def _run_stops(texts: list[str], sequences: list[str]) -> list[Event]:
    stops = StopSequences(sequences)
    events: list[Event] = []
    for text in texts:
        events += stops.feed([TextDelta(text)])
        if stops.finished:
            return events
    return events + stops.feed([Finish("end_turn")])


def test_stop_sequence_split_across_chunks() -> None:
    events = _run_stops(["hello wo", "rld, ST", "OP and more"], ["STOP"])
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "hello world, "
    assert events[-1] == Finish("stop_sequence", "STOP")


def test_stop_sequence_false_start_is_released() -> None:
    events = _run_stops(["a ST", "ART b"], ["STOP"])
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "a START b"
    assert events[-1] == Finish("end_turn")


def test_tool_calls_are_answered_in_azure_order() -> None:
    long_id = "toolu_" + "x" * 60
    messages = [
        Message("user", [TextPart("go")]),
        Message("assistant", [ToolCallPart("a", "f", "{}"), ToolCallPart(long_id, "g", "{}")]),
        Message("system", [TextPart("reminder")]),
        Message(
            "user", [TextPart("note"), ToolResultPart(long_id, [TextPart("g done")]), ToolResultPart("orphan", [TextPart("?")])]
        ),
        Message("assistant", [TextPart("ok")]),
    ]
    chat = chat_messages(messages)
    assert [m["role"] for m in chat] == ["user", "assistant", "tool", "tool", "system", "user", "assistant"]
    assert chat[2] == {"role": "tool", "tool_call_id": "a", "content": UNANSWERED_CALL}
    assert chat[3] == {"role": "tool", "tool_call_id": call_id(long_id), "content": "g done"}
    assert len(chat[1]["tool_calls"][1]["id"]) <= 40 and chat[1]["tool_calls"][1]["id"] == call_id(long_id)
    assert "orphan" in chat[5]["content"][1]["text"]


def test_retry_delay_honours_azure_headers() -> None:
    assert retry_delay(1, httpx.Headers({"retry-after-ms": "250"})) == 0.25
    assert retry_delay(1, httpx.Headers({"retry-after": "3"})) == 3.0
    future = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3 <= retry_delay(1, httpx.Headers({"retry-after": future})) <= 6
    assert all(0 <= retry_delay(4, None) <= 4 for _ in range(50))


def upstream_error(status: int, payload: bytes, headers: dict[str, str], target: Target, keyed: bool) -> Any:
    return describe(UpstreamError.from_body(status, payload, headers), target, keyed)


def test_upstream_errors_are_made_helpful() -> None:
    route = Target("gpt-5", "BIG_MODEL")
    not_found = upstream_error(404, b'{"error":{"code":"DeploymentNotFound","message":"nope"}}', {}, route, True)
    assert not_found.kind == "not_found_error" and "BIG_MODEL" in not_found.message and "'gpt-5'" in not_found.message
    context = upstream_error(
        400,
        json.dumps(
            {
                "error": {
                    "code": "context_length_exceeded",
                    "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens.",
                }
            }
        ).encode(),
        {},
        route,
        True,
    )
    assert context.message == "prompt is too long: 130512 tokens > 128000 maximum"
    assert "API_KEY" in upstream_error(401, b'{"error":{"code":"401","message":"Access denied"}}', {}, route, True).message
    forbidden = upstream_error(403, b'{"error":{"code":"Forbidden","message":"no"}}', {}, route, False)
    assert forbidden.status == 500 and forbidden.headers == {"x-should-retry": "false"}
    assert "Cognitive Services OpenAI User" in forbidden.message
    limited = upstream_error(429, b'{"error":{"code":"429","message":"slow down"}}', {"retry-after": "7"}, route, True)
    assert (limited.kind, limited.status, limited.headers) == ("rate_limit_error", 429, {"retry-after": "7"})
    assert upstream_error(503, b"Service Unavailable", {}, route, True).status == 529


@pytest.mark.skipif(recorded_dir() is None, reason="../shared/wire-corpus not present (a user's clone)")
def test_recorded_content_filter_error_names_the_filter() -> None:
    error = upstream_error(400, load_transcript("azure-error-400-content_filter-1.json"), {}, Target("gpt-4o", "BIG_MODEL"), True)
    assert error.kind == "invalid_request_error"
    assert "content filter" in error.message and "self_harm (medium)" in error.message
