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
from bridge.upstreams.credentials import EntraToken
from bridge.upstreams.endpoint import Endpoint
from bridge.upstreams.pool import Pool
from bridge.upstreams.transport import Deadline


@dataclass
class Exchange:
    """A started exchange: where it went, and its events (ready to iterate)."""

    route: Route
    events: AsyncIterator[Event]


@dataclass
class Bridge:
    """Everything one process keeps between requests: settings, credentials, the pool, learned adaptations."""

    settings: Settings
    memory: AdaptationMemory = field(default_factory=AdaptationMemory)

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

    async def start(self, request: Request, deadline: Deadline) -> Exchange:
        """Resolve, translate and send; raises `BridgeError` for anything before the first event."""
        route = resolve(request.model, self.settings)
        note_deployment(route.deployment)
        if self.pool is None:
            raise misconfigured("; ".join(self.settings.problems))
        events = await open_stream(request, route, self.pool, self.memory, deadline, self.max_tokens(request.max_tokens))
        if request.stop:
            events = apply_stop_sequences(events, request.stop)
        return Exchange(route, events)


_bridge: Bridge | None = None


def current_bridge() -> Bridge:
    """The process-wide bridge, built from the environment on first use."""
    global _bridge
    if _bridge is None:
        _bridge = Bridge(load_settings())
    return _bridge
