"""Server-sent events: decoding an upstream byte stream, encoding events for clients.

The decoder follows the SSE rules that matter for real upstreams: `\\n` or
`\\r\\n` line ends, several `data:` lines joined with `\\n`, comments (`:`)
ignored, and a last event dispatched even when the stream ends without the
closing blank line (Azure's Responses API does that).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("bridge.upstream")


@dataclass(slots=True)
class ServerSentEvent:
    event: str | None
    data: str


class SSEDecoder:
    """Incremental decoder: feed byte chunks, get complete events back."""

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        buffer = self._buffer + chunk if self._buffer else chunk
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        events: list[ServerSentEvent] = []
        for raw in lines:
            self._line(raw, events)
        return events

    def close(self) -> list[ServerSentEvent]:
        """Flush what is left when the byte stream ends."""
        events: list[ServerSentEvent] = []
        if self._buffer:
            self._line(self._buffer, events)
            self._buffer = b""
        self._dispatch(events)
        return events

    def _line(self, raw: bytes, events: list[ServerSentEvent]) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if not line:
            self._dispatch(events)
            return
        if line.startswith("data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(" ") else value)
        elif line.startswith("event:"):
            self._event = line[6:].strip()

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        if self._data:
            events.append(ServerSentEvent(self._event, "\n".join(self._data)))
        self._event = None
        self._data = []


async def iter_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


async def json_objects(chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of an upstream SSE body, read to its very end so its connection can be reused.

    `[DONE]` (chat/completions) ends the data; anything after it is read and ignored.  Events that
    are not JSON objects (keep-alives, garbage) are skipped.
    """
    done = False
    async for event in iter_events(chunks):
        if done or event.data == "[DONE]":
            done = True
            continue
        try:
            decoded = json.loads(event.data)
        except ValueError:
            log.warning("skipped an upstream stream event that is not JSON")
            continue
        if isinstance(decoded, dict):
            yield decoded


def encode(event: str | None, data: object) -> bytes:
    """One SSE event; `data` is serialised as compact JSON."""
    payload = json.dumps(data, separators=(",", ":"))
    if event is None:
        return f"data: {payload}\n\n".encode()
    return f"event: {event}\ndata: {payload}\n\n".encode()
