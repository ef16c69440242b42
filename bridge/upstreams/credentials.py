"""How the bridge proves itself to Azure OpenAI: an API key, or a Microsoft Entra ID token.

With no key configured, `EntraToken` signs in with azure-identity's async
credentials: in a Function App (the platform sets `IDENTITY_ENDPOINT`) its
managed identity (`AZURE_CLIENT_ID` selects a user-assigned one), elsewhere
`DefaultAzureCredential` (`az login` on a laptop, environment credentials).
The token is fetched on the first request that needs it (never at import),
cached, refreshed a few minutes before it expires (concurrent requests share
one refresh), and forgotten when Azure refuses it.

    signing in fails because                           the client gets
    -------------------------------------------------  -----------------------------------------
    the identity endpoint cannot be reached, times     503 api_error: a passing outage, retried
      out or answers 429 / 5xx                           by the client
    no credential exists (no managed identity, no      500 api_error with x-should-retry: false:
      `az login`), or the endpoint refuses (4xx)         the bridge's configuration, named
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Protocol

from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError

from bridge.errors import BridgeError, misconfigured

SCOPE = "https://cognitiveservices.azure.com/.default"
REFRESH_MARGIN_SECONDS = 300.0
MANAGED_IDENTITY_ENDPOINT = "IDENTITY_ENDPOINT"
"""Set by the Functions / App Service platform when the app has a managed identity."""
UNAVAILABLE = 503
_closing: set[asyncio.Future[None]] = set()


class Credential(Protocol):
    keyed: bool

    async def headers(self) -> dict[str, str]: ...

    def forget(self) -> None:
        """Azure refused what `headers` gave: get a new one next time."""
        ...


class ApiKey:
    keyed = True

    def __init__(self, key: str, header: str = "api-key") -> None:
        self._headers = {header: key} if header == "api-key" else {header: f"Bearer {key}"}

    async def headers(self) -> dict[str, str]:
        return self._headers

    def forget(self) -> None:
        """A key does not change."""


class NoCredential:
    """A local OpenAI-compatible server that takes no key (Ollama, llama.cpp)."""

    keyed = True

    async def headers(self) -> dict[str, str]:
        return {}

    def forget(self) -> None:
        """There is nothing to renew."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _passing(exc: BaseException) -> bool:
    """Whether signing in failed for a reason that passes (the endpoint down, busy or slow)."""
    if isinstance(exc, (ServiceRequestError, ServiceResponseError, TimeoutError, ConnectionError)):
        return True
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return isinstance(exc, ClientAuthenticationError) and isinstance(status, int) and (status >= 500 or status == 429)


def sign_in_failure(exc: BaseException) -> BridgeError:
    said = f"azure-identity said: {_first_line(exc)}"
    if _passing(exc):
        return BridgeError(
            "api_error",
            f"The bridge could not get a Microsoft Entra ID token just now (the managed identity endpoint is not "
            f"answering); retry in a moment. {said}",
            http_status=UNAVAILABLE,
        )
    return misconfigured(
        "AZURE_OPENAI_API_KEY is not set and no Microsoft Entra ID credential was found: give the Function App a "
        "managed identity (with AZURE_CLIENT_ID for a user-assigned one), run `az login` locally, or set "
        f"AZURE_OPENAI_API_KEY. {said}"
    )


def identity_credential() -> Any:
    """azure-identity's async credential for the bridge's own identity: in a Function App its managed identity
    (AZURE_CLIENT_ID selects a user-assigned one), elsewhere DefaultAzureCredential (`az login`)."""
    if os.environ.get(MANAGED_IDENTITY_ENDPOINT):
        from azure.identity.aio import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=os.environ.get("AZURE_CLIENT_ID") or None)
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential()


class EntraToken:
    keyed = False

    def __init__(self) -> None:
        self._credential: Any | None = None
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._token is not None and self._expires_on - time.time() > REFRESH_MARGIN_SECONDS

    async def headers(self) -> dict[str, str]:
        if not self._fresh():
            async with self._lock:
                if not self._fresh():
                    await self._refresh()
        return {"Authorization": f"Bearer {self._token}"}

    def forget(self) -> None:
        """Drop the token and the credential that issued it (azure-identity would hand out its cached copy)."""
        old, self._credential, self._token = self._credential, None, None
        if old is not None:
            closing = asyncio.ensure_future(old.close())
            _closing.add(closing)
            closing.add_done_callback(_closing.discard)

    def _signing_in(self) -> Any:
        if self._credential is None:
            self._credential = identity_credential()
        return self._credential

    async def _refresh(self) -> None:
        try:
            token = await self._signing_in().get_token(SCOPE)
        except Exception as exc:
            raise sign_in_failure(exc) from None
        self._token = token.token
        self._expires_on = float(token.expires_on)
