"""Tests of the fake Azure OpenAI server itself, over real HTTP with httpx."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fake_azure import (
    DEFAULT_API_KEY,
    Deployment,
    Error,
    FakeAzure,
    Faults,
    RawSSE,
    ResponsesFailure,
    Text,
    ToolCalls,
    load_transcript,
    recorded_reply,
    require_recorded_dir,
    running_fake_azure,
    sse_data,
)

DATED = "/openai/deployments/{}/chat/completions?api-version=2024-10-21"
V1 = "/openai/v1/chat/completions"
USER = [{"role": "user", "content": "hi"}]
TOKEN = "entra-token-123"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeAzure, str]]:
    fake = FakeAzure([*FakeAzure().deployments.values(), Deployment("no-vision", supports_images=False)])
    with running_fake_azure(fake) as url:
        yield fake, url


@pytest.fixture()
def fake(served: tuple[FakeAzure, str]) -> FakeAzure:
    served[0].reset()
    served[0].bearer_tokens.clear()
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


def test_missing_api_version_and_unknown_paths_are_resource_not_found(client: httpx.Client) -> None:
    expected = {"error": {"code": "404", "message": "Resource not found"}}
    missing = client.post("/openai/deployments/gpt-4o/chat/completions", json={"messages": USER})
    elsewhere = client.get("/openai/models")
    assert (missing.status_code, missing.json()) == (404, expected)
    assert (elsewhere.status_code, elsewhere.json()) == (404, expected)


@pytest.mark.parametrize("headers", [{}, {"api-key": "wrong"}, {"authorization": "Bearer nope"}])
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
