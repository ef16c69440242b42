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

host.json sets the route prefix to empty, so the templates sit at the root
of the Function URL; the Functions host cannot route an empty template, hence
the optional zero-length parameter for `/`.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from bridge import gateway_routes as gateway
from bridge import health
from bridge.fronts.anthropic import routes as anthropic
from bridge.fronts.openai import routes as openai
from bridge.inbound import speaks_anthropic

Handler = Callable[[Request], Awaitable[Response]]


async def models(req: Request) -> Response:
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


ROUTES: tuple[Route, ...] = (
    Route("root", "/", "{root:maxlength(0)?}", ("HEAD", "GET"), health.root),
    Route("health", "/health", "health", ("GET",), health.health),
    Route("messages", "/v1/messages", "v1/messages", ("POST",), anthropic.messages),
    Route("count_tokens", "/v1/messages/count_tokens", "v1/messages/count_tokens", ("POST",), anthropic.count_tokens),
    Route("chat_completions", "/v1/chat/completions", "v1/chat/completions", ("POST",), openai.chat_completions),
    Route("models", "/v1/models", "v1/models", ("GET",), models),
    Route("create_key", "/v1/keys", "v1/keys", ("POST",), gateway.create_key),
    Route("list_keys", "/v1/keys", "v1/keys", ("GET",), gateway.list_keys),
    Route("revoke_key", "/v1/keys/{key_id}", "v1/keys/{key_id}", ("DELETE",), gateway.revoke_key),
    Route("usage", "/v1/usage", "v1/usage", ("GET",), gateway.usage),
)
