"""Azure OpenAI chat/completions stream chunks → internal events.

    chat.completion.chunk                         internal event
    --------------------------------------------  ---------------------------------
    choices: [] + prompt_filter_results           (nothing: Azure's first chunk)
    delta.content                                 TextDelta
    delta.refusal                                 TextDelta (and finish refusal)
    delta.reasoning_content / delta.reasoning     ReasoningDelta (vLLM, DeepSeek, Ollama)
    delta.tool_calls[i] with id                   ToolCallStart(slot=index)
    delta.tool_calls[i].function.arguments        ToolCallDelta(slot=index)
    usage (the include_usage chunk)               Usage (input excludes cached tokens)
    finish_reason stop | length | tool_calls |    Finish end_turn | max_tokens | tool_use |
                  content_filter                         refusal
    content_filter_results, obfuscation, ...      ignored

    {"error": {...}} (no choices)                 UpstreamError (the exchange's recovery step
                                                  or, once the answer has begun, an error event)

`Finish` is held back until the stream ends (`[DONE]`), because the usage
chunk comes after the finish chunk.  A stream that ends with no finish reason
is reported as truncated, never passed off as complete.  `events_of` reads a
whole (non-streamed) `chat.completion` through the same translator: its
message is the one delta of its one chunk.
"""

from __future__ import annotations

from typing import Any

from bridge.model import (
    Event,
    Finish,
    FinishReason,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from bridge.upstreams.failures import IN_STREAM, ErrorReport, UpstreamError, truncated

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def usage_of(raw: dict[str, Any]) -> Usage:
    prompt = raw.get("prompt_tokens") or 0
    cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (raw.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return Usage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=raw.get("completion_tokens") or 0,
        cached_tokens=cached,
        reasoning_tokens=reasoning,
    )


class ChatStreamTranslator:
    """Feed decoded chunks one by one; call `end()` when the upstream stream is over."""

    __slots__ = ("_finish", "_refused", "_started", "_usage")

    finished = False
    """chat/completions has no terminal event of its own: its stream ends with `[DONE]`."""

    def __init__(self) -> None:
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._started: set[int] = set()
        self._refused = False

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        if "error" in chunk and not chunk.get("choices"):
            raise UpstreamError(ErrorReport.of(IN_STREAM, chunk["error"], fallback="unknown error"))
        events: list[Event] = []
        usage = chunk.get("usage")
        if usage:
            self._usage = usage_of(usage)
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if delta:
                self._delta(delta, events)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return events

    def _delta(self, delta: dict[str, Any], events: list[Event]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            events.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if content:
            events.append(TextDelta(content))
        refusal = delta.get("refusal")
        if refusal:
            self._refused = True
            events.append(TextDelta(refusal))
        for position, call in enumerate(delta.get("tool_calls") or ()):
            slot = call.get("index", position)
            function = call.get("function") or {}
            if slot not in self._started:
                self._started.add(slot)
                events.append(ToolCallStart(slot, call.get("id") or f"call_{slot}", function.get("name") or ""))
            arguments = function.get("arguments")
            if arguments:
                events.append(ToolCallDelta(slot, arguments))

    def end(self) -> list[Event]:
        if self._finish is None:
            raise truncated()
        events: list[Event] = [self._usage] if self._usage is not None else []
        reason = FINISH_REASONS.get(self._finish, "end_turn")
        if self._refused:
            reason = "refusal"
        elif self._started and reason == "end_turn":
            reason = "tool_use"
        events.append(Finish(reason))
        return events


def events_of(completion: Any) -> list[Event]:
    """The events of a whole `chat.completion` (a non-streamed answer)."""
    if not isinstance(completion, dict):
        raise truncated()
    translator = ChatStreamTranslator()
    choices = [
        {"index": choice.get("index", 0), "delta": choice.get("message"), "finish_reason": choice.get("finish_reason")}
        for choice in completion.get("choices") or ()
        if isinstance(choice, dict)
    ]
    chunk = {"choices": choices, "usage": completion.get("usage")}
    if "error" in completion:
        chunk["error"] = completion["error"]
    return translator.feed(chunk) + translator.end()
