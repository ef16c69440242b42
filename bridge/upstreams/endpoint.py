"""Where an upstream lives and how its URLs are formed.

    API version      URL of an operation (chat/completions, responses)
    ---------------  -----------------------------------------------------------------
    v1 (default)     {endpoint}/openai/v1/{operation}            model = deployment name
    dated            {endpoint}/openai/deployments/{deployment}/{operation}?api-version=V
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from bridge.settings import V1_API
from bridge.upstreams.credentials import Credential


@dataclass(frozen=True, slots=True)
class Endpoint:
    base_url: str
    api_version: str
    credential: Credential
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    def url(self, deployment: str, operation: str) -> str:
        if self.api_version == V1_API:
            return f"{self.base_url}/openai/v1/{operation}"
        return f"{self.base_url}/openai/deployments/{quote(deployment, safe='')}/{operation}?api-version={quote(self.api_version)}"

    async def headers(self) -> dict[str, str]:
        return {**self.extra_headers, **(await self.credential.headers()), "Content-Type": "application/json"}
