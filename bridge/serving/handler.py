"""Serving a client call, for every front: one handler from the request to the stream or the completion.

    request in → who calls (the gateway's `Authenticator`: shared token, Entra ID token or personal key)
    → JSON body → the front's `parse` → the caller's model policy (`Served.within_policy`: a tier they may
      not use becomes the most capable they may) → `Bridge.route` → the caller's budgets and rate limits
      (`Served.admit`: the request's allowance held, in tokens and dollars at the deployment's price, or 429)
      → `Bridge.start`
    → stream (`outbound.stream_body`, the front's renderer) or gather (`outbound.gather`,
      the front's body) → out, with the caller's standing in `x-bridge-budget-*` headers → the hold
      settled with what was used and what it cost (`Charge.end`: Azure's usage, else an estimate; in
      the background, so the client's last byte never waits for the usage table), however the request
      ends: finished, cut, abandoned or failed

with one JSON log line per request (naming the caller), the front's error
shape for failures before the first byte, and never a stack trace.  Every
generation answer names what served it: `x-bridge-deployment` and
`x-bridge-api` (chat or responses).  A front is a `Front`: how it parses a
call, and how it shapes an error.  Routes the bridge answers itself
(`answer`) go through the same sign-in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from starlette.requests import Request as HttpRequest
from starlette.responses import Response, StreamingResponse

from bridge.errors import NO_RETRY, BridgeError, invalid_request, misconfigured
from bridge.gateway.auth.caller import Caller
from bridge.gateway.clock import utc_now
from bridge.gateway.managed_settings import SESSION_CHECKSUM_HEADER, SessionSettings, session_settings
from bridge.gateway.pricing.book import Unresolved
from bridge.gateway.pricing.price import Cost, Price, usd
from bridge.gateway.usage import notices
from bridge.gateway.usage.budget import Admission, Spending
from bridge.gateway.usage.charge import allowance, estimated, reported
from bridge.gateway.usage.notices import HEADER_PREFIX, budget_headers
from bridge.gateway.usage.spend_limit import unified_headers
from bridge.gateway.usage.standing import Standing
from bridge.gateway.usage.store import NOTHING, Agent, Counts
from bridge.model import Completion, Request, Usage
from bridge.serving.inbound import agent_of, cache_key_of, new_request_id, presented_token, read_json
from bridge.serving.outbound import Starting, StreamRenderer, gather, json_response, start_within, stream_body
from bridge.serving.process import Bridge, Routed, current_bridge
from bridge.serving.tiers import within
from bridge.sse import MAX_WRITTEN_DEPTH
from bridge.telemetry.request_log import RequestLog
from bridge.upstreams.stream import UpstreamStream
from bridge.upstreams.token_count import count_input_tokens

log = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
INTERNAL_ERROR = "The bridge hit an internal error; the request id identifies it in the logs"
BUDGET_REFUSAL = "budget"
RATE_LIMIT_REFUSAL = "rate_limit"
"""The request log's `refused` when the caller's budget, or their rate limit, refused the request."""


class Call(Protocol):
    """One client call, parsed by a front."""

    @property
    def request(self) -> Request: ...

    @property
    def model(self) -> str:
        """The model name the client asked for (logged, echoed)."""
        ...

    def renderer(self) -> StreamRenderer: ...

    def body(self, completion: Completion) -> dict[str, Any]: ...

    def answered_here(self) -> Completion | None:
        """The answer the bridge gives itself, with no upstream call (Claude Code's start-up quota probe); None
        for every other call."""
        ...

    def served_as(self, family: str, deployment: str) -> Call:
        """This call answered as the tier `family` (the model policy chose it) that `deployment` serves: the answers
        name what served, in the front's way."""
        ...


@dataclass(frozen=True, slots=True)
class Front:
    """A client API: how it parses a call, and how it shapes an error."""

    request_id_header: str
    parse: Callable[[Any], Call]
    error_response: Callable[[BridgeError, str], Response]


@dataclass(frozen=True, slots=True)
class Served:
    """What a route's own work gets: the process's bridge, who calls, the request's log record and id header."""

    bridge: Bridge
    caller: Caller
    record: RequestLog
    ids: dict[str, str]

    def within_policy(self, request: Request) -> tuple[Request, str | None]:
        """`request` as the caller's model policy lets it be served, and the tier it was moved to (None: as asked)."""
        tiers = self.bridge.gateway_settings.policy.tiers(self.caller)
        if tiers is None:
            return request, None
        moved, family = within(request, tiers, self.bridge.settings)
        if moved is None:
            raise BridgeError("permission_error", "MODEL_POLICY lets you use no model tier: ask your administrator")
        self.record.policy_tier = family
        return moved, family

    def session_settings(self, sent: str | None) -> SessionSettings | None:
        """How the session's managed settings (`sent`: the checksum it sent) compare with the caller's policy."""
        managed = self.bridge.gateway_settings.managed
        if not managed.entries and sent is None:
            return None
        return session_settings(managed.document(self.caller), sent)

    async def standing(self) -> Standing:
        """The caller's standing now, nothing held (for a call the bridge answers itself); 429 when a budget is
        spent, as any request of theirs would get."""
        standing = await self.bridge.gateway.budget.standing_now(self.caller)
        spent = standing.spent
        if spent is not None:
            raise notices.spent(standing, spent, utc_now())
        return standing

    async def admit(self, routed: Routed, body_bytes: int | None, agent: Agent) -> Charge:
        """Hold the request's allowance of the caller's budgets and count it against their rate limits (429 when
        one is reached); its input is counted only when a limit applies to the caller (on the loop when the body
        was small: `body_bytes`), its price looked up only when a dollar budget needs it now."""
        gateway = self.bridge.gateway
        self.bridge.warm_prices()
        deployment = routed.target.deployment
        spending = Spending(self.caller, deployment, agent)
        limits = gateway.budget.limits(self.caller)
        if not limits.any:
            self.bridge.prices.resolve_soon(deployment)
            return Charge(self, routed, spending, None, None)
        price = await self.bridge.prices.price(deployment)
        if price is None and limits.in_dollars:
            raise misconfigured(
                f"The deployment {deployment!r} has no price, so your budget in dollars cannot be kept: ask your "
                "administrator to price it in PRICES (GET /health names what is missing)"
            )
        small = body_bytes is not None and body_bytes < COUNT_ON_LOOP_BYTES
        input_tokens = await count_input_tokens(routed.request, routed.api, on_loop=small)
        held = allowance(input_tokens, routed.request.max_tokens, price)
        admission = await gateway.budget.admit(self.caller, held, self.bridge.settings.request_timeout, input_tokens)
        return Charge(self, routed, spending, admission, input_tokens)


def refused_by(refusal: BridgeError) -> str | None:
    """What refused a request at admission, for its record: the person's budget (a spent dollar budget's
    `billing_error`, or a 429 carrying the standing's headers: spent, or held by their running requests), their
    rate limit (any other 429), or None (not a refusal: a price missing, the table out of reach)."""
    if refusal.kind == "billing_error" or (
        refusal.kind == "rate_limit_error" and any(name.startswith(HEADER_PREFIX) for name in refusal.headers)
    ):
        return BUDGET_REFUSAL
    return RATE_LIMIT_REFUSAL if refusal.kind == "rate_limit_error" else None


def _declared_length(req: HttpRequest) -> int | None:
    declared = req.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


def _opened(starting: Starting | None) -> UpstreamStream | None:
    if starting is None or not starting.done() or starting.cancelled() or starting.exception() is not None:
        return None
    return starting.result()


@dataclass(frozen=True, slots=True)
class Charge:
    """A generation request's account with its caller's budgets: what it holds, and what it is charged at the end."""

    served: Served
    routed: Routed
    spending: Spending
    admission: Admission | None
    input_tokens: int | None
    """Counted at admission (when a limit applies), so an estimate need not count it again."""

    def headers(self) -> dict[str, str]:
        """The caller's standing, for the answer (none when no budget applies)."""
        return standing_headers(self.admission.standing) if self.admission is not None else {}

    def end(self, starting: Starting | None) -> None:
        """Settle in the background, however the request ended: Azure's usage when it came, priced; else an
        estimate (a stream cut, a call abandoned, Azure's answer broken off); nothing when the exchange failed
        (the upstream refused it, or it never reached the upstream).  The cost charged goes on the request's log
        record; when the deployment's price is still being read (a new instance's first request to it), the record
        waits for it (`RequestLog.costing`), off the answer's path."""
        served, routed, spending = self.served, self.routed, self.spending
        budget, prices = served.bridge.gateway.budget, served.bridge.prices
        stream = _opened(starting)
        if stream is None and (starting is None or (starting.done() and not starting.cancelled())):
            if self.admission is not None:
                budget.settle_soon(spending, self.admission, NOTHING)
            return
        received = stream.received if stream is not None else None
        if received is not None:
            served.record.finish_reason = received.finish
        if received is not None and received.usage is not None:
            served.record.usage = received.usage
            price = prices.known(spending.deployment)
            if isinstance(price, Unresolved):
                costing = asyncio.ensure_future(self._charged_later(received.usage, prices.price(spending.deployment)))
                served.record.costing = costing
                budget.settle_soon(spending, self.admission, costing)
                return
            budget.settle_soon(spending, self.admission, self._charged(received.usage, price))
            return
        served.record.usage_estimated = True
        estimate = estimated(routed.request, routed.api, received, prices.price(spending.deployment), self.input_tokens)
        costing = asyncio.ensure_future(self._estimate_charged(estimate))
        served.record.costing = costing
        budget.settle_soon(spending, self.admission, costing)

    def _charged(self, usage: Usage, price: Price | None) -> Counts:
        """What Azure's `usage` is charged at `price`; its cost, the same value, goes on the request's record."""
        return self._noted(*reported(usage, price))

    async def _estimate_charged(self, estimate: Awaitable[tuple[Counts, Cost | None]]) -> Counts:
        """What an estimate is charged; its cost goes on the record, beside `usage_estimated` (the record waits)."""
        return self._noted(*await estimate)

    def _noted(self, counts: Counts, cost: Cost | None) -> Counts:
        if cost is not None:
            self.served.record.cost_usd, self.served.record.cost_parts_usd = usd(cost.total), cost.parts_usd()
        return counts

    async def _charged_later(self, usage: Usage, price: Awaitable[Price | None]) -> Counts:
        """`_charged`, once the deployment's price is read (the record waits for it: `RequestLog.costing`)."""
        return self._charged(usage, await price)


def standing_headers(standing: Standing) -> dict[str, str]:
    """The caller's standing on an answer: the bridge's budget headers and Claude Code's spend-limit headers."""
    return {**budget_headers(standing), **unified_headers(standing)}


Handling = Callable[[Served], Awaitable[Response]]
DEPLOYMENT_HEADER = "x-bridge-deployment"
API_HEADER = "x-bridge-api"


def served_by(routed: Routed) -> dict[str, str]:
    """The headers that tell a user which deployment, through which upstream API, answered."""
    return {DEPLOYMENT_HEADER: quote(routed.target.deployment, safe="-._~:@"), API_HEADER: routed.api}


UNAVAILABLE = 503
COUNT_ON_LOOP_BYTES = 8192
"""A request body smaller than this is counted on the event loop (microseconds; a thread's handoff costs 0.1 ms)."""


NESTED_TOO_DEEPLY = (
    "The request is nested too deeply to pass on: a tool's schema or a tool call's input may hold at most "
    f"{MAX_WRITTEN_DEPTH} levels of objects and lists"
)
"""A request's structure went deeper than the bridge can walk or write (`bridge.sse.dumps`, any recursive walk):
its own walks have no depth of their own, so only the request's can run out."""


def locked_out(reason: str) -> BridgeError:
    """The bridge serves nothing while its configuration makes serving unsafe or sign-in impossible (`Bridge.lockout`)."""
    return BridgeError("api_error", f"The bridge is not serving: {reason}", dict(NO_RETRY), UNAVAILABLE)


async def _handle(req: HttpRequest, front: Front, route: str, handling: Handling) -> Response:
    """What every route does around its own work: the log record, who calls, the errors."""
    record = RequestLog(new_request_id(), route).start(req.headers)
    ids = {front.request_id_header: record.request_id}
    try:
        bridge = current_bridge()
        if bridge.lockout is not None:
            raise locked_out(bridge.lockout)
        caller = await bridge.gateway.authenticator.caller(presented_token(req))
        record.caller = caller.log_fields()
        response = await handling(Served(bridge, caller, record, ids))
    except BridgeError as error:
        record.error_type = error.kind
        response = front.error_response(error, record.request_id)
    except RecursionError:
        log.warning("request %s: nested too deeply to pass on", record.request_id)
        record.error_type = "invalid_request_error"
        response = front.error_response(invalid_request(NESTED_TOO_DEEPLY), record.request_id)
    except Exception:
        log.exception("request %s failed", record.request_id)
        record.error_type = "api_error"
        response = front.error_response(BridgeError("api_error", INTERNAL_ERROR), record.request_id)
    if not isinstance(response, StreamingResponse):
        record.emit(response.status_code)
    return response


async def serve(req: HttpRequest, front: Front, route: str) -> Response:
    """The whole handler of a generation route, for any front."""

    async def generate(served: Served) -> Response:
        bridge, record, ids = served.bridge, served.record, served.ids
        record.managed_settings = served.session_settings(req.headers.get(SESSION_CHECKSUM_HEADER))
        call = front.parse(await read_json(req, bridge.settings.max_request_bytes))
        request = cache_key_of(req.headers, call.request)
        record.model, record.stream = call.model, request.stream
        local = call.answered_here()
        if local is not None:
            return json_response(call.body(local), headers={**ids, **standing_headers(await served.standing())})
        request, family = served.within_policy(request)
        routed = await bridge.route(request)
        if family is not None:
            call = call.served_as(family, routed.target.deployment)
        agent = agent_of(req.headers)
        record.agent = agent
        try:
            charge = await served.admit(routed, _declared_length(req), agent)
        except BridgeError as refusal:
            record.refused = refused_by(refusal)
            raise
        headers = {**ids, **served_by(routed), **charge.headers()}
        deadline = bridge.stream_deadline() if request.stream else bridge.deadline()
        starting: Starting | None = None
        try:
            starting = asyncio.ensure_future(bridge.start(routed, deadline))
            if request.stream:
                heartbeat = bridge.settings.heartbeat_seconds
                await start_within(starting, heartbeat)
                renderer = call.renderer()
                body = _logged(stream_body(renderer, starting, deadline, heartbeat, req), renderer, served, charge, starting)
                return StreamingResponse(body, media_type="text/event-stream", headers={**SSE_HEADERS, **headers})
            completion = await gather(starting, deadline, req)
        except BaseException:
            if starting is not None and not starting.done():
                starting.cancel()
            charge.end(starting)
            raise
        charge.end(starting)
        return json_response(call.body(completion), headers=headers)

    return await _handle(req, front, route, generate)


async def _logged(
    body: AsyncGenerator[bytes, None], renderer: StreamRenderer, served: Served, charge: Charge, starting: Starting
) -> AsyncGenerator[bytes, None]:
    """The stream body, logging its request and settling its charge when it ends, however it ends (a client gone
    included: the stream and its exchange are closed first)."""
    record = served.record
    try:
        async for chunk in body:
            yield chunk
    finally:
        await body.aclose()
        charge.end(starting)
        if not renderer.finished:
            record.error_type = renderer.error_kind or "stream_incomplete"
        record.emit(200)


async def answer(
    req: HttpRequest, front: Front, route: str, compute: Callable[[Served], Awaitable[dict[str, Any]]], status: int = 200
) -> Response:
    """The handler of a route the bridge answers itself (no upstream call) in JSON, for any front."""

    async def respond(served: Served) -> Response:
        return json_response(await compute(served), status, headers=served.ids)

    return await _handle(req, front, route, respond)


async def respond(req: HttpRequest, front: Front, route: str, handling: Handling) -> Response:
    """The handler of a route the bridge answers itself with a response of its own making (its status, headers
    and body: CSV, a 304), for any front."""
    return await _handle(req, front, route, handling)
