"""The middle of the bridge: internal request in, internal event stream out.

    Request ─ route (tier → deployment, overrides) ─ upstream API (chat/completions | Responses)
            ─ translate, send (pool, retries, adaptation) ─ upstream events ─ stop sequences
            ─ Event stream for a front to render

Which upstream API serves a deployment:

    the deployment's *_API setting                       that API
    else, by the pool's first upstream:
      OpenAI-compatible (OPENAI_BASE_URL)                chat/completions
      Azure with the v1 API or a version from            Responses (reasoning summaries, reasoning
        2025-03-01-preview on                            kept across tool calls, prompt cache key)
      Azure with an older version                        chat/completions

(a pool's members should offer the same APIs: the choice is made once per deployment)

and, learned per deployment and remembered: chat/completions answering that
the request needs the Responses API switches the deployment to Responses; the
Responses API refusing a model (not offered for it) switches it to chat.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property

from bridge.errors import WrongApi, invalid_request, misconfigured
from bridge.logs import note_deployment
from bridge.model import Event, Request
from bridge.routing import Route, resolve
from bridge.settings import Api, Settings, load_settings
from bridge.stops import apply_stop_sequences
from bridge.tokens import count_request
from bridge.upstreams.adapt import AdaptationMemory
from bridge.upstreams.chat.call import open_stream as open_chat
from bridge.upstreams.credentials import EntraToken
from bridge.upstreams.endpoint import Endpoint
from bridge.upstreams.pool import Pool
from bridge.upstreams.responses.call import open_stream as open_responses
from bridge.upstreams.transport import Deadline

RESPONSES_SINCE = "2025-03-01-preview"
MAX_TOOLS = 128
OPENERS = {"chat": open_chat, "responses": open_responses}
log = logging.getLogger("bridge.pipeline")


@dataclass
class Exchange:
    """A started exchange: where it went, and its events (ready to iterate)."""

    route: Route
    events: AsyncIterator[Event]
    abort: Callable[[], Awaitable[None]]
    """Ends the exchange from another task (closes the upstream connection)."""


@dataclass
class Bridge:
    """Everything one process keeps between requests: settings, credentials, the pool, learned adaptations."""

    settings: Settings
    memory: AdaptationMemory = field(default_factory=AdaptationMemory)
    learned_apis: dict[str, Api] = field(default_factory=dict)

    @cached_property
    def pool(self) -> Pool | None:
        if not self.settings.upstreams:
            return None
        entra = EntraToken()
        headers = self.settings.custom_headers
        return Pool([Endpoint.from_setting(upstream, headers, entra) for upstream in self.settings.upstreams])

    def max_tokens(self, requested: int | None) -> int | None:
        limit = self.settings.max_tokens_limit
        if requested is None or limit is None:
            return requested if requested is not None else limit
        return min(requested, limit)

    def deadline(self) -> Deadline:
        """The deadline of a whole request (REQUEST_TIMEOUT)."""
        return Deadline.after(self.settings.request_timeout)

    def stream_deadline(self) -> Deadline:
        """The deadline of a stream: MAX_STREAM_SECONDS when it is the tighter limit."""
        seconds = self.settings.max_stream_seconds
        if seconds >= self.settings.request_timeout:
            return self.deadline()
        return Deadline.after(
            seconds,
            f"The response was still streaming after MAX_STREAM_SECONDS ({seconds:g} s), so the bridge ended it "
            "before Azure's front end would cut it (about 230 s). Ask for a shorter answer, or continue from here.",
        )

    def api(self, route: Route) -> Api:
        if route.deployment in self.learned_apis:
            return self.learned_apis[route.deployment]
        if route.api is not None:
            return route.api
        first = self.settings.upstreams[0]
        if first.flavor == "azure" and (first.uses_v1_api or first.api_version >= RESPONSES_SINCE):
            return "responses"
        return "chat"

    async def start(self, request: Request, deadline: Deadline) -> Exchange:
        """Resolve, translate and send; raises `BridgeError` for anything before the first event."""
        if len(request.tools) > MAX_TOOLS:
            raise invalid_request(
                f"tools: at most {MAX_TOOLS} tools are accepted (Azure OpenAI's limit), got {len(request.tools)}"
            )
        route, request = resolve(request, self.settings, lambda: count_request(request))
        note_deployment(route.deployment)
        if self.pool is None:
            raise misconfigured("; ".join(self.settings.problems))
        api = self.api(route)
        max_tokens = self.max_tokens(request.max_tokens)
        try:
            opened = await OPENERS[api](request, route, self.pool, self.memory, deadline, max_tokens)
        except WrongApi as wrong:
            log.info("deployment %s needs the %s API; switching it", route.deployment, wrong.api)
            self.learned_apis[route.deployment] = wrong.api
            opened = await OPENERS[wrong.api](request, route, self.pool, self.memory, deadline, max_tokens)
        events = apply_stop_sequences(opened.events, request.stop) if request.stop else opened.events
        return Exchange(route, events, opened.abort)


_bridge: Bridge | None = None


def current_bridge() -> Bridge:
    """The process-wide bridge, built from the environment on first use."""
    global _bridge
    if _bridge is None:
        _bridge = Bridge(load_settings())
    return _bridge
