"""One upstream exchange, whatever the upstream API: build, adapt, send through the pool, recover, stream.

    Request ─ API's build_body ─ the deployment's learned adaptation ─ pool.send
      200 → UpstreamStream, read to its first batch ─────────────────────────────▶ the stream
      an error status, or a failure inside the stream before its first batch
          → the API's recovery step (`recovery.py`) decides:
              Adapt / SwitchApi (remembered in `knowledge`) / Resend / RetryElsewhere /
              SignInAgain → send again (each at most `LIMITS` times a request)
              Fail → the client's error

A non-streaming client without stop sequences gets a non-streamed upstream
call (`whole`): one JSON answer, decoded by the same translators.
"""

from __future__ import annotations

import logging
from collections import Counter

from bridge.deadline import Deadline
from bridge.model import Api, Request, Target
from bridge.telemetry.request_log import note_api, note_first_events, note_next
from bridge.upstreams.api import UpstreamApi
from bridge.upstreams.chat.api import CHAT
from bridge.upstreams.failures import ErrorReport, UpstreamError, client_error
from bridge.upstreams.knowledge import DeploymentKnowledge
from bridge.upstreams.pool import MAX_ROUNDS, Answer, Pool
from bridge.upstreams.recovery import Adapt, Fail, FailedAttempt, Recovery, Resend, RetryElsewhere, SignInAgain, SwitchApi
from bridge.upstreams.responses.api import RESPONSES
from bridge.upstreams.stops import StopSequences
from bridge.upstreams.stream import Decoder, StreamDecoder, UpstreamStream, WholeDecoder

APIS: dict[Api, UpstreamApi] = {"chat": CHAT, "responses": RESPONSES}
LIMITS: dict[type[Recovery], int] = {Adapt: 4, SwitchApi: 1, Resend: 2, RetryElsewhere: MAX_ROUNDS, SignInAgain: 1}
"""How often one request may take each decision before its error goes to the client."""
DECISIONS: dict[type[Recovery], str] = {
    Adapt: "adapt",
    SwitchApi: "switch_api",
    Resend: "resend",
    RetryElsewhere: "retry_elsewhere",
    SignInAgain: "sign_in_again",
    Fail: "fail",
}
"""Each decision as the telemetry names it (an attempt span's `bridge.attempt.next`)."""
log = logging.getLogger(__name__)


def _decoder(api: UpstreamApi, request: Request, whole: bool) -> Decoder:
    stops = StopSequences(request.stop) if request.stop else None
    return WholeDecoder(api.events_of, stops) if whole else StreamDecoder(api.translator(), stops)


async def _opened(
    answer: Answer, api: UpstreamApi, request: Request, target: Target, whole: bool, client_names: dict[str, str]
) -> UpstreamStream:
    decoder = _decoder(api, request, whole)
    stream = UpstreamStream(answer.reply, decoder, target, api.name, answer.first, client_names)
    await stream.first()
    note_first_events()
    return stream


async def open_stream(
    request: Request,
    target: Target,
    api_name: Api,
    pool: Pool,
    knowledge: DeploymentKnowledge,
    deadline: Deadline,
    client_names: dict[str, str] | None = None,
) -> UpstreamStream:
    """Start the exchange; raises `BridgeError` for anything that fails before the first batch of events.

    `client_names` gives the client's name of each tool `request` offers under another (`tools.for_upstream`).
    """
    api = APIS[api_name]
    whole = not request.stream and not request.stop
    body = api.build_body(request, target.deployment, not whole)
    taken: Counter[type[Recovery]] = Counter()
    while True:
        adaptation = knowledge.adaptation(pool.name, target.deployment, api.name)
        sent = adaptation.apply(body)
        answer = await pool.send(target.deployment, api.operation, sent, deadline, request.cache_key)
        keyed = answer.endpoint.credential.keyed
        if answer.reply.status == 200:
            try:
                return await _opened(answer, api, request, target, whole, client_names or {})
            except UpstreamError as failure:
                report = failure.report
        else:
            report = ErrorReport.from_body(answer.reply.status, await answer.reply.read(), answer.reply.headers)
        decision = api.recover(FailedAttempt(report, sent, adaptation, target, keyed))
        error = report.code or str(report.status)
        if isinstance(decision, Fail):
            note_next(DECISIONS[Fail], error)
            raise decision.error
        taken[type(decision)] += 1
        if taken[type(decision)] > LIMITS[type(decision)]:
            note_next(DECISIONS[Fail], error)
            raise client_error(report, target, keyed)
        note_next(DECISIONS[type(decision)], error)
        match decision:
            case Adapt(adaptation=learned, change=change):
                log.info("deployment %s refused a parameter; adapted and retrying: %s", target.deployment, change)
                knowledge.remember_adaptation(pool.name, target.deployment, api.name, learned)
            case SwitchApi(api=other):
                log.info("deployment %s needs the %s API; switching it", target.deployment, other)
                knowledge.remember_api(pool.name, target.deployment, other)
                note_api(other)
                api = APIS[other]
                body = api.build_body(request, target.deployment, not whole)
            case Resend(body=resent, change=change):
                log.info("deployment %s cannot use part of this request; sending again: %s", target.deployment, change)
                body = resent
            case RetryElsewhere(rest_seconds=seconds, reason=reason):
                log.warning("%s failed inside its stream (%s); trying again", answer.endpoint.name, reason)
                pool.rest(answer.endpoint, seconds)
            case SignInAgain(reason=reason):
                log.warning("%s refused the Entra ID token (%s); signing in again", answer.endpoint.name, reason)
                answer.endpoint.credential.forget()
