"""The routes of Claude Code's gateway protocol that the bridge answers itself, beyond `/login` (bridge.fronts.login)
and the Messages API: managed settings, the spend limit's usage page and the telemetry paths (routes:
`bridge.routes`; the contract: ../shared/claude-gateway-protocol/, "Managed settings", "Usage-limit headers" and
"Telemetry").

    handler            request                      answer
    managed_settings   GET /managed/settings        200 {"uuid", "checksum", "settings"} with ETag "<checksum>";
                                                    304 when If-None-Match names that checksum; 404 when no
                                                    entry of MANAGED_SETTINGS applies to the caller; 500 (not
                                                    retried) when MANAGED_SETTINGS is malformed, so clients keep
                                                    the settings they hold
    oauth_usage        GET /api/oauth/usage         200 the caller's spend limit in Claude Code's shape
                                                    (`bridge.gateway.usage.spend_limit`), Cache-Control: no-store
    otlp_metrics,      POST /v1/metrics, /v1/logs,  200 and dropped: an empty OTLP export response, protobuf or
    otlp_logs,         /v1/traces                   JSON as the request was (a 404 would make the client's
    otlp_traces                                     exporter log an error at every flush)

Every answer of /managed/settings carries `x-cc-gateway-version` (and never `Cache-Control: no-store`: with it
Claude Desktop would read a 404 as "nothing for this session" and a 304 as "settings that must not be
missing").  All of them sign the caller in like every route: a bad bearer is a 401 with `x-should-retry:
false`.  (No `from __future__ import annotations`: the Functions worker reads the handlers' real parameter types.)
"""

from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from bridge.errors import NO_RETRY, BridgeError
from bridge.fronts.anthropic.routes import FRONT
from bridge.gateway.endpoints import oauth_usage as oauth_usage_of
from bridge.gateway.managed_settings import unchanged
from bridge.serving.handler import Served, respond
from bridge.serving.inbound import read_body
from bridge.serving.outbound import json_response

GATEWAY_VERSION_HEADER = "x-cc-gateway-version"
PROTOCOL_RELEASE = "2.1.332"
"""The Claude Code release whose gateway protocol the bridge speaks (what the reference gateway of that release
sends as `x-cc-gateway-version`)."""
PROTOBUF = "application/x-protobuf"


async def managed_settings(req: HttpRequest) -> Response:
    async def settings_for(served: Served) -> Response:
        version = {GATEWAY_VERSION_HEADER: PROTOCOL_RELEASE}
        managed = served.bridge.gateway_settings.managed
        if managed.problem is not None:
            raise BridgeError(
                "api_error", f"The bridge's managed settings cannot be served: {managed.problem}", {**NO_RETRY, **version}
            )
        document = managed.document(served.caller)
        if document is None:
            raise BridgeError(
                "not_found_error",
                "No managed settings apply to you: MANAGED_SETTINGS names none of your app roles or groups",
                version,
            )
        headers = {**served.ids, **version, "ETag": f'"{document.checksum}"'}
        if unchanged(req.headers.get("if-none-match"), document.checksum):
            return Response(status_code=304, headers=headers)
        return json_response(document.body(), headers=headers)

    return await respond(req, FRONT, "managed_settings", settings_for)


async def oauth_usage(req: HttpRequest) -> Response:
    async def page(served: Served) -> Response:
        body = await oauth_usage_of(served.caller, served.bridge.gateway.budget)
        return json_response(body, headers={**served.ids, "Cache-Control": "no-store"})

    return await respond(req, FRONT, "oauth_usage", page)


async def _dropped(req: HttpRequest, route: str) -> Response:
    async def drop(served: Served) -> Response:
        await read_body(req, served.bridge.settings.max_request_bytes)
        if req.headers.get("content-type", "").lower().startswith(PROTOBUF):
            return Response(b"", headers=served.ids, media_type=PROTOBUF)
        return json_response({}, headers=served.ids)

    return await respond(req, FRONT, route, drop)


async def otlp_metrics(req: HttpRequest) -> Response:
    return await _dropped(req, "otlp_metrics")


async def otlp_logs(req: HttpRequest) -> Response:
    return await _dropped(req, "otlp_logs")


async def otlp_traces(req: HttpRequest) -> Response:
    return await _dropped(req, "otlp_traces")
