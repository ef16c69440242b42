"""One upstream exchange, whatever the upstream API: adapt the body, send it through the pool, stream the events.

Each upstream API (chat/completions, Responses) supplies the operation, the
body and its stream translator; this module does the rest, the same way for
all: the deployment's learned adaptations (`adapt.py`) are applied, a 400
that teaches a new one is retried once per lesson, an answer saying the
deployment needs the other API raises `WrongApi` (the pipeline switches), any
other failure becomes a helpful `BridgeError` (`failures.py`), and a 200 becomes the translated
event stream, which closes the upstream response when it ends or is closed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bridge.errors import BridgeError, WrongApi
from bridge.model import Event
from bridge.routing import Route
from bridge.upstreams.adapt import AdaptationMemory, learn
from bridge.upstreams.failures import error_object, upstream_error, wanted_api
from bridge.upstreams.pool import Answer, Pool, close
from bridge.upstreams.transport import Deadline

Translator = Callable[[AsyncIterable[bytes]], AsyncIterator[Event]]
MAX_ADAPTATIONS = 4
log = logging.getLogger("bridge.upstream")


@dataclass
class Opened:
    """A started exchange: its events, and a way to end it from another task."""

    events: AsyncIterator[Event]
    response: httpx.Response

    async def abort(self) -> None:
        """Close the upstream connection, also under a read pending in another task: that read fails
        and the events end, without cancelling the reader (a cancelled read can leave httpx's
        pooled connection marked active forever)."""
        await close(self.response)


async def _events(answer: Answer, translate: Translator) -> AsyncIterator[Event]:
    try:
        async for event in translate(answer.chunks):
            yield event
    except httpx.HTTPError as exc:
        raise BridgeError("api_error", f"The connection to the upstream broke mid-response ({type(exc).__name__})") from None
    finally:
        await close(answer.response)


async def open_events(
    pool: Pool,
    route: Route,
    operation: str,
    body: dict[str, Any],
    translate: Translator,
    memory: AdaptationMemory,
    deadline: Deadline,
) -> Opened:
    """Start the exchange; raises `BridgeError` for anything that fails before the first event."""
    adaptation = memory.get(pool.name, route.deployment)
    for _ in range(MAX_ADAPTATIONS + 1):
        sent = adaptation.apply(body)
        answer = await pool.send(route.deployment, operation, sent, deadline)
        response = answer.response
        if response.status_code == 200:
            return Opened(_events(answer, translate), response)
        payload = await response.aread()
        await close(response)
        error = error_object(payload)
        if response.status_code == 400:
            fixed = learn(adaptation, error, sent)
            if fixed is not None and fixed != adaptation:
                log.info("deployment %s refuses a parameter; adapted and retrying", route.deployment)
                adaptation = fixed
                memory.remember(pool.name, route.deployment, adaptation)
                continue
        other = wanted_api(operation, response.status_code, error)
        if other is not None:
            raise WrongApi(other, str(error.get("message") or f"Use the {other} API"))
        raise upstream_error(response.status_code, payload, dict(response.headers), route, answer.endpoint.credential.keyed)
    raise BridgeError("api_error", f"Deployment '{route.deployment}' kept refusing the request's parameters")
