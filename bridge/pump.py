"""Moving upstream events to a streaming client: batching, heartbeats, deadline, cancellation.

A producer task reads the upstream event stream into a queue; the consumer
(the client's response body) takes whatever has arrived as one batch, so a
burst of small upstream chunks becomes one write.  A periodic timer puts an
empty batch (a heartbeat) into the queue when nothing arrived for a while, so
neither Azure's front end nor the client drops a connection while a reasoning
model thinks, and ends the stream with a timeout error at the deadline.  When
the client goes away, closing the consumer cancels the producer, which closes
the upstream connection (`abort`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from bridge.upstreams.transport import Deadline

T = TypeVar("T")
HEARTBEAT_SECONDS = 10.0
ABORT_GRACE_SECONDS = 2.0


class _End:
    __slots__ = ()


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = _End()


class _Pump(Generic[T]):
    def __init__(self, source: AsyncIterator[T], heartbeat: float, deadline: Deadline) -> None:
        self.queue: asyncio.Queue[T | _End | _Failure | None] = asyncio.Queue()
        self.source = source
        self.heartbeat = heartbeat
        self.deadline = deadline
        self.last = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None

    async def produce(self) -> None:
        try:
            async for item in self.source:
                self.last = time.monotonic()
                self.queue.put_nowait(item)
            self.queue.put_nowait(_END)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.queue.put_nowait(_Failure(exc))
        finally:
            await self.source.aclose()  # type: ignore[attr-defined]

    def arm(self, loop: asyncio.AbstractEventLoop) -> None:
        interval = min(self.heartbeat, max(self.deadline.remaining(), 0.01))
        self.timer = loop.call_later(interval, self.tick, loop)

    def tick(self, loop: asyncio.AbstractEventLoop) -> None:
        now = time.monotonic()
        if self.deadline.remaining() <= 0:
            self.queue.put_nowait(_Failure(self.deadline.error()))
            return
        if now - self.last >= self.heartbeat:
            self.last = now
            self.queue.put_nowait(None)
        self.arm(loop)


async def pump(
    source: AsyncIterator[T],
    deadline: Deadline,
    heartbeat: float = HEARTBEAT_SECONDS,
    leaving: asyncio.Future[Any] | None = None,
    abort: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[list[T]]:
    """Batches of items from `source`; an empty batch is a heartbeat.  Errors from `source` re-raise here.

    When `leaving` completes (the client went away) the batches stop.  A consumer that stops early
    ends `source` with `abort` (which makes its pending read fail) rather than by cancelling the
    producer; the producer is cancelled only if it is still running `ABORT_GRACE_SECONDS` later.
    """
    loop = asyncio.get_running_loop()
    state: _Pump[T] = _Pump(source, heartbeat, deadline)
    producer = asyncio.create_task(state.produce())
    state.arm(loop)
    if leaving is not None:
        leaving.add_done_callback(lambda _: state.queue.put_nowait(_END))
    try:
        while True:
            first = await state.queue.get()
            batch: list[T] = []
            item: T | _End | _Failure | None = first
            while True:
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
                    batch.append(item)
                if state.queue.empty():
                    break
                item = state.queue.get_nowait()
            if batch:
                yield batch
    finally:
        if state.timer is not None:
            state.timer.cancel()
        if not producer.done():
            loop.call_later(ABORT_GRACE_SECONDS if abort is not None else 0, producer.cancel)
            if abort is not None:
                await asyncio.shield(abort())
