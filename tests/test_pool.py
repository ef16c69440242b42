"""Several upstreams serving the same deployments: load spreading, failover, exhaustion; OpenAI-compatible servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from tests.support.bridge import CLIENT_TOKEN, RunningBridge, bridge_env, free_port, start_bridge, stop_bridge
from tests.support.fake_azure import Error, FakeAzure, Text, running_fake_azure

PROMPT = [{"role": "user", "content": "hi"}]


@pytest.fixture
def second_azure() -> Iterator[FakeAzure]:
    fake = FakeAzure()
    with running_fake_azure(fake):
        yield fake


@pytest.fixture
def pooled(fake_azure: FakeAzure, second_azure: FakeAzure, tmp_path: Path) -> Iterator[RunningBridge]:
    env = bridge_env(fake_azure, AZURE_OPENAI_ENDPOINT_2=str(second_azure.url), AZURE_OPENAI_API_KEY_2=second_azure.api_key or "")
    running = start_bridge(env, tmp_path / "bridge.log")
    yield running
    stop_bridge(running)


def ask(bridge: RunningBridge) -> anthropic.types.Message:
    client = anthropic.Anthropic(base_url=bridge.url, api_key=CLIENT_TOKEN, max_retries=0)
    return client.messages.create(model="claude-opus-4-8", max_tokens=20, messages=PROMPT)


def test_load_spreads_across_the_pool(pooled: RunningBridge, fake_azure: FakeAzure, second_azure: FakeAzure) -> None:
    for _ in range(6):
        ask(pooled)
    assert (len(fake_azure.requests), len(second_azure.requests)) == (3, 3)


def test_a_conversation_keeps_to_one_member_while_it_can(
    pooled: RunningBridge, fake_azure: FakeAzure, second_azure: FakeAzure
) -> None:
    """Its cached prefix and its encrypted reasoning live on the resource that served it."""
    client = anthropic.Anthropic(base_url=pooled.url, api_key=CLIENT_TOKEN, max_retries=0)
    sessions = [f"session-{n}" for n in range(8)]
    for session in sessions:
        for _ in range(3):
            client.messages.create(
                model="claude-opus-4-8", max_tokens=20, messages=PROMPT, extra_headers={"x-claude-code-session-id": session}
            )
    served = {
        session: {
            fake_name
            for fake_name, fake in (("first", fake_azure), ("second", second_azure))
            for request in fake.requests
            if request.body.get("prompt_cache_key") == session
        }
        for session in sessions
    }
    assert all(len(members) == 1 for members in served.values()), served
    assert {member for members in served.values() for member in members} == {"first", "second"}, "sessions spread"
    fake_azure.enqueue(Error.rate_limited(retry_after=30))
    home = next(session for session, members in served.items() if members == {"first"})
    before = len(second_azure.requests)
    client.messages.create(
        model="claude-opus-4-8", max_tokens=20, messages=PROMPT, extra_headers={"x-claude-code-session-id": home}
    )
    assert len(second_azure.requests) == before + 1, "a resting member's conversations fail over"


def test_failover_on_429_without_waiting(pooled: RunningBridge, fake_azure: FakeAzure, second_azure: FakeAzure) -> None:
    fake_azure.enqueue(Error.rate_limited(retry_after=30))
    started = time.monotonic()
    for _ in range(4):
        assert ask(pooled).content[0].text == "Hello from fake Azure."
    assert time.monotonic() - started < 5, "failover does not wait for retry-after"
    assert len(fake_azure.requests) == 1, "a member that answered 429 rests until its retry-after"
    assert len(second_azure.requests) == 4


def test_failover_on_503_and_on_an_unreachable_member(fake_azure: FakeAzure, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    env = bridge_env(
        fake_azure,
        AZURE_OPENAI_ENDPOINT=dead,
        AZURE_OPENAI_ENDPOINT_2=str(fake_azure.url),
        AZURE_OPENAI_API_KEY_2=fake_azure.api_key or "",
    )
    running = start_bridge(env, tmp_path / "bridge.log")
    try:
        for _ in range(3):
            assert ask(running).content[0].text
        fake_azure.enqueue(Error(503, {"error": {"code": "503", "message": "busy"}}), Text("after the 503"))
        assert ask(running).content[0].text == "after the 503"
    finally:
        stop_bridge(running)


def test_exhausted_pool_is_a_429_with_retry_after(pooled: RunningBridge, fake_azure: FakeAzure, second_azure: FakeAzure) -> None:
    for fake in (fake_azure, second_azure):
        fake.enqueue(*[Error.rate_limited(retry_after=120)] * 3)
    with pytest.raises(anthropic.RateLimitError) as caught:
        ask(pooled)
    assert caught.value.response.headers["retry-after"] == "120"
    assert len(fake_azure.requests) + len(second_azure.requests) == 2, "no sleeping past the deadline"


def test_openai_compatible_server(fake_azure: FakeAzure, tmp_path: Path) -> None:
    fake_azure.bearer_tokens.add("sk-local")
    env = {
        "OPENAI_BASE_URL": f"{fake_azure.url}/openai/v1",
        "OPENAI_API_KEY": "sk-local",
        "ANTHROPIC_AUTH_TOKEN": CLIENT_TOKEN,
        "BIG_MODEL": "gpt-5",
    }
    running = start_bridge(env, tmp_path / "bridge.log")
    try:
        assert ask(running).content[0].text == "Hello from fake Azure."
        sent = fake_azure.requests[-1]
        assert sent.path == "/openai/v1/chat/completions"
        assert sent.headers["authorization"] == "Bearer sk-local" and "api-key" not in sent.headers
        assert "sk-local" not in running.log()
    finally:
        stop_bridge(running)


def test_custom_headers_and_max_tokens_limit(fake_azure: FakeAzure, tmp_path: Path) -> None:
    env = bridge_env(fake_azure, CUSTOM_HEADER_X_TEAM="search", MAX_TOKENS_LIMIT="300")
    running = start_bridge(env, tmp_path / "bridge.log")
    try:
        client = anthropic.Anthropic(base_url=running.url, api_key=CLIENT_TOKEN, max_retries=0)
        client.messages.create(model="claude-opus-4-8", max_tokens=20000, messages=PROMPT)
        sent = fake_azure.requests[-1]
        assert sent.headers["x-team"] == "search"
        assert sent.body["max_completion_tokens"] == 300
    finally:
        stop_bridge(running)
