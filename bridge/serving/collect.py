"""Gathering an event stream into a whole `Completion` (for clients that do not stream).

event               Completion content
------------------  ----------------------------------------------------------
TextDelta           appended to the last TextPart (or a new one)
Citation            added to the last TextPart's citations (or a new empty one)
ReasoningDelta      appended to the last unsigned ReasoningPart (or a new one)
ReasoningSignature  signs the last unsigned ReasoningPart (or a new empty one)
ToolCallStart/Delta a ToolCall, its arguments gathered by slot
WebSearchCall       itself; WebSearchResults likewise
Usage / Finish      the last one wins / the end
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from bridge.errors import BridgeError
from bridge.model import (
    Citation,
    Completion,
    Event,
    Finish,
    ReasoningDelta,
    ReasoningPart,
    ReasoningSignature,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    WebSearchCall,
    WebSearchResults,
)


class Collector:
    """Feed events in order; `completion()` gives the result once `Finish` was seen."""

    def __init__(self) -> None:
        self.content: list[TextPart | ReasoningPart | ToolCall | WebSearchCall | WebSearchResults] = []
        self._calls: dict[int, ToolCall] = {}
        self.usage = Usage()
        self.finish: Finish | None = None

    def feed(self, event: Event) -> None:
        last = self.content[-1] if self.content else None
        if isinstance(event, TextDelta):
            if isinstance(last, TextPart):
                last.text += event.text
            else:
                self.content.append(TextPart(event.text))
        elif isinstance(event, Citation):
            if isinstance(last, TextPart):
                last.citations.append(event)
            else:
                self.content.append(TextPart("", [event]))
        elif isinstance(event, ReasoningDelta):
            if isinstance(last, ReasoningPart) and last.signature is None:
                last.text += event.text
            else:
                self.content.append(ReasoningPart(event.text))
        elif isinstance(event, ReasoningSignature):
            if isinstance(last, ReasoningPart) and last.signature is None:
                last.signature = event.signature
            elif event.signature:
                self.content.append(ReasoningPart("", event.signature))
        elif isinstance(event, (WebSearchCall, WebSearchResults)):
            self.content.append(event)
        elif isinstance(event, ToolCallStart):
            call = ToolCall(event.id, event.name, "")
            self._calls[event.slot] = call
            self.content.append(call)
        elif isinstance(event, ToolCallDelta):
            started = self._calls.get(event.slot)
            if started is not None:
                started.arguments += event.arguments
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Finish):
            self.finish = event

    def completion(self) -> Completion:
        if self.finish is None:
            raise BridgeError("api_error", "The upstream response ended without finishing")
        return Completion(self.content, self.finish, self.usage)


async def collect(batches: AsyncIterable[list[Event]]) -> Completion:
    collector = Collector()
    async for batch in batches:
        for event in batch:
            collector.feed(event)
    return collector.completion()
