"""The OpenAI routes: `POST /v1/chat/completions` and `GET /v1/models`.

`/v1/chat/completions` is `serve` with this front: `parse_request` then the
alias mapping (`models.target`), `ChunkWriter` for streams,
`completion_body` for whole completions, OpenAI error bodies with an
`x-request-id` header.  Responses name the model the client asked for.
"""

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.errors import BridgeError
from bridge.fronts.openai.completion import completion_body, new_completion_id, now
from bridge.fronts.openai.errors import error_body, status_of
from bridge.fronts.openai.models import model_list, target
from bridge.fronts.openai.request import parse_request
from bridge.fronts.openai.stream import ChunkWriter
from bridge.logs import RequestLog
from bridge.model import Completion
from bridge.model import Request as BridgeRequest
from bridge.pipeline import Bridge
from bridge.serve import answer, serve

REQUEST_ID_HEADER = "x-request-id"


def error_response(error: BridgeError, request_id: str) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=status_of(error), headers={**error.headers, REQUEST_ID_HEADER: request_id})


@dataclass
class ChatCall:
    request: BridgeRequest
    model: str
    """The name the client asked for, echoed in every answer."""
    include_usage: bool
    completion_id: str = field(default_factory=new_completion_id)
    created: int = field(default_factory=now)

    def renderer(self) -> ChunkWriter:
        return ChunkWriter(self.completion_id, self.model, self.created, self.include_usage)

    def body(self, completion: Completion) -> dict[str, Any]:
        return completion_body(completion, self.completion_id, self.model, self.created)


class OpenAIFront:
    request_id_header = REQUEST_ID_HEADER

    def parse(self, body: Any, req: Request, bridge: Bridge) -> ChatCall:
        chat = parse_request(body)
        return ChatCall(target(chat.request), chat.request.model, chat.include_usage)

    def error_response(self, error: BridgeError, request_id: str) -> Response:
        return error_response(error, request_id)


FRONT = OpenAIFront()


async def chat_completions(req: Request) -> Response:
    return await serve(req, FRONT, "chat_completions")


async def models(req: Request) -> Response:
    async def listed(bridge: Bridge, record: RequestLog) -> dict[str, Any]:
        return model_list(bridge.settings)

    return await answer(req, FRONT, "models", listed)
