"""What one request may hold: limits that keep a huge request from stalling the bridge or reaching Azure.

A 5 MB model name is refused and never echoed or logged whole; 40,000 tool calls are ordered in linear time;
counting a huge body neither panics the tokenizer nor holds up other requests; stop sequences are capped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.support.bridge import MESSAGE, RunningBridge, post
from tests.support.fake_azure import FakeAzure

BODY = {**MESSAGE, "max_tokens": 50}


def test_a_huge_model_name_is_refused_and_never_echoed_or_logged_whole(fake_azure: FakeAzure, bridge: RunningBridge) -> None:
    model = "m" * 5_000_000
    response = post(bridge, {**BODY, "model": model})
    assert response.status_code == 400 and len(response.content) < 2_000
    assert fake_azure.requests == []
    time.sleep(0.2)
    assert max(len(line) for line in bridge.log().splitlines()) < 5_000


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


@pytest.mark.slow
@pytest.mark.usefixtures("fake_azure")
def test_forty_thousand_tool_calls_are_ordered_in_linear_time(bridge: RunningBridge) -> None:
    def counted_in(count: int) -> float:
        calls = [{"type": "tool_use", "id": f"toolu_{i}", "name": "Bash", "input": {}} for i in range(count)]
        results = [{"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": "ok"} for i in range(count)]
        body = {
            "model": "claude-opus-4-8",
            "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": calls},
                {"role": "user", "content": results},
            ],
        }
        started = time.process_time()
        response = post(bridge, body, path="/v1/messages/count_tokens")
        assert response.status_code == 200, response.text
        return time.process_time() - started

    # CPU time of this process (the bridge serves in a thread of it), not the clock: other processes' load does not
    # count.  A tenth of the calls, timed just before, says how fast the machine is right now: linear is about ten
    # times that, quadratic a hundred; 6 s stands when the machine is quiet.
    tenth = counted_in(4_000)
    assert counted_in(40_000) < max(6.0, 30 * tenth), "the old quadratic ordering took 8.6 s for this"


@pytest.mark.slow
@pytest.mark.usefixtures("fake_azure")
def test_counting_a_huge_body_neither_stalls_others_nor_panics(bridge: RunningBridge) -> None:
    spaces = {"model": "claude-opus-4-8", "messages": [{"role": "user", "content": " " * 1_000_000}]}
    response = post(bridge, spaces, path="/v1/messages/count_tokens")
    assert response.status_code == 200, "about a million spaces made tiktoken panic (a plain-text 500)"
    assert response.json()["input_tokens"] > 1_000
    huge = {"model": "claude-opus-4-8", "messages": [{"role": "user", "content": "word " * 4_800_000}]}
    with loop_watch(bridge) as latencies:
        counted = post(bridge, huge, path="/v1/messages/count_tokens")
    assert counted.status_code == 200 and counted.json()["input_tokens"] > 1_000_000
    assert latencies and max(latencies) < 2.0, f"another request waited {max(latencies):.1f} s behind the count"


@pytest.mark.parametrize(
    "stops", [[f"s{i}" for i in range(20_000)], ["x" * 300], [f"s{i}" for i in range(17)]], ids=["20000", "long", "17"]
)
def test_stop_sequences_are_capped(stops: list[str], fake_azure: FakeAzure, bridge: RunningBridge) -> None:
    response = post(bridge, {**BODY, "stop_sequences": stops})
    assert response.status_code == 400 and "stop sequences" in response.json()["error"]["message"]
    assert fake_azure.requests == []
