"""Sending one request upstream: the reply as it arrives, and the retry delay.

Requests go through the process's pooled session (`bridge.http.session`).

A `Reply` is what came back: status, headers and the body as chunks; `close`
drops the connection at once (a read pending in another task fails), and a
body read to its end gives its connection back to the pool by itself (a
refusal's body is read at once, and `replaying` hands it on).

Which upstream to try, and when to try again, is `bridge.upstreams.pool`'s
decision; it waits what the upstream asked for (`requested_wait` reads
`retry-after-ms` / `retry-after`), else `backoff`: exponential, with full jitter.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

import aiohttp

from bridge.deadline import Deadline
from bridge.http import proxy_for, session
from bridge.telemetry.request_log import note_attempt

BACKOFF_CAP_SECONDS = 8.0
TRANSPORT_ERRORS = (aiohttp.ClientError, ConnectionError, asyncio.IncompleteReadError)
"""What reading or sending raises when the connection cannot be made or breaks."""


@dataclass(slots=True)
class Reply:
    """An upstream's answer as it arrives: its status, its headers, its body in chunks, and how to drop it."""

    status: int
    headers: Mapping[str, str]
    chunks: AsyncIterator[bytes]
    close: Callable[[], None]

    async def read(self) -> bytes:
        """The whole (rest of the) body; the connection then goes back to the pool."""
        try:
            return b"".join([chunk async for chunk in self.chunks])
        except TRANSPORT_ERRORS:
            return b""
        finally:
            self.close()

    def replaying(self, body: bytes) -> Reply:
        """This answer once its `body` was read: its chunks give that body again (closing has nothing left to drop)."""
        return Reply(self.status, self.headers, _once(body), _read_already)


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


def _read_already() -> None:
    """A body read to its end has given its connection back already."""


def requested_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds the upstream asked to wait (`retry-after-ms`, else `retry-after` in seconds or as a date), if any."""
    if "retry-after-ms" in headers:
        try:
            return max(float(headers["retry-after-ms"]) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            try:
                return max(email.utils.parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
            except (TypeError, ValueError):
                return None
    return None


def backoff(attempt: int, first: float) -> float:
    """Seconds to wait before retry number `attempt` (1-based) when the upstream named no wait: up to `first`
    (RETRY_BACKOFF_SECONDS) before the first, doubling, with full jitter."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, first * 2 ** (attempt - 1)))


async def post(url: str, headers: dict[str, str], content: bytes, deadline: Deadline) -> Reply:
    """One POST, returned as soon as the status and headers are in (the body streams).

    Raises one of `TRANSPORT_ERRORS` when the upstream cannot be reached, `BridgeError` at the deadline.
    """
    attempt = note_attempt(url)
    try:
        async with asyncio.timeout(max(deadline.remaining(), 0.0)):
            response = await session().post(url, data=content, headers=headers, proxy=proxy_for(url))
    except TimeoutError:
        if attempt is not None:
            attempt.failed("timeout")
        raise deadline.error() from None
    except TRANSPORT_ERRORS as exc:
        if attempt is not None:
            attempt.failed(type(exc).__name__)
        raise
    if attempt is not None:
        attempt.answered(response.status)
    return Reply(response.status, response.headers, response.content.iter_any().__aiter__(), response.close)
