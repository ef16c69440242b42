"""Internal events → OpenAI `chat.completion.chunk` server-sent events.

data: chunk, delta {role: assistant, content: ""}     at once
data: chunk, delta {content} | {tool_calls}           as events arrive; the adjacent fragments
                                                      of one batch merged into one chunk
data: chunk, delta {}, finish_reason                  at Finish
data: chunk, choices [], usage                        only with stream_options.include_usage
                                                      (then every chunk has "usage": null)
data: [DONE]
`: keep-alive` comments while the upstream is silent.  A failure after the
start is one `data: {"error": {...}}` event (the openai SDK raises it) and no [DONE].

internal event          delta
----------------------  -----------------------------------------------------------------
ReasoningDelta          content, inside a Thinking section (reasoning.py) that the next
                        text, tool call or finish closes
TextDelta               content
ToolCallStart           tool_calls [{index: n, id, type: function, function {name, arguments: ""}}]
                        n = 0, 1, 2 ... in the order the calls start: one index per call
ToolCallDelta           tool_calls [{index: n, function {arguments}}]
Usage                   the usage chunk (completion.usage_body)
Finish                  finish_reason (completion.FINISH_REASONS)
ReasoningSignature, WebSearchCall, WebSearchResults, Citation: not carried
"""

from __future__ import annotations

import logging
from typing import Any

from bridge.errors import BridgeError
from bridge.fronts.openai.completion import FINISH_REASONS, usage_body
from bridge.fronts.openai.errors import error_body
from bridge.fronts.openai.reasoning import CLOSE, OPEN
from bridge.model import Event, Finish, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallStart, Usage
from bridge.sse import encode

DONE = b"data: [DONE]\n\n"
KEEP_ALIVE = b": keep-alive\n\n"
log = logging.getLogger(__name__)


def error_event(error: BridgeError) -> bytes:
    return encode(None, error_body(error))


class _Deltas:
    """The deltas of one batch, adjacent content and adjacent arguments of one call merged."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def content(self, text: str) -> None:
        last = self.items[-1] if self.items else None
        if last is not None and "content" in last:
            last["content"] += text
        else:
            self.items.append({"content": text})

    def call(self, index: int, call_id: str, name: str) -> None:
        function = {"name": name, "arguments": ""}
        self.items.append({"tool_calls": [{"index": index, "id": call_id, "type": "function", "function": function}]})

    def arguments(self, index: int, text: str) -> None:
        last = self.items[-1] if self.items else None
        if last is not None and "tool_calls" in last and last["tool_calls"][0]["index"] == index:
            last["tool_calls"][0]["function"]["arguments"] += text
        else:
            self.items.append({"tool_calls": [{"index": index, "function": {"arguments": text}}]})


class OpenAIStreamRenderer:
    """Renders one completion's events as chunks; keeps the tool-call indexes and the open Thinking section."""

    def __init__(self, completion_id: str, model: str, created: int, include_usage: bool) -> None:
        self.completion_id = completion_id
        self.model = model
        self.created = created
        self.include_usage = include_usage
        self.indexes: dict[int, int] = {}
        self.calls = 0
        self.thinking = False
        self.usage = Usage()
        self.finished = False
        self.error_kind: str | None = None

    def _chunk(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        payload: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if self.include_usage:
            payload["usage"] = usage
        return encode(None, payload)

    def _delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return self._chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}])

    def heartbeat(self) -> bytes:
        return KEEP_ALIVE

    def error(self, error: BridgeError) -> bytes:
        self.error_kind = error.kind
        return error_event(error)

    def opening(self) -> bytes:
        return self._delta({"role": "assistant", "content": ""})

    def _end_thinking(self, deltas: _Deltas) -> None:
        if self.thinking:
            deltas.content(CLOSE)
            self.thinking = False

    def render(self, events: list[Event]) -> bytes:
        deltas = _Deltas()
        finish: Finish | None = None
        for event in events:
            if isinstance(event, TextDelta) and event.text:
                self._end_thinking(deltas)
                deltas.content(event.text)
            elif isinstance(event, ToolCallDelta) and event.arguments:
                index = self.indexes.get(event.slot)
                if index is None:
                    log.warning("dropped arguments for tool call slot %s that never started", event.slot)
                else:
                    deltas.arguments(index, event.arguments)
            elif isinstance(event, ReasoningDelta) and event.text:
                if not self.thinking:
                    deltas.content(OPEN)
                    self.thinking = True
                deltas.content(event.text)
            elif isinstance(event, ToolCallStart):
                self._end_thinking(deltas)
                self.indexes[event.slot] = self.calls
                deltas.call(self.calls, event.id, event.name)
                self.calls += 1
            elif isinstance(event, Usage):
                self.usage = event
            elif isinstance(event, Finish):
                self._end_thinking(deltas)
                finish = event
        out = [self._delta(delta) for delta in deltas.items]
        if finish is not None:
            out.append(self._delta({}, FINISH_REASONS[finish.reason]))
            if self.include_usage:
                out.append(self._chunk([], usage_body(self.usage)))
            out.append(DONE)
            self.finished = True
        return b"".join(out)
