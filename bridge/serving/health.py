"""`HEAD /` and `GET /` (Claude Code probes the root before each session) and `GET /health`."""

from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response

from bridge.errors import BridgeError
from bridge.serving.inbound import presented_token
from bridge.serving.process import Picture, current_bridge

SERVICE = "claude-azure-bridge"
SIGN_IN = {"token": "present the client token", "entra": "sign in with an Entra ID access token or a personal key"}


async def root(req: HttpRequest) -> Response:  # noqa: ARG001 - the Functions host binds the trigger by the name `req`
    return JSONResponse({"status": "ok", "service": SERVICE})


def _details(picture: Picture) -> dict[str, object]:
    return {
        "upstreams": [
            {
                "setting": upstream.setting,
                "host": upstream.host,
                "api": upstream.api_version or "openai-compatible",
                "auth": upstream.auth,
            }
            for upstream in picture.upstreams
        ],
        "tiers": {
            name: {"deployment": tier.deployment, "api": tier.api_setting or "auto"}
            for name, tier in picture.tiers.items()
            if tier.setting == name
        },
    }


async def health(req: HttpRequest) -> Response:
    """200 when configured; 503 listing each configuration problem by setting name, the gateway's too
    ("refusing" when the bridge serves nothing until one is fixed: `Bridge.lockout`).

    Upstream hosts and deployment names are shown only to a caller the bridge lets in (the client
    token, an Entra ID token or a personal key; anyone when the bridge requires nothing): the
    Function URL is public.
    """
    bridge = current_bridge()
    picture = bridge.describe()
    body: dict[str, object] = {
        "status": "refusing" if picture.lockout else "misconfigured" if picture.problems else "ok",
        "service": SERVICE,
        "problems": list(picture.problems),
        "client_auth": picture.client_auth,
        "client_token_required": picture.client_token_required,
    }
    try:
        await bridge.gateway.authenticator.caller(presented_token(req))
        body.update(_details(picture))
        body["usage_store"] = "table" if bridge.gateway.shared else "memory"
    except BridgeError as error:
        body["details"] = (
            f"the credential presented is refused: {error.message}"
            if presented_token(req) is not None
            else f"{SIGN_IN[picture.client_auth]} (x-api-key or Authorization: Bearer) to see upstreams and tiers"
        )
    return JSONResponse(body, status_code=503 if picture.problems else 200)
