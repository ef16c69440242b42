"""`FakeAzure`: a Starlette app that answers like an Azure OpenAI resource.

It serves the deployments API
(`POST /openai/deployments/{name}/chat/completions?api-version=…`), the v1 API
(`POST /openai/v1/chat/completions`, deployment in the body's `model`) and
the Responses API (`POST /openai/v1/responses`, `POST /openai/responses?api-version=…`).
Every request is recorded in `FakeAzure.requests`; replies come from a queue
filled with `enqueue`, or `default_reply` when the queue is empty.  Auth,
routing and validation errors use the service's real bodies (see `rules` and
`responses_rules`).  A Responses request takes the Responses replies
(`responses_streams`), a chat `Text` / `ToolCalls` (its Responses counterpart),
`RawSSE` or `Error`; unless it asks to stream it gets the response object as
one JSON body (as a chat request gets a `chat.completion`).  The reasoning
items it issues are listed in `FakeAzure.issued_reasoning`, and come back
verified on later turns.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Send

from .responses_rules import validate_responses_request
from .responses_streams import (
    ResponsesFailure,
    ResponsesReply,
    ResponsesText,
    ResponsesToolCalls,
    as_response_object,
    from_chat_reply,
    render_responses,
)
from .rules import (
    ACCESS_DENIED,
    DEPLOYMENT_NOT_FOUND,
    INVALID_JSON,
    RESOURCE_NOT_FOUND,
    AzureError,
    Deployment,
    effort_with_tools_refused,
    invalid_request,
    operation_not_supported,
    unknown_model,
    validate_chat_request,
)
from .streams import JSON_CONTENT_TYPE, Error, Faults, RawSSE, Rendered, Reply, Text, ToolCalls, render

Api = Literal["chat", "responses"]
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
DEFAULT_API_KEY = "fake-azure-key"
DEFAULT_REPLY = Text("Hello from fake Azure.")
DEFAULT_DEPLOYMENTS: tuple[Deployment, ...] = (
    Deployment("gpt-4o", max_output_tokens=16384, model="gpt-4o-2024-11-20"),
    Deployment("gpt-5", reasoning=True, max_output_tokens=128000, model="gpt-5-2025-08-07"),
    Deployment("gpt-5-mini", reasoning=True, max_output_tokens=128000, model="gpt-5-mini-2025-08-07"),
)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the fake received it (headers lower-cased, body parsed when it is JSON)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    raw: bytes
    body: Any
    api: Api
    deployment: str | None


AnyReply = Reply | ResponsesReply
RESPONSES_ONLY = (ResponsesText, ResponsesToolCalls, ResponsesFailure)


@dataclass(frozen=True, slots=True)
class _Scripted:
    reply: AnyReply
    deployment: str | None


class FakeAzure:
    """A scripted Azure OpenAI resource; serve `app` (see `runner.running_fake_azure`)."""

    def __init__(
        self,
        deployments: Iterable[Deployment] = DEFAULT_DEPLOYMENTS,
        *,
        api_key: str | None = DEFAULT_API_KEY,
        bearer_tokens: Iterable[str] = (),
        default_reply: AnyReply = DEFAULT_REPLY,
    ) -> None:
        self.deployments: dict[str, Deployment] = {deployment.name: deployment for deployment in deployments}
        self.api_key = api_key
        self.bearer_tokens: set[str] = set(bearer_tokens)
        self.default_reply = default_reply
        self.requests: list[RecordedRequest] = []
        self.issued_reasoning: list[str] = []
        """Ids of the reasoning items the Responses replies carried, in order."""
        self.url: str | None = None
        """Base URL while served by `running_fake_azure`."""
        self._queue: list[_Scripted] = []
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/openai/deployments/{deployment}/chat/completions", self._deployment_chat, methods=["POST"]),
                Route("/openai/v1/chat/completions", self._v1_chat, methods=["POST"]),
                Route("/openai/v1/responses", self._v1_responses, methods=["POST"]),
                Route("/openai/responses", self._dated_responses, methods=["POST"]),
                Route("/{path:path}", self._not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            ]
        )

    def add_deployment(self, deployment: Deployment) -> None:
        """Create (or replace) a deployment."""
        self.deployments[deployment.name] = deployment

    def enqueue(self, *replies: AnyReply, deployment: str | None = None) -> None:
        """Queue replies, in order; with `deployment`, only requests to that deployment take them."""
        with self._lock:
            self._queue.extend(_Scripted(reply, deployment) for reply in replies)

    def reset(self) -> None:
        """Forget recorded requests and queued replies (deployments and credentials stay)."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.issued_reasoning.clear()

    @property
    def pending(self) -> int:
        """How many queued replies no request has taken yet."""
        with self._lock:
            return len(self._queue)

    def _take(self, deployment: str) -> AnyReply:
        with self._lock:
            for position, scripted in enumerate(self._queue):
                if scripted.deployment in (None, deployment):
                    return self._queue.pop(position).reply
        return self.default_reply

    async def _record(self, request: Request, api: Api, deployment: str | None) -> RecordedRequest:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if deployment is None and isinstance(body, dict) and isinstance(body.get("model"), str):
            deployment = body["model"]
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers=dict(request.headers),
            raw=raw,
            body=body,
            api=api,
            deployment=deployment,
        )
        with self._lock:
            self.requests.append(recorded)
        return recorded

    async def _deployment_chat(self, request: Request) -> Response:
        recorded = await self._record(request, "chat", request.path_params["deployment"])
        return await self._serve(recorded, dated=True)

    async def _v1_chat(self, request: Request) -> Response:
        return await self._serve(await self._record(request, "chat", None), dated=False)

    async def _v1_responses(self, request: Request) -> Response:
        return await self._serve(await self._record(request, "responses", None), dated=False)

    async def _dated_responses(self, request: Request) -> Response:
        return await self._serve(await self._record(request, "responses", None), dated=True)

    async def _not_found(self, _request: Request) -> Response:
        return _error_response(RESOURCE_NOT_FOUND)

    async def _serve(self, recorded: RecordedRequest, *, dated: bool) -> Response:
        """Route, authenticate and validate `recorded`, then answer from the script."""
        if dated and not API_VERSION.match(recorded.query.get("api-version", "")):
            return _error_response(RESOURCE_NOT_FOUND)
        if not self._authorized(recorded.headers):
            return _error_response(ACCESS_DENIED)
        if recorded.body is None:
            return _error_response(INVALID_JSON)
        name = recorded.deployment
        if name is None:
            return _error_response(invalid_request("you must provide a model parameter"))
        deployment = self.deployments.get(name)
        if deployment is None:
            return _error_response(DEPLOYMENT_NOT_FOUND if dated else unknown_model(name))
        if recorded.api not in deployment.operations:
            return _error_response(
                operation_not_supported("chat completions" if recorded.api == "chat" else "responses", deployment)
            )
        if recorded.api == "responses":
            return await self._serve_responses(recorded.body, deployment)
        error = validate_chat_request(recorded.body, deployment)
        if (
            error is None
            and not deployment.effort_with_tools_on_chat
            and recorded.body.get("tools")
            and "reasoning_effort" in recorded.body
        ):
            error = effort_with_tools_refused(deployment)
        if error is not None:
            return _error_response(error, deployment.name)
        reply = self._take(deployment.name)
        if isinstance(reply, RESPONSES_ONLY):
            return _script_error(f"chat/completions requests cannot be answered by {type(reply).__name__}")
        return await _deliver(render(reply, recorded.body, deployment), deployment.name)

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        key = headers.get("api-key")
        if key is not None and self.api_key is not None and key == self.api_key:
            return True
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token in self.bearer_tokens

    async def _serve_responses(self, body: Any, deployment: Deployment) -> Response:
        error = validate_responses_request(body, deployment)
        if error is not None:
            return _error_response(error, deployment.name)
        reply = self._take(deployment.name)
        if isinstance(reply, (RawSSE, Error)):
            return await _deliver(render(reply, {}, deployment), deployment.name)
        scripted = from_chat_reply(reply) if isinstance(reply, (Text, ToolCalls)) else reply
        rendered = render_responses(scripted, body, deployment)
        with self._lock:
            self.issued_reasoning.extend(_reasoning_ids(rendered))
        if body.get("stream") is not True:
            rendered = as_response_object(rendered)
        return await _deliver(rendered, deployment.name)


def _reasoning_ids(rendered: Rendered) -> list[str]:
    ids = []
    for piece in rendered.pieces:
        if b"response.output_item.done" in piece:
            item = json.loads(piece.split(b"data: ", 1)[1])["item"]
            if item["type"] == "reasoning" and "encrypted_content" in item:
                ids.append(item["id"])
    return ids


def _script_error(message: str) -> Response:
    body = {"error": {"message": f"fake_azure: {message}", "type": "fake_azure_script_error"}}
    return _error_response(AzureError(500, body))


def _azure_headers(deployment: str | None) -> dict[str, str]:
    headers = {
        "apim-request-id": str(uuid.uuid4()),
        "x-request-id": str(uuid.uuid4()),
        "x-ms-region": "East US",
        "x-content-type-options": "nosniff",
    }
    if deployment is not None:
        headers["x-ms-deployment-name"] = deployment
    return headers


def _error_response(error: AzureError, deployment: str | None = None) -> Response:
    return Response(error.render(), error.status, _azure_headers(deployment), media_type=JSON_CONTENT_TYPE)


class _EventStream(StreamingResponse):
    """Sends `pieces` one by one; stops without finishing the body after `cut_after` pieces."""

    def __init__(self, rendered: Rendered, headers: Mapping[str, str]) -> None:
        super().__init__(_iterate(rendered.pieces), rendered.status, headers, rendered.content_type)
        self.cut_after = rendered.faults.disconnect_after_chunks

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        sent = 0
        async for piece in self.body_iterator:
            if self.cut_after is not None and sent >= self.cut_after:
                return  # uvicorn closes the connection mid-body: the client sees a truncated chunked stream
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            sent += 1
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _iterate(pieces: Sequence[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def _deliver(rendered: Rendered, deployment: str) -> Response:
    """Wait out `delay_first_byte`, then answer in one piece or as an event stream."""
    faults: Faults = rendered.faults
    if faults.delay_first_byte > 0:
        await asyncio.sleep(faults.delay_first_byte)
    headers = {**_azure_headers(deployment), **rendered.headers}
    if rendered.content_type.startswith("text/event-stream") or faults.disconnect_after_chunks is not None:
        headers["x-accel-buffering"] = "no"
        return _EventStream(rendered, headers)
    return Response(b"".join(rendered.pieces), rendered.status, headers, media_type=rendered.content_type)
