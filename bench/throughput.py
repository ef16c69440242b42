"""Stream translation throughput: upstream chunks translated per CPU-second.

In process (`in_process`): a long recorded-style Azure stream (`azure_stream`)
goes through the bridge's own path, as `upstreams/chat/call.py` and
`fronts/anthropic/stream.py` run it:

    StreamDecoder.feed (SSE data → JSON → ChatStreamTranslator) → AnthropicStreamRenderer.render → bytes

timed with `time.process_time()`, in two feeding patterns:

    per-event   one upstream event per read, rendered one by one (a live model,
                tokens trickling in: the most work per chunk)
    64 KiB      64 KiB reads, each read's events rendered as one batch (a burst,
                as `pump` batches what has queued up)

Over HTTP (`over_http`): the fake upstream streams the same N chunks, the bench
client reads the bridge's SSE to the end; reported as chunks per wall second
and chunks per CPU-second of the bridge process (utime + stime from
/proc/<pid>/stat, before and after).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import httpx

from bench.azure_stream import BuiltStream, build_stream
from bench.common import bridge_process, client_headers, cpu_seconds, running_upstream
from bridge.fronts.anthropic.stream import AnthropicStreamRenderer
from bridge.upstreams.chat.stream import ChatStreamTranslator
from bridge.upstreams.stream import StreamDecoder

TARGET_CHUNKS_PER_CPU_SECOND = 20_000
READ_SIZE = 64 * 1024
DELTA_EVENT = b"event: content_block_delta\n"


def _per_event(body: bytes) -> list[bytes]:
    return [event + b"\n\n" for event in body.split(b"\n\n") if event]


def _reads(body: bytes) -> list[bytes]:
    return [body[i : i + READ_SIZE] for i in range(0, len(body), READ_SIZE)]


def translate(pieces: list[bytes]) -> tuple[int, int]:
    """Run the bridge's translation over `pieces` (one read each); returns (bytes out, delta events out)."""
    decoder = StreamDecoder(ChatStreamTranslator(), None)
    renderer = AnthropicStreamRenderer("msg_bench", "claude-opus-4-8")
    size = len(renderer.opening())
    deltas = 0
    for piece in pieces:
        events = decoder.feed(piece)
        if events:
            out = renderer.render(events)
            size += len(out)
            deltas += out.count(DELTA_EVENT)
        if decoder.finished:
            break
    out = renderer.render(decoder.end())
    size += len(out)
    if not renderer.finished:
        raise RuntimeError("the translated stream did not finish")
    return size, deltas


def in_process(chunks: int, repeats: int) -> dict[str, Any]:
    stream = build_stream(chunks)
    warm = build_stream(500, seed=1).body
    patterns = {"per_event": _per_event, "read_64k": _reads}
    results: dict[str, Any] = {}
    for name, cut in patterns.items():
        translate(cut(warm))  # warm up
        pieces = cut(stream.body)
        rates = []
        for _ in range(repeats):
            start = time.process_time()
            size, deltas = translate(pieces)
            cpu = time.process_time() - start
            _check(stream, deltas)
            rates.append(stream.chunks / cpu)
        results[name] = {
            "chunks_per_cpu_second": statistics.median(rates),
            "min": min(rates),
            "max": max(rates),
            "us_per_chunk": 1e6 / statistics.median(rates),
            "reads": len(pieces),
            "bytes_out": size,
        }
    return {
        "chunks": stream.chunks,
        "bytes_in": len(stream.body),
        "text_chunks": stream.text_chunks,
        "argument_chunks": stream.argument_chunks,
        "tool_calls": stream.tool_calls,
        "repeats": repeats,
        **results,
        "target_chunks_per_cpu_second": TARGET_CHUNKS_PER_CPU_SECOND,
        "pass": results["per_event"]["chunks_per_cpu_second"] >= TARGET_CHUNKS_PER_CPU_SECOND,
    }


def _check(stream: BuiltStream, deltas: int) -> None:
    expected = stream.text_chunks + stream.argument_chunks
    if deltas != expected:
        raise RuntimeError(f"translated {deltas} content_block_delta events, expected {expected}")


def over_http(chunks: int, repeats: int) -> dict[str, Any]:
    stream = build_stream(chunks)  # the same stream the upstream process builds (same seed)
    request = {
        "model": "claude-opus-4-8",
        "max_tokens": 4096,
        "stream": True,
        "messages": [{"role": "user", "content": "Write a long answer, then call the tools."}],
    }
    content = json.dumps(request).encode()
    runs = []
    with running_upstream("--stream-chunks", str(chunks)) as upstream, bridge_process(upstream) as bridge:
        headers = {**client_headers(), "Content-Type": "application/json"}
        with httpx.Client(timeout=120) as client:
            for number in range(repeats + 1):  # the first run warms up
                bridge_cpu, upstream_cpu = cpu_seconds(bridge.pid), cpu_seconds(upstream.pid)
                client_cpu = time.process_time()
                start = time.perf_counter()
                with client.stream("POST", bridge.url + "/v1/messages", content=content, headers=headers) as response:
                    if response.status_code != 200:
                        raise RuntimeError(f"bridge answered {response.status_code}: {response.read()[:300]!r}")
                    raw = b"".join(response.iter_raw())
                wall = time.perf_counter() - start
                bridge_cpu = cpu_seconds(bridge.pid) - bridge_cpu
                upstream_cpu = cpu_seconds(upstream.pid) - upstream_cpu
                client_cpu = time.process_time() - client_cpu
                if not raw.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n'):
                    raise RuntimeError(f"the bridge's stream did not end with message_stop: {raw[-300:]!r}")
                _check(stream, raw.count(DELTA_EVENT))
                if number:
                    runs.append(
                        {
                            "wall_s": wall,
                            "bridge_cpu_s": bridge_cpu,
                            "upstream_cpu_s": upstream_cpu,
                            "client_cpu_s": client_cpu,
                            "bytes_out": len(raw),
                        }
                    )
    wall = statistics.median(run["wall_s"] for run in runs)
    bridge_cpu = statistics.median(run["bridge_cpu_s"] for run in runs)
    return {
        "chunks": stream.chunks,
        "repeats": repeats,
        "chunks_per_wall_second": stream.chunks / wall,
        "chunks_per_bridge_cpu_second": stream.chunks / bridge_cpu if bridge_cpu > 0 else None,
        "bridge_cpu_share_of_wall": bridge_cpu / wall,
        "median_wall_s": wall,
        "median_bridge_cpu_s": bridge_cpu,
        "median_upstream_cpu_s": statistics.median(run["upstream_cpu_s"] for run in runs),
        "median_client_cpu_s": statistics.median(run["client_cpu_s"] for run in runs),
        "runs": runs,
    }
