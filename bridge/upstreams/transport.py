"""Sending one request upstream: the shared connection pool, retries, the deadline.

One pooled `httpx.AsyncClient` per event loop (a Functions worker has one loop;
tests may run several).  A request is retried only before any byte has
reached the client, on 429, 5xx and connection failures, honouring
`retry-after-ms` / `retry-after`, with exponential backoff and full jitter,
and never past the request's deadline.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
import weakref
from dataclasses import dataclass
from typing import Any

import httpx

from bridge.errors import BridgeError
from bridge.logs import note_attempt

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_ATTEMPTS = 3
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


@dataclass(frozen=True, slots=True)
class Deadline:
    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()


def retry_delay(attempt: int, headers: httpx.Headers | None) -> float:
    """Seconds to wait before retry number `attempt` (1-based)."""
    if headers is not None:
        if "retry-after-ms" in headers:
            try:
                return max(float(headers["retry-after-ms"]) / 1000.0, 0.0)
            except ValueError:
                pass
        if "retry-after" in headers:
            value = headers["retry-after"]
            try:
                return max(float(value), 0.0)
            except ValueError:
                parsed = email.utils.parsedate_to_datetime(value) if value else None
                if parsed is not None:
                    return max(parsed.timestamp() - time.time(), 0.0)
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))


async def send(url: str, headers: dict[str, str], body: dict[str, Any], deadline: Deadline) -> tuple[httpx.Response, int]:
    """POST `body` and return the streaming response (status unchecked) and the attempts used.

    Connection failures that outlast the retries or the deadline raise `BridgeError`.
    """
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    http = client()
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline.remaining()
        if remaining <= 0:
            raise BridgeError("timeout_error", "The upstream did not answer within REQUEST_TIMEOUT")
        response: httpx.Response | None = None
        failure: str | None = None
        note_attempt()
        try:
            request = http.build_request("POST", url, headers=headers, content=content)
            async with asyncio.timeout(remaining):
                response = await http.send(request, stream=True)
        except TimeoutError:
            raise BridgeError("timeout_error", "The upstream did not answer within REQUEST_TIMEOUT") from None
        except httpx.HTTPError as exc:
            failure = f"Could not reach the upstream at {httpx.URL(url).host} ({type(exc).__name__})"
        if response is not None and response.status_code not in RETRY_STATUSES:
            return response, attempt
        delay = retry_delay(attempt, response.headers if response is not None else None)
        if attempt >= MAX_ATTEMPTS or delay >= deadline.remaining():
            if response is not None:
                return response, attempt
            raise BridgeError("api_error", failure or "The upstream failed")
        if response is not None:
            await response.aclose()
        await asyncio.sleep(delay)
