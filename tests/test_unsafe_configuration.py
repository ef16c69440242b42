"""The security review's findings (issue 11, items 1-8), each probed the way it was found.

Unresolved Key Vault references, an open bridge in Azure, credentials in URLs and key-like strings in
upstream errors, input the upstream must never see, header injection through settings, and the
requests that used to stall the event loop (40,000 tool calls, counting a huge body, thousands of
stop sequences).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.config.load import load_settings
from tests.support.bridge import CLIENT_TOKEN, RunningBridge, bridge_env, start_bridge, stop_bridge
from tests.support.fake_azure import Error, FakeAzure

BODY = {"model": "claude-opus-4-8", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
HEADERS = {"x-api-key": CLIENT_TOKEN, "content-type": "application/json"}
REFERENCE = "@Microsoft.KeyVault(SecretUri=https://kv-abc123.vault.azure.net/secrets/anthropic-auth-token/)"


@contextmanager
def bridge_with(fake: FakeAzure, tmp_path: Path, **overrides: str) -> Iterator[RunningBridge]:
    running = start_bridge(bridge_env(fake, **overrides), tmp_path / "bridge.log")
    try:
        yield running
    finally:
        stop_bridge(running)


def post(bridge: RunningBridge, body: bytes | dict[str, Any], path: str = "/v1/messages", **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(bridge.url + path, content=content, headers={**HEADERS, **headers}, timeout=60)


# --- 1, 2: the client token ------------------------------------------------------------------------------------


def test_an_unresolved_key_vault_reference_is_never_the_token(fake_azure: FakeAzure, tmp_path: Path) -> None:
    with bridge_with(fake_azure, tmp_path, ANTHROPIC_AUTH_TOKEN=REFERENCE) as bridge:
        for headers in ({"x-api-key": REFERENCE}, {"x-api-key": ""}):
            response = post(bridge, BODY, **headers)
            assert response.status_code == 503, response.text
            assert response.headers["x-should-retry"] == "false"
            assert "ANTHROPIC_AUTH_TOKEN" in response.json()["error"]["message"]
        health = httpx.get(bridge.url + "/health")
        assert health.status_code == 503 and health.json()["status"] == "refusing"
        assert any("Key Vault reference" in problem for problem in health.json()["problems"])
        assert fake_azure.requests == [], "nothing is served while the token is unresolved"


@pytest.mark.parametrize(
    ("token", "allow", "serves"),
    [("", "", False), ("short-token", "", False), ("", "true", True), ("a" * 32, "", True)],
    ids=["no-token", "short-token", "opted-out", "long-token"],
)
def test_a_bridge_in_azure_needs_a_real_token(token: str, allow: str, serves: bool) -> None:
    env = {"WEBSITE_SITE_NAME": "func-abc123", "ANTHROPIC_AUTH_TOKEN": token, "ALLOW_OPEN_ACCESS": allow}
    settings = load_settings({**bridge_env_like(), **env})
    assert (settings.lockout is None) == serves, settings.lockout
    if not serves:
        assert "ANTHROPIC_AUTH_TOKEN" in (settings.lockout or "")
    assert load_settings({**bridge_env_like(), "ANTHROPIC_AUTH_TOKEN": ""}).lockout is None, "locally it only warns"


def bridge_env_like() -> dict[str, str]:
    return {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_API_KEY": "k", "BIG_MODEL": "gpt-5"}


def test_an_open_bridge_in_azure_refuses_every_request(fake_azure: FakeAzure, tmp_path: Path) -> None:
    with bridge_with(fake_azure, tmp_path, ANTHROPIC_AUTH_TOKEN="", WEBSITE_SITE_NAME="func-abc123") as bridge:
        response = post(bridge, BODY)
        assert response.status_code == 503 and "ALLOW_OPEN_ACCESS" in response.text
        assert httpx.get(bridge.url + "/health").json()["status"] == "refusing"


def test_client_auth_off_is_said_at_start_up(fake_azure: FakeAzure, tmp_path: Path) -> None:
    with bridge_with(fake_azure, tmp_path, ANTHROPIC_AUTH_TOKEN="") as bridge:
        assert "client auth is OFF" in bridge.log()


# --- 3: secrets in URLs and in upstream errors -----------------------------------------------------------------


def test_credentials_in_an_endpoint_url_are_refused_and_never_shown(fake_azure: FakeAzure, tmp_path: Path) -> None:
    secret = "hunter2-secret-in-url"
    with bridge_with(fake_azure, tmp_path, AZURE_OPENAI_ENDPOINT=f"https://user:{secret}@example.openai.azure.com") as bridge:
        health = httpx.get(bridge.url + "/health")
        response = post(bridge, BODY)
        assert any("AZURE_OPENAI_ENDPOINT" in problem for problem in health.json()["problems"])
        for text in (health.text, response.text, bridge.log()):
            assert secret not in text


def test_key_like_strings_in_upstream_errors_are_redacted(fake_azure: FakeAzure, bridge: RunningBridge) -> None:
    key = "0123456789abcdef0123456789abcdef"
    fake_azure.enqueue(Error(400, {"error": {"message": f"Bad request with key {key} here", "code": "bad"}}))
    response = post(bridge, BODY)
    assert response.status_code == 400
    assert key not in response.text and "[redacted]" in response.text


# --- 4: input the upstream must never see ---------------------------------------------------------------------


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


def test_a_huge_model_name_is_refused_and_never_echoed_or_logged_whole(fake_azure: FakeAzure, bridge: RunningBridge) -> None:
    model = "m" * 5_000_000
    response = post(bridge, {**BODY, "model": model})
    assert response.status_code == 400 and len(response.content) < 2_000
    assert fake_azure.requests == []
    time.sleep(0.2)
    assert max(len(line) for line in bridge.log().splitlines()) < 5_000


# --- 5: header injection through settings ---------------------------------------------------------------------


def test_custom_headers_with_line_breaks_are_configuration_problems() -> None:
    settings = load_settings({**bridge_env_like(), "CUSTOM_HEADER_X_TEAM": "a\r\nX-Evil: 1", "CUSTOM_HEADER_BAD_NAME_(": "v"})
    assert settings.custom_headers == {}
    assert any(p.startswith("CUSTOM_HEADER_X_TEAM ") for p in settings.problems)
    assert any(p.startswith("CUSTOM_HEADER_BAD_NAME_( ") for p in settings.problems)
    assert all("X-Evil" not in problem for problem in settings.problems), "a bad value is named, never echoed"


# --- 6, 7, 8: requests that used to stall the event loop --------------------------------------------------------


@contextmanager
def loop_watch(bridge: RunningBridge) -> Iterator[list[float]]:
    """Probe `HEAD /` every 50 ms while the block runs; yields the probe latencies (seconds)."""
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                started = time.monotonic()
                client.head(bridge.url + "/")
                latencies.append(time.monotonic() - started)
                time.sleep(0.05)

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        yield latencies
    finally:
        stop.set()
        thread.join()


@pytest.mark.usefixtures("fake_azure")
def test_forty_thousand_tool_calls_are_ordered_in_linear_time(bridge: RunningBridge) -> None:
    calls = [{"type": "tool_use", "id": f"toolu_{i}", "name": "Bash", "input": {}} for i in range(40_000)]
    results = [{"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": "ok"} for i in range(40_000)]
    body = {
        "model": "claude-opus-4-8",
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": calls},
            {"role": "user", "content": results},
        ],
    }
    started = time.monotonic()
    response = post(bridge, body, "/v1/messages/count_tokens")
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 6, "the old quadratic ordering took 8.6 s for this"


@pytest.mark.usefixtures("fake_azure")
def test_counting_a_huge_body_neither_stalls_others_nor_panics(bridge: RunningBridge) -> None:
    spaces = {"model": "claude-opus-4-8", "messages": [{"role": "user", "content": " " * 1_000_000}]}
    response = post(bridge, spaces, "/v1/messages/count_tokens")
    assert response.status_code == 200, "about a million spaces made tiktoken panic (a plain-text 500)"
    assert response.json()["input_tokens"] > 1_000
    huge = {"model": "claude-opus-4-8", "messages": [{"role": "user", "content": "word " * 4_800_000}]}
    with loop_watch(bridge) as latencies:
        counted = post(bridge, huge, "/v1/messages/count_tokens")
    assert counted.status_code == 200 and counted.json()["input_tokens"] > 1_000_000
    assert latencies and max(latencies) < 2.0, f"another request waited {max(latencies):.1f} s behind the count"


@pytest.mark.parametrize(
    "stops", [[f"s{i}" for i in range(20_000)], ["x" * 300], [f"s{i}" for i in range(17)]], ids=["20000", "long", "17"]
)
def test_stop_sequences_are_capped(stops: list[str], fake_azure: FakeAzure, bridge: RunningBridge) -> None:
    response = post(bridge, {**BODY, "stop_sequences": stops})
    assert response.status_code == 400 and "stop sequences" in response.json()["error"]["message"]
    assert fake_azure.requests == []
