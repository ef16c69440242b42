"""The bridge's own access tokens: short-lived JWTs (HS256, PyJWT) that Claude Code presents after `/login`.

    header   alg HS256, typ JWT, kid: the first 16 hex digits of SHA-256(key)
    claims   iss ISSUER, aud the app registration's client id, sub and oid the person's Entra object id,
             tid, upn (what people read), email (the same), roles, groups, groups_overage, sid (the
             session: revoked → refused), iat, nbf, exp (LOGIN_TOKEN_MINUTES), jti

Checked in this order, each failure a 401 with `x-should-retry: false` (Claude Code then asks to sign in
again at once): the form; `alg` exactly HS256 (`none`, RS256 and every other alg refused before any key is
touched, so a public key can never serve as an HMAC secret); a `kid` this bridge holds (LOGIN_SIGNING_KEY,
or LOGIN_SIGNING_KEY_PREVIOUS during a rotation); the signature; iss, aud, exp and nbf (30 s of leeway);
the tenant (ENTRA_TENANT_ID).  Then `service.LoginService.caller` reads the session (revoked: refused).

Why HMAC with a key kept in Key Vault (a secret the platform resolves into the app setting through the
managed identity) and not Key Vault's sign operation: only this bridge issues and checks these tokens, so
a shared secret suffices; checking costs no call and issuing none either (a sign call would add a Key
Vault round trip to every sign-in and refresh, and make Key Vault's availability part of each); and
the Bicep can create the secret itself, once, from random GUIDs, as it does for ANTHROPIC_AUTH_TOKEN.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from bridge.errors import BridgeError
from bridge.gateway.auth.caller import Caller

ISSUER = "claude-azure-bridge/login"
ALGORITHM = "HS256"
LEEWAY_SECONDS = 30


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def refused(reason: str) -> BridgeError:
    return BridgeError("authentication_error", f"Bridge sign-in token refused: {reason}. Sign in again with /login")


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a checked token says: the person and their session."""

    person: Caller
    session_id: str


class LoginTokens:
    """Issues and checks the bridge's access tokens for one app registration (`audience`) and tenant."""

    def __init__(
        self,
        key: str,
        *,
        audience: str,
        tenant_id: str,
        lifetime_seconds: int,
        previous_keys: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._keys = {key_id(k): k for k in (*previous_keys, key)}
        self.audience = audience
        self.tenant_id = tenant_id
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock

    def issue(self, person: Caller, session_id: str) -> str:
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": self.audience,
            "sub": person.user_id,
            "oid": person.user_id,
            "tid": person.tenant_id,
            "upn": person.name,
            "email": person.name,
            "roles": sorted(person.roles),
            "groups": sorted(person.groups),
            "groups_overage": person.groups_overage,
            "sid": session_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_seconds,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": key_id(self._key)})

    def issued_here(self, token: str) -> bool:
        """Whether `token` says this bridge issued it (unchecked: only which checks apply)."""
        try:
            return jwt.decode(token, options={"verify_signature": False}).get("iss") == ISSUER
        except jwt.InvalidTokenError:
            return False

    def check(self, token: str, *, expired_ok: bool = False) -> Claimed:
        """The person and session `token` proves, or a 401 naming what is wrong (`expired_ok`: for revocation)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise refused("malformed") from None
        if header.get("alg") != ALGORITHM:
            raise refused(f"signed with alg {str(header.get('alg'))[:20]!r}; this bridge signs with {ALGORITHM} only")
        key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise refused("it is signed with a key this bridge does not hold (a rotated-out key, or another bridge)")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "sid"], "verify_exp": not expired_ok},
            )
        except jwt.ExpiredSignatureError:
            raise refused("it has expired (Claude Code refreshes it on its own; this one was not)") from None
        except jwt.InvalidSignatureError:
            raise refused("bad signature") from None
        except jwt.InvalidTokenError as exc:
            raise refused(f"malformed ({str(exc)[:120]})") from None
        return Claimed(self._person(claims), str(claims["sid"]))

    def _person(self, claims: Mapping[str, Any]) -> Caller:
        tenant = claims.get("tid")
        if not isinstance(tenant, str) or tenant.lower() != self.tenant_id.lower():
            raise refused(f"it names tenant {str(tenant)[:40]!r}; this bridge accepts tenant {self.tenant_id}")
        user = claims.get("oid")
        if not isinstance(user, str) or not user or user != claims.get("sub"):
            raise refused("it names no person")

        def strings(name: str) -> frozenset[str]:
            values = claims.get(name)
            return frozenset(v for v in values if isinstance(v, str)) if isinstance(values, list) else frozenset()

        name = claims.get("upn")
        return Caller(
            user,
            name if isinstance(name, str) and name else user,
            "login",
            tenant,
            strings("roles"),
            strings("groups"),
            groups_overage=claims.get("groups_overage") is True,
        )
