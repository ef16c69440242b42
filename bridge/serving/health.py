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
        "prices": {deployment: price.describe() if price is not None else None for deployment, price in picture.prices.items()},
    }


async def health(req: HttpRequest) -> Response:
    """200 when configured; 503 listing each configuration problem by setting name, the gateway's too
    ("refusing" when the bridge serves nothing until one is fixed: `Bridge.lockout`).

    Upstream hosts, deployment names and their prices (USD per million input, cached and output
    tokens, and where each comes from) are shown only to a caller the bridge lets in (the client
    token, an Entra ID token or a personal key; anyone when the bridge requires nothing): the
    Function URL is public.
    """
    bridge = current_bridge()
    await bridge.check_prices()
    picture = bridge.describe()
    try:
        await bridge.gateway.authenticator.caller(presented_token(req))
        refused = None
    except BridgeError as error:
        refused = error
    problems = picture.all_problems(detailed=refused is None)
    body: dict[str, object] = {
        "status": "refusing" if picture.lockout else "misconfigured" if problems else "ok",
        "service": SERVICE,
        "problems": list(problems),
        "client_auth": picture.client_auth,
        "client_token_required": picture.client_token_required,
    }
    if refused is None:
        body.update(_details(picture))
        body["usage_store"] = "table" if bridge.gateway.shared else "memory"
    else:
        body["details"] = (
            f"the credential presented is refused: {refused.message}"
            if presented_token(req) is not None
            else f"{SIGN_IN[picture.client_auth]} (x-api-key or Authorization: Bearer) to see upstreams and tiers"
        )
    return JSONResponse(body, status_code=503 if problems else 200)
