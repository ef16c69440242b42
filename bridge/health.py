"""`HEAD /` and `GET /` (Claude Code probes the root before each session) and `GET /health`."""

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.pipeline import current_bridge

SERVICE = "claude-azure-bridge"


async def root(req: Request) -> Response:
    return JSONResponse({"status": "ok", "service": SERVICE})


async def health(req: Request) -> Response:
    """200 when configured; 503 listing each configuration problem by setting name."""
    settings = current_bridge().settings
    body = {
        "status": "misconfigured" if settings.problems else "ok",
        "service": SERVICE,
        "problems": list(settings.problems),
        "upstreams": [
            {
                "setting": upstream.source,
                "host": upstream.base_url.split("://", 1)[-1].split("/", 1)[0],
                "api": upstream.api_version if upstream.flavor == "azure" else "openai-compatible",
                "auth": "api-key" if upstream.api_key else ("entra-id" if upstream.flavor == "azure" else "none"),
            }
            for upstream in settings.upstreams
        ],
        "client_token_required": settings.auth_token is not None,
        "tiers": {name: {"deployment": tier.deployment, "api": tier.api or "auto"} for name, tier in settings.tiers.items()},
    }
    return JSONResponse(body, status_code=503 if settings.problems else 200)
