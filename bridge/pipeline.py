"""The middle of the bridge: internal request in, internal event stream out.

    Request ─ route (tier → deployment) ─ upstream translator ─ send (retries, adaptation)
            ─ upstream events ─ stop sequences ─ Event stream for a front to render
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cached_property

from bridge.errors import misconfigured
from bridge.logs import note_deployment
from bridge.model import Event, Request
from bridge.routing import Route, resolve
from bridge.settings import Settings, load_settings
from bridge.stops import apply_stop_sequences
from bridge.upstreams.adapt import AdaptationMemory
from bridge.upstreams.chat.call import open_stream
from bridge.upstreams.credentials import ApiKey, Credential, EntraToken
from bridge.upstreams.endpoint import Endpoint
from bridge.upstreams.transport import Deadline


@dataclass
class Exchange:
    """A started exchange: where it went, and its events (ready to iterate)."""

    route: Route
    events: AsyncIterator[Event]
    attempts: int


@dataclass
class Bridge:
    """Everything one process keeps between requests: settings, credentials, learned adaptations."""

    settings: Settings
    memory: AdaptationMemory = field(default_factory=AdaptationMemory)

    @cached_property
    def endpoint(self) -> Endpoint | None:
        if self.settings.endpoint is None:
            return None
        credential: Credential = ApiKey(self.settings.api_key) if self.settings.api_key else EntraToken()
        return Endpoint(self.settings.endpoint, self.settings.api_version, credential, self.settings.custom_headers)

    def max_tokens(self, requested: int | None) -> int | None:
        limit = self.settings.max_tokens_limit
        if requested is None or limit is None:
            return requested if requested is not None else limit
        return min(requested, limit)

    def deadline(self) -> Deadline:
        return Deadline.after(self.settings.request_timeout)

    async def start(self, request: Request, deadline: Deadline) -> Exchange:
        """Resolve, translate and send; raises `BridgeError` for anything before the first event."""
        route = resolve(request.model, self.settings)
        note_deployment(route.deployment)
        if self.endpoint is None:
            raise misconfigured("; ".join(self.settings.problems))
        events, attempts = await open_stream(
            request, route, self.endpoint, self.memory, deadline, self.max_tokens(request.max_tokens)
        )
        if request.stop:
            events = apply_stop_sequences(events, request.stop)
        return Exchange(route, events, attempts)


_bridge: Bridge | None = None


def current_bridge() -> Bridge:
    """The process-wide bridge, built from the environment on first use."""
    global _bridge
    if _bridge is None:
        _bridge = Bridge(load_settings())
    return _bridge
