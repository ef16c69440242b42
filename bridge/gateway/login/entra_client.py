"""The bridge as a confidential client of Microsoft Entra ID: the authorization-code flow with PKCE, and refresh.

    step              request (v2.0 endpoints of ENTRA_AUTHORITY/ENTRA_TENANT_ID)
    sign the person   GET  /oauth2/v2.0/authorize  client_id, response_type=code, redirect_uri, response_mode=query,
                           scope (SCOPES), state, nonce, code_challenge, code_challenge_method=S256
    redeem the code   POST /oauth2/v2.0/token      grant_type=authorization_code, code, redirect_uri, code_verifier,
                                                   scope, client authentication
    refresh           POST /oauth2/v2.0/token      grant_type=refresh_token, refresh_token, scope, client authentication

Both answers carry an access token *for the bridge itself* (scope api://<client id>/user_impersonation),
which the bridge checks exactly as it checks any caller's (`EntraVerifier`: signature, tenant, audience,
scope, ENTRA_REQUIRED_ROLE), plus an ID token (the nonce) and a refresh token, kept server-side.

How the bridge proves itself to Entra (client authentication), without a secret in Azure:

    ENTRA_CLIENT_SECRET set   client_id + client_secret in the body (client_secret_post): local runs, stand-ins
    otherwise                 client_id + client_assertion: a token of the Function App's managed identity for
                              api://AzureADTokenExchange, which the app registration trusts through a federated
                              identity credential (infra/entra-login.bicep); azure-identity gets and caches it

    Entra answers                             `EntraError`
    200 with the tokens                       -
    400/401 invalid_grant, interaction_       refused: the person must sign in again (a disabled account, a
      required, consent_required, ...         withdrawn consent, a conditional-access change, an expired grant)
    401 invalid_client, unauthorized_client   misconfigured: the bridge's credential (secret, federation)
    5xx, 429, no answer                       outage: retry later
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp

from bridge.gateway.auth.entra_config import EntraConfig
from bridge.http import proxy_for, session

TIMEOUT_SECONDS = 15.0
FEDERATION_SCOPE = "api://AzureADTokenExchange/.default"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MISCONFIGURED_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_scope", "unsupported_grant_type"})
Failure = Literal["refused", "misconfigured", "outage"]


@dataclass
class EntraError(Exception):
    failure: Failure
    error: str
    description: str

    def __post_init__(self) -> None:
        Exception.__init__(self, f"{self.error}: {self.description}")


@dataclass(frozen=True, slots=True)
class EntraTokens:
    access_token: str
    id_token: str | None
    refresh_token: str | None


def scopes(config: EntraConfig) -> str:
    """OpenID Connect, a refresh token, and a token for the bridge's own API."""
    return f"openid profile offline_access api://{config.client_id}/user_impersonation"


class EntraClient:
    def __init__(self, config: EntraConfig, *, client_secret: str | None = None) -> None:
        self.config = config
        self._client_secret = client_secret
        self._credential: Any = None

    @property
    def endpoints(self) -> str:
        return f"{self.config.authority.rstrip('/')}/{self.config.tenant_id}/oauth2/v2.0"

    def authorize_url(self, *, redirect_uri: str, state: str, nonce: str, challenge: str) -> str:
        query = {
            "client_id": self.config.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "response_mode": "query",
            "scope": scopes(self.config),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.endpoints}/authorize?{urlencode(query)}"

    async def redeem(self, code: str, *, redirect_uri: str, verifier: str) -> EntraTokens:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
        return await self._token(form)

    async def refresh(self, refresh_token: str) -> EntraTokens:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def _client_authentication(self) -> dict[str, str]:
        if self._client_secret is not None:
            return {"client_id": self.config.client_id, "client_secret": self._client_secret}
        if self._credential is None:
            from azure.identity.aio import ManagedIdentityCredential

            self._credential = ManagedIdentityCredential(client_id=os.environ.get("AZURE_CLIENT_ID") or None)
        try:
            assertion = (await self._credential.get_token(FEDERATION_SCOPE)).token
        except Exception as exc:
            said = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise EntraError(
                "misconfigured",
                "no_client_credential",
                "ENTRA_CLIENT_SECRET is not set and the managed identity gave no token for the federated credential "
                f"(AZURE_CLIENT_ID; api://AzureADTokenExchange): {said}",
            ) from None
        return {"client_id": self.config.client_id, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}

    async def _token(self, form: dict[str, str]) -> EntraTokens:
        url = f"{self.endpoints}/token"
        body = {**form, "scope": scopes(self.config), **await self._client_authentication()}
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                async with session().post(url, data=body, proxy=proxy_for(url)) as response:
                    status, raw = response.status, await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise EntraError("outage", "temporarily_unavailable", f"Entra ID did not answer ({url}): {exc}"[:300]) from None
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise EntraError("outage", "temporarily_unavailable", f"Entra ID answered {status} without JSON")
        if status == 200 and isinstance(answer.get("access_token"), str):
            id_token, refresh = answer.get("id_token"), answer.get("refresh_token")
            return EntraTokens(
                answer["access_token"],
                id_token if isinstance(id_token, str) else None,
                refresh if isinstance(refresh, str) else None,
            )
        error = str(answer.get("error") or "unknown")[:80]
        description = str(answer.get("error_description") or "").splitlines()[0][:300] if answer.get("error_description") else ""
        if status >= 500 or status == 429:
            raise EntraError("outage", error, description)
        raise EntraError("misconfigured" if error in MISCONFIGURED_ERRORS else "refused", error, description)

    async def aclose(self) -> None:
        if self._credential is not None:
            await self._credential.close()
            self._credential = None
