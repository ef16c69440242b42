"""The HTTP handlers of the gateway's own routes (personal keys and usage; `bridge.routes` lists them), answered
by the bridge itself: what each answers and who may call it is `bridge.gateway.endpoints`.

They sign in like every route (`handler.answer`; the CSV export `handler.respond`).  Errors take the Anthropic
shape when the client sends `anthropic-version` (the Anthropic SDKs and Claude
Code always do), else the OpenAI shape (the OpenAI SDKs, Cursor, curl).
`list_keys` and `usage` pass the `user` query parameter on (an administrator's
reading), `export_usage` the `month` one.
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
from bridge.serving.handler import Front, Served, answer, respond
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
        gateway = served.bridge.gateway
        return await endpoints.usage(served.caller, gateway.budget, gateway.keys, req.query_params.get("user") or None)

    return await answer(req, front_of(req), "usage", report)


async def export_usage(req: HttpRequest) -> Response:
    async def export(served: Served) -> Response:
        gateway = served.bridge.gateway
        month = req.query_params.get("month")
        text = await endpoints.export_usage(served.caller, gateway.budget, gateway.keys, month)
        disposition = f'attachment; filename="bridge-usage-{month}.csv"'
        headers = {**served.ids, "content-disposition": disposition, "cache-control": "no-store"}
        return Response(text, media_type="text/csv; charset=utf-8", headers=headers)

    return await respond(req, front_of(req), "export_usage", export)
