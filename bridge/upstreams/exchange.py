"""One upstream exchange, whatever the upstream API: adapt the body, send it through the pool, stream the events.

Each upstream API (chat/completions, Responses) supplies the operation, the
body and its stream translator; this module does the rest, the same way for
all: the deployment's learned adaptations (`adapt.py`) are applied, a 400
that teaches a new one is retried once per lesson, any other failure becomes
a helpful `BridgeError` (`failures.py`), and a 200 becomes the translated
event stream, which closes the upstream response when it ends or is closed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

import httpx

from bridge.errors import BridgeError
from bridge.model import Event
from bridge.routing import Route
from bridge.upstreams.adapt import AdaptationMemory, learn
from bridge.upstreams.failures import error_object, upstream_error
from bridge.upstreams.pool import Pool
from bridge.upstreams.transport import Deadline

Translator = Callable[[AsyncIterable[bytes]], AsyncIterator[Event]]
MAX_ADAPTATIONS = 4
log = logging.getLogger("bridge.upstream")


async def _events(response: httpx.Response, translate: Translator) -> AsyncIterator[Event]:
    try:
        async for event in translate(response.aiter_raw()):
            yield event
    except httpx.HTTPError as exc:
        raise BridgeError("api_error", f"The connection to the upstream broke mid-response ({type(exc).__name__})") from None
    finally:
        await response.aclose()


async def open_events(
    pool: Pool,
    route: Route,
    operation: str,
    body: dict[str, Any],
    translate: Translator,
    memory: AdaptationMemory,
    deadline: Deadline,
) -> AsyncIterator[Event]:
    """Start the exchange; raises `BridgeError` for anything that fails before the first event."""
    adaptation = memory.get(pool.name, route.deployment)
    for _ in range(MAX_ADAPTATIONS + 1):
        sent = adaptation.apply(body)
        response, endpoint = await pool.send(route.deployment, operation, sent, deadline)
        if response.status_code == 200:
            return _events(response, translate)
        payload = await response.aread()
        await response.aclose()
        if response.status_code == 400:
            fixed = learn(adaptation, error_object(payload), sent)
            if fixed is not None and fixed != adaptation:
                log.info("deployment %s refuses a parameter; adapted and retrying", route.deployment)
                adaptation = fixed
                memory.remember(pool.name, route.deployment, adaptation)
                continue
        raise upstream_error(response.status_code, payload, dict(response.headers), route, endpoint.credential.keyed)
    raise BridgeError("api_error", f"Deployment '{route.deployment}' kept refusing the request's parameters")
