"""The Anthropic routes: `POST /v1/messages` and `POST /v1/messages/count_tokens`.

request in → client token → JSON body → `parse_request` → `Bridge.start`
→ stream (`render_stream`) or gather (`collect` → `message_body`) → out.
"""

import asyncio
import logging
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from bridge.collect import collect
from bridge.errors import BridgeError
from bridge.fronts.anthropic.message import message_body, new_message_id
from bridge.fronts.anthropic.request import parse_request
from bridge.fronts.anthropic.stream import StreamWriter, render_stream
from bridge.inbound import check_client_token, new_request_id, read_json
from bridge.logs import RequestLog
from bridge.pipeline import current_bridge
from bridge.tokens import count_chat_body
from bridge.upstreams.chat.request import build_body

log = logging.getLogger("bridge.anthropic")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def error_response(error: BridgeError, request_id: str) -> JSONResponse:
    body = {"type": "error", "error": {"type": error.kind, "message": error.message}, "request_id": request_id}
    return JSONResponse(body, status_code=error.status, headers={**error.headers, "request-id": request_id})


def _unexpected(record: RequestLog) -> JSONResponse:
    log.exception("request %s failed", record.request_id)
    record.error_type = "api_error"
    return error_response(BridgeError("api_error", "The bridge hit an internal error; the request id identifies it in the logs"), record.request_id)


async def _logged(body: AsyncIterator[bytes], writer: StreamWriter, record: RequestLog) -> AsyncIterator[bytes]:
    try:
        async for chunk in body:
            yield chunk
    finally:
        record.usage = writer.usage
        if not writer.finished:
            record.error_type = record.error_type or "stream_incomplete"
        record.emit(200)


async def messages(req: Request) -> Response:
    record = RequestLog(new_request_id(), "messages").start()
    try:
        bridge = current_bridge()
        check_client_token(req, bridge.settings)
        request = parse_request(
            await read_json(req, bridge.settings.max_request_bytes), session_id=req.headers.get("x-claude-code-session-id")
        )
        record.model, record.stream = request.model, request.stream
        deadline = bridge.deadline()
        exchange = await bridge.start(request, deadline)
        message_id = new_message_id()
        if request.stream:
            writer = StreamWriter(message_id, request.model)
            body = _logged(render_stream(writer, exchange.events, deadline), writer, record)
            headers = {**SSE_HEADERS, "request-id": record.request_id}
            return StreamingResponse(body, media_type="text/event-stream", headers=headers)
        try:
            async with asyncio.timeout(max(deadline.remaining(), 0.0)):
                completion = await collect(exchange.events)
        except TimeoutError:
            raise BridgeError("timeout_error", "The response took longer than REQUEST_TIMEOUT allows") from None
        record.usage = completion.usage
        response: Response = JSONResponse(
            message_body(completion, message_id, request.model), headers={"request-id": record.request_id}
        )
    except BridgeError as error:
        record.error_type = error.kind
        response = error_response(error, record.request_id)
    except Exception:
        response = _unexpected(record)
    record.emit(response.status_code)
    return response


async def count_tokens(req: Request) -> Response:
    record = RequestLog(new_request_id(), "count_tokens").start()
    try:
        bridge = current_bridge()
        check_client_token(req, bridge.settings)
        request = parse_request(await read_json(req, bridge.settings.max_request_bytes), count_only=True)
        record.model = request.model
        tokens = count_chat_body(build_body(request, request.model, None))
        response: Response = JSONResponse({"input_tokens": tokens}, headers={"request-id": record.request_id})
    except BridgeError as error:
        record.error_type = error.kind
        response = error_response(error, record.request_id)
    except Exception:
        response = _unexpected(record)
    record.emit(response.status_code)
    return response
