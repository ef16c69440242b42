"""The rest of Claude Code's gateway protocol (issue 22, item 4), held to ../shared/claude-gateway-protocol/2.1.332/:
`/v1/models` in the shape the client's model-family logic reads, the telemetry paths answered 200 and dropped,
the start-up `quota` probe answered with no upstream call, bad bearers refused with `x-should-retry: false`,
the `safeguards` field refused as the protocol asks when the upstream cannot run it, and unknown fields, betas
and headers never a 4xx.  The real CLI in gateway mode (`CLAUDE_CODE_USE_GATEWAY=1`) closes the file.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.bridge import CLIENT_TOKEN, RunningBridge
from tests.support.fake_azure import FakeAzure, Text
from tests.support.gateway_protocol import recorded
from tests.test_claude_code_cli import LATEST, VERSIONS, Cli, cli_params, run_claude

AUTH = {"Authorization": f"Bearer {CLIENT_TOKEN}", "anthropic-version": "2023-06-01"}
CLI_HEADERS = {
    **AUTH,
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,afk-mode-2026-01-31,not-a-beta-yet-2099-01-01",
    "anthropic-dangerous-direct-browser-access": "true",
    "x-app": "cli",
    "user-agent": "claude-cli/2.1.332 (external, cli)",
    "x-claude-code-session-id": "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
    "x-stainless-package-version": "0.128.0",
    "x-stainless-retry-count": "0",
    "x-stainless-timeout": "600",
    "x-claude-code-managed-settings-checksum": "sha256:" + "0" * 64,
}
PROBE: dict[str, Any] = {
    "model": "claude-haiku-4-5-20251001",
    "max_tokens": 1,
    "messages": [{"role": "user", "content": "quota"}],
    "metadata": {"user_id": json.dumps({"device_id": "d", "account_uuid": "", "session_id": "s"})},
}


def post(bridge: RunningBridge, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(bridge.url + path, json=body, headers=headers or AUTH, timeout=30)


def test_the_quota_probe_is_the_one_captured_and_never_reaches_azure(bridge: RunningBridge, fake_azure: FakeAzure) -> None:
    session = recorded("client-session.md")
    shown = re.search(r"Start-up quota probe: `(\{.*?\})`", session)
    assert shown is not None
    assert json.loads(shown.group(1).replace("{device_id,account_uuid:'',session_id}", "x"))["messages"] == PROBE["messages"]
    answer = post(bridge, "/v1/messages?beta=true", PROBE, CLI_HEADERS)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "message" and body["role"] == "assistant" and body["stop_reason"] == "max_tokens"
    assert body["usage"]["input_tokens"] == 0 and body["usage"]["output_tokens"] == 0
    assert fake_azure.requests == [], "answered by the bridge: no upstream call"


def test_a_question_that_only_looks_like_the_probe_is_answered_by_the_model(bridge: RunningBridge, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("A quota is a share."))
    asked = {**PROBE, "max_tokens": 50}
    answer = post(bridge, "/v1/messages", asked)
    assert answer.status_code == 200 and answer.json()["content"][0]["text"] == "A quota is a share."
    streamed = httpx.post(bridge.url + "/v1/messages", json={**PROBE, "stream": True}, headers=AUTH, timeout=30)
    assert streamed.status_code == 200 and len(fake_azure.requests) == 2


def test_safeguards_are_refused_naming_the_field_so_the_client_runs_its_own_check(
    bridge: RunningBridge, fake_azure: FakeAzure
) -> None:
    assert "names `safeguards`" in recorded("protocol.md").replace("\n", " ")
    body = {"model": "claude-opus-4-7", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}], "safeguards": {}}
    answer = post(bridge, "/v1/messages", body, CLI_HEADERS)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and "safeguards" in error["message"]
    assert fake_azure.requests == []
    counted = post(bridge, "/v1/messages/count_tokens", {**body, "max_tokens": None})
    assert counted.status_code == 200, "counting tokens runs no check: the field is ignored there"


def test_unknown_fields_betas_and_headers_are_never_a_4xx(bridge: RunningBridge, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("still fine"))
    body = {
        "model": "claude-opus-4-7",
        "max_tokens": 20,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "a_future_block_field": 1}]}],
        "output_config": {"effort": "low", "something_new": True},
        "tags": {"billing_group": "engineering"},
        "a_field_from_2099": {"nested": [1, 2]},
        "metadata": {"user_id": "u", "also_new": "x"},
    }
    answer = post(bridge, "/v1/messages?beta=true&another=1", body, {**CLI_HEADERS, "x-brand-new-header": "1"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["content"][0]["text"] == "still fine"
    counted = post(bridge, "/v1/messages/count_tokens?beta=true", {**body, "max_tokens": None}, CLI_HEADERS)
    assert counted.status_code == 200, counted.text


def test_models_are_listed_as_the_protocol_asks(bridge: RunningBridge) -> None:
    contract = recorded("protocol.md")
    assert '{"data":[{"id","display_name"},...]}' in contract and "claude-{family}-{major}-{minor}" in contract
    answer = httpx.get(bridge.url + "/v1/models", headers=AUTH)
    assert answer.status_code == 200
    models = answer.json()["data"]
    assert models
    for model in models:
        assert re.fullmatch(r"claude-(opus|sonnet|haiku)-\d+-\d+", model["id"]), model
        assert isinstance(model["display_name"], str) and model["display_name"]


@pytest.mark.parametrize("signal", ["metrics", "logs", "traces"])
def test_telemetry_is_accepted_and_dropped(bridge: RunningBridge, fake_azure: FakeAzure, signal: str) -> None:
    as_json = httpx.post(f"{bridge.url}/v1/{signal}", json={"resourceMetrics": [{"x": 1}]}, headers=AUTH)
    assert as_json.status_code == 200 and as_json.json() == {}
    protobuf = {**AUTH, "content-type": "application/x-protobuf", "content-encoding": "gzip"}
    as_protobuf = httpx.post(f"{bridge.url}/v1/{signal}", content=gzip.compress(b"\x0a\x02\x08\x01"), headers=protobuf)
    assert as_protobuf.status_code == 200 and as_protobuf.headers["content-type"] == "application/x-protobuf"
    assert as_protobuf.content == b"", "an empty Export*ServiceResponse"
    assert fake_azure.requests == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/messages"), ("POST", "/v1/messages/count_tokens"), ("GET", "/v1/models"), ("GET", "/managed/settings"),
     ("POST", "/v1/metrics"), ("POST", "/v1/logs"), ("POST", "/v1/traces"), ("GET", "/v1/usage")],
)  # fmt: skip
def test_a_bad_bearer_is_refused_at_once_everywhere(bridge: RunningBridge, method: str, path: str) -> None:
    for bearer in ({"Authorization": "Bearer not-the-token"}, {}):
        answer = httpx.request(method, bridge.url + path, json={}, headers={"anthropic-version": "2023-06-01", **bearer})
        assert answer.status_code == 401, (path, answer.text)
        assert answer.headers["x-should-retry"] == "false"
        body = answer.json()
        assert body["type"] == "error" and body["error"]["type"] == "authentication_error" and body["error"]["message"]


def test_the_contract_says_what_these_tests_hold_the_bridge_to() -> None:
    contract = recorded("protocol.md")
    assert "Return `200`\nwhether you forward or discard" in contract
    assert "Send `x-should-retry: false` with it for a revoked or expired bearer" in contract
    assert "Don't reject what you don't recognize." in contract


@pytest.mark.process
@pytest.mark.parametrize("cli", cli_params([LATEST]) if LATEST in VERSIONS else [])
def test_the_cli_in_gateway_mode_works_through_the_bridge(
    cli: Cli, bridge: RunningBridge, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """`CLAUDE_CODE_USE_GATEWAY=1` with the shared token: the CLI treats the bridge as its gateway (no
    apiKeyHelper, no /login) and its prompt is answered; nothing it sends is refused."""
    fake_azure.enqueue(Text("pong from the gateway"))
    workdir = tmp_path / "work"
    workdir.mkdir()
    run = run_claude(
        cli, bridge, fake_azure, tmp_path, workdir, "-p", "say pong", "--output-format", "json", CLAUDE_CODE_USE_GATEWAY="1"
    )
    assert run.returncode == 0, run.report()
    result = json.loads(run.stdout)
    assert result["result"] == "pong from the gateway", run.report()
    lines = [
        json.loads(line.partition("bridge.telemetry.request_log ")[2])
        for line in run.bridge_log.splitlines()
        if "request_log {" in line
    ]
    assert all(line["status"] < 400 for line in lines), lines
