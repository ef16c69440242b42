"""Serving a client call, for every front: one handler from the request to the stream or the completion.

    request in → client token → JSON body → the front's `parse` → `Bridge.start`
    → stream (`stream_body`, the front's renderer) or gather (`gather`, the front's body) → out

with one JSON log line per request, the front's error shape for failures
before the first byte, and never a stack trace.

Streaming::

    start the exchange ─┬─ upstream answered within one heartbeat ─ its HTTP status on failure,
                        │                                            else 200 and the stream
                        └─ still waiting ─ 200 at once, the front's opening, heartbeats while
                                           waiting; a failure then becomes the front's error event

    then: batches of events (bridge.pump), a heartbeat in each silence, the stream deadline
    (MAX_STREAM_SECONDS) ending it with an explicit error; a stream that stops early is never
    passed off as complete.  The client going away cancels everything down to the upstream
    connection.

Not streaming: the exchange is started and its events gathered (`collect`)
within the deadline, and abandoned, with the upstream connection, as soon as
the client goes away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from bridge import model
from bridge.collect import collect
from bridge.errors import BridgeError
from bridge.inbound import check_client_token, new_request_id, read_json
from bridge.logs import RequestLog
from bridge.model import Completion, Event, Usage
from bridge.pipeline import Bridge, Exchange, current_bridge
from bridge.pump import ABORT_GRACE_SECONDS, pump
from bridge.settings import DEFAULT_HEARTBEAT_SECONDS
from bridge.upstreams.transport import Deadline

log = logging.getLogger("bridge.serve")


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
INTERNAL_ERROR = "The bridge hit an internal error; the request id identifies it in the logs"


class StreamRenderer(Protocol):
    """What a front supplies to stream: its opening, its events, its heartbeat and error frames."""

    finished: bool
    usage: Usage
    error_kind: str | None

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
    renderer: StreamRenderer,
    source: AsyncIterator[Event] | Exchange | asyncio.Task[Exchange],
    deadline: Deadline,
    heartbeat: float = DEFAULT_HEARTBEAT_SECONDS,
    request: Request | None = None,
) -> AsyncIterator[bytes]:
    """The response body of a streaming request, from its events or the exchange still starting; never raises.

    With the client's `request`, its going away ends the stream and closes the upstream at once,
    whatever the server does about disconnects.
    """
    leaving = asyncio.ensure_future(_disconnected(request)) if request is not None else None
    yield renderer.opening()
    try:
        if isinstance(source, asyncio.Task):
            waiting: set[asyncio.Future[Any]] = {source, leaving} if leaving is not None else {source}
            while not (
                await asyncio.wait(
                    waiting, timeout=min(heartbeat, max(deadline.remaining(), 0.0)), return_when=asyncio.FIRST_COMPLETED
                )
            )[0]:
                if deadline.remaining() <= 0:
                    raise deadline.error()
                yield renderer.heartbeat()
            if not source.done():
                return
            exchange: Exchange | None = source.result()
        else:
            exchange = source if isinstance(source, Exchange) else None
        events = exchange.events if exchange is not None else source
        abort = exchange.abort if exchange is not None else None
        async for batch in pump(events, deadline, heartbeat, leaving, abort):  # type: ignore[arg-type]
            yield renderer.render(batch) if batch else renderer.heartbeat()
        if not renderer.finished and not (leaving is not None and leaving.done()):
            yield renderer.error(BridgeError("api_error", "The upstream response ended before it was complete"))
    except BridgeError as error:
        yield renderer.error(error)
    except Exception:
        log.exception("stream failed")
        yield renderer.error(BridgeError("api_error", "The bridge failed while streaming the response"))
    finally:
        for task in (source, leaving):
            if isinstance(task, asyncio.Future) and not task.done():
                task.cancel()


async def gather(bridge: Bridge, request: model.Request, deadline: Deadline, client: Request) -> Completion:
    """Start the exchange and gather its events within the deadline; abandoned (closing the
    upstream) as soon as the client goes away."""
    leaving = asyncio.ensure_future(_disconnected(client))
    starting = asyncio.ensure_future(bridge.start(request, deadline))
    try:
        await _first(starting, leaving, deadline)
        exchange = starting.result()
        gathering = asyncio.ensure_future(collect(exchange.events))
        try:
            await _first(gathering, leaving, deadline)
            return gathering.result()
        finally:
            if not gathering.done():
                await asyncio.shield(exchange.abort())
                await asyncio.wait({gathering}, timeout=ABORT_GRACE_SECONDS)
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


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        continue


class Call(Protocol):
    """One client call, parsed by a front."""

    request: model.Request
    model: str
    """The model name the client asked for (logged, echoed)."""

    def renderer(self) -> StreamRenderer: ...

    def body(self, completion: Completion) -> dict[str, Any]: ...


class Front(Protocol):
    """A client API: how it parses a call and how it shapes an error."""

    request_id_header: str

    def parse(self, body: Any, req: Request, bridge: Bridge) -> Call: ...

    def error_response(self, error: BridgeError, request_id: str) -> Response: ...


Handling = Callable[[Bridge, RequestLog, dict[str, str]], Awaitable[Response]]


async def _handle(req: Request, front: Front, route: str, handling: Handling) -> Response:
    """What every route does around its own work: the log record, the client token, the errors."""
    record = RequestLog(new_request_id(), route).start()
    ids = {front.request_id_header: record.request_id}
    try:
        bridge = current_bridge()
        check_client_token(req, bridge.settings)
        response = await handling(bridge, record, ids)
    except BridgeError as error:
        record.error_type = error.kind
        response = front.error_response(error, record.request_id)
    except Exception:
        log.exception("request %s failed", record.request_id)
        record.error_type = "api_error"
        response = front.error_response(BridgeError("api_error", INTERNAL_ERROR), record.request_id)
    if not isinstance(response, StreamingResponse):
        record.emit(response.status_code)
    return response


async def serve(req: Request, front: Front, route: str) -> Response:
    """The whole handler of a generation route, for any front."""

    async def generate(bridge: Bridge, record: RequestLog, ids: dict[str, str]) -> Response:
        call = front.parse(await read_json(req, bridge.settings.max_request_bytes), req, bridge)
        record.model, record.stream = call.model, call.request.stream
        if call.request.stream:
            deadline = bridge.stream_deadline()
            heartbeat = bridge.settings.heartbeat_seconds
            started = await start_within(bridge.start(call.request, deadline), heartbeat)
            renderer = call.renderer()
            body = _logged(stream_body(renderer, started, deadline, heartbeat, req), renderer, record)
            return StreamingResponse(body, media_type="text/event-stream", headers={**SSE_HEADERS, **ids})
        deadline = bridge.deadline()
        completion = await gather(bridge, call.request, deadline, req)
        record.usage = completion.usage
        return JSONResponse(call.body(completion), headers=ids)

    return await _handle(req, front, route, generate)


async def _logged(body: AsyncIterator[bytes], renderer: StreamRenderer, record: RequestLog) -> AsyncIterator[bytes]:
    """The stream body, logging its request when it ends (however it ends)."""
    try:
        async for chunk in body:
            yield chunk
    finally:
        record.usage = renderer.usage
        if not renderer.finished:
            record.error_type = renderer.error_kind or "stream_incomplete"
        record.emit(200)


async def answer(
    req: Request, front: Front, route: str, compute: Callable[[Bridge, RequestLog], Awaitable[dict[str, Any]]]
) -> Response:
    """The handler of a route the bridge answers itself (no upstream call), for any front."""

    async def respond(bridge: Bridge, record: RequestLog, ids: dict[str, str]) -> Response:
        return JSONResponse(await compute(bridge, record), headers=ids)

    return await _handle(req, front, route, respond)
