"""How the bridge proves itself to Azure OpenAI: an API key, or a Microsoft Entra ID token.

With no key configured, `EntraToken` uses azure-identity's async
`DefaultAzureCredential` (the Function App's managed identity, `AZURE_CLIENT_ID`
for a user-assigned one, `az login` on a laptop).  The token is fetched on the
first request that needs it (never at import), cached, and refreshed a few
minutes before it expires; concurrent requests share one refresh.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from bridge.errors import BridgeError

SCOPE = "https://cognitiveservices.azure.com/.default"
REFRESH_MARGIN_SECONDS = 300.0


class Credential(Protocol):
    keyed: bool

    async def headers(self) -> dict[str, str]: ...


class ApiKey:
    keyed = True

    def __init__(self, key: str, header: str = "api-key") -> None:
        self._headers = {header: key} if header == "api-key" else {header: f"Bearer {key}"}

    async def headers(self) -> dict[str, str]:
        return self._headers


class NoCredential:
    """A local OpenAI-compatible server that takes no key (Ollama, llama.cpp)."""

    keyed = True

    async def headers(self) -> dict[str, str]:
        return {}


class EntraToken:
    keyed = False

    def __init__(self, credential: Any | None = None) -> None:
        self._credential = credential
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

    async def _refresh(self) -> None:
        try:
            if self._credential is None:
                from azure.identity.aio import DefaultAzureCredential

                self._credential = DefaultAzureCredential()
            token = await self._credential.get_token(SCOPE)
        except Exception as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BridgeError(
                "authentication_error",
                "AZURE_OPENAI_API_KEY is not set and no Microsoft Entra ID credential was found: give the Function App "
                "a managed identity (with AZURE_CLIENT_ID for a user-assigned one), run `az login` locally, or set "
                f"AZURE_OPENAI_API_KEY. azure-identity said: {first_line[:300]}",
            ) from None
        self._token = token.token
        self._expires_on = float(token.expires_on)
