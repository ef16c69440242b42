"""Stand-in upstreams that misbehave where the fake Azure cannot: in the body's framing and the connection.

The fake Azure runs under uvicorn, which frames every body correctly and ends
it with its last event.  `MisbehavingUpstream` speaks HTTP/1.1 itself (asyncio
streams on 127.0.0.1, in a daemon thread) and answers every request with one
`Behaviour`.  The events are the fake Azure's own (`render`,
`render_responses`), so the bridge reads real Azure streams on the v1 paths
(`/openai/v1/chat/completions`, `/openai/v1/responses`); only the transport
misbehaves:

    behaviour   what it does
    ----------  ------------------------------------------------------------------------------------------
    Lingering   sends a whole stream (`[DONE]` / `response.completed` last), then keeps the chunked body
                open until `release` is set (at most `hold_seconds`), then ends it properly, so the
                connection can carry the next request; `dropped` counts the bodies whose reader closed
                the connection while it was held
    Endless     a chat stream that never ends (a word every `interval` seconds) until its reader closes the
                connection, which `dropped` counts
    Compressed  compresses every answer (gzip or deflate), streamed or not, whatever Accept-Encoding asked
    Flood       a chat stream of `size` bytes of text, written as fast as the connection takes it; `sent`
                counts what the connection accepted (TCP pushes back on a reader that stops)

`connections` counts the TCP connections accepted; `requests` records each
request (path, headers, JSON body, the connection it came on).  `send_buffer`
caps the kernel's send buffer of each connection (SO_SNDBUF), so what a
stalled reader lets through depends less on the host's TCP settings.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol

from tests.support.fake_azure import DEFAULT_DEPLOYMENTS, ResponsesText, Text
from tests.support.fake_azure.responses_streams import render_responses
from tests.support.fake_azure.streams import Error, Rendered, render, sse_event

DEPLOYMENTS = {deployment.name: deployment for deployment in DEFAULT_DEPLOYMENTS}
ANSWER = "Hello from a misbehaving upstream."
STARTUP_SECONDS = 10.0
REASONS = {200: "OK", 400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error"}


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as the stand-in received it."""

    path: str
    headers: Mapping[str, str]
    body: Any
    connection: int
    """Which connection (1, 2, ...) it came on."""

    @property
    def api(self) -> Literal["chat", "responses"]:
        return "responses" if self.path.endswith("/responses") else "chat"

    @property
    def streamed(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True


def rendered(seen: Seen, text: str = ANSWER, error: Error | None = None) -> Rendered:
    """What the fake Azure would answer `seen` with: `text` (in either API, streamed or not), or `error`."""
    deployment = DEPLOYMENTS[seen.body["model"]]
    if error is not None:
        return render(error, seen.body, deployment)
    if seen.api == "responses":
        return render_responses(ResponsesText(text, reasoning=()), seen.body, deployment)
    return render(Text(text), seen.body, deployment)


def chat_chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    """One chat/completions stream event (the fields the bridge reads, as Azure writes them)."""
    choice = {"delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}
    return sse_event(
        {"choices": [choice], "created": 0, "id": "chatcmpl-standin", "model": "gpt-5", "object": "chat.completion.chunk"}
    )


class Out:
    """The answer being written: a head then chunks (`start`, `send`, `end`), or one `whole` body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.sent = 0
        """Bytes the connection has taken (written and drained below the transport's high-water mark)."""

    @property
    def dropped(self) -> bool:
        """The reader closed the connection (nothing more can come on it)."""
        return self._reader.at_eof()

    async def _write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()
        self.sent += len(data)

    @staticmethod
    def _head(status: int, headers: Mapping[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", *(f"{name}: {value}" for name, value in headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def start(self, status: int, headers: Mapping[str, str]) -> None:
        await self._write(self._head(status, {**headers, "transfer-encoding": "chunked"}))

    async def send(self, data: bytes) -> None:
        if data:  # an empty chunk would end the body
            await self._write(b"%x\r\n%b\r\n" % (len(data), data))

    async def end(self) -> None:
        await self._write(b"0\r\n\r\n")

    async def whole(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        await self._write(self._head(status, {**headers, "content-length": str(len(body))}) + body)


class Behaviour(Protocol):
    async def answer(self, seen: Seen, out: Out) -> None: ...


@dataclass
class Lingering:
    """Streams its answer, then holds the body open after the terminal event until `release` (or `hold_seconds`)."""

    hold_seconds: float = 30.0
    release: threading.Event = field(default_factory=threading.Event)
    holding: int = 0
    """Bodies held open right now: their last event sent, their end not."""
    ended: int = 0
    """Bodies ended after being held."""
    dropped: int = 0
    """Bodies whose reader closed the connection while they were held."""

    async def answer(self, seen: Seen, out: Out) -> None:
        reply = rendered(seen)
        await out.start(reply.status, {"content-type": reply.content_type})
        for piece in reply.pieces:
            await out.send(piece)
        self.holding += 1
        give_up = time.monotonic() + self.hold_seconds
        while not self.release.is_set() and time.monotonic() < give_up and not out.dropped:
            await asyncio.sleep(0.02)
        self.holding -= 1
        if out.dropped:
            self.dropped += 1
            return
        await out.end()
        self.ended += 1


@dataclass
class Endless:
    """A chat stream that never ends: `word N ` every `interval` seconds, until the reader closes the connection."""

    interval: float = 0.02
    dropped: int = 0
    """Answers whose reader closed the connection."""

    async def answer(self, _seen: Seen, out: Out) -> None:
        await out.start(200, {"content-type": "text/event-stream; charset=utf-8"})
        await out.send(chat_chunk({"content": "", "role": "assistant"}))
        words = 0
        try:
            while not out.dropped:
                words += 1
                await out.send(chat_chunk({"content": f"word {words} "}))
                await asyncio.sleep(self.interval)
        except ConnectionError:
            pass
        self.dropped += 1
        raise ConnectionResetError("the reader left")


@dataclass
class Compressed:
    """Compresses every answer with `encoding`, whatever the request's Accept-Encoding; `error` answers that instead."""

    encoding: Literal["gzip", "deflate"] = "gzip"
    error: Error | None = None

    async def answer(self, seen: Seen, out: Out) -> None:
        reply = rendered(seen, error=self.error)
        packer = zlib.compressobj(wbits=31 if self.encoding == "gzip" else 15)
        headers = {"content-type": reply.content_type, "content-encoding": self.encoding, **reply.headers}
        if not seen.streamed or reply.status != 200:
            await out.whole(reply.status, headers, packer.compress(b"".join(reply.pieces)) + packer.flush())
            return
        await out.start(reply.status, headers)
        for piece in reply.pieces:
            await out.send(packer.compress(piece) + packer.flush(zlib.Z_SYNC_FLUSH))
        await out.send(packer.flush())
        await out.end()


@dataclass
class Flood:
    """A chat stream of about `size` bytes of text in `piece`-byte deltas, as fast as the connection takes it."""

    size: int
    piece: int = 64 * 1024
    sent: int = 0
    """Bytes the connection of the current (or last) answer has taken."""
    finished: int = 0
    """Answers sent to their end."""

    async def answer(self, _seen: Seen, out: Out) -> None:
        self.sent = 0
        text = ("lorem ipsum " * (self.piece // 12 + 1))[: self.piece]
        content = chat_chunk({"content": text})
        await out.start(200, {"content-type": "text/event-stream; charset=utf-8"})
        await out.send(chat_chunk({"content": "", "role": "assistant"}))
        for _ in range(self.size // self.piece):
            await out.send(content)
            self.sent = out.sent
        await out.send(chat_chunk({}, "stop") + b"data: [DONE]\n\n")
        await out.end()
        self.sent = out.sent
        self.finished += 1


class MisbehavingUpstream:
    """Serve `behaviour` on a free 127.0.0.1 port while the `with` block runs (see the module's notes)."""

    def __init__(self, behaviour: Behaviour, send_buffer: int | None = None) -> None:
        self.behaviour = behaviour
        self.send_buffer = send_buffer
        self.url = ""
        self.connections = 0
        self.requests: list[Seen] = []
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="misbehaving-upstream", daemon=True)

    def __enter__(self) -> MisbehavingUpstream:
        self._thread.start()
        if not self._ready.wait(STARTUP_SECONDS):
            raise RuntimeError("the misbehaving upstream did not start")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=5)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        async with server:
            await self._stop.wait()
            for writer in list(self._writers):
                writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        if self.send_buffer is not None:
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
        self._writers.add(writer)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                path = head[0].split(" ")[1]
                headers = {
                    name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:] if line)
                }
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                seen = Seen(path, headers, json.loads(raw) if raw else None, number)
                self.requests.append(seen)
                await self.behaviour.answer(seen, Out(reader, writer))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
