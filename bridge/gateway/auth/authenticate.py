"""From the credential a request presents (x-api-key or Authorization: Bearer) to the `Caller`.

    CLIENT_AUTH  presented              caller
    token        nothing configured     anonymous ("open")
    token        ANTHROPIC_AUTH_TOKEN   the shared token ("token"); anything else: 401
    entra        cab_...                the key's owner ("key"), looked up in the key store on every request; the
                                        owner's roles as the key remembers them must include ENTRA_REQUIRED_ROLE
    entra        a JWT the bridge       the person signed in with Claude Code's /login ("login"), checked by the
                 issued (/login)        `BearerIssuer` (bridge.gateway.login): signature, expiry, session not revoked
    entra        another JWT            the signed-in person ("entra"), checked by `EntraVerifier`, their sign-in
                                        noted for their keys (`PersonalKeys.note_sign_in`); or an application
                                        with ENTRA_AUTOMATION_ROLE ("app")
    entra        nothing                401 that says how to sign in

With CLIENT_AUTH=entra the shared token is not accepted: who calls is always a person (or an application let
in by name) the tenant knows.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Protocol

from bridge.errors import BridgeError, misconfigured
from bridge.gateway.auth.caller import Caller, anonymous_caller, shared_token_caller
from bridge.gateway.auth.keys import PersonalKeys, looks_like_key
from bridge.model import ClientAuth

if TYPE_CHECKING:
    from bridge.gateway.auth.entra import EntraVerifier


class BearerIssuer(Protocol):
    """The bridge's own sign-in (/login): which bearers it issued, and who each one is."""

    def issued_here(self, token: str) -> bool: ...

    async def caller(self, token: str) -> Caller: ...


class Authenticator:
    def __init__(
        self,
        mode: ClientAuth,
        *,
        shared_token: str | None = None,
        verifier: EntraVerifier | None = None,
        keys: PersonalKeys | None = None,
        lockout: str | None = None,
        login: BearerIssuer | None = None,
    ) -> None:
        if mode == "entra" and lockout is None and (verifier is None or keys is None):
            raise ValueError("CLIENT_AUTH=entra needs an EntraVerifier and PersonalKeys")
        self.mode = mode
        self.lockout = lockout
        """When sign-in is misconfigured: every request is refused with this (500, not retried)."""
        self.shared_token = shared_token
        self.verifier = verifier
        self.keys = keys
        self.login = login

    async def caller(self, presented: str | None) -> Caller:
        """Who presents `presented` (the x-api-key or bearer value, stripped; None when absent), or a 401/403."""
        if self.lockout is not None:
            raise misconfigured(self.lockout)
        if self.mode == "token" or self.verifier is None or self.keys is None:
            return self._shared(presented)
        if not presented:
            raise BridgeError(
                "authentication_error",
                "Sign in with Microsoft Entra ID: send an access token for this bridge as Authorization: Bearer or x-api-key "
                f"(Claude Code: set apiKeyHelper to `{self.verifier.config.token_command}`), or a personal key (cab_...)",
            )
        if looks_like_key(presented):
            owner = await self.keys.resolve(presented)
            self.verifier.require_role(owner)
            return owner
        if self.login is not None and self.login.issued_here(presented):
            return await self.login.caller(presented)
        caller = await self.verifier.verify(presented)
        if caller.method == "entra":
            await self.keys.note_sign_in(caller)
        return caller

    def _shared(self, presented: str | None) -> Caller:
        if self.shared_token is None:
            return anonymous_caller()
        if presented is None:
            raise BridgeError(
                "authentication_error",
                "Missing client token: send the bridge's ANTHROPIC_AUTH_TOKEN as x-api-key or Authorization: Bearer",
            )
        if not hmac.compare_digest(presented.encode(), self.shared_token.encode()):
            raise BridgeError("authentication_error", "Invalid client token: it is not this bridge's ANTHROPIC_AUTH_TOKEN")
        return shared_token_caller()
