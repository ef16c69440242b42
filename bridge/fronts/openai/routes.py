"""The OpenAI routes: `POST /v1/chat/completions` and `GET /v1/models`.

request in → client token → JSON body → `parse_request` → `models.target` → `Bridge.start`
→ stream (`render_stream`) or gather (`collect` → `completion_body`) → out.
Responses name the model the client asked for; errors are OpenAI error objects.
"""

import asyncio
import logging
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from bridge.collect import collect
from bridge.errors import BridgeError
from bridge.fronts.openai.completion import completion_body, new_completion_id, now
from bridge.fronts.openai.errors import error_body, status_of
from bridge.fronts.openai.models import model_list, target
from bridge.fronts.openai.request import parse_request
from bridge.fronts.openai.stream import ChunkWriter, render_stream
from bridge.inbound import check_client_token, new_request_id, read_json
from bridge.logs import RequestLog
from bridge.pipeline import current_bridge

log = logging.getLogger("bridge.openai")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def error_response(error: BridgeError, request_id: str) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=status_of(error), headers={**error.headers, "x-request-id": request_id})


def _unexpected(record: RequestLog) -> JSONResponse:
    log.exception("request %s failed", record.request_id)
    record.error_type = "api_error"
    error = BridgeError("api_error", "The bridge hit an internal error; the request id identifies it in the logs")
    return error_response(error, record.request_id)


async def _logged(body: AsyncIterator[bytes], writer: ChunkWriter, record: RequestLog) -> AsyncIterator[bytes]:
    try:
        async for chunk in body:
            yield chunk
    finally:
        record.usage = writer.usage
        if not writer.finished:
            record.error_type = record.error_type or "stream_incomplete"
        record.emit(200)


async def chat_completions(req: Request) -> Response:
    record = RequestLog(new_request_id(), "chat_completions").start()
    try:
        bridge = current_bridge()
        check_client_token(req, bridge.settings)
        chat = parse_request(await read_json(req, bridge.settings.max_request_bytes))
        model = chat.request.model
        record.model, record.stream = model, chat.request.stream
        deadline = bridge.stream_deadline() if chat.request.stream else bridge.deadline()
        exchange = await bridge.start(target(chat.request, bridge.settings), deadline)
        completion_id, created = new_completion_id(), now()
        if chat.request.stream:
            writer = ChunkWriter(completion_id, model, created, chat.include_usage)
            body = _logged(render_stream(writer, exchange.events, deadline), writer, record)
            headers = {**SSE_HEADERS, "x-request-id": record.request_id}
            return StreamingResponse(body, media_type="text/event-stream", headers=headers)
        try:
            async with asyncio.timeout(max(deadline.remaining(), 0.0)):
                completion = await collect(exchange.events)
        except TimeoutError:
            raise deadline.error() from None
        record.usage = completion.usage
        response: Response = JSONResponse(
            completion_body(completion, completion_id, model, created), headers={"x-request-id": record.request_id}
        )
    except BridgeError as error:
        record.error_type = error.kind
        response = error_response(error, record.request_id)
    except Exception:
        response = _unexpected(record)
    record.emit(response.status_code)
    return response


async def models(req: Request) -> Response:
    record = RequestLog(new_request_id(), "models").start()
    try:
        bridge = current_bridge()
        check_client_token(req, bridge.settings)
        response: Response = JSONResponse(model_list(bridge.settings), headers={"x-request-id": record.request_id})
    except BridgeError as error:
        record.error_type = error.kind
        response = error_response(error, record.request_id)
    except Exception:
        response = _unexpected(record)
    record.emit(response.status_code)
    return response
