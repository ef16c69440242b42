"""Upstreams that misbehave below the API, each one a probe that failed before the fix.

    the stand-in upstream                                  what the client must see
    -----------------------------------------------------  ------------------------------------------------------
    keeps the body open after `[DONE]` /                   message_stop at once, nothing after it; the connection
    `response.completed` (`Lingering`)                     is reused once the upstream ends its body
    goes on generating past a stop sequence (`Endless`)    the answer ends at the stop sequence; the connection is
                                                           closed, not drained
    compresses its answers whatever was asked              the answer, streamed or not, chat or Responses; the
    (`Compressed`)                                         bridge asks for `identity`
    100 MB as fast as it can, to a client that stops       the bridge's memory stays flat; the upstream is pushed
    reading (`Flood`)                                      back; everything arrives once the client reads again

An upstream that asks to wait (long `retry-after`s, a second endpoint taking the load) is in test_pool.py;
Microsoft Entra ID sign-in in test_identity.py.  The stand-ins are in `tests/support/misbehaving_upstream.py`.
Bridges are served in the test process, but for the memory probe's (`python -m bridge`: it reads the process's
memory).  Time bounds are generous (the machine is shared); memory is read from /proc (VmRSS, VmHWM).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.anthropic_grammar import check_grammar, parse_sse
from tests.support.bridge import CLIENT_TOKEN, HEADERS, MESSAGE, RunningBridge, post, running_bridge, wait_for
from tests.support.fake_azure import Error
from tests.support.misbehaving_upstream import ANSWER, Compressed, Endless, Flood, Lingering, MisbehavingUpstream

pytestmark = pytest.mark.slow  # bodies held open, streams pushed back: real time by nature

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


def body(api: str, *, stream: bool, **extra: Any) -> dict[str, Any]:
    return {**MESSAGE, "model": MODELS[api], "stream": stream, **extra}


def ask(bridge: RunningBridge, api: str = "chat", *, stream: bool = False, timeout: float = 60, **extra: Any) -> httpx.Response:
    return post(bridge, body(api, stream=stream, **extra), timeout=timeout)


def text_of(response: httpx.Response, *, stream: bool) -> str:
    """The answer's text; a stream must follow the grammar to its message_stop, with no error."""
    assert response.status_code == 200, response.text
    if not stream:
        message = response.json()
        return "".join(block["text"] for block in message["content"] if block["type"] == "text")
    events = parse_sse(response.content)
    check_grammar(events)
    return "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta" and "text" in data["delta"])


# ----------------------------------------------------------------------------------------------- the terminal event


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
        with running_bridge(env, tmp_path / "bridge.log", in_process=True) as bridge:
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
            # the bridge reads the body's end in the background, and the connection goes back to its pool (1 s once
            # fell short in a loaded full run)
            time.sleep(2.0)
            assert text_of(ask(bridge, api, stream=stream, **extra), stream=stream) == ANSWER
            assert [seen.connection for seen in upstream.requests] == [1, 1], "the connection was not reused"
            assert upstream.connections == 1


def test_a_stop_sequence_closes_the_upstream_connection(tmp_path: Path) -> None:
    """A stop sequence ends the answer while the upstream would go on generating: its connection is closed, not
    drained (`Endless` never ends by itself)."""
    endless = Endless()
    with (
        MisbehavingUpstream(endless) as upstream,
        running_bridge(standin_env(upstream), tmp_path / "bridge.log", in_process=True) as bridge,
    ):
        response = ask(bridge, stream=True, stop_sequences=["word 3 "], timeout=20)
        events = parse_sse(response.content)
        check_grammar(events)
        delta = next(data for name, data in events if name == "message_delta")["delta"]
        assert (delta["stop_reason"], delta["stop_sequence"]) == ("stop_sequence", "word 3 ")
        assert text_of(response, stream=True) == "word 1 word 2 "
        assert wait_for(lambda: endless.dropped == 1, 5), "the bridge kept reading an answer it had stopped"


# ----------------------------------------------------------------------------------------------- compressed answers


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
    with running_bridge(standin_env(compressing[1]), log_path, in_process=True) as bridge:
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


# ----------------------------------------------------------------------------------------------- backpressure


def memory(bridge: RunningBridge) -> dict[str, int]:
    """The bridge process's resident memory now (VmRSS) and at its peak so far (VmHWM), in bytes."""
    found = {}
    for line in Path(f"/proc/{bridge.pid}/status").read_text().splitlines():
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


@pytest.mark.process
@pytest.mark.slow
def test_a_client_that_stops_reading_keeps_the_bridges_memory_flat(tmp_path: Path) -> None:
    """100 MB streamed as fast as the upstream can, to a client that reads slowly, then stops, then reads the rest:
    the upstream is pushed back while the client is stopped, and the bridge's peak memory stays near idle."""
    flood = Flood(size=MB)
    small_buffer = 256 * 1024  # the client's and the stand-in's sockets: what the kernel holds is mostly the bridge's
    with (
        MisbehavingUpstream(flood, send_buffer=small_buffer) as upstream,
        running_bridge(standin_env(upstream), tmp_path / "bridge.log") as bridge,
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
