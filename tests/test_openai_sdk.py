"""The official openai SDK, streaming and not, against `python -m bridge` and the fake Azure."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from bridge.fronts.openai.model_names import ALIASES
from bridge.fronts.openai.reasoning import CLOSE, OPEN
from tests.support.bridge import CLIENT_TOKEN, RunningBridge
from tests.support.fake_azure import Error, FakeAzure, Faults, RawSSE, Text, ToolCalls

PIXEL_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Time in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
]
USER: list[Any] = [{"role": "user", "content": "hi"}]


@pytest.fixture
def oai(bridge: RunningBridge) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=bridge.url + "/v1", api_key=CLIENT_TOKEN, max_retries=0) as sdk:
        yield sdk


def last_body(fake: FakeAzure) -> dict[str, Any]:
    return fake.requests[-1].body


def chat_sse(deltas: list[dict[str, Any]], finish: str = "stop") -> bytes:
    """A minimal Azure chat/completions stream with these deltas (the fake replays it verbatim)."""

    def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": reason}
        return (
            b"data: "
            + json.dumps({"id": "chatcmpl-x", "object": "chat.completion.chunk", "choices": [choice]}).encode()
            + b"\n\n"
        )

    return b"".join(chunk(delta) for delta in deltas) + chunk({}, finish) + b"data: [DONE]\n\n"


def test_text_non_streaming(oai: openai.OpenAI, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("Hello there, friend.", cached_tokens=3, reasoning_tokens=5))
    completion = oai.chat.completions.create(
        model="gpt-high", messages=[{"role": "system", "content": "Be brief."}, *USER], max_completion_tokens=500, user="u-1"
    )
    assert completion.id.startswith("chatcmpl-") and completion.object == "chat.completion"
    assert completion.model == "gpt-high"
    choice = completion.choices[0]
    assert choice.message.content == "Hello there, friend." and choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens_details is not None and usage.completion_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 3 and usage.completion_tokens_details.reasoning_tokens == 5
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    body = last_body(fake_azure)
    assert body["model"] == "gpt-5"
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert body["max_completion_tokens"] == 500 and body["user"] == "u-1"


def test_text_streaming_with_usage(oai: openai.OpenAI, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("One two three four five six.", pieces=6, cached_tokens=2, reasoning_tokens=4))
    chunks = list(
        oai.chat.completions.create(model="gpt-low", messages=USER, stream=True, stream_options={"include_usage": True})
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "One two three four five six."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.prompt_tokens_details is not None and last.usage.prompt_tokens_details.cached_tokens == 2
    assert last.usage.completion_tokens_details is not None and last.usage.completion_tokens_details.reasoning_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1


def test_stream_without_include_usage_has_no_usage_chunk(bridge: RunningBridge, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("plain"))
    response = httpx.post(
        bridge.url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {CLIENT_TOKEN}"},
        json={"model": "gpt-5", "messages": USER, "stream": True},
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-request-id"].startswith("req_")
    payloads = [line[len("data: ") :] for line in response.text.splitlines() if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all("usage" not in c and c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_single_tool_call_round_trip(oai: openai.OpenAI, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(ToolCalls([("get_weather", {"city": "Paris"})], seed=1))
    with oai.chat.completions.stream(model="gpt-high", messages=USER, tools=TOOLS, tool_choice="auto") as stream:
        completion = stream.get_final_completion()
    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert (
        call.type == "function"
        and call.function.name == "get_weather"
        and json.loads(call.function.arguments) == {"city": "Paris"}
    )
    sent = last_body(fake_azure)
    assert sent["tools"] == TOOLS and sent["tool_choice"] == "auto"

    fake_azure.enqueue(Text("Sunny in Paris."))
    answer = oai.chat.completions.create(
        model="gpt-high",
        messages=[
            *USER,
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump(include={"id", "type", "function"})]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
        ],
        tools=TOOLS,
    )
    assert answer.choices[0].message.content == "Sunny in Paris."
    assert last_body(fake_azure)["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": call.function.arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
    ]


@pytest.mark.parametrize("stream", [True, False])
def test_parallel_tool_calls_keep_their_own_index(oai: openai.OpenAI, fake_azure: FakeAzure, stream: bool) -> None:
    reply = ToolCalls([("get_weather", {"city": "Paris"}), ("get_time", {"city": "Oslo"})], text="Checking both.", seed=7)
    fake_azure.enqueue(reply, reply)
    if stream:
        chunks = list(
            oai.chat.completions.create(model="gpt-medium", messages=USER, tools=TOOLS, parallel_tool_calls=True, stream=True)
        )
        headers = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or [] if tc.id]
        assert [(h.index, h.function and h.function.name) for h in headers] == [(0, "get_weather"), (1, "get_time")]
        with oai.chat.completions.stream(model="gpt-medium", messages=USER, tools=TOOLS, parallel_tool_calls=True) as accumulated:
            completion = accumulated.get_final_completion()
    else:
        completion = oai.chat.completions.create(model="gpt-medium", messages=USER, tools=TOOLS, parallel_tool_calls=True)
    message = completion.choices[0].message
    assert message.content == "Checking both."
    assert message.tool_calls is not None
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls]
    assert calls == [("get_weather", {"city": "Paris"}), ("get_time", {"city": "Oslo"})]
    assert len({c.id for c in message.tool_calls}) == 2
    assert completion.choices[0].finish_reason == "tool_calls"
    assert last_body(fake_azure)["parallel_tool_calls"] is True


def test_image_parts(oai: openai.OpenAI, fake_azure: FakeAzure) -> None:
    data_url = f"data:image/png;base64,{PIXEL_PNG}"
    oai.chat.completions.create(
        model="gpt-high",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": data_url, "detail": "high"}},
                ],
            }
        ],
    )
    assert last_body(fake_azure)["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": data_url}}],
        }
    ]


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_each_alias_goes_to_the_big_deployment(oai: openai.OpenAI, fake_azure: FakeAzure, alias: str) -> None:
    fake_azure.enqueue(Text(f"from {alias}"))
    completion = oai.chat.completions.create(model=alias, messages=USER)
    assert completion.model == alias and completion.choices[0].message.content == f"from {alias}"
    assert last_body(fake_azure)["model"] == "gpt-5" and last_body(fake_azure)["reasoning_effort"] == ALIASES[alias]
    oai.chat.completions.create(model=alias, messages=USER, reasoning_effort="high" if alias != "gpt-high" else "low")
    assert last_body(fake_azure)["reasoning_effort"] == ("high" if alias != "gpt-high" else "low"), "the request's effort wins"


def test_tier_deployment_and_pass_through_names(oai: openai.OpenAI, fake_azure: FakeAzure) -> None:
    oai.chat.completions.create(model="gpt-4o", messages=USER)
    assert last_body(fake_azure)["model"] == "gpt-4o"
    oai.chat.completions.create(model="claude-haiku-4-5", messages=USER)
    assert last_body(fake_azure)["model"] == "gpt-4o"
    oai.chat.completions.create(model="gpt-5-mini", messages=USER)
    assert last_body(fake_azure)["model"] == "gpt-5-mini"


def test_models_list(oai: openai.OpenAI, bridge: RunningBridge) -> None:
    ids = [model.id for model in oai.models.list()]
    assert ids == ["gpt-high", "gpt-medium", "gpt-low", "gpt-minimal", "gpt-5", "gpt-4o"]
    anonymous = httpx.get(bridge.url + "/v1/models")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["type"] == "authentication_error"


def test_reasoning_shows_as_a_thinking_section_and_is_not_sent_back(oai: openai.OpenAI, fake_azure: FakeAzure) -> None:
    deltas = [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "Think "},
        {"reasoning_content": "hard."},
        {"content": "Answer."},
    ]
    message = {"role": "assistant", "reasoning_content": "Think hard.", "content": "Answer."}
    completion = {"object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
    fake_azure.enqueue(RawSSE(chat_sse(deltas)), RawSSE(json.dumps(completion).encode(), content_type="application/json"))
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in oai.chat.completions.create(model="gpt-high", messages=USER, stream=True)
        if c.choices
    )
    whole = oai.chat.completions.create(model="gpt-high", messages=USER).choices[0].message.content
    assert streamed == whole == OPEN + "Think hard." + CLOSE + "Answer."
    oai.chat.completions.create(
        model="gpt-high", messages=[*USER, {"role": "assistant", "content": whole}, {"role": "user", "content": "more"}]
    )
    assert last_body(fake_azure)["messages"][1] == {"role": "assistant", "content": "Answer."}


def test_stop_sequence_finishes_with_stop(oai: openai.OpenAI, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("alpha beta END gamma"))
    completion = oai.chat.completions.create(model="gpt-high", messages=USER, stop="END")
    assert completion.choices[0].message.content == "alpha beta " and completion.choices[0].finish_reason == "stop"
    assert "stop" not in last_body(fake_azure)


def test_length_finish(oai: openai.OpenAI, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("cut", finish_reason="length"))
    assert oai.chat.completions.create(model="gpt-high", messages=USER, max_tokens=5).choices[0].finish_reason == "length"
    assert last_body(fake_azure)["max_completion_tokens"] == 5


@pytest.mark.usefixtures("fake_azure")
def test_errors_in_the_openai_shape(bridge: RunningBridge, oai: openai.OpenAI) -> None:
    with (
        openai.OpenAI(base_url=bridge.url + "/v1", api_key="wrong", max_retries=0) as wrong,
        pytest.raises(openai.AuthenticationError) as auth,
    ):
        wrong.chat.completions.create(model="gpt-high", messages=USER)
    assert auth.value.body["type"] == "authentication_error" and auth.value.body["code"] == "invalid_api_key"  # type: ignore[index]
    assert "Invalid client token" in auth.value.body["message"]  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as bad:
        oai.chat.completions.create(model="gpt-high", messages=[{"role": "user"}])  # type: ignore[list-item, typeddict-item]
    assert bad.value.body["param"] == "messages[0].content" and bad.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError) as unknown:
        oai.chat.completions.create(model="no-such-deployment", messages=USER)
    assert "no-such-deployment" in unknown.value.message
    for error in (auth.value, bad.value, unknown.value):
        assert "Traceback" not in str(error.body) and CLIENT_TOKEN not in str(error.body)


@pytest.mark.parametrize(
    ("status", "error_class", "kind", "client_status"),
    [
        (400, openai.BadRequestError, "invalid_request_error", 400),
        (401, openai.InternalServerError, "server_error", 500),
        (403, openai.InternalServerError, "server_error", 500),
        (404, openai.NotFoundError, "not_found_error", 404),
        (429, openai.RateLimitError, "rate_limit_error", 429),
        (500, openai.InternalServerError, "server_error", 500),
        (503, openai.InternalServerError, "server_error", 503),
    ],
)
def test_upstream_errors(
    oai: openai.OpenAI,
    fake_azure: FakeAzure,
    status: int,
    error_class: type[openai.APIStatusError],
    kind: str,
    client_status: int,
) -> None:
    body = {"error": {"code": str(status), "message": f"Upstream says {status}. Details follow."}}
    headers = {"retry-after": "0"} if status in (429, 500, 503) else {}
    fake_azure.enqueue(*[Error(status, body, headers)] * 3)
    with pytest.raises(error_class) as caught:
        oai.chat.completions.create(model="gpt-high", messages=USER)
    assert caught.value.status_code == client_status
    assert caught.value.body["type"] == kind  # type: ignore[index]
    assert f"Upstream says {status}" in caught.value.body["message"]  # type: ignore[index]
    assert set(caught.value.body) == {"message", "type", "param", "code"}  # type: ignore[arg-type]


def test_failure_mid_stream_raises_in_the_sdk(oai: openai.OpenAI, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("a long answer cut short by the network", pieces=8, faults=Faults(disconnect_after_chunks=4)))
    stream: Iterator[Any] = oai.chat.completions.create(model="gpt-high", messages=USER, stream=True)
    with pytest.raises(openai.APIError) as failed:
        list(stream)
    assert failed.value.body is not None and failed.value.body["type"] == "server_error"  # type: ignore[index]


def test_unknown_fields_are_ignored(bridge: RunningBridge, fake_azure: FakeAzure) -> None:
    body = {
        "model": "gpt-high",
        "messages": USER,
        "logprobs": False,
        "seed": 1,
        "metadata": {"a": "b"},
        "brand_new_field": {"x": 1},
    }
    response = httpx.post(bridge.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {CLIENT_TOKEN}"}, json=body)
    assert response.status_code == 200, response.text
    assert "brand_new_field" not in last_body(fake_azure)


def test_responses_shaped_body_gets_chat_chunks(bridge: RunningBridge, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(ToolCalls([("get_weather", {"city": "Paris"})], seed=3))
    body = {
        "model": "gpt-5",
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "weather?"}]}],
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = httpx.post(bridge.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {CLIENT_TOKEN}"}, json=body)
    assert response.status_code == 200, response.text
    chunks = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]
    calls = [call for c in chunks if c["choices"] for call in c["choices"][0]["delta"].get("tool_calls", [])]
    assert calls[0]["function"]["name"] == "get_weather" and calls[0]["index"] == 0
    assert chunks[-1]["usage"]["total_tokens"] > 0
    sent = last_body(fake_azure)
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "weather?"}]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
