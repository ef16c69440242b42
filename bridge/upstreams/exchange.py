"""One upstream exchange, whatever the upstream API: build, adapt, send through the pool, recover, stream.

    Request ─ API's build_body ─ the deployment's learned adaptation ─ pool.send
      200 → UpstreamStream, read to its first batch ─────────────────────────────▶ the stream
      an error status, or a failure inside the stream before its first batch
          → the API's recovery step (`recovery.py`) decides:
              Adapt / SwitchApi (remembered in `memory`) / Resend / RetryElsewhere → send again
              Fail → the client's error

A non-streaming client without stop sequences gets a non-streamed upstream
call (`whole`): one JSON answer, decoded by the same translators.
"""

from __future__ import annotations

import logging

from bridge.deadline import Deadline
from bridge.errors import BridgeError
from bridge.model import Request
from bridge.settings import Api
from bridge.stops import StopSequences
from bridge.tiers import Target
from bridge.upstreams.api import UpstreamApi
from bridge.upstreams.chat.api import CHAT
from bridge.upstreams.failures import UpstreamError, UpstreamFailure, describe
from bridge.upstreams.memory import DeploymentMemory
from bridge.upstreams.pool import MAX_ROUNDS, Answer, Pool
from bridge.upstreams.recovery import Adapt, Fail, Refusal, RetryElsewhere, SwitchApi
from bridge.upstreams.responses.api import RESPONSES
from bridge.upstreams.stream import Decoder, StreamDecoder, UpstreamStream, WholeDecoder

APIS: dict[Api, UpstreamApi] = {"chat": CHAT, "responses": RESPONSES}
MAX_RECOVERIES = 6
log = logging.getLogger("bridge.upstream")


def _decoder(api: UpstreamApi, request: Request, whole: bool) -> Decoder:
    stops = StopSequences(request.stop) if request.stop else None
    return WholeDecoder(api.events_of, stops) if whole else StreamDecoder(api.translator(), stops)


async def _opened(answer: Answer, api: UpstreamApi, request: Request, target: Target, whole: bool) -> UpstreamStream:
    stream = UpstreamStream(answer.reply, _decoder(api, request, whole), target, api.name, answer.first)
    await stream.first()
    return stream


async def open_stream(
    request: Request, target: Target, api_name: Api, pool: Pool, memory: DeploymentMemory, deadline: Deadline
) -> UpstreamStream:
    """Start the exchange; raises `BridgeError` for anything that fails before the first batch of events."""
    api = APIS[api_name]
    whole = not request.stream and not request.stop
    body = api.build_body(request, target.deployment, not whole)
    retries = 0
    for _ in range(MAX_RECOVERIES + 1):
        adaptation = memory.adaptation(pool.name, target.deployment, api.name)
        sent = adaptation.apply(body)
        answer = await pool.send(target.deployment, api.operation, sent, deadline)
        if answer.reply.status == 200:
            try:
                return await _opened(answer, api, request, target, whole)
            except UpstreamFailure as failure:
                error = failure.error
        else:
            error = UpstreamError.from_body(answer.reply.status, await answer.reply.read(), answer.reply.headers)
        decision = api.recover(Refusal(error, sent, adaptation, target, answer.endpoint.credential.keyed))
        if isinstance(decision, RetryElsewhere) and retries < MAX_ROUNDS:
            retries += 1
            log.warning("%s failed inside its stream (%s); trying again", answer.endpoint.name, decision.reason)
            pool.rest(answer.endpoint, decision.rest_seconds)
            continue
        if isinstance(decision, RetryElsewhere):
            raise describe(error, target, answer.endpoint.credential.keyed)
        if isinstance(decision, Fail):
            raise decision.error
        if isinstance(decision, Adapt):
            log.info("deployment %s refused a parameter; adapted and retrying: %s", target.deployment, decision.change)
            memory.remember_adaptation(pool.name, target.deployment, api.name, decision.adaptation)
        elif isinstance(decision, SwitchApi):
            log.info("deployment %s needs the %s API; switching it", target.deployment, decision.api)
            memory.remember_api(pool.name, target.deployment, decision.api)
            api = APIS[decision.api]
            body = api.build_body(request, target.deployment, not whole)
        else:
            log.info("deployment %s cannot use part of this request; sending again: %s", target.deployment, decision.change)
            body = decision.body
    raise BridgeError("api_error", f"Deployment '{target.deployment}' kept refusing the request", {"x-should-retry": "false"})
