"""What every client request goes through before translation: its id, the client token, the body.

The body is read in chunks and refused with 413 as soon as it passes the
limit (a `Content-Length` over the limit is refused without reading at all);
invalid JSON, invalid UTF-8, absurd nesting and a non-JSON content type each
get a 400 that says what is wrong.
"""

from __future__ import annotations

import hmac
import json
import secrets
from typing import Any

from starlette.requests import Request

from bridge.errors import BridgeError, invalid_request
from bridge.settings import Settings


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def presented_token(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def check_client_token(request: Request, settings: Settings) -> None:
    expected = settings.auth_token
    if expected is None:
        return
    presented = presented_token(request)
    if presented is None:
        raise BridgeError(
            "authentication_error",
            "Missing client token: send the bridge's ANTHROPIC_AUTH_TOKEN as x-api-key or Authorization: Bearer",
        )
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise BridgeError("authentication_error", "Invalid client token: it does not match the bridge's ANTHROPIC_AUTH_TOKEN")


def _too_large(limit: int) -> BridgeError:
    return BridgeError("request_too_large", f"Request body is larger than the bridge accepts ({limit} bytes; MAX_REQUEST_BYTES)")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> Any:
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type.lower():
        raise invalid_request(f"Content-Type must be application/json, got {content_type!r}")
    raw = await read_body(request, limit)
    if not raw.strip():
        raise invalid_request("The request body is empty: send a JSON object")
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise invalid_request("The request body is not valid UTF-8") from None
    except RecursionError:
        raise invalid_request("The request body is nested too deeply") from None
    except ValueError as exc:
        raise invalid_request(f"The request body is not valid JSON: {exc}") from None
