"""The signing keys of an Entra ID tenant (the key set its OpenID configuration names), cached, fetched one at a time.

What a token naming the key id `kid` meets:

    the key set                                          the request
    has `kid`, fetched less than MAX_KEY_AGE ago         the key, no I/O
    has `kid`, older                                     the key; a refresh starts in the background
    lacks `kid`, no fetch for REFETCH_INTERVAL           waits for one fetch, then the key or 401
    lacks `kid`, fetched within the interval             401 "does not publish" (a forged kid cannot make the
                                                         bridge hammer Entra)
    lacks `kid`, the last fetch failed (no set yet,      503 naming the outage, retryable: an identity outage
      or a refresh that failed)                          is never reported as a bad token
    a fetch is in flight                                 waits for that fetch's outcome

One fetch at a time: it runs in a task of its own, bounded as a whole (the
OpenID configuration and the key set together) by FETCH_TIMEOUT_SECONDS, and
every request that needs it waits for that one outcome (a request that goes
away does not cancel it), so each is answered within the fetch timeout.  The
intervals count from the end of the last fetch: a slow failure is not retried
at once.  A failed refresh keeps the keys fetched before.  Fetches go through
the process's shared HTTP session (`bridge.http`), never at import.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import jwt

from bridge.errors import BridgeError
from bridge.http import proxy_for, session

ALGORITHM = "RS256"
REFETCH_INTERVAL_SECONDS = 60.0
"""After a successful fetch, a token naming an unknown key id fetches the key set again at most this often."""
RETRY_AFTER_FAILED_FETCH_SECONDS = 5.0
"""After a failed fetch, how soon one may be tried again."""
MAX_KEY_AGE_SECONDS = 24 * 3600.0
FETCH_TIMEOUT_SECONDS = 10.0
"""The whole fetch: the OpenID configuration (the first time) and the key set."""

log = logging.getLogger(__name__)


class SigningKeys:
    """One tenant's signing keys; one per process, shared by every request."""

    def __init__(self, configuration_url: str, tenant_id: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.configuration_url = configuration_url
        self.tenant_id = tenant_id
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._jwks_uri: str | None = None
        self._fetched_at: float | None = None
        """When the last successful fetch ended."""
        self._ended_at: float | None = None
        """When the last fetch ended, however it ended."""
        self._failure: str | None = None
        """Why the last fetch failed; None when it succeeded (or none was made)."""
        self._fetching: asyncio.Task[None] | None = None
        self.fetches = 0
        """How many fetches were started (for tests and /health)."""

    @property
    def fetching(self) -> bool:
        """A fetch is in flight."""
        return self._fetching is not None

    async def key(self, kid: str) -> jwt.PyJWK:
        """The key `kid` names, or a BridgeError: 401 for a key the tenant does not publish, 503 while Entra is out."""
        key = self._keys.get(kid)
        if key is not None:
            if self._stale() and self._fetching is None and self._may_fetch():
                self._start()
            return key
        if self._fetching is None and self._may_fetch():
            self._start()
        if self._fetching is not None:
            await asyncio.shield(self._fetching)
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._failure is not None:
            raise self._outage(self._failure)
        raise BridgeError(
            "authentication_error",
            f"Microsoft Entra ID token refused: it names signing key {kid[:64]!r}, which tenant {self.tenant_id} does not "
            f"publish ({self.configuration_url})",
        )

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= MAX_KEY_AGE_SECONDS

    def _may_fetch(self) -> bool:
        if self._ended_at is None:
            return True
        interval = RETRY_AFTER_FAILED_FETCH_SECONDS if self._failure is not None else REFETCH_INTERVAL_SECONDS
        return self._clock() - self._ended_at >= interval

    def _start(self) -> None:
        self.fetches += 1
        self._fetching = asyncio.get_running_loop().create_task(self._fetch())

    async def _fetch(self) -> None:
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_SECONDS):
                if self._jwks_uri is None:
                    jwks_uri = (await _get_json(self.configuration_url)).get("jwks_uri")
                    if not isinstance(jwks_uri, str):
                        raise ValueError("the OpenID configuration has no jwks_uri")
                    self._jwks_uri = jwks_uri
                keys = _signing_keys(await _get_json(self._jwks_uri))
        except TimeoutError:
            self._failure = f"no answer within {FETCH_TIMEOUT_SECONDS:g} s"
        except (aiohttp.ClientError, ValueError) as exc:
            self._failure = str(exc)[:300] or type(exc).__name__
        else:
            self._keys = keys
            self._failure = None
            self._fetched_at = self._clock()
        finally:
            self._ended_at = self._clock()
            self._fetching = None
        if self._failure is not None:
            log.warning("could not fetch the Entra ID signing keys (%s): %s", self.configuration_url, self._failure)

    def _outage(self, failure: str) -> BridgeError:
        return BridgeError(
            "api_error",
            f"Microsoft Entra ID cannot be reached, so sign-in cannot be checked: the signing keys of tenant "
            f"{self.tenant_id} could not be fetched ({self.configuration_url}; ENTRA_AUTHORITY, ENTRA_TENANT_ID): "
            f"{failure}. Try again shortly.",
            {"retry-after": str(int(RETRY_AFTER_FAILED_FETCH_SECONDS))},
            http_status=503,
        )


async def _get_json(url: str) -> dict[str, Any]:
    async with session().get(url, proxy=proxy_for(url)) as response:
        if response.status != 200:
            raise ValueError(f"GET {url} answered {response.status}")
        document = json.loads(await response.read())
    if not isinstance(document, dict):
        raise ValueError(f"GET {url} did not answer a JSON object")
    return document


def _signing_keys(jwks: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    """The RSA signature keys of a JWKS document by key id (other key types and uses are skipped)."""
    keys: dict[str, jwt.PyJWK] = {}
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise ValueError("the key set has no keys")
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            keys[kid] = jwt.PyJWK(entry, algorithm=ALGORITHM)
        except jwt.PyJWKError:
            continue
    if not keys:
        raise ValueError("the key set has no RSA signing keys")
    return keys
