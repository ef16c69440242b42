"""Where an upstream lives, how its URLs are formed and how the bridge signs in to it.

upstream                 URL of an operation (chat/completions, responses)         auth
-----------------------  --------------------------------------------------------  ------------------------
Azure, v1 API (default)  {endpoint}/openai/v1/{operation}     model = deployment   api-key, or Entra ID
Azure, dated version     {endpoint}/openai/deployments/{deployment}/chat/completions
                         ?api-version=V;  {endpoint}/openai/responses?api-version=V
                         (model = deployment)                                       api-key, or Entra ID
OpenAI-compatible        {OPENAI_BASE_URL}/{operation}        model = the name      Bearer OPENAI_API_KEY
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from bridge.config.load import UpstreamSetting
from bridge.upstreams.credentials import ApiKey, Credential, EntraToken, NoCredential


@dataclass(frozen=True, slots=True)
class Endpoint:
    setting: UpstreamSetting
    credential: Credential
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_setting(cls, setting: UpstreamSetting, extra_headers: Mapping[str, str], entra: EntraToken) -> Endpoint:
        credential: Credential
        if setting.flavor == "openai":
            credential = ApiKey(setting.api_key, header="Authorization") if setting.api_key else NoCredential()
        else:
            credential = ApiKey(setting.api_key) if setting.api_key else entra
        return cls(setting, credential, extra_headers)

    @property
    def name(self) -> str:
        return self.setting.source

    @property
    def host(self) -> str:
        return self.setting.host

    def url(self, deployment: str, operation: str) -> str:
        base = self.setting.base_url
        if self.setting.flavor == "openai":
            return f"{base}/{operation}"
        if self.setting.uses_v1_api:
            return f"{base}/openai/v1/{operation}"
        version = quote(self.setting.api_version)
        if operation == "responses":
            return f"{base}/openai/responses?api-version={version}"
        return f"{base}/openai/deployments/{quote(deployment, safe='')}/{operation}?api-version={version}"

    async def headers(self) -> dict[str, str]:
        return {**self.extra_headers, **(await self.credential.headers()), "Content-Type": "application/json"}
