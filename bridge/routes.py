"""The route table, shared by the Azure Functions app and the local uvicorn runner.

    method      path                        Functions route template          handler
    ----------  --------------------------  --------------------------------  ------------------------
    HEAD, GET   /                           {root:maxlength(0)?}              health.root
    GET         /health                     health                            health.health
    POST        /v1/messages                v1/messages                       anthropic.messages
    POST        /v1/messages/count_tokens   v1/messages/count_tokens          anthropic.count_tokens
    POST        /v1/chat/completions        v1/chat/completions               openai.chat_completions
    GET         /v1/models                  v1/models                         models: anthropic.models for a
                                                                                  client that sends anthropic-version
                                                                                  (Claude Code), else openai.models
    POST        /v1/keys                    v1/keys                           gateway.create_key
    GET         /v1/keys                    v1/keys                           gateway.list_keys
    DELETE      /v1/keys/{key_id}           v1/keys/{key_id}                  gateway.revoke_key
    GET         /v1/usage                   v1/usage                          gateway.usage
    GET         /managed/settings           managed/settings                  gateway_protocol.managed_settings
    GET         /api/oauth/usage            api/oauth/usage                   gateway_protocol.oauth_usage
    POST        /v1/metrics                 v1/metrics                        gateway_protocol.otlp_metrics
    POST        /v1/logs                    v1/logs                           gateway_protocol.otlp_logs
    POST        /v1/traces                  v1/traces                         gateway_protocol.otlp_traces
    GET         /v1/usage/export            v1/usage/export                   gateway.export_usage
    GET         /.well-known/oauth-         .well-known/oauth-authorization-  login.oauth_discovery
                authorization-server        server
    POST        /oauth/device_authorization oauth/device_authorization        login.device_authorization
    POST        /oauth/token                oauth/token                       login.oauth_token
    POST        /oauth/revoke               oauth/revoke                      login.oauth_revoke
    GET         /device                     device                            login.verification_page (HTML)
    POST        /device                     device                            login.verify_code
    POST        /device/deny                device/deny                       login.deny_code
    GET         /oauth/callback             oauth/callback                    login.oauth_callback (HTML)
    OPTIONS     any path                    {*path}                           preflight: CORS (bridge.serving.cors)

The login.* routes are Claude Code's `/login` (bridge.fronts.login), unauthenticated like the OAuth endpoints
they are; the gateway_protocol.* routes are the rest of Claude Code's gateway protocol the bridge answers itself
(bridge.fronts.gateway_protocol).  Every handler answers through `bridge.serving.cors.with_cors` (CORS headers
for the pages ALLOWED_ORIGINS lists), and `OPTIONS` on any path is the CORS preflight, naming the methods of the
routes there.

host.json sets the route prefix to empty, so the templates sit at the root
of the Function URL; the Functions host cannot route an empty template, hence
the optional zero-length parameter for `/`.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import compile_path

from bridge.fronts import gateway, gateway_protocol, login
from bridge.fronts.anthropic import routes as anthropic
from bridge.fronts.openai import routes as openai
from bridge.gateway.login.endpoints import (
    CALLBACK_PATH,
    DENY_PATH,
    DEVICE_AUTHORIZATION_PATH,
    DISCOVERY_PATH,
    REVOCATION_PATH,
    TOKEN_PATH,
    VERIFICATION_PATH,
)
from bridge.serving import health
from bridge.serving.cors import PREFLIGHT, preflight_response, with_cors
from bridge.serving.inbound import speaks_anthropic

Handler = Callable[[HttpRequest], Awaitable[Response]]


async def models(req: HttpRequest) -> Response:
    """The model list in the shape of the client's API (Anthropic clients always send `anthropic-version`)."""
    listing = anthropic.models if speaks_anthropic(req) else openai.models
    return await listing(req)


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    path: str
    functions_template: str
    methods: tuple[str, ...]
    handler: Handler


def _route(name: str, path: str, functions_template: str, methods: tuple[str, ...], handler: Handler) -> Route:
    return Route(name, path, functions_template, methods, with_cors(handler))


ENDPOINTS: tuple[Route, ...] = (
    _route("root", "/", "{root:maxlength(0)?}", ("HEAD", "GET"), health.root),
    _route("health", "/health", "health", ("GET",), health.health),
    _route("messages", "/v1/messages", "v1/messages", ("POST",), anthropic.messages),
    _route("count_tokens", "/v1/messages/count_tokens", "v1/messages/count_tokens", ("POST",), anthropic.count_tokens),
    _route("chat_completions", "/v1/chat/completions", "v1/chat/completions", ("POST",), openai.chat_completions),
    _route("models", "/v1/models", "v1/models", ("GET",), models),
    _route("create_key", "/v1/keys", "v1/keys", ("POST",), gateway.create_key),
    _route("list_keys", "/v1/keys", "v1/keys", ("GET",), gateway.list_keys),
    _route("revoke_key", "/v1/keys/{key_id}", "v1/keys/{key_id}", ("DELETE",), gateway.revoke_key),
    _route("usage", "/v1/usage", "v1/usage", ("GET",), gateway.usage),
    _route("managed_settings", "/managed/settings", "managed/settings", ("GET",), gateway_protocol.managed_settings),
    _route("oauth_usage", "/api/oauth/usage", "api/oauth/usage", ("GET",), gateway_protocol.oauth_usage),
    _route("otlp_metrics", "/v1/metrics", "v1/metrics", ("POST",), gateway_protocol.otlp_metrics),
    _route("otlp_logs", "/v1/logs", "v1/logs", ("POST",), gateway_protocol.otlp_logs),
    _route("otlp_traces", "/v1/traces", "v1/traces", ("POST",), gateway_protocol.otlp_traces),
    _route("export_usage", "/v1/usage/export", "v1/usage/export", ("GET",), gateway.export_usage),
    _route("oauth_discovery", DISCOVERY_PATH, DISCOVERY_PATH[1:], ("GET",), login.oauth_discovery),
    _route(
        "device_authorization",
        DEVICE_AUTHORIZATION_PATH,
        DEVICE_AUTHORIZATION_PATH[1:],
        ("POST",),
        login.device_authorization,
    ),
    _route("oauth_token", TOKEN_PATH, TOKEN_PATH[1:], ("POST",), login.oauth_token),
    _route("oauth_revoke", REVOCATION_PATH, REVOCATION_PATH[1:], ("POST",), login.oauth_revoke),
    _route("verification_page", VERIFICATION_PATH, VERIFICATION_PATH[1:], ("GET",), login.verification_page),
    _route("verify_code", VERIFICATION_PATH, VERIFICATION_PATH[1:], ("POST",), login.verify_code),
    _route("deny_code", DENY_PATH, DENY_PATH[1:], ("POST",), login.deny_code),
    _route("oauth_callback", CALLBACK_PATH, CALLBACK_PATH[1:], ("GET",), login.oauth_callback),
)
"""The routes that serve a method of their own (every one but the preflight)."""
_PATTERNS = tuple((compile_path(route.path)[0], route.methods) for route in ENDPOINTS)


def methods_at(path: str) -> tuple[str, ...]:
    """The methods the routes at `path` take (a trailing slash ignored, as `python -m bridge` does)."""
    path = path.rstrip("/") or "/"
    return tuple(method for pattern, methods in _PATTERNS if pattern.match(path) for method in methods)


async def preflight(req: HttpRequest) -> Response:
    """`OPTIONS` on any path: the CORS preflight (bridge.serving.cors) for the methods of the routes at that path."""
    return preflight_response(req, methods_at(req.url.path))


PREFLIGHT_ROUTE = Route("preflight", "/{path:path}", "{*path}", (PREFLIGHT,), preflight)
ROUTES: tuple[Route, ...] = (*ENDPOINTS, PREFLIGHT_ROUTE)
