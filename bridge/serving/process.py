"""The middle of the bridge: internal request in, upstream stream of internal events out.

    Request ─ route: target (tiers: deployment, overrides), upstream API, the tools it is offered
            ─ start: exchange (build, adapt, send through the pool, recover)
            ─ UpstreamStream of Event batches for a front to render

Which upstream API serves a deployment:

    learned for the deployment (it said it needs the other API)   that API
    the deployment's *_API setting                                that API
    else, by the pool's first upstream:
      OpenAI-compatible (OPENAI_BASE_URL)                         chat/completions
      Azure with the v1 API or a version from 2025-03-01-preview  Responses (reasoning summaries,
        on                                                        reasoning kept across tool calls,
                                                                  prompt cache key)
      Azure with an older version                                 chat/completions

(a pool's members should offer the same APIs: the choice is made once per deployment)

`Bridge.describe()` is the one picture of the process (upstreams, what serves each tier and at what price,
client sign-in, problems, lockout): `serving.startup` prints it as text, `serving.health` shows it as JSON.
It reads the price table (about 40 ms the first time): the event loop reads it in a worker thread first
(`check_prices`, `warm_prices`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import cached_property

from bridge.config.load import Settings, UpstreamAuth, load_settings
from bridge.config.table import BUDGET_DAILY_USD, BUDGET_MONTHLY_USD, BUDGET_OVERRIDES, TIER_SETTINGS
from bridge.deadline import Deadline
from bridge.errors import invalid_request, misconfigured
from bridge.gateway.auth.entra_config import EntraConfig
from bridge.gateway.build import Gateway, build_gateway
from bridge.gateway.pricing.book import PriceBook, PriceProblem
from bridge.gateway.pricing.price import Price
from bridge.gateway.settings import GatewaySettings, load_gateway_settings
from bridge.model import Api, ClientAuth, Request, Target
from bridge.serving.collector import tune_collector
from bridge.serving.tiers import resolve
from bridge.telemetry.request_log import note_route
from bridge.upstreams.credentials import EntraToken
from bridge.upstreams.endpoint import Endpoint
from bridge.upstreams.exchange import open_stream
from bridge.upstreams.knowledge import DeploymentKnowledge
from bridge.upstreams.pool import Pool
from bridge.upstreams.stops import check_stop_sequences
from bridge.upstreams.stream import UpstreamStream
from bridge.upstreams.token_count import count_input_tokens
from bridge.upstreams.tools import for_upstream

MAX_TOOLS = 128
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Routed:
    """A request on its way: its target and upstream API, in the form the upstream gets (`tools.for_upstream`)."""

    target: Target
    api: Api
    request: Request
    client_names: dict[str, str]
    """The client's name of each tool offered under another."""


@dataclass(frozen=True, slots=True)
class UpstreamPicture:
    """One upstream as start-up and health show it."""

    setting: str
    """The setting that names it (AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_ENDPOINT_2, OPENAI_BASE_URL)."""
    host: str
    api_version: str | None
    """The Azure API version; None for an OpenAI-compatible server."""
    auth: UpstreamAuth


@dataclass(frozen=True, slots=True)
class TierPicture:
    """The deployment that serves a tier setting, and the upstream API it is called through."""

    setting: str
    """The setting that names the deployment: the tier's own, or the one it falls back to (MIDDLE_MODEL → BIG_MODEL)."""
    deployment: str
    api_setting: Api | None
    """That setting's *_API (None: automatic)."""
    api: Api
    """The upstream API chosen (`Bridge.api`)."""


@dataclass(frozen=True, slots=True)
class Picture:
    """What the process serves and how, in one picture: `python -m bridge` prints it, `GET /health` shows it."""

    upstreams: tuple[UpstreamPicture, ...]
    tiers: Mapping[str, TierPicture]
    """By tier setting (BIG_MODEL, ..., LONG_CONTEXT_MODEL), each one that has a deployment, a fallback's included."""
    client_auth: ClientAuth
    client_token: bool
    """A client token (ANTHROPIC_AUTH_TOKEN) is set."""
    entra: EntraConfig | None
    """The Entra ID sign-in, with CLIENT_AUTH=entra."""
    problems: tuple[str, ...]
    lockout: str | None
    prices: Mapping[str, Price | None]
    """Each tier deployment's price (None: it has none)."""
    price_problems: tuple[PriceProblem, ...]
    login: bool = False
    """Claude Code's /login is offered (`GatewaySettings.login_offered`)."""

    @property
    def client_token_required(self) -> bool:
        return self.client_auth == "entra" or self.client_token

    def all_problems(self, detailed: bool) -> tuple[str, ...]:
        """Every problem, the prices' included; `detailed` names deployments (for a caller the bridge lets in)."""
        return self.problems + tuple(problem.detailed if detailed else problem.public for problem in self.price_problems)


@dataclass
class Bridge:
    """Everything one process keeps between requests: settings, credentials, the pool, what was learned,
    the gateway (who calls, their keys and budgets) and the prices."""

    settings: Settings
    gateway_settings: GatewaySettings = field(default_factory=GatewaySettings)
    knowledge: DeploymentKnowledge = field(default_factory=DeploymentKnowledge)
    _warming: asyncio.Task[tuple[PriceProblem, ...]] | None = field(default=None, repr=False)

    @cached_property
    def gateway(self) -> Gateway:
        """Built on first use, inside the serving event loop (its tables and key fetches open lazily too)."""
        return build_gateway(self.gateway_settings, self.settings.auth_token)

    @cached_property
    def prices(self) -> PriceBook:
        """Each deployment's price: PRICES over the kept price table (read on first use)."""
        return PriceBook(self.gateway_settings.prices)

    @property
    def problems(self) -> tuple[str, ...]:
        """Every configuration problem read from the settings, the gateway's included (GET /health adds
        `price_problems`)."""
        return self.settings.problems + self.gateway_settings.problems

    @cached_property
    def price_problems(self) -> tuple[PriceProblem, ...]:
        """What is wrong with the tiers' prices (a deployment without one while a dollar budget is set, a PRICES
        entry naming a model the table lacks), each logged once.  Reads the price table: call it off the event loop
        (`warm_prices`), or at start-up."""
        budget = self.gateway_settings.budget
        dollars = None
        if budget.daily_usd is not None:
            dollars = BUDGET_DAILY_USD.name
        elif budget.monthly_usd is not None:
            dollars = BUDGET_MONTHLY_USD.name
        elif budget.dollars_anyone:
            dollars = f"{BUDGET_OVERRIDES.name} (daily_usd, monthly_usd)"
        tiers = {name: tier.deployment for name, tier in self.settings.tiers.items()}
        found = tuple(self.prices.problems(tiers, dollars))
        for problem in found:
            log.warning("configuration: %s", problem.detailed)
        return found

    def warm_prices(self) -> None:
        """Look up the tiers' prices (and report their problems) in a worker thread, once per process."""
        if self._warming is None and "price_problems" not in vars(self):
            self._warming = asyncio.get_running_loop().create_task(asyncio.to_thread(lambda: self.price_problems))

    async def check_prices(self) -> None:
        """Read the tiers' prices off the event loop (the price table), so that `describe` finds them."""
        await asyncio.to_thread(lambda: self.price_problems)

    @property
    def lockout(self) -> str | None:
        """Why the bridge serves no request at all (an unsafe client token, sign-in that cannot work), if it must not."""
        return self.settings.lockout or self.gateway_settings.lockout

    @cached_property
    def pool(self) -> Pool | None:
        if not self.settings.upstreams:
            return None
        entra = EntraToken()
        headers = self.settings.custom_headers
        endpoints = [Endpoint.from_setting(upstream, headers, entra) for upstream in self.settings.upstreams]
        return Pool(endpoints, self.settings.retry_backoff_seconds)

    def deadline(self) -> Deadline:
        """The deadline of a whole request (REQUEST_TIMEOUT)."""
        return Deadline.after(self.settings.request_timeout)

    def stream_deadline(self) -> Deadline:
        """The deadline of a stream: MAX_STREAM_SECONDS when it is the tighter limit."""
        seconds = self.settings.max_stream_seconds
        if seconds >= self.settings.request_timeout:
            return self.deadline()
        return Deadline.after(
            seconds,
            f"The response was still streaming after MAX_STREAM_SECONDS ({seconds:g} s), so the bridge ended it "
            "before Azure's front end would cut it (about 230 s). Ask for a shorter answer, or continue from here.",
        )

    def describe(self) -> Picture:
        """The process in one picture: its upstreams, what serves each tier, how clients sign in, what is wrong."""
        upstreams = tuple(
            UpstreamPicture(
                upstream.source, upstream.host, upstream.api_version if upstream.flavor == "azure" else None, upstream.auth
            )
            for upstream in self.settings.upstreams
        )
        tiers = {
            setting.name: TierPicture(
                tier.setting, tier.deployment, tier.api, self.api(Target(tier.deployment, tier.setting, tier.api))
            )
            for setting in TIER_SETTINGS
            if (tier := self.settings.tier(setting.name)) is not None
        }
        gateway = self.gateway_settings
        entra = gateway.entra if gateway.client_auth == "entra" else None
        client_token = self.settings.auth_token is not None
        prices = {tier.deployment: self.prices.lookup(tier.deployment) for tier in tiers.values()}
        login = entra is not None and gateway.login_offered
        return Picture(
            upstreams,
            tiers,
            gateway.client_auth,
            client_token,
            entra,
            self.problems,
            self.lockout,
            prices,
            self.price_problems,
            login,
        )

    def api(self, target: Target) -> Api:
        if self.pool is not None:
            learned = self.knowledge.api(self.pool.name, target.deployment)
            if learned is not None:
                return learned
        if target.api is not None:
            return target.api
        first = self.settings.upstreams[0] if self.settings.upstreams else None
        return "responses" if first is not None and first.offers_responses else "chat"

    async def target(self, request: Request) -> tuple[Target, Request]:
        """Where `request` goes, and the request with the tier's overrides and MAX_TOKENS_LIMIT applied."""

        async def input_tokens(target: Target) -> int:
            return await count_input_tokens(request, self.api(target))

        target, request = await resolve(request, self.settings, input_tokens)
        limit = self.settings.max_tokens_limit
        if limit is not None and (request.max_tokens is None or request.max_tokens > limit):
            request = replace(request, max_tokens=limit)
        return target, request

    async def route(self, request: Request) -> Routed:
        """Where `request` goes and in what form; raises `BridgeError` for a request no upstream may see."""
        check_stop_sequences(request.stop)
        target, request = await self.target(request)
        request, client_names = for_upstream(request)
        if len(request.tools) > MAX_TOOLS:
            raise invalid_request(
                f"tools: at most {MAX_TOOLS} tools can be offered at once (Azure OpenAI's limit), got {len(request.tools)}"
                " (tools deferred for tool search count only once found)"
            )
        api = self.api(target)
        note_route(target.deployment, target.setting, api)
        return Routed(target, api, request, client_names)

    async def start(self, routed: Routed, deadline: Deadline) -> UpstreamStream:
        """Send; raises `BridgeError` for anything that fails before the first events."""
        if self.pool is None:
            raise misconfigured("; ".join(self.settings.problems))
        return await open_stream(
            routed.request, routed.target, routed.api, self.pool, self.knowledge, deadline, routed.client_names
        )


_bridge: Bridge | None = None
_in_use: ContextVar[Bridge | None] = ContextVar("bridge_in_use", default=None)


def current_bridge() -> Bridge:
    """The bridge serving this context (`use_bridge`), else the process-wide one, built from the environment on first
    use (its problems logged once)."""
    global _bridge
    in_use = _in_use.get()
    if in_use is not None:
        return in_use
    if _bridge is None:
        _bridge = Bridge(load_settings(), load_gateway_settings())
        _report_problems(_bridge)
        tune_collector()
    return _bridge


@contextmanager
def use_bridge(bridge: Bridge) -> Iterator[Bridge]:
    """Serve with `bridge` in this context (this thread, or this task and the tasks it starts) for the block, instead
    of the process-wide one: how tests run bridges of different settings side by side in one process.  Its problems
    are logged on entry, as `current_bridge` logs the process-wide one's."""
    token = _in_use.set(bridge)
    try:
        _report_problems(bridge)
        yield bridge
    finally:
        _in_use.reset(token)


def _report_problems(bridge: Bridge) -> None:
    for problem in bridge.problems:
        log.warning("configuration: %s", problem)


async def close_bridge() -> None:
    """At shutdown: the gateway of the bridge serving this context, if it was built, writes its pending counts and
    closes its tables."""
    bridge = _in_use.get() or _bridge
    if bridge is not None and "gateway" in vars(bridge):
        await bridge.gateway.aclose()
