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

`GET /v1/models` lists the aliases, then each configured tier's deployment once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bridge.config.load import Settings
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


def model_ids(settings: Settings) -> list[str]:
    deployments = [tier.deployment for tier in settings.tiers.values()]
    return list(dict.fromkeys([*ALIASES, *deployments]))


def model_list(settings: Settings) -> dict[str, Any]:
    """The OpenAI `list` object of `GET /v1/models`."""
    return {
        "object": "list",
        "data": [{"id": model_id, "object": "model", "created": 0, "owned_by": OWNER} for model_id in model_ids(settings)],
    }
