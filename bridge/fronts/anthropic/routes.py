"""The Anthropic routes: `POST /v1/messages`, `POST /v1/messages/count_tokens`, and `GET /v1/models` for
Anthropic clients (the tiers as Claude models, `model_names.py`).

`/v1/messages` is `handler.serve` with this front: `parse_request`, `AnthropicStreamRenderer`
for streams, `message_body` for whole messages, Anthropic error bodies with a
`request-id` header; Claude Code's start-up quota probe is answered here (an empty
message, stop_reason max_tokens, no usage), never sent upstream.  `count_tokens` is local: no upstream call; it counts
the request as the deployment that would serve it receives it.
"""

from dataclasses import dataclass, field, replace
from typing import Any

from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from bridge.errors import BridgeError
from bridge.fronts.anthropic.message import message_body, new_message_id
from bridge.fronts.anthropic.model_names import LISTED_AS, model_list
from bridge.fronts.anthropic.request import is_quota_probe, parse_request
from bridge.fronts.anthropic.stream import AnthropicStreamRenderer
from bridge.model import Completion, Finish, Request, Usage
from bridge.serving.handler import Front, Served, answer, serve
from bridge.serving.inbound import read_json
from bridge.serving.outbound import json_response
from bridge.telemetry.request_log import note_model
from bridge.upstreams.token_count import count_input_tokens

REQUEST_ID_HEADER = "request-id"


def error_response(error: BridgeError, request_id: str) -> Response:
    body = {"type": "error", "error": {"type": error.kind, "message": error.message}, "request_id": request_id}
    return json_response(body, error.status, {**error.headers, REQUEST_ID_HEADER: request_id})


QUOTA_PROBE_ANSWER = Completion([], Finish("max_tokens"), Usage())
"""What Claude Code's start-up quota probe gets: nothing generated, nothing used (no upstream call)."""


@dataclass
class MessagesCall:
    request: Request
    probe: bool = False
    """Claude Code's start-up quota probe (`is_quota_probe`)."""
    message_id: str = field(default_factory=new_message_id)

    def answered_here(self) -> Completion | None:
        return QUOTA_PROBE_ANSWER if self.probe else None

    @property
    def model(self) -> str:
        return self.request.model

    def renderer(self) -> AnthropicStreamRenderer:
        return AnthropicStreamRenderer(self.message_id, self.request.model)

    def body(self, completion: Completion) -> dict[str, Any]:
        return message_body(completion, self.message_id, self.request.model)

    def served_as(self, family: str, deployment: str) -> "MessagesCall":
        """Answered as the listed Claude model of `family` (GET /v1/models), which names the deployment."""
        del deployment
        return replace(self, request=replace(self.request, model=LISTED_AS[family]))


def parse_call(body: Any) -> MessagesCall:
    return MessagesCall(parse_request(body), probe=is_quota_probe(body))


FRONT = Front(REQUEST_ID_HEADER, parse_call, error_response)


async def messages(req: HttpRequest) -> Response:
    return await serve(req, FRONT, "messages")


async def count_tokens(req: HttpRequest) -> Response:
    async def count(served: Served) -> dict[str, Any]:
        bridge = served.bridge
        request = parse_request(await read_json(req, bridge.settings.max_request_bytes), count_only=True)
        note_model(request.model)
        request, _ = served.within_policy(request)
        target, request = await bridge.target(request)
        return {"input_tokens": await count_input_tokens(request, bridge.api(target))}

    return await answer(req, FRONT, "count_tokens", count)


async def models(req: HttpRequest) -> Response:
    async def listed(served: Served) -> dict[str, Any]:
        return model_list(served.bridge.settings, served.bridge.gateway_settings.policy.tiers(served.caller))

    return await answer(req, FRONT, "models", listed)
