"""What every answer goes through on its way out: the SSE body of a stream, or the gathered completion.

Streaming::

    the exchange starting ─┬─ opened within one heartbeat ─ its HTTP status on failure,
                           │                                else 200 and the stream
                           └─ still starting ─ 200 at once, the front's opening, heartbeats while
                                               waiting; a failure then becomes the front's error event

    then: batches of events (`pump`), a heartbeat in each silence, the stream deadline
    (MAX_STREAM_SECONDS) ending it with an explicit error; a stream that stops early is never
    passed off as complete.  The client going away closes the upstream stream at once.

Not streaming: the exchange is started and its events gathered (`collect`)
within the deadline, and abandoned, with the upstream connection, as soon as
the client goes away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any, Protocol

from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from bridge import sse
from bridge.deadline import Deadline
from bridge.errors import BridgeError
from bridge.model import Completion, Event, Usage
from bridge.serving.collect import collect
from bridge.serving.pump import CLOSE_GRACE_SECONDS, pump
from bridge.upstreams.stream import UpstreamStream

log = logging.getLogger(__name__)
Starting = asyncio.Future[UpstreamStream]
"""The exchange being started (done once the upstream stream is open, or failed)."""


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (compact, UTF-8)."""
    return Response(sse.dumps(body), status_code=status, headers=headers, media_type="application/json")


class StreamRenderer(Protocol):
    """What a front supplies to stream: its opening, its events, its heartbeat and error frames."""

    finished: bool
    usage: Usage
    error_kind: str | None

    def opening(self) -> bytes: ...

    def render(self, events: list[Event]) -> bytes: ...

    def heartbeat(self) -> bytes: ...

    def error(self, error: BridgeError) -> bytes: ...


async def start_within(starting: Starting, grace: float) -> None:
    """Wait up to `grace` seconds for the exchange starting; raises its failure if it fails by then (so the
    status can say so)."""
    done, _ = await asyncio.wait({starting}, timeout=grace)
    if done:
        starting.result()


async def stream_body(
    renderer: StreamRenderer, starting: Starting, deadline: Deadline, heartbeat: float, req: HttpRequest | None = None
) -> AsyncGenerator[bytes, None]:
    """The response body of a streaming request; never raises.

    With the client's request `req`, its going away ends the stream and closes the upstream at once,
    whatever the server does about disconnects.
    """
    leaving = asyncio.ensure_future(_disconnected(req)) if req is not None else None
    yield renderer.opening()
    try:
        waiting: set[asyncio.Future[Any]] = {starting, leaving} if leaving is not None else {starting}
        while not starting.done():
            if deadline.remaining() <= 0:
                raise deadline.error()
            await asyncio.wait(waiting, timeout=min(heartbeat, deadline.remaining()), return_when=asyncio.FIRST_COMPLETED)
            if leaving is not None and leaving.done():
                return
            if not starting.done():
                yield renderer.heartbeat()
        async for batch in pump(starting.result(), deadline, heartbeat, leaving):
            yield renderer.render(batch) if batch else renderer.heartbeat()
        if not renderer.finished and not (leaving is not None and leaving.done()):
            yield renderer.error(BridgeError("api_error", "The upstream response ended before it was complete"))
    except BridgeError as error:
        yield renderer.error(error)
    except Exception:
        log.exception("stream failed")
        yield renderer.error(BridgeError("api_error", "The bridge failed while streaming the response"))
    finally:
        if leaving is not None and not leaving.done():
            leaving.cancel()
        if not starting.done():
            starting.cancel()


async def gather(starting: Starting, deadline: Deadline, req: HttpRequest) -> Completion:
    """Gather the events of the exchange `starting` within the deadline; abandoned (closing the
    upstream) as soon as the client goes away."""
    leaving = asyncio.ensure_future(_disconnected(req))
    try:
        await _first(starting, leaving, deadline)
        stream = starting.result()
        gathering = asyncio.ensure_future(collect(stream))
        try:
            await _first(gathering, leaving, deadline)
            return gathering.result()
        finally:
            if not gathering.done():
                await stream.aclose()
                await asyncio.wait({gathering}, timeout=CLOSE_GRACE_SECONDS)
                gathering.cancel()
    finally:
        for task in (starting, leaving):
            if not task.done():
                task.cancel()


async def _first(work: asyncio.Future[Any], leaving: asyncio.Future[None], deadline: Deadline) -> None:
    """Wait for `work`; raise if the client leaves or the deadline passes first."""
    done, _ = await asyncio.wait({work, leaving}, timeout=max(deadline.remaining(), 0.0), return_when=asyncio.FIRST_COMPLETED)
    if work in done:
        return
    if leaving in done:
        raise BridgeError("invalid_request_error", "The client closed the connection")
    raise deadline.error()


async def _disconnected(req: HttpRequest) -> None:
    while (await req.receive())["type"] != "http.disconnect":
        continue
