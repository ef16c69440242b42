"""`HEAD /` and `GET /` (Claude Code probes the root before each session) and `GET /health`."""

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.errors import BridgeError
from bridge.inbound import check_client_token, presented_token
from bridge.pipeline import current_bridge
from bridge.settings import Settings

SERVICE = "claude-azure-bridge"


async def root(req: Request) -> Response:  # noqa: ARG001 - the Functions host binds the trigger by the name `req`
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


async def health(req: Request) -> Response:
    """200 when configured; 503 listing each configuration problem by setting name ("refusing" when the bridge
    serves nothing until one is fixed: `Settings.refusal`).

    Upstream hosts and deployment names are shown only to a caller with the client token
    (or to anyone when the bridge requires none): the Function URL is public.
    """
    settings = current_bridge().settings
    body: dict[str, object] = {
        "status": "refusing" if settings.refusal else "misconfigured" if settings.problems else "ok",
        "service": SERVICE,
        "problems": list(settings.problems),
        "client_token_required": settings.auth_token is not None,
    }
    try:
        check_client_token(req, settings)
        body.update(_details(settings))
    except BridgeError:
        body["details"] = (
            "the token presented is not this bridge's ANTHROPIC_AUTH_TOKEN"
            if presented_token(req) is not None
            else "present the client token (x-api-key or Authorization: Bearer) to see upstreams and tiers"
        )
    return JSONResponse(body, status_code=503 if settings.problems else 200)
