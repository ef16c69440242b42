"""The OpenAI routes: `POST /v1/chat/completions` and `GET /v1/models`.

`/v1/chat/completions` is `handler.serve` with this front: `parse_request` then the
alias mapping (`model_names.resolve_alias`), `OpenAIStreamRenderer` for streams,
`completion_body` for whole completions, OpenAI error bodies with an
`x-request-id` header.  Responses name the model the client asked for.
"""

from dataclasses import dataclass, field, replace
from typing import Any

from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from bridge.errors import BridgeError
from bridge.fronts.openai.completion import completion_body, new_completion_id, now
from bridge.fronts.openai.errors import error_body, status_of
from bridge.fronts.openai.model_names import model_list, resolve_alias
from bridge.fronts.openai.request import parse_request
from bridge.fronts.openai.stream import OpenAIStreamRenderer
from bridge.model import Completion, Request
from bridge.serving.handler import Front, Served, answer, serve
from bridge.serving.outbound import json_response

REQUEST_ID_HEADER = "x-request-id"


def error_response(error: BridgeError, request_id: str) -> Response:
    return json_response(error_body(error), status_of(error), {**error.headers, REQUEST_ID_HEADER: request_id})


@dataclass
class ChatCall:
    request: Request
    model: str
    """The name the client asked for, echoed in every answer."""
    include_usage: bool
    completion_id: str = field(default_factory=new_completion_id)
    created: int = field(default_factory=now)

    def renderer(self) -> OpenAIStreamRenderer:
        return OpenAIStreamRenderer(self.completion_id, self.model, self.created, self.include_usage)

    def body(self, completion: Completion) -> dict[str, Any]:
        return completion_body(completion, self.completion_id, self.model, self.created)

    def answered_here(self) -> Completion | None:
        return None

    def served_as(self, family: str, deployment: str) -> "ChatCall":
        """Answered under the name of the deployment that served (as GET /v1/models lists it)."""
        del family
        return replace(self, model=deployment)


def parse_call(body: Any) -> ChatCall:
    chat = parse_request(body)
    return ChatCall(resolve_alias(chat.request), chat.request.model, chat.include_usage)


FRONT = Front(REQUEST_ID_HEADER, parse_call, error_response)


async def chat_completions(req: HttpRequest) -> Response:
    return await serve(req, FRONT, "chat_completions")


async def models(req: HttpRequest) -> Response:
    async def listed(served: Served) -> dict[str, Any]:
        return model_list(served.bridge.settings, served.bridge.gateway_settings.policy.tiers(served.caller))

    return await answer(req, FRONT, "models", listed)
