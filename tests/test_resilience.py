"""Azure connectivity and resilience: retries, backoff, broken connections, heartbeats, client disconnects.

Every test starts its own bridge (served in the test process) with a short
REQUEST_TIMEOUT, so a hang fails fast instead of stalling the suite.  Where the
fake cannot misbehave the way a test needs (a reset before any response byte,
a slow or stalled body), `FaultyProxy` sits between the bridge and the fake: a
TCP relay that can reset connections, throttle or stall the answer, and notes
when the bridge closed its side (that is how "the upstream was cancelled" is seen).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.anthropic_grammar import check_grammar, parse_sse
from tests.support.bridge import (
    HEADERS,
    MESSAGE,
    RunningBridge,
    bridge_env,
    line_of,
    post,
    request_lines,
    running_bridge,
    wait_for,
)
from tests.support.fake_azure import Error, FakeAzure, Faults, Text
from tests.support.serving import free_port

pytestmark = pytest.mark.slow  # real waits by nature: retry-after, heartbeats, throttled and stalled streams

RATE_LIMIT_BODY = {
    "error": {"code": "429", "message": "Requests to the ChatCompletions_Create Operation have exceeded token rate limit."}
}
UNAVAILABLE_BODY = {
    "error": {"code": "ServiceUnavailable", "message": "The service is temporarily unable to process your request."}
}


# ----------------------------------------------------------------------------------------------- helpers


def own_bridge(fake: FakeAzure, log_path: Path, **overrides: str) -> AbstractContextManager[RunningBridge]:
    """A bridge of this test's own (short REQUEST_TIMEOUT unless overridden), stopped afterwards."""
    return running_bridge(bridge_env(fake, **{"REQUEST_TIMEOUT": "5", **overrides}), log_path, in_process=True)


def assert_error(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == kind, body
    assert body["error"]["message"]
    return body


def events_of(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.content)


def assert_complete(response: httpx.Response, *, stream: bool) -> None:
    """A whole, successful answer: the full grammar when streamed, a message otherwise."""
    if stream:
        check_grammar(events_of(response))
    else:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["type"] == "message" and body["stop_reason"] == "end_turn", body


@dataclass
class Relayed:
    """One connection through the proxy."""

    opened: float
    reset: bool = False
    bridge_closed: float | None = None
    """When the bridge (the proxy's client) closed or reset its side."""
    answered_bytes: int = 0


@dataclass
class FaultyProxy:
    """A TCP relay to `target_port` that can misbehave.

    `resets`: the next N connections are reset (RST) as soon as the request
    arrives, before any response byte.  `throttle`: the answer is forwarded
    `(bytes, seconds)` at a time.  `stall_after`: after that many answer bytes,
    nothing more is forwarded (the upstream "thinks" forever).
    """

    target_port: int
    resets: int = 0
    throttle: tuple[int, float] | None = None
    stall_after: int | None = None
    connections: list[Relayed] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.closing = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name=f"faulty-proxy-{self.port}").start()

    def close(self) -> None:
        self.closing.set()
        with suppress(OSError):
            self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.sockets.append(downstream)
                relayed = Relayed(time.monotonic())
                self.connections.append(relayed)
                reset = self.resets > 0
                self.resets -= 1 if reset else 0
            threading.Thread(target=self._serve, args=(downstream, relayed, reset), daemon=True).start()

    def _serve(self, downstream: socket.socket, relayed: Relayed, reset: bool) -> None:
        if reset:
            with suppress(OSError):
                downstream.recv(65536)
            relayed.reset = True
            downstream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            downstream.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        with self.lock:
            self.sockets.append(upstream)
        threading.Thread(target=self._answer, args=(upstream, downstream, relayed), daemon=True).start()
        while True:  # bridge → fake, and notice when the bridge lets go
            try:
                data = downstream.recv(65536)
            except OSError:
                data = b""
            if not data:
                relayed.bridge_closed = time.monotonic()
                with suppress(OSError):
                    upstream.shutdown(socket.SHUT_RDWR)
                return
            with suppress(OSError):
                upstream.sendall(data)

    def _answer(self, upstream: socket.socket, downstream: socket.socket, relayed: Relayed) -> None:
        while True:  # fake → bridge, throttled or stalled
            size = self.throttle[0] if self.throttle else 65536
            if self.stall_after is not None:
                size = min(size, self.stall_after - relayed.answered_bytes)
                if size <= 0:
                    self.closing.wait()
                    return
            try:
                data = upstream.recv(size)
                if not data:
                    return
                downstream.sendall(data)
            except OSError:
                return
            relayed.answered_bytes += len(data)
            if self.throttle:
                time.sleep(self.throttle[1])


@pytest.fixture
def proxy(fake_azure: FakeAzure) -> Iterator[FaultyProxy]:
    assert fake_azure.url is not None
    relay = FaultyProxy(int(fake_azure.url.rsplit(":", 1)[1]))
    yield relay
    relay.close()


# ----------------------------------------------------------------------------------------------- 429 / 503 / 400


@pytest.mark.parametrize(
    ("headers", "advised"),
    [({"retry-after": "1"}, 1.0), ({"retry-after-ms": "700"}, 0.7), ({"retry-after": "1", "retry-after-ms": "600"}, 0.6)],
    ids=["retry-after", "retry-after-ms", "both"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_429_waits_the_advised_time_then_succeeds(
    fake_azure: FakeAzure, tmp_path: Path, headers: dict[str, str], advised: float, stream: bool
) -> None:
    fake_azure.enqueue(Error(429, RATE_LIMIT_BODY, headers))
    with own_bridge(fake_azure, tmp_path / "b.log") as bridge:
        started = time.monotonic()
        response = post(bridge, stream=stream)
        elapsed = time.monotonic() - started
        assert_complete(response, stream=stream)
        assert len(fake_azure.requests) == 2
        assert elapsed >= 0.8 * advised, f"answered after {elapsed:.2f}s, Azure advised waiting {advised}s"
        assert elapsed < advised + 4
        line = line_of(bridge, response.headers["request-id"])
        assert line["attempts"] == 2 and line["status"] == 200 and line["error_type"] is None, line


def test_503_then_success_is_retried(fake_azure: FakeAzure, tmp_path: Path) -> None:
    fake_azure.enqueue(Error(503, UNAVAILABLE_BODY))
    with own_bridge(fake_azure, tmp_path / "b.log") as bridge:
        response = post(bridge)
        assert_complete(response, stream=False)
        assert len(fake_azure.requests) == 2
        assert line_of(bridge, response.headers["request-id"])["attempts"] == 2


def test_500_502_504_then_success_are_retried(fake_azure: FakeAzure, tmp_path: Path) -> None:
    fake_azure.enqueue(Error(500, {"error": {"message": "Internal"}}), Error(502, {"error": {"message": "Bad gateway"}}))
    with own_bridge(fake_azure, tmp_path / "b.log") as bridge:
        response = post(bridge, stream=True)
        assert_complete(response, stream=True)
        assert len(fake_azure.requests) == 3
        assert line_of(bridge, response.headers["request-id"])["attempts"] == 3


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_503_every_time_is_overloaded(fake_azure: FakeAzure, tmp_path: Path, stream: bool) -> None:
    fake_azure.enqueue(*[Error(503, UNAVAILABLE_BODY)] * 5)
    with own_bridge(fake_azure, tmp_path / "b.log") as bridge:
        response = post(bridge, stream=stream)
        assert_error(response, 529, "overloaded_error")
        assert len(fake_azure.requests) == 3, "three attempts, then give up"
        line = line_of(bridge, response.headers["request-id"])
        assert line["attempts"] == 3 and line["status"] == 529 and line["error_type"] == "overloaded_error", line


def test_429_every_time_is_rate_limit_with_retry_after(fake_azure: FakeAzure, tmp_path: Path) -> None:
    fake_azure.enqueue(*[Error(429, RATE_LIMIT_BODY, {"retry-after": "1", "retry-after-ms": "100"})] * 5)
    with own_bridge(fake_azure, tmp_path / "b.log") as bridge:
        response = post(bridge)
        assert_error(response, 429, "rate_limit_error")
        assert len(fake_azure.requests) == 3
        assert float(response.headers["retry-after"]) > 0, response.headers
        assert line_of(bridge, response.headers["request-id"])["attempts"] == 3


def test_429_longer_than_the_deadline_fails_fast(fake_azure: FakeAzure, tmp_path: Path) -> None:
    """Waiting 30 s would outlast REQUEST_TIMEOUT=5: the 429 goes straight to the client, with its retry-after."""
    fake_azure.enqueue(Error(429, RATE_LIMIT_BODY, {"retry-after": "30"}))
    with own_bridge(fake_azure, tmp_path / "b.log") as bridge:
        started = time.monotonic()
        response = post(bridge)
        assert time.monotonic() - started < 3
        assert_error(response, 429, "rate_limit_error")
        assert response.headers["retry-after"] == "30"
        assert len(fake_azure.requests) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_400_is_never_retried(fake_azure: FakeAzure, tmp_path: Path, stream: bool) -> None:
    bad = {
        "error": {
            "message": "Invalid 'messages[0].content': string too long.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": None,
        }
    }
    fake_azure.enqueue(Error(400, bad), Text("must not be used"))
    with own_bridge(fake_azure, tmp_path / "b.log") as bridge:
        response = post(bridge, stream=stream)
        assert_error(response, 400, "invalid_request_error")
        assert "string too long" in response.json()["error"]["message"]
        assert len(fake_azure.requests) == 1
        assert line_of(bridge, response.headers["request-id"])["attempts"] == 1


# ----------------------------------------------------------------------------------------------- broken connections


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_reset_before_any_response_byte_is_retried(
    fake_azure: FakeAzure, proxy: FaultyProxy, tmp_path: Path, stream: bool
) -> None:
    proxy.resets = 1
    with own_bridge(fake_azure, tmp_path / "b.log", AZURE_OPENAI_ENDPOINT=proxy.url) as bridge:
        response = post(bridge, stream=stream)
        assert_complete(response, stream=stream)
        assert [c.reset for c in proxy.connections] == [True, False]
        assert len(fake_azure.requests) == 1
        assert line_of(bridge, response.headers["request-id"])["attempts"] == 2


def test_unreachable_upstream_is_retried_then_reported(fake_azure: FakeAzure, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with own_bridge(fake_azure, tmp_path / "b.log", AZURE_OPENAI_ENDPOINT=closed) as bridge:
        response = post(bridge)
        assert response.status_code in (500, 502, 503, 504, 529), response.text
        body = response.json()
        assert body["type"] == "error" and body["error"]["type"] in ("api_error", "overloaded_error", "timeout_error")
        assert "127.0.0.1" in body["error"]["message"], "the message should say which upstream could not be reached"
        assert line_of(bridge, response.headers["request-id"])["attempts"] == 3


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_cut_after_headers_before_any_event_is_retried(fake_azure: FakeAzure, tmp_path: Path, stream: bool) -> None:
    # Faults(disconnect_after_chunks=0): the fake sends `200` + headers, then closes without a body byte.
    fake_azure.enqueue(Text("never delivered", faults=Faults(disconnect_after_chunks=0)))
    with own_bridge(fake_azure, tmp_path / "b.log") as bridge:
        response = post(bridge, stream=stream)
        assert len(fake_azure.requests) == 2, f"not retried: {response.text[-300:]}"
        assert_complete(response, stream=stream)


def test_cut_mid_stream_ends_with_an_error_event(fake_azure: FakeAzure, tmp_path: Path) -> None:
    fake_azure.enqueue(Text("one two three four five six seven eight", pieces=8, faults=Faults(disconnect_after_chunks=5)))
    with own_bridge(fake_azure, tmp_path / "b.log") as bridge:
        response = post(bridge, stream=True)
        events = events_of(response)
        check_grammar(events, allow_error=True)
        names = [name for name, _ in events]
        assert "content_block_delta" in names, "some text got through before the cut"
        assert names[-1] == "error" and "message_stop" not in names and "message_delta" not in names, names
        assert events[-1][1]["error"]["type"] in ("api_error", "overloaded_error")
        assert len(fake_azure.requests) == 1, "nothing may be retried once text reached the client"
        line = line_of(bridge, response.headers["request-id"])
        assert line["error_type"] is not None, line


def test_cut_mid_stream_of_a_non_streamed_request_is_an_error(fake_azure: FakeAzure, tmp_path: Path) -> None:
    fake_azure.enqueue(Text("one two three four five six seven eight", pieces=8, faults=Faults(disconnect_after_chunks=5)))
    with own_bridge(fake_azure, tmp_path / "b.log") as bridge:
        response = post(bridge)
        assert response.status_code >= 500, f"a truncated answer passed off as a message: {response.text}"
        assert response.json()["error"]["type"] in ("api_error", "overloaded_error")


# ----------------------------------------------------------------------------------------------- heartbeats


def test_slow_first_byte_gets_pings_before_the_text(fake_azure: FakeAzure, tmp_path: Path) -> None:
    delay = 1.5
    fake_azure.enqueue(Text("finally here", faults=Faults(delay_first_byte=delay)))
    with own_bridge(fake_azure, tmp_path / "b.log", HEARTBEAT_SECONDS="0.2") as bridge:
        arrivals: list[tuple[float, str]] = []
        raw: list[str] = []
        started = time.monotonic()
        with httpx.stream(
            "POST", bridge.url + "/v1/messages", json={**MESSAGE, "stream": True}, headers=HEADERS, timeout=20
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                raw.append(line)
                if line.startswith("event:"):
                    arrivals.append((time.monotonic() - started, line.removeprefix("event:").strip()))
        check_grammar(parse_sse(("\n".join(raw) + "\n").encode()))
        assert arrivals[0][1] == "message_start" and arrivals[0][0] < delay - 0.5, arrivals[:3]
        first_text = next(t for t, name in arrivals if name == "content_block_delta")
        early_pings = [t for t, name in arrivals if name == "ping" and t < delay - 0.1]
        assert first_text >= delay * 0.9
        assert len(early_pings) >= 3, f"pings while Azure was silent: {early_pings}; events: {arrivals}"


# ----------------------------------------------------------------------------------------------- client disconnects


def _read_first_event_then_leave(bridge: RunningBridge) -> float:
    """Stream a request, read its first event, close the connection; returns when it was closed."""
    with (
        httpx.Client(timeout=10) as http,
        http.stream("POST", bridge.url + "/v1/messages", json={**MESSAGE, "stream": True}, headers=HEADERS) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:"):
                assert '"message_start"' in line
                break
    return time.monotonic()


LONG = Text("word " * 4000, pieces=2000)


def test_stream_client_disconnect_cancels_the_upstream(fake_azure: FakeAzure, proxy: FaultyProxy, tmp_path: Path) -> None:
    proxy.throttle = (512, 0.05)  # about 10 KB/s: the whole answer would take over a minute
    fake_azure.enqueue(LONG)
    with own_bridge(fake_azure, tmp_path / "b.log", AZURE_OPENAI_ENDPOINT=proxy.url, REQUEST_TIMEOUT="30") as bridge:
        left = _read_first_event_then_leave(bridge)
        assert wait_for(lambda: proxy.connections and proxy.connections[0].bridge_closed is not None, 1.5), (
            "the bridge kept reading Azure after its client left"
        )
        closed = proxy.connections[0].bridge_closed
        assert closed is not None and closed - left < 1.0, f"upstream closed {closed - left:.2f}s after the client left"
        assert line_of(bridge, _only_request_id(bridge))["status"] == 200


def test_stream_client_disconnect_cancels_a_silent_upstream(fake_azure: FakeAzure, proxy: FaultyProxy, tmp_path: Path) -> None:
    """Azure sends the headers and a little, then nothing (a reasoning model thinking): the bridge has nothing to write
    but its opening, after one heartbeat."""
    proxy.stall_after = 1200
    fake_azure.enqueue(LONG)
    settings = {"AZURE_OPENAI_ENDPOINT": proxy.url, "REQUEST_TIMEOUT": "30", "HEARTBEAT_SECONDS": "1"}
    with own_bridge(fake_azure, tmp_path / "b.log", **settings) as bridge:
        left = _read_first_event_then_leave(bridge)
        assert wait_for(lambda: proxy.connections and proxy.connections[0].bridge_closed is not None, 1.5), (
            "the bridge kept waiting on Azure after its client left"
        )
        closed = proxy.connections[0].bridge_closed
        assert closed is not None and closed - left < 1.0, f"upstream closed {closed - left:.2f}s after the client left"


def test_non_stream_client_disconnect_cancels_the_upstream(fake_azure: FakeAzure, proxy: FaultyProxy, tmp_path: Path) -> None:
    fake_azure.enqueue(Text("too late", faults=Faults(delay_first_byte=3)))
    with own_bridge(fake_azure, tmp_path / "b.log", AZURE_OPENAI_ENDPOINT=proxy.url, REQUEST_TIMEOUT="30") as bridge:
        with pytest.raises(httpx.ReadTimeout):
            post(bridge, timeout=0.5)
        left = time.monotonic()
        assert wait_for(lambda: proxy.connections and proxy.connections[0].bridge_closed is not None, 1.5), (
            "the bridge kept waiting on Azure after its client left"
        )
        closed = proxy.connections[0].bridge_closed
        assert closed is not None and closed - left < 1.0, f"upstream closed {closed - left:.2f}s after the client left"


def _only_request_id(bridge: RunningBridge) -> str:
    assert wait_for(lambda: request_lines(bridge), 3.0)
    lines = request_lines(bridge)
    assert len(lines) == 1, lines
    return str(lines[0]["request_id"])


def test_max_stream_seconds_ends_a_long_stream_with_a_clear_error(
    fake_azure: FakeAzure, proxy: FaultyProxy, tmp_path: Path
) -> None:
    proxy.throttle = (256, 0.05)
    fake_azure.enqueue(LONG)
    with own_bridge(fake_azure, tmp_path / "b.log", AZURE_OPENAI_ENDPOINT=proxy.url, MAX_STREAM_SECONDS="1") as bridge:
        started = time.monotonic()
        response = httpx.post(bridge.url + "/v1/messages", json={**MESSAGE, "stream": True}, headers=HEADERS, timeout=30)
        events = parse_sse(response.content)
    assert time.monotonic() - started < 10
    check_grammar(events, allow_error=True)
    name, data = events[-1]
    assert name == "error" and data["error"]["type"] == "timeout_error"
    assert "MAX_STREAM_SECONDS" in data["error"]["message"]
