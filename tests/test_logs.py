"""The request log: one JSON line per request on `bridge.telemetry.request_log`, matching the `request-id` header.

Fields: request_id, route, model, deployment, stream, attempts, status,
error_type, latency_ms, and token usage once known.  Never prompt or answer
text, never a key or token.  The bridge here is this module's own, so its log
holds only these tests' requests.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.bridge import CLIENT_TOKEN, HEADERS, RunningBridge, bridge_env, line_of, post, request_lines, running_bridge
from tests.support.fake_azure import Error, FakeAzure, Faults, Text, ToolCalls

FIELDS = {"request_id", "route", "model", "deployment", "stream", "attempts", "status", "error_type", "latency_ms"}
USAGE_FIELDS = {"input_tokens", "output_tokens", "cache_read_input_tokens"}


@pytest.fixture(scope="module")
def logged(fake_azure: FakeAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    with running_bridge(
        bridge_env(fake_azure, REQUEST_TIMEOUT="10"), tmp_path_factory.mktemp("logs") / "bridge.log", in_process=True
    ) as running:
        yield running


def checked_line(bridge: RunningBridge, response: httpx.Response) -> dict[str, Any]:
    """The line of the response's `request-id` (`line_of`), checked for the fields every line carries."""
    request_id = response.headers["request-id"]
    assert request_id.startswith("req_"), request_id
    line = line_of(bridge, request_id)
    assert line.keys() >= FIELDS, sorted(FIELDS - line.keys())
    assert line["status"] == response.status_code
    assert isinstance(line["latency_ms"], int | float) and line["latency_ms"] >= 0
    return line


def message(prompt: str, **extra: Any) -> dict[str, Any]:
    return {"model": "claude-opus-4-8", "max_tokens": 100, "messages": [{"role": "user", "content": prompt}], **extra}


def test_a_message_logs_one_line_with_usage(logged: RunningBridge, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("The answer is forty-two, as everyone knows.", cached_tokens=3))
    response = post(logged, message("What is the answer?"))
    assert response.status_code == 200, response.text
    line = checked_line(logged, response)
    assert line["route"] == "messages" and line["model"] == "claude-opus-4-8" and line["deployment"] == "gpt-5"
    assert line["stream"] is False and line["attempts"] == 1 and line["error_type"] is None
    usage = response.json()["usage"]
    assert line.keys() >= USAGE_FIELDS
    assert line["input_tokens"] == usage["input_tokens"] and line["output_tokens"] == usage["output_tokens"] > 0
    assert line["cache_read_input_tokens"] == usage.get("cache_read_input_tokens", 0) == 3


def test_a_stream_logs_one_line_when_it_ends(logged: RunningBridge, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(ToolCalls([("Bash", {"command": "ls"})], text="Let me look."))
    response = post(logged, message("list files", stream=True, tools=[{"name": "Bash", "input_schema": {"type": "object"}}]))
    assert response.status_code == 200
    line = checked_line(logged, response)
    assert line["stream"] is True and line["route"] == "messages" and line["error_type"] is None
    assert line["output_tokens"] > 0 and line["input_tokens"] > 0


def test_retries_are_counted(logged: RunningBridge, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(
        Error(429, {"error": {"code": "429", "message": "slow down"}}, {"retry-after-ms": "50"}),
        Error(503, {"error": {"message": "busy"}}),
    )
    response = post(logged, message("hi"))
    assert response.status_code == 200, response.text
    assert checked_line(logged, response)["attempts"] == 3


def test_failures_log_their_error_type(logged: RunningBridge, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(
        Error(404, {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist."}})
    )
    missing = post(logged, message("hi"))
    assert missing.status_code == 404
    assert checked_line(logged, missing)["error_type"] == "not_found_error"

    invalid = post(logged, {"model": "claude-opus-4-8", "messages": "not a list"})
    assert invalid.status_code == 400
    line = checked_line(logged, invalid)
    assert line["error_type"] == "invalid_request_error" and line["attempts"] == 0

    unauthenticated = post(logged, message("hi"), token=None)
    assert unauthenticated.status_code == 401
    assert checked_line(logged, unauthenticated)["error_type"] == "authentication_error"


def test_a_broken_stream_is_logged_as_failed(logged: RunningBridge, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("one two three four five six", pieces=6, faults=Faults(disconnect_after_chunks=4)))
    response = post(logged, message("hi", stream=True))
    assert response.status_code == 200 and "event: error" in response.text
    line = checked_line(logged, response)
    assert line["error_type"] is not None, line


def test_count_tokens_logs_its_route(logged: RunningBridge, fake_azure: FakeAzure) -> None:
    response = post(logged, message("count me"), path="/v1/messages/count_tokens")
    assert response.status_code == 200
    line = checked_line(logged, response)
    assert line["route"] == "count_tokens" and line["model"] == "claude-opus-4-8" and line["attempts"] == 0
    assert fake_azure.requests == [], "counting never calls Azure"


def test_no_prompt_answer_or_credential_in_the_log(logged: RunningBridge, fake_azure: FakeAzure) -> None:
    canary = "canary-" + secrets.token_hex(8)
    answer = "answer-" + secrets.token_hex(8)
    fake_azure.enqueue(Text(f"Here it is: {answer}"), ToolCalls([("Read", {"file_path": f"/tmp/{answer}"})]))
    body = message(
        f"My password is {canary}",
        system=f"System says {canary}",
        tools=[{"name": "Read", "description": f"reads {canary}", "input_schema": {"type": "object"}}],
        metadata={"user_id": f"user-{canary}"},
    )
    responses = [post(logged, body), post(logged, {**body, "stream": True})]
    responses.append(
        post(
            logged,
            {**body, "messages": [{"role": "user", "content": [{"type": "text", "text": canary, "bogus": 1}]}], "max_tokens": -1},
        )
    )
    responses.append(post(logged, body, path="/v1/messages/count_tokens"))
    assert [r.status_code for r in responses] == [200, 200, 400, 200], [r.text[:200] for r in responses]
    assert answer in responses[0].text
    for response in responses:
        checked_line(logged, response)
    log = logged.log()
    for secret in (canary, answer, CLIENT_TOKEN, fake_azure.api_key or ""):
        assert secret and secret not in log, f"{secret[:10]}… is in the bridge log"


def test_every_logged_line_is_json_and_unique(logged: RunningBridge) -> None:
    for _ in range(3):
        post(logged, message("hi"))
    lines = request_lines(logged)
    assert lines, "no request lines"
    ids = [line["request_id"] for line in lines]
    assert len(ids) == len(set(ids)), "a request logged twice"
    assert all(line.keys() >= FIELDS for line in lines)


def test_request_id_header_on_every_answer(logged: RunningBridge) -> None:
    answers = [
        post(logged, message("hi")),
        post(logged, message("hi", stream=True)),
        post(logged, {"nope": True}),
        post(logged, message("hi"), path="/v1/messages/count_tokens"),
        httpx.post(logged.url + "/v1/messages", content=b"{not json", headers=HEADERS),
    ]
    for response in answers:
        assert response.headers.get("request-id", "").startswith("req_"), (response.status_code, dict(response.headers))
        if response.status_code != 200:
            assert response.json()["request_id"] == response.headers["request-id"]
        checked_line(logged, response)
