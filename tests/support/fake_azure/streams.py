"""Scripted replies and their Azure-shaped rendering (SSE chunks or one `chat.completion`).

The shapes follow the recordings in `../shared/wire-corpus/recorded/azure-chat-*`:
a first chunk with empty `choices` and `prompt_filter_results`, a role chunk,
content chunks that carry per-choice `content_filter_results`, tool-call chunks
(a header per call, then argument fragments carrying only `index`), a finish
chunk, an optional usage chunk (only when `stream_options.include_usage` was
asked for, in which case every chunk also carries `"usage": null`), then
`data: [DONE]`.  Keys are written in the order the service writes them.  On a
deployment with the asynchronous content filter (`content_filter="async"`) the
chunks carry no filter results; two annotation chunks with
`content_filter_offsets` follow the finish chunk instead.

`Error` replies carry any status and body; its constructors give the
service's own (429 with its header sets, 408, 500, the auth refusals).
"""

from __future__ import annotations

import json
import random
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import errors
from .deployment import Deployment
from .errors import Api, AzureError
from .limits import prompt_tokens

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"
DONE = b"data: [DONE]\n\n"
ALNUM = string.ascii_letters + string.digits
SAFE = {"filtered": False, "severity": "safe"}
CONTENT_SAFE: dict[str, Any] = {"hate": SAFE, "self_harm": SAFE, "sexual": SAFE, "violence": SAFE}
PROMPT_SAFE: dict[str, Any] = {
    "hate": SAFE,
    "jailbreak": {"filtered": False, "detected": False},
    "self_harm": SAFE,
    "sexual": SAFE,
    "violence": SAFE,
}
PROMPT_FILTER_RESULTS: list[dict[str, Any]] = [{"prompt_index": 0, "content_filter_results": PROMPT_SAFE}]
FILTERED: dict[str, Any] = {**CONTENT_SAFE, "violence": {"filtered": True, "severity": "medium"}}
PROTECTED_MATERIAL: dict[str, Any] = {
    "protected_material_code": {"filtered": False, "detected": False},
    "protected_material_text": {"filtered": False, "detected": False},
}


@dataclass(frozen=True, slots=True)
class Faults:
    """Transport misbehaviour: a pause before the first byte, a cut after N SSE events, a stall of
    `stall_seconds` after N SSE events (the rest follows, if anyone still listens)."""

    delay_first_byte: float = 0.0
    disconnect_after_chunks: int | None = None
    stall_after_chunks: int | None = None
    stall_seconds: float = 0.0


NO_FAULTS = Faults()


@dataclass(frozen=True, slots=True)
class Text:
    """A text answer, streamed in `pieces` chunks (word-aligned where possible)."""

    text: str
    finish_reason: str = "stop"
    pieces: int = 4
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    prompt_tokens: int | None = None
    """The input tokens Azure reports (None: the fake's count of the request body); like cache hits, a statistic."""
    faults: Faults = NO_FAULTS


@dataclass(frozen=True, slots=True)
class ToolCalls:
    """Parallel tool calls, optionally after some text.

    Each call is `(name, arguments)`; a mapping is JSON-encoded, a string is
    sent verbatim (so malformed arguments can be scripted).  Arguments are cut
    at random points (`seed` makes the cuts and the `call_` ids repeatable).
    `mixed_chunk` puts the last text fragment and the first call header in one
    delta, as some models do.
    """

    calls: Sequence[tuple[str, Mapping[str, Any] | str]]
    text: str | None = None
    finish_reason: str = "tool_calls"
    mixed_chunk: bool = False
    seed: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    prompt_tokens: int | None = None
    faults: Faults = NO_FAULTS


RateLimitHeaders = Literal["retry-after", "reset-tokens", "none"]
"""429 header sets: `retry-after` (+ `-ms`) with the remaining counts, the remaining counts with
`x-ratelimit-reset-tokens`, or no rate-limit header at all."""


@dataclass(frozen=True, slots=True)
class Error:
    """An error reply with any status, JSON body and extra headers (`pretty`: laid out like the model backend)."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    faults: Faults = NO_FAULTS
    pretty: bool = False

    @classmethod
    def from_azure(cls, error: AzureError, headers: Mapping[str, str] | None = None) -> Error:
        """Wrap one of `errors`' real error bodies, keeping its layout."""
        return cls(error.status, error.body, dict(headers or {}), pretty=error.pretty)

    @classmethod
    def rate_limited(
        cls,
        retry_after: int = 1,
        *,
        api: Api = "chat",
        api_version: str = "2024-10-21",
        headers: RateLimitHeaders = "retry-after",
    ) -> Error:
        """Azure's 429 for a spent token quota, with one of the header sets it has been seen with."""
        return cls.from_azure(
            errors.rate_limited(retry_after, api=api, api_version=api_version), _limit_headers(headers, retry_after)
        )

    @classmethod
    def rate_limit_exceeded(cls, seconds: int = 2) -> Error:
        """The short 429 (`Rate limit is exceeded. Try again in N seconds.`)."""
        return cls.from_azure(errors.rate_limit_exceeded(seconds), {"retry-after": str(seconds)})

    @classmethod
    def content_filtered(cls) -> Error:
        """Azure's 400 for a prompt the content filter blocked."""
        return cls.from_azure(errors.content_filter_error())

    @classmethod
    def server_error(cls) -> Error:
        """The transient 500 `server_error`."""
        return cls.from_azure(errors.server_error())

    @classmethod
    def timeout(cls) -> Error:
        """The 408 for a generation that ran too long."""
        return cls.from_azure(errors.TIMEOUT)

    @classmethod
    def entra_unauthorized(cls) -> Error:
        """The 401 for a bad or expired Entra token (a token that expired mid-conversation)."""
        return cls.from_azure(errors.ENTRA_UNAUTHORIZED)

    @classmethod
    def permission_denied(cls, principal: str, api: Api = "chat") -> Error:
        """The 401 PermissionDenied for an identity without the data-plane role."""
        return cls.from_azure(errors.permission_denied(principal, api))

    @classmethod
    def key_auth_disabled(cls) -> Error:
        """The 403 for a key sent to a resource with key authentication disabled."""
        return cls.from_azure(errors.KEY_AUTH_DISABLED)


def _limit_headers(kind: RateLimitHeaders, retry_after: int) -> dict[str, str]:
    if kind == "none":
        return {}
    remaining = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "0"}
    if kind == "reset-tokens":
        return {**remaining, "x-ratelimit-reset-tokens": str(retry_after)}
    return {"retry-after": str(retry_after), "retry-after-ms": f"{retry_after}000", **remaining}


@dataclass(frozen=True, slots=True)
class RawSSE:
    """A body sent verbatim (a recorded stream, or any raw bytes with `content_type`)."""

    body: bytes
    status: int = 200
    content_type: str = SSE_CONTENT_TYPE
    headers: Mapping[str, str] = field(default_factory=dict)
    faults: Faults = NO_FAULTS


Reply = Text | ToolCalls | Error | RawSSE
"""Anything the fake can be scripted to answer with."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """A reply turned into wire form: status, headers and the body as SSE events (or one piece)."""

    status: int
    content_type: str
    headers: Mapping[str, str]
    pieces: Sequence[bytes]
    faults: Faults


def random_id(prefix: str, length: int, rng: random.Random) -> str:
    """`prefix` plus `length` random letters and digits, like `call_…` and `chatcmpl-…` ids."""
    return prefix + "".join(rng.choice(ALNUM) for _ in range(length))


def sse_event(payload: Mapping[str, Any]) -> bytes:
    """One `data: <compact json>\\n\\n` event."""
    return b"data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def split_events(body: bytes) -> list[bytes]:
    """Cut an SSE body into its events, each keeping its blank-line terminator."""
    events = [event + b"\n\n" for event in body.split(b"\n\n")]
    events[-1] = events[-1][:-2]
    return [event for event in events if event]


def sse_data(body: bytes) -> list[str]:
    """The `data:` payloads of an SSE body, in order (`[DONE]` included)."""
    return [line[len("data:") :].strip() for line in body.decode().splitlines() if line.startswith("data:")]


def render(reply: Reply, request: Mapping[str, Any], deployment: Deployment) -> Rendered:
    """Turn `reply` into the wire form for a chat/completions `request` to `deployment`."""
    if isinstance(reply, Error):
        body = AzureError(reply.status, reply.body, reply.pretty).render()
        return Rendered(reply.status, JSON_CONTENT_TYPE, reply.headers, [body], reply.faults)
    if isinstance(reply, RawSSE):
        pieces = split_events(reply.body) if reply.content_type.startswith("text/event-stream") else [reply.body]
        return Rendered(reply.status, reply.content_type, reply.headers, pieces, reply.faults)
    completion = _Completion(reply, request, deployment)
    if request.get("stream") is True:
        return Rendered(200, SSE_CONTENT_TYPE, {}, completion.stream(), reply.faults)
    body = json.dumps(completion.message(), separators=(",", ":"), ensure_ascii=False).encode()
    return Rendered(200, JSON_CONTENT_TYPE, {}, [body], reply.faults)


def split_text(text: str, pieces: int) -> list[str]:
    """Cut `text` into about `pieces` fragments at word starts; their concatenation is `text`."""
    if not text:
        return []
    pieces = max(1, pieces)
    starts = [0] + [i for i in range(1, len(text)) if text[i] == " " and text[i - 1] != " "]
    if len(starts) < pieces:
        starts = list(range(len(text)))
    step = max(1.0, len(starts) / pieces)
    chosen = sorted({starts[int(k * step)] for k in range(min(pieces, len(starts)))})
    return [text[a:b] for a, b in zip(chosen, [*chosen[1:], len(text)], strict=True)]


def split_randomly(text: str, rng: random.Random) -> list[str]:
    """Cut `text` at random points (1 to 8 characters a piece), as models stream arguments."""
    cuts: list[str] = []
    position = 0
    while position < len(text):
        size = rng.randint(1, 8)
        cuts.append(text[position : position + size])
        position += size
    return cuts


class _Completion:
    """One completion's identity (id, created, model) and its chunks / message."""

    def __init__(self, reply: Text | ToolCalls, request: Mapping[str, Any], deployment: Deployment) -> None:
        self.reply = reply
        self.rng = random.Random(reply.seed if isinstance(reply, ToolCalls) else None)
        self.id = random_id("chatcmpl-", 29, self.rng)
        self.created = int(time.time())
        self.deployment = deployment
        self.prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else prompt_tokens(request)
        options = request.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.text = reply.text or ""
        self.calls = (
            [
                (
                    random_id("call_", 24, self.rng),
                    name,
                    args if isinstance(args, str) else json.dumps(args, ensure_ascii=False),
                )
                for name, args in reply.calls
            ]
            if isinstance(reply, ToolCalls)
            else []
        )

    def usage(self) -> dict[str, Any]:
        """Azure's usage object, with a rough completion-token estimate."""
        produced = len(self.text) + sum(len(args) for _, _, args in self.calls)
        completion = max(1, produced // 4) + self.reply.reasoning_tokens
        return {
            "completion_tokens": completion,
            "completion_tokens_details": {
                "accepted_prediction_tokens": 0,
                "audio_tokens": 0,
                "reasoning_tokens": self.reply.reasoning_tokens,
                "rejected_prediction_tokens": 0,
            },
            "prompt_tokens": self.prompt_tokens,
            "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": self.reply.cached_tokens},
            "total_tokens": self.prompt_tokens + completion,
        }

    def _chunk(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        payload: dict[str, Any] = {
            "choices": choices,
            "created": self.created,
            "id": self.id,
            "model": self.deployment.model_name,
            "obfuscation": random_id("", self.rng.randint(1, 15), self.rng),
            "object": "chat.completion.chunk",
            "system_fingerprint": self.deployment.system_fingerprint,
        }
        if self.include_usage:
            payload["usage"] = usage
        return sse_event(payload)

    def _delta(self, delta: dict[str, Any], filters: dict[str, Any], finish: str | None = None) -> bytes:
        choice: dict[str, Any] = {"delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}
        if self.deployment.content_filter == "sync":
            choice = {"content_filter_results": filters, **choice}
        return self._chunk([choice])

    def _filter_annotations(self, filtered: bool) -> list[bytes]:
        """The asynchronous filter's verdict on the whole text, sent after the finish chunk."""
        offsets = {"check_offset": 0, "start_offset": 0, "end_offset": len(self.text)}
        verdicts = (FILTERED if filtered else CONTENT_SAFE, PROTECTED_MATERIAL)
        return [
            sse_event(
                {
                    "choices": [
                        {"content_filter_offsets": offsets, "content_filter_results": results, "finish_reason": None, "index": 0}
                    ],
                    "created": 0,
                    "id": "",
                    "model": "",
                    "object": "",
                }
            )
            for results in verdicts
        ]

    def stream(self) -> list[bytes]:
        """Every SSE event of the streamed completion, `[DONE]` last."""
        events = [
            sse_event(
                {
                    "choices": [],
                    "created": 0,
                    "id": "",
                    "model": "",
                    "object": "",
                    "prompt_filter_results": PROMPT_FILTER_RESULTS,
                }
            )
        ]
        role = {"content": "", "refusal": None, "role": "assistant"} if self.text else {"content": None, "role": "assistant"}
        events.append(self._delta(role, {}))
        fragments = split_text(self.text, self.reply.pieces) if isinstance(self.reply, Text) else split_text(self.text, 3)
        mixed = isinstance(self.reply, ToolCalls) and self.reply.mixed_chunk and bool(fragments and self.calls)
        for fragment in fragments[:-1] if mixed else fragments:
            events.append(self._delta({"content": fragment}, CONTENT_SAFE))
        for index, (call_id, name, arguments) in enumerate(self.calls):
            header = {"function": {"arguments": "", "name": name}, "id": call_id, "index": index, "type": "function"}
            if mixed and index == 0:
                events.append(self._delta({"content": fragments[-1], "tool_calls": [header]}, CONTENT_SAFE))
            else:
                events.append(self._delta({"tool_calls": [header]}, {}))
            for piece in split_randomly(arguments, self.rng):
                events.append(self._delta({"tool_calls": [{"function": {"arguments": piece}, "index": index}]}, {}))
        finish = self.reply.finish_reason
        events.append(self._delta({}, FILTERED if finish == "content_filter" else {}, finish))
        if self.deployment.content_filter == "async":
            events.extend(self._filter_annotations(finish == "content_filter"))
        if self.include_usage:
            events.append(self._chunk([], self.usage()))
        events.append(DONE)
        return events

    def message(self) -> dict[str, Any]:
        """The non-streaming `chat.completion` object."""
        message: dict[str, Any] = {
            "annotations": [],
            "content": self.text or None,
            "refusal": None,
            "role": "assistant",
        }
        if self.calls:
            message["tool_calls"] = [
                {"function": {"arguments": arguments, "name": name}, "id": call_id, "type": "function"}
                for call_id, name, arguments in self.calls
            ]
        finish = self.reply.finish_reason
        filters = FILTERED if finish == "content_filter" else (CONTENT_SAFE if self.text else {})
        return {
            "choices": [
                {
                    "content_filter_results": filters,
                    "finish_reason": finish,
                    "index": 0,
                    "logprobs": None,
                    "message": message,
                }
            ],
            "created": self.created,
            "id": self.id,
            "model": self.deployment.model_name,
            "object": "chat.completion",
            "prompt_filter_results": PROMPT_FILTER_RESULTS,
            "system_fingerprint": self.deployment.system_fingerprint,
            "usage": self.usage(),
        }
