"""Several upstreams serving the same deployments: load spreading, failover, exhaustion, an endpoint that asks to
wait (twenty requests during a long `retry-after` cost one call each; the other endpoint takes the load);
OpenAI-compatible servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.support.bridge import CLIENT_TOKEN, MESSAGE, RunningBridge, bridge_env, post, request_lines, running_bridge, wait_for
from tests.support.fake_azure import Error, FakeAzure, ResponsesFailure, Text
from tests.support.serving import free_port, running

PROMPT = [{"role": "user", "content": "hi"}]


@pytest.fixture
def second_azure() -> Iterator[FakeAzure]:
    fake = FakeAzure()
    with running(fake):
        yield fake


@pytest.fixture
def pooled(fake_azure: FakeAzure, second_azure: FakeAzure, tmp_path: Path) -> Iterator[RunningBridge]:
    env = bridge_env(fake_azure, AZURE_OPENAI_ENDPOINT_2=str(second_azure.url), AZURE_OPENAI_API_KEY_2=second_azure.api_key or "")
    with running_bridge(env, tmp_path / "bridge.log", in_process=True) as bridge:
        yield bridge


def ask(bridge: RunningBridge) -> anthropic.types.Message:
    with anthropic.Anthropic(base_url=bridge.url, api_key=CLIENT_TOKEN, max_retries=0) as client:
        return client.messages.create(model="claude-opus-4-8", max_tokens=20, messages=PROMPT)


def test_load_spreads_across_the_pool(pooled: RunningBridge, fake_azure: FakeAzure, second_azure: FakeAzure) -> None:
    for _ in range(6):
        ask(pooled)
    assert (len(fake_azure.requests), len(second_azure.requests)) == (3, 3)


def test_a_conversation_keeps_to_one_member_while_it_can(
    pooled: RunningBridge, fake_azure: FakeAzure, second_azure: FakeAzure
) -> None:
    """Its cached prefix and its encrypted reasoning live on the resource that served it."""
    with anthropic.Anthropic(base_url=pooled.url, api_key=CLIENT_TOKEN, max_retries=0) as client:
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
    with running_bridge(env, tmp_path / "bridge.log", in_process=True) as bridge:
        for _ in range(3):
            assert ask(bridge).content[0].text
        fake_azure.enqueue(Error(503, {"error": {"code": "503", "message": "busy"}}), Text("after the 503"))
        assert ask(bridge).content[0].text == "after the 503"


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
    with running_bridge(env, tmp_path / "bridge.log", in_process=True) as bridge:
        assert ask(bridge).content[0].text == "Hello from fake Azure."
        sent = fake_azure.requests[-1]
        assert sent.path == "/openai/v1/chat/completions"
        assert sent.headers["authorization"] == "Bearer sk-local" and "api-key" not in sent.headers
        assert "sk-local" not in bridge.log()


def test_custom_headers_and_max_tokens_limit(fake_azure: FakeAzure, tmp_path: Path) -> None:
    env = bridge_env(fake_azure, CUSTOM_HEADER_X_TEAM="search", MAX_TOKENS_LIMIT="300")
    with (
        running_bridge(env, tmp_path / "bridge.log", in_process=True) as bridge,
        anthropic.Anthropic(base_url=bridge.url, api_key=CLIENT_TOKEN, max_retries=0) as client,
    ):
        client.messages.create(model="claude-opus-4-8", max_tokens=20000, messages=PROMPT)
        sent = fake_azure.requests[-1]
        assert sent.headers["x-team"] == "search"
        assert sent.body["max_completion_tokens"] == 300


# ----------------------------------------------------------------------------------------------- asked to wait

MODELS = {"chat": "claude-opus-4-8", "responses": "claude-haiku-4-5"}
"""Client model per upstream API: opus → BIG_MODEL on chat/completions, haiku → SMALL_MODEL on Responses."""


def send(bridge: RunningBridge, api: str = "chat", *, stream: bool = False, timeout: float = 60) -> httpx.Response:
    return post(bridge, {**MESSAGE, "model": MODELS[api]}, stream=stream, timeout=timeout)


def text_of(response: httpx.Response) -> str:
    """The text of a whole answer (not streamed)."""
    assert response.status_code == 200, response.text
    return "".join(block["text"] for block in response.json()["content"] if block["type"] == "text")


def burst(bridge: RunningBridge, count: int, api: str = "chat", timeout: float = 40) -> tuple[list[httpx.Response], float]:
    """`count` requests at once (every other one streamed); their responses, and how long the slowest took."""

    def one(position: int) -> httpx.Response:
        return send(bridge, api, stream=position % 2 == 1, timeout=timeout)

    started = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        responses = list(pool.map(one, range(count)))
    return responses, time.monotonic() - started


def assert_rate_limited(response: httpx.Response, longest: int) -> int:
    """A 429 rate_limit_error with a retry-after of at most `longest` seconds; returns the retry-after."""
    assert response.status_code == 429, response.text
    assert response.json()["error"]["type"] == "rate_limit_error", response.text
    wait = int(response.headers["retry-after"])
    assert 0 < wait <= longest, response.headers
    return wait


@pytest.mark.slow
@pytest.mark.parametrize(
    ("api", "refusal"),
    [
        ("chat", Error.rate_limited(retry_after=30)),
        ("chat", Error.rate_limited(retry_after=30, headers="reset-tokens")),
        ("chat", Error.rate_limited(retry_after=30, headers="none")),
        ("responses", ResponsesFailure.rate_limited(retry_after=30)),
    ],
    ids=["429-retry-after", "429-reset-tokens", "429-wait-only-in-the-message", "responses-rate-limited-in-stream"],
)
def test_twenty_requests_during_a_long_retry_after_cost_one_call_each_and_fail_at_once(
    fake_azure: FakeAzure, tmp_path: Path, api: str, refusal: Error | ResponsesFailure
) -> None:
    """The only endpoint asks to wait 30 s (well within REQUEST_TIMEOUT): nobody waits, nothing is retried, and once
    the endpoint rests no request reaches it at all."""
    fake_azure.enqueue(*[refusal] * 60)
    env = bridge_env(fake_azure, REQUEST_TIMEOUT="600", SMALL_MODEL="gpt-5-mini", BIG_MODEL_API=api, SMALL_MODEL_API=api)
    with running_bridge(env, tmp_path / "bridge.log", in_process=True) as bridge:
        responses, slowest = burst(bridge, 20, api)
        sent = len(fake_azure.requests)
        waits = [assert_rate_limited(response, 30) for response in responses]
        assert wait_for(lambda: len(request_lines(bridge)) == 20, 5)
        attempts = [line["attempts"] for line in request_lines(bridge)]
        print(f"20 requests: all 429 after {slowest:.2f}s, {sent} upstream calls, retry-after {min(waits)}-{max(waits)} s")
        assert slowest < 10, f"the slowest of 20 rate-limited requests took {slowest:.1f}s"
        assert max(attempts) <= 1 and sum(attempts) == sent <= 20, attempts
        assert min(waits) >= 25, waits

        later = send(bridge, api)
        assert_rate_limited(later, 30)
        assert len(fake_azure.requests) == sent, "a request went to an endpoint that asked to wait"


@pytest.mark.slow
def test_an_endpoint_that_asked_to_wait_gets_no_request(fake_azure: FakeAzure, second_azure: FakeAzure, tmp_path: Path) -> None:
    """The first endpoint asks for 30 s; the second fails twice with a short backoff, then answers: the retries go
    to the second only."""
    fake_azure.enqueue(*[Error.rate_limited(retry_after=30)] * 5)
    busy = Error(
        503, {"error": {"code": "ServiceUnavailable", "message": "The service is temporarily unable to process your request."}}
    )
    second_azure.enqueue(busy, busy)
    env = bridge_env(fake_azure, AZURE_OPENAI_ENDPOINT_2=str(second_azure.url), AZURE_OPENAI_API_KEY_2=second_azure.api_key or "")
    with running_bridge(env, tmp_path / "bridge.log", in_process=True) as bridge:
        assert text_of(send(bridge)) == "Hello from fake Azure."
        assert (len(fake_azure.requests), len(second_azure.requests)) == (1, 3)


@pytest.mark.slow
def test_a_second_endpoint_takes_the_traffic_while_one_rests(
    fake_azure: FakeAzure, second_azure: FakeAzure, tmp_path: Path
) -> None:
    fake_azure.enqueue(*[Error.rate_limited(retry_after=30)] * 30)
    env = bridge_env(fake_azure, AZURE_OPENAI_ENDPOINT_2=str(second_azure.url), AZURE_OPENAI_API_KEY_2=second_azure.api_key or "")
    with running_bridge(env, tmp_path / "bridge.log", in_process=True) as bridge:
        for _ in range(2):  # one of them starts at the first endpoint, which asks to wait
            assert text_of(send(bridge)) == "Hello from fake Azure."
        assert len(fake_azure.requests) == 1
        responses, slowest = burst(bridge, 20)
        assert [response.status_code for response in responses] == [200] * 20, [r.text for r in responses if r.status_code != 200]
        assert slowest < 20, f"the slowest of 20 requests took {slowest:.1f}s"
        assert (len(fake_azure.requests), len(second_azure.requests)) == (1, 22)
