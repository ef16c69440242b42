"""The bridge as a plain ASGI (Starlette) application, for uvicorn: the same routes and handlers as function_app.py."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from bridge.errors import BridgeError
from bridge.fronts.anthropic.routes import FRONT as ANTHROPIC
from bridge.fronts.openai.routes import FRONT as OPENAI
from bridge.inbound import new_request_id
from bridge.routes import ROUTES

OPENAI_PATHS = ("/v1/chat/", "/v1/models", "/v1/completions", "/v1/responses")


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in the error shape of the client API the path belongs to."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    served = ", ".join(f"{' '.join(r.methods)} {r.path}" for r in ROUTES)
    if status == 405:
        error = BridgeError("invalid_request_error", f"{request.method} is not allowed on {request.url.path}")
    elif status == 404:
        error = BridgeError("not_found_error", f"No route for {request.method} {request.url.path}: the bridge serves {served}")
    else:
        error = BridgeError("api_error", "Internal error")
    front = OPENAI if request.url.path.startswith(OPENAI_PATHS) else ANTHROPIC
    response = front.error_response(error, new_request_id())
    response.status_code = status
    return response


def create_app() -> Starlette:
    routes = [StarletteRoute(r.path, r.handler, methods=list(r.methods), name=r.name) for r in ROUTES]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
