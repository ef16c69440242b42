"""The official anthropic SDK, sync and async, streaming and not, against `python -m bridge` and the fake Azure."""

from __future__ import annotations

import base64
import json

import anthropic
import httpx
import pytest

from tests.support.anthropic_grammar import check_grammar, parse_sse
from tests.support.bridge import CLIENT_TOKEN, RunningBridge
from tests.support.fake_azure import Error, FakeAzure, Text, ToolCalls

PIXEL_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()
TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather of a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
    {
        "name": "get_time",
        "description": "Time in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
]


def last_body(fake: FakeAzure) -> dict:
    return fake.requests[-1].body


def test_text_non_streaming(client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("Hello there, friend."))
    message = client.messages.create(
        model="claude-opus-4-8", max_tokens=1000, system="Be brief.", messages=[{"role": "user", "content": "hi"}]
    )
    assert message.id.startswith("msg_")
    assert message.model == "claude-opus-4-8"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Hello there, friend."
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    body = last_body(fake_azure)
    assert body["model"] == "gpt-5"
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["messages"][1] == {"role": "user", "content": "hi"}
    assert body["max_completion_tokens"] == 1000
    assert "stream" not in body and "stream_options" not in body, "a non-streaming client gets one JSON answer"


def test_text_streaming_events(client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("One two three four five six.", pieces=6))
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "count"}]
    ) as stream:
        deltas = [event.delta.text for event in stream if event.type == "content_block_delta"]
        message = stream.get_final_message()
    assert "".join(deltas) == "One two three four five six."
    assert len(deltas) > 1
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0


def test_raw_stream_obeys_grammar(bridge: RunningBridge, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(ToolCalls([("get_weather", {"city": "Paris"}), ("get_time", {"city": "Oslo"})], text="Let me check."))
    response = httpx.post(
        bridge.url + "/v1/messages?beta=true",
        headers={"x-api-key": CLIENT_TOKEN, "anthropic-version": "2023-06-01"},
        json={
            "model": "claude-opus-4-8",
            "max_tokens": 500,
            "stream": True,
            "tools": TOOLS,
            "messages": [{"role": "user", "content": "?"}],
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["request-id"].startswith("req_")
    events = parse_sse(response.content)
    check_grammar(events)
    starts = [data["content_block"] for name, data in events if name == "content_block_start"]
    assert [block["type"] for block in starts] == ["text", "tool_use", "tool_use"]
    json_deltas = [data for name, data in events if name == "content_block_delta" and data["delta"]["type"] == "input_json_delta"]
    assert len(json_deltas) > 2, "arguments are forwarded incrementally"
    final = next(data for name, data in events if name == "message_delta")
    assert final["delta"]["stop_reason"] == "tool_use"


@pytest.mark.anyio
async def test_async_streaming_and_not(async_client: anthropic.AsyncAnthropic, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("async plain"), Text("async streamed"))
    message = await async_client.messages.create(
        model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "a"}]
    )
    assert message.content[0].text == "async plain"
    assert fake_azure.requests[-1].body["model"] == "gpt-4o"
    async with async_client.messages.stream(
        model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "b"}]
    ) as stream:
        text = await stream.get_final_text()
    assert text == "async streamed"


def test_multi_turn_and_mid_conversation_system(client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    client.messages.create(
        model="claude-opus-4-8",
        max_tokens=100,
        system=[
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=1;"},
            {"type": "text", "text": "Rules.", "cache_control": {"type": "ephemeral"}},
        ],
        messages=[
            {"role": "user", "content": "first"},
            {"role": "system", "content": "Reminder."},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "text", "text": "third"}]},
            {"role": "user", "content": "fourth"},
        ],
    )
    assert last_body(fake_azure)["messages"] == [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": "first"},
        {"role": "system", "content": "Reminder."},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "text", "text": "third"}]},
        {"role": "user", "content": "fourth"},
    ]


def test_images_base64_and_url(client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    client.messages.create(
        model="claude-opus-4-8",
        max_tokens=100,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL_PNG}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                    {"type": "text", "text": "What are these?"},
                ],
            }
        ],
    )
    content = last_body(fake_azure)["messages"][0]["content"]
    assert content[0] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL_PNG}"}}
    assert content[1] == {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
    assert content[2] == {"type": "text", "text": "What are these?"}


def test_parallel_tool_calls_round_trip(client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(ToolCalls([("get_weather", {"city": "Paris"}), ("get_time", {"city": "Oslo"})]), Text("Sunny, and noon."))
    messages: list[dict] = [{"role": "user", "content": "Weather in Paris and time in Oslo?"}]
    with client.messages.stream(model="claude-opus-4-8", max_tokens=500, tools=TOOLS, messages=messages) as stream:
        first = stream.get_final_message()
    assert first.stop_reason == "tool_use"
    calls = [block for block in first.content if block.type == "tool_use"]
    assert [(c.name, c.input) for c in calls] == [("get_weather", {"city": "Paris"}), ("get_time", {"city": "Oslo"})]
    assert calls[0].id != calls[1].id
    messages += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": calls[0].id, "content": "sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": calls[1].id,
                    "content": [{"type": "text", "text": "12:00"}],
                    "is_error": False,
                },
            ],
        },
    ]
    second = client.messages.create(model="claude-opus-4-8", max_tokens=500, tools=TOOLS, messages=messages)
    assert second.content[0].text == "Sunny, and noon."
    sent = last_body(fake_azure)["messages"]
    assert sent[1]["role"] == "assistant" and [c["id"] for c in sent[1]["tool_calls"]] == [calls[0].id, calls[1].id]
    assert sent[2] == {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"}
    assert sent[3] == {"role": "tool", "tool_call_id": calls[1].id, "content": "12:00"}
    assert json.loads(sent[1]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}


def test_single_tool_call_non_streaming_and_tool_choice(client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(ToolCalls([("get_weather", {"city": "Rome"})]))
    message = client.messages.create(
        model="claude-opus-4-8",
        max_tokens=200,
        tools=TOOLS,
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": "Rome?"}],
    )
    assert message.stop_reason == "tool_use"
    assert message.content[0].type == "tool_use" and message.content[0].input == {"city": "Rome"}
    body = last_body(fake_azure)
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    client.messages.create(
        model="claude-opus-4-8",
        max_tokens=50,
        tools=TOOLS,
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "x"}],
    )
    assert last_body(fake_azure)["tool_choice"] == "required"


def test_tool_result_with_image_and_error(client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    client.messages.create(
        model="claude-opus-4-8",
        max_tokens=100,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "look"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "A"}},
                    {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01",
                        "content": [
                            {"type": "text", "text": "a chart"},
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL_PNG}},
                        ],
                    },
                    {"type": "tool_result", "tool_use_id": "toolu_02", "content": "boom", "is_error": True},
                    {"type": "text", "text": "and?"},
                ],
            },
        ],
    )
    sent = last_body(fake_azure)["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool", "user"]
    assert sent[2]["content"] == "a chart"
    assert sent[3]["content"].startswith("Error: ") and "boom" in sent[3]["content"]
    assert sent[4]["content"][1]["type"] == "image_url"
    assert sent[4]["content"][-1] == {"type": "text", "text": "and?"}


def test_stop_sequences(client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("alpha beta END gamma", pieces=8), Text("alpha beta END gamma", pieces=8))
    message = client.messages.create(
        model="claude-opus-4-8", max_tokens=100, stop_sequences=["END", "zzz"], messages=[{"role": "user", "content": "go"}]
    )
    assert message.content[0].text == "alpha beta "
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")
    assert "stop" not in last_body(fake_azure)
    with client.messages.stream(
        model="claude-opus-4-8", max_tokens=100, stop_sequences=["END"], messages=[{"role": "user", "content": "go"}]
    ) as stream:
        streamed = stream.get_final_message()
    assert streamed.content[0].text == "alpha beta "
    assert streamed.stop_sequence == "END"


def test_max_tokens_cut_off(client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("This answer is cut", finish_reason="length"), Text("This answer is cut", finish_reason="length"))
    assert (
        client.messages.create(model="claude-opus-4-8", max_tokens=5, messages=[{"role": "user", "content": "long"}]).stop_reason
        == "max_tokens"
    )
    with client.messages.stream(model="claude-opus-4-8", max_tokens=5, messages=[{"role": "user", "content": "long"}]) as stream:
        assert stream.get_final_message().stop_reason == "max_tokens"


def test_content_filter_finish_is_refusal(client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("I", finish_reason="content_filter"))
    assert (
        client.messages.create(model="claude-opus-4-8", max_tokens=50, messages=[{"role": "user", "content": "x"}]).stop_reason
        == "refusal"
    )


@pytest.mark.parametrize(
    ("status", "body", "error_class", "kind"),
    [
        (
            400,
            {
                "error": {
                    "message": "Invalid value for 'foo'.",
                    "type": "invalid_request_error",
                    "param": "foo",
                    "code": "invalid_value",
                }
            },
            anthropic.BadRequestError,
            "invalid_request_error",
        ),
        (
            401,
            {"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint."}},
            anthropic.InternalServerError,
            "api_error",
        ),
        (403, {"error": {"code": "403", "message": "Forbidden"}}, anthropic.InternalServerError, "api_error"),
        (404, {"error": {"code": "404", "message": "Resource not found"}}, anthropic.InternalServerError, "api_error"),
        (413, {"error": {"code": "413", "message": "Request entity too large"}}, anthropic.APIStatusError, "request_too_large"),
        (
            429,
            {"error": {"code": "429", "message": "Rate limit reached. Please retry after 1 second."}},
            anthropic.RateLimitError,
            "rate_limit_error",
        ),
        (500, {"error": {"code": "500", "message": "The server had an error."}}, anthropic.InternalServerError, "api_error"),
        (
            503,
            {"error": {"code": "503", "message": "The service is temporarily unable to process your request."}},
            anthropic.APIStatusError,
            "overloaded_error",
        ),
    ],
)
def test_upstream_errors(
    client: anthropic.Anthropic, fake_azure: FakeAzure, status: int, body: dict, error_class: type, kind: str
) -> None:
    headers = {"retry-after": "0"} if status in (429, 500, 503) else {}
    fake_azure.enqueue(*[Error(status, body, headers)] * 3)
    with pytest.raises(error_class) as caught:
        client.messages.create(model="claude-opus-4-8", max_tokens=50, messages=[{"role": "user", "content": "x"}])
    error = caught.value
    assert error.body["type"] == "error"
    assert error.body["error"]["type"] == kind
    assert body["error"]["message"].split(".")[0] in error.body["error"]["message"]
    assert error.status_code == {503: 529, 401: 500, 403: 500, 404: 500}.get(status, status)
    if status in (401, 403, 404):
        assert error.response.headers["x-should-retry"] == "false", "the bridge's credentials or endpoint, not the client's"
    if status == 429:
        assert error.response.headers["retry-after"] == "0"


@pytest.mark.usefixtures("fake_azure")
def test_deployment_not_found_names_the_setting(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="my-missing-deployment", max_tokens=50, messages=[{"role": "user", "content": "x"}])
    assert "my-missing-deployment" in caught.value.message and "model name" in caught.value.message


@pytest.mark.usefixtures("fake_azure")
def test_client_token_is_required(bridge: RunningBridge) -> None:
    for headers in ({}, {"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}):
        response = httpx.post(bridge.url + "/v1/messages", headers=headers, json={"model": "m", "max_tokens": 1, "messages": []})
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert response.headers["x-should-retry"] == "false", "Claude Code would retry ten times before saying so"
        assert CLIENT_TOKEN not in response.text
    with anthropic.Anthropic(base_url=bridge.url, auth_token=CLIENT_TOKEN, max_retries=0) as bearer:
        assert bearer.messages.create(model="claude-opus-4-8", max_tokens=5, messages=[{"role": "user", "content": "x"}]).content


def test_count_tokens(client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    small = client.messages.count_tokens(model="claude-opus-4-8", messages=[{"role": "user", "content": "hello"}])
    large = client.messages.count_tokens(
        model="claude-opus-4-8", system="You are terse.", tools=TOOLS, messages=[{"role": "user", "content": "hello " * 200}]
    )
    assert 5 <= small.input_tokens < 20
    assert large.input_tokens > small.input_tokens + 200
    assert fake_azure.requests == [], "count_tokens is local"


PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF").decode()


def test_pdf_documents_in_messages_and_tool_results(client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    document = {
        "type": "document",
        "title": "report.pdf",
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
    }
    client.messages.create(
        model="claude-opus-4-8",
        max_tokens=100,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": [document, {"type": "text", "text": "Summarise it, then read the other one."}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_pdf", "name": "get_weather", "input": {}}]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_pdf", "content": [{"type": "text", "text": "read"}, document]}
                ],
            },
        ],
    )
    sent = last_body(fake_azure)["messages"]
    expected = {"type": "file", "file": {"filename": "report.pdf", "file_data": f"data:application/pdf;base64,{PDF}"}}
    assert sent[0]["content"][0] == expected
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "user"]
    assert sent[2]["content"] == "read"
    assert sent[3]["content"][1] == expected, "a document returned by a tool travels in the next user message"


def test_model_discovery_lists_the_tiers_as_claude_models(client: anthropic.Anthropic) -> None:
    """Claude Code's gateway model discovery (`GET /v1/models?limit=1000` with anthropic-version)."""
    listed = client.models.list(limit=1000)
    ids = [model.id for model in listed.data]
    assert ids == ["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"]
    assert all(model.type == "model" and model.id.startswith("claude") for model in listed.data)
    assert "gpt-5" in listed.data[0].display_name and "BIG_MODEL" in listed.data[0].display_name
    assert "gpt-4o" in listed.data[2].display_name
    openai_style = httpx.get(str(client.base_url).rstrip("/") + "/v1/models", headers={"x-api-key": CLIENT_TOKEN}).json()
    assert openai_style["object"] == "list" and "gpt-high" in [model["id"] for model in openai_style["data"]]
