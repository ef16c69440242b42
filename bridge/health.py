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
        "api": "v1" if settings.uses_v1_api else settings.api_version,
        "auth": "api-key" if settings.api_key else "entra-id",
        "client_token_required": settings.auth_token is not None,
        "tiers": {"BIG_MODEL": settings.big_model, "MIDDLE_MODEL": settings.middle_model, "SMALL_MODEL": settings.small_model},
    }
    return JSONResponse(body, status_code=503 if settings.problems else 200)
