"""CORS for browser clients (ALLOWED_ORIGINS): the bridge answers it itself, in `python -m bridge` and in Azure alike.

    request                                   answer
    OPTIONS preflight, listed origin          204 + Access-Control-Allow-Origin (the origin, or `*`),
                                              -Allow-Methods (the methods of the routes at that path),
                                              -Allow-Headers (the requested ones the SDKs send), -Max-Age
    OPTIONS, any other origin or none         204 + Allow (the path's methods), no CORS header
    OPTIONS on a path with no route           404, no CORS header
    any other request, listed origin          the route's answer + Access-Control-Allow-Origin,
                                              -Expose-Headers (request ids, retry advice, what served)
    any other request, any other origin       the route's answer, no CORS header

Allowed request headers are those the Anthropic and OpenAI SDKs send from a browser: `authorization`,
`x-api-key`, `content-type`, `accept`, `idempotency-key` and every `anthropic-*` (version, beta,
`anthropic-dangerous-direct-browser-access`), `openai-*` and `x-stainless-*` header.  The bridge never
sends `Access-Control-Allow-Credentials`: it signs callers in by header (a token or key the page sets),
never by cookie, so a page never needs credentials mode, and `*` can never be combined with it.
Answers vary by `Origin` (`Vary: Origin`) unless every page is allowed.

Why not the platform's CORS (the Function App's `siteConfig.cors`): it applies in front of the
worker and takes precedence over the app's headers, it configures origins and credentials only (no
exposed headers, so a page could not read `request-id` or `retry-after`), and the Functions
documentation says nothing of it with HTTP streaming.  The Bicep keeps it empty.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from functools import wraps

from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from bridge.config.kinds import ANY_ORIGIN
from bridge.serving.process import current_bridge

Handler = Callable[[HttpRequest], Awaitable[Response]]

ALLOWED_HEADERS = frozenset({"accept", "authorization", "content-type", "idempotency-key", "x-api-key"})
ALLOWED_HEADER_PREFIXES = ("anthropic-", "openai-", "x-stainless-")
EXPOSED_HEADERS = (
    "request-id",
    "x-request-id",
    "retry-after",
    "retry-after-ms",
    "x-should-retry",
    "x-bridge-deployment",
    "x-bridge-api",
)
MAX_AGE_SECONDS = 600
PREFLIGHT = "OPTIONS"
VARY = "Origin"


def allowed_origin(origin: str | None, allowed: Collection[str]) -> str | None:
    """The `Access-Control-Allow-Origin` value for a request from `origin`, or None: no CORS header at all."""
    if not origin or not allowed:
        return None
    if ANY_ORIGIN in allowed:
        return ANY_ORIGIN
    return origin if origin.lower() in allowed else None


def _origin_headers(value: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": value} | ({} if value == ANY_ORIGIN else {"Vary": VARY})


def _requested_headers(headers: Mapping[str, str]) -> list[str]:
    requested = (name.strip().lower() for name in headers.get("access-control-request-headers", "").split(","))
    return [name for name in requested if name in ALLOWED_HEADERS or name.startswith(ALLOWED_HEADER_PREFIXES)]


def preflight_response(req: HttpRequest, methods: Collection[str]) -> Response:
    """The answer to `OPTIONS` at a path whose routes take `methods` (none: no route there)."""
    if not methods:
        return Response(status_code=404)
    listed = ", ".join([*methods, PREFLIGHT])
    value = allowed_origin(req.headers.get("origin"), current_bridge().settings.allowed_origins)
    if value is None or req.headers.get("access-control-request-method", "").upper() not in methods:
        return Response(status_code=204, headers={"Allow": listed})
    headers = {
        **_origin_headers(value),
        "Access-Control-Allow-Methods": listed,
        "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
    }
    requested = _requested_headers(req.headers)
    if requested:
        headers["Access-Control-Allow-Headers"] = ", ".join(requested)
    return Response(status_code=204, headers=headers)


def add_cors_headers(req: HttpRequest, response: Response) -> Response:
    """`response` with the CORS headers a page at the request's origin needs, when that origin is allowed."""
    value = allowed_origin(req.headers.get("origin"), current_bridge().settings.allowed_origins)
    if value is not None:
        response.headers["Access-Control-Allow-Origin"] = value
        response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
        if value != ANY_ORIGIN:
            response.headers.add_vary_header(VARY)
    return response


def with_cors(handler: Handler) -> Handler:
    """`handler`, its answers carrying the CORS headers (same name and annotations: the Functions worker reads them)."""

    @wraps(handler)
    async def answer(req: HttpRequest) -> Response:
        return add_cors_headers(req, await handler(req))

    return answer
