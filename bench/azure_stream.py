"""Long Azure chat/completions SSE streams in the exact shape of the recordings.

The chunk templates below are copied from
`../shared/wire-corpus/recorded/azure-chat-stream-text-usage-1.sse` (the
prompt-filter chunk, the role chunk, text chunks with
`protected_material_text` results, the finish and `latency_checkpoint` usage
chunks) and `azure-chat-stream-toolcall-parallel-1.sse` (tool-call headers
and argument fragments that carry only `index`).  Key order is kept, so each
generated event is byte-for-byte what the service would send, only longer.

`text_events(chunks)` gives the events of a text-only answer (prompt-filter chunk, role chunk,
`chunks` text deltas, the finish and usage chunks, `[DONE]`), one `bytes` each, to be sent apart.
`build_stream(chunks)` gives: prompt-filter chunk, role chunk, text deltas
(about half), then parallel tool calls (a header each, then argument
fragments of 1 to 8 characters), the finish chunk, the usage chunk and
`data: [DONE]`.  `chunks` counts every `data:` event except `[DONE]`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

ID = "chatcmpl-DmfZu2BjJmBGSSHpj9hWtFQYBUxYn"
CREATED = 1780491942
MODEL = "gpt-5.2-2025-12-11"
SAFE = {"filtered": False, "severity": "safe"}
PROMPT_FILTER_CHUNK: dict[str, Any] = {
    "choices": [],
    "created": 0,
    "id": "",
    "model": "",
    "object": "",
    "prompt_filter_results": [
        {
            "prompt_index": 0,
            "content_filter_results": {
                "hate": SAFE,
                "jailbreak": {"detected": False, "filtered": False},
                "self_harm": SAFE,
                "sexual": SAFE,
                "violence": SAFE,
            },
        }
    ],
}
TEXT_FILTER = {"protected_material_text": {"detected": False, "filtered": False}}
USAGE = {
    "completion_tokens": 24,
    "completion_tokens_details": {
        "accepted_prediction_tokens": 0,
        "audio_tokens": 0,
        "reasoning_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
    "prompt_tokens": 12,
    "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 0},
    "total_tokens": 36,
}
LATENCY_CHECKPOINT = {
    "engine_tbt_ms": 10,
    "engine_ttft_ms": 80,
    "engine_ttlt_ms": 320,
    "pre_inference_ms": 82,
    "service_tbt_ms": 10,
    "service_ttft_ms": 664,
    "service_ttlt_ms": 886,
    "total_duration_ms": 811,
    "user_visible_ttft_ms": 582,
}
WORDS = [
    "Not",
    "much",
    "from",
    "my",
    "side",
    "I",
    "am",
    "ready",
    "to",
    "help",
    "with",
    "code",
    "reviews",
    "refactoring",
    "debugging",
    "tests",
    "documentation",
    "and",
    "anything",
    "else",
    "you",
    "need",
    "for",
    "the",
    "bridge",
    "project",
    "today",
    "including",
    "unicode",
    "like",
    "naïve",
    "café",
    "résumé",
    "数据",
    "and",
    '"quoted"',
    "text",
    "with",
    "back\\slashes",
]
TOOL_NAMES = ("Read", "Grep", "Edit", "Bash")
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True, slots=True)
class BuiltStream:
    body: bytes
    chunks: int
    """`data:` events other than `[DONE]`."""
    text_chunks: int
    tool_calls: int
    argument_chunks: int


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def _chunk(rng: random.Random, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None, **extra: Any) -> bytes:
    payload: dict[str, Any] = {"choices": choices, "created": CREATED, "id": ID, **extra}
    payload["model"] = MODEL
    payload["obfuscation"] = "".join(rng.choice(ALNUM) for _ in range(rng.randint(0, 14)))
    payload["object"] = "chat.completion.chunk"
    payload["service_tier"] = "default"
    payload["system_fingerprint"] = None
    payload["usage"] = usage
    return _event(payload)


def _choice(delta: dict[str, Any], filters: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"content_filter_results": filters, "delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}


def build_stream(chunks: int = 20_000, *, tool_calls: int = 4, seed: int = 7) -> BuiltStream:
    """A complete stream of `chunks` events (at least 8), half text and half tool-call arguments."""
    rng = random.Random(seed)
    chunks = max(chunks, 8)
    fixed = 4 + tool_calls  # prompt filter, role, finish, usage, one header per call
    variable = chunks - fixed
    text_chunks = variable // 2
    argument_chunks = variable - text_chunks
    events = [_event(PROMPT_FILTER_CHUNK)]
    events.append(_chunk(rng, [_choice({"content": "", "refusal": None, "role": "assistant"}, {})]))
    for position in range(text_chunks):
        word = WORDS[position % len(WORDS)]
        events.append(_chunk(rng, [_choice({"content": word if position == 0 else " " + word}, TEXT_FILTER)]))
    per_call = [argument_chunks // tool_calls + (1 if k < argument_chunks % tool_calls else 0) for k in range(tool_calls)]
    for index, count in enumerate(per_call):
        call_id = "call_" + "".join(rng.choice(ALNUM) for _ in range(24))
        name = TOOL_NAMES[index % len(TOOL_NAMES)]
        header = {"function": {"arguments": "", "name": name}, "id": call_id, "index": index, "type": "function"}
        events.append(_chunk(rng, [_choice({"tool_calls": [header]}, {})]))
        for fragment in _argument_fragments(count, rng):
            events.append(_chunk(rng, [_choice({"tool_calls": [{"function": {"arguments": fragment}, "index": index}]}, {})]))
    events.append(_chunk(rng, [_choice({}, {}, "tool_calls")]))
    events.append(_chunk(rng, [], USAGE, latency_checkpoint=LATENCY_CHECKPOINT))
    events.append(b"data: [DONE]\n\n")
    return BuiltStream(b"".join(events), len(events) - 1, text_chunks, tool_calls, argument_chunks)


def text_events(chunks: int, *, seed: int = 7) -> list[bytes]:
    """The events of a text answer of `chunks` text deltas, each a `data:` event (the last one `[DONE]`)."""
    rng = random.Random(seed)
    events = [_event(PROMPT_FILTER_CHUNK), _chunk(rng, [_choice({"content": "", "refusal": None, "role": "assistant"}, {})])]
    for position in range(chunks):
        word = WORDS[position % len(WORDS)]
        events.append(_chunk(rng, [_choice({"content": word if position == 0 else " " + word}, TEXT_FILTER)]))
    events.append(_chunk(rng, [_choice({}, {}, "stop")]))
    events.append(_chunk(rng, [], USAGE, latency_checkpoint=LATENCY_CHECKPOINT))
    events.append(b"data: [DONE]\n\n")
    return events


def _argument_fragments(count: int, rng: random.Random) -> list[str]:
    """Exactly `count` fragments (1-8 characters each) that join into one valid JSON arguments object."""
    if count <= 0:
        return []
    sizes = [rng.randint(1, 8) for _ in range(count)]
    prefix = '{"file_path": "/work/main/bridge/sse.py", "pattern": "'
    suffix = '"}'
    need = sum(sizes) - len(prefix) - len(suffix)
    if need < 0:  # too few fragments for the fixed parts: grow the sizes (may exceed 8 for tiny counts)
        sizes[-1] -= need
        need = 0
    plain = [w for w in WORDS if '"' not in w and "\\" not in w]
    pattern = ""
    while len(pattern) < need:
        pattern += rng.choice(plain) + " "
    arguments = prefix + pattern[:need] + suffix
    fragments: list[str] = []
    position = 0
    for size in sizes:
        fragments.append(arguments[position : position + size])
        position += size
    return fragments
