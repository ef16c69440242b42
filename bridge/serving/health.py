"""`HEAD /` and `GET /` (Claude Code probes the root before each session) and `GET /health`."""

from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response

from bridge.config.load import Settings
from bridge.errors import BridgeError
from bridge.gateway.pricing.price import Price
from bridge.serving.inbound import presented_token
from bridge.serving.process import current_bridge

SERVICE = "claude-azure-bridge"
SIGN_IN = {"token": "present the client token", "entra": "sign in with an Entra ID access token or a personal key"}


async def root(req: HttpRequest) -> Response:  # noqa: ARG001 - the Functions host binds the trigger by the name `req`
    return JSONResponse({"status": "ok", "service": SERVICE})


def _details(settings: Settings) -> dict[str, object]:
    return {
        "upstreams": [
            {
                "setting": upstream.source,
                "host": upstream.host,
                "api": upstream.api_version if upstream.flavor == "azure" else "openai-compatible",
                "auth": "api-key" if upstream.api_key else ("entra-id" if upstream.flavor == "azure" else "none"),
            }
            for upstream in settings.upstreams
        ],
        "tiers": {name: {"deployment": tier.deployment, "api": tier.api or "auto"} for name, tier in settings.tiers.items()},
    }


async def health(req: HttpRequest) -> Response:
    """200 when configured; 503 listing each configuration problem by setting name, the gateway's too
    ("refusing" when the bridge serves nothing until one is fixed: `Bridge.refusal`).

    Upstream hosts, deployment names and their prices (USD per million input, cached and output
    tokens, and where each comes from) are shown only to a caller the bridge lets in (the client
    token, an Entra ID token or a personal key; anyone when the bridge requires nothing): the
    Function URL is public.
    """
    bridge = current_bridge()
    settings, gateway = bridge.settings, bridge.gateway_settings
    try:
        await bridge.gateway.authenticator.caller(presented_token(req))
        signed_in, refused = True, None
    except BridgeError as error:
        signed_in, refused = False, error
    problems = await bridge.all_problems(detailed=signed_in)
    body: dict[str, object] = {
        "status": "refusing" if bridge.lockout else "misconfigured" if problems else "ok",
        "service": SERVICE,
        "problems": list(problems),
        "client_auth": gateway.client_auth,
        "client_token_required": gateway.client_auth == "entra" or settings.auth_token is not None,
    }
    if refused is None:
        body.update(_details(settings))
        body["usage_store"] = "table" if bridge.gateway.shared else "memory"
        prices = bridge.prices
        body["prices"] = {tier.deployment: _price(prices.lookup(tier.deployment)) for tier in settings.tiers.values()}
    else:
        body["details"] = (
            f"the credential presented is refused: {refused.message}"
            if presented_token(req) is not None
            else f"{SIGN_IN[gateway.client_auth]} (x-api-key or Authorization: Bearer) to see upstreams and tiers"
        )
    return JSONResponse(body, status_code=503 if problems else 200)


def _price(price: Price | None) -> dict[str, str] | None:
    return price.describe() if price is not None else None
