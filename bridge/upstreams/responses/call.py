"""The Responses upstream: its operation, its body and its stream translator.

The exchange itself (adaptation, pool, failures) is `exchange.open_events`, as
for chat/completions.  Two 400s have an answer of their own here:

    Azure's 400                                        answer
    -------------------------------------------------  ------------------------------------------
    the returned reasoning cannot be used (encrypted    send once more without reasoning items (the
      by another resource or model, or mangled)         conversation moved between deployments)
    the web_search tool is refused                      invalid_request_error saying the deployment
                                                        has no web search (never a hang)

URL: `{endpoint}/openai/v1/responses` on the v1 API (deployment in `model`);
for a dated API version Azure serves `{endpoint}/openai/responses?api-version=V`
(2025-03-01-preview on), which `Endpoint.url` forms for this operation.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bridge.errors import BridgeError
from bridge.model import Request
from bridge.routing import Route
from bridge.upstreams.adapt import AdaptationMemory
from bridge.upstreams.exchange import Opened, open_events
from bridge.upstreams.pool import Pool
from bridge.upstreams.responses.request import build_body, without_reasoning
from bridge.upstreams.responses.stream import translate_stream
from bridge.upstreams.transport import Deadline

OPERATION = "responses"
_REASONING_REFUSED = re.compile(r"encrypted|reasoning item|\brs_\w+", re.IGNORECASE)
log = logging.getLogger("bridge.upstream")


def _has_reasoning(body: dict[str, Any]) -> bool:
    return any(item.get("type") == "reasoning" for item in body["input"])


def _has_web_search(body: dict[str, Any]) -> bool:
    return any(tool.get("type") == "web_search" for tool in body.get("tools") or ())


def no_web_search(route: Route, said: str) -> BridgeError:
    return BridgeError(
        "invalid_request_error",
        f"Deployment '{route.deployment}' (from {route.source}) does not offer web search through the Responses API, "
        f"so the web_search tool cannot run there. Use a deployment and region with web search, or leave the tool out. "
        f"Azure said: {said}",
    )


async def open_stream(
    request: Request, route: Route, pool: Pool, memory: AdaptationMemory, deadline: Deadline, max_tokens: int | None
) -> Opened:
    """Start a Responses exchange; raises `BridgeError` for anything before the first event."""
    body = build_body(request, route.deployment, max_tokens)
    try:
        return await open_events(pool, route, OPERATION, body, translate_stream, memory, deadline)
    except BridgeError as error:
        if error.kind != "invalid_request_error":
            raise
        if _has_reasoning(body) and _REASONING_REFUSED.search(error.message):
            log.info("deployment %s cannot use the returned reasoning items; sending without them", route.deployment)
            return await open_events(pool, route, OPERATION, without_reasoning(body), translate_stream, memory, deadline)
        if _has_web_search(body) and "web_search" in error.message:
            raise no_web_search(route, error.message) from None
        raise
