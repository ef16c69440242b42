"""The Anthropic routes: `POST /v1/messages` and `POST /v1/messages/count_tokens`.

`/v1/messages` is `serve` with this front: `parse_request`, `StreamWriter`
for streams, `message_body` for whole messages, Anthropic error bodies with a
`request-id` header.  `count_tokens` is local: no upstream call.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.errors import BridgeError
from bridge.fronts.anthropic.message import message_body, new_message_id
from bridge.fronts.anthropic.request import parse_request
from bridge.fronts.anthropic.stream import StreamWriter
from bridge.inbound import check_client_token, new_request_id, read_json
from bridge.logs import RequestLog
from bridge.model import Completion
from bridge.model import Request as BridgeRequest
from bridge.pipeline import Bridge, current_bridge
from bridge.serve import INTERNAL_ERROR, serve
from bridge.tokens import count_request

log = logging.getLogger("bridge.anthropic")
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
    record = RequestLog(new_request_id(), "count_tokens").start()
    try:
        bridge = current_bridge()
        check_client_token(req, bridge.settings)
        request = parse_request(await read_json(req, bridge.settings.max_request_bytes), count_only=True)
        record.model = request.model
        response: Response = JSONResponse({"input_tokens": count_request(request)}, headers={REQUEST_ID_HEADER: record.request_id})
    except BridgeError as error:
        record.error_type = error.kind
        response = error_response(error, record.request_id)
    except Exception:
        log.exception("request %s failed", record.request_id)
        record.error_type = "api_error"
        response = error_response(BridgeError("api_error", INTERNAL_ERROR), record.request_id)
    record.emit(response.status_code)
    return response
