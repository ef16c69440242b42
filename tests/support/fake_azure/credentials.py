"""Who may call the resource: API keys and Entra ID bearer tokens.

    request                                                answer
    -----------------------------------------------------  --------------------------------------------------
    `api-key` equal to the resource's key                  served
    `api-key` on a resource without keys (`api_key` None)  403 AuthenticationTypeDisabled
    another `api-key`, or no credential at all             401 `Access denied due to invalid subscription key ...`
    `Authorization: Bearer` with an accepted token         served
    a bearer token whose principal lacks the data role     401 PermissionDenied (names the principal and action)
    any other bearer token                                 401 `{"statusCode": 401, "message": "Unauthorized. ..."}`

The principal of a token is its `oid` claim when it is a JWT, otherwise a
stable UUID derived from it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Collection, Mapping

from .errors import ACCESS_DENIED, ENTRA_UNAUTHORIZED, KEY_AUTH_DISABLED, Api, AzureError, permission_denied


def credential_error(
    headers: Mapping[str, str],
    api: Api,
    *,
    api_key: str | None,
    bearer_tokens: Collection[str],
    roleless_tokens: Collection[str],
) -> AzureError | None:
    """The resource's answer to the credentials in `headers`, or None when the caller may proceed."""
    key = headers.get("api-key")
    if key is not None:
        if api_key is None:
            return KEY_AUTH_DISABLED
        return None if key == api_key else ACCESS_DENIED
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return ACCESS_DENIED
    if token in roleless_tokens:
        return permission_denied(principal(token), api)
    return None if token in bearer_tokens else ENTRA_UNAUTHORIZED


def principal(token: str) -> str:
    """The object id a token stands for."""
    parts = token.split(".")
    if len(parts) == 3:
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except ValueError:
            claims = None
        if isinstance(claims, dict) and isinstance(claims.get("oid"), str):
            return str(claims["oid"])
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fake-azure-principal:" + token))
