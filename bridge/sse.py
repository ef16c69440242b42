"""Server-sent events: the data of an upstream byte stream, and events encoded for clients.

Reading follows the SSE rules that matter for real upstreams: `\\n` or
`\\r\\n` line ends, several `data:` lines of one event joined with `\\n`,
comments (`:`) and other fields ignored, and a last event dispatched even
when the stream ends without its closing blank line (Azure's Responses API
does that).  Neither upstream needs the `event:` line: chat/completions sends
none, and every Responses event repeats its name as the JSON `type`.

JSON goes through orjson both ways: it reads and writes the many small
objects of a stream several times faster than the standard library.  It reads
objects and lists nested up to 1,024 levels but writes at most
`MAX_WRITTEN_DEPTH`: `dumps` reports a deeper value as a `RecursionError`,
which is what the standard library and any recursive walk report, so a
request nested too deeply to pass on fails one way wherever it is found
(`bridge.serving.handler` answers it with a 400).
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_WRITTEN_DEPTH = 254
"""The most levels of nested objects and lists orjson writes (it reads 1,024)."""
ORJSON_TOO_DEEP = "Recursion limit reached"


class DataReader:
    """Incremental SSE reader: feed byte chunks, get the data of each completed event."""

    __slots__ = ("_buffer", "_data")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        buffer = self._buffer + chunk if self._buffer else chunk
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        events: list[bytes] = []
        data = self._data
        for line in lines:
            if line[-1:] == b"\r":
                line = line[:-1]
            if not line:
                if data:
                    events.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data = []
            elif line[:5] == b"data:":
                data.append(line[6:] if line[5:6] == b" " else line[5:])
        self._data = data
        return events

    def close(self) -> list[bytes]:
        """The data of the last event, when the stream ended without its closing blank line."""
        events = self.feed(b"\n\n") if self._buffer or self._data else []
        self._buffer = b""
        return events


def loads(data: bytes | str) -> Any:
    """Decode JSON (strict: no NaN or Infinity, no lone surrogates); raises `ValueError`."""
    return orjson.loads(data)


def dumps(value: object) -> bytes:
    """Compact JSON, UTF-8; `RecursionError` for a value nested deeper than `MAX_WRITTEN_DEPTH`."""
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        if str(exc) == ORJSON_TOO_DEEP:
            raise RecursionError(f"nested deeper than {MAX_WRITTEN_DEPTH} levels") from None
        raise


def encode(event: str | None, data: object) -> bytes:
    """One SSE event; `data` is serialised as compact JSON."""
    if event is None:
        return b"data: " + orjson.dumps(data) + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
