"""A Starlette request built in memory, as the Functions worker's HTTP proxy hands one to a handler."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request


def make_request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Request:
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in {"content-type": "application/json", **(headers or {})}.items()]
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": raw_headers,
        "http_version": "1.1",
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client stays connected
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)
