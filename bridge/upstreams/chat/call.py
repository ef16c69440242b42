"""The chat/completions upstream: its operation, its body and its stream translator.

The upstream is always asked to stream (with usage), whether or not the
client streams: one code path, usage always known, and the same handling of
heartbeats, deadlines and content filters for both.
"""

from __future__ import annotations

from bridge.model import Request
from bridge.routing import Route
from bridge.upstreams.adapt import AdaptationMemory
from bridge.upstreams.chat.request import build_body
from bridge.upstreams.chat.stream import translate_stream
from bridge.upstreams.exchange import Opened, open_events
from bridge.upstreams.pool import Pool
from bridge.upstreams.transport import Deadline

OPERATION = "chat/completions"


async def open_stream(
    request: Request, route: Route, pool: Pool, memory: AdaptationMemory, deadline: Deadline, max_tokens: int | None
) -> Opened:
    """Start a chat/completions exchange; raises `BridgeError` for anything before the first event."""
    body = build_body(request, route.deployment, max_tokens)
    return await open_events(pool, route, OPERATION, body, translate_stream, memory, deadline)
