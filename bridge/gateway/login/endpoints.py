"""Where `/login`'s endpoints are, and the discovery document that names them (RFC 8414).

    path                                       what                                      who calls
    /.well-known/oauth-authorization-server    discovery (gateway_protocol_version 1)    Claude Code
    /oauth/device_authorization                a device code and a user code             Claude Code
    /oauth/token                               tokens by device code or refresh token    Claude Code
    /oauth/revoke                              revocation at sign-out (RFC 7009)         Claude Code
    /device                                    the verification page (GET), confirm (POST) the person's browser
    /device/deny                               deny (POST)                               the person's browser
    /oauth/callback                            Entra ID's answer                         the person's browser

Every URL is absolute on one origin, the bridge's (LOGIN_BASE_URL, else the URL the request came to):
Claude Code uses an endpoint only when it is on the origin it was pointed at.
"""

from __future__ import annotations

from typing import Any

DISCOVERY_PATH = "/.well-known/oauth-authorization-server"
DEVICE_AUTHORIZATION_PATH = "/oauth/device_authorization"
TOKEN_PATH = "/oauth/token"
REVOCATION_PATH = "/oauth/revoke"
VERIFICATION_PATH = "/device"
DENY_PATH = "/device/deny"
CALLBACK_PATH = "/oauth/callback"
GATEWAY_PROTOCOL_VERSION = 1
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def discovery(base_url: str) -> dict[str, Any]:
    return {
        "issuer": base_url,
        "device_authorization_endpoint": base_url + DEVICE_AUTHORIZATION_PATH,
        "token_endpoint": base_url + TOKEN_PATH,
        "revocation_endpoint": base_url + REVOCATION_PATH,
        "grant_types_supported": [DEVICE_GRANT, "refresh_token"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "gateway_protocol_version": GATEWAY_PROTOCOL_VERSION,
    }
