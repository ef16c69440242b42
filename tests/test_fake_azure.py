"""Tests of the fake Azure OpenAI server itself, over real HTTP with httpx."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.fake_azure import (
    DEFAULT_API_KEY,
    Deployment,
    Error,
    FakeAzure,
    Faults,
    RawSSE,
    ResponsesFailure,
    ResponsesText,
    ResponsesToolCalls,
    Search,
    Text,
    ToolCalls,
    like,
    load_transcript,
    recorded_reply,
    require_recorded_dir,
    sse_data,
)
from tests.support.fake_azure import images as image_rules
from tests.support.fake_azure.catalog import ROWS, ROWS_BY_KEY
from tests.support.fake_azure.limits import prompt_tokens
from tests.support.fake_azure.replay import SHARED_DIR
from tests.support.serving import running

DATED = "/openai/deployments/{}/chat/completions?api-version=2024-10-21"
V1 = "/openai/v1/chat/completions"
V1_RESPONSES = "/openai/v1/responses"
USER = [{"role": "user", "content": "hi"}]
TOKEN = "entra-token-123"
PROFILES = (
    Deployment("no-vision", supports_images=False),
    like("gpt-5.1"),
    like("gpt-5.1-codex"),
    like("gpt-5.4"),
    like("o4-mini"),
    like("gpt-4.1"),
    Deployment("tiny", context_window=60),
    Deployment("tiny-input", reasoning=True, context_window=120, max_input_tokens=60),
    Deployment("unverified", reasoning=True, summaries="unverified_organization"),
    Deployment("no-summaries", reasoning=True, summaries="unsupported", model="o1-mini"),
    Deployment("search-fails", reasoning=True, web_search_outcome="server_error"),
    Deployment("search-stuck", web_search_outcome="searching", model="gpt-4.1-mini"),
    Deployment("async-filter", content_filter="async"),
    Deployment("no-retention", prompt_cache_retention=False),
)
COVERED: set[str] = set()
"""Catalog rows (`tests.support.fake_azure.catalog`) a test below reproduces."""


def covers(*keys: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a test as the check of catalog rows `keys`."""
    unknown = set(keys) - set(ROWS_BY_KEY)
    assert not unknown, f"not in the catalog index: {unknown}"
    COVERED.update(keys)
    return lambda test: test


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeAzure, str]]:
    fake = FakeAzure([*FakeAzure().deployments.values(), *PROFILES])
    with running(fake) as url:
        yield fake, url


@pytest.fixture()
def fake(served: tuple[FakeAzure, str]) -> FakeAzure:
    served[0].reset()
    served[0].bearer_tokens.clear()
    served[0].roleless_tokens.clear()
    return served[0]


@pytest.fixture()
def client(served: tuple[FakeAzure, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[1], headers={"api-key": DEFAULT_API_KEY}, timeout=5) as http:
        yield http


def chat(client: httpx.Client, deployment: str = "gpt-4o", **body: Any) -> httpx.Response:
    """POST a chat/completions request on the deployments API (messages default to one user turn)."""
    return client.post(DATED.format(deployment), json={"messages": USER, **body})


def chunks(response: httpx.Response) -> list[dict[str, Any]]:
    data = sse_data(response.content)
    assert data[-1] == "[DONE]"
    return [json.loads(item) for item in data[:-1]]


def reassemble(events: list[dict[str, Any]]) -> tuple[str, dict[int, dict[str, str]]]:
    """Text and tool calls (by index) accumulated the way an OpenAI client does."""
    text, calls = "", dict[int, dict[str, str]]()
    for event in events:
        for choice in event["choices"]:
            delta = choice.get("delta", {})
            text += delta.get("content") or ""
            for call in delta.get("tool_calls", []):
                slot = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                slot["id"] += call.get("id", "")
                slot["name"] += call.get("function", {}).get("name", "")
                slot["arguments"] += call["function"].get("arguments", "")
    return text, calls


# --- paths and auth -------------------------------------------------------------------------------


@covers("transport.v1_api")
def test_both_path_styles_answer_and_are_recorded(fake: FakeAzure, client: httpx.Client) -> None:
    dated = chat(client, stream=True)
    v1 = client.post(V1, json={"model": "gpt-5", "messages": USER, "stream": True})
    assert dated.status_code == v1.status_code == 200
    assert dated.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert reassemble(chunks(dated))[0] == reassemble(chunks(v1))[0] == "Hello from fake Azure."
    assert [(r.path, r.deployment, r.api) for r in fake.requests] == [
        ("/openai/deployments/gpt-4o/chat/completions", "gpt-4o", "chat"),
        ("/openai/v1/chat/completions", "gpt-5", "chat"),
    ]
    assert fake.requests[0].query == {"api-version": "2024-10-21"}
    assert fake.requests[1].headers["api-key"] == DEFAULT_API_KEY
    assert fake.requests[1].body["model"] == "gpt-5"


def test_v1_accepts_preview_api_version(client: httpx.Client) -> None:
    response = client.post(V1 + "?api-version=preview", json={"model": "gpt-4o", "messages": USER})
    assert response.status_code == 200


@covers("transport.resource_not_found")
def test_missing_api_version_and_unknown_paths_are_resource_not_found(client: httpx.Client) -> None:
    expected = {"error": {"code": "404", "message": "Resource not found"}}
    missing = client.post("/openai/deployments/gpt-4o/chat/completions", json={"messages": USER})
    elsewhere = client.get("/openai/models")
    assert (missing.status_code, missing.json()) == (404, expected)
    assert (elsewhere.status_code, elsewhere.json()) == (404, expected)


@covers("transport.wrong_api_key")
@pytest.mark.parametrize("headers", [{}, {"api-key": "wrong"}, {"authorization": "Basic nope"}])
def test_bad_credentials_get_azure_401(served: tuple[FakeAzure, str], headers: dict[str, str]) -> None:
    response = httpx.post(served[1] + DATED.format("gpt-4o"), json={"messages": USER}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "401",
            "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
            "a valid key for an active subscription and use a correct regional API endpoint for your resource.",
        }
    }


def test_bearer_token_is_accepted_once_added(fake: FakeAzure, served: tuple[FakeAzure, str]) -> None:
    url, headers = served[1] + DATED.format("gpt-4o"), {"authorization": f"Bearer {TOKEN}"}
    assert httpx.post(url, json={"messages": USER}, headers=headers).status_code == 401
    fake.bearer_tokens.add(TOKEN)
    assert httpx.post(url, json={"messages": USER}, headers=headers).status_code == 200


@covers("transport.deployment_not_found")
def test_unknown_deployment(client: httpx.Client) -> None:
    dated = chat(client, "nope")
    v1 = client.post(V1, json={"model": "nope", "messages": USER})
    assert dated.status_code == 404
    assert dated.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "DeploymentNotFound",
            "message": "The API deployment for this resource does not exist. If you created the deployment "
            "within the last 5 minutes, please wait a moment and try again.",
        }
    }
    assert v1.status_code == 400
    assert v1.json() == {"error": {"code": "unknown_model", "message": "Unknown model: nope", "details": "Unknown model: nope"}}


# --- validation rules -----------------------------------------------------------------------------


def invalid(message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


CALL_X = {
    "role": "assistant",
    "content": None,
    "tool_calls": [{"id": "call_x", "type": "function", "function": {"name": "Read", "arguments": "{}"}}],
}
TOOL = {"type": "function", "function": {"name": "Read", "parameters": {"type": "object"}}}

RULES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("gpt-4o", {"foo": 1}, invalid("Unrecognized request argument supplied: foo")),
    (
        "gpt-5",
        {"max_tokens": 10},
        invalid(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        ),
    ),
    (
        "gpt-5",
        {"temperature": 0.5},
        invalid(
            "Unsupported value: 'temperature' does not support 0.5 with this model. Only the default (1) value is supported.",
            "temperature",
            "unsupported_value",
        ),
    ),
    (
        "gpt-5",
        {"top_p": 0},
        invalid(
            "Unsupported value: 'top_p' does not support 0 with this model. Only the default (1) value is supported.",
            "top_p",
            "unsupported_value",
        ),
    ),
    (
        "gpt-5",
        {"stop": ["x"]},
        invalid("Unsupported parameter: 'stop' is not supported with this model.", "stop", "unsupported_parameter"),
    ),
    (
        "gpt-4o",
        {"max_tokens": 64000},
        invalid(
            "max_tokens is too large: 64000. This model supports at most 16384 completion tokens, whereas you provided 64000.",
            "max_tokens",
            "invalid_value",
        ),
    ),
    (
        "gpt-5",
        {"max_completion_tokens": 200000},
        invalid(
            "max_completion_tokens is too large: 200000. This model supports at most 128000 completion tokens, "
            "whereas you provided 200000.",
            "max_completion_tokens",
            "invalid_value",
        ),
    ),
    (
        "gpt-4o",
        {"messages": [*USER, CALL_X, {"role": "user", "content": "and?"}], "tools": [TOOL]},
        invalid(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            "'tool_call_id'. The following tool_call_ids did not have response messages: call_x",
            "messages.[2].role",
        ),
    ),
    (
        "gpt-4o",
        {
            "messages": [
                *USER,
                {"role": "assistant", "content": "ok"},
                {"role": "tool", "tool_call_id": "call_x", "content": "r"},
            ]
        },
        invalid(
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
            "messages.[2].role",
        ),
    ),
    (
        "gpt-4o",
        {"tool_choice": "auto"},
        invalid("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice"),
    ),
    (
        "gpt-4o",
        {"tools": [{"type": "function", "function": {"name": "mcp.server/tool"}}]},
        invalid(
            "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that matches the "
            "pattern '^[a-zA-Z0-9_-]+$'.",
            "tools[0].function.name",
            "invalid_value",
        ),
    ),
    (
        "gpt-4o",
        {"tools": [{"type": "function", "function": {"name": "x" * 65}}]},
        invalid(
            "Invalid 'tools[0].function.name': string too long. Expected a string with maximum length 64, but got "
            "a string with length 65 instead.",
            "tools[0].function.name",
            "string_above_max_length",
        ),
    ),
    (
        "gpt-4o",
        {
            "messages": [
                *USER,
                {
                    "role": "assistant",
                    "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}],
                },
            ]
        },
        invalid(
            "Invalid 'messages[1]'. Image URLs are only allowed for messages with role 'user', but this message "
            "with role 'assistant' contains an image URL.",
            "messages[1]",
            "invalid_value",
        ),
    ),
    (
        "gpt-4o",
        {"stream_options": {"include_usage": True}},
        invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options"),
    ),
    (
        "gpt-4o",
        {"messages": []},
        invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "messages",
            "empty_array",
        ),
    ),
    (
        "gpt-4o",
        {"messages": [{"role": "robot", "content": "hi"}]},
        invalid(
            "Invalid value: 'robot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.",
            "messages[0].role",
            "invalid_value",
        ),
    ),
    (
        "gpt-4o",
        {"messages": [*USER, {"role": "assistant", "content": None}]},
        invalid("Invalid value for 'content': expected a string, got null.", "messages.[1].content"),
    ),
    (
        "gpt-4o",
        {"reasoning_effort": "high"},
        invalid(
            "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
            "reasoning_effort",
            "unsupported_parameter",
        ),
    ),
    (
        "no-vision",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}],
                }
            ]
        },
        invalid("Invalid content type. image_url is only supported by certain models.", "messages", "invalid_value"),
    ),
]


@covers(
    "chat.max_tokens_on_reasoning",
    "chat.temperature_on_reasoning",
    "chat.max_tokens_above_cap",
    "chat.tool_message_without_call",
    "chat.tool_calls_unanswered",
    "tools.name_pattern",
    "tools.name_too_long",
)
@pytest.mark.parametrize(("deployment", "body", "expected"), RULES, ids=[str(i) for i in range(len(RULES))])
def test_rule_gives_real_error_body(
    fake: FakeAzure, client: httpx.Client, deployment: str, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    fake.enqueue(Text("never sent"))
    response = chat(client, deployment, **body)
    assert response.status_code == 400
    assert response.json() == expected
    assert fake.pending == 1, "a refused request must not consume the script"


def test_valid_conversation_with_tools_images_and_reasoning_params(client: httpx.Client) -> None:
    messages = [
        {"role": "developer", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ],
        },
        CALL_X,
        {"role": "tool", "tool_call_id": "call_x", "content": "file body"},
    ]
    response = chat(
        client,
        "gpt-5",
        messages=messages,
        tools=[TOOL],
        tool_choice="auto",
        max_completion_tokens=32000,
        temperature=1,
        reasoning_effort="low",
        stream=True,
        stream_options={"include_usage": True},
    )
    assert response.status_code == 200, response.text


def test_invalid_json_body(client: httpx.Client) -> None:
    response = client.post(DATED.format("gpt-4o"), content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("We could not parse the JSON body of your request.")


# --- replies --------------------------------------------------------------------------------------


@covers("chat.stream_prompt_filter_results")
def test_stream_shape_matches_azure(client: httpx.Client) -> None:
    events = chunks(chat(client, "gpt-5", stream=True))
    first, role, *content, finish = events
    assert first["choices"] == [] and first["id"] == "" and first["prompt_filter_results"][0]["prompt_index"] == 0
    assert role["choices"][0]["delta"] == {"content": "", "refusal": None, "role": "assistant"}
    assert len(content) >= 3
    for event in content:
        choice = event["choices"][0]
        assert choice["content_filter_results"]["violence"] == {"filtered": False, "severity": "safe"}
        assert event["object"] == "chat.completion.chunk" and "obfuscation" in event
        assert event["system_fingerprint"] is None and "usage" not in event
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert len({event["id"] for event in events[1:]}) == 1


def test_include_usage_chunk_only_when_requested(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(Text("one two three", cached_tokens=7, reasoning_tokens=5))
    with_usage = chunks(chat(client, stream=True, stream_options={"include_usage": True}))
    without = chunks(chat(client, stream=True))
    last = with_usage[-1]
    assert last["choices"] == []
    usage = last["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 7
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert all(event["usage"] is None for event in with_usage[1:-1])
    assert all("usage" not in event for event in without)
    assert without[-1]["choices"][0]["finish_reason"] == "stop"


def test_parallel_tool_calls_reassemble(fake: FakeAzure, client: httpx.Client) -> None:
    write = {"file_path": "/tmp/a.txt", "content": 'hi "there"\nüñí'}
    fake.enqueue(ToolCalls([("Write", write), ("Bash", {"command": "ls -la"})], text="On it.", mixed_chunk=True))
    events = chunks(chat(client, stream=True, tools=[TOOL]))
    text, calls = reassemble(events)
    assert text == "On it."
    assert sorted(calls) == [0, 1]
    assert json.loads(calls[0]["arguments"]) == write and calls[0]["name"] == "Write"
    assert json.loads(calls[1]["arguments"]) == {"command": "ls -la"}
    assert all(re.fullmatch(r"call_[A-Za-z0-9]{24}", call["id"]) for call in calls.values())
    fragments = [e for e in events if e["choices"] and "tool_calls" in e["choices"][0]["delta"]]
    assert len(fragments) > 4, "arguments must arrive in several pieces"
    assert any("content" in e["choices"][0]["delta"] for e in fragments), "one chunk mixes text and a call"
    assert events[1]["choices"][0]["delta"]["role"] == "assistant"
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_call_stream_without_text_has_null_content(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(ToolCalls([("Read", '{"path": "/x"}')], seed=3))
    events = chunks(chat(client, stream=True))
    assert events[1]["choices"][0]["delta"] == {"content": None, "role": "assistant"}
    assert reassemble(events)[1][0]["arguments"] == '{"path": "/x"}'


@covers("chat.stream_content_filter_finish")
@pytest.mark.parametrize("finish", ["length", "content_filter"])
def test_text_finish_reasons(fake: FakeAzure, client: httpx.Client, finish: str) -> None:
    fake.enqueue(Text("cut short", finish_reason=finish))
    finish_chunk = chunks(chat(client, stream=True))[-1]["choices"][0]
    assert finish_chunk["finish_reason"] == finish
    assert finish_chunk["content_filter_results"].get("violence", {}).get("filtered", False) is (finish == "content_filter")


def test_non_streaming_text_and_tool_calls(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(Text("Plain answer.", cached_tokens=2), ToolCalls([("Read", {"path": "/x"})]))
    text = chat(client).json()
    assert text["object"] == "chat.completion"
    assert text["prompt_filter_results"][0]["content_filter_results"]["jailbreak"] == {
        "filtered": False,
        "detected": False,
    }
    choice = text["choices"][0]
    assert choice["message"] == {"annotations": [], "content": "Plain answer.", "refusal": None, "role": "assistant"}
    assert choice["finish_reason"] == "stop" and choice["content_filter_results"]["hate"]["severity"] == "safe"
    assert text["usage"]["prompt_tokens_details"] == {"audio_tokens": 0, "cached_tokens": 2}
    tools = chat(client, tools=[TOOL]).json()["choices"][0]
    assert tools["finish_reason"] == "tool_calls" and tools["message"]["content"] is None
    (call,) = tools["message"]["tool_calls"]
    assert call["type"] == "function" and json.loads(call["function"]["arguments"]) == {"path": "/x"}


def test_script_per_deployment_order_and_reset(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(Text("for gpt-5"), deployment="gpt-5")
    fake.enqueue(Text("first"), Text("second"))
    assert chat(client).json()["choices"][0]["message"]["content"] == "first"
    assert chat(client, "gpt-5").json()["choices"][0]["message"]["content"] == "for gpt-5"
    assert chat(client, "gpt-5").json()["choices"][0]["message"]["content"] == "second"
    assert chat(client).json()["choices"][0]["message"]["content"] == "Hello from fake Azure."
    fake.enqueue(Text("left over"))
    fake.reset()
    assert fake.pending == 0 and fake.requests == []


@covers("chat.prompt_content_filter")
def test_scripted_errors_keep_status_body_and_headers(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(Error(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}, {"retry-after": "2"}))
    fake.enqueue(Error.rate_limited(3), Error.content_filtered())
    unavailable, limited, filtered = chat(client), chat(client), chat(client)
    assert (unavailable.status_code, unavailable.headers["retry-after"]) == (503, "2")
    assert unavailable.json()["error"]["code"] == "ServiceUnavailable"
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert "Please retry after 3 seconds." in limited.json()["error"]["message"]
    assert filtered.status_code == 400 and filtered.json()["error"]["code"] == "content_filter"


def test_responses_paths_answer_from_the_script(fake: FakeAzure, client: httpx.Client) -> None:
    body = b'event: response.created\ndata: {"type":"response.created"}\n\n'
    fake.enqueue(RawSSE(body), RawSSE(body))
    v1 = client.post("/openai/v1/responses", json={"model": "gpt-5", "input": "hi", "stream": True})
    dated = client.post("/openai/responses?api-version=2025-03-01-preview", json={"model": "gpt-5", "input": "hi"})
    assert v1.content == dated.content == body
    assert [r.api for r in fake.requests] == ["responses", "responses"]
    unscripted = client.post("/openai/v1/responses", json={"model": "gpt-5", "input": "hi"})
    assert unscripted.status_code == 200 and b"Hello from fake Azure." in unscripted.content  # the default reply


# --- faults ---------------------------------------------------------------------------------------


def test_delay_before_first_byte(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(Text("slow", faults=Faults(delay_first_byte=0.3)))
    started = time.monotonic()
    with client.stream("POST", DATED.format("gpt-4o"), json={"messages": USER, "stream": True}) as response:
        assert time.monotonic() - started >= 0.3
        assert response.status_code == 200


def test_disconnect_after_chunks(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(Text("one two three four five", faults=Faults(disconnect_after_chunks=3)))
    received = b""
    request = client.stream("POST", DATED.format("gpt-4o"), json={"messages": USER, "stream": True})
    with pytest.raises(httpx.RemoteProtocolError), request as response:
        for piece in response.iter_bytes():
            received += piece
    assert received.count(b"data: ") == 3
    assert b"[DONE]" not in received


# --- recorded traffic -----------------------------------------------------------------------------


def test_recorded_stream_replays_byte_for_byte(fake: FakeAzure, client: httpx.Client) -> None:
    require_recorded_dir()
    recorded = load_transcript("azure-chat-stream-toolcall-parallel-2.sse")
    fake.enqueue(recorded_reply("azure-chat-stream-toolcall-parallel-2.sse"))
    response = chat(client, stream=True)
    assert response.content == recorded
    _, calls = reassemble(chunks(response))
    assert [call["name"] for call in calls.values()] == ["secret_retrieval_tool", "secret_retrieval_tool"]


def test_chunks_jsonl_is_framed_for_replay() -> None:
    require_recorded_dir()
    chat_stream = load_transcript("azure-chat-stream-modelrouter-1.chunks.jsonl")
    assert chat_stream.startswith(b'data: {"choices":[]') and chat_stream.endswith(b"}\n\ndata: [DONE]\n\n")
    responses = load_transcript("azure-responses-stream-text-1.chunks.jsonl")
    assert responses.startswith(b"event: response.created\ndata: {") and b"[DONE]" not in responses


@pytest.mark.parametrize(
    ("recording", "deployment", "body"),
    [
        ("azure-error-401-1.json", "gpt-4o", None),
        ("azure-error-404-DeploymentNotFound-1.json", "missing", None),
        ("azure-error-400-unsupported_parameter-1.json", "gpt-5", {"max_tokens": 5, "stream": True}),
    ],
)
def test_error_bodies_are_byte_identical_to_recordings(
    served: tuple[FakeAzure, str], recording: str, deployment: str, body: dict[str, Any] | None
) -> None:
    require_recorded_dir()
    headers = {} if recording.startswith("azure-error-401") else {"api-key": DEFAULT_API_KEY}
    response = httpx.post(served[1] + DATED.format(deployment), json={"messages": USER, **(body or {})}, headers=headers)
    assert response.content == load_transcript(recording)


def test_v1_unknown_model_is_byte_identical_to_recording(client: httpx.Client) -> None:
    require_recorded_dir()
    response = client.post(V1, json={"model": "this-model-does-not-exist-12345", "messages": USER})
    assert response.content == load_transcript("azure-error-400-unknown_model-1.json")


def test_recorded_error_reply_keeps_status(fake: FakeAzure, client: httpx.Client) -> None:
    require_recorded_dir()
    fake.enqueue(recorded_reply("azure-error-400-content_filter-1.json"))
    response = chat(client)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.content == load_transcript("azure-error-400-content_filter-1.json")


# --- the catalog: helpers -------------------------------------------------------------------------


def respond(client: httpx.Client, deployment: str = "gpt-5", path: str = V1_RESPONSES, **body: Any) -> httpx.Response:
    """POST a Responses request (input defaults to one user turn)."""
    return client.post(path, json={"model": deployment, "input": "hi", **body})


def events(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON payloads of a Responses event stream, checking each `event:` line names its payload's type."""
    assert response.status_code == 200, response.text
    parsed = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        kind, data = block.split("\n", 1)
        payload = json.loads(data.removeprefix("data: "))
        assert kind == f"event: {payload['type']}"
        parsed.append(payload)
    return parsed


def done_items(stream: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event["item"] for event in stream if event["type"] == "response.output_item.done"]


def gateway(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def refused(response: httpx.Response, status: int, body: dict[str, Any]) -> None:
    assert (response.status_code, response.json()) == (status, body), response.text


def user(text: str = "hi") -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": text}


def assistant(text: str = "ok", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": text, **extra}


def sealed(fake: FakeAzure, item_id: str = "rs_1", model: str = "gpt-5-2025-08-07", **extra: Any) -> dict[str, Any]:
    """A reasoning item whose encrypted content `fake` sealed (for `model`)."""
    token = fake.vault.seal(item_id, "", model)
    return {"type": "reasoning", "id": item_id, "summary": [], "encrypted_content": token, **extra}


STRICT_PARAMETERS = {"type": "object", "properties": {"params": {"type": "string"}}, "additionalProperties": False}
STRICT_TOOL = {"type": "function", "name": "x", "strict": True, "parameters": STRICT_PARAMETERS}
OPEN_NESTED = {
    "type": "object",
    "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]}},
    "required": ["a"],
    "additionalProperties": False,
}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
EXPECTED_DATA_URL = (
    "Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got"
)


# --- the catalog: Responses reasoning items and state ---------------------------------------------


@covers("responses.reasoning_not_persisted")
def test_reasoning_without_encrypted_content_is_not_found_on_azure(client: httpx.Client) -> None:
    item = {"type": "reasoning", "id": "rs_abc", "summary": []}
    response = respond(client, input=[user(), item, assistant(), user("more")], store=False)
    refused(
        response,
        400,
        invalid(
            "Item with id 'rs_abc' not found. Items are not persisted when `store` is set to false. Try again with "
            "`store` set to true, or remove this item from your input.",
            "input",
        ),
    )
    assert response.text.startswith('{\n  "error": {\n    "message"'), "the model backend pretty-prints"


@covers("responses.function_call_without_reasoning")
def test_a_call_sent_back_without_its_reasoning_item_is_refused(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(ResponsesToolCalls([("Read", {"path": "/x"})]))
    first = events(respond(client, stream=True, include=["reasoning.encrypted_content"], store=False))
    reasoning, call = done_items(first)
    call_item = {key: call[key] for key in ("type", "id", "call_id", "name", "arguments")}
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "body"}
    without = respond(client, input=[user(), call_item, output], store=False)
    refused(
        without,
        400,
        invalid(
            f"Item '{call['id']}' of type 'function_call' was provided without its required 'reasoning' item: "
            f"'{reasoning['id']}'.",
            "input",
        ),
    )
    reasoning_item = {key: reasoning[key] for key in ("type", "id", "summary", "encrypted_content")}
    with_it = respond(client, input=[user(), reasoning_item, call_item, output], store=False)
    assert with_it.status_code == 200, with_it.text
    anonymous = {key: call[key] for key in ("type", "call_id", "name", "arguments")}
    assert respond(client, input=[user(), anonymous, output], store=False).status_code == 200, "no id: nothing to check"


@covers("responses.reasoning_without_following_item")
@pytest.mark.parametrize("after", [[], [user("next")], [{"type": "function_call_output", "call_id": "c", "output": "x"}]])
def test_reasoning_needs_a_following_output_item(fake: FakeAzure, client: httpx.Client, after: list[dict[str, Any]]) -> None:
    response = respond(client, input=[user(), sealed(fake), *after])
    refused(response, 400, invalid("Item 'rs_1' of type 'reasoning' was provided without its required following item.", "input"))
    assert respond(client, input=[user(), sealed(fake), assistant()]).status_code == 200


@covers("responses.orphan_function_call_output")
def test_output_without_its_call(client: httpx.Client) -> None:
    output = {"type": "function_call_output", "call_id": "call_SjdIRQnfceiXp0D5eZCcjlxW", "output": "x"}
    refused(
        respond(client, input=[user(), output]),
        400,
        invalid("No tool call found for function call output with call_id call_SjdIRQnfceiXp0D5eZCcjlxW.", "input"),
    )


@covers("responses.duplicate_item")
def test_duplicate_item_ids(client: httpx.Client) -> None:
    refused(
        respond(client, input=[user(), assistant(id="msg_1"), user(), assistant(id="msg_1")]),
        400,
        invalid("Duplicate item found with id msg_1. Remove duplicate items from your input and try again.", "input"),
    )


UNVERIFIED = (
    "The encrypted content for item rs_1 could not be verified. Reason: Encrypted content could not be decrypted or parsed."
)


@covers("responses.encrypted_content_unverified")
@pytest.mark.parametrize("origin", ["another resource", "another model", "made up"])
def test_encrypted_content_from_elsewhere_is_not_verified(fake: FakeAzure, client: httpx.Client, origin: str) -> None:
    item = {
        "another resource": sealed(FakeAzure(resource="other-resource")),
        "another model": sealed(fake, model="gpt-5-mini-2025-08-07"),
        "made up": {**sealed(fake), "encrypted_content": "gAAAAABnot-a-token"},
    }[origin]
    refused(respond(client, input=[user(), item, assistant()]), 400, invalid(UNVERIFIED, None, "invalid_encrypted_content"))
    assert respond(client, input=[user(), sealed(fake), assistant()]).status_code == 200


@covers("responses.encrypted_content_null_code")
def test_encrypted_content_refusal_has_a_null_code_on_2025_03_01_preview(client: httpx.Client) -> None:
    item = sealed(FakeAzure(resource="other-resource"))
    dated = respond(client, path="/openai/responses?api-version=2025-03-01-preview", input=[user(), item, assistant()])
    refused(dated, 400, invalid(UNVERIFIED, None, None))


@covers("responses.encrypted_content_unsupported")
@pytest.mark.parametrize(("deployment", "accepted"), [("gpt-4o", False), ("o4-mini", False), ("gpt-4.1", True), ("gpt-5", True)])
def test_encrypted_content_include_by_model(client: httpx.Client, deployment: str, accepted: bool) -> None:
    response = respond(client, deployment, include=["reasoning.encrypted_content"])
    if accepted:
        assert response.status_code == 200, response.text
    else:
        refused(response, 400, invalid("Encrypted content is not supported with this model.", "include"))


@covers("responses.summary_unverified_organization", "responses.summary_unsupported")
def test_reasoning_summary_refusals(client: httpx.Client) -> None:
    refused(
        respond(client, "unverified", reasoning={"summary": "auto"}),
        400,
        invalid(
            "Your organization must be verified to generate reasoning summaries. Please go to: "
            "https://platform.openai.com/settings/organization/general and click on Verify Organization. If you just "
            "verified, it can take up to 15 minutes for access to propagate.",
            "reasoning.summary",
            "unsupported_value",
        ),
    )
    refused(
        respond(client, "no-summaries", reasoning={"summary": "auto"}),
        400,
        invalid(
            "Unsupported parameter: 'reasoning.summary' is not supported with the 'o1-mini' model.",
            "reasoning.summary",
            "unsupported_parameter",
        ),
    )
    assert respond(client, "unverified", reasoning={"effort": "low"}).status_code == 200


@covers("responses.effort_unsupported", "chat.effort_invalid_value")
def test_effort_the_model_lacks(client: httpx.Client) -> None:
    refused(
        respond(client, "gpt-5.1", reasoning={"effort": "minimal"}),
        400,
        invalid(
            "Unsupported value: 'minimal' is not supported with the 'gpt-5.1' model. Supported values are: 'none', "
            "'low', 'medium', and 'high'.",
            "reasoning.effort",
            "unsupported_value",
        ),
    )
    refused(
        chat(client, "o4-mini", reasoning_effort="none"),
        400,
        invalid("Invalid value: 'none'. Supported values are: 'low', 'medium', and 'high'.", "reasoning_effort", "invalid_value"),
    )
    assert respond(client, "gpt-5.1", reasoning={"effort": "none"}).status_code == 200


@covers("responses.sampling_on_reasoning")
@pytest.mark.parametrize("name", ["temperature", "top_p"])
def test_sampling_on_a_reasoning_model(client: httpx.Client, name: str) -> None:
    sampling: dict[str, Any] = {name: 0.2}
    refused(
        respond(client, **sampling),
        400,
        invalid(f"Unsupported parameter: '{name}' is not supported with this model.", name, "unsupported_parameter"),
    )
    assert respond(client, "gpt-4o", **sampling).status_code == 200


@covers("responses.output_only_field")
def test_output_only_field_sent_back(fake: FakeAzure, client: httpx.Client) -> None:
    items = [user(), assistant(), user(), sealed(fake, status="completed"), assistant()]
    refused(
        respond(client, input=items),
        400,
        invalid("Unknown parameter: 'input[3].status'.", "input[3].status", "unknown_parameter"),
    )


@covers("responses.foreign_id_prefix")
@pytest.mark.parametrize(
    ("item", "prefix"),
    [
        ({"type": "function_call", "id": "toolu_01A", "call_id": "c", "name": "Read", "arguments": "{}"}, "fc"),
        (assistant(id="item_1"), "msg"),
        ({"type": "reasoning", "id": "item_df7e", "summary": []}, "rs"),
    ],
)
def test_foreign_id_prefix(client: httpx.Client, item: dict[str, Any], prefix: str) -> None:
    output = {"type": "function_call_output", "call_id": "c", "output": "x"}
    refused(
        respond(client, input=[user(), user(), user(), item, output]),
        400,
        invalid(
            f"Invalid 'input[3].id': '{item['id']}'. Expected an ID that begins with '{prefix}'.", "input[3].id", "invalid_value"
        ),
    )


# --- the catalog: Responses parameters, tools, inputs ---------------------------------------------


@covers("responses.max_output_tokens_minimum")
def test_max_output_tokens_minimum(client: httpx.Client) -> None:
    refused(
        respond(client, max_output_tokens=1),
        400,
        invalid(
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 1 instead.",
            "max_output_tokens",
            "integer_below_min_value",
        ),
    )


@covers("tools.name_pattern", "tools.name_too_long")
def test_responses_function_names(client: httpx.Client) -> None:
    def tool(name: str) -> dict[str, Any]:
        return {"type": "function", "name": name, "parameters": {"type": "object"}}

    refused(
        respond(client, tools=[tool("mcp.server/tool")]),
        400,
        invalid(
            "Invalid 'tools[0].name': string does not match pattern. Expected a string that matches the pattern "
            "'^[a-zA-Z0-9_-]+$'.",
            "tools[0].name",
            "invalid_value",
        ),
    )
    refused(
        respond(client, tools=[tool("x" * 65)]),
        400,
        invalid(
            "Invalid 'tools[0].name': string too long. Expected a string with maximum length 64, but got a string with "
            "length 65 instead.",
            "tools[0].name",
            "string_above_max_length",
        ),
    )
    assert respond(client, tools=[tool("mcp__server__tool-1")]).status_code == 200


@covers("tools.strict_schema_not_closed")
def test_strict_tool_schema_must_be_closed(client: httpx.Client) -> None:
    plain = {"type": "function", "name": "ok", "parameters": {"type": "object"}}
    refused(
        respond(client, tools=[plain, STRICT_TOOL]),
        400,
        invalid(
            "Invalid schema for function 'x': In context=(), 'required' is required to be supplied and to be an array "
            "including every key in properties. Missing 'params'.",
            "tools[1].parameters",
            "invalid_function_parameters",
        ),
    )
    chat_tool = {"type": "function", "function": {"name": "y", "strict": True, "parameters": OPEN_NESTED}}
    refused(
        chat(client, tools=[chat_tool]),
        400,
        invalid(
            "Invalid schema for function 'y': In context=('properties', 'a'), 'additionalProperties' is required to be "
            "supplied and to be false.",
            "tools[0].function.parameters",
            "invalid_function_parameters",
        ),
    )
    closed = {**STRICT_TOOL, "parameters": {**STRICT_PARAMETERS, "required": ["params"]}}
    assert respond(client, tools=[closed]).status_code == 200
    assert respond(client, tools=[{**STRICT_TOOL, "strict": False}]).status_code == 200


@covers("text_format.strict_schema_not_closed")
def test_strict_output_format_must_be_closed(client: httpx.Client) -> None:
    loose = {"type": "object", "properties": {}}
    refused(
        respond(client, text={"format": {"type": "json_schema", "name": "name", "strict": True, "schema": loose}}),
        400,
        invalid(
            "Invalid schema for response_format 'name': In context=(), 'additionalProperties' is required to be supplied "
            "and to be false.",
            "text.format.schema",
            "invalid_json_schema",
        ),
    )
    refused(
        chat(client, response_format={"type": "json_schema", "json_schema": {"name": "name", "strict": True, "schema": loose}}),
        400,
        invalid(
            "Invalid schema for response_format 'name': In context=(), 'additionalProperties' is required to be supplied "
            "and to be false.",
            "response_format",
            "invalid_json_schema",
        ),
    )


@covers("responses.web_search_server_error", "transport.server_error_500")
def test_web_search_failing_with_a_500(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(Error.server_error())
    for response in (respond(client, "search-fails", tools=[{"type": "web_search_preview"}]), chat(client)):
        assert response.status_code == 500
        error = response.json()["error"]
        assert error["message"].startswith(
            "The server had an error processing your request. Sorry about that! You can retry your request, or contact "
            "us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 if the error persists."
        )
        assert (error["type"], error["param"], error["code"]) == ("server_error", None, None)
        assert response.text.startswith('{\n  "error": {'), "the model backend pretty-prints"


@covers("responses.web_search_searching")
def test_web_search_items_left_searching(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(ResponsesText("Three stories.", searches=[Search("top news today")]))
    stream = events(respond(client, "search-stuck", stream=True, tools=[{"type": "web_search_preview"}]))
    kinds = [event["type"] for event in stream]
    assert "response.web_search_call.searching" in kinds and "response.web_search_call.completed" not in kinds
    search = done_items(stream)[0]
    assert search["status"] == "searching" and search["action"] == {"type": "search", "query": "top news today"}
    assert stream[-1]["type"] == "response.completed" and stream[-1]["response"]["output"][0]["status"] == "searching"


def image_input(url: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "look"}, {"type": "input_image", "image_url": url}],
        }
    ]


@covers("images.bad_data_url")
@pytest.mark.parametrize(
    ("url", "got"),
    [
        ("iVBORw0KGgo=", "a value without the 'data:' prefix"),
        ("data:image/png;base64,", "empty base64-encoded bytes"),
        ("data:application/octet-stream;base64,iVBORw0KGgo=", "unsupported MIME type 'application/octet-stream'"),
        ("data:image/png;base64,%%%", "invalid base64-encoded bytes"),
    ],
)
def test_bad_image_data_urls(client: httpx.Client, url: str, got: str) -> None:
    where = "input[0].content[1].image_url"
    refused(
        respond(client, input=image_input(url)),
        400,
        invalid(f"Invalid '{where}'. {EXPECTED_DATA_URL} {got}.", where, "invalid_value"),
    )
    content = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": url}}]
    chat_where = "messages[0].content[1].image_url.url"
    refused(
        chat(client, messages=[{"role": "user", "content": content}]),
        400,
        invalid(f"Invalid image URL: '{chat_where}'. {EXPECTED_DATA_URL} {got}.", chat_where, "invalid_value"),
    )


@covers("images.download_timeout", "images.too_large", "images.unsupported_format")
def test_image_download_size_and_format(client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    where = "input[0].content[1].image_url"
    unreachable = "https://images.invalid/cat.png"
    refused(
        respond(client, input=image_input(unreachable)),
        400,
        invalid(f"Timeout while downloading {unreachable}.", where, "invalid_image_url"),
    )
    refused(
        respond(client, input=image_input("data:image/png;base64,AAAAAAAA")),
        400,
        invalid(
            "You uploaded an unsupported image. Please make sure your image is below 20 MB in size and is of one the "
            "following formats: ['png', 'jpeg', 'gif', 'webp'].",
            None,
            "invalid_image_format",
        ),
    )
    for accepted in (f"data:image/png;base64,{PNG}", "https://example.com/cat.png", "data:image/gif;base64,R0lGODlhAQABAAAAACw="):
        assert respond(client, input=image_input(accepted)).status_code == 200, accepted
    monkeypatch.setattr(image_rules, "MAX_IMAGE_BYTES", 32)
    refused(
        respond(client, input=image_input(f"data:image/png;base64,{PNG}")),
        400,
        invalid("Invalid image. Image size exceeds the limit.", where, "invalid_image"),
    )


@covers("responses.prompt_cache_retention_unsupported")
def test_prompt_cache_retention_on_a_model_without_it(client: httpx.Client) -> None:
    refused(
        respond(client, "no-retention", prompt_cache_retention="24h"),
        400,
        invalid("prompt_cache_retention is not supported on this model", "prompt_cache_retention", "unsupported_parameter"),
    )
    assert respond(client, "gpt-4o", prompt_cache_retention="24h").status_code == 200


# --- the catalog: errors inside a 200 Responses stream --------------------------------------------


def streamed_failure(fake: FakeAzure, client: httpx.Client, failure: ResponsesFailure) -> list[dict[str, Any]]:
    fake.enqueue(failure)
    return events(respond(client, stream=True))


@covers("stream.insufficient_quota")
def test_quota_error_then_failed(fake: FakeAzure, client: httpx.Client) -> None:
    created, in_progress, error, failed = streamed_failure(fake, client, ResponsesFailure.insufficient_quota())
    assert (created["type"], in_progress["type"], failed["type"]) == (
        "response.created",
        "response.in_progress",
        "response.failed",
    )
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more information on this "
        "error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
    )
    assert error == {
        "type": "error",
        "sequence_number": 2,
        "error": {"type": "insufficient_quota", "code": "insufficient_quota", "message": message, "param": None},
    }
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {"code": "insufficient_quota", "message": message}


@covers("stream.rate_limit_failed")
def test_rate_limit_as_failed_only(fake: FakeAzure, client: httpx.Client) -> None:
    created, failed = streamed_failure(fake, client, ResponsesFailure.rate_limited(60))
    assert (created["type"], failed["type"]) == ("response.created", "response.failed")
    error = failed["response"]["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert error["message"].startswith(
        "Requests to the Responses_Create Operation under Azure OpenAI API version 2025-04-01-preview have exceeded "
        "token rate limit"
    )
    assert "Please retry after 60 seconds." in error["message"]


@covers("stream.server_error")
def test_transient_server_error_mid_stream(fake: FakeAzure, client: httpx.Client) -> None:
    stream = streamed_failure(fake, client, ResponsesFailure.server_error(text="Partial answer"))
    assert [event["type"] for event in stream][:2] == ["response.created", "response.in_progress"]
    assert "".join(event["delta"] for event in stream if event["type"] == "response.output_text.delta") == "Partial answer"
    assert stream[-1] == {
        "type": "error",
        "sequence_number": len(stream) - 1,
        "error": {
            "type": "server_error",
            "code": None,
            "message": "An error occurred while processing the request.",
            "param": None,
        },
    }


CONTEXT_ERROR = {
    "type": "invalid_request_error",
    "code": "context_length_exceeded",
    "message": "Your input exceeds the context window of this model. Please adjust your input and try again.",
    "param": "input",
}


@covers("stream.context_length_exceeded")
def test_input_over_the_context_window(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(Text("never sent"))
    long_input = "word " * 100
    *_, error, failed = events(respond(client, "tiny-input", stream=True, input=long_input))
    assert error == {"type": "error", "sequence_number": 2, "error": CONTEXT_ERROR}
    assert failed["type"] == "response.failed" and failed["response"]["error"]["code"] == "context_length_exceeded"
    assert fake.pending == 1, "the model never ran: the script is untouched"
    not_streamed = respond(client, "tiny-input", input=long_input)
    refused(
        not_streamed,
        400,
        {
            "error": {
                "message": CONTEXT_ERROR["message"],
                "type": "invalid_request_error",
                "param": "input",
                "code": "context_length_exceeded",
            }
        },
    )
    assert respond(client, "tiny-input", stream=True).status_code == 200
    fake.reset()
    assert streamed_failure(fake, client, ResponsesFailure.context_length_exceeded())[2]["error"] == CONTEXT_ERROR


@covers("stream.content_policy_violation")
def test_content_filter_three_frames(fake: FakeAzure, client: httpx.Client) -> None:
    created, failed, error = streamed_failure(fake, client, ResponsesFailure.content_policy_violation())
    assert created["type"] == "response.created"
    assert failed["type"] == "response.failed" and failed["response"]["error"] is None
    assert error == {
        "type": "error",
        "sequence_number": 2,
        "error": {
            "type": "invalid_request_error",
            "code": "content_policy_violation",
            "message": "Image processing blocked due to content policy violation.",
            "param": "input",
        },
    }
    fake.enqueue(ResponsesFailure.content_policy_violation())
    refused(
        respond(client),
        400,
        invalid("Image processing blocked due to content policy violation.", "input", "content_policy_violation"),
    )


@covers("stream.incomplete")
@pytest.mark.parametrize("reason", ["max_output_tokens", "content_filter"])
def test_incomplete_responses(fake: FakeAzure, client: httpx.Client, reason: str) -> None:
    fake.enqueue(ResponsesText("Cut", incomplete=reason))
    last = events(respond(client, stream=True))[-1]
    assert last["type"] == "response.incomplete" and last["response"]["incomplete_details"] == {"reason": reason}


@covers(
    "stream.quirk_content_filters_field",
    "stream.quirk_encrypted_content_differs",
    "stream.quirk_obfuscation",
    "stream.quirk_no_reasoning_item",
)
def test_azure_response_quirks(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(ResponsesText("Answer.", reasoning=["Thinking."]), ResponsesText("Later.", reasoning=()))
    stream = events(respond(client, stream=True, include=["reasoning.encrypted_content"], reasoning={"summary": "auto"}))
    assert all(event["response"]["content_filters"] is None for event in stream if "response" in event)
    added = next(event["item"] for event in stream if event["type"] == "response.output_item.added")
    done = done_items(stream)[0]
    final = stream[-1]["response"]["output"][0]
    tokens = [added["encrypted_content"], done["encrypted_content"], final["encrypted_content"]]
    assert len(set(tokens)) == 3
    assert [fake.vault.opens(done["id"], token, "gpt-5-2025-08-07") for token in tokens] == [False, True, True]
    deltas = [event for event in stream if event["type"].endswith(".delta")]
    assert deltas and all(event["obfuscation"] for event in deltas)
    later = events(respond(client, stream=True, include=["reasoning.encrypted_content"]))
    assert [item["type"] for item in done_items(later)] == ["message"]


# --- the catalog: chat/completions ----------------------------------------------------------------


@covers("chat.max_completion_tokens_old_api_version", "chat.unknown_argument")
def test_arguments_by_api_version(client: httpx.Client) -> None:
    old = client.post(
        "/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01", json={"messages": USER, "max_completion_tokens": 50}
    )
    refused(old, 400, invalid("Unrecognized request argument supplied: max_completion_tokens"))
    functions = [{"name": "f", "parameters": {"type": "object"}}]
    older = client.post(
        "/openai/deployments/gpt-4o/chat/completions?api-version=2023-05-15", json={"messages": USER, "functions": functions}
    )
    refused(older, 400, invalid("Unrecognized request argument supplied: functions"))
    refused(chat(client, foo=1, bar=2), 400, invalid("Unrecognized request arguments supplied: foo, bar"))
    assert chat(client, max_completion_tokens=50).status_code == 200


@covers("chat.parallel_tool_calls_o_series")
def test_parallel_tool_calls_on_o_series(client: httpx.Client) -> None:
    refused(
        chat(client, "o4-mini", tools=[TOOL], parallel_tool_calls=True),
        400,
        invalid(
            "Unsupported parameter: 'parallel_tool_calls' is not supported with this model.",
            "parallel_tool_calls",
            "unsupported_parameter",
        ),
    )
    assert chat(client, "gpt-5", tools=[TOOL], parallel_tool_calls=True).status_code == 200


@covers("chat.effort_with_function_tools", "models.gpt_5_6_tools_effort_none")
def test_effort_with_function_tools_on_chat(client: httpx.Client) -> None:
    refused(
        chat(client, "gpt-5.4", tools=[TOOL], reasoning_effort="low"),
        400,
        invalid(
            "Function tools with reasoning_effort are not supported for gpt-5.4 in /v1/chat/completions. Please use "
            "/v1/responses instead.",
            "reasoning_effort",
        ),
    )
    assert chat(client, "gpt-5.4", tools=[TOOL], reasoning_effort="none").status_code == 200
    assert chat(client, "gpt-5.4", tools=[TOOL]).status_code == 200
    assert chat(client, "gpt-5.4", reasoning_effort="xhigh").status_code == 200


@covers("chat.tool_call_id_too_long")
def test_tool_call_id_over_40_characters(client: httpx.Client) -> None:
    long_id = "toolu_" + "x" * 47
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(10)]
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": long_id, "type": "function", "function": {"name": "Read", "arguments": "{}"}}],
    }
    messages = [*history, call, {"role": "tool", "tool_call_id": long_id, "content": "r"}]
    refused(
        chat(client, messages=messages, tools=[TOOL]),
        400,
        invalid(
            "Invalid 'messages[10].tool_calls[0].id': string too long. Expected a string with maximum length 40, but got "
            "a string with length 53 instead.",
            "messages[10].tool_calls[0].id",
            "string_above_max_length",
        ),
    )


@covers("chat.context_length_exceeded", "chat.input_tokens_exceeded")
def test_chat_context_window(client: httpx.Client) -> None:
    messages = [{"role": "user", "content": "word " * 100}]
    used = prompt_tokens({"messages": messages})
    refused(
        chat(client, "tiny", messages=messages),
        400,
        invalid(
            f"This model's maximum context length is 60 tokens. However, your messages resulted in {used} tokens. "
            "Please reduce the length of the messages.",
            "messages",
            "context_length_exceeded",
        ),
    )
    used = prompt_tokens({"model": "tiny-input", "messages": messages})
    refused(
        client.post(V1, json={"model": "tiny-input", "messages": messages}),
        400,
        invalid(
            f"Input tokens exceed the configured limit of 60 tokens. Your messages resulted in {used} tokens. Please "
            "reduce the length of the messages.",
            "messages",
            "context_length_exceeded",
        ),
    )
    assert chat(client, "tiny").status_code == 200


@covers("chat.stream_async_filter")
def test_asynchronous_content_filter_stream(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(Text("Kindness matters."))
    stream = chunks(chat(client, "async-filter", stream=True))
    finish = next(index for index, event in enumerate(stream) if event["choices"] and event["choices"][0].get("finish_reason"))
    assert all("content_filter_results" not in event["choices"][0] for event in stream[1 : finish + 1])
    annotations = stream[finish + 1 :]
    assert len(annotations) == 2
    for event in annotations:
        (choice,) = event["choices"]
        assert "delta" not in choice and (event["id"], event["created"], event["object"]) == ("", 0, "")
        assert choice["content_filter_offsets"] == {"check_offset": 0, "start_offset": 0, "end_offset": len("Kindness matters.")}
    assert annotations[0]["choices"][0]["content_filter_results"]["violence"] == {"filtered": False, "severity": "safe"}
    assert annotations[1]["choices"][0]["content_filter_results"]["protected_material_text"] == {
        "filtered": False,
        "detected": False,
    }


@covers("chat.codex_operation_not_supported", "models.gpt_5_1_family")
def test_codex_model_on_chat(client: httpx.Client) -> None:
    refused(
        chat(client, "gpt-5.1-codex"),
        400,
        gateway(
            "OperationNotSupported",
            "The chatCompletion operation does not work with the specified model, gpt-5.1-codex. Please choose different "
            "model and try again. You can learn more about which models can be used with each operation here: "
            "https://go.microsoft.com/fwlink/?linkid=2197993.",
        ),
    )
    assert respond(client, "gpt-5.1-codex").status_code == 200
    assert (like("gpt-5.1").context_window, like("gpt-5.1").input_limit) == (400_000, 272_000)


# --- the catalog: transport, versions, auth -------------------------------------------------------


@covers("transport.rate_limit_429", "transport.rate_limit_short", "transport.rate_limit_headers")
def test_rate_limits(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(
        Error.rate_limited(86400),
        Error.rate_limited(5, api="responses", api_version="2025-04-01-preview", headers="reset-tokens"),
        Error.rate_limited(5, headers="none"),
        Error.rate_limit_exceeded(2),
    )
    daily, responses, bare, short = chat(client), respond(client), chat(client), chat(client)
    assert daily.status_code == 429
    assert daily.json() == gateway(
        "429",
        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token "
        "rate limit of your current OpenAI S0 pricing tier. Please retry after 86400 seconds. Please contact Azure "
        "support service if you would like to further increase the default rate limit.",
    )
    assert (daily.headers["retry-after"], daily.headers["retry-after-ms"]) == ("86400", "86400000")
    assert daily.headers["x-ratelimit-remaining-tokens"] == "0"
    assert responses.json()["error"]["message"].startswith(
        "Requests to the Responses_Create Operation under Azure OpenAI API version 2025-04-01-preview"
    )
    assert responses.headers["x-ratelimit-reset-tokens"] == "5" and "retry-after" not in responses.headers
    assert bare.status_code == 429 and not any(name.startswith(("retry-after", "x-ratelimit")) for name in bare.headers)
    refused(short, 429, gateway("429", "Rate limit is exceeded. Try again in 2 seconds."))
    served_chat, served_responses = chat(client), respond(client)
    assert served_chat.headers["x-ratelimit-remaining-requests"] and served_chat.headers["x-ratelimit-remaining-tokens"]
    assert served_responses.headers["x-ratelimit-limit-tokens"] == "-1"


@covers("transport.timeout_408")
def test_timeout(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(Error.timeout())
    response = chat(client)
    refused(response, 408, gateway("Timeout", "The operation was timeout."))
    assert response.content == b'{"error":{"code":"Timeout","message":"The operation was timeout."}}'


@covers("transport.resource_not_found", "transport.api_version_not_supported", "transport.responses_api_version")
def test_paths_and_api_versions(client: httpx.Client) -> None:
    elsewhere = client.post("/openai/deployments/gpt-4o/completion", json={})
    assert (elsewhere.status_code, elsewhere.content) == (404, b'{"error":{"code":"404","message": "Resource not found"}}')
    for version in ("2023-01-01", "2099-01-01-preview", "latest"):
        refused(
            client.post(f"/openai/deployments/gpt-4o/chat/completions?api-version={version}", json={"messages": USER}),
            400,
            gateway("BadRequest", "API version not supported"),
        )
    refused(
        respond(client, path="/openai/responses?api-version=2024-10-21"),
        400,
        gateway("BadRequest", "Azure OpenAI Responses API is enabled only for api-version 2025-03-01-preview and later"),
    )
    assert respond(client, path="/openai/responses?api-version=2025-03-01-preview").status_code == 200
    assert respond(client, path=V1_RESPONSES + "?api-version=preview").status_code == 200


ENTRA_401 = {
    "statusCode": 401,
    "message": "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), "
    "or have expired.",
}


@covers("transport.entra_token_invalid")
def test_bad_entra_token(fake: FakeAzure, served: tuple[FakeAzure, str]) -> None:
    url = served[1] + DATED.format("gpt-4o")
    refused(httpx.post(url, json={"messages": USER}, headers={"authorization": "Bearer expired"}), 401, ENTRA_401)
    fake.bearer_tokens.add(TOKEN)
    fake.enqueue(Error.entra_unauthorized())
    refused(httpx.post(url, json={"messages": USER}, headers={"authorization": f"Bearer {TOKEN}"}), 401, ENTRA_401)


def jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.signature"


@covers("transport.permission_denied")
def test_identity_without_the_data_role(fake: FakeAzure, client: httpx.Client, served: tuple[FakeAzure, str]) -> None:
    oid = "5f2b9c1e-0000-4000-8000-00000000abcd"
    token = jwt({"oid": oid, "aud": "https://cognitiveservices.azure.com"})
    fake.roleless_tokens.add(token)
    headers = {"authorization": f"Bearer {token}"}
    refused(
        httpx.post(served[1] + DATED.format("gpt-4o"), json={"messages": USER}, headers=headers),
        401,
        gateway(
            "PermissionDenied",
            f"The principal `{oid}` lacks the required data action "
            "`Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action` to perform "
            "`POST /openai/deployments/{deployment-id}/chat/completions` operation.",
        ),
    )
    responses = httpx.post(served[1] + V1_RESPONSES, json={"model": "gpt-5", "input": "hi"}, headers=headers)
    assert responses.status_code == 401
    assert "`Microsoft.CognitiveServices/accounts/OpenAI/responses/write`" in responses.json()["error"]["message"]
    fake.enqueue(Error.permission_denied(oid))
    assert chat(client).json()["error"]["code"] == "PermissionDenied"


@covers("transport.key_auth_disabled")
def test_key_sent_to_a_resource_without_keys() -> None:
    keyless = FakeAzure(api_key=None, bearer_tokens=[TOKEN])
    with running(keyless) as url:
        body = {"model": "gpt-4o", "messages": USER}
        refused(
            httpx.post(url + V1, json=body, headers={"api-key": "any"}),
            403,
            gateway("AuthenticationTypeDisabled", "Key based authentication is disabled for this resource."),
        )
        assert httpx.post(url + V1, json=body, headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
        keyless.enqueue(Error.key_auth_disabled())
        assert httpx.post(url + V1, json=body, headers={"authorization": f"Bearer {TOKEN}"}).status_code == 403


@covers("models.gpt_5_4_family")
def test_model_profiles() -> None:
    gpt_54 = like("gpt-5.4", name="big")
    assert (gpt_54.name, gpt_54.model_name, gpt_54.context_window, gpt_54.input_limit, gpt_54.max_output_tokens) == (
        "big",
        "gpt-5.4",
        1_050_000,
        922_000,
        128_000,
    )
    assert not like("o4-mini").accepts_encrypted_content and like("gpt-4.1").accepts_encrypted_content
    assert like("gpt-5.1-codex").operations == ("responses",)


# --- the catalog index itself ---------------------------------------------------------------------


def test_catalog_index_is_complete_and_covered() -> None:
    assert len(ROWS_BY_KEY) == len(ROWS), "keys are unique"
    reproduced = {row.key for row in ROWS if row.reproduced}
    assert reproduced - COVERED == set(), "every reproduced row has a test here"
    assert reproduced >= COVERED
    for row in ROWS:
        assert row.how and row.trigger and row.section
        assert bool(row.via) == row.reproduced, row.key
    readme = SHARED_DIR / "azure-behaviours" / "README.md"
    if readme.is_file():
        sections = {line.removeprefix("## ") for line in readme.read_text().splitlines() if line.startswith("## ")}
        assert sections == {row.section for row in ROWS}


def test_responses_without_stream_answer_one_response_object(fake: FakeAzure, client: httpx.Client) -> None:
    fake.enqueue(Text("Plain answer.", pieces=3), ResponsesFailure("overloaded"))
    answer = client.post("/openai/v1/responses", json={"model": "gpt-5", "input": "hi", "stream": False})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    response = answer.json()
    assert (response["object"], response["status"]) == ("response", "completed")
    message = response["output"][-1]
    assert message["type"] == "message" and message["content"][0]["text"] == "Plain answer."
    assert response["usage"]["output_tokens"] > 0
    failed = client.post("/openai/v1/responses", json={"model": "gpt-5", "input": "hi"})
    assert failed.status_code == 500 and failed.json()["error"]["message"] == "overloaded"
