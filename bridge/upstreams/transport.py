"""Sending one request upstream: the shared connection pool and the retry delay.

One pooled `httpx.AsyncClient` per event loop (a Functions worker has one loop;
tests may run several).  Which upstream to try, and when to try again, is
`bridge.upstreams.pool`'s decision; `retry_delay` is the wait it uses:
`retry-after-ms` / `retry-after` when the upstream gave one, otherwise
exponential backoff with full jitter.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
import weakref
from collections.abc import Mapping

import httpx

from bridge.deadline import Deadline
from bridge.logs import note_attempt

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
CONNECT_TIMEOUT_SECONDS = 10.0
LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=60.0)

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()


def client() -> httpx.AsyncClient:
    """The pooled client of the running event loop."""
    loop = asyncio.get_running_loop()
    existing = _clients.get(loop)
    if existing is None or existing.is_closed:
        existing = httpx.AsyncClient(
            limits=LIMITS,
            timeout=httpx.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=None, write=60.0, pool=CONNECT_TIMEOUT_SECONDS),
        )
        _clients[loop] = existing
    return existing


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


def retry_delay(attempt: int, headers: Mapping[str, str] | None) -> float:
    """Seconds to wait before retry number `attempt` (1-based): what the upstream asked, else jittered backoff."""
    wait = requested_wait(headers) if headers is not None else None
    if wait is not None:
        return wait
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))


async def post(url: str, headers: dict[str, str], content: bytes, deadline: Deadline) -> httpx.Response:
    """One POST, returned as soon as the status and headers are in (the body streams).

    Raises `httpx.HTTPError` when the upstream cannot be reached, `BridgeError` at the deadline.
    """
    note_attempt()
    http = client()
    request = http.build_request("POST", url, headers=headers, content=content)
    try:
        async with asyncio.timeout(max(deadline.remaining(), 0.0)):
            return await http.send(request, stream=True)
    except TimeoutError:
        raise deadline.error() from None
