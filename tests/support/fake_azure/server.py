"""`FakeAzure`: a Starlette app that answers like an Azure OpenAI resource.

It serves the deployments API
(`POST /openai/deployments/{name}/chat/completions?api-version=…`), the v1 API
(`POST /openai/v1/chat/completions`, deployment in the body's `model`) and
the Responses API (`POST /openai/v1/responses`, `POST /openai/responses?api-version=…`).
Every request is recorded in `FakeAzure.requests`; replies come from a queue
filled with `enqueue`, then from the `Responder` set with `respond_with` (a
scripted model that answers from what the request holds), then `default_reply`.

A request passes the front door (`versions`, `credentials`), the deployment's
operations and the request rules (`rules`, `responses_rules`) before it takes a
reply; each refusal is the service's real body (`errors`).  A Responses request
whose input is over the deployment's window is accepted and then fails inside
the stream (`ResponsesFailure.context_length_exceeded`).  A Responses request
takes the Responses replies (`responses_streams`), a chat `Text` / `ToolCalls`
(its Responses counterpart), `RawSSE` or `Error`; the reasoning items it issues
are listed in `FakeAzure.issued_reasoning`, and the resource's `vault` checks
them (and the calls that followed them) when they come back.

Resource settings: `api_key` (None: key authentication disabled, a key gets
403), `bearer_tokens` (accepted Entra tokens; any other gets the Entra 401),
`roleless_tokens` (valid tokens whose principal lacks the data role: 401
PermissionDenied) and `resource` (the name its encrypted content is bound to).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Send

from .credentials import credential_error
from .deployment import Deployment
from .encrypted import DEFAULT_RESOURCE, Vault
from .errors import (
    DEPLOYMENT_NOT_FOUND,
    INVALID_JSON,
    RESOURCE_NOT_FOUND,
    Api,
    AzureError,
    invalid_request,
    operation_not_supported,
    unknown_model,
)
from .limits import exceeds_input, responses_context_error
from .responses_rules import validate_responses_request
from .responses_streams import (
    ResponsesFailure,
    ResponsesReply,
    ResponsesText,
    ResponsesToolCalls,
    from_chat_reply,
    render_responses,
)
from .rules import validate_chat_request
from .streams import JSON_CONTENT_TYPE, Error, Faults, RawSSE, Rendered, Reply, Text, ToolCalls, render
from .versions import version_error

DEFAULT_API_KEY = "fake-azure-key"
DEFAULT_REPLY = Text("Hello from fake Azure.")
DEFAULT_DEPLOYMENTS: tuple[Deployment, ...] = (
    Deployment("gpt-4o", max_output_tokens=16384, context_window=128_000, model="gpt-4o-2024-11-20"),
    Deployment(
        "gpt-5",
        reasoning=True,
        max_output_tokens=128000,
        context_window=400_000,
        max_input_tokens=272_000,
        model="gpt-5-2025-08-07",
    ),
    Deployment(
        "gpt-5-mini",
        reasoning=True,
        max_output_tokens=128000,
        context_window=400_000,
        max_input_tokens=272_000,
        model="gpt-5-mini-2025-08-07",
    ),
)
RATE_LIMIT_HEADERS: Mapping[Api, Mapping[str, str]] = {
    "chat": {
        "x-ratelimit-limit-requests": "300",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-requests": "299",
        "x-ratelimit-remaining-tokens": "29000",
    },
    "responses": {
        "x-ratelimit-limit-requests": "300",
        "x-ratelimit-limit-tokens": "-1",
        "x-ratelimit-remaining-requests": "299",
    },
}
"""What a served reply says of the deployment's quota (Responses has shown a token limit of -1)."""


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
Responder = Callable[[RecordedRequest], AnyReply | None]
"""Answers a request the queue has no reply for (None: `default_reply`); called on the fake's event loop."""
RESPONSES_ONLY = (ResponsesText, ResponsesToolCalls, ResponsesFailure)


@dataclass(frozen=True, slots=True)
class _Scripted:
    reply: AnyReply
    deployment: str | None


class FakeAzure:
    """A scripted Azure OpenAI resource; serve `app` (see `tests.support.serving.running`)."""

    def __init__(
        self,
        deployments: Iterable[Deployment] = DEFAULT_DEPLOYMENTS,
        *,
        api_key: str | None = DEFAULT_API_KEY,
        bearer_tokens: Iterable[str] = (),
        roleless_tokens: Iterable[str] = (),
        resource: str = DEFAULT_RESOURCE,
        default_reply: AnyReply = DEFAULT_REPLY,
    ) -> None:
        self.deployments: dict[str, Deployment] = {deployment.name: deployment for deployment in deployments}
        self.api_key = api_key
        self.bearer_tokens: set[str] = set(bearer_tokens)
        self.roleless_tokens: set[str] = set(roleless_tokens)
        self.vault = Vault(resource)
        self.default_reply = default_reply
        self.requests: list[RecordedRequest] = []
        self.issued_reasoning: list[str] = []
        """Ids of the reasoning items the Responses replies carried, in order."""
        self.url: str | None = None
        """Base URL while served by `tests.support.serving.running`."""
        self._queue: list[_Scripted] = []
        self._responder: Responder | None = None
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

    def respond_with(self, responder: Responder | None) -> None:
        """Answer requests the queue has no reply for with `responder` (None: `default_reply` again)."""
        with self._lock:
            self._responder = responder

    def reset(self) -> None:
        """Forget recorded requests, queued replies, the responder and issued items (deployments and credentials stay)."""
        with self._lock:
            self._queue.clear()
            self._responder = None
            self.requests.clear()
            self.issued_reasoning.clear()
        self.vault.forget()

    @property
    def pending(self) -> int:
        """How many queued replies no request has taken yet."""
        with self._lock:
            return len(self._queue)

    def _take(self, recorded: RecordedRequest, deployment: str) -> AnyReply:
        with self._lock:
            for position, scripted in enumerate(self._queue):
                if scripted.deployment in (None, deployment):
                    return self._queue.pop(position).reply
            responder = self._responder
        reply = responder(recorded) if responder is not None else None
        return self.default_reply if reply is None else reply

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
        api_version = recorded.query.get("api-version") if dated else None
        error = version_error(recorded.api, recorded.query) if dated else None
        error = error or credential_error(
            recorded.headers,
            recorded.api,
            api_key=self.api_key,
            bearer_tokens=self.bearer_tokens,
            roleless_tokens=self.roleless_tokens,
        )
        if error is not None:
            return _error_response(error)
        if recorded.body is None:
            return _error_response(INVALID_JSON)
        name = recorded.deployment
        if name is None:
            return _error_response(invalid_request("you must provide a model parameter"))
        deployment = self.deployments.get(name)
        if deployment is None:
            return _error_response(DEPLOYMENT_NOT_FOUND if dated else unknown_model(name))
        if recorded.api not in deployment.operations:
            return _error_response(operation_not_supported(recorded.api, deployment.model_name))
        if recorded.api == "responses":
            return await self._serve_responses(recorded, deployment, api_version)
        error = validate_chat_request(recorded.body, deployment, api_version)
        if error is not None:
            return _error_response(error, deployment.name)
        reply = self._take(recorded, deployment.name)
        if isinstance(reply, RESPONSES_ONLY):
            return _script_error(f"chat/completions requests cannot be answered by {type(reply).__name__}")
        return await _deliver(render(reply, recorded.body, deployment), deployment.name, "chat")

    async def _serve_responses(self, recorded: RecordedRequest, deployment: Deployment, api_version: str | None) -> Response:
        body = recorded.body
        error = validate_responses_request(body, deployment, self.vault, api_version)
        if error is None and body.get("stream") is not True:
            error = responses_context_error(body, deployment)
        if error is not None:
            return _error_response(error, deployment.name)
        if exceeds_input(body, deployment):
            overflow = render_responses(ResponsesFailure.context_length_exceeded(), body, deployment, self.vault)
            return await _deliver(overflow, deployment.name, "responses")
        reply = self._take(recorded, deployment.name)
        if isinstance(reply, (RawSSE, Error)):
            return await _deliver(render(reply, {}, deployment), deployment.name, "responses")
        scripted = from_chat_reply(reply) if isinstance(reply, (Text, ToolCalls)) else reply
        rendered = render_responses(scripted, body, deployment, self.vault)
        output = _output_items(rendered)
        self.vault.remember(output)
        with self._lock:
            self.issued_reasoning.extend(
                item["id"] for item in output if item["type"] == "reasoning" and "encrypted_content" in item
            )
        return await _deliver(rendered, deployment.name, "responses")


def _output_items(rendered: Rendered) -> list[dict[str, Any]]:
    """The output items a rendered Responses stream finished, in order."""
    items = []
    for piece in rendered.pieces:
        if b"response.output_item.done" in piece:
            items.append(json.loads(piece.split(b"data: ", 1)[1])["item"])
    return items


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


CUT_SLICES = 16


class _EventStream(StreamingResponse):
    """Sends `pieces` one by one; stops without finishing the body after `cut_after` pieces; pauses
    `stall_seconds` after `stall_after` pieces."""

    def __init__(self, rendered: Rendered, headers: Mapping[str, str]) -> None:
        super().__init__(_iterate(rendered.pieces), rendered.status, headers, rendered.content_type)
        self.cut_after = rendered.faults.disconnect_after_chunks
        self.stall_after = rendered.faults.stall_after_chunks
        self.stall_seconds = rendered.faults.stall_seconds

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        sent = 0
        async for piece in self.body_iterator:
            if self.cut_after is not None and sent >= self.cut_after:
                return  # uvicorn closes the connection mid-body: the client sees a truncated chunked stream
            if sent == self.stall_after:
                await asyncio.sleep(self.stall_seconds)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            sent += 1
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _iterate(pieces: Sequence[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def _deliver(rendered: Rendered, deployment: str, api: Api) -> Response:
    """Wait out `delay_first_byte`, then answer in one piece or as an event stream (a body that is to be cut
    short goes out in `CUT_SLICES` slices, so the cut falls inside it)."""
    faults: Faults = rendered.faults
    if faults.delay_first_byte > 0:
        await asyncio.sleep(faults.delay_first_byte)
    quota = RATE_LIMIT_HEADERS[api] if rendered.status == 200 else {}
    headers = {**_azure_headers(deployment), **quota, **rendered.headers}
    if rendered.content_type.startswith("text/event-stream") or faults.disconnect_after_chunks is not None:
        headers["x-accel-buffering"] = "no"
        if len(rendered.pieces) == 1:
            body = rendered.pieces[0]
            step = max(len(body) // CUT_SLICES, 1)
            rendered = replace(rendered, pieces=[body[at : at + step] for at in range(0, len(body), step)])
        return _EventStream(rendered, headers)
    return Response(b"".join(rendered.pieces), rendered.status, headers, media_type=rendered.content_type)
