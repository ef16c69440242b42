"""Issue 11, reliability: upstreams that misbehave below the API, each one a probe that failed before the fix.

    item  the stand-in upstream                                  what the client must see
    ----  -----------------------------------------------------  ------------------------------------------------------
    9     keeps the body open after `[DONE]` /                   message_stop at once, nothing after it; the connection
          `response.completed` (`Lingering`)                     is reused once the upstream ends its body
    10    compresses its answers whatever was asked              the answer, streamed or not, chat or Responses; the
          (`Compressed`)                                         bridge asks for `identity`
    11    100 MB as fast as it can, to a client that stops       the bridge's memory stays flat; the upstream is pushed
          reading (`Flood`)                                      back; everything arrives once the client reads again
    12    asks to wait 30 s (the fake Azure): a 429 with         20 concurrent requests: at most one upstream call each,
          retry-after, with only x-ratelimit-reset-tokens, with  429 with a retry-after within seconds; no call to an
          the wait only in its message, or a Responses stream    endpoint that asked to wait; a second endpoint takes
          that fails with rate_limit_exceeded; alone or beside   the load
          a second endpoint

Item 13 (Microsoft Entra ID sign-in) is in test_identity.py.  The stand-ins
are in `tests/support/misbehaving_upstream.py`.  Time bounds are generous (the machine
is shared); memory is read from /proc (VmRSS, VmHWM).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.anthropic_grammar import check_grammar, parse_sse
from tests.support.bridge import CLIENT_TOKEN, RunningBridge, bridge_env, request_lines, start_bridge, stop_bridge, wait_for
from tests.support.fake_azure import Error, FakeAzure, ResponsesFailure, running_fake_azure
from tests.support.misbehaving_upstream import ANSWER, Compressed, Endless, Flood, Lingering, MisbehavingUpstream

HEADERS = {"x-api-key": CLIENT_TOKEN, "content-type": "application/json"}
MODELS = {"chat": "claude-opus-4-8", "responses": "claude-haiku-4-5"}
"""Client model per upstream API: opus → BIG_MODEL on chat/completions, haiku → SMALL_MODEL on Responses."""
MB = 1024 * 1024


def standin_env(upstream: MisbehavingUpstream, **overrides: str) -> dict[str, str]:
    return {
        "AZURE_OPENAI_ENDPOINT": upstream.url,
        "AZURE_OPENAI_API_KEY": "stand-in-key",
        "ANTHROPIC_AUTH_TOKEN": CLIENT_TOKEN,
        "BIG_MODEL": "gpt-5",
        "BIG_MODEL_API": "chat",
        "SMALL_MODEL": "gpt-5-mini",
        "SMALL_MODEL_API": "responses",
        "REQUEST_TIMEOUT": "60",
        **overrides,
    }


@contextmanager
def bridge_for(env: dict[str, str], log_path: Path) -> Iterator[RunningBridge]:
    running = start_bridge(env, log_path)
    try:
        yield running
    finally:
        stop_bridge(running)


def body(api: str, *, stream: bool, **extra: Any) -> dict[str, Any]:
    return {"model": MODELS[api], "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": "hi"}], **extra}


def ask(bridge: RunningBridge, api: str = "chat", *, stream: bool = False, timeout: float = 60, **extra: Any) -> httpx.Response:
    return httpx.post(bridge.url + "/v1/messages", json=body(api, stream=stream, **extra), headers=HEADERS, timeout=timeout)


def text_of(response: httpx.Response, *, stream: bool) -> str:
    """The answer's text; a stream must follow the grammar to its message_stop, with no error."""
    assert response.status_code == 200, response.text
    if not stream:
        message = response.json()
        return "".join(block["text"] for block in message["content"] if block["type"] == "text")
    events = parse_sse(response.content)
    check_grammar(events)
    return "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta" and "text" in data["delta"])


# ----------------------------------------------------------------------------------------------- 9: the terminal event


@pytest.mark.parametrize(
    ("api", "stream", "extra"),
    [
        ("chat", True, {}),
        ("responses", True, {}),
        ("chat", False, {"stop_sequences": ["never said"]}),
        ("responses", False, {"stop_sequences": ["never said"]}),
    ],
    ids=["chat-stream", "responses-stream", "chat-gathered", "responses-gathered"],
)
def test_the_answer_ends_at_the_upstreams_terminal_event(tmp_path: Path, api: str, stream: bool, extra: dict[str, Any]) -> None:
    """The upstream sends `[DONE]` / `response.completed` and keeps the body open: the client's answer is complete at once
    (a stream ends with message_stop and nothing after it), and the connection is reused once the upstream ends its body.

    A non-streaming request with stop sequences is streamed upstream and gathered: it must not wait either."""
    lingering = Lingering()
    with MisbehavingUpstream(lingering) as upstream:
        env = standin_env(upstream, REQUEST_TIMEOUT="40", MAX_STREAM_SECONDS="30")
        with bridge_for(env, tmp_path / "bridge.log") as bridge:
            started = time.monotonic()
            response = ask(bridge, api, stream=stream, **extra)
            elapsed = time.monotonic() - started
            assert text_of(response, stream=stream) == ANSWER
            assert lingering.holding == 1, "the upstream was to hold its body open all along"
            assert lingering.dropped == 0, "the bridge closed a connection it could have reused"
            assert elapsed < 10, f"the answer took {elapsed:.1f}s: the bridge waited for the upstream to close its body"
            assert upstream.requests[0].streamed

            lingering.release.set()
            assert wait_for(lambda: lingering.ended == 1, 5)
            time.sleep(1.0)  # the bridge reads the body's end in the background, and the connection goes back to its pool
            assert text_of(ask(bridge, api, stream=stream, **extra), stream=stream) == ANSWER
            assert [seen.connection for seen in upstream.requests] == [1, 1], "the connection was not reused"
            assert upstream.connections == 1


def test_a_stop_sequence_closes_the_upstream_connection(tmp_path: Path) -> None:
    """A stop sequence ends the answer while the upstream would go on generating: its connection is closed, not
    drained (`Endless` never ends by itself)."""
    endless = Endless()
    with MisbehavingUpstream(endless) as upstream, bridge_for(standin_env(upstream), tmp_path / "bridge.log") as bridge:
        response = ask(bridge, stream=True, stop_sequences=["word 3 "], timeout=20)
        events = parse_sse(response.content)
        check_grammar(events)
        delta = next(data for name, data in events if name == "message_delta")["delta"]
        assert (delta["stop_reason"], delta["stop_sequence"]) == ("stop_sequence", "word 3 ")
        assert text_of(response, stream=True) == "word 1 word 2 "
        assert wait_for(lambda: endless.dropped == 1, 5), "the bridge kept reading an answer it had stopped"


# ----------------------------------------------------------------------------------------------- 10: compressed answers


@pytest.fixture(scope="module")
def compressing() -> Iterator[tuple[Compressed, MisbehavingUpstream]]:
    behaviour = Compressed()
    with MisbehavingUpstream(behaviour) as upstream:
        yield behaviour, upstream


@pytest.fixture(scope="module")
def compressed_bridge(
    compressing: tuple[Compressed, MisbehavingUpstream], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBridge]:
    log_path = tmp_path_factory.mktemp("compressed") / "bridge.log"
    with bridge_for(standin_env(compressing[1]), log_path) as bridge:
        yield bridge


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
def test_a_compressed_answer_is_decoded(
    compressing: tuple[Compressed, MisbehavingUpstream], compressed_bridge: RunningBridge, encoding: str, api: str, stream: bool
) -> None:
    behaviour, upstream = compressing
    behaviour.encoding = "gzip" if encoding == "gzip" else "deflate"
    asked = len(upstream.requests)
    assert text_of(ask(compressed_bridge, api, stream=stream), stream=stream) == ANSWER
    [seen] = upstream.requests[asked:]
    assert seen.headers.get("accept-encoding") == "identity", seen.headers


def test_a_compressed_error_keeps_azures_message(
    compressing: tuple[Compressed, MisbehavingUpstream], compressed_bridge: RunningBridge
) -> None:
    behaviour, _ = compressing
    refusal = {
        "error": {
            "message": "Invalid 'messages[0].content': string too long.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": None,
        }
    }
    behaviour.encoding, behaviour.error = "gzip", Error(400, refusal)
    try:
        for stream in (False, True):
            response = ask(compressed_bridge, stream=stream)
            assert response.status_code == 400, response.text
            assert "string too long" in response.json()["error"]["message"], response.text
    finally:
        behaviour.error = None


# ----------------------------------------------------------------------------------------------- 11: backpressure


def memory(bridge: RunningBridge) -> dict[str, int]:
    """The bridge process's resident memory now (VmRSS) and at its peak so far (VmHWM), in bytes."""
    found = {}
    for line in Path(f"/proc/{bridge.process.pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024
    return found


def settled(read: Any, quiet: float, limit: float) -> int:
    """`read()` once it has stopped changing for `quiet` seconds (or after `limit` seconds)."""
    value, since, give_up = read(), time.monotonic(), time.monotonic() + limit
    while time.monotonic() < give_up:
        time.sleep(0.1)
        now = read()
        if now != value:
            value, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return int(value)


def test_a_client_that_stops_reading_keeps_the_bridges_memory_flat(tmp_path: Path) -> None:
    """100 MB streamed as fast as the upstream can, to a client that reads slowly, then stops, then reads the rest:
    the upstream is pushed back while the client is stopped, and the bridge's peak memory stays near idle."""
    flood = Flood(size=MB)
    small_buffer = 256 * 1024  # the client's and the stand-in's sockets: what the kernel holds is mostly the bridge's
    with (
        MisbehavingUpstream(flood, send_buffer=small_buffer) as upstream,
        bridge_for(standin_env(upstream), tmp_path / "bridge.log") as bridge,
    ):
        for _ in range(2):  # every code path loaded, the allocator warm
            ask(bridge, stream=True).raise_for_status()
        # The flood reports no usage, so each answer is charged an estimate, counted with the tokenizer (loaded
        # once, in the background, after the answer): idle is the bridge once that has settled.
        idle = settled(lambda: memory(bridge)["VmRSS"], quiet=1.0, limit=20)
        flood.size = 100 * MB
        received, tail = 0, b""
        client_socket = [(socket.SOL_SOCKET, socket.SO_RCVBUF, small_buffer)]
        with (
            httpx.Client(timeout=60, transport=httpx.HTTPTransport(socket_options=client_socket)) as http,
            http.stream("POST", bridge.url + "/v1/messages", json=body("chat", stream=True), headers=HEADERS) as response,
        ):
            assert response.status_code == 200
            chunks = response.iter_raw(64 * 1024)
            for _ in range(5):  # a slow reader
                received += len(next(chunks))
                time.sleep(0.2)
            pushed_back = settled(lambda: flood.sent, quiet=1.0, limit=20)  # a reader that stopped
            stopped = memory(bridge)
            for chunk in chunks:
                received += len(chunk)
                tail = (tail + chunk)[-300:]
        peak = memory(bridge)["VmHWM"]
        print(
            f"idle RSS {idle / MB:.1f} MB, RSS while stopped {stopped['VmRSS'] / MB:.1f} MB, peak {peak / MB:.1f} MB; "
            f"upstream sent {pushed_back / MB:.1f} MB of {flood.size / MB:.0f} MB while the client was stopped"
        )
        assert flood.finished == 2 + 1 and received > flood.size, "the whole answer, once the client read again"
        assert b"event: message_stop" in tail, tail
        assert pushed_back < 60 * MB, f"the upstream sent {pushed_back / MB:.0f} MB to a client that stopped reading"
        assert peak - idle < 40 * MB, f"memory grew from {idle / MB:.0f} MB to {peak / MB:.0f} MB"


# ----------------------------------------------------------------------------------------------- 12: rate limits


def burst(bridge: RunningBridge, count: int, api: str = "chat", timeout: float = 40) -> tuple[list[httpx.Response], float]:
    """`count` requests at once (every other one streamed); their responses, and how long the slowest took."""

    def one(position: int) -> httpx.Response:
        return ask(bridge, api, stream=position % 2 == 1, timeout=timeout)

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


@pytest.fixture
def second_azure() -> Iterator[FakeAzure]:
    fake = FakeAzure()
    with running_fake_azure(fake):
        yield fake


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
    with bridge_for(env, tmp_path / "bridge.log") as bridge:
        responses, slowest = burst(bridge, 20, api)
        sent = len(fake_azure.requests)
        waits = [assert_rate_limited(response, 30) for response in responses]
        assert wait_for(lambda: len(request_lines(bridge)) == 20, 5)
        attempts = [line["attempts"] for line in request_lines(bridge)]
        print(f"20 requests: all 429 after {slowest:.2f}s, {sent} upstream calls, retry-after {min(waits)}-{max(waits)} s")
        assert slowest < 10, f"the slowest of 20 rate-limited requests took {slowest:.1f}s"
        assert max(attempts) <= 1 and sum(attempts) == sent <= 20, attempts
        assert min(waits) >= 25, waits

        later = ask(bridge, api)
        assert_rate_limited(later, 30)
        assert len(fake_azure.requests) == sent, "a request went to an endpoint that asked to wait"


def test_an_endpoint_that_asked_to_wait_gets_no_request(fake_azure: FakeAzure, second_azure: FakeAzure, tmp_path: Path) -> None:
    """The first endpoint asks for 30 s; the second fails twice with a short backoff, then answers: the retries go
    to the second only."""
    fake_azure.enqueue(*[Error.rate_limited(retry_after=30)] * 5)
    busy = Error(
        503, {"error": {"code": "ServiceUnavailable", "message": "The service is temporarily unable to process your request."}}
    )
    second_azure.enqueue(busy, busy)
    env = bridge_env(fake_azure, AZURE_OPENAI_ENDPOINT_2=str(second_azure.url), AZURE_OPENAI_API_KEY_2=second_azure.api_key or "")
    with bridge_for(env, tmp_path / "bridge.log") as bridge:
        assert text_of(ask(bridge), stream=False) == "Hello from fake Azure."
        assert (len(fake_azure.requests), len(second_azure.requests)) == (1, 3)


def test_a_second_endpoint_takes_the_traffic_while_one_rests(
    fake_azure: FakeAzure, second_azure: FakeAzure, tmp_path: Path
) -> None:
    fake_azure.enqueue(*[Error.rate_limited(retry_after=30)] * 30)
    env = bridge_env(fake_azure, AZURE_OPENAI_ENDPOINT_2=str(second_azure.url), AZURE_OPENAI_API_KEY_2=second_azure.api_key or "")
    with bridge_for(env, tmp_path / "bridge.log") as bridge:
        for _ in range(2):  # one of them starts at the first endpoint, which asks to wait
            assert text_of(ask(bridge), stream=False) == "Hello from fake Azure."
        assert len(fake_azure.requests) == 1
        responses, slowest = burst(bridge, 20)
        assert [response.status_code for response in responses] == [200] * 20, [r.text for r in responses if r.status_code != 200]
        assert slowest < 20, f"the slowest of 20 requests took {slowest:.1f}s"
        assert (len(fake_azure.requests), len(second_azure.requests)) == (1, 22)
