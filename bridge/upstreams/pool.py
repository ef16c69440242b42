"""A pool of upstreams serving the same deployment names: load spreading, failover, retries.

A conversation keeps to one member while it can (its prompt cache key picks
the member it starts at: that member holds its cached prompt prefix and can
read the encrypted reasoning it made); requests without a key start at the
next member in turn (round robin).  Either way, load spreads across
resources and regions.  A member that answers 429, 5xx (408, 500, 502,
503, 504) or cannot be reached is set aside until the wait it asked for has
passed (its `retry-after` headers or, as Azure's 429s sometimes come without
them, the wait its message names: "Please retry after 30 seconds"), else a
short backoff (RETRY_BACKOFF_SECONDS, doubling), and the request moves on to
the next member at once.  A
refusal's body is read at once, so its connection goes back to the pool.  A
member that is resting gets no request at all.  When every member
is resting, the pool waits for the first one to come back only when that is
soon (`MAX_WAIT_SECONDS`, and within the request's deadline); otherwise it
answers at once, so a long `retry-after` costs no upstream calls and no
waiting clients.  Each member is tried at most `MAX_ROUNDS` times a request;
all of this happens before any byte reaches the client.

When nothing succeeds, the last upstream answer is returned as it is (a 429
keeps its `retry-after`); if this request reached no member, a `BridgeError`:
`rate_limit_error` with the earliest `retry-after` while every member rests,
else the reason none could be reached.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import zlib
from dataclasses import dataclass
from typing import Any

import aiohttp

from bridge import sse
from bridge.deadline import Deadline
from bridge.errors import BridgeError
from bridge.upstreams.endpoint import Endpoint
from bridge.upstreams.failures import ErrorReport, rate_limit_headers
from bridge.upstreams.transport import TRANSPORT_ERRORS, Reply, backoff, post

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_ROUNDS = 3
MAX_WAIT_SECONDS = 5.0
log = logging.getLogger(__name__)


@dataclass(slots=True)
class Answer:
    """An upstream's reply and who gave it.  For a 200, `first` holds its first body bytes (the rest follow in
    `reply.chunks`); a refusal's body is read at once (its connection goes back to the pool), `reply` gives it
    again, and `wait` is the wait it asked for, if any."""

    reply: Reply
    endpoint: Endpoint
    first: bytes = b""
    wait: float | None = None


@dataclass(slots=True)
class _Member:
    endpoint: Endpoint
    resting_until: float = 0.0

    def rest(self, seconds: float) -> None:
        self.resting_until = max(self.resting_until, time.monotonic() + seconds)

    def resting_for(self) -> float:
        return max(self.resting_until - time.monotonic(), 0.0)


class Pool:
    def __init__(self, endpoints: list[Endpoint], backoff_seconds: float) -> None:
        """`backoff_seconds`: the first retry delay when an upstream names no wait (RETRY_BACKOFF_SECONDS)."""
        if not endpoints:
            raise ValueError("a pool needs at least one endpoint")
        self._members = [_Member(endpoint) for endpoint in endpoints]
        self._turn = 0
        self._backoff_seconds = backoff_seconds

    @property
    def name(self) -> str:
        return self._members[0].endpoint.setting.base_url

    @property
    def endpoints(self) -> list[Endpoint]:
        return [member.endpoint for member in self._members]

    def rest(self, endpoint: Endpoint, seconds: float | None) -> None:
        """Set `endpoint` aside for `seconds` (it reported a rate limit or a failure inside a 200 stream); None when it
        named no wait: two backoff steps (1 s with the default RETRY_BACKOFF_SECONDS)."""
        if seconds is None:
            seconds = 2 * self._backoff_seconds
        for member in self._members:
            if member.endpoint is endpoint:
                member.rest(seconds)

    def _order(self, affinity: str | None) -> list[_Member]:
        """Members from the conversation's own (`affinity`: its prompt cache key), else from the next in turn."""
        if affinity is not None:
            start = zlib.crc32(affinity.encode()) % len(self._members)
        else:
            start = self._turn % len(self._members)
            self._turn += 1
        return self._members[start:] + self._members[:start]

    def _soonest(self) -> float:
        return min(member.resting_for() for member in self._members)

    async def send(
        self, deployment: str, operation: str, body: dict[str, Any], deadline: Deadline, affinity: str | None = None
    ) -> Answer:
        """POST `body`; returns the first answer that is not worth retrying.

        A 200 counts only once its first body bytes arrived: a connection that breaks
        between the headers and the body is retried like one that could not be made.
        """
        content = sse.dumps(body)
        order = self._order(affinity)
        tries = dict.fromkeys(range(len(order)), 0)
        last: Answer | None = None
        unreachable = ""
        while True:
            left = [i for i in tries if tries[i] < MAX_ROUNDS]
            ready = [i for i in left if order[i].resting_for() == 0]
            if not ready:
                wait = min((order[i].resting_for() for i in left), default=math.inf)
                if wait > min(MAX_WAIT_SECONDS, deadline.remaining()):
                    break
                await asyncio.sleep(wait)
                continue
            member = order[ready[0]]
            tries[ready[0]] += 1
            endpoint = member.endpoint
            try:
                answer = await self._attempt(endpoint, deployment, operation, content, deadline)
            except TRANSPORT_ERRORS as exc:
                unreachable = f"Could not reach the upstream at {endpoint.host} ({type(exc).__name__})"
                log.warning("%s: %s", endpoint.name, unreachable)
                member.rest(backoff(tries[ready[0]], self._backoff_seconds))
                continue
            if answer.reply.status not in RETRY_STATUSES:
                if last is not None:
                    last.reply.close()
                return answer
            log.warning("%s answered %s for %s", endpoint.name, answer.reply.status, deployment)
            member.rest(answer.wait if answer.wait is not None else backoff(tries[ready[0]], self._backoff_seconds))
            if last is not None:
                last.reply.close()
            last = answer
        if last is not None:
            return last
        if unreachable:
            raise BridgeError("api_error", unreachable)
        wait = max(self._soonest(), 1.0)
        raise BridgeError(
            "rate_limit_error",
            f"Every upstream endpoint asked the bridge to wait (rate limits or failures); retry in {wait:.0f} s",
            rate_limit_headers({"retry-after": str(math.ceil(wait))}, wait),
        )

    async def _attempt(self, endpoint: Endpoint, deployment: str, operation: str, content: bytes, deadline: Deadline) -> Answer:
        try:
            async with asyncio.timeout(max(deadline.remaining(), 0.0)):
                headers = await endpoint.headers()
        except TimeoutError:
            raise BridgeError(
                "timeout_error", "Signing in to Azure (Microsoft Entra ID) took longer than REQUEST_TIMEOUT"
            ) from None
        reply = await post(endpoint.url(deployment, operation), headers, content, deadline)
        if reply.status != 200:
            try:
                async with asyncio.timeout(max(deadline.remaining(), 0.0)):
                    body = await reply.read()
            except TimeoutError:
                raise deadline.error() from None
            wait = ErrorReport.from_body(reply.status, body, reply.headers).retry_after
            return Answer(reply.replaying(body), endpoint, wait=wait)
        try:
            async with asyncio.timeout(max(deadline.remaining(), 0.0)):
                first = await anext(reply.chunks)
        except TimeoutError:
            reply.close()
            raise deadline.error() from None
        except (*TRANSPORT_ERRORS, StopAsyncIteration):
            reply.close()
            raise aiohttp.ServerDisconnectedError("the connection closed before the response body") from None
        return Answer(reply, endpoint, first)
