"""One upstream answer as batches of internal events: `UpstreamStream`, and the decoders beneath it.

    HTTP body reads ─ Decoder ─────────────────────────────────────────────── batches of Events
                      streamed:  SSE data (sse.DataReader) → JSON → the API's Translator → stop sequences
                      whole:     the body → JSON → the API's whole-response events → stop sequences

Everything below `UpstreamStream` is synchronous: each read of the body is
decoded into the events it completes, in one pass, and handed on as one batch.

`UpstreamStream` owns the upstream's reply, as an SDK's stream object does:

- `first()` reads until the first batch (a failure the upstream reports in its
  stream before that raises `UpstreamError`, for the exchange's recovery step);
- `async for batch in stream` gives the batches (later failures raise a
  helpful `BridgeError`);
- at the upstream's terminal event the stream ends at once; what the upstream
  still sends is read in the background (at most `DRAIN_SECONDS`) so the
  connection goes back to the pool.  A stop sequence ends it too, and closes
  the connection (the upstream would go on generating);
- `aclose()`, from any task, drops the connection: a read pending in another
  task fails and the stream ends, without cancelling that task;
- `received` keeps what was handed on: the usage, if it came, and the text
  (text, reasoning, tool names and arguments), from which the budget
  estimates the output of an answer whose usage never came (a stream cut
  short): its first `KEPT_CHARS` characters as they came (counted with the
  tokenizer, only then), and how many characters followed (estimated), so a
  long stream keeps its memory flat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from bridge import sse
from bridge.errors import BridgeError
from bridge.model import Api, Event, Finish, FinishReason, ReasoningDelta, Target, TextDelta, ToolCallDelta, ToolCallStart, Usage
from bridge.upstreams.failures import UpstreamError, client_error
from bridge.upstreams.stops import StopSequences
from bridge.upstreams.tools import restore
from bridge.upstreams.transport import TRANSPORT_ERRORS, Reply

DONE = b"[DONE]"
DRAIN_SECONDS = 30.0
KEPT_CHARS = 32_000
"""Characters of an answer's text `Received` keeps for an exact count; the rest it only counts."""
log = logging.getLogger(__name__)
_draining: set[asyncio.Task[None]] = set()


class Translator(Protocol):
    """An upstream API's stream translator: its decoded events in, internal events out."""

    @property
    def finished(self) -> bool:
        """The upstream's terminal event was seen."""
        ...

    def feed(self, event: dict[str, Any]) -> list[Event]: ...

    def end(self) -> list[Event]:
        """What is held back until the end; raises `UpstreamError` when the answer is incomplete."""
        ...


class Decoder(Protocol):
    finished: bool
    """No event follows."""
    upstream_done: bool
    """The upstream's answer is complete (what it still sends can be read and dropped)."""
    failure: UpstreamError | None
    """A failure the upstream reported after events of the same read: raised once those are handed on."""

    def feed(self, raw: bytes) -> list[Event]: ...

    def end(self) -> list[Event]: ...


class StreamDecoder:
    """A streamed (SSE) upstream body."""

    def __init__(self, translator: Translator, stops: StopSequences | None) -> None:
        self._reader = sse.DataReader()
        self._translator = translator
        self._stops = stops
        self.finished = False
        self.upstream_done = False
        self.failure: UpstreamError | None = None

    def _decode(self, datas: list[bytes]) -> list[Event]:
        events: list[Event] = []
        translator = self._translator
        try:
            for data in datas:
                if data == DONE:
                    self.upstream_done = True
                    break
                try:
                    decoded = sse.loads(data)
                except ValueError:
                    log.warning("skipped an upstream stream event that is not JSON")
                    continue
                if isinstance(decoded, dict):
                    events += translator.feed(decoded)
                    if translator.finished:
                        self.upstream_done = True
                        break
            if self.upstream_done:
                events += translator.end()
                self.finished = True
        except UpstreamError as failure:
            if not events:
                raise
            self.failure, self.finished = failure, True
        return self._stopped(events)

    def _stopped(self, events: list[Event]) -> list[Event]:
        if self._stops is None or not events:
            return events
        events = self._stops.feed(events)
        self.finished = self.finished or self._stops.finished
        return events

    def feed(self, raw: bytes) -> list[Event]:
        return [] if self.finished else self._decode(self._reader.feed(raw))

    def end(self) -> list[Event]:
        if self.finished:
            return []
        events = self._decode(self._reader.close())
        if not self.finished:
            events += self._stopped(self._translator.end())
            self.finished = self.upstream_done = True
        return events


class WholeDecoder:
    """A non-streamed upstream body: one JSON response, decoded at its end by the API's `events_of`."""

    def __init__(self, events_of: Callable[[Any], list[Event]], stops: StopSequences | None) -> None:
        self._events_of = events_of
        self._stops = stops
        self._parts: list[bytes] = []
        self.finished = False
        self.upstream_done = False
        self.failure: UpstreamError | None = None

    def feed(self, raw: bytes) -> list[Event]:
        self._parts.append(raw)
        return []

    def end(self) -> list[Event]:
        self.finished = self.upstream_done = True
        try:
            decoded = sse.loads(b"".join(self._parts))
        except ValueError:
            raise BridgeError("api_error", "The upstream answered with a body that is not JSON") from None
        events = self._events_of(decoded)
        return self._stops.feed(events) if self._stops is not None else events


class Received:
    """What an upstream answer has handed on so far: its usage and why it finished (None until they come), the
    pieces of its text up to KEPT_CHARS characters, and how many characters followed them."""

    __slots__ = ("beyond", "finish", "kept", "pieces", "usage")

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.kept = 0
        self.beyond = 0
        self.usage: Usage | None = None
        self.finish: FinishReason | None = None

    def feed(self, batch: list[Event]) -> None:
        for event in batch:
            if isinstance(event, TextDelta | ReasoningDelta):
                self._text(event.text)
            elif isinstance(event, ToolCallDelta):
                self._text(event.arguments)
            elif isinstance(event, ToolCallStart):
                self._text(event.name)
            elif isinstance(event, Usage):
                self.usage = event
            elif isinstance(event, Finish):
                self.finish = event.reason

    def _text(self, text: str) -> None:
        if self.kept < KEPT_CHARS:
            self.pieces.append(text)
            self.kept += len(text)
        else:
            self.beyond += len(text)


class UpstreamStream:
    """The events of one upstream answer, batch by batch; owns the HTTP response (see the module's notes)."""

    def __init__(
        self,
        reply: Reply,
        decoder: Decoder,
        target: Target,
        api: Api,
        first_chunk: bytes = b"",
        client_names: dict[str, str] | None = None,
    ) -> None:
        self.target = target
        self._client_names = client_names
        self.api = api
        self._reply = reply
        self._decoder = decoder
        self._chunks = reply.chunks
        self._head = first_chunk
        self._pending: list[Event] = []
        self._ended = False
        self._draining = False
        self.received = Received()

    async def first(self) -> None:
        """Read until the first batch is in; raises `UpstreamError` when the upstream reports a failure first."""
        try:
            self._pending = await self._read()
        except StopAsyncIteration:
            self._pending = []

    def __aiter__(self) -> UpstreamStream:
        return self

    async def __anext__(self) -> list[Event]:
        if self._pending:
            batch, self._pending = self._pending, []
        else:
            try:
                batch = await self._read()
            except UpstreamError as failure:
                raise client_error(failure.report, self.target, keyed=False) from None
        self.received.feed(batch)
        return restore(batch, self._client_names) if self._client_names else batch

    async def _read(self) -> list[Event]:
        decoder = self._decoder
        if decoder.failure is not None:
            raise decoder.failure
        try:
            while not self._ended:
                if self._head:
                    raw, self._head = self._head, b""
                else:
                    try:
                        raw = await self._chunks.__anext__()
                    except StopAsyncIteration:
                        self._ended = True
                        self._reply.close()
                        events = decoder.end()
                        if events:
                            return events
                        break
                events = decoder.feed(raw)
                if decoder.finished:
                    self._ended = True
                    self._finish_upstream(decoder.upstream_done)
                if events:
                    return events
        except TRANSPORT_ERRORS as exc:
            await self.aclose()
            raise BridgeError("api_error", f"The connection to the upstream broke mid-response ({type(exc).__name__})") from None
        except BaseException:
            await self.aclose()
            raise
        raise StopAsyncIteration

    def _finish_upstream(self, complete: bool) -> None:
        if not complete:
            self._reply.close()
            return
        self._draining = True
        task = asyncio.ensure_future(self._drain())
        _draining.add(task)
        task.add_done_callback(_draining.discard)

    async def _drain(self) -> None:
        """Read what the upstream still sends after its terminal event, so the connection can be reused."""
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                async for _ in self._chunks:
                    pass
        except (TimeoutError, *TRANSPORT_ERRORS):
            pass
        finally:
            self._reply.close()

    async def aclose(self) -> None:
        """End the stream; the upstream connection is closed, unless its complete answer is being drained."""
        self._ended = True
        if not self._draining:
            self._reply.close()
