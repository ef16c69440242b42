"""A pool of upstreams serving the same deployment names: load spreading, failover, retries.

Requests start at the next member in turn (round robin), so load spreads
across resources and regions.  A member that answers 429, 5xx (408, 500, 502,
503, 504) or cannot be reached is set aside until its `retry-after` (or a
short backoff) has passed, and the request moves on to the next member at
once.  When every member has failed in a round, the pool waits for the first
one to come back (the smallest `retry-after`, or exponential backoff with
jitter) and tries again, within `MAX_ROUNDS` rounds and never past the
request's deadline.  All of this happens before any byte reaches the client.

When nothing succeeds, the last upstream answer is returned as it is (a 429
keeps its `retry-after`), or, if no member could be reached, a `BridgeError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bridge.errors import BridgeError
from bridge.upstreams.endpoint import Endpoint
from bridge.upstreams.transport import Deadline, post, retry_delay

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_ROUNDS = 3
log = logging.getLogger("bridge.upstream")


@dataclass(slots=True)
class _Member:
    endpoint: Endpoint
    resting_until: float = 0.0

    def rest(self, seconds: float) -> None:
        self.resting_until = max(self.resting_until, time.monotonic() + seconds)

    def resting_for(self) -> float:
        return max(self.resting_until - time.monotonic(), 0.0)


class Pool:
    def __init__(self, endpoints: list[Endpoint]) -> None:
        if not endpoints:
            raise ValueError("a pool needs at least one endpoint")
        self._members = [_Member(endpoint) for endpoint in endpoints]
        self._turn = 0

    @property
    def name(self) -> str:
        return self._members[0].endpoint.setting.base_url

    @property
    def endpoints(self) -> list[Endpoint]:
        return [member.endpoint for member in self._members]

    def _order(self) -> list[_Member]:
        """Members from the next in turn; those resting go last, soonest back first."""
        start = self._turn % len(self._members)
        self._turn += 1
        rotated = self._members[start:] + self._members[:start]
        return sorted(rotated, key=lambda member: member.resting_for())

    async def send(self, deployment: str, operation: str, body: dict[str, Any], deadline: Deadline) -> tuple[httpx.Response, Endpoint]:
        """POST `body`; returns the first answer that is not worth retrying, and the endpoint that gave it."""
        content = json.dumps(body, separators=(",", ":")).encode()
        last: tuple[httpx.Response, Endpoint] | None = None
        unreachable = ""
        for round_number in range(1, MAX_ROUNDS + 1):
            for member in self._order():
                if last is not None:
                    await last[0].aclose()
                    last = None
                endpoint = member.endpoint
                try:
                    response = await post(endpoint.url(deployment, operation), await endpoint.headers(), content, deadline)
                except httpx.HTTPError as exc:
                    unreachable = f"Could not reach the upstream at {endpoint.host} ({type(exc).__name__})"
                    log.warning("%s: %s", endpoint.name, unreachable)
                    member.rest(retry_delay(round_number, None))
                    continue
                if response.status_code not in RETRY_STATUSES:
                    return response, endpoint
                log.warning("%s answered %s for %s", endpoint.name, response.status_code, deployment)
                member.rest(retry_delay(round_number, response.headers))
                last = (response, endpoint)
            wait = min(member.resting_for() for member in self._members)
            if round_number == MAX_ROUNDS or wait >= deadline.remaining():
                break
            await asyncio.sleep(wait if wait > 0 else retry_delay(round_number, None))
        if last is not None:
            return last
        raise BridgeError("api_error", unreachable or "No upstream could be reached")
