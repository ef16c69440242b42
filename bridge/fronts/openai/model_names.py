"""The model names an OpenAI-format client picks, and the tier and effort each one asks for.

    client model name                        internal Request.model      reasoning effort
    ---------------------------------------  --------------------------  -----------------
    gpt-high, gpt-medium, gpt-low,           "opus" (the BIG tier)       high, medium, low,
    gpt-minimal (Cursor's custom models)                                 minimal
    anything else                            the name itself (routing:   the deployment's
                                             tier families, a tier's     default
                                             deployment, pass-through)

A `reasoning_effort` or `reasoning.effort` in the request wins over an alias's
effort.

`GET /v1/models` lists the aliases, then each configured tier's deployment once; under a model policy
(MODEL_POLICY) only the caller's tiers' deployments, and the aliases (the opus tier) only when opus is theirs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bridge.config.load import Settings
from bridge.config.table import FAMILY_TIERS
from bridge.model import ReasoningEffort, Request

BIG_TIER = "opus"
ALIASES: dict[str, ReasoningEffort] = {
    "gpt-high": "high",
    "gpt-medium": "medium",
    "gpt-low": "low",
    "gpt-minimal": "minimal",
}
OWNER = "claude-azure-bridge"


def resolve_alias(request: Request) -> Request:
    """`request` with `model` and `reasoning_effort` as an alias asks (other names route as they are)."""
    effort = ALIASES.get(request.model.strip().lower())
    if effort is None:
        return request
    return replace(request, model=BIG_TIER, reasoning_effort=request.reasoning_effort or effort)


def model_ids(settings: Settings, tiers: frozenset[str] | None = None) -> list[str]:
    """The aliases and the tiers' deployments (with `tiers`: only theirs, the aliases only with opus)."""
    if tiers is None:
        return list(dict.fromkeys([*ALIASES, *(tier.deployment for tier in settings.tiers.values())]))
    aliases = list(ALIASES) if BIG_TIER in tiers else []
    served = [settings.tier(setting) for family, setting in FAMILY_TIERS.items() if family in tiers]
    return list(dict.fromkeys([*aliases, *(tier.deployment for tier in served if tier is not None)]))


def model_list(settings: Settings, tiers: frozenset[str] | None = None) -> dict[str, Any]:
    """The OpenAI `list` object of `GET /v1/models` (for a caller who may use `tiers`, when given)."""
    return {
        "object": "list",
        "data": [{"id": model_id, "object": "model", "created": 0, "owned_by": OWNER} for model_id in model_ids(settings, tiers)],
    }
