"""The bridge as a plain ASGI (Starlette) application, for uvicorn: the same routes and handlers as function_app.py.

Every route also answers with a trailing slash (`/v1/messages/`), never with a
redirect.  A path that matches no route gets a 404 in the error shape of the
client API it belongs to, listing the routes; one under `/api` (the prefix
Azure Functions usually adds) says that the bridge's routes sit at the root.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from bridge.errors import BridgeError
from bridge.fronts.anthropic.routes import FRONT as ANTHROPIC
from bridge.fronts.openai.routes import FRONT as OPENAI
from bridge.http import close_session
from bridge.routes import ENDPOINTS, PREFLIGHT_ROUTE
from bridge.serving.cors import PREFLIGHT, add_cors_headers
from bridge.serving.inbound import new_request_id
from bridge.serving.process import close_bridge
from bridge.telemetry import request_log

OPENAI_PATHS = ("/v1/chat/", "/v1/models", "/v1/completions", "/v1/responses")
FUNCTIONS_PREFIX = "/api/"
SERVED = ", ".join(f"{method} {route.path}" for route in ENDPOINTS for method in route.methods)


def _not_found(req: HttpRequest) -> BridgeError:
    path = req.url.path
    if path.startswith(FUNCTIONS_PREFIX):
        root = path[len(FUNCTIONS_PREFIX) - 1 :]
        return BridgeError(
            "not_found_error",
            f"No route for {req.method} {path}: the bridge's routes sit at the root of its URL, with no /api prefix "
            f"(use {root}; for Claude Code, ANTHROPIC_BASE_URL is the URL without /api)",
        )
    return BridgeError("not_found_error", f"No route for {req.method} {path}: the bridge serves {SERVED}")


async def _http_error(req: HttpRequest, exc: Exception) -> Response:
    """Unknown paths and methods answer in the error shape of the client API the path belongs to."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    path = req.url.path
    if status == 405:
        error = BridgeError("invalid_request_error", f"{req.method} is not allowed on {path}")
    elif status == 404:
        error = _not_found(req)
    else:
        error = BridgeError("api_error", "Internal error")
    front = OPENAI if path.removeprefix(FUNCTIONS_PREFIX[:-1]).startswith(OPENAI_PATHS) else ANTHROPIC
    response = front.error_response(error, new_request_id())
    response.status_code = status
    return response if req.method == PREFLIGHT else add_cors_headers(req, response)


@asynccontextmanager
async def _lifespan(_app: Starlette) -> AsyncIterator[None]:
    """When the server shuts down: the usage counts still being written are written and the gateway's tables
    closed, the request records still waiting for their cost are written, then the upstream connections closed."""
    yield
    await close_bridge()
    await request_log.written()
    await close_session()


def _paths(path: str) -> tuple[str, ...]:
    """A route's path, and the same with a trailing slash (`/` is only itself)."""
    return (path,) if path == "/" else (path, path + "/")


def create_app() -> Starlette:
    routes = [StarletteRoute(path, r.handler, methods=list(r.methods), name=r.name) for r in ENDPOINTS for path in _paths(r.path)]
    # The preflight answers OPTIONS at each of those paths: as a catch-all (its Functions template) it
    # would turn the 404 of every unknown path into a 405 here.
    paths = dict.fromkeys(path for r in ENDPOINTS for path in _paths(r.path))
    routes += [StarletteRoute(path, PREFLIGHT_ROUTE.handler, methods=[PREFLIGHT], name=PREFLIGHT_ROUTE.name) for path in paths]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error}, lifespan=_lifespan)
    app.router.redirect_slashes = False
    return app
