"""The safety policy: why the bridge must serve no request at all (`lockout`).

The client token is an unresolved Key Vault reference, or the bridge runs in Azure (`WEBSITE_SITE_NAME` is
set) with CLIENT_AUTH=token and no client token of at least `MIN_TOKEN_LENGTH` characters and without
`ALLOW_OPEN_ACCESS=true`.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.config.kinds import unresolved, unresolved_problem
from bridge.config.table import ALLOW_OPEN_ACCESS, AUTH_TOKEN, CLIENT_AUTH

MIN_TOKEN_LENGTH = 32
IN_AZURE = "WEBSITE_SITE_NAME"
"""Set by App Service and Azure Functions on every app."""


def lockout_reason(env: Mapping[str, str], token: str | None) -> str | None:
    """Why serving would be unsafe: an unresolved client token, or an open (or guessable) bridge in Azure.

    With CLIENT_AUTH=entra the client token is not used: every caller signs in with Entra ID or a personal key.
    """
    if CLIENT_AUTH.value(env, []) == "entra":
        return None
    raw = env.get(AUTH_TOKEN.name, "").strip()
    if unresolved(raw):
        return unresolved_problem(AUTH_TOKEN.name)
    in_azure = bool(env.get(IN_AZURE, "").strip())
    if not in_azure or (token is not None and len(token) >= MIN_TOKEN_LENGTH):
        return None
    if token is None and (ALLOW_OPEN_ACCESS.value(env, []) or "").lower() == "true":
        return None
    if token is None:
        return (
            f"{AUTH_TOKEN.name} is not set, and a bridge in Azure does not serve without a client token: set it (azd up "
            f"does), or set {ALLOW_OPEN_ACCESS.name}=true if something in front of the bridge authenticates its callers"
        )
    return f"{AUTH_TOKEN.name} is shorter than {MIN_TOKEN_LENGTH} characters: a bridge in Azure needs a token hard to guess"
