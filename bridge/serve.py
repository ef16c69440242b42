"""Serving a client call, for every front: one handler from the request to the stream or the completion.

    request in → who calls (the gateway's `Authenticator`: shared token, Entra ID token or personal key)
    → JSON body → the front's `parse` → the caller's budget (`Budget.check`) → `Bridge.start`
    → stream (`outbound.stream_body`, the front's renderer) or gather (`outbound.gather`,
      the front's body) → out → the tokens counted against the caller (`Budget.record_soon`,
      in the background: the client's last byte never waits for the usage table)

with one JSON log line per request (naming the caller), the front's error
shape for failures before the first byte, and never a stack trace.  Every
generation answer names what served it: `x-bridge-deployment` and
`x-bridge-api` (chat or responses).  A front is a `Front`: how it parses a
call, and how it shapes an error.  Routes the bridge answers itself
(`answer`) go through the same sign-in.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from bridge import model
from bridge.callers.caller import Caller
from bridge.errors import NO_RETRY, BridgeError
from bridge.inbound import cache_key_of, new_request_id, presented_token, read_json
from bridge.logs import RequestLog
from bridge.model import Completion, Usage
from bridge.outbound import StreamRenderer, gather, json_response, start_within, stream_body
from bridge.pipeline import Bridge, Routed, current_bridge

log = logging.getLogger("bridge.serve")

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
INTERNAL_ERROR = "The bridge hit an internal error; the request id identifies it in the logs"


class Call(Protocol):
    """One client call, parsed by a front."""

    @property
    def request(self) -> model.Request: ...

    @property
    def model(self) -> str:
        """The model name the client asked for (logged, echoed)."""
        ...

    def renderer(self) -> StreamRenderer: ...

    def body(self, completion: Completion) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Front:
    """A client API: how it parses a call, and how it shapes an error."""

    request_id_header: str
    parse: Callable[[Any], Call]
    error_response: Callable[[BridgeError, str], Response]


@dataclass(frozen=True, slots=True)
class Served:
    """What a route's own work gets: the process's bridge, who calls, the request's log record and id header."""

    bridge: Bridge
    caller: Caller
    record: RequestLog
    ids: dict[str, str]

    def count(self, usage: Usage, model: str) -> None:
        """Count `usage` against the caller's budget, in the background (input, cached included, plus output)."""
        if usage.input_tokens or usage.cached_tokens or usage.output_tokens:
            tokens_in = usage.input_tokens + usage.cached_tokens
            self.bridge.gateway.budget.record_soon(self.caller, self.record.deployment or model, tokens_in, usage.output_tokens)


Handling = Callable[[Served], Awaitable[Response]]
DEPLOYMENT_HEADER = "x-bridge-deployment"
API_HEADER = "x-bridge-api"


def served_by(routed: Routed) -> dict[str, str]:
    """The headers that tell a user which deployment, through which upstream API, answered."""
    return {DEPLOYMENT_HEADER: quote(routed.target.deployment, safe="-._~:@"), API_HEADER: routed.api}


UNAVAILABLE = 503


def refused(reason: str) -> BridgeError:
    """The bridge serves nothing while its configuration makes serving unsafe or sign-in impossible (`Bridge.refusal`)."""
    return BridgeError("api_error", f"The bridge is not serving: {reason}", dict(NO_RETRY), UNAVAILABLE)


async def _handle(req: Request, front: Front, route: str, handling: Handling) -> Response:
    """What every route does around its own work: the log record, who calls, the errors."""
    record = RequestLog(new_request_id(), route).start()
    ids = {front.request_id_header: record.request_id}
    try:
        bridge = current_bridge()
        if bridge.refusal is not None:
            raise refused(bridge.refusal)
        caller = await bridge.gateway.authenticator.caller(presented_token(req))
        record.caller = caller.log_fields()
        response = await handling(Served(bridge, caller, record, ids))
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

    async def generate(served: Served) -> Response:
        bridge, record, ids = served.bridge, served.record, served.ids
        call = front.parse(await read_json(req, bridge.settings.max_request_bytes))
        request = cache_key_of(req.headers, call.request)
        record.model, record.stream = call.model, request.stream
        await bridge.gateway.budget.check(served.caller)
        routed = await bridge.route(request)
        headers = {**ids, **served_by(routed)}
        if request.stream:
            deadline = bridge.stream_deadline()
            heartbeat = bridge.settings.heartbeat_seconds
            starting = await start_within(bridge.start(routed, deadline), heartbeat)
            renderer = call.renderer()
            body = _logged(stream_body(renderer, starting, deadline, heartbeat, req), renderer, served, call.model)
            return StreamingResponse(body, media_type="text/event-stream", headers={**SSE_HEADERS, **headers})
        deadline = bridge.deadline()
        completion = await gather(bridge.start(routed, deadline), deadline, req)
        record.usage = completion.usage
        served.count(completion.usage, call.model)
        return json_response(call.body(completion), headers=headers)

    return await _handle(req, front, route, generate)


async def _logged(body: AsyncIterator[bytes], renderer: StreamRenderer, served: Served, model: str) -> AsyncIterator[bytes]:
    """The stream body, logging its request and counting its tokens when it ends (however it ends: a stream
    cut short counts what Azure reported until then)."""
    record = served.record
    try:
        async for chunk in body:
            yield chunk
    finally:
        record.usage = renderer.usage
        served.count(renderer.usage, model)
        if not renderer.finished:
            record.error_type = renderer.error_kind or "stream_incomplete"
        record.emit(200)


async def answer(
    req: Request, front: Front, route: str, compute: Callable[[Served], Awaitable[dict[str, Any]]], status: int = 200
) -> Response:
    """The handler of a route the bridge answers itself (no upstream call), for any front."""

    async def respond(served: Served) -> Response:
        return json_response(await compute(served), status, headers=served.ids)

    return await _handle(req, front, route, respond)
