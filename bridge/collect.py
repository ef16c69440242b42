"""Gathering an event stream into a whole `Completion` (for clients that do not stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from bridge.errors import BridgeError
from bridge.model import (
    Completion,
    Event,
    Finish,
    ReasoningDelta,
    ReasoningPart,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)


class Collector:
    """Feed events in order; `completion()` gives the result once `Finish` was seen."""

    def __init__(self) -> None:
        self.content: list[TextPart | ReasoningPart | ToolCall] = []
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
        elif isinstance(event, ReasoningDelta):
            if isinstance(last, ReasoningPart):
                last.text += event.text
            else:
                self.content.append(ReasoningPart(event.text))
        elif isinstance(event, ToolCallStart):
            call = ToolCall(event.id, event.name, "")
            self._calls[event.slot] = call
            self.content.append(call)
        elif isinstance(event, ToolCallDelta):
            call = self._calls.get(event.slot)
            if call is not None:
                call.arguments += event.arguments
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Finish):
            self.finish = event

    def completion(self) -> Completion:
        if self.finish is None:
            raise BridgeError("api_error", "The upstream response ended without finishing")
        return Completion(self.content, self.finish, self.usage)


async def collect(events: AsyncIterator[Event]) -> Completion:
    collector = Collector()
    async for event in events:
        collector.feed(event)
    return collector.completion()
