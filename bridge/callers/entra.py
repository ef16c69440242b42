"""Microsoft Entra ID access tokens for the bridge's app registration: checked, then turned into a `Caller`.

The checks are the ones the Microsoft identity platform documents for a
protected web API, in this order (PyJWT and `cryptography` do the signature
and the time claims; nothing here is hand-written crypto):

    check        accepted                                               refused with (401 unless noted)
    shape        a JWS with a `kid`                                     "malformed"
    algorithm    RS256 only                                             none, HS256/384/512 and every other alg
    key          a key of the tenant's JWKS (OpenID configuration)      "unknown signing key" (after one refetch)
    signature    RS256 over header and payload                          "bad signature"
    exp / nbf    within LEEWAY_SECONDS of now                           "expired at ...", "not valid until ..."
    issuer       {authority}/{tenant}/v2.0 (v2.0 tokens) or                  "wrong issuer ..."
                 https://sts.windows.net/{tenant}/ (v1.0 tokens)
    tid          ENTRA_TENANT_ID                                        "issued by tenant ..."
    audience     ENTRA_CLIENT_ID or api://ENTRA_CLIENT_ID               "wrong audience ..., expected ..."
    oid          present                                                "no object id"
    app role     ENTRA_REQUIRED_ROLE in `roles`, when configured        403 permission_error

The signing keys come from the tenant's OpenID configuration
(`{authority}/{tenant}/v2.0/.well-known/openid-configuration`, then its
`jwks_uri`), fetched through the process's shared HTTP session
(`bridge.http`) on first use, never at import; v1.0 and v2.0 tokens of a
tenant are signed with the same keys.  Both token versions are accepted, as
the Microsoft identity platform documents for a web API: an app registration
left at its default (`requestedAccessTokenVersion` null) gets v1.0 tokens
(issuer `https://sts.windows.net/{tenant}/`, audience `api://<client id>`);
the deployment sets it to 2 anyway.

The keys are cached; a token naming a key id the cache lacks fetches the set again, at most
once per REFETCH_INTERVAL_SECONDS (a forged kid cannot make the bridge hammer
Entra); the whole set is refreshed once it is MAX_KEY_AGE_SECONDS old (a failed
refresh keeps the old set).  Concurrent requests share one fetch.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt

from bridge.callers.caller import Caller
from bridge.errors import BridgeError
from bridge.http import proxy_for, session

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
V1_ISSUER_HOST = "https://sts.windows.net"
ALGORITHM = "RS256"
LEEWAY_SECONDS = 60
REFETCH_INTERVAL_SECONDS = 60.0
"""A token naming an unknown key id fetches the key set again at most this often."""
RETRY_AFTER_FAILED_FETCH_SECONDS = 5.0
"""With no key set at all (Entra unreachable so far), how soon a request may try again."""
MAX_KEY_AGE_SECONDS = 24 * 3600.0
FETCH_TIMEOUT_SECONDS = 10.0
NAME_CLAIMS = ("preferred_username", "upn", "unique_name", "email", "name", "app_displayname")
_SHOWN_CLAIM_CHARS = 120


@dataclass(frozen=True, slots=True)
class EntraConfig:
    tenant_id: str
    """The directory (tenant) id, a GUID: tokens must carry it as `tid` and in their issuer."""
    client_id: str
    """The application (client) id of the bridge's app registration: the tokens' audience."""
    authority: str = DEFAULT_AUTHORITY
    required_role: str | None = None
    """An app role every caller must have (403 otherwise); None: any user of the tenant."""

    @property
    def issuer(self) -> str:
        """The issuer of v2.0 tokens (and of the OpenID configuration)."""
        return f"{self.authority.rstrip('/')}/{self.tenant_id}/v2.0"

    @property
    def issuers(self) -> tuple[str, str]:
        """Accepted issuers: v2.0, and v1.0 (the Security Token Service's, the same for every authority host)."""
        return (self.issuer, f"{V1_ISSUER_HOST}/{self.tenant_id}/")

    @property
    def audiences(self) -> tuple[str, str]:
        return (self.client_id, f"api://{self.client_id}")

    @property
    def openid_configuration_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def token_command(self) -> str:
        """What a user runs to get a token (Claude Code's apiKeyHelper)."""
        return f"az account get-access-token --resource api://{self.client_id} --query accessToken -o tsv"


def refused(reason: str) -> BridgeError:
    return BridgeError("authentication_error", f"Microsoft Entra ID token refused: {reason}")


def _shown(value: object) -> str:
    """A claim as it may appear in a message: quoted, printable, bounded."""
    text = repr(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= _SHOWN_CLAIM_CHARS else text[:_SHOWN_CLAIM_CHARS] + "..."


def _utc(timestamp: object) -> str:
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return _shown(timestamp)


def _strings(value: object) -> frozenset[str]:
    return frozenset(v for v in value if isinstance(v, str)) if isinstance(value, list) else frozenset()


class EntraVerifier:
    """Checks Entra ID access tokens for one app registration; one per process, shared by all requests."""

    def __init__(self, config: EntraConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._jwks_uri: str | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0
        """How many times the key set was fetched (for tests and /health)."""

    async def verify(self, token: str) -> Caller:
        """The caller `token` proves, or a BridgeError that says what is wrong with it."""
        try:
            header = jwt.get_unverified_header(token)
            claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise refused(f"malformed: this is not a JWT access token. Get one with `{self.config.token_command}`") from None
        algorithm = header.get("alg")
        if algorithm != ALGORITHM:
            raise refused(
                f"the token is signed with alg {_shown(algorithm)}; only {ALGORITHM}-signed Entra ID tokens are accepted"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise refused("malformed: the token header names no signing key (kid)")
        self._refuse_wrong_issuer(claims)
        key = await self._key(kid)
        try:
            jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=list(self.config.audiences),
                issuer=self.config.issuers,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as exc:
            raise refused(self._reason(exc, claims)) from None
        return self._caller(claims)

    def _refuse_wrong_issuer(self, claims: Mapping[str, Any]) -> None:
        """Wrong tenant: said before the signature, which needs no key fetch to be wrong."""
        tenant = claims.get("tid")
        if isinstance(tenant, str) and tenant.lower() != self.config.tenant_id.lower():
            raise refused(
                f"it was issued by tenant {_shown(tenant)}; this bridge accepts tenant {self.config.tenant_id} "
                "(ENTRA_TENANT_ID). Sign in to that tenant: `az login --tenant " + self.config.tenant_id + "`"
            )

    def _reason(self, exc: jwt.InvalidTokenError, claims: Mapping[str, Any]) -> str:
        if isinstance(exc, jwt.ExpiredSignatureError):
            return f"it expired at {_utc(claims.get('exp'))}. Get a fresh one with `{self.config.token_command}`"
        if isinstance(exc, jwt.ImmatureSignatureError):
            moment = claims.get("nbf") if "nbf" in str(exc) else claims.get("iat")
            return f"it is not valid until {_utc(moment)} (check this machine's clock)"
        if isinstance(exc, jwt.InvalidAudienceError):
            expected = " or ".join(self.config.audiences)
            return (
                f"wrong audience {_shown(claims.get('aud'))}: expected {expected} (ENTRA_CLIENT_ID). "
                f"Get a token for the bridge with `{self.config.token_command}`"
            )
        if isinstance(exc, jwt.InvalidIssuerError):
            return f"wrong issuer {_shown(claims.get('iss'))}: expected {' or '.join(self.config.issuers)}"
        if isinstance(exc, jwt.InvalidSignatureError):
            return "bad signature: it was not signed by the key it names"
        if isinstance(exc, jwt.MissingRequiredClaimError):
            return f"malformed: it has no {exc.claim!r} claim"
        return f"malformed: {str(exc)[:300]}"

    def _caller(self, claims: Mapping[str, Any]) -> Caller:
        tenant = claims.get("tid")
        if not isinstance(tenant, str) or tenant.lower() != self.config.tenant_id.lower():
            raise refused(f"it names no tenant (tid); this bridge accepts tenant {self.config.tenant_id}")
        object_id = claims.get("oid")
        if not isinstance(object_id, str) or not object_id:
            raise refused("it has no object id (oid): use a token issued to a user or a managed identity")
        name = next((v for c in NAME_CLAIMS if isinstance(v := claims.get(c), str) and v), object_id)
        caller = Caller(object_id, name, "entra", tenant, _strings(claims.get("roles")), _strings(claims.get("groups")))
        self.require_role(caller)
        return caller

    def require_role(self, caller: Caller) -> None:
        """403 unless `caller` has ENTRA_REQUIRED_ROLE (a key's owner: as the key remembers them)."""
        required = self.config.required_role
        if required is not None and required not in caller.roles:
            raise BridgeError(
                "permission_error",
                f"{caller.name} does not have the app role {required!r} that this bridge requires (ENTRA_REQUIRED_ROLE): "
                "ask an administrator to assign it in the bridge's enterprise application, then get a fresh token "
                "(or a new personal key)",
            )

    async def _key(self, kid: str) -> jwt.PyJWK:
        if kid in self._keys and not self._stale():
            return self._keys[kid]
        async with self._lock:
            if (kid not in self._keys or self._stale()) and self._may_fetch():
                await self._fetch()
        if kid not in self._keys:
            raise refused(
                f"it names signing key {_shown(kid)}, which tenant {self.config.tenant_id} does not publish "
                f"({self.config.openid_configuration_url})"
            )
        return self._keys[kid]

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= MAX_KEY_AGE_SECONDS

    def _may_fetch(self) -> bool:
        if self._attempted_at is None:
            return True
        interval = REFETCH_INTERVAL_SECONDS if self._keys else RETRY_AFTER_FAILED_FETCH_SECONDS
        return self._clock() - self._attempted_at >= interval

    async def _fetch(self) -> None:
        self._attempted_at = self._clock()
        self.fetches += 1
        try:
            if self._jwks_uri is None:
                document = await self._get_json(self.config.openid_configuration_url)
                jwks_uri = document.get("jwks_uri")
                if not isinstance(jwks_uri, str):
                    raise ValueError("the OpenID configuration has no jwks_uri")
                self._jwks_uri = jwks_uri
            keys = _signing_keys(await self._get_json(self._jwks_uri))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            if self._keys:
                return
            raise BridgeError(
                "api_error",
                f"Could not fetch the Entra ID signing keys of tenant {self.config.tenant_id} "
                f"({self.config.openid_configuration_url}; ENTRA_AUTHORITY, ENTRA_TENANT_ID): {str(exc)[:300]}",
                http_status=503,
            ) from None
        self._keys = keys
        self._fetched_at = self._clock()

    async def _get_json(self, url: str) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
        async with session().get(url, timeout=timeout, proxy=proxy_for(url)) as response:
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
