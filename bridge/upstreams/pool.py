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
from collections.abc import AsyncIterator
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
class Answer:
    """An upstream's answer: the response, who gave it, and its body (read it from `chunks` only)."""

    response: httpx.Response
    endpoint: Endpoint
    chunks: AsyncIterator[bytes]


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

    async def send(self, deployment: str, operation: str, body: dict[str, Any], deadline: Deadline) -> Answer:
        """POST `body`; returns the first answer that is not worth retrying.

        A 200 counts only once its first body bytes arrived: a connection that breaks
        between the headers and the body is retried like one that could not be made.
        """
        content = json.dumps(body, separators=(",", ":")).encode()
        last: Answer | None = None
        unreachable = ""
        for round_number in range(1, MAX_ROUNDS + 1):
            for member in self._order():
                if last is not None:
                    await last.response.aclose()
                    last = None
                endpoint = member.endpoint
                try:
                    answer = await self._attempt(endpoint, deployment, operation, content, deadline)
                except httpx.HTTPError as exc:
                    unreachable = f"Could not reach the upstream at {endpoint.host} ({type(exc).__name__})"
                    log.warning("%s: %s", endpoint.name, unreachable)
                    member.rest(retry_delay(round_number, None))
                    continue
                if answer.response.status_code not in RETRY_STATUSES:
                    return answer
                log.warning("%s answered %s for %s", endpoint.name, answer.response.status_code, deployment)
                member.rest(retry_delay(round_number, answer.response.headers))
                last = answer
            wait = min(member.resting_for() for member in self._members)
            if round_number == MAX_ROUNDS or wait >= deadline.remaining():
                break
            await asyncio.sleep(wait)
        if last is not None:
            return last
        raise BridgeError("api_error", unreachable or "No upstream could be reached")

    async def _attempt(self, endpoint: Endpoint, deployment: str, operation: str, content: bytes, deadline: Deadline) -> Answer:
        try:
            async with asyncio.timeout(max(deadline.remaining(), 0.0)):
                headers = await endpoint.headers()
        except TimeoutError:
            raise BridgeError(
                "timeout_error", "Signing in to Azure (Microsoft Entra ID) took longer than REQUEST_TIMEOUT"
            ) from None
        response = await post(endpoint.url(deployment, operation), headers, content, deadline)
        if response.status_code != 200:
            return Answer(response, endpoint, response.aiter_raw())
        chunks = response.aiter_raw()
        try:
            async with asyncio.timeout(max(deadline.remaining(), 0.0)):
                first = await anext(chunks)
        except TimeoutError:
            await close(response)
            raise deadline.error() from None
        except (httpx.HTTPError, StopAsyncIteration):
            await close(response)
            raise httpx.RemoteProtocolError("the connection closed before the response body") from None
        return Answer(response, endpoint, _prepend(first, chunks))


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


async def close(response: httpx.Response) -> None:
    """Close `response` even while the caller is being cancelled (the connection must not leak)."""
    await asyncio.shield(response.aclose())
