"""Server-sent events as real upstreams frame them."""

from __future__ import annotations

from bridge.sse import DataReader


def test_sse_reader_handles_real_framing() -> None:
    reader = DataReader()
    raw = 'event: a\r\ndata: {"x":\r\ndata: 1}\r\n\r\n: comment\n\ndata: caf\u00e9\n\ndata: last'.encode()
    events = []
    for i in range(len(raw)):
        events += reader.feed(raw[i : i + 1])
    events += reader.close()
    assert events == [b'{"x":\n1}', "caf\u00e9".encode(), b"last"]
