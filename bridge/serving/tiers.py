"""Which deployment serves a request (its `Target`), through which upstream API, with which parameter overrides.

    request                                              tier (setting)
    ---------------------------------------------------  ----------------------------------------------
    model contains "haiku" (Claude Code's background)    SMALL_MODEL (→ MIDDLE_MODEL → BIG_MODEL)
    longer than LONG_CONTEXT_THRESHOLD tokens            LONG_CONTEXT_MODEL, when set
    asks for thinking (effort low or above)              THINK_MODEL, when set
    model contains "opus"                                BIG_MODEL
    model contains "sonnet"                              MIDDLE_MODEL (→ BIG_MODEL)
    model equals a tier's deployment name                that tier (so its API and overrides apply)
    anything else                                        the name itself, as a deployment (pass-through)

Under a model policy (MODEL_POLICY, `bridge.gateway.policy`), `within` first
moves a request for a tier the caller may not use to the most capable tier
they may: a family they may not use, a tier's deployment named directly, or a
deployment no tier names (pass-through) all count as asking for another tier.

A tier's `*_API` setting picks chat/completions or the Responses API;
unset, the bridge decides (see `process.Bridge.api`).  A tier's
`*_TEMPERATURE`, `*_TOP_P` and `*_MAX_TOKENS` replace the client's values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from bridge.config.load import Settings, Tier
from bridge.config.table import FAMILY_TIERS, LONG_CONTEXT_MODEL, THINK_MODEL
from bridge.errors import misconfigured
from bridge.gateway.policy import FAMILIES as POLICY_TIERS
from bridge.gateway.policy import most_capable
from bridge.model import PASS_THROUGH, Request, Target

BACKGROUND_FAMILY = "haiku"
"""Claude Code's background model: its requests go to their tier before anything else is considered."""
THINKING_EFFORTS = frozenset({"low", "medium", "high", "xhigh"})


def _target(tier: Tier) -> Target:
    return Target(tier.deployment, tier.setting, tier.api)


def _tier(settings: Settings, setting: str, model: str) -> Tier:
    tier = settings.tier(setting)
    if tier is None:
        raise misconfigured(f"{setting} is not set: set it to the Azure OpenAI deployment that serves '{model}'")
    return tier


InputTokens = Callable[[Target], Awaitable[int]]
"""Counts a request's input tokens for a target."""


async def _choose(request: Request, settings: Settings, input_tokens: InputTokens) -> Tier | None:
    lowered = request.model.lower()
    if BACKGROUND_FAMILY in lowered:
        return _tier(settings, FAMILY_TIERS[BACKGROUND_FAMILY], request.model)
    long_context = settings.tiers.get(LONG_CONTEXT_MODEL.name)
    if long_context is not None and await input_tokens(_target(long_context)) > settings.long_context_threshold:
        return long_context
    think = settings.tiers.get(THINK_MODEL.name)
    family = next((setting for name, setting in FAMILY_TIERS.items() if name in lowered), None)
    if think is not None and family is not None and request.reasoning_effort in THINKING_EFFORTS:
        return think
    if family is not None:
        return _tier(settings, family, request.model)
    return next((tier for tier in settings.tiers.values() if tier.deployment.lower() == lowered), None)


def families_asked(model: str, settings: Settings) -> frozenset[str]:
    """The tiers a model name asks for: its family (haiku before the others, as routing goes), or the tiers whose
    deployment it names; none for a deployment no tier names."""
    lowered = model.lower()
    family = BACKGROUND_FAMILY if BACKGROUND_FAMILY in lowered else next((f for f in FAMILY_TIERS if f in lowered), None)
    if family is not None:
        return frozenset({family})
    named = set()
    for family, setting in FAMILY_TIERS.items():
        tier = settings.tier(setting)
        if tier is not None and tier.deployment.lower() == lowered:
            named.add(family)
    return frozenset(named)


def within(request: Request, allowed: frozenset[str], settings: Settings) -> tuple[Request | None, str | None]:
    """`request` as a caller who may use the tiers `allowed` is served: as it is (and None) when it asks for one of
    them, else moved to the most capable of them (and its name); (None, None) when they may use none."""
    if families_asked(request.model, settings) & allowed:
        return request, None
    family = most_capable(allowed & frozenset(POLICY_TIERS))
    if family is None:
        return None, None
    return replace(request, model=family), family


async def resolve(request: Request, settings: Settings, input_tokens: InputTokens) -> tuple[Target, Request]:
    """The target for `request`, and the request with the tier's overrides applied.

    `input_tokens` counts the request for a target; it is called only when LONG_CONTEXT_MODEL is set.
    """
    tier = await _choose(request, settings, input_tokens)
    if tier is None:
        return Target(request.model, PASS_THROUGH), request
    return _target(tier), replace(
        request,
        temperature=tier.temperature if tier.temperature is not None else request.temperature,
        top_p=tier.top_p if tier.top_p is not None else request.top_p,
        max_tokens=tier.max_tokens if tier.max_tokens is not None else request.max_tokens,
    )
