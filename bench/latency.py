"""Added latency of a non-streaming request, memory of the bridge, and the first count_tokens call over HTTP.

Three arms, interleaved in every round (order rotated round by round), one
`httpx.Client` with keep-alive, one fake Azure process answering a short text:

    bridge          POST /v1/messages (hello-02, 76 KB, stream false) to `python -m bridge`;
                    the bridge makes one non-streamed upstream call and translates its answer
    direct          the equivalent chat/completions body (the bridge's own translation),
                    stream false, POSTed straight to the fake: what a client calling
                    Azure directly does for a non-streaming request  ← the baseline
    direct-stream   the very body the bridge sends (stream true + include_usage),
                    read to the end (`data: [DONE]`)

Added latency = p50(bridge) - p50(direct).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from bench.common import (
    bridge_process,
    client_headers,
    connections_to,
    cpu_seconds,
    encode,
    memory_kib,
    percentiles,
    running_upstream,
    traffic_body,
    upstream_env,
)
from bridge.config.load import load_settings
from bridge.fronts.anthropic.request import parse_request
from bridge.model import Target
from bridge.serving.tiers import resolve
from bridge.upstreams.chat.request import build_body

SHORT_REPLY = "Hello! How can I help you today?"
CONNECTION_PROBES = 20
ARMS = ("bridge", "direct", "direct-stream")
TARGET_ADDED_P50_MS = 5.0


async def _no_tokens(_: Target) -> int:
    return 0


def _direct_bodies(anthropic_body: dict[str, Any], env: dict[str, str]) -> tuple[bytes, bytes, str]:
    """The chat/completions bodies a direct client would send: (non-streaming, streaming, deployment)."""
    settings = load_settings(env)
    request = parse_request(anthropic_body)
    deployment = asyncio.run(resolve(request, settings, _no_tokens))[0].deployment
    return encode(build_body(request, deployment, False)), encode(build_body(request, deployment, True)), deployment


def run(rounds: int, warmup: int) -> dict[str, Any]:
    body = traffic_body()
    anthropic_bytes = encode(body)
    with running_upstream("--text", SHORT_REPLY) as upstream, bridge_process(upstream) as bridge:
        direct_plain, direct_stream, deployment = _direct_bodies(body, upstream_env(upstream))
        chat_url = upstream.url + "/openai/v1/chat/completions"
        chat_headers = {"api-key": upstream.api_key, "Content-Type": "application/json"}
        bridge_headers = {**client_headers(), "Content-Type": "application/json"}
        pid = bridge.pid
        idle = memory_kib(pid)

        with httpx.Client(timeout=60) as client:

            def call(arm: str) -> int:
                start = time.perf_counter_ns()
                if arm == "bridge":
                    response = client.post(bridge.url + "/v1/messages", content=anthropic_bytes, headers=bridge_headers)
                    elapsed = time.perf_counter_ns() - start
                    if response.status_code != 200 or response.json()["content"][0]["text"] != SHORT_REPLY:
                        raise RuntimeError(f"bridge answered {response.status_code}: {response.text[:300]}")
                elif arm == "direct":
                    response = client.post(chat_url, content=direct_plain, headers=chat_headers)
                    elapsed = time.perf_counter_ns() - start
                    if response.status_code != 200 or response.json()["choices"][0]["message"]["content"] != SHORT_REPLY:
                        raise RuntimeError(f"fake Azure answered {response.status_code}: {response.text[:300]}")
                else:
                    with client.stream("POST", chat_url, content=direct_stream, headers=chat_headers) as response:
                        raw = b"".join(response.iter_raw())
                    elapsed = time.perf_counter_ns() - start
                    if response.status_code != 200 or not raw.endswith(b"data: [DONE]\n\n"):
                        raise RuntimeError(f"fake Azure stream answered {response.status_code}: {raw[:300]!r}")
                return elapsed

            for _ in range(warmup):
                for arm in ARMS:
                    call(arm)
            samples: dict[str, list[float]] = {arm: [] for arm in ARMS}
            cpu_before = cpu_seconds(pid)
            for number in range(rounds):
                order = ARMS[number % 3 :] + ARMS[: number % 3]
                for arm in order if number % 2 == 0 else reversed(order):
                    samples[arm].append(call(arm) / 1e6)
            cpu_after = cpu_seconds(pid)
            after_run = memory_kib(pid)

            # upstream connections the bridge opens: count new client sockets towards the fake's port
            upstream_port = httpx.URL(upstream.url).port or 80
            before = connections_to(upstream_port)
            for _ in range(CONNECTION_PROBES):
                call("bridge")
            opened = len(connections_to(upstream_port) - before)

            tokens = []
            for _ in range(2):
                start = time.perf_counter()
                response = client.post(bridge.url + "/v1/messages/count_tokens", content=anthropic_bytes, headers=bridge_headers)
                tokens.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"count_tokens answered {response.status_code}: {response.text[:300]}")
            input_tokens = response.json()["input_tokens"]
            after_tokens = memory_kib(pid)

    stats = {arm: percentiles(values) for arm, values in samples.items()}
    added = stats["bridge"]["p50"] - stats["direct"]["p50"]
    return {
        "request": {
            "source": "claude-code-traffic/2.1.197/hello-02.json",
            "anthropic_bytes": len(anthropic_bytes),
            "chat_bytes": len(direct_plain),
            "max_tokens": body["max_tokens"],
            "deployment": deployment,
            "reply": SHORT_REPLY,
        },
        "rounds": rounds,
        "warmup_rounds": warmup,
        "ms": stats,
        "added_p50_ms": added,
        "added_p50_vs_direct_stream_ms": stats["bridge"]["p50"] - stats["direct-stream"]["p50"],
        "baseline": "direct (non-streaming chat/completions straight to the fake)",
        "target_added_p50_ms": TARGET_ADDED_P50_MS,
        "pass": added < TARGET_ADDED_P50_MS,
        "bridge_cpu_ms_per_request": (cpu_after - cpu_before) * 1000 / rounds,
        "upstream_connections_per_request": opened / CONNECTION_PROBES,
        "memory_kib": {
            "idle_rss": idle["VmRSS"],
            "peak_rss_after_latency_run": after_run["VmHWM"],
            "peak_rss_after_count_tokens": after_tokens["VmHWM"],
        },
        "count_tokens_http_ms": {"first": tokens[0], "second": tokens[1], "input_tokens": input_tokens},
    }
