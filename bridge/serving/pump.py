"""Moving an upstream stream to a streaming client: batching, heartbeats, the deadline, backpressure, leaving.

A producer task reads the upstream's batches into a bounded queue; the
consumer (the client's response body) takes whatever has arrived as one
batch, so a burst of small upstream reads becomes one write.  The queue holds
at most `QUEUE_BATCHES` batches: a client that stops reading stops the
producer, which stops reading the upstream (TCP pushes back on Azure), so
memory stays flat however slow the client.  A timer puts a heartbeat (an
empty batch) into the queue when nothing arrived for a while, so neither
Azure's front end nor the client drops a connection while a reasoning model
thinks, and ends the stream with a timeout error at the deadline.  When the
client goes away, the stream is closed: the upstream connection with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from bridge.deadline import Deadline
from bridge.model import Event
from bridge.upstreams.stream import UpstreamStream

QUEUE_BATCHES = 16
CLOSE_GRACE_SECONDS = 2.0
"""How long a producer may take to end after its stream was closed before it is cancelled."""


class _End:
    __slots__ = ()


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = _End()
Item = list[Event] | _End | _Failure | None
"""A batch, the end, a failure, or a heartbeat (None)."""


class _Pump:
    def __init__(self, stream: UpstreamStream, heartbeat: float, deadline: Deadline) -> None:
        self.queue: asyncio.Queue[Item] = asyncio.Queue(QUEUE_BATCHES)
        self.stream = stream
        self.heartbeat = heartbeat
        self.deadline = deadline
        self.last = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None
        self.stopped = False
        """The deadline passed or the client left: nothing more is taken from the queue."""
        self.failure: BaseException | None = None

    async def produce(self) -> None:
        try:
            async for batch in self.stream:
                self.last = time.monotonic()
                await self.queue.put(batch)
            await self.queue.put(_END)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await self.queue.put(_Failure(exc))

    def offer(self, item: Item) -> None:
        """Wake the consumer with `item` unless the queue is full (then it is busy with batches anyway)."""
        if not self.queue.full():
            self.queue.put_nowait(item)

    def arm(self, loop: asyncio.AbstractEventLoop) -> None:
        interval = min(self.heartbeat, max(self.deadline.remaining(), 0.01))
        self.timer = loop.call_later(interval, self.tick, loop)

    def tick(self, loop: asyncio.AbstractEventLoop) -> None:
        now = time.monotonic()
        if self.deadline.remaining() <= 0:
            self.failure = self.deadline.error()
            self.offer(_Failure(self.failure))
            return
        if now - self.last >= self.heartbeat:
            self.last = now
            self.offer(None)
        self.arm(loop)

    def leave(self, _: Any) -> None:
        self.stopped = True
        self.offer(_END)


async def pump(
    stream: UpstreamStream, deadline: Deadline, heartbeat: float, leaving: asyncio.Future[Any] | None = None
) -> AsyncIterator[list[Event]]:
    """Batches of `stream`'s events; an empty batch is a heartbeat.  Errors from the stream re-raise here.

    When `leaving` completes (the client went away) the batches stop.  However the consumer stops,
    the stream is closed; the producer is cancelled only if it is still running `CLOSE_GRACE_SECONDS` later.
    """
    loop = asyncio.get_running_loop()
    state = _Pump(stream, heartbeat, deadline)
    producer = asyncio.create_task(state.produce())
    state.arm(loop)
    if leaving is not None:
        leaving.add_done_callback(state.leave)
    try:
        while True:
            item: Item = await state.queue.get()
            batch: list[Event] = []
            while True:
                if state.stopped:
                    return
                if state.failure is not None:
                    raise state.failure
                if isinstance(item, _End):
                    if batch:
                        yield batch
                    return
                if isinstance(item, _Failure):
                    if batch:
                        yield batch
                    raise item.error
                if item is None:
                    if not batch:
                        yield []
                else:
                    batch += item
                if state.queue.empty():
                    break
                item = state.queue.get_nowait()
            if batch:
                yield batch
    finally:
        if state.timer is not None:
            state.timer.cancel()
        if leaving is not None:
            leaving.remove_done_callback(state.leave)
        if not producer.done():
            await stream.aclose()
            loop.call_later(CLOSE_GRACE_SECONDS, producer.cancel)
