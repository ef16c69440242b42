"""Serving an exchange to a client, for every front: the stream body, or the gathered completion.

Streaming::

    start the exchange ─┬─ upstream answered within one heartbeat ─ its HTTP status on failure,
                        │                                            else 200 and the stream
                        └─ still waiting ─ 200 at once, the front's opening, heartbeats while
                                           waiting; a failure then becomes the front's error event

    then: batches of events (bridge.pump), a heartbeat in each silence, the stream deadline
    (MAX_STREAM_SECONDS) ending it with an explicit error; a stream that stops early is never
    passed off as complete.  The client going away cancels everything down to the upstream
    connection.

Not streaming: the events are gathered (`collect`) within the deadline, and
abandoned, with the upstream connection, when the client goes away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any, Protocol

from starlette.requests import Request

from bridge.collect import collect
from bridge.errors import BridgeError
from bridge.model import Completion, Event
from bridge.pipeline import Exchange
from bridge.pump import pump
from bridge.upstreams.transport import Deadline

log = logging.getLogger("bridge.serve")


class StreamRenderer(Protocol):
    """What a front supplies to stream: its opening, its events, its heartbeat and error frames."""

    finished: bool

    def opening(self) -> bytes: ...

    def render(self, events: list[Event]) -> bytes: ...

    def heartbeat(self) -> bytes: ...

    def error(self, error: BridgeError) -> bytes: ...


async def start_within(start: Coroutine[Any, Any, Exchange], grace: float) -> Exchange | asyncio.Task[Exchange]:
    """The exchange if the upstream answers within `grace` seconds (its failure raises), else the running task."""
    task = asyncio.ensure_future(start)
    done, _ = await asyncio.wait({task}, timeout=grace)
    return task.result() if done else task


async def stream_body(
    started: Exchange | asyncio.Task[Exchange], renderer: StreamRenderer, deadline: Deadline, heartbeat: float
) -> AsyncIterator[bytes]:
    """The response body of a streaming request; never raises once started."""
    yield renderer.opening()
    try:
        if isinstance(started, asyncio.Task):
            while not (await asyncio.wait({started}, timeout=min(heartbeat, max(deadline.remaining(), 0.0))))[0]:
                if deadline.remaining() <= 0:
                    raise deadline.error()
                yield renderer.heartbeat()
            exchange = started.result()
        else:
            exchange = started
        async for batch in pump(exchange.events, deadline, heartbeat):
            yield renderer.render(batch) if batch else renderer.heartbeat()
        if not renderer.finished:
            yield renderer.error(BridgeError("api_error", "The upstream response ended before it was complete"))
    except BridgeError as error:
        yield renderer.error(error)
    except Exception:
        log.exception("stream failed")
        yield renderer.error(BridgeError("api_error", "The bridge failed while streaming the response"))
    finally:
        if isinstance(started, asyncio.Task) and not started.done():
            started.cancel()


async def gather(exchange: Exchange, deadline: Deadline, request: Request) -> Completion:
    """The whole completion, within the deadline; raises if the client leaves (closing the upstream)."""
    gathering = asyncio.ensure_future(collect(exchange.events))
    leaving = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({gathering, leaving}, timeout=max(deadline.remaining(), 0.0), return_when=asyncio.FIRST_COMPLETED)
        if gathering in done:
            return gathering.result()
        if leaving in done:
            raise BridgeError("invalid_request_error", "The client closed the connection")
        raise deadline.error()
    finally:
        for task in (gathering, leaving):
            if not task.done():
                task.cancel()
        await asyncio.gather(gathering, leaving, return_exceptions=True)


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        continue
