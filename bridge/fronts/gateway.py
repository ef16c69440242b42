"""The HTTP handlers of the gateway's own routes (personal keys and usage; `bridge.routes` lists them), answered
by the bridge itself: what each answers and who may call it is `bridge.gateway.endpoints`.

They sign in like every route (`handler.answer`).  Errors take the Anthropic
shape when the client sends `anthropic-version` (the Anthropic SDKs and Claude
Code always do), else the OpenAI shape (the OpenAI SDKs, Cursor, curl).
`list_keys` passes the `user` query parameter on (an administrator's listing).
The key id of a DELETE is read from the last path segment: the Functions host
and Starlette name route parameters differently.  (No `from __future__ import
annotations`: the Functions worker reads the handlers' real parameter types.)
"""

from typing import Any

from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from bridge.fronts.anthropic.routes import FRONT as ANTHROPIC
from bridge.fronts.openai.routes import FRONT as OPENAI
from bridge.gateway import endpoints
from bridge.serving.handler import Front, Served, answer
from bridge.serving.inbound import read_json, speaks_anthropic


def front_of(req: HttpRequest) -> Front:
    return ANTHROPIC if speaks_anthropic(req) else OPENAI


async def create_key(req: HttpRequest) -> Response:
    async def create(served: Served) -> dict[str, Any]:
        body = await read_json(req, served.bridge.settings.max_request_bytes, optional=True)
        return await endpoints.create_key(served.caller, body, served.bridge.gateway.keys)

    return await answer(req, front_of(req), "create_key", create, status=201)


async def list_keys(req: HttpRequest) -> Response:
    async def listed(served: Served) -> dict[str, Any]:
        return await endpoints.list_keys(served.caller, served.bridge.gateway.keys, req.query_params.get("user") or None)

    return await answer(req, front_of(req), "list_keys", listed)


async def revoke_key(req: HttpRequest) -> Response:
    async def revoke(served: Served) -> dict[str, Any]:
        key_id = req.url.path.rstrip("/").rsplit("/", 1)[-1]
        return await endpoints.revoke_key(served.caller, key_id, served.bridge.gateway.keys)

    return await answer(req, front_of(req), "revoke_key", revoke)


async def usage(req: HttpRequest) -> Response:
    async def report(served: Served) -> dict[str, Any]:
        return await endpoints.usage(served.caller, served.bridge.gateway.budget)

    return await answer(req, front_of(req), "usage", report)
