"""One chat/completions exchange: build the body, adapt it, send it, stream the events back.

The upstream is always asked to stream (with usage), whether or not the
client streams: one code path, usage always known, and the same handling of
heartbeats, deadlines and content filters for both.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx

from bridge.errors import BridgeError
from bridge.model import Event, Request
from bridge.routing import Route
from bridge.upstreams.adapt import AdaptationMemory, learn
from bridge.upstreams.chat.request import build_body
from bridge.upstreams.chat.stream import translate_stream
from bridge.upstreams.endpoint import Endpoint
from bridge.upstreams.failures import error_object, upstream_error
from bridge.upstreams.transport import Deadline, send

OPERATION = "chat/completions"
MAX_ADAPTATIONS = 4
log = logging.getLogger("bridge.upstream")


async def _events(response: httpx.Response) -> AsyncIterator[Event]:
    try:
        async for event in translate_stream(response.aiter_raw()):
            yield event
    except httpx.HTTPError as exc:
        raise BridgeError("api_error", f"The connection to the upstream broke mid-response ({type(exc).__name__})") from None
    finally:
        await response.aclose()


async def open_stream(
    request: Request,
    route: Route,
    endpoint: Endpoint,
    memory: AdaptationMemory,
    deadline: Deadline,
    max_tokens: int | None,
) -> tuple[AsyncIterator[Event], int]:
    """Start the exchange; returns the event stream and the number of upstream attempts.

    Raises `BridgeError` for anything that fails before the first event.
    """
    body = build_body(request, route.deployment, max_tokens)
    url = endpoint.url(route.deployment, OPERATION)
    adaptation = memory.get(endpoint.base_url, route.deployment)
    attempts = 0
    for _ in range(MAX_ADAPTATIONS + 1):
        sent = adaptation.apply(body)
        response, used = await send(url, await endpoint.headers(), sent, deadline)
        attempts += used
        if response.status_code == 200:
            return _events(response), attempts
        payload = await response.aread()
        await response.aclose()
        if response.status_code == 400:
            fixed = learn(adaptation, error_object(payload), sent)
            if fixed is not None and fixed != adaptation:
                log.info("deployment %s refuses a parameter; adapted and retrying", route.deployment)
                adaptation = fixed
                memory.remember(endpoint.base_url, route.deployment, adaptation)
                continue
        raise upstream_error(response.status_code, payload, dict(response.headers), route, endpoint.credential.keyed)
    raise BridgeError("api_error", f"Deployment '{route.deployment}' kept refusing the request's parameters")
