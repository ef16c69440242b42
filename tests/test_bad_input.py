"""Bad input never crashes anything: it gets an Anthropic error that says what to fix, never a trace or a secret."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from tests.support.bridge import CLIENT_TOKEN, HEADERS, RunningBridge, post
from tests.support.fake_azure import FakeAzure

GOOD = {"model": "claude-opus-4-8", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def assert_error(response: httpx.Response, status: int, kind: str, *fragments: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == kind
    for fragment in fragments:
        assert fragment in body["error"]["message"], body["error"]["message"]
    assert "Traceback" not in response.text and CLIENT_TOKEN not in response.text


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({k: v for k, v in GOOD.items() if k != "model"}, ["model", "Field required"]),
        ({k: v for k, v in GOOD.items() if k != "messages"}, ["messages", "Field required"]),
        ({k: v for k, v in GOOD.items() if k != "max_tokens"}, ["max_tokens", "Field required"]),
        ({**GOOD, "max_tokens": "ten"}, ["max_tokens"]),
        ({**GOOD, "max_tokens": 0}, ["max_tokens"]),
        ({**GOOD, "model": ""}, ["model"]),
        ({**GOOD, "messages": "hi"}, ["messages"]),
        ({**GOOD, "messages": [{"role": "robot", "content": "x"}]}, ["messages.0.role"]),
        ({**GOOD, "messages": [{"role": "user"}]}, ["messages.0.content", "Field required"]),
        ({**GOOD, "messages": [{"role": "user", "content": [{"type": "tool_result"}]}]}, ["messages.0.content.0.tool_use_id"]),
        ({**GOOD, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64"}}]}]}, ["media_type"]),
        ({**GOOD, "tools": [{"name": "x"}]}, ["tools.0.input_schema"]),
        ({**GOOD, "tool_choice": {"type": "sometimes"}}, ["tool_choice.type"]),
        ({**GOOD, "stream": "yes"}, ["stream"]),
        ({**GOOD, "temperature": "hot"}, ["temperature"]),
        ({**GOOD, "stop_sequences": [1]}, ["stop_sequences.0"]),
        ({**GOOD, "messages": []}, ["messages", "nothing to send"]),
        ([1, 2], ["JSON object"]),
    ],
)
def test_invalid_bodies_name_the_field(bridge: RunningBridge, body: object, fragments: list[str]) -> None:
    assert_error(post(bridge, json.dumps(body).encode()), 400, "invalid_request_error", *fragments)


@pytest.mark.parametrize(
    ("content", "headers", "fragment"),
    [
        (b"{not json", {}, "not valid JSON"),
        (b"", {}, "empty"),
        (b'{"model": "\xff\xfe"}', {}, "UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, {}, "nested too deeply"),
        (json.dumps(GOOD).encode(), {"content-type": "text/plain"}, "Content-Type"),
    ],
)
def test_unreadable_bodies(bridge: RunningBridge, content: bytes, headers: dict[str, str], fragment: str) -> None:
    assert_error(post(bridge, content, headers=headers), 400, "invalid_request_error", fragment)


def test_oversized_body_is_refused_without_reading_it(bridge: RunningBridge) -> None:
    host, port = bridge.url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: {host}\r\nx-api-key: {CLIENT_TOKEN}\r\n"
        f"content-type: application/json\r\ncontent-length: {64 * 1024 * 1024}\r\n\r\n{{"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode())
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    assert b" 413 " in status_line, reply[:300]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["type"] == "request_too_large" and "MAX_REQUEST_BYTES" in body["error"]["message"]


def test_unknown_fields_and_blocks_are_accepted(bridge: RunningBridge) -> None:
    body = {
        **GOOD,
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "max", "something_new": True},
        "context_management": {"edits": []},
        "brand_new_field": {"nested": [1, 2]},
        "top_k": 5,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "hologram", "data": "?"}]}],
        "tools": [
            {"type": "bash_20250124", "name": "bash"},
            {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        ],
    }
    assert post(bridge, json.dumps(body).encode()).status_code == 200


def test_unknown_routes_and_methods(bridge: RunningBridge) -> None:
    assert_error(httpx.get(bridge.url + "/v1/nothing"), 404, "not_found_error", "/v1/nothing")
    assert_error(httpx.get(bridge.url + "/v1/messages", headers=HEADERS), 405, "invalid_request_error", "GET")


def test_health_and_root(bridge: RunningBridge) -> None:
    assert httpx.head(bridge.url + "/").status_code == 200
    assert httpx.get(bridge.url + "/").json()["status"] == "ok"
    health = httpx.get(bridge.url + "/health").json()
    assert health["status"] == "ok" and health["problems"] == []
    assert CLIENT_TOKEN not in json.dumps(health)


def test_thousands_of_tools_get_a_clear_400(bridge: RunningBridge) -> None:
    tools = [{"name": f"tool_{i}", "input_schema": {"type": "object"}} for i in range(2000)]
    response = post(bridge, json.dumps({**GOOD, "tools": tools}).encode())
    assert_error(response, 400, "invalid_request_error", "at most 128 tools", "2000")


def test_thousands_of_messages_are_served(bridge: RunningBridge) -> None:
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(3001)]
    assert post(bridge, json.dumps({**GOOD, "messages": turns}).encode()).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "claude-opus-4-8", "max_tokens": 50, "temperature": NaN, "messages": [{"role": "user", "content": "hi"}]}',
        b'{"model": "claude-opus-4-8", "max_tokens": 50, "top_p": Infinity, "messages": [{"role": "user", "content": "hi"}]}',
        b'{"model": "claude-opus-4-8", "max_tokens": 50, "messages": [{"role": "user", "content": "\\ud800"}]}',
    ],
    ids=["nan", "infinity", "lone-surrogate"],
)
def test_invalid_numbers_and_text_are_refused_before_azure(raw: bytes, fake_azure: FakeAzure, bridge: RunningBridge) -> None:
    response = post(bridge, raw)
    assert response.status_code == 400, response.text
    assert response.headers["x-should-retry"] == "false"
    assert fake_azure.requests == []


NESTED = "<nested>"


def nested(levels: int) -> str:
    """JSON text of a value nested `levels` deep (objects and lists by turns), written by hand: the standard
    library's encoder itself stops near 1,000 levels."""
    opening = "".join('{"a":' if level % 2 else "[" for level in range(levels))
    closing = "".join("}" if level % 2 else "]" for level in reversed(range(levels)))
    return opening + '{"type":"string"}' + closing


def deep_bodies() -> list[tuple[str, dict[str, object]]]:
    """Where the bridge passes a client's structure on (`NESTED` marks it): a tool's schema, a tool call's input."""
    schema = {"type": "object", "properties": {"x": NESTED}}
    call = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"x": NESTED}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
    return [
        ("/v1/messages", {**GOOD, "tools": [{"name": "f", "input_schema": schema}]}),
        ("/v1/messages", {**GOOD, "stream": True, "tools": [{"name": "f", "input_schema": schema}]}),
        (
            "/v1/messages",
            {**GOOD, "messages": [{"role": "user", "content": "go"}, {"role": "assistant", "content": [call]},
                                  {"role": "user", "content": [result]}]},
        ),
        ("/v1/messages/count_tokens", {"model": GOOD["model"], "messages": GOOD["messages"],
                                       "tools": [{"name": "f", "input_schema": schema}]}),
    ]  # fmt: skip


@pytest.mark.parametrize("levels", [300, 1000])
def test_structures_nested_too_deep_to_pass_on_get_a_400_that_says_so(bridge: RunningBridge, levels: int) -> None:
    """JSON nested up to 1,024 levels is read, but the bridge's encoder writes at most 254: a schema or a tool
    call's input nested deeper than Azure could be sent is refused by name, never a 500 (a fuzz run found it).
    count_tokens only counts: it may answer what it can count."""
    for path, body in deep_bodies():
        content = json.dumps(body).replace(json.dumps(NESTED), nested(levels)).encode()
        response = httpx.post(bridge.url + path, content=content, headers=HEADERS, timeout=30)
        if path.endswith("count_tokens") and response.status_code == 200:
            continue
        assert_error(response, 400, "invalid_request_error", "nested too deeply")
    assert "Traceback" not in bridge.log()


def test_an_openai_client_gets_the_same_400_in_its_own_shape(bridge: RunningBridge) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"x": NESTED}}}}
    body = {"model": GOOD["model"], "messages": [{"role": "user", "content": "hi"}], "tools": [tool]}
    content = json.dumps(body).replace(json.dumps(NESTED), nested(300)).encode()
    response = httpx.post(bridge.url + "/v1/chat/completions", content=content, headers=HEADERS, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and "nested too deeply" in error["message"]
