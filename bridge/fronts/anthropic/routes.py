"""The Anthropic routes: `POST /v1/messages` and `POST /v1/messages/count_tokens`.

`/v1/messages` is `serve` with this front: `parse_request`, `StreamWriter`
for streams, `message_body` for whole messages, Anthropic error bodies with a
`request-id` header.  `count_tokens` is local: no upstream call.
"""

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.errors import BridgeError
from bridge.fronts.anthropic.message import message_body, new_message_id
from bridge.fronts.anthropic.request import parse_request
from bridge.fronts.anthropic.stream import StreamWriter
from bridge.inbound import read_json
from bridge.logs import RequestLog
from bridge.model import Completion
from bridge.model import Request as BridgeRequest
from bridge.pipeline import Bridge
from bridge.serve import answer, serve
from bridge.tokens import count_request

REQUEST_ID_HEADER = "request-id"
SESSION_HEADER = "x-claude-code-session-id"


def error_response(error: BridgeError, request_id: str) -> JSONResponse:
    body = {"type": "error", "error": {"type": error.kind, "message": error.message}, "request_id": request_id}
    return JSONResponse(body, status_code=error.status, headers={**error.headers, REQUEST_ID_HEADER: request_id})


@dataclass
class MessagesCall:
    request: BridgeRequest
    message_id: str = field(default_factory=new_message_id)

    @property
    def model(self) -> str:
        return self.request.model

    def renderer(self) -> StreamWriter:
        return StreamWriter(self.message_id, self.request.model)

    def body(self, completion: Completion) -> dict[str, Any]:
        return message_body(completion, self.message_id, self.request.model)


class AnthropicFront:
    request_id_header = REQUEST_ID_HEADER

    def parse(self, body: Any, req: Request, bridge: Bridge) -> MessagesCall:
        return MessagesCall(parse_request(body, session_id=req.headers.get(SESSION_HEADER)))

    def error_response(self, error: BridgeError, request_id: str) -> Response:
        return error_response(error, request_id)


FRONT = AnthropicFront()


async def messages(req: Request) -> Response:
    return await serve(req, FRONT, "messages")


async def count_tokens(req: Request) -> Response:
    async def count(bridge: Bridge, record: RequestLog) -> dict[str, Any]:
        request = parse_request(await read_json(req, bridge.settings.max_request_bytes), count_only=True)
        record.model = request.model
        return {"input_tokens": count_request(request)}

    return await answer(req, FRONT, "count_tokens", count)
