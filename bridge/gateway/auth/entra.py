"""Microsoft Entra ID access tokens for the bridge's app registration: checked, then turned into a `Caller`.

The checks are the ones the Microsoft identity platform documents for a
protected web API, in this order (PyJWT and `cryptography` do the signature
and the time claims; nothing here is hand-written crypto):

    check        accepted                                               refused with (401 unless noted)
    shape        a JWS with a `kid`                                     "malformed"
    algorithm    RS256 only                                             none, HS256/384/512 and every other alg
    key          a key of the tenant's JWKS (`SigningKeys`)             "does not publish"; 503 while Entra is out
    signature    RS256 over header and payload                          "bad signature"
    exp / nbf    within LEEWAY_SECONDS of now                           "expired at ...", "not valid until ..."
    issuer       {authority}/{tenant}/v2.0 (v2.0 tokens) or             "wrong issuer ..."
                 https://sts.windows.net/{tenant}/ (v1.0 tokens)
    tid          ENTRA_TENANT_ID                                        "issued by tenant ..."
    audience     ENTRA_CLIENT_ID or api://ENTRA_CLIENT_ID               "wrong audience ..., expected ..."
    oid          present                                                "no object id"
    who          a person: `scp` holds DELEGATED_SCOPE                  403: a scope list without it
                 an application (no `scp`, or `idtyp` app): only        403: "issued to an application"
                 with ENTRA_AUTOMATION_ROLE in `roles`
    app role     a person: ENTRA_REQUIRED_ROLE in `roles`, when set     403 permission_error

A person's token (Claude Code's `az account get-access-token --resource
api://<client id>`) carries the delegated scope the app registration exposes
(`user_impersonation`, infra/entra-app.bicep) in `scp`.  A token an
application gets for itself (client credentials: any service principal or
managed identity of the tenant can ask for one) has no `scp`; it acts as a
person nowhere, and calls at all only with the app role ENTRA_AUTOMATION_ROLE
assigned to it (`Caller.method` "app", which never gets personal keys).

Groups: a person in more groups than a token lists gets no `groups` claim but
an overage marker (`_claim_names.groups`, or `hasgroups`); the caller is then
marked `groups_overage` and the budget applies the most restrictive group
override that could match (`bridge.gateway.usage.budget`).

The signing keys come from the tenant's OpenID configuration
(`{authority}/{tenant}/v2.0/.well-known/openid-configuration`, then its
`jwks_uri`), cached and fetched as `bridge.gateway.auth.signing_keys` describes;
v1.0 and v2.0 tokens of a tenant are signed with the same keys.  Both token
versions are accepted, as the Microsoft identity platform documents for a web
API: an app registration left at its default (`requestedAccessTokenVersion`
null) gets v1.0 tokens (issuer `https://sts.windows.net/{tenant}/`, audience
`api://<client id>`); the deployment sets it to 2 anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import jwt

from bridge.errors import BridgeError
from bridge.gateway.auth.caller import Caller
from bridge.gateway.auth.entra_config import EntraConfig
from bridge.gateway.auth.signing_keys import ALGORITHM, SigningKeys

DELEGATED_SCOPE = "user_impersonation"
"""The scope the bridge's app registration exposes (infra/entra-app.bicep): every person's token carries it."""
LEEWAY_SECONDS = 60
NAME_CLAIMS = ("preferred_username", "upn", "unique_name", "email", "name")
APP_NAME_CLAIMS = ("app_displayname", "azp", "appid")
_SHOWN_CLAIM_CHARS = 120


def rejected_token(reason: str) -> BridgeError:
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


def _groups_overage(claims: Mapping[str, Any]) -> bool:
    """The token lists none of the person's groups because they are in too many (200 in a JWT): Entra then
    points to Microsoft Graph (`_claim_names.groups`), or says `hasgroups` (implicit flow)."""
    names = claims.get("_claim_names")
    return (isinstance(names, dict) and "groups" in names) or claims.get("hasgroups") is True


class EntraVerifier:
    """Checks Entra ID access tokens for one app registration; one per process, shared by all requests."""

    def __init__(self, config: EntraConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.keys = SigningKeys(config.openid_configuration_url, config.tenant_id, clock=clock)

    @property
    def fetches(self) -> int:
        """How many times the key set was fetched (for tests and /health)."""
        return self.keys.fetches

    async def verify(self, token: str) -> Caller:
        """The caller `token` proves, or a BridgeError that says what is wrong with it."""
        try:
            header = jwt.get_unverified_header(token)
            claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise rejected_token(
                f"malformed: this is not a JWT access token. Get one with `{self.config.token_command}`"
            ) from None
        algorithm = header.get("alg")
        if algorithm != ALGORITHM:
            raise rejected_token(
                f"the token is signed with alg {_shown(algorithm)}; only {ALGORITHM}-signed Entra ID tokens are accepted"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise rejected_token("malformed: the token header names no signing key (kid)")
        self._refuse_wrong_issuer(claims)
        key = await self.keys.key(kid)
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
            raise rejected_token(self._reason(exc, claims)) from None
        return self._caller(claims)

    def _refuse_wrong_issuer(self, claims: Mapping[str, Any]) -> None:
        """Wrong tenant: said before the signature, which needs no key fetch to be wrong."""
        tenant = claims.get("tid")
        if isinstance(tenant, str) and tenant.lower() != self.config.tenant_id.lower():
            raise rejected_token(
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
            raise rejected_token(f"it names no tenant (tid); this bridge accepts tenant {self.config.tenant_id}")
        object_id = claims.get("oid")
        if not isinstance(object_id, str) or not object_id:
            raise rejected_token("it has no object id (oid): use a token issued to a user or a managed identity")
        roles = _strings(claims.get("roles"))
        scopes = claims.get("scp")
        if not isinstance(scopes, str) or claims.get("idtyp") == "app":
            return self._application(claims, object_id, tenant, roles)
        if DELEGATED_SCOPE not in scopes.split():
            raise BridgeError(
                "permission_error",
                f"Microsoft Entra ID token refused: it does not carry the bridge's delegated scope {DELEGATED_SCOPE!r} "
                f"(scp {_shown(scopes)}). Get a token for the bridge with `{self.config.token_command}`",
            )
        name = next((v for c in NAME_CLAIMS if isinstance(v := claims.get(c), str) and v), object_id)
        overage = _groups_overage(claims)
        groups = frozenset() if overage else _strings(claims.get("groups"))
        caller = Caller(object_id, name, "entra", tenant, roles, groups, groups_overage=overage)
        self.require_role(caller)
        return caller

    def _application(self, claims: Mapping[str, Any], object_id: str, tenant: str, roles: frozenset[str]) -> Caller:
        """An application's own token (no delegated scope): let in only with ENTRA_AUTOMATION_ROLE."""
        name = next((v for c in APP_NAME_CLAIMS if isinstance(v := claims.get(c), str) and v), object_id)
        automation = self.config.automation_role
        if automation is None or automation not in roles:
            allowed = (
                f"an application may call only with the app role {automation!r} (ENTRA_AUTOMATION_ROLE) assigned to it"
                if automation is not None
                else "applications may not call this bridge (ENTRA_AUTOMATION_ROLE is not set)"
            )
            raise BridgeError(
                "permission_error",
                f"Microsoft Entra ID token refused: it was issued to an application ({_shown(name)}, client credentials: "
                f"no delegated scope {DELEGATED_SCOPE!r}), not to a person signing in; {allowed}. People get a token "
                f"with `{self.config.token_command}`",
            )
        return Caller(object_id, name, "app", tenant, roles)

    def require_role(self, caller: Caller) -> None:
        """403 unless the person `caller` has ENTRA_REQUIRED_ROLE (a key's owner: as the key remembers them)."""
        required = self.config.required_role
        if required is not None and required not in caller.roles:
            raise BridgeError(
                "permission_error",
                f"{caller.name} does not have the app role {required!r} that this bridge requires (ENTRA_REQUIRED_ROLE): "
                "ask an administrator to assign it in the bridge's enterprise application, then get a fresh token "
                "(or a new personal key)",
            )
