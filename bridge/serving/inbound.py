"""What every client request goes through before translation: its id, the credential it presents, the body, its session.

The body is read in chunks and refused with 413 as soon as it passes the
limit (a `Content-Length` over the limit is refused without reading at all);
invalid JSON (NaN and Infinity included), invalid UTF-8, lone surrogates,
absurd nesting and a non-JSON content type each get a 400 that says what is
wrong.

The prompt cache key comes from Claude Code's headers when it sends them:
`X-Claude-Code-Session-Id`, and for a subagent also `X-Claude-Code-Agent-Id`
(a subagent has its own system prompt and tools, so it needs its own cached
prefix, stable for the agent's life, rather than evicting the main agent's).
The same header tells the usage report a subagent's requests from the main
conversation's (`agent_of`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from starlette.requests import Request as HttpRequest

from bridge import sse
from bridge.errors import BridgeError, invalid_request
from bridge.gateway.usage.store import Agent
from bridge.model import Request, bounded

ANTHROPIC_VERSION_HEADER = "anthropic-version"
SESSION_HEADER = "x-claude-code-session-id"
AGENT_HEADER = "x-claude-code-agent-id"


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def speaks_anthropic(req: HttpRequest) -> bool:
    """True for an Anthropic client (the Anthropic SDKs and Claude Code always send `anthropic-version`)."""
    return ANTHROPIC_VERSION_HEADER in req.headers


def presented_token(req: HttpRequest) -> str | None:
    """The credential the client presents: `x-api-key`, else `Authorization: Bearer` (Claude Code sends either)."""
    key = req.headers.get("x-api-key")
    if key:
        return key.strip()
    authorization = req.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _too_large(limit: int) -> BridgeError:
    return BridgeError("request_too_large", f"Request body is larger than the bridge accepts ({limit} bytes; MAX_REQUEST_BYTES)")


async def read_body(req: HttpRequest, limit: int) -> bytes:
    declared = req.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in req.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(req: HttpRequest, limit: int, optional: bool = False) -> Any:
    """The JSON body; with `optional`, None for an empty body."""
    content_type = req.headers.get("content-type", "")
    raw = await read_body(req, limit)
    if optional and not raw.strip():
        return None
    if content_type and "json" not in content_type.lower():
        raise invalid_request(f"Content-Type must be application/json, got {content_type!r}")
    if not raw.strip():
        raise invalid_request("The request body is empty: send a JSON object")
    try:
        return sse.loads(raw)
    except ValueError as exc:
        said = str(exc)
        if "not valid UTF-8" in said:
            raise invalid_request("The request body is not valid UTF-8") from None
        if "surrogate" in said:
            raise invalid_request(f"The request body holds a lone surrogate escape, which is not text: {said}") from None
        if "depth limit" in said:
            raise invalid_request("The request body is nested too deeply") from None
        raise invalid_request(f"The request body is not valid JSON: {said}") from None


def agent_of(headers: Mapping[str, str]) -> Agent:
    """Who in Claude Code asked: a subagent sends its id (`x-claude-code-agent-id`), the main conversation none."""
    return "subagent" if headers.get(AGENT_HEADER, "").strip() else "main"


def cache_key_of(headers: Mapping[str, str], request: Request) -> Request:
    """`request` with the prompt cache key of Claude Code's session and agent, when it names them."""
    session = headers.get(SESSION_HEADER, "").strip()
    if not session:
        return request
    agent = headers.get(AGENT_HEADER, "").strip()
    return replace(request, cache_key=bounded(f"{session}/{agent}" if agent else session))
