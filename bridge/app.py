"""The bridge as a plain ASGI (Starlette) application, for uvicorn: the same routes and handlers as function_app.py."""

from __future__ import annotations

import secrets

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from bridge.routes import ROUTES


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in the Anthropic error shape, like every other failure."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    kind = {404: "not_found_error", 405: "invalid_request_error"}.get(status, "api_error")
    message = {
        404: f"No route for {request.method} {request.url.path}: the bridge serves /v1/messages and /v1/messages/count_tokens",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(status, "Internal error")
    request_id = "req_" + secrets.token_hex(12)
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}
    return JSONResponse(body, status_code=status, headers={"request-id": request_id})


def create_app() -> Starlette:
    routes = [StarletteRoute(r.path, r.handler, methods=list(r.methods), name=r.name) for r in ROUTES]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
